/* get.h - `mdcred get`: a token for a credential process, from a cache.
 *
 * Owns: the whole flow behind `get`, so the tool only parses and prints:
 * hand out the cached token while it has at least min_remaining left;
 * otherwise take the cache's lock (bounded), look again (whoever held the
 * lock may have just minted one), mint, cache, hand out; and a token that
 * was minted but could not be handed out is revoked unless the cache keeps
 * it for the next caller (md_mint_revoke_undelivered). A cache hit sends
 * nothing and needs no admin token: the API client is made only to mint.
 */
#ifndef MD_GET_H
#define MD_GET_H

#include "base/error.h"
#include "deliver/cache.h"
#include "motherduck/api.h"
#include "net/http.h"

typedef struct {
	const char *username;
	md_cache *cache;          /* md_cache_init'ed by the caller */
	long long min_remaining;  /* seconds a handed-out token must still have */
	long lock_wait_ms;        /* at most this long for another caller's lock */
	/* The API client, asked for only when a token must be minted. */
	int (*client)(void *ud, md_http **h, md_error *err);
	/* Mints the token (the caller's names, type, TTL and logging). */
	int (*mint)(void *ud, md_http *h, md_token *out, md_error *err);
	/* Hands a token over (prints it); a failure is the command's failure. */
	int (*deliver)(void *ud, const md_token *t, md_error *err);
	void *ud;
} md_get_req;

int md_get(const md_get_req *rq, md_error *err);

#endif
