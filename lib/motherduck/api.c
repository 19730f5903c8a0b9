/* api.c - see api.h. */
#include "motherduck/api.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "base/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void md_token_clear(md_token *t)
{
	if (!t)
		return;
	md_secret_free(t->secret);
	memset(t, 0, sizeof *t);
}

static bool body_is_json(const md_http_resp *r)
{
	return strncmp(r->content_type, "application/json", 16) == 0 ||
	       (md_secret_len(r->body) > 0 && md_secret_str(r->body)[0] == '{');
}

/* Appends the string member key of obj to out; false if there is none. */
static bool append_member(md_secret *out, const md_json *doc, int obj, const char *key,
			  const char *before)
{
	_cleanup_secret_ md_secret *v = md_secret_new(256);
	if (!v || md_json_str_secret(doc, md_json_get(doc, obj, key), v) < 0 ||
	    md_secret_len(v) == 0)
		return false;
	md_secret_appendf(out, "%s", before);
	md_secret_append(out, md_secret_str(v), md_secret_len(v));
	return true;
}

/* "CODE: message (issue; issue)" from an error body into out (empty if
 * none), whole: it is cut only after redaction (md_err_set), or a secret
 * a server repeats could straddle the cut. code gets the code alone. */
static void error_line(const md_http_resp *r, md_secret *out, char *code, size_t codesz)
{
	_cleanup_json_ md_json doc = {0};
	code[0] = '\0';
	if (!body_is_json(r) ||
	    md_json_parse(&doc, md_secret_str(r->body), md_secret_len(r->body), NULL) != MD_OK)
		return;
	if (md_json_str(&doc, md_json_get(&doc, 0, "code"), code, codesz) < 0)
		code[0] = '\0';
	bool any = append_member(out, &doc, 0, "code", "");
	any |= append_member(out, &doc, 0, "message", any ? ": " : "");
	int issues = md_json_get(&doc, 0, "issues"), shown = 0;
	for (int i = 0; i < md_json_count(&doc, issues); i++)
		shown += append_member(out, &doc, md_json_at(&doc, issues, i), "message",
				       shown ? "; " : " (");
	if (shown)
		md_secret_append(out, ")", 1);
}

int md_api_error_from_resp(const md_http_resp *r, const char *what, md_error *err)
{
	char code[64];
	_cleanup_secret_ md_secret *line = md_secret_new(512);
	if (!line)
		return md_err_set(err, MD_EFAIL, "%s: HTTP %ld (out of memory)", what, r->status);
	error_line(r, line, code, sizeof code);
	const char *detail = md_secret_len(line) ? md_secret_str(line) : "no error details";
	long s = r->status;
	md_code c;
	if (s == 401 || s == 403)
		c = MD_EAUTH;
	else if (s == 404 && strcmp(code, "NOT_FOUND") == 0)
		c = MD_ENOTFOUND;
	else if (s == 404) {
		/* A plain-text 404 is the router's, not the entity's. */
		md_err_set(err, MD_EFAIL, "%s: the API has no such route (HTTP 404, plain 'Not "
			   "Found'): check --api-url", what);
		if (err)
			err->http_status = 404;
		return MD_EFAIL;
	} else if (s == 409 ||
		   (s == 400 && strstr(detail, "alive_entity_unique_name_per_parent_and_type")))
		c = MD_ECONFLICT;
	else if (s == 429 || s >= 500)
		c = MD_ETRANSIENT;
	else
		c = MD_EFAIL;
	md_err_set(err, c, "%s: HTTP %ld %s", what, s, detail);
	if (err)
		err->http_status = (int)s;
	if (c == MD_EAUTH && err) {
		char *p = err->msg + strlen(err->msg);
		snprintf(p, sizeof err->msg - (size_t)(p - err->msg), "%s",
			 s == 401 ? " - the admin token is invalid, expired or revoked"
				  : " - an organization Admin's read/write token is required");
	}
	return c;
}

/* A JSON NOT_FOUND under /v1/users/<u>/... means the account is missing. */
static int account_missing(int rc, const char *what, const char *username, md_error *err)
{
	if (rc == MD_ENOTFOUND)
		md_err_set(err, MD_ENOTFOUND, "%s: no service account '%s'", what, username);
	return rc;
}

