/* push.c - see push.h. */
#include "deliver/push.h"
#include "base/log.h"

#include <string.h>

/* Does st hold t? 1 yes, 0 no (it holds something else or nothing), -1
 * unknown (it could not be read). */
static int push_holds(md_store *st, const md_token *t, md_error *err)
{
	_cleanup_store_value_ md_store_value v = {0};
	if (md_store_read(st, &v, err) != MD_OK)
		return -1;
	int holds = v.token && md_secret_eq(v.token, t->secret) &&
		    (!v.meta.id[0] || strcmp(v.meta.id, t->meta.id) == 0);
	if (!holds)
		md_err_set(err, MD_EFAIL, "store %s: read back %s than was written",
			   md_store_describe(st), v.token ? "a different token" : "no token");
	return holds;
}

int md_push_verify(md_store *st, const md_token *t, md_error *err)
{
	return push_holds(st, t, err) == 1 ? MD_OK : (err && err->code ? err->code : MD_EFAIL);
}

int md_push(md_http *h, const md_mint_req *req, md_store **stores, size_t n, md_push_result *res,
	    md_error *err)
{
	memset(res, 0, sizeof *res);
	_cleanup_token_ md_token t = {0};
	int rc;
	/* What can be known without sending anything, before a token exists. */
	for (size_t i = 0; i < n; i++)
		if ((rc = md_store_check(stores[i], err)))
			return rc;
	rc = md_mint(h, req, &t, err);
	if (rc)
		return rc;
	res->meta = t.meta;
	md_error first = {0};
	int unknown = 0;
	for (size_t i = 0; i < n; i++) {
		md_error e = {0}, ve = {0};
		bool maybe_written;
		int wrc = md_store_write(stores[i], &t, req->username, &maybe_written, &e);
		/* The store is the judge, also after a failed write (its answer
		 * may have been lost after it landed). */
		int holds = push_holds(stores[i], &t, &ve);
		if (holds == 1) {
			if (wrc)
				md_log_warn("%s; but the store holds the new token", e.msg);
			md_log_info("pushed token %s to %s", t.meta.id, md_store_describe(stores[i]));
			res->ok++;
			continue;
		}
		md_error *why = wrc ? &e : &ve;
		md_log_error("%s", why->msg);
		/* Unknown only if the write may have landed: it succeeded, or
		 * was sent and no answer said no. Nothing sent (the store could
		 * not be read or reached first) or a refusal - auth, TLS, a 4xx,
		 * a conflict - is a definite no. */
		if (holds < 0 && maybe_written) {
			unknown++;
			md_log_warn("cannot tell whether %s holds token %s: keeping the token alive",
				    md_store_describe(stores[i]), t.meta.id);
		}
		if (!res->failed)
			first = *why;
		res->failed++;
	}
	if (res->failed == 0)
		return MD_OK;
	if (res->ok == 0 && unknown == 0) {
		/* Every store is known not to hold it: leave nothing alive. */
		md_log_warn("no store took token %s", t.meta.id);
		md_mint_revoke_undelivered(h, req->username, &t.meta);
		return md_err_set(err, MD_ESTORE, "push: no store took the new token (%s)", first.msg);
	}
	return md_err_set(err, MD_EPARTIAL, "push: %d of %zu stores hold the new token %s%s; "
			  "failed: %s", res->ok, n, res->meta.id,
			  unknown ? " (others could not be read back: it was kept alive)" : "",
			  first.msg);
}
