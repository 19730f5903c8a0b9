/* store_vault.c - the Vault / OpenBao KV v2 store (see store.h).
 *
 * Owns: parsing vault://[HOST:PORT]/MOUNT/PATH[?field=token&scheme=https|http],
 * choosing the address (the URI's HOST:PORT, else VAULT_ADDR), the namespace
 * header (VAULT_NAMESPACE), the CA bundle (VAULT_CACERT), and the KV v2 read
 * and check-and-set write. How the store authenticates (a token, AppRole or
 * Kubernetes login, done lazily on first use) is store_vault_auth.c's.
 *
 * Every credential (the Vault token, an AppRole secret_id, a JWT) and every
 * body lives in a watched md_secret; request paths and errors never hold one.
 */
#include "store/store_int.h"
#include "base/env.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"
#include "base/json.h"
#include "base/log.h"

#include "store/store_vault_int.h"

#define VAULT_META_KEYS 5
static const char *const meta_keys[VAULT_META_KEYS] = {"id", "name", "token_type", "expire_at",
							"username"};

typedef struct {
	char addr[320];     /* scheme://host:port (no trailing slash) */
	char mount[128];
	char path[512];     /* below the mount, '/'-separated, no leading '/' */
	char field[64];
	char ns_header[300]; /* "X-Vault-Namespace: ns" or "" */
	char cacert[1024];   /* "" for the system store */
	md_store_opts transport; /* timeout, retries, multi: given at open */
	md_vault_auth *auth;
	md_http *http;          /* with the client token; made on first use */
	long long last_version; /* version last read or written; -1 none yet */
} vault_store;

/* --- URI ---------------------------------------------------------------- */

static bool seg_ok(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != '@' && c != '+' && c != '=')
			return false;
	}
	return true;
}

/* MOUNT/PATH... : every segment a plain word. */
static int parse_mount_path(const char *mp, vault_store *v, md_error *err)
{
	const char *slash = strchr(mp, '/');
	if (!slash || slash == mp || !slash[1])
		return md_err_set(err, MD_EUSAGE, "expected vault://[HOST:PORT]/MOUNT/PATH (a KV v2 "
				  "mount and a secret path below it)");
	size_t ml = (size_t)(slash - mp);
	if (!seg_ok(mp, ml) || ml >= sizeof v->mount)
		return md_err_set(err, MD_EUSAGE, "mount '%.*s' is not a plain name", (int)ml, mp);
	memcpy(v->mount, mp, ml);
	v->mount[ml] = '\0';
	const char *p = slash + 1;
	size_t pl = strlen(p);
	if (pl >= sizeof v->path)
		return md_err_set(err, MD_EUSAGE, "secret path too long");
	for (const char *s = p; *s;) {
		size_t n = strcspn(s, "/");
		if (!seg_ok(s, n))
			return md_err_set(err, MD_EUSAGE, "secret path '%.200s': segment '%.*s' is not "
					  "a plain name (letters, digits, - _ . @ + =)", p, (int)n, s);
		s += n + (s[n] == '/');
		if (s[-1] == '/' && !*s)
			return md_err_set(err, MD_EUSAGE, "secret path '%.200s' ends with '/'", p);
	}
	memcpy(v->path, p, pl + 1);
	return MD_OK;
}

struct uri_opts {
	vault_store *v;
	char scheme[8];
};

static int uri_opt(void *ud, const char *k, const char *val, md_error *err)
{
	struct uri_opts *o = ud;
	if (strcmp(k, "field") == 0) {
		if (!seg_ok(val, strlen(val)) || strlen(val) >= sizeof o->v->field)
			return md_err_set(err, MD_EUSAGE, "field '%.64s' is not a plain name", val);
		for (int i = 0; i < VAULT_META_KEYS; i++)
			if (strcmp(val, meta_keys[i]) == 0)
				return md_err_set(err, MD_EUSAGE, "field '%s' is used for the token's "
						  "metadata; choose another name", val);
		snprintf(o->v->field, sizeof o->v->field, "%s", val);
	} else if (strcmp(k, "scheme") == 0) {
		if (strcmp(val, "https") != 0 && strcmp(val, "http") != 0)
			return md_err_set(err, MD_EUSAGE, "scheme '%.16s' is not https or http", val);
		snprintf(o->scheme, sizeof o->scheme, "%s", val);
	} else {
		return md_err_set(err, MD_EUSAGE, "unknown option '%.64s' (known: field, scheme)", k);
	}
	return MD_OK;
}