/* Builds "/v1/users/<u>[/<rest>]" with each segment escaped. */
static md_secret *user_path(const char *username, const char *rest, const char *id)
{
	md_secret *p = md_secret_new(128);
	if (!p)
		return NULL;
	md_secret_append(p, "/v1/users/", 10);
	md_http_path_segment(p, username);
	if (rest)
		md_secret_appendf(p, "/%s", rest);
	if (id) {
		md_secret_append(p, "/", 1);
		md_http_path_segment(p, id);
	}
	return p;
}

/* A 2xx answer's body as a JSON object (strict: json.h). */
static int answer_doc(const char *body, size_t len, const char *what, md_json *doc, md_error *err)
{
	if (md_json_parse(doc, body, len, NULL) || md_json_type_of(doc, 0) != MD_JSON_OBJECT) {
		md_json_free(doc);
		return md_err_set(err, MD_EFAIL, "%s: the API's answer is not a JSON object (or "
				  "repeats a key)", what);
	}
	return MD_OK;
}

/* An answer whose content is not used must still be well formed, when
 * there is one: empty (a 204), or a JSON object. */
static int answer_empty_or_object(const md_http_resp *r, const char *what, md_error *err)
{
	_cleanup_json_ md_json doc = {0};
	if (md_secret_len(r->body) == 0)
		return MD_OK;
	return answer_doc(md_secret_str(r->body), md_secret_len(r->body), what, &doc, err);
}

/* One request whose 2xx answer is parsed into doc (if doc is non-NULL). */
static int api_call(md_http *h, const char *method, const md_secret *path, const md_secret *body,
		    const char *what, md_http_resp *resp, md_json *doc, md_error *err)
{
	if (!path)
		return md_err_set(err, MD_EFAIL, "out of memory");
	md_http_retry mode = strcmp(method, "POST") == 0 ? MD_HTTP_ONCE : MD_HTTP_IDEMPOTENT;
	int rc = md_http_request(h, method, md_secret_str(path), body, mode, resp, err);
	if (rc) {
		md_err_prefix(err, "%s", what);
		return rc;
	}
	if (resp->status < 200 || resp->status > 299)
		return md_api_error_from_resp(resp, what, err);
	return doc ? answer_doc(md_secret_str(resp->body), md_secret_len(resp->body), what, doc, err)
		   : MD_OK;
}

static md_secret *json_body(void (*fill)(md_jw *, const void *), const void *arg)
{
	md_secret *b = md_secret_new(256);
	if (!b)
		return NULL;
	md_jw w;
	md_jw_init(&w, b);
	fill(&w, arg);
	if (!md_jw_ok(&w)) {
		md_secret_free(b);
		return NULL;
	}
	return b;
}

static void fill_username(md_jw *w, const void *arg)
{
	md_jw_obj_begin(w);
	md_jw_key(w, "username");
	md_jw_str(w, arg);
	md_jw_obj_end(w);
}

int md_api_user_create(md_http *h, const char *username, md_error *err)
{
	int rc = md_valid_username(username, err);
	if (rc)
		return rc;
	_cleanup_secret_ md_secret *path = md_secret_new(16);
	_cleanup_secret_ md_secret *body = json_body(fill_username, username);
	if (!body || !path || md_secret_append(path, "/v1/users", 9))
		return md_err_set(err, MD_EFAIL, "out of memory");
	_cleanup_resp_ md_http_resp r = {0};
	rc = api_call(h, "POST", path, body, "account create", &r, NULL, err);
	if (!rc)
		rc = answer_empty_or_object(&r, "account create", err);
	if (rc == MD_ECONFLICT)
		md_err_set(err, MD_ECONFLICT, "account create: service account '%s' already exists",
			   username);
	return rc;
}

int md_api_user_delete(md_http *h, const char *username, md_error *err)
{
	int rc = md_valid_username(username, err);
	if (rc)
		return rc;
	_cleanup_secret_ md_secret *path = user_path(username, NULL, NULL);
	_cleanup_resp_ md_http_resp r = {0};
	rc = api_call(h, "DELETE", path, NULL, "account delete", &r, NULL, err);
	if (!rc)
		rc = answer_empty_or_object(&r, "account delete", err);
	bool earlier = r.earlier_maybe_done;
	if (rc == MD_ENOTFOUND && earlier) {
		md_err_clear(err);
		return MD_OK;
	}
	return account_missing(rc, "account delete", username, err);
}

/* A string member of a server's answer, escaped (text.h) so that whatever
 * it holds is safe to print, log or compare. */
