/* api.h - the MotherDuck admin REST API client.
 *
 * Owns: one function per endpoint of ../shared/spec/motherduck-api.md
 * (service accounts, tokens, Ducklings, active accounts), the typed views of
 * their answers, and the mapping of every HTTP error to one md_error line
 * ("code: message (issue; issue)") with its category: 401/403 auth, JSON
 * NOT_FOUND vs a plain-text no-route 404, 409 and the 400
 * alive_entity_unique_name... form as conflict, 429/5xx transient.
 * Usernames and ids are validated before they go into a URL path. The
 * server is not trusted: token values must be JWTs, every string of token
 * metadata is escaped (text.h) as it is read, and answers with repeated
 * keys are refused (json.h).
 */
#ifndef MD_API_H
#define MD_API_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "net/http.h"
#include "base/json.h"
#include "base/secret.h"

typedef struct {
	char id[80];
	char name[256];
	char token_type[16];
	char expire_at[40];  /* "" when the token never expires */
	char created_ts[40];
	bool read_only;
} md_token_meta;

typedef struct {
	md_token_meta meta;
	md_secret *secret; /* the token value, watched; NULL until minted */
} md_token;

typedef struct {
	const char *name;        /* required */
	const char *token_type;  /* "read_write" | "read_scaling" */
	long long ttl;           /* seconds, or MD_TTL_NONE */
	const char *description; /* optional */
} md_token_req;

typedef struct {
	char instance_size[16];
	long long flock_size;       /* -1: absent (read_write has none) */
	long long cooldown_seconds; /* -1: absent */
} md_duckling;

typedef struct {
	md_duckling read_write;
	md_duckling read_scaling;
} md_ducklings;

void md_token_clear(md_token *t);
/* `_cleanup_token_ md_token t = {0};`: its value freed (and wiped). */
#define _cleanup_token_ __attribute__((cleanup(md_token_clear)))

int md_api_user_create(md_http *h, const char *username, md_error *err);
int md_api_user_delete(md_http *h, const char *username, md_error *err);
/* What a failed mint left behind. */
typedef enum {
	MD_MINTED_NO,       /* nothing: the API refused, or the request never left */
	MD_MINTED_MAYBE,    /* the answer was lost (or a 5xx): a token may exist */
	MD_MINTED_UNUSABLE, /* a token exists but its answer is unusable (not a
			     * JWT, no id, unreadable JSON): out->meta.id holds
			     * its id when the answer had a valid one, else "" */
} md_minted;

/* Mints a token; the value is checked (md_valid_token_value) and watched.
 * On failure *minted says what may be left alive. */
int md_api_token_create(md_http *h, const char *username, const md_token_req *req, md_token *out,
			md_minted *minted, md_error *err);
/* *out is malloc()ed (metadata only, no secrets); free() it. */
int md_api_token_list(md_http *h, const char *username, md_token_meta **out, size_t *n,
		      md_error *err);
int md_api_token_revoke(md_http *h, const char *username, const char *token_id, md_error *err);
int md_api_ducklings_get(md_http *h, const char *username, md_ducklings *out, md_error *err);
int md_api_ducklings_put(md_http *h, const char *username, const md_ducklings *in,
			 md_ducklings *out, md_error *err);
/* The JSON answer (a preview endpoint whose fields may change), written
 * again by md_jw_value: never the server's bytes as they came. */
int md_api_active_accounts(md_http *h, md_secret **json, md_error *err);

/* Writes the PUT body / the GET shape of a Ducklings config. */
void md_api_ducklings_write(md_jw *w, const md_ducklings *d);

/* The decoders of 2xx answers (what the calls above use; exposed for the
 * fuzz targets): MD_OK, or MD_EFAIL for an answer that cannot be used.
 * A token's value is checked and watched; metadata strings are escaped. */
int md_api_token_decode(const char *body, size_t len, md_token *out, md_error *err);
int md_api_token_list_decode(const char *body, size_t len, md_token_meta **out, size_t *n,
			     md_error *err);
int md_api_ducklings_decode(const char *body, size_t len, md_ducklings *out, const char *what,
			    md_error *err);

/* Maps a non-2xx answer to an error; exposed for tests. */
int md_api_error_from_resp(const md_http_resp *r, const char *what, md_error *err);

#endif