static bool host_loopback(const char *h, size_t n)
{
	return (n == 9 && strncmp(h, "localhost", 9) == 0) || (n >= 4 && strncmp(h, "127.", 4) == 0) ||
	       (n == 5 && strncmp(h, "[::1]", 5) == 0);
}

/* HOST:PORT from the URI, else VAULT_ADDR. */
static int set_addr(vault_store *v, const char *host, size_t hl, const char *scheme,
		    md_error *err)
{
	if (hl) {
		const char *colon = host[0] == '[' ? memchr(host, ']', hl) : memchr(host, ':', hl);
		if (colon && host[0] == '[')
			colon = colon + 1 < host + hl && colon[1] == ':' ? colon + 1 : NULL;
		if (!colon || colon + 1 >= host + hl)
			return md_err_set(err, MD_EUSAGE, "'%.*s': give HOST:PORT (with a port), or "
					  "vault:///MOUNT/PATH to use VAULT_ADDR", (int)hl, host);
		for (const char *p = colon + 1; p < host + hl; p++)
			if (!isdigit((unsigned char)*p))
				return md_err_set(err, MD_EUSAGE, "'%.*s': the port is not a number",
						  (int)hl, host);
		for (const char *p = host; p < colon; p++)
			if (!isalnum((unsigned char)*p) && !strchr(".-[]:", *p))
				return md_err_set(err, MD_EUSAGE, "'%.*s' is not a valid host", (int)hl,
						  host);
		if (!*scheme)
			scheme = host_loopback(host, (size_t)(colon - host)) ? "http" : "https";
		snprintf(v->addr, sizeof v->addr, "%s://%.*s", scheme, (int)hl, host);
	} else {
		const char *a = md_env("VAULT_ADDR", NULL);
		if (!a)
			return md_err_set(err, MD_EUSAGE, "no Vault address: give "
					  "vault://HOST:PORT/MOUNT/PATH or set VAULT_ADDR");
		if (*scheme)
			return md_err_set(err, MD_EUSAGE, "scheme= needs HOST:PORT in the URI "
					  "(VAULT_ADDR carries its own scheme)");
		if (strlen(a) >= sizeof v->addr)
			return md_err_set(err, MD_EUSAGE, "VAULT_ADDR is too long");
		snprintf(v->addr, sizeof v->addr, "%s", a);
		size_t n = strlen(v->addr);
		while (n > 0 && v->addr[n - 1] == '/')
			v->addr[--n] = '\0';
	}
	int rc = md_http_check_url(v->addr, err);
	if (rc)
		md_err_prefix(err, "Vault address");
	return rc;
}

static int set_env(vault_store *v, md_error *err)
{
	const char *ns = md_env("VAULT_NAMESPACE", NULL);
	if (ns) {
		size_t n = strlen(ns);
		while (n > 0 && ns[n - 1] == '/')
			n--;
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)ns[i]) && !strchr("-_./", ns[i]))
				return md_err_set(err, MD_EUSAGE, "VAULT_NAMESPACE '%.64s' is not a "
						  "plain namespace path", ns);
		if (n > 200)
			return md_err_set(err, MD_EUSAGE, "VAULT_NAMESPACE is too long");
		if (n)
			snprintf(v->ns_header, sizeof v->ns_header, "X-Vault-Namespace: %.*s", (int)n,
				 ns);
	}
	const char *ca = md_env("VAULT_CACERT", NULL);
	if (ca) {
		if (strlen(ca) >= sizeof v->cacert)
			return md_err_set(err, MD_EUSAGE, "VAULT_CACERT is too long");
		snprintf(v->cacert, sizeof v->cacert, "%s", ca);
	}
	if (md_env_flag("VAULT_SKIP_VERIFY"))
		md_log_warn("vault: VAULT_SKIP_VERIFY is ignored: certificates are always verified");
	return MD_OK;
}

/* --- HTTP --------------------------------------------------------------- */

static void http_opts(const vault_store *v, const md_secret *bearer, md_http_opts *o)
{
	memset(o, 0, sizeof *o);
	o->base_url = v->addr;
	o->cacert = v->cacert[0] ? v->cacert : NULL;
	o->timeout_secs = v->transport.timeout_secs;
	o->retries = v->transport.retries;
	o->bearer = bearer;
	o->auth_header = "X-Vault-Token";
	o->extra_header = v->ns_header[0] ? v->ns_header : NULL;
	o->multi = v->transport.multi;
}