static void meta_field(const md_json *d, int obj, const char *key, char *out, size_t outsz)
{
	char raw[256];
	out[0] = '\0';
	int n = md_json_str(d, md_json_get(d, obj, key), raw, sizeof raw);
	if (n > 0)
		md_text_escape(out, outsz, raw, (size_t)n, false);
}

static void parse_meta(const md_json *d, int obj, md_token_meta *m)
{
	memset(m, 0, sizeof *m);
	meta_field(d, obj, "id", m->id, sizeof m->id);
	meta_field(d, obj, "name", m->name, sizeof m->name);
	meta_field(d, obj, "token_type", m->token_type, sizeof m->token_type);
	meta_field(d, obj, "expire_at", m->expire_at, sizeof m->expire_at);
	meta_field(d, obj, "created_ts", m->created_ts, sizeof m->created_ts);
	md_json_bool(d, md_json_get(d, obj, "read_only"), &m->read_only);
	if (!m->token_type[0])
		snprintf(m->token_type, sizeof m->token_type, "%s",
			 m->read_only ? "read_scaling" : "read_write");
}

static void fill_token_req(md_jw *w, const void *arg)
{
	const md_token_req *q = arg;
	md_jw_obj_begin(w);
	md_jw_key(w, "name");
	md_jw_str(w, q->name);
	md_jw_key(w, "token_type");
	md_jw_str(w, q->token_type ? q->token_type : "read_write");
	if (q->ttl != MD_TTL_NONE) {
		md_jw_key(w, "ttl");
		md_jw_int(w, q->ttl);
	}
	if (q->description) {
		md_jw_key(w, "description");
		md_jw_str(w, q->description);
	}
	md_jw_obj_end(w);
}

static int token_req_check(const char *username, const md_token_req *q, md_error *err)
{
	int rc = md_valid_username(username, err);
	if (!rc)
		rc = md_valid_token_name(q->name ? q->name : "", err);
	if (!rc)
		rc = md_valid_token_type(q->token_type ? q->token_type : "read_write", err);
	if (!rc && q->ttl != MD_TTL_NONE && (q->ttl < MD_TTL_MIN || q->ttl > MD_TTL_MAX))
		rc = md_err_set(err, MD_EUSAGE, "ttl %lld is outside 300..31536000 seconds", q->ttl);
	return rc;
}

/* The token value of a 2xx answer into out->secret; on failure the token
 * exists but cannot be used. */
static int token_from_answer(const md_json *doc, md_token *out, md_error *err)
{
	out->secret = md_secret_new(1024);
	if (!out->secret)
		return md_err_set(err, MD_EFAIL, "out of memory");
	/* Watched before it is checked: the check's error never shows it, but
	 * a bad value is still somebody's token. */
	if (md_json_str_secret(doc, md_json_get(doc, 0, "token"), out->secret) == 0)
		md_secret_watch(out->secret);
	int rc = md_secret_len(out->secret) == 0
			 ? md_err_set(err, MD_EFAIL, "token create: the answer has no token value")
			 : md_valid_token_value(md_secret_str(out->secret), md_secret_len(out->secret),
						err);
	if (rc)
		md_err_prefix(err, "token create: the API's answer is unusable");
	return rc;
}

int md_api_token_decode(const char *body, size_t len, md_token *out, md_error *err)
{
	memset(out, 0, sizeof *out);
	_cleanup_json_ md_json doc = {0};
	int rc = answer_doc(body, len, "token create", &doc, err);
	if (rc)
		return rc;
	parse_meta(&doc, 0, &out->meta);
	rc = token_from_answer(&doc, out, err);
	if (!rc && md_valid_token_id(out->meta.id, NULL) != MD_OK)
		rc = md_err_set(err, MD_EFAIL, "token create: the answer has no usable token id");
	if (rc)
		md_secret_freep(&out->secret);
	return rc;
}

