/* mint.c - see mint.h. */
#include "mint.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rand.h"

int md_mint_default_name(const char *prefix, char *out, size_t outsz)
{
	unsigned char rnd[3];
	if (md_rand_bytes(rnd, sizeof rnd) < 0)
		return -1;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	int n = snprintf(out, outsz, "%s-%04d%02d%02dT%02d%02d%02dZ-%02x%02x%02x",
			 prefix ? prefix : "mdcred", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, rnd[0], rnd[1], rnd[2]);
	return n > 0 && (size_t)n < outsz ? 0 : -1;
}

/* After a lost answer: find a token called name and revoke it. MD_OK means
 * no token by that name is alive any more. */
static int mint_clear_orphan(md_http *h, const char *username, const char *name, md_error *err)
{
	md_token_meta *list = NULL;
	size_t n = 0;
	int rc = md_api_token_list(h, username, &list, &n, err);
	for (size_t i = 0; rc == MD_OK && i < n; i++) {
		if (strcmp(list[i].name, name) != 0)
			continue;
		md_log_warn("token create: the lost mint did create token %s ('%s'); revoking it",
			    list[i].id, name);
		rc = md_api_token_revoke(h, username, list[i].id, err);
		if (rc == MD_ENOTFOUND) /* expired or revoked meanwhile: gone either way */
			rc = MD_OK;
	}
	free(list);
	return rc;
}

int md_mint(md_http *h, const md_mint_req *req, md_token *out, md_error *err)
{
	char name[320];
	int attempts = req->attempts > 0 ? req->attempts : 1;
	md_token_req q = {name, req->token_type, req->ttl, req->description};
	int rc = MD_EFAIL;
	for (int i = 0; i < attempts; i++) {
		if (req->name)
			snprintf(name, sizeof name, "%s", req->name);
		else if (md_mint_default_name(req->name_prefix, name, sizeof name) < 0)
			return md_err_set(err, MD_EFAIL, "cannot make a token name");
		bool maybe = false;
		rc = md_api_token_create(h, req->username, &q, out, &maybe, err);
		if (rc == MD_OK || !maybe)
			return rc;
		md_log_warn("token create: no usable answer (%s); checking whether token '%s' exists",
			    err ? err->msg : "?", name);
		md_error lerr = {0};
		int lrc = mint_clear_orphan(h, req->username, name, &lerr);
		if (lrc) {
			return md_err_set(err, MD_ETRANSIENT,
					  "token create: the answer was lost and the token list could not "
					  "be checked (%s); look for a token named '%s' with 'mdcred token "
					  "list %s' and revoke it", lerr.msg, name, req->username);
		}
		if (i + 1 < attempts)
			md_log_warn("token create: trying again (attempt %d of %d)", i + 2, attempts);
	}
	return rc;
}
