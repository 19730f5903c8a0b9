/* rotate.h - keeping one role's token fresh in its stores.
 *
 * Owns: the rotation of one role: a per-role flock in the state dir (a run
 * already holding it means "skipped"); the freshness check (the token the
 * stores hold, looked up in the API's token list, younger than `every`
 * means "fresh"); minting a replacement named mdcred-<role>-<time>-<rand>,
 * writing every store and reading each back; and retiring: revoking the
 * role's tokens (found by name prefix in the API's list, the source of
 * truth, so a lost state dir orphans nothing) that no store holds and that
 * were superseded (a newer role token was made) at least `grace` ago,
 * keeping at most `keep` live. Log lines carry the role through
 * md_log_set_role, which the caller sets. No store is ever
 * left pointing to a revoked token: retirement skips every id a store
 * still holds, and a replacement no store took is revoked at once. */
#ifndef MD_ROTATE_H
#define MD_ROTATE_H

#include <stdbool.h>
#include <stddef.h>

#include "motherduck/api.h"
#include "base/error.h"
#include "net/http.h"
#include "store/store.h"

typedef struct {
	const char *role;       /* [A-Za-z0-9_-]{1,64}; names the lock and token names */
	const char *username;
	const char *token_type; /* NULL: read_write */
	long long ttl;          /* seconds or MD_TTL_NONE */
	long long every;        /* rotate when the held token is at least this old */
	long long grace;        /* keep unheld tokens at least this long */
	int keep;               /* at most this many live role tokens */
	const char *state_dir;
	bool force;
	int attempts;
} md_rot_req;

typedef enum { MD_ROT_ROTATED, MD_ROT_FRESH, MD_ROT_SKIPPED, MD_ROT_FAILED } md_rot_action;

typedef struct {
	md_rot_action action;
	md_token_meta meta; /* the token the stores hold afterwards */
	int stores_ok, stores_failed; /* stores holding meta's token afterwards, and not */
	int revoked;        /* tokens retired by this run */
} md_rot_result;

int md_rot_valid_role(const char *role, md_error *err);
/* By default a token is replaced halfway through its life (daily when it
 * never expires). */
long long md_rot_default_every(long long ttl);
/* The default state dir: /var/lib/mdcred for root, else
 * $XDG_STATE_HOME/mdcred or ~/.local/state/mdcred. */
int md_rot_default_state_dir(char *out, size_t sz);
int md_rotate(md_http *h, const md_rot_req *rq, md_store **stores, size_t n, md_rot_result *res,
	      md_error *err);
const char *md_rot_action_name(md_rot_action a);

#endif
