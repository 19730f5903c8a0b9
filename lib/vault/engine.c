/* engine.c - see engine.h: the router and the `config` path. */
#include "vault/engine.h"
#include "net/http.h"
#include "base/json.h"
#include "base/log.h"
#include "base/validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CONFIG_KEY "config"
#define ADMIN_TOKEN_MAX 16384
#define CACERT_MAX 65536

struct eng_path;
typedef void (*eng_op)(const md_eng_storage *st, const md_eng_request *rq, md_eng_response *rs);

struct eng_path {
	const char *path;
	const char *synopsis;
	const char *help;
	eng_op create, read, update, del;
	const char *existence_key; /* storage key behind the existence check */
};

static void config_write(const md_eng_storage *, const md_eng_request *, md_eng_response *);
static void config_read(const md_eng_storage *, const md_eng_request *, md_eng_response *);
static void config_delete(const md_eng_storage *, const md_eng_request *, md_eng_response *);

static const struct eng_path paths[] = {
	{"config", "Configure the MotherDuck admin API connection.",
	 "Fields: api_url (default https://api.motherduck.com; http:// only for loopback), "
	 "admin_token (an organization Admin's read/write token; required; write-only, never "
	 "returned), cacert (PEM text of CA certificates to trust), timeout (seconds per "
	 "attempt, 1..3600, default 30), retries (0..10, default 3). Writing updates only "
	 "the fields given; reading returns the non-secret fields and whether a token is set.",
	 config_write, config_read, config_write, config_delete, CONFIG_KEY},
};

static void rs_json(md_eng_response *rs, const char *key, const char *val)
{
	md_secret_truncate(rs->data, 0);
	md_jw w;
	md_jw_init(&w, rs->data);
	md_jw_obj_begin(&w);
	md_jw_key(&w, key);
	md_jw_str(&w, val);
	md_jw_obj_end(&w);
}

