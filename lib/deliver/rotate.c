/* rotate.c - see rotate.h. */
#define _GNU_SOURCE
#include "deliver/rotate.h"
#include "base/env.h"
#include "base/time.h"
#include "base/file.h"
#include "base/lock.h"
#include "base/log.h"
#include "motherduck/mint.h"
#include "deliver/push.h"
#include "base/validate.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROT_MAX_STORES 32

const char *md_rot_action_name(md_rot_action a)
{
	static const char *const names[] = {"rotated", "fresh", "skipped", "failed"};
	return names[a];
}

int md_rot_valid_role(const char *role, md_error *err)
{
	size_t n = strlen(role);
	bool ok = n >= 1 && n <= 64;
	for (size_t i = 0; ok && i < n; i++)
		ok = isascii((unsigned char)role[i]) &&
		     (isalnum((unsigned char)role[i]) || role[i] == '_' || role[i] == '-');
	return ok ? MD_OK : md_err_set(err, MD_EUSAGE, "role '%.64s': use 1 to 64 letters, digits, "
				       "'_' or '-'", role);
}

long long md_rot_default_every(long long ttl)
{
	return ttl == MD_TTL_NONE ? MD_TTL_DEFAULT : ttl / 2;
}

int md_rot_default_state_dir(char *out, size_t sz)
{
	const char *x = md_env("XDG_STATE_HOME", NULL), *home = md_env("HOME", NULL);
	int n;
	if (geteuid() == 0)
		n = snprintf(out, sz, "/var/lib/mdcred");
	else if (x)
		n = snprintf(out, sz, "%s/mdcred", x);
	else if (home)
		n = snprintf(out, sz, "%s/.local/state/mdcred", home);
	else
		return -1;
	return n > 0 && (size_t)n < sz ? 0 : -1;
}


/* The role's lock in the state dir (both checked: lock.h). Another run
 * holding it means "skipped" while it is younger than the role's period;
 * held longer, the rotation is stuck and says so (MD_ESTUCK), so
 * monitoring does not see green forever. The kernel drops the lock when
 * the process ends, however it ends. */
static int rot_lock(const md_rot_req *rq, md_lock *l, md_error *err)
{
	char name[96];
	int dfd = md_dir_open_private(rq->state_dir, true, err);
	if (dfd < 0) {
		md_err_prefix(err, "state dir");
		return err ? err->code : MD_EFAIL;
	}
	snprintf(name, sizeof name, "%s.lock", rq->role);
	int rc = md_lock_take(dfd, name, 0, l, err);
	close(dfd);
	if (rc || l->fd >= 0)
		return rc;
	long long held = (long long)(time(NULL) - l->since);
	if (held < rq->every)
		return MD_OK;
	char pid[32] = "";
	if (l->holder)
		snprintf(pid, sizeof pid, " (pid %ld)", (long)l->holder);
	return md_err_set(err, MD_ESTUCK, "another rotation%s has held the lock %s/%s for %llds, "
			  "longer than the rotation period (%llds): it is stuck; look at that "
			  "process", pid, rq->state_dir, name, held, rq->every);
}

/* The API's RFC 3339 timestamps, offsets honoured (base/time.h), or -1. */
static time_t parse_ts(const char *s)
{
	time_t t;
	return md_time_parse(s, &t) == 0 ? t : (time_t)-1;
}

/* Ids the stores hold now (empty string for a store holding nothing).
 * False when a store could not be read: its id is then unknown. */
static bool held_ids(md_store **stores, size_t n, char ids[][80])
{
	bool all = true;
	for (size_t i = 0; i < n; i++) {
		_cleanup_store_value_ md_store_value v = {0};
		md_error e = {0};
		ids[i][0] = '\0';
		int rc = md_store_read(stores[i], &v, &e);
		if (rc == MD_OK && v.token)
			snprintf(ids[i], 80, "%s", v.meta.id);
		if (rc != MD_OK) {
			md_log_warn("%s", e.msg);
			all = false;
		}
	}
	return all;
}

static bool id_held(const char *id, char ids[][80], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i][0] && strcmp(ids[i], id) == 0)
			return true;
	return false;
}

/* Fresh when every store holds the same live token younger than every. */
static bool rot_fresh(const md_rot_req *rq, const md_token_meta *list, size_t nl, char ids[][80],
		      size_t n, md_token_meta *out)
{
	for (size_t i = 0; i < n; i++)
		if (!ids[i][0] || strcmp(ids[i], ids[0]) != 0)
			return false;
	for (size_t k = 0; k < nl; k++) {
		if (strcmp(list[k].id, ids[0]) != 0)
			continue;
		time_t created = parse_ts(list[k].created_ts);
		if (created == (time_t)-1 || time(NULL) - created >= rq->every)
			return false;
		*out = list[k];
		return true;
	}
	return false; /* revoked or expired: not in the list */
}

/* Is name one of role's tokens: exactly mdcred-<role>-<YYYYMMDDTHHMMSSZ>-<6 hex>?
 * A bare prefix test would let role "a" claim (and revoke) the tokens of
 * role "a-b" on the same account. */
static bool rot_owns(const char *name, const char *role)
{
	static const char shape[] = "dddddddd" "T" "dddddd" "Z-" "xxxxxx";
	size_t rl = strlen(role);
	if (strncmp(name, "mdcred-", 7) != 0 || strncmp(name + 7, role, rl) != 0 ||
	    name[7 + rl] != '-')
		return false;
	const char *p = name + 8 + rl;
	for (size_t i = 0; i < sizeof shape - 1; i++, p++) {
		bool ok = shape[i] == 'd'   ? isdigit((unsigned char)*p)
			  : shape[i] == 'x' ? isxdigit((unsigned char)*p) && !isupper((unsigned char)*p)
					    : *p == shape[i];
		if (!ok)
			return false;
	}
	return *p == '\0';
}

