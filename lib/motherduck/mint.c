/* mint.c - see mint.h. */
#include "motherduck/mint.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rand.h"
#include "base/validate.h"

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

#define MINT_MAX_LOST 11 /* attempts are capped by --retries (0..10) + 1 */

/* After a lost answer: find tokens called any of names (but keep_id) and
 * revoke them. MD_OK means none of them is alive any more. */
static int mint_clear_orphans(md_http *h, const char *username, char names[][320], int nnames,
			      const char *keep_id, md_error *err)
{
	md_token_meta *list = NULL;
	size_t n = 0;
	int rc = md_api_token_list(h, username, &list, &n, err);
	for (size_t i = 0; rc == MD_OK && i < n; i++) {
		bool lost = false;
		for (int k = 0; k < nnames; k++)
			lost |= strcmp(list[i].name, names[k]) == 0;
		if (!lost || (keep_id && strcmp(list[i].id, keep_id) == 0))
			continue;
		md_log_warn("token create: the lost mint did create token %s ('%s'); revoking it",
			    list[i].id, list[i].name);
		rc = md_api_token_revoke(h, username, list[i].id, err);
		if (rc == MD_ENOTFOUND) /* expired or revoked meanwhile: gone either way */
			rc = MD_OK;
	}
	free(list);
	return rc;
}

/* A slow mint may finish after we looked for it: once the final mint is
 * done, look once more for the names whose answers were lost. */
static void mint_final_sweep(md_http *h, const char *username, char lost[][320], int nlost,
			     const char *keep_id)
{
	md_error e = {0};
	if (nlost > 0 && mint_clear_orphans(h, username, lost, nlost, keep_id, &e) != MD_OK)
		md_log_warn("token create: could not re-check lost mints (%s); look for tokens "
			    "named '%s' with 'mdcred token list %s'", e.msg, lost[0], username);
}

/* A token was made whose answer cannot be used (not a JWT, no id, an
 * unreadable answer): revoke it, by id when the answer gave a valid one,
 * else by its name, so nothing is left alive. err keeps why. */
static int mint_unusable(md_http *h, const md_mint_req *req, const char *name,
			 const md_token *t, md_error *err)
{
	md_error re = {0};
	int rc;
	if (md_valid_token_id(t->meta.id, NULL) == MD_OK) {
		rc = md_api_token_revoke(h, req->username, t->meta.id, &re);
		if (rc == MD_ENOTFOUND)
			rc = MD_OK;
	} else {
		char names[1][320];
		snprintf(names[0], sizeof names[0], "%s", name);
		rc = mint_clear_orphans(h, req->username, names, 1, NULL, &re);
	}
	if (rc == MD_OK)
		md_log_warn("token create: revoked the token the unusable answer made ('%s')", name);
	else
		md_log_error("token create: could not revoke the token the unusable answer made "
			     "(%s); look for a token named '%s' with 'mdcred token list %s' and "
			     "revoke it", re.msg, name, req->username);
	return err ? err->code : MD_EFAIL;
}

int md_mint_revoke_undelivered(md_http *h, const char *username, const md_token_meta *t)
{
	md_error e = {0};
	int rc = md_api_token_revoke(h, username, t->id, &e);
	if (rc == MD_OK || rc == MD_ENOTFOUND)
		md_log_warn("revoked the undelivered token %s ('%s')", t->id, t->name);
	else
		md_log_error("could not revoke the undelivered token %s ('%s'): %s; revoke it with "
			     "'mdcred token revoke %s %s'", t->id, t->name, e.msg, username, t->id);
	return rc == MD_ENOTFOUND ? MD_OK : rc;
}

int md_mint(md_http *h, const md_mint_req *req, md_token *out, md_error *err)
{
	char name[320], lost[MINT_MAX_LOST][320];
	int nlost = 0;
	int attempts = req->attempts > 0 ? req->attempts : 1;
	if (attempts > MINT_MAX_LOST)
		attempts = MINT_MAX_LOST;
	md_token_req q = {name, req->token_type, req->ttl, req->description};
	int rc = MD_EFAIL;
	for (int i = 0; i < attempts; i++) {
		if (req->name)
			snprintf(name, sizeof name, "%s", req->name);
		else if (md_mint_default_name(req->name_prefix, name, sizeof name) < 0)
			return md_err_set(err, MD_EFAIL, "cannot make a token name");
		md_minted minted = MD_MINTED_NO;
		rc = md_api_token_create(h, req->username, &q, out, &minted, err);
		/* A given name already live after a lost answer: the lost mint
		 * finished late. Clear it like any orphan. */
		if (rc == MD_ECONFLICT && nlost > 0 && req->name)
			minted = MD_MINTED_MAYBE;
		if (rc == MD_OK || minted == MD_MINTED_UNUSABLE)
			mint_final_sweep(h, req->username, lost, nlost, rc == MD_OK ? out->meta.id
										       : NULL);
		if (minted == MD_MINTED_UNUSABLE) {
			/* A server that answers garbage is not asked again. */
			rc = mint_unusable(h, req, name, out, err);
			md_token_clear(out);
			return rc;
		}
		if (rc == MD_OK || minted != MD_MINTED_MAYBE)
			return rc;
		if (nlost == 0 || strcmp(lost[nlost - 1], name) != 0)
			memcpy(lost[nlost++], name, sizeof name);
		md_log_warn("token create: no usable answer (%s); checking whether token '%s' exists",
			    err ? err->msg : "?", name);
		md_error lerr = {0};
		int lrc = mint_clear_orphans(h, req->username, lost, nlost, NULL, &lerr);
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
