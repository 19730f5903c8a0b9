/* get.c - see get.h. */
#include "deliver/get.h"
#include "base/log.h"
#include "motherduck/mint.h"

#include <stdbool.h>
#include <time.h>

/* A cached entry good enough to hand out: hands it out and returns true
 * (*rc says how that went). */
static bool get_cached(const md_get_req *rq, int *rc, md_error *err)
{
	md_cache_entry e;
	md_cache_load(rq->cache, &e);
	bool hit = e.tok.secret &&
		   md_cache_fresh(e.exp_kind, e.expire_at, time(NULL), rq->min_remaining);
	if (hit) {
		md_log_debug("using the cached token %s (%s%s)", e.tok.meta.id,
			     e.exp_kind == MD_EXP_NEVER ? "never expires" : "expires ",
			     e.tok.meta.expire_at);
		*rc = rq->deliver(rq->ud, &e.tok, err);
	} else if (e.tok.secret) {
		md_log_debug("the cached token %s is stale", e.tok.meta.id);
	}
	md_cache_entry_clear(&e);
	return hit;
}

/* Under the lock (if any): mint, cache, hand out. */
static int get_mint(const md_get_req *rq, int lock, md_error *err)
{
	_cleanup_http_ md_http *h = NULL;
	_cleanup_token_ md_token t = {0};
	int rc = rq->client(rq->ud, &h, err);
	if (!rc)
		rc = rq->mint(rq->ud, h, &t, err);
	if (!rc)
		md_cache_store(rq->cache, &t, time(NULL));
	md_cache_unlock(lock);
	if (!rc)
		rc = rq->deliver(rq->ud, &t, err);
	/* Minted but not handed out (stdout closed meanwhile): a cached copy
	 * stays usable by the next caller; an uncached one would be orphaned. */
	if (rc && t.secret && rq->cache->kind == MD_CACHE_NONE)
		md_mint_revoke_undelivered(h, rq->username, &t.meta);
	return rc;
}

int md_get(const md_get_req *rq, md_error *err)
{
	int rc = MD_OK;
	if (get_cached(rq, &rc, err))
		return rc;
	int lock = -1;
	if (rq->cache->kind != MD_CACHE_NONE) {
		if ((lock = md_cache_lock(rq->cache, rq->lock_wait_ms, err)) < 0)
			return err ? err->code : MD_EFAIL;
		/* Whoever held the lock may have just minted one. */
		if (get_cached(rq, &rc, err)) {
			md_cache_unlock(lock);
			return rc;
		}
	}
	return get_mint(rq, lock, err);
}