/* The client with a valid client token (logging in on first use). */
static int client(vault_store *v, md_error *err)
{
	if (v->http)
		return MD_OK;
	md_http_opts o;
	http_opts(v, NULL, &o);
	const md_secret *tok = NULL;
	int rc = md_vault_auth_token(v->auth, &o, &tok, err);
	if (rc)
		return rc;
	http_opts(v, tok, &o);
	return md_http_new(&o, &v->http, err);
}

/* /v1/MOUNT/data/PATH, every segment escaped. */
static md_secret *data_path(const vault_store *v)
{
	md_secret *p = md_secret_new(64 + strlen(v->path) * 3);
	if (!p)
		return NULL;
	md_secret_append(p, "/v1/", 4);
	md_http_path_segment(p, v->mount);
	md_secret_append(p, "/data", 5);
	char seg[512];
	for (const char *s = v->path; *s;) {
		size_t n = strcspn(s, "/");
		snprintf(seg, sizeof seg, "%.*s", (int)n, s);
		md_secret_append(p, "/", 1);
		if (md_http_path_segment(p, seg) < 0) {
			md_secret_free(p);
			return NULL;
		}
		s += n + (s[n] == '/');
	}
	return p;
}

int md_vault_error(const md_http_resp *r, const char *what, md_error *err)
{
	/* Whole, in secret memory: cut only after redaction (md_err_set), so a
	 * credential a server repeats cannot straddle a cut. */
	_cleanup_secret_ md_secret *detail = md_secret_new(512);
	_cleanup_secret_ md_secret *one = md_secret_new(256);
	_cleanup_json_ md_json d = {0};
	if (detail && one &&
	    md_json_parse(&d, md_secret_str(r->body), md_secret_len(r->body), NULL) == 0) {
		int errs = md_json_get(&d, 0, "errors");
		for (int i = 0; i < md_json_count(&d, errs); i++) {
			if (md_json_str_secret(&d, md_json_at(&d, errs, i), one) < 0)
				continue;
			if (md_secret_len(detail))
				md_secret_append(detail, "; ", 2);
			md_secret_append(detail, md_secret_str(one), md_secret_len(one));
		}
	}
	long s = r->status;
	md_code c = s == 401 || s == 403		? MD_EAUTH
		    : s == 404				? MD_ENOTFOUND
		    : s == 409				? MD_ECONFLICT
		    : s == 429 || s >= 500		? MD_ETRANSIENT
							: MD_EFAIL;
	md_err_set(err, c, "vault: %s: HTTP %ld: %s", what, s,
		   md_secret_len(detail) ? md_secret_str(detail) : "no details");
	if (err)
		err->http_status = (int)s;
	return c;
}

/* A data request's error; auth failures name where the credentials came from. */
static int store_error(const vault_store *v, const md_http_resp *r, const char *what,
		       md_error *err)
{
	int rc = md_vault_error(r, what, err);
	if (rc == MD_EAUTH && err) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof err->msg - n, " (Vault token from %s)",
			 md_vault_auth_source(v->auth));
	}
	return rc;
}

/* --- read --------------------------------------------------------------- */

static void meta_str(const md_json *d, int obj, const char *key, char *out, size_t outsz)
{
	out[0] = '\0';
	if (md_json_str(d, md_json_get(d, obj, key), out, outsz) < 0)
		out[0] = '\0';
}

/* The secret's KV v2 fields into out (out NULL: only the version). */
static int vault_fields(vault_store *v, const md_json *d, int kv, md_store_value *out,
			md_error *err)
{
	int ft = md_json_get(d, kv, v->field);
	if (md_json_type_of(d, ft) == MD_JSON_STRING) {
		out->token = md_secret_new(256);
		if (!out->token || md_json_str_secret(d, ft, out->token) < 0) {
			md_secret_freep(&out->token);
			return md_err_set(err, MD_EFAIL, "vault: read: field '%s' is not a valid "
					  "string", v->field);
		}
		md_secret_watch(out->token);
		if (md_secret_len(out->token) == 0)
			md_secret_freep(&out->token);
	}
	meta_str(d, kv, "id", out->meta.id, sizeof out->meta.id);
	meta_str(d, kv, "name", out->meta.name, sizeof out->meta.name);
	meta_str(d, kv, "token_type", out->meta.token_type, sizeof out->meta.token_type);
	meta_str(d, kv, "expire_at", out->meta.expire_at, sizeof out->meta.expire_at);
	return MD_OK;
}

