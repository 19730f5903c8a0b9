/* mint.h - minting a token safely: default names and lost-answer recovery.
 *
 * Owns: the unique, sortable default token name
 * (<prefix>-<UTC yyyymmddThhmmssZ>-<6 random hex>) and md_mint(), which never
 * blindly repeats the POST: when a mint's answer is lost (no answer after the
 * request was sent, or a 5xx), it looks the name up in the account's token
 * list, revokes the orphan if the mint went through, and mints again under a
 * new name. If that cannot be established, it says so (transient) and names
 * the token to look for, so nothing is orphaned silently.
 */
#ifndef MD_MINT_H
#define MD_MINT_H

#include <stddef.h>

#include "motherduck/api.h"
#include "base/error.h"
#include "net/http.h"

/* out must hold at least 64 bytes plus the prefix. */
int md_mint_default_name(const char *prefix, char *out, size_t outsz);

typedef struct {
	const char *username;
	const char *name;        /* NULL: a default name with name_prefix */
	const char *name_prefix; /* NULL: "mdcred" */
	const char *token_type;  /* NULL: read_write */
	long long ttl;           /* seconds or MD_TTL_NONE */
	const char *description;
	int attempts;            /* total mint attempts, >= 1 */
} md_mint_req;

int md_mint(md_http *h, const md_mint_req *req, md_token *out, md_error *err);

/* A token we minted could not be delivered (its output failed, no store
 * took it): revoke it rather than leave it alive, and say which happened.
 * MD_OK when it is gone. Every delivery path uses this one. */
int md_mint_revoke_undelivered(md_http *h, const char *username, const md_token_meta *t);

#endif