/* When token k stopped being the role's newest: the creation of the next
 * newer role token (or its own creation if none is newer). Grace counts
 * from there, so a consumer that read the old token keeps it for a whole
 * grace period after the rotation that replaced it. */
static time_t superseded_at(const md_token_meta *list, size_t nl, size_t k, const char *role)
{
	time_t own = parse_ts(list[k].created_ts), next = (time_t)-1;
	for (size_t i = 0; i < nl; i++) {
		if (i == k || !rot_owns(list[i].name, role))
			continue;
		time_t c = parse_ts(list[i].created_ts);
		if (c != (time_t)-1 && own != (time_t)-1 && (c > own || (c == own && i > k)) &&
		    (next == (time_t)-1 || c < next))
			next = c;
	}
	return next != (time_t)-1 ? next : own;
}

/* Revokes the role's tokens no store holds: superseded longer than grace
 * ago, and beyond keep (oldest first). list is the API's token list from
 * the start of this run (plus the token it made): a token made since by
 * someone else waits for the next run, one gone since is skipped. */
static void rot_retire(md_http *h, const md_rot_req *rq, md_store **stores, size_t n,
		       const md_token_meta *list, size_t nl, md_rot_result *res)
{
	char ids[ROT_MAX_STORES][80];
	if (!held_ids(stores, n, ids)) {
		/* A store we cannot read may hold any of the role's tokens. */
		md_log_warn("not retiring old tokens while a store cannot be read");
		return;
	}
	md_error e = {0};
	int live = 0;
	for (size_t k = 0; k < nl; k++)
		live += rot_owns(list[k].name, rq->role);
	/* The list is in creation order on the API; walk oldest first. */
	for (size_t k = 0; k < nl; k++) {
		if (!rot_owns(list[k].name, rq->role) || id_held(list[k].id, ids, n))
			continue;
		time_t superseded = superseded_at(list, nl, k, rq->role);
		bool past_grace = superseded != (time_t)-1 && time(NULL) - superseded >= rq->grace;
		if (!past_grace && live <= rq->keep)
			continue;
		int rc = md_api_token_revoke(h, rq->username, list[k].id, &e);
		if (rc == MD_OK) {
			md_log_info("retired token %s ('%s')", list[k].id, list[k].name);
			res->revoked++;
			live--;
		} else if (rc == MD_ENOTFOUND) {
			md_log_debug("token %s is gone already (expired or revoked)", list[k].id);
			live--;
		} else {
			md_log_warn("retire %s: %s", list[k].id, e.msg);
		}
	}
}

static int rot_run(md_http *h, const md_rot_req *rq, md_store **stores, size_t n,
		   md_rot_result *res, md_error *err)
{
	char ids[ROT_MAX_STORES][80];
	held_ids(stores, n, ids);
	md_token_meta *list = NULL;
	size_t nl = 0;
	int rc = md_api_token_list(h, rq->username, &list, &nl, err);
	if (rc)
		return rc;
	if (!rq->force && rot_fresh(rq, list, nl, ids, n, &res->meta)) {
		res->action = MD_ROT_FRESH;
		res->stores_ok = (int)n;
		md_log_info("token %s is fresh", res->meta.id);
		/* Tokens replaced earlier may have passed their grace since. */
		rot_retire(h, rq, stores, n, list, nl, res);
		free(list);
		return MD_OK;
	}
	char prefix[96];
	snprintf(prefix, sizeof prefix, "mdcred-%s", rq->role);
	md_mint_req q = {
		.username = rq->username,
		.name_prefix = prefix,
		.token_type = rq->token_type ? rq->token_type : "read_write",
		.ttl = rq->ttl,
		.attempts = rq->attempts,
	};
	md_push_result pr;
	rc = md_push(h, &q, stores, n, &pr, err);
	res->stores_ok = pr.ok;
	res->stores_failed = pr.failed;
	md_token_meta *more = NULL;
	if ((rc == MD_OK || rc == MD_EPARTIAL) && (more = realloc(list, (nl + 1) * sizeof *list))) {
		list = more;
		list[nl++] = pr.meta;
	}
	if (rc == MD_OK || rc == MD_EPARTIAL) {
		res->meta = pr.meta;
		res->action = rc == MD_OK ? MD_ROT_ROTATED : MD_ROT_FAILED;
		/* Retire even after a partial write: it skips every id a store
		 * holds, so the failed stores keep their (old) token alive. The
		 * new token joins the first list: it supersedes the old ones. */
		if (more)
			rot_retire(h, rq, stores, n, list, nl, res);
	}
	free(list);
	return rc;
}

int md_rotate(md_http *h, const md_rot_req *rq, md_store **stores, size_t n, md_rot_result *res,
	      md_error *err)
{
	memset(res, 0, sizeof *res);
	res->action = MD_ROT_FAILED;
	if (n == 0 || n > ROT_MAX_STORES)
		return md_err_set(err, MD_EUSAGE, "rotate: give 1 to %d stores", ROT_MAX_STORES);
	int rc = md_rot_valid_role(rq->role, err);
	if (rc)
		return rc;
	md_lock l;
	if ((rc = rot_lock(rq, &l, err)))
		return rc;
	if (l.fd < 0) {
		res->action = MD_ROT_SKIPPED;
		md_log_info("another rotation holds the lock; skipped");
		return MD_OK;
	}
	rc = rot_run(h, rq, stores, n, res, err);
	md_lock_release(&l);
	return rc;
}