/* A user error: HTTP 400 with {"error": msg} in Vault. */
static void rs_user_error(md_eng_response *rs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void rs_user_error(md_eng_response *rs, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	md_secret_format_line(msg, sizeof msg, fmt, ap);
	va_end(ap);
	rs_json(rs, "error", msg);
}

static void rs_fail(md_eng_response *rs, int type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void rs_fail(md_eng_response *rs, int type, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	md_secret_format_line(rs->err_msg, sizeof rs->err_msg, fmt, ap);
	va_end(ap);
	rs->err_type = type;
}

/* ---- config ---- */

typedef struct {
	char api_url[512];
	md_secret *admin_token; /* watched */
	md_secret *cacert;
	long long timeout, retries;
} eng_config;

static void config_init(eng_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->api_url, sizeof c->api_url, "https://api.motherduck.com");
	c->timeout = 30;
	c->retries = 3;
}

static void config_clear(eng_config *c)
{
	md_secret_free(c->admin_token);
	md_secret_free(c->cacert);
	memset(c, 0, sizeof *c);
}

static int config_load(const md_eng_storage *st, eng_config *c, bool *found, md_error *err)
{
	config_init(c);
	_cleanup_secret_ md_secret *raw = NULL;
	int rc = st->get(st->ud, CONFIG_KEY, &raw, err);
	*found = rc == MD_OK && raw;
	if (rc || !raw)
		return rc;
	md_json d;
	if (md_json_parse(&d, md_secret_str(raw), md_secret_len(raw), err))
		return md_err_set(err, MD_EFAIL, "stored config is not valid JSON");
	md_json_str(&d, md_json_get(&d, 0, "api_url"), c->api_url, sizeof c->api_url);
	md_json_int(&d, md_json_get(&d, 0, "timeout"), &c->timeout);
	md_json_int(&d, md_json_get(&d, 0, "retries"), &c->retries);
	int t = md_json_get(&d, 0, "admin_token"), ca = md_json_get(&d, 0, "cacert");
	if (t >= 0 && (c->admin_token = md_secret_new(1024)) &&
	    md_json_str_secret(&d, t, c->admin_token) == 0)
		md_secret_watch(c->admin_token);
	if (ca >= 0 && (c->cacert = md_secret_new(4096)))
		md_json_str_secret(&d, ca, c->cacert);
	md_json_free(&d);
	return MD_OK;
}

static int config_store(const md_eng_storage *st, const eng_config *c, md_error *err)
{
	_cleanup_secret_ md_secret *v = md_secret_new(2048);
	if (!v)
		return md_err_set(err, MD_EFAIL, "out of memory");
	md_jw w;
	md_jw_init(&w, v);
	md_jw_obj_begin(&w);
	md_jw_key(&w, "api_url");
	md_jw_str(&w, c->api_url);
	md_jw_key(&w, "admin_token");
	md_jw_strn(&w, md_secret_str(c->admin_token), md_secret_len(c->admin_token));
	if (c->cacert) {
		md_jw_key(&w, "cacert");
		md_jw_strn(&w, md_secret_str(c->cacert), md_secret_len(c->cacert));
	}
	md_jw_key(&w, "timeout");
	md_jw_int(&w, c->timeout);
	md_jw_key(&w, "retries");
	md_jw_int(&w, c->retries);
	md_jw_obj_end(&w);
	if (!md_jw_ok(&w))
		return md_err_set(err, MD_EFAIL, "out of memory");
	return st->put(st->ud, CONFIG_KEY, v, err);
}

/* A whole number given as a JSON number or a numeric string (the vault CLI
 * sends key=value pairs as strings). */
static int field_int(const md_json *d, int tok, const char *name, long long lo, long long hi,
		     long long *out, md_eng_response *rs)
{
	char buf[32];
	md_error e = {0};
	if (md_json_int(d, tok, out) == 0) {
		if (*out >= lo && *out <= hi)
			return 0;
		rs_user_error(rs, "%s: %lld is out of range %lld..%lld", name, *out, lo, hi);
		return -1;
	}
	if (md_json_str(d, tok, buf, sizeof buf) < 0 ||
	    md_valid_int(name, buf, lo, hi, out, &e) != MD_OK) {
		rs_user_error(rs, "%s", e.msg[0] ? e.msg : "must be a whole number");
		return -1;
	}
	return 0;
}

static int field_secret(const md_json *d, int tok, const char *name, size_t max, md_secret **out,
			md_eng_response *rs)
{
	md_secret *s = md_secret_new(1024);
	if (!s || md_json_str_secret(d, tok, s) < 0 || md_secret_len(s) == 0 ||
	    md_secret_len(s) > max) {
		md_secret_free(s);
		rs_user_error(rs, "%s: must be a non-empty string of at most %zu bytes", name, max);
		return -1;
	}
	md_secret_free(*out);
	*out = s;
	return 0;
}

/* Applies the request's fields to c; -1 (with rs filled) on a bad field. */
static int config_apply(const md_json *d, eng_config *c, md_eng_response *rs)
{
	static const char *const known[] = {"api_url", "admin_token", "cacert", "timeout", "retries"};
	/* Unknown fields are refused: a typo must not silently do nothing. */
	for (int k = 0; k < md_json_count(d, 0); k++) {
		size_t n;
		const char *raw = md_json_raw(d, md_json_key_at(d, 0, k), &n);
		bool ok = false;
		for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
			ok |= strlen(known[j]) == n && memcmp(known[j], raw, n) == 0;
		if (!ok) {
			rs_user_error(rs, "unknown field '%.*s' (config takes api_url, admin_token, "
				      "cacert, timeout, retries)", (int)(n > 64 ? 64 : n), raw);
			return -1;
		}
	}
	int t;
	if ((t = md_json_get(d, 0, "api_url")) >= 0) {
		md_error e = {0};
		if (md_json_str(d, t, c->api_url, sizeof c->api_url) <= 0 ||
		    md_http_check_url(c->api_url, &e) != MD_OK) {
			rs_user_error(rs, "api_url: %s", e.msg[0] ? e.msg : "must be a URL");
			return -1;
		}
	}
	if ((t = md_json_get(d, 0, "admin_token")) >= 0) {
		if (field_secret(d, t, "admin_token", ADMIN_TOKEN_MAX, &c->admin_token, rs) < 0)
			return -1;
		md_secret_watch(c->admin_token);
	}
	if ((t = md_json_get(d, 0, "cacert")) >= 0 &&
	    field_secret(d, t, "cacert", CACERT_MAX, &c->cacert, rs) < 0)
		return -1;
	if ((t = md_json_get(d, 0, "timeout")) >= 0 &&
	    field_int(d, t, "timeout", 1, 3600, &c->timeout, rs) < 0)
		return -1;
	if ((t = md_json_get(d, 0, "retries")) >= 0 &&
	    field_int(d, t, "retries", 0, 10, &c->retries, rs) < 0)
		return -1;
	return 0;
}

static int request_json(const md_eng_request *rq, md_json *d, md_eng_response *rs)
{
	const char *s = rq->data && rq->data_len ? rq->data : "{}";
	size_t n = rq->data && rq->data_len ? rq->data_len : 2;
	if (md_json_parse(d, s, n, NULL) != MD_OK || md_json_type_of(d, 0) != MD_JSON_OBJECT) {
		md_json_free(d);
		rs_fail(rs, MD_ENG_ERR_BAD_REQUEST, "request data is not a JSON object");
		return -1;
	}
	return 0;
}

static void config_write(const md_eng_storage *st, const md_eng_request *rq, md_eng_response *rs)
{
	eng_config c;
	bool found;
	md_error err = {0};
	md_json d;
	if (request_json(rq, &d, rs) < 0)
		return;
	if (config_load(st, &c, &found, &err) != MD_OK)
		rs_fail(rs, MD_ENG_ERR_INTERNAL, "config: cannot read storage: %s", err.msg);
	else if (config_apply(&d, &c, rs) < 0)
		; /* rs holds the user error */
	else if (!c.admin_token)
		rs_user_error(rs, "admin_token is required");
	else if (config_store(st, &c, &err) != MD_OK)
		rs_fail(rs, MD_ENG_ERR_INTERNAL, "config: cannot write storage: %s", err.msg);
	else
		md_log_info("config %s (api_url %s)", found ? "updated" : "created", c.api_url);
	md_json_free(&d);
	config_clear(&c);
}

static void config_read(const md_eng_storage *st, const md_eng_request *rq, md_eng_response *rs)
{
	(void)rq;
	eng_config c;
	bool found;
	md_error err = {0};
	if (config_load(st, &c, &found, &err) != MD_OK) {
		rs_fail(rs, MD_ENG_ERR_INTERNAL, "config: cannot read storage: %s", err.msg);
		return;
	}
	if (found) {
		/* Never the token or the CA text: only that they are set. */
		md_secret_truncate(rs->data, 0);
		md_jw w;
		md_jw_init(&w, rs->data);
		md_jw_obj_begin(&w);
		md_jw_key(&w, "api_url");
		md_jw_str(&w, c.api_url);
		md_jw_key(&w, "admin_token_set");
		md_jw_bool(&w, c.admin_token != NULL);
		md_jw_key(&w, "cacert_set");
		md_jw_bool(&w, c.cacert != NULL);
		md_jw_key(&w, "timeout");
		md_jw_int(&w, c.timeout);
		md_jw_key(&w, "retries");
		md_jw_int(&w, c.retries);
		md_jw_obj_end(&w);
	}
	/* Not found: an empty answer, which Vault shows as "No value found". */
	config_clear(&c);
}

static void config_delete(const md_eng_storage *st, const md_eng_request *rq, md_eng_response *rs)
{
	(void)rq;
	md_error err = {0};
	if (st->del(st->ud, CONFIG_KEY, &err) != MD_OK)
		rs_fail(rs, MD_ENG_ERR_INTERNAL, "config: cannot delete: %s", err.msg);
}

/* ---- router ---- */

static const struct eng_path *route(const char *path)
{
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (strcmp(path, paths[i].path) == 0)
			return &paths[i];
	return NULL;
}

static void help_all(md_eng_response *rs, const struct eng_path *p)
{
	_cleanup_secret_ md_secret *text = md_secret_new(2048);
	if (!text)
		return;
	if (p) {
		md_secret_appendf(text, "%s\n\n%s\n", p->synopsis, p->help);
	} else {
		md_secret_appendf(text, "The MotherDuck secrets engine mints MotherDuck "
				  "service-account tokens.\n\nPaths:\n");
		for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
			md_secret_appendf(text, "  %-10s %s\n", paths[i].path, paths[i].synopsis);
	}
	rs_json(rs, "help", md_secret_str(text));
}

void md_eng_handle(const md_eng_storage *st, const md_eng_request *rq, md_eng_response *rs)
{
	memset(rs, 0, sizeof *rs);
	rs->data = md_secret_new(256);
	if (!rs->data) {
		rs->err_type = MD_ENG_ERR_INTERNAL;
		snprintf(rs->err_msg, sizeof rs->err_msg, "out of memory");
		return;
	}
	md_secret_append(rs->data, "{}", 2);
	const char *op = rq->operation ? rq->operation : "";
	const char *path = rq->path ? rq->path : "";
	const struct eng_path *p = route(path);
	/* Vault sends rollback to every mount each minute (path ""): the
	 * engine has no write-ahead log yet, so there is nothing to undo. */
	if (strcmp(op, "rollback") == 0)
		return;
	if (strcmp(op, "help") == 0 && (p || path[0] == '\0')) {
		help_all(rs, p);
		return;
	}
	if (!p) {
		rs_fail(rs, MD_ENG_ERR_UNSUPPORTED_PATH, "unsupported path");
		return;
	}
	eng_op fn = strcmp(op, "create") == 0   ? p->create
		    : strcmp(op, "update") == 0 ? p->update
		    : strcmp(op, "read") == 0   ? p->read
		    : strcmp(op, "delete") == 0 ? p->del
						: NULL;
	if (!fn) {
		rs_fail(rs, MD_ENG_ERR_UNSUPPORTED_OPERATION, "unsupported operation");
		return;
	}
	fn(st, rq, rs);
}

void md_eng_response_free(md_eng_response *rs)
{
	md_secret_free(rs->data);
	rs->data = NULL;
}

int md_eng_exists(const md_eng_storage *st, const md_eng_request *rq, bool *found, bool *exists,
		  md_error *err)
{
	*found = *exists = false;
	const struct eng_path *p = route(rq->path ? rq->path : "");
	if (!p || !p->existence_key)
		return MD_OK;
	_cleanup_secret_ md_secret *v = NULL;
	int rc = st->get(st->ud, p->existence_key, &v, err);
	*found = rc == MD_OK;
	*exists = rc == MD_OK && v != NULL;
	return rc;
}
