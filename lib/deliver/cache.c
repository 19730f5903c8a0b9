/* cache.c - see cache.h. */
#define _GNU_SOURCE
#include "deliver/cache.h"
#include "base/env.h"
#include "base/time.h"
#include "base/file.h"
#include "motherduck/format.h"
#include "base/json.h"
#include "base/lock.h"
#include "net/uri.h"
#include "base/log.h"
#include "deliver/rotate.h"
#include "base/validate.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CACHE_DOC_MAX 32768 /* the kernel's limit for a "user" key payload */

/* ---- freshness ---- */

bool md_cache_fresh(md_exp_kind kind, time_t expire_at, time_t now, long long min_remaining)
{
	if (kind == MD_EXP_NEVER)
		return true;
	if (kind != MD_EXP_AT)
		return false;
	return (long long)expire_at - (long long)now >= min_remaining;
}

/* ---- the kernel keyring ----
 *
 * add_key(2) and keyctl(2) are called through syscall(2) rather than
 * libkeyutils: five calls do not justify a library, and mdcred links only
 * libc. A kernel without keys (ENOSYS) or a sandbox's seccomp filter
 * (EPERM, EACCES) means "no keyring here", which callers treat as no cache. */

/* Key permission bits (keyctl_setperm(3)); the uapi header lacks them. */
#define CK_POS_ALL 0x3f000000u
#define CK_USR_VIEW 0x00010000u
#define CK_USR_READ 0x00020000u
#define CK_USR_WRITE 0x00040000u
#define CK_USR_SEARCH 0x00080000u
#define CK_USR_SETATTR 0x00200000u

static long kc(int op, unsigned long a, unsigned long b, unsigned long c, unsigned long d)
{
	return syscall(SYS_keyctl, op, a, b, c, d);
}

static bool keyring_unavailable_errno(int e)
{
	return e == ENOSYS || e == EPERM || e == EACCES || e == EOPNOTSUPP || e == EDQUOT;
}