static int vault_get(vault_store *v, md_store_value *out, md_error *err)
{
	int rc = client(v, err);
	if (rc)
		return rc;
	_cleanup_secret_ md_secret *path = data_path(v);
	if (!path)
		return md_err_set(err, MD_EFAIL, "out of memory");
	_cleanup_resp_ md_http_resp r = {0};
	rc = md_http_request(v->http, "GET", md_secret_str(path), NULL, MD_HTTP_IDEMPOTENT, &r, err);
	if (rc) {
		md_err_prefix(err, "vault: read");
		return rc;
	}
	_cleanup_json_ md_json d = {0};
	bool parsed = md_json_parse(&d, md_secret_str(r.body), md_secret_len(r.body), NULL) == 0 &&
		      md_json_type_of(&d, 0) == MD_JSON_OBJECT;
	int data = parsed ? md_json_get(&d, 0, "data") : -1;
	int metadata = md_json_get(&d, data, "metadata");
	long long version = 0;
	if (r.status == 404) {
		/* Absent ({"errors":[]}) or its latest version deleted (metadata
		 * still says which version a cas must name). Errors name a
		 * missing mount or route instead. */
		if (!parsed || md_json_count(&d, md_json_get(&d, 0, "errors")) != 0) {
			rc = store_error(v, &r, "read", err);
			md_err_prefix(err, "mount '%s' (is it a KV v2 mount?)", v->mount);
			return rc;
		}
		if (md_json_int(&d, md_json_get(&d, metadata, "version"), &version) < 0)
			version = 0;
		v->last_version = version;
		if (out)
			out->version = version;
		return MD_OK;
	}
	if (r.status != 200)
		return store_error(v, &r, "read", err);
	int kv = md_json_get(&d, data, "data");
	if (md_json_type_of(&d, kv) != MD_JSON_OBJECT ||
	    md_json_int(&d, md_json_get(&d, metadata, "version"), &version) < 0)
		return md_err_set(err, MD_EFAIL, "vault: read: the answer has no data.data object or "
				  "data.metadata.version (is '%s' a KV v2 mount?)", v->mount);
	v->last_version = version;
	if (!out)
		return MD_OK;
	out->version = version;
	return vault_fields(v, &d, kv, out, err);
}

static int vault_read(md_store *st, md_store_value *out, md_error *err)
{
	return vault_get(st->impl, out, err);
}

/* --- write -------------------------------------------------------------- */

static md_secret *write_body(const vault_store *v, const md_token *t, const char *username,
			     long long cas)
{
	md_secret *b = md_secret_new(512 + md_secret_len(t->secret));
	if (!b)
		return NULL;
	md_jw w;
	md_jw_init(&w, b);
	md_jw_obj_begin(&w);
	md_jw_key(&w, "options");
	md_jw_obj_begin(&w);
	md_jw_key(&w, "cas");
	md_jw_int(&w, cas);
	md_jw_obj_end(&w);
	md_jw_key(&w, "data");
	md_jw_obj_begin(&w);
	md_jw_key(&w, v->field);
	md_jw_strn(&w, md_secret_str(t->secret), md_secret_len(t->secret));
	md_jw_key(&w, "id");
	md_jw_str(&w, t->meta.id);
	md_jw_key(&w, "name");
	md_jw_str(&w, t->meta.name);
	md_jw_key(&w, "token_type");
	md_jw_str(&w, t->meta.token_type);
	md_jw_key(&w, "expire_at");
	md_jw_str(&w, t->meta.expire_at[0] ? t->meta.expire_at : NULL);
	md_jw_key(&w, "username");
	md_jw_str(&w, username);
	md_jw_obj_end(&w);
	md_jw_obj_end(&w);
	if (!md_jw_ok(&w)) {
		md_secret_free(b);
		return NULL;
	}
	return b;
}