int md_api_token_create(md_http *h, const char *username, const md_token_req *q, md_token *out,
			md_minted *minted, md_error *err)
{
	memset(out, 0, sizeof *out);
	*minted = MD_MINTED_NO;
	int rc = token_req_check(username, q, err);
	if (rc)
		return rc;
	_cleanup_secret_ md_secret *path = user_path(username, "tokens", NULL);
	_cleanup_secret_ md_secret *body = json_body(fill_token_req, q);
	if (!body)
		return md_err_set(err, MD_EFAIL, "out of memory");
	_cleanup_resp_ md_http_resp r = {0};
	rc = api_call(h, "POST", path, body, "token create", &r, NULL, err);
	if (rc) {
		/* No answer after sending, or a 5xx that may come after the
		 * server did the work: the token may exist. A 2xx whose body
		 * was too large to read made one. */
		if (r.status >= 200 && r.status <= 299)
			*minted = MD_MINTED_UNUSABLE;
		else if ((r.status == 0 && r.maybe_sent) || r.status >= 500)
			*minted = MD_MINTED_MAYBE;
		if (rc == MD_ECONFLICT)
			md_err_set(err, MD_ECONFLICT, "token create: '%s' already has a live token "
				   "named '%s'", username, q->name);
		return account_missing(rc, "token create", username, err);
	}
	/* A 2xx made a token, whatever its answer says: one that cannot be
	 * used (not JSON, a repeated key, not a JWT, no id) must be revoked. */
	rc = md_api_token_decode(md_secret_str(r.body), md_secret_len(r.body), out, err);
	if (rc)
		*minted = MD_MINTED_UNUSABLE;
	else if (!out->meta.name[0])
		snprintf(out->meta.name, sizeof out->meta.name, "%s", q->name);
	return rc;
}

int md_api_token_list_decode(const char *body, size_t len, md_token_meta **out, size_t *n,
			     md_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_json_ md_json doc = {0};
	int rc = answer_doc(body, len, "token list", &doc, err);
	if (rc)
		return rc;
	int arr = md_json_get(&doc, 0, "tokens");
	int cnt = md_json_count(&doc, arr);
	if (md_json_type_of(&doc, arr) != MD_JSON_ARRAY) {
		rc = md_err_set(err, MD_EFAIL, "token list: the answer has no tokens array");
	} else if (cnt > 0 && !(*out = calloc((size_t)cnt, sizeof **out))) {
		rc = md_err_set(err, MD_EFAIL, "out of memory");
	} else {
		for (int i = 0; i < cnt; i++)
			parse_meta(&doc, md_json_at(&doc, arr, i), &(*out)[i]);
		*n = (size_t)cnt;
	}
	return rc;
}

int md_api_token_list(md_http *h, const char *username, md_token_meta **out, size_t *n,
		      md_error *err)
{
	*out = NULL;
	*n = 0;
	int rc = md_valid_username(username, err);
	if (rc)
		return rc;
	_cleanup_secret_ md_secret *path = user_path(username, "tokens", NULL);
	_cleanup_resp_ md_http_resp r = {0};
	rc = api_call(h, "GET", path, NULL, "token list", &r, NULL, err);
	if (!rc)
		rc = md_api_token_list_decode(md_secret_str(r.body), md_secret_len(r.body), out, n,
					      err);
	return account_missing(rc, "token list", username, err);
}

int md_api_token_revoke(md_http *h, const char *username, const char *token_id, md_error *err)
{
	int rc = md_valid_username(username, err);
	if (!rc)
		rc = md_valid_token_id(token_id, err);
	if (rc)
		return rc;
	_cleanup_secret_ md_secret *path = user_path(username, "tokens", token_id);
	_cleanup_resp_ md_http_resp r = {0};
	/* A 2xx revoked it, whatever its body says: cleanup paths rely on
	 * that answer, and it carries nothing we use. */
	rc = api_call(h, "DELETE", path, NULL, "token revoke", &r, NULL, err);
	bool earlier = r.earlier_maybe_done;
	if (rc == MD_ENOTFOUND && earlier) {
		/* The attempt whose answer was lost did the revoking. */
		md_err_clear(err);
		return MD_OK;
	}
	if (rc == MD_ENOTFOUND)
		md_err_set(err, MD_ENOTFOUND, "token revoke: '%s' has no live token with id %s",
			   username, token_id);
	return rc;
}

static void parse_duckling(const md_json *d, int obj, md_duckling *o)
{
	memset(o, 0, sizeof *o);
	o->flock_size = o->cooldown_seconds = -1;
	meta_field(d, obj, "instance_size", o->instance_size, sizeof o->instance_size);
	md_json_int(d, md_json_get(d, obj, "flock_size"), &o->flock_size);
	md_json_int(d, md_json_get(d, obj, "cooldown_seconds"), &o->cooldown_seconds);
}