int md_keyring_desc(char *out, size_t sz, const char *api_url, const char *username,
		    const char *token_type)
{
	const char *h = strstr(api_url, "://");
	h = h ? h + 3 : api_url;
	size_t n = strcspn(h, "/?#");
	const char *at = memchr(h, '@', n); /* never put credentials in a key name */
	if (at) {
		n -= (size_t)(at + 1 - h);
		h = at + 1;
	}
	if (n == 0 || n > 255)
		return -1;
	char host[256];
	for (size_t i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	host[n] = '\0';
	int w = snprintf(out, sz, "mdcred:%s:%s:%s", host, username, token_type);
	return w > 0 && (size_t)w < sz ? 0 : -1;
}

int md_keyring_put(const char *desc, const md_secret *payload, long long timeout_secs,
		   int *errno_out, md_error *err)
{
	*errno_out = 0;
	long id = syscall(SYS_add_key, "user", desc, md_secret_str(payload), md_secret_len(payload),
			  (long)KEY_SPEC_USER_KEYRING);
	if (id < 0) {
		*errno_out = errno;
		if (keyring_unavailable_errno(errno))
			return MD_KEYRING_UNAVAILABLE;
		return md_err_set(err, MD_EFAIL, "kernel keyring: add_key: %s", strerror(errno));
	}
	/* The kernel's default grants the owner uid only "view" unless the key
	 * is possessed (reachable from the session keyring). Another mdcred of
	 * the same user in another session (cron, a service) must be able to
	 * find and read it: the same user can read the other caches (a file
	 * cache) as well. Best effort: possessors keep every right anyway. */
	kc(KEYCTL_SETPERM, (unsigned long)id,
	   CK_POS_ALL | CK_USR_VIEW | CK_USR_READ | CK_USR_WRITE | CK_USR_SEARCH | CK_USR_SETATTR,
	   0, 0);
	long long t = timeout_secs > 0 ? timeout_secs : 0;
	if (t > UINT_MAX)
		t = UINT_MAX;
	if (kc(KEYCTL_SET_TIMEOUT, (unsigned long)id, (unsigned long)t, 0, 0) < 0) {
		int e = errno;
		/* A token key that outlives its token must not stay behind. */
		if (kc(KEYCTL_INVALIDATE, (unsigned long)id, 0, 0, 0) < 0)
			kc(KEYCTL_UNLINK, (unsigned long)id, (unsigned long)KEY_SPEC_USER_KEYRING, 0, 0);
		*errno_out = e;
		if (keyring_unavailable_errno(e))
			return MD_KEYRING_UNAVAILABLE;
		return md_err_set(err, MD_EFAIL, "kernel keyring: set timeout: %s", strerror(e));
	}
	return MD_OK;
}

/* md_secret has no writable view: grow it to n bytes (zeros) and read into
 * its own memory, so the payload never sits in an ordinary buffer. */
static int secret_resize(md_secret *s, size_t n)
{
	static const char zeros[256];
	md_secret_truncate(s, 0);
	while (md_secret_len(s) < n) {
		size_t k = n - md_secret_len(s);
		if (md_secret_append(s, zeros, k < sizeof zeros ? k : sizeof zeros))
			return -1;
	}
	return 0;
}

int md_keyring_get(const char *desc, md_secret *out, int *errno_out, md_error *err)
{
	*errno_out = 0;
	long id = kc(KEYCTL_SEARCH, (unsigned long)KEY_SPEC_USER_KEYRING, (unsigned long)"user",
		     (unsigned long)desc, 0);
	if (id < 0) {
		int e = errno;
		*errno_out = e;
		if (e == ENOKEY || e == EKEYEXPIRED || e == EKEYREVOKED || e == ENOENT)
			return MD_KEYRING_MISS;
		if (keyring_unavailable_errno(e))
			return MD_KEYRING_UNAVAILABLE;
		return md_err_set(err, MD_EFAIL, "kernel keyring: search: %s", strerror(e));
	}
	for (int tries = 0; tries < 4; tries++) {
		/* A zero-length read gives the payload's size. */
		long n = kc(KEYCTL_READ, (unsigned long)id, 0, 0, 0);
		if (n < 0)
			break;
		if (n > CACHE_DOC_MAX)
			return md_err_set(err, MD_EFAIL, "kernel keyring: key too large");
		if (secret_resize(out, (size_t)n))
			return md_err_set(err, MD_EFAIL, "out of memory");
		char *p = (char *)md_secret_str(out); /* our own buffer, n bytes */
		long got = kc(KEYCTL_READ, (unsigned long)id, (unsigned long)p, (unsigned long)n, 0);
		if (got < 0)
			break;
		if (got <= n) {
			md_secret_truncate(out, (size_t)got);
			return MD_OK;
		}
		/* It grew in between (another mdcred replaced it): again. */
	}
	int e = errno;
	*errno_out = e;
	md_secret_truncate(out, 0);
	if (e == ENOKEY || e == EKEYEXPIRED || e == EKEYREVOKED)
		return MD_KEYRING_MISS;
	if (keyring_unavailable_errno(e))
		return MD_KEYRING_UNAVAILABLE;
	return md_err_set(err, MD_EFAIL, "kernel keyring: read: %s", strerror(e));
}

int md_keyring_purge(const char *prefix)
{
	long n = kc(KEYCTL_READ, (unsigned long)KEY_SPEC_USER_KEYRING, 0, 0, 0);
	if (n < 0)
		return -1;
	size_t cap = (size_t)n + 64 * sizeof(int32_t);
	int32_t *ids = malloc(cap);
	if (!ids)
		return -1;
	long got = kc(KEYCTL_READ, (unsigned long)KEY_SPEC_USER_KEYRING, (unsigned long)ids,
		      (unsigned long)cap, 0);
	int count = 0;
	size_t plen = strlen(prefix);
	for (long i = 0; got > 0 && i < (long)((size_t)got < cap ? (size_t)got : cap) / 4; i++) {
		char d[1024];
		long dl = kc(KEYCTL_DESCRIBE, (unsigned long)ids[i], (unsigned long)d, sizeof d, 0);
		if (dl <= 0 || dl > (long)sizeof d)
			continue;
		d[sizeof d - 1] = '\0';
		/* "type;uid;gid;perm;description" */
		const char *desc = d;
		for (int k = 0; k < 4 && desc; k++) {
			desc = strchr(desc, ';');
			desc = desc ? desc + 1 : NULL;
		}
		if (!desc || strncmp(d, "user;", 5) != 0 || strncmp(desc, prefix, plen) != 0)
			continue;
		if (kc(KEYCTL_INVALIDATE, (unsigned long)ids[i], 0, 0, 0) == 0 ||
		    kc(KEYCTL_UNLINK, (unsigned long)ids[i], (unsigned long)KEY_SPEC_USER_KEYRING, 0,
		       0) == 0)
			count++;
	}
	free(ids);
	return got < 0 ? -1 : count;
}

bool md_keyring_available(void)
{
	char desc[64];
	snprintf(desc, sizeof desc, "mdcred:probe:%ld", (long)getpid());
	_cleanup_secret_ md_secret *p = md_secret_new(16);
	_cleanup_secret_ md_secret *back = md_secret_new(16);
	if (!p || !back || md_secret_set(p, "probe", 5))
		return false;
	int e;
	bool ok = md_keyring_put(desc, p, 60, &e, NULL) == MD_OK &&
		  md_keyring_get(desc, back, &e, NULL) == MD_OK && md_secret_eq(p, back);
	md_keyring_purge(desc);
	return ok;
}

/* ---- the cache ---- */


int md_cache_init(md_cache *c, const char *spec, const char *api_url, const char *username,
		  const char *token_type, md_error *err)
{
	memset(c, 0, sizeof *c);
	c->username = username;
	c->token_type = token_type;
	if (!spec || strcmp(spec, "keyring") == 0) {
		c->kind = MD_CACHE_KEYRING;
		if (md_keyring_desc(c->desc, sizeof c->desc, api_url, username, token_type))
			return md_err_set(err, MD_EUSAGE, "--api-url: no host to name the cache by");
		const char *rt = md_env("XDG_RUNTIME_DIR", NULL);
		char dir[4096];
		if (rt && rt[0] == '/')
			snprintf(dir, sizeof dir, "%s/mdcred", rt);
		else if (md_rot_default_state_dir(dir, sizeof dir))
			return md_err_set(err, MD_EUSAGE, "no directory for the lock: set "
					  "XDG_RUNTIME_DIR, XDG_STATE_HOME or HOME");
		snprintf(c->lock_path, sizeof c->lock_path, "%s/get-%s-%s.lock", dir, username,
			 token_type);
		return MD_OK;
	}
	if (strcmp(spec, "none") == 0) {
		c->kind = MD_CACHE_NONE;
		return MD_OK;
	}
	md_uri u;
	const char *p = u.path;
	if (md_uri_parse(spec, &u, NULL) != MD_OK || strcmp(u.scheme, "file") != 0 ||
	    u.query[0] || p[0] != '/' || p[strlen(p) - 1] == '/')
		return md_err_set(err, MD_EUSAGE, "--cache: '%.64s' is not keyring, none or "
				  "file:///absolute/path", spec);
	if (strlen(p) >= sizeof c->path - 8)
		return md_err_set(err, MD_EUSAGE, "--cache: path too long");
	c->kind = MD_CACHE_FILE;
	snprintf(c->path, sizeof c->path, "%s", p);
	snprintf(c->lock_path, sizeof c->lock_path, "%s.lock", p);
	/* The directory must exist: checked before anything is sent. */
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", p);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return md_err_set(err, MD_EUSAGE, "--cache: directory %s does not exist", dir);
	return MD_OK;
}

void md_cache_entry_clear(md_cache_entry *e)
{
	md_token_clear(&e->tok);
	memset(e, 0, sizeof *e);
}

int md_cache_decode(const md_secret *doc, const char *username, const char *token_type,
		    md_cache_entry *e, md_error *err)
{
	memset(e, 0, sizeof *e);
	_cleanup_json_ md_json d = {0};
	if (md_json_parse(&d, md_secret_str(doc), md_secret_len(doc), NULL) ||
	    md_json_type_of(&d, 0) != MD_JSON_OBJECT)
		return MD_OK; /* not ours: a miss */
	char user[256] = "", type[32] = "";
	md_json_str(&d, md_json_get(&d, 0, "username"), user, sizeof user);
	md_json_str(&d, md_json_get(&d, 0, "token_type"), type, sizeof type);
	int exp = md_json_get(&d, 0, "expire_at");
	md_json_type et = md_json_type_of(&d, exp);
	char ts[64] = "";
	md_json_str(&d, exp, ts, sizeof ts);
	if (strcmp(user, username) != 0 || strcmp(type, token_type) != 0)
		return MD_OK; /* another account's or type's token: a miss */
	md_secret *tok = md_secret_new(512);
	if (!tok)
		return md_err_set(err, MD_EFAIL, "out of memory");
	md_error e2 = {0};
	if (md_fmt_read_token(doc, tok, &e->tok.meta, &e2) != MD_OK ||
	    md_valid_token_value(md_secret_str(tok), md_secret_len(tok), &e2) != MD_OK) {
		md_secret_free(tok);
		memset(e, 0, sizeof *e);
		return MD_OK;
	}
	e->tok.secret = tok;
	if (et == MD_JSON_NULL) {
		e->exp_kind = MD_EXP_NEVER;
	} else if (et == MD_JSON_STRING && md_time_parse(ts, &e->expire_at) == 0) {
		e->exp_kind = MD_EXP_AT;
	} else {
		e->exp_kind = MD_EXP_UNKNOWN;
	}
	return MD_OK;
}

static void keyring_fallback(md_cache *c, int e)
{
	if (!c->warned)
		md_log_warn("kernel keyring not available (%s); not caching", strerror(e));
	c->warned = true;
	c->kind = MD_CACHE_NONE;
}

void md_cache_load(md_cache *c, md_cache_entry *e)
{
	memset(e, 0, sizeof *e);
	_cleanup_secret_ md_secret *doc = NULL;
	md_error err = {0};
	if (c->kind == MD_CACHE_KEYRING) {
		doc = md_secret_new(2048);
		int en = 0;
		int rc = doc ? md_keyring_get(c->desc, doc, &en, &err) : MD_EFAIL;
		if (rc == MD_KEYRING_UNAVAILABLE) {
			keyring_fallback(c, en);
			return;
		}
		if (rc == MD_KEYRING_MISS)
			return;
		if (rc != MD_OK) {
			md_log_warn("token cache: %s", err.msg[0] ? err.msg : "out of memory");
			return;
		}
		md_secret_watch(doc);
	} else if (c->kind == MD_CACHE_FILE) {
		/* A cache file another user could have written (planted in a
		 * shared directory, or left group- or world-writable) is a
		 * miss: its token is never handed out; ours replaces it. */
		int rc = md_file_read_private(c->path, CACHE_DOC_MAX, &doc, &err);
		if (rc == MD_ENOTFOUND)
			return;
		if (rc != MD_OK) {
			md_log_warn("token cache: %s; not using it", err.msg);
			return;
		}
		md_secret_watch(doc);
	} else {
		return;
	}
	if (md_cache_decode(doc, c->username, c->token_type, e, &err) != MD_OK)
		md_log_warn("token cache: %s", err.msg);
}

void md_cache_store(md_cache *c, const md_token *t, time_t now)
{
	if (c->kind == MD_CACHE_NONE)
		return;
	time_t exp = 0;
	long long timeout = 0;
	if (t->meta.expire_at[0]) {
		if (md_time_parse(t->meta.expire_at, &exp) < 0) {
			md_log_warn("token cache: unreadable expire_at; not caching");
			return;
		}
		timeout = (long long)exp - (long long)now;
		if (timeout <= 0)
			return; /* already expired by our clock: nothing worth keeping */
	}
	_cleanup_secret_ md_secret *doc = md_secret_new(2048);
	if (!doc || md_fmt_token(doc, MD_FMT_JSON, t, c->username, NULL) < 0) {
		md_log_warn("token cache: out of memory; not caching");
		return;
	}
	md_error err = {0};
	if (c->kind == MD_CACHE_KEYRING) {
		int en = 0;
		int rc = md_keyring_put(c->desc, doc, timeout, &en, &err);
		if (rc == MD_KEYRING_UNAVAILABLE)
			keyring_fallback(c, en);
		else if (rc != MD_OK)
			md_log_warn("token cache: %s; not caching", err.msg);
		else
			md_log_debug("cached token %s in the kernel keyring (%s)", t->meta.id,
				     c->desc);
		return;
	}
	if (md_file_write_atomic(c->path, doc, 0600, &err) != MD_OK)
		md_log_warn("token cache: %s; not caching", err.msg);
	else
		md_log_debug("cached token %s in %s (mode 0600)", t->meta.id, c->path);
}

int md_cache_lock(md_cache *c, long wait_ms, md_error *err)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s", c->lock_path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return md_err_set(err, MD_EFAIL, "lock %s: not a path", c->lock_path), -1;
	*slash = '\0';
	/* The keyring's lock lives in a directory of ours (made if need be);
	 * a file cache's next to the file, wherever the user put it: the
	 * lock file itself is checked either way. */
	int dfd = c->kind == MD_CACHE_KEYRING
			  ? md_dir_open_private(dir[0] ? dir : "/", true, err)
			  : open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (c->kind != MD_CACHE_KEYRING)
			md_err_set(err, MD_EFAIL, "lock directory %s: %s", dir, strerror(errno));
		return -1;
	}
	md_lock l;
	int rc = md_lock_take(dfd, slash + 1, wait_ms, &l, err);
	close(dfd);
	if (rc)
		return -1;
	if (l.fd < 0) {
		char pid[32] = "";
		if (l.holder)
			snprintf(pid, sizeof pid, " (pid %ld)", (long)l.holder);
		md_err_set(err, MD_ETRANSIENT, "another mdcred get%s has held %s for %llds; gave up "
			   "after waiting %ld.%03lds", pid, c->lock_path,
			   (long long)(time(NULL) - l.since), wait_ms / 1000, wait_ms % 1000);
		return -1;
	}
	return l.fd;
}

void md_cache_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
