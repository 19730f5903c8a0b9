/* push.c - see push.h. */
#include "push.h"
#include "log.h"

#include <string.h>

int md_push_verify(md_store *st, const md_token *t, md_error *err)
{
	md_store_value v;
	int rc = md_store_read(st, &v, err);
	if (!rc && (!v.token || !md_secret_eq(v.token, t->secret)))
		rc = md_err_set(err, MD_EFAIL, "store %s: read back a different token than was "
				"written", md_store_describe(st));
	else if (!rc && v.meta.id[0] && strcmp(v.meta.id, t->meta.id) != 0)
		rc = md_err_set(err, MD_EFAIL, "store %s: read back token id %s, wrote %s",
				md_store_describe(st), v.meta.id, t->meta.id);
	md_store_value_clear(&v);
	return rc;
}

int md_push(md_http *h, const md_mint_req *req, md_store **stores, size_t n, md_push_result *res,
	    md_error *err)
{
	memset(res, 0, sizeof *res);
	md_token t = {0};
	int rc = md_mint(h, req, &t, err);
	if (rc)
		return rc;
	res->meta = t.meta;
	md_error first = {0};
	for (size_t i = 0; i < n; i++) {
		md_error e = {0};
		int src = md_store_write(stores[i], &t, req->username, &e);
		md_error ve = {0};
		/* A write whose answer was lost may have landed: the store is
		 * the judge, so a failed write is read back too. Counting such a
		 * store as "not taken" could revoke the token it points to. */
		if (src && md_push_verify(stores[i], &t, &ve) == MD_OK) {
			md_log_warn("%s; but the store holds the new token", e.msg);
			src = MD_OK;
		} else if (!src) {
			src = md_push_verify(stores[i], &t, &e);
		}
		if (src) {
			md_log_error("%s", e.msg);
			if (!res->failed)
				first = e;
			res->failed++;
		} else {
			md_log_info("pushed token %s to %s", t.meta.id, md_store_describe(stores[i]));
			res->ok++;
		}
	}
	if (res->failed == 0) {
		md_token_clear(&t);
		return MD_OK;
	}
	if (res->ok == 0) {
		/* Nothing points to the new token: leave nothing alive. */
		md_error re = {0};
		if (md_api_token_revoke(h, req->username, t.meta.id, &re) == MD_OK)
			md_log_warn("no store took token %s; revoked it", t.meta.id);
		else
			md_log_error("no store took token %s and revoking it failed: %s", t.meta.id,
				     re.msg);
		md_token_clear(&t);
		return md_err_set(err, MD_ESTORE, "push: no store took the new token (%s)", first.msg);
	}
	md_token_clear(&t);
	return md_err_set(err, MD_EPARTIAL, "push: %d of %zu stores hold the new token %s; "
			  "failed: %s", res->ok, n, res->meta.id, first.msg);
}