static int parse_ducklings(const md_json *d, int obj, md_ducklings *out, const char *what,
			   md_error *err)
{
	int rw = md_json_get(d, obj, "read_write"), rs = md_json_get(d, obj, "read_scaling");
	if (md_json_type_of(d, rw) != MD_JSON_OBJECT || md_json_type_of(d, rs) != MD_JSON_OBJECT)
		return md_err_set(err, MD_EFAIL, "%s: the answer lacks read_write/read_scaling", what);
	parse_duckling(d, rw, &out->read_write);
	parse_duckling(d, rs, &out->read_scaling);
	return MD_OK;
}

static void write_duckling(md_jw *w, const md_duckling *d)
{
	md_jw_obj_begin(w);
	md_jw_key(w, "instance_size");
	md_jw_str(w, d->instance_size);
	if (d->flock_size >= 0) {
		md_jw_key(w, "flock_size");
		md_jw_int(w, d->flock_size);
	}
	if (d->cooldown_seconds >= 0) {
		md_jw_key(w, "cooldown_seconds");
		md_jw_int(w, d->cooldown_seconds);
	}
	md_jw_obj_end(w);
}

void md_api_ducklings_write(md_jw *w, const md_ducklings *d)
{
	md_jw_obj_begin(w);
	md_jw_key(w, "read_write");
	write_duckling(w, &d->read_write);
	md_jw_key(w, "read_scaling");
	write_duckling(w, &d->read_scaling);
	md_jw_obj_end(w);
}

static void fill_ducklings_put(md_jw *w, const void *arg)
{
	md_jw_obj_begin(w);
	md_jw_key(w, "config");
	md_api_ducklings_write(w, arg);
	md_jw_obj_end(w);
}

int md_api_ducklings_decode(const char *body, size_t len, md_ducklings *out, const char *what,
			    md_error *err)
{
	_cleanup_json_ md_json doc = {0};
	int rc = answer_doc(body, len, what, &doc, err);
	if (rc)
		return rc;
	/* Tolerate a server that echoes the PUT shape with its wrapper. */
	int cfg = md_json_get(&doc, 0, "config");
	rc = parse_ducklings(&doc, cfg >= 0 ? cfg : 0, out, what, err);
	return rc;
}

static int ducklings_call(md_http *h, const char *method, const char *username,
			  const md_ducklings *in, md_ducklings *out, const char *what, md_error *err)
{
	int rc = md_valid_username(username, err);
	if (rc)
		return rc;
	_cleanup_secret_ md_secret *path = user_path(username, "instances", NULL);
	_cleanup_secret_ md_secret *body = in ? json_body(fill_ducklings_put, in) : NULL;
	if (in && !body)
		return md_err_set(err, MD_EFAIL, "out of memory");
	_cleanup_resp_ md_http_resp r = {0};
	rc = api_call(h, method, path, body, what, &r, NULL, err);
	if (!rc)
		rc = md_api_ducklings_decode(md_secret_str(r.body), md_secret_len(r.body), out, what,
					     err);
	return account_missing(rc, what, username, err);
}

int md_api_ducklings_get(md_http *h, const char *username, md_ducklings *out, md_error *err)
{
	return ducklings_call(h, "GET", username, NULL, out, "ducklings get", err);
}

int md_api_ducklings_put(md_http *h, const char *username, const md_ducklings *in,
			 md_ducklings *out, md_error *err)
{
	return ducklings_call(h, "PUT", username, in, out, "ducklings set", err);
}

int md_api_active_accounts(md_http *h, md_secret **json, md_error *err)
{
	*json = NULL;
	_cleanup_secret_ md_secret *path = md_secret_new(32);
	if (!path || md_secret_append(path, "/v1/active_accounts", 19))
		return md_err_set(err, MD_EFAIL, "out of memory");
	_cleanup_resp_ md_http_resp r = {0};
	_cleanup_json_ md_json doc = {0};
	int rc = api_call(h, "GET", path, NULL, "active accounts", &r, &doc, err);
	if (!rc) {
		/* Written again, never passed on raw: control bytes escaped, and
		 * every string in plain form for the printer's redaction. */
		md_secret *out = md_secret_new(md_secret_len(r.body) + 64);
		md_jw w;
		md_jw_init(&w, out);
		if (!out || md_jw_value(&w, &doc, 0) < 0 || !md_jw_ok(&w)) {
			md_secret_free(out);
			rc = md_err_set(err, MD_EFAIL, "active accounts: the answer cannot be "
					"written out (a NUL in a string, or nested deeper than %d)",
					MD_JW_MAX_DEPTH);
		} else {
			*json = out;
		}
	}
	return rc;
}
