/* push.h - minting a token into secret stores, and checking it arrived.
 *
 * Owns: the push sequence: open every store first (a bad URI sends
 * nothing), mint, write each store, read each back and check it holds the
 * new token (same id and same value), and the outcome: all stores (MD_OK),
 * none (every store is known not to hold it: the token is revoked so
 * nothing is left alive: MD_ESTORE), or anything else (MD_EPARTIAL: stores
 * that took it, or that could not be read back, may point to it, so it is
 * kept alive; the others still hold what they held). */
#ifndef MD_PUSH_H
#define MD_PUSH_H

#include <stddef.h>

#include "motherduck/api.h"
#include "base/error.h"
#include "net/http.h"
#include "motherduck/mint.h"
#include "store/store.h"

typedef struct {
	int ok;             /* stores that hold the new token */
	int failed;
	md_token_meta meta; /* the token minted ("" id when none was) */
} md_push_result;

/* stores: already opened. Logs one line per store. */
int md_push(md_http *h, const md_mint_req *req, md_store **stores, size_t nstores,
	    md_push_result *res, md_error *err);
/* Reads st and checks it holds t (id and value). */
int md_push_verify(md_store *st, const md_token *t, md_error *err);

#endif