static int vault_write(md_store *st, const md_token *t, const char *username, bool *maybe_written,
		       md_error *err)
{
	vault_store *v = st->impl;
	if (!t->secret || md_secret_len(t->secret) == 0)
		return md_err_set(err, MD_EUSAGE, "vault: no token to write");
	int rc;
	if (v->last_version < 0 && (rc = vault_get(v, NULL, err)))
		return rc;
	long long cas = v->last_version;
	_cleanup_secret_ md_secret *path = data_path(v);
	_cleanup_secret_ md_secret *body = write_body(v, t, username, cas);
	if (!path || !body)
		return md_err_set(err, MD_EFAIL, "out of memory");
	_cleanup_resp_ md_http_resp r = {0};
	rc = md_http_request(v->http, "POST", md_secret_str(path), body, MD_HTTP_ONCE, &r, err);
	if (rc) {
		md_err_prefix(err, "vault: write");
		*maybe_written = r.maybe_sent;
		if (r.maybe_sent && err) {
			size_t n = strlen(err->msg);
			snprintf(err->msg + n, sizeof err->msg - n, " (the write may or may not have "
				 "been applied: read the store to find out)");
		}
		v->last_version = -1;
		return rc;
	}
	if (r.status == 400 && strstr(md_secret_str(r.body), "check-and-set parameter did not match")) {
		v->last_version = -1; /* read again before another try */
		if (cas == 0)
			return md_err_set(err, MD_ECONFLICT, "vault: write: %s/%s was created by "
					  "another writer after it was read as absent (check-and-set "
					  "parameter did not match the current version); nothing was "
					  "overwritten", v->mount, v->path);
		return md_err_set(err, MD_ECONFLICT, "vault: write: %s/%s changed since version %lld "
				  "was read (check-and-set parameter did not match the current "
				  "version): another writer updated it; nothing was overwritten",
				  v->mount, v->path, cas);
	}
	if (r.status != 200 && r.status != 204) {
		rc = store_error(v, &r, "write", err);
		*maybe_written = r.status >= 500;
		if (r.status >= 500 && err) {
			size_t n = strlen(err->msg);
			snprintf(err->msg + n, sizeof err->msg - n, " (the write may or may not have "
				 "been applied: read the store to find out)");
		}
		v->last_version = -1;
		return rc;
	}
	_cleanup_json_ md_json d = {0};
	long long version = -1;
	if (md_json_parse(&d, md_secret_str(r.body), md_secret_len(r.body), NULL) == 0) {
		md_json_int(&d, md_json_get(&d, md_json_get(&d, 0, "data"), "version"), &version);
	}
	v->last_version = version; /* -1 (unknown): the next write reads first */
	md_log_debug("vault: wrote %s/%s version %lld", v->mount, v->path, version);
	return MD_OK;
}

/* --- open / free -------------------------------------------------------- */

static void vault_free(md_store *st)
{
	vault_store *v = st->impl;
	if (!v)
		return;
	md_http_free(v->http);
	md_vault_auth_free(v->auth);
	free(v);
	st->impl = NULL;
}

static const struct md_store_ops vault_ops = {vault_write, vault_read, NULL, vault_free};

int md_store_vault_open(const md_uri *u, const md_store_opts *o, md_store *st, md_error *err)
{
	/* vault://HOST:PORT/MOUNT/PATH, or vault:///MOUNT/PATH for VAULT_ADDR.
	 * A host without a port is refused rather than guessed at: in
	 * vault://secret/app, "secret" would be a host to the parser and a
	 * mount to a reader. */
	if (u->host[0] && !u->port[0])
		return md_err_set(err, MD_EUSAGE, "'%.200s' is read as a Vault host without a port: "
				  "give vault://HOST:PORT/MOUNT/PATH, or vault:///%s%s to use "
				  "VAULT_ADDR", u->host, u->host, u->path);
	if (u->path[0] != '/')
		return md_err_set(err, MD_EUSAGE, "expected vault://[HOST:PORT]/MOUNT/PATH");
	vault_store *v = calloc(1, sizeof *v);
	if (!v)
		return md_err_set(err, MD_EFAIL, "out of memory");
	v->last_version = -1;
	v->transport = *o;
	snprintf(v->field, sizeof v->field, "token");
	struct uri_opts uo = {v, ""};
	char host[300] = "";
	if (u->host[0])
		snprintf(host, sizeof host, "%s:%s", u->host, u->port);
	int rc;
	if ((rc = md_uri_query_each(u->query, uri_opt, &uo, err)) ||
	    (rc = parse_mount_path(u->path + 1, v, err)) ||
	    (rc = set_addr(v, host, strlen(host), uo.scheme, err)) || (rc = set_env(v, err)) ||
	    (rc = md_vault_auth_new(&v->auth, err))) {
		md_vault_auth_free(v->auth);
		free(v);
		return rc;
	}
	snprintf(st->ident, sizeof st->ident, "vault:%s|%s|%s/%s", v->addr, v->ns_header, v->mount,
		 v->path);
	st->ops = &vault_ops;
	st->impl = v;
	return MD_OK;
}
