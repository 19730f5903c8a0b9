/* store_k8s.c - a Kubernetes Secret as a token store (k8s://NAMESPACE/SECRET[?key=K]).
 *
 * Talks to the API server with the pod's service-account credentials:
 * token /var/run/secrets/kubernetes.io/serviceaccount/token, CA .../ca.crt,
 * server https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT_HTTPS.
 * MDCRED_K8S_API_URL, MDCRED_K8S_TOKEN_FILE and MDCRED_K8S_CA_FILE override
 * them (tests, out-of-cluster use). Timeout and retries follow
 * the tool's --timeout / --retries (md_store_opts, given at open).
 *
 * write: GET the Secret; absent -> POST it; present -> merge PATCH carrying
 * the resourceVersion read (the last md_store_read's, or the GET's), so a
 * change by another writer in between is a 409 -> MD_ECONFLICT. The token is
 * data[KEY] (base64, encoded and decoded here in secret memory); its
 * metadata goes into annotations mdcred.motherduck.com/{token-id,
 * token-name, token-type, expire-at, username}. A write whose answer was
 * lost (or a retried one that meets its own earlier success) is settled by
 * reading the Secret back: it is ours if it holds our token.
 */
#include "store/store_int.h"
#include "base/base64.h"
#include "base/env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/http.h"
#include "base/json.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define ANN "mdcred.motherduck.com/"

typedef struct {
	char ns[64];
	char name[254];
	char key[254];
	char url[300], cacert[512], tokfile[512];
	md_http *http;
	md_secret *sa_token; /* watched */
	/* What the last GET saw. */
	bool known, exists, immutable;
	char rv[64];
	md_store_opts transport; /* timeout, retries, multi: given at open */
} k8s_store;

/* ---- validation ---- */

/* DNS-1123 subdomain (max 253) or label (max 63, no dots). */
static bool dns1123(const char *s, size_t max, bool dots)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool an = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (an)
			continue;
		if (c != '-' && !(dots && c == '.'))
			return false;
		if (i == 0 || i == n - 1 || (dots && (s[i - 1] == '.' || s[i + 1] == '.')) ||
		    (c == '-' && s[i - 1] == '.'))
			return false;
	}
	return true;
}

static bool valid_key(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	return strspn(s, "-._abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == n;
}

static int on_query(void *ud, const char *k, const char *v, md_error *err)
{
	k8s_store *ks = ud;
	if (strcmp(k, "key") != 0)
		return md_err_set(err, MD_EUSAGE, "unknown option '%.64s' (k8s stores take key=)", k);
	if (!valid_key(v))
		return md_err_set(err, MD_EUSAGE, "key '%.64s' is not a valid Secret data key "
				  "(1 to 253 of a-z A-Z 0-9 - . _)", v);
	snprintf(ks->key, sizeof ks->key, "%s", v);
	return MD_OK;
}


/* ---- connection ---- */


/* Where the API server is and how to authenticate: from the environment,
 * at open, so a misconfiguration is a usage error before anything is sent. */
static int k8s_config(k8s_store *ks, md_error *err)
{
	const char *api = md_env("MDCRED_K8S_API_URL", NULL);
	const char *cacert = md_env("MDCRED_K8S_CA_FILE", NULL);
	if (api) {
		if (snprintf(ks->url, sizeof ks->url, "%s", api) >= (int)sizeof ks->url)
			return md_err_set(err, MD_EUSAGE, "MDCRED_K8S_API_URL is too long");
		/* Out of cluster: the in-cluster CA if there is one, else the system store. */
		if (!cacert && access(SA_DIR "/ca.crt", R_OK) == 0)
			cacert = SA_DIR "/ca.crt";
	} else {
		const char *host = md_env("KUBERNETES_SERVICE_HOST", NULL);
		const char *port = md_env("KUBERNETES_SERVICE_PORT_HTTPS",
					  md_env("KUBERNETES_SERVICE_PORT", "443"));
		if (!host)
			return md_err_set(err, MD_EUSAGE, "not in a Kubernetes pod: "
					  "KUBERNETES_SERVICE_HOST is unset (set MDCRED_K8S_API_URL, "
					  "MDCRED_K8S_TOKEN_FILE and MDCRED_K8S_CA_FILE to use a "
					  "cluster from outside)");
		bool v6 = strchr(host, ':') != NULL && host[0] != '[';
		if (strspn(port, "0123456789") != strlen(port) ||
		    snprintf(ks->url, sizeof ks->url, "https://%s%s%s:%s", v6 ? "[" : "", host,
			     v6 ? "]" : "", port) >= (int)sizeof ks->url)
			return md_err_set(err, MD_EUSAGE, "KUBERNETES_SERVICE_HOST and "
					  "KUBERNETES_SERVICE_PORT_HTTPS do not make a URL");
		if (!cacert)
			cacert = SA_DIR "/ca.crt";
	}
	int rc = md_http_check_url(ks->url, err);
	if (rc) {
		md_err_prefix(err, "Kubernetes API");
		return rc;
	}
	if (cacert && snprintf(ks->cacert, sizeof ks->cacert, "%s", cacert) >= (int)sizeof ks->cacert)
		return md_err_set(err, MD_EUSAGE, "MDCRED_K8S_CA_FILE is too long");
	const char *tokfile = md_env("MDCRED_K8S_TOKEN_FILE", SA_DIR "/token");
	if (snprintf(ks->tokfile, sizeof ks->tokfile, "%s", tokfile) >= (int)sizeof ks->tokfile)
		return md_err_set(err, MD_EUSAGE, "MDCRED_K8S_TOKEN_FILE is too long");
	if (access(tokfile, R_OK) != 0)
		return md_err_set(err, MD_EUSAGE, "cannot read the service-account token %.300s "
				  "(MDCRED_K8S_TOKEN_FILE): %s", tokfile, strerror(errno));
	return MD_OK;
}

static int k8s_connect(k8s_store *ks, md_error *err)
{
	if (ks->http)
		return MD_OK;
	int rc = md_secret_read_file(ks->tokfile, 64 * 1024, &ks->sa_token, err);
	if (rc) {
		md_err_prefix(err, "service-account token");
		return rc;
	}
	md_http_opts o = {
		.base_url = ks->url,
		.cacert = ks->cacert[0] ? ks->cacert : NULL,
		.timeout_secs = ks->transport.timeout_secs,
		.retries = ks->transport.retries,
		.bearer = ks->sa_token,
		.multi = ks->transport.multi,
	};
	rc = md_http_new(&o, &ks->http, err);
	if (rc)
		md_err_prefix(err, "Kubernetes API");
	return rc;
}

static md_secret *secret_path(const k8s_store *ks, bool with_name)
{
	md_secret *p = md_secret_new(128);
	if (!p)
		return NULL;
	md_secret_append(p, "/api/v1/namespaces/", 19);
	md_http_path_segment(p, ks->ns);
	md_secret_append(p, "/secrets", 8);
	if (with_name) {
		md_secret_append(p, "/", 1);
		md_http_path_segment(p, ks->name);
	}
	return p;
}

/* A transport failure: says which CA was used when TLS verification failed. */
static int k8s_transport_error(const k8s_store *ks, int rc, md_error *err)
{
	if (err && err->cause == MD_CAUSE_TLS) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof err->msg - n, " (CA bundle: %s; set MDCRED_K8S_CA_FILE)",
			 ks->cacert[0] ? ks->cacert : "the system store");
	}
	return rc;
}

static int immutable_error(const k8s_store *ks, md_error *err)
{
	return md_err_set(err, MD_EFAIL, "secret %s/%s is immutable: Kubernetes refuses any change "
			  "to its data; delete it (or name another Secret) and push again", ks->ns,
			  ks->name);
}

/* One line from an error answer: the Status object's message (and reason). */
static int k8s_error(const k8s_store *ks, const md_http_resp *r, const char *verb, md_error *err)
{
	/* The message whole, in secret memory: cut only after redaction. */
	_cleanup_secret_ md_secret *msg = md_secret_new(512);
	char reason[64] = "";
	_cleanup_json_ md_json d = {0};
	if (msg && md_json_parse(&d, md_secret_str(r->body), md_secret_len(r->body), NULL) == MD_OK) {
		md_json_str_secret(&d, md_json_get(&d, 0, "message"), msg);
		if (md_json_str(&d, md_json_get(&d, 0, "reason"), reason, sizeof reason) < 0)
			reason[0] = '\0';
	}
	if (msg && !md_secret_len(msg))
		md_secret_appendf(msg, "%s", r->status == 404 ? "no such route (is "
				  "MDCRED_K8S_API_URL a Kubernetes API server?)" : "no error details");
	long s = r->status;
	md_code c = s == 401 || s == 403 ? MD_EAUTH : s == 404 ? MD_ENOTFOUND
		    : s == 409 ? MD_ECONFLICT : s == 429 || s >= 500 ? MD_ETRANSIENT : MD_EFAIL;
	const char *hint = "";
	if (s == 401)
		hint = " - the service-account token was rejected (invalid or expired)";
	else if (s == 403)
		hint = " - the service account needs get, create and patch on secrets in this "
		       "namespace (RBAC)";
	else if (s == 409 && strcmp(reason, "AlreadyExists") != 0)
		hint = " - the Secret was changed by someone else since it was read; nothing was "
		       "written";
	else if (s == 409)
		hint = " - the Secret was created by someone else meanwhile; nothing was written";
	else if (s == 422 && msg && strstr(md_secret_str(msg), "immutable"))
		/* Kubernetes says so only in words (a field error on "data"). */
		return immutable_error(ks, err);
	md_err_set(err, c, "%s secret %s/%s: HTTP %ld %s: %s%s", verb, ks->ns, ks->name, s,
		   reason[0] ? reason : "error", md_secret_str(msg), hint);
	if (err)
		err->http_status = (int)s;
	return c;
}

static void ann_get(const md_json *d, int ann, const char *name, char *out, size_t outsz)
{
	char k[96];
	snprintf(k, sizeof k, ANN "%s", name);
	if (md_json_str(d, md_json_get(d, ann, k), out, outsz) < 0)
		out[0] = '\0';
}

/* GETs the Secret: records existence, resourceVersion and immutability in
 * ks; fills v (if non-NULL) with the token and its metadata. */
static int k8s_get(k8s_store *ks, md_store_value *v, md_error *err)
{
	int rc = k8s_connect(ks, err);
	if (rc)
		return rc;
	_cleanup_secret_ md_secret *path = secret_path(ks, true);
	if (!path)
		return md_err_set(err, MD_EFAIL, "out of memory");
	_cleanup_resp_ md_http_resp r = {0};
	rc = md_http_request(ks->http, "GET", md_secret_str(path), NULL, MD_HTTP_IDEMPOTENT, &r, err);
	if (rc)
		return k8s_transport_error(ks, rc, err);
	if (r.status == 404) {
		_cleanup_json_ md_json d = {0};
		char kind[32] = "";
		if (md_json_parse(&d, md_secret_str(r.body), md_secret_len(r.body), NULL) == MD_OK) {
			md_json_str(&d, md_json_get(&d, 0, "kind"), kind, sizeof kind);
		}
		if (strcmp(kind, "Status") == 0) {
			ks->known = true;
			ks->exists = ks->immutable = false;
			ks->rv[0] = '\0';
			return MD_OK;
		}
	}
	if (r.status != 200) {
		rc = k8s_error(ks, &r, "get", err);
		return rc;
	}
	_cleanup_json_ md_json d = {0};
	if (md_json_parse(&d, md_secret_str(r.body), md_secret_len(r.body), NULL) ||
	    md_json_type_of(&d, 0) != MD_JSON_OBJECT) {
		return md_err_set(err, MD_EFAIL, "get secret %s/%s: the answer is not a JSON object",
				  ks->ns, ks->name);
	}
	int meta = md_json_get(&d, 0, "metadata");
	char rv[64];
	if (md_json_str(&d, md_json_get(&d, meta, "resourceVersion"), rv, sizeof rv) <= 0) {
		return md_err_set(err, MD_EFAIL, "get secret %s/%s: the answer has no "
				  "metadata.resourceVersion", ks->ns, ks->name);
	}
	ks->known = ks->exists = true;
	ks->immutable = false;
	md_json_bool(&d, md_json_get(&d, 0, "immutable"), &ks->immutable);
	snprintf(ks->rv, sizeof ks->rv, "%s", rv);
	rc = MD_OK;
	if (v) {
		if (strspn(rv, "0123456789") == strlen(rv) && strlen(rv) < 19)
			v->version = strtoll(rv, NULL, 10);
		int ann = md_json_get(&d, meta, "annotations");
		ann_get(&d, ann, "token-id", v->meta.id, sizeof v->meta.id);
		ann_get(&d, ann, "token-name", v->meta.name, sizeof v->meta.name);
		ann_get(&d, ann, "token-type", v->meta.token_type, sizeof v->meta.token_type);
		ann_get(&d, ann, "expire-at", v->meta.expire_at, sizeof v->meta.expire_at);
		int val = md_json_get(&d, md_json_get(&d, 0, "data"), ks->key);
		if (val >= 0) {
			_cleanup_secret_ md_secret *b64 = md_secret_new(256);
			md_secret *tok = md_secret_new(256);
			if (!b64 || !tok || md_json_str_secret(&d, val, b64) < 0 ||
			    md_b64_decode(tok, md_secret_str(b64), md_secret_len(b64)) < 0) {
				md_secret_free(tok);
				rc = md_err_set(err, MD_EFAIL, "secret %s/%s: data[%s] is not valid "
						"base64", ks->ns, ks->name, ks->key);
			} else {
				md_secret_watch(tok);
				v->token = tok;
			}
		}
	}
	return rc;
}

/* After an answer was lost or a retried write met itself: does the Secret
 * now hold exactly our token? */
static bool holds_ours(k8s_store *ks, const md_token *t)
{
	md_store_value v = {.version = -1};
	bool ours = k8s_get(ks, &v, NULL) == MD_OK && v.token &&
		    md_secret_eq(v.token, t->secret) && strcmp(v.meta.id, t->meta.id) == 0;
	md_store_value_clear(&v);
	return ours;
}

static void write_annotations(md_jw *w, const md_token *t, const char *username)
{
	md_jw_key(w, "annotations");
	md_jw_obj_begin(w);
	md_jw_key(w, ANN "token-id");
	md_jw_str(w, t->meta.id);
	md_jw_key(w, ANN "token-name");
	md_jw_str(w, t->meta.name);
	md_jw_key(w, ANN "token-type");
	md_jw_str(w, t->meta.token_type);
	md_jw_key(w, ANN "expire-at"); /* "" when it never expires */
	md_jw_str(w, t->meta.expire_at);
	md_jw_key(w, ANN "username");
	md_jw_str(w, username);
	md_jw_obj_end(w);
}

static int k8s_write(md_store *st, const md_token *t, const char *username, bool *maybe_written,
		     md_error *err)
{
	k8s_store *ks = st->impl;
	if (!t->secret || md_secret_len(t->secret) == 0)
		return md_err_set(err, MD_EUSAGE, "no token to write");
	int rc = ks->known ? MD_OK : k8s_get(ks, NULL, err);
	if (rc)
		return rc;
	if (ks->exists && ks->immutable)
		return immutable_error(ks, err);
	_cleanup_secret_ md_secret *b64 = md_secret_new(2 * md_secret_len(t->secret) + 8);
	_cleanup_secret_ md_secret *body = md_secret_new(1024);
	_cleanup_secret_ md_secret *path = secret_path(ks, ks->exists);
	if (!b64 || !body || !path ||
	    md_b64_encode(b64, md_secret_str(t->secret), md_secret_len(t->secret), true) < 0)
		return md_err_set(err, MD_EFAIL, "out of memory");
	md_secret_watch(b64);
	md_jw w;
	md_jw_init(&w, body);
	md_jw_obj_begin(&w);
	if (!ks->exists) {
		md_jw_key(&w, "apiVersion");
		md_jw_str(&w, "v1");
		md_jw_key(&w, "kind");
		md_jw_str(&w, "Secret");
	}
	md_jw_key(&w, "metadata");
	md_jw_obj_begin(&w);
	md_jw_key(&w, ks->exists ? "resourceVersion" : "name");
	md_jw_str(&w, ks->exists ? ks->rv : ks->name);
	write_annotations(&w, t, username);
	md_jw_obj_end(&w);
	if (!ks->exists) {
		md_jw_key(&w, "type");
		md_jw_str(&w, "Opaque");
	}
	md_jw_key(&w, "data");
	md_jw_obj_begin(&w);
	md_jw_key(&w, ks->key);
	md_jw_strn(&w, md_secret_str(b64), md_secret_len(b64));
	md_jw_obj_end(&w);
	md_jw_obj_end(&w);
	if (!md_jw_ok(&w))
		return md_err_set(err, MD_EFAIL, "out of memory");

	const char *verb = ks->exists ? "patch" : "create";
	_cleanup_resp_ md_http_resp r = {0};
	rc = md_http_request_typed(ks->http, ks->exists ? "PATCH" : "POST", md_secret_str(path), body,
				   ks->exists ? "application/merge-patch+json" : NULL, MD_HTTP_ONCE,
				   &r, err);
	long s = r.status;
	/* Did our write perhaps happen anyway? An answer lost after sending, a
	 * 5xx, or a 409 that may be our own earlier attempt meeting itself
	 * (libcurl silently resends a request whose reused connection died
	 * without an answer). The new token is unique: if the Secret holds it,
	 * the write was ours. */
	bool maybe = rc ? r.maybe_sent : s == 409 || (s >= 500 && s != 501);
	*maybe_written = maybe;
	ks->known = false; /* whatever happened, the next write reads afresh */
	if (rc == MD_OK && (s == 200 || s == 201)) {
		_cleanup_json_ md_json d = {0};
		char rv[64];
		if (md_json_parse(&d, md_secret_str(r.body), md_secret_len(r.body), NULL) == MD_OK) {
			if (md_json_str(&d, md_json_get(&d, md_json_get(&d, 0, "metadata"),
							"resourceVersion"), rv, sizeof rv) > 0) {
				snprintf(ks->rv, sizeof ks->rv, "%s", rv);
				ks->known = ks->exists = true;
				ks->immutable = false;
			}
		}
	} else if (maybe && holds_ours(ks, t)) {
		md_err_clear(err);
		rc = MD_OK;
	} else if (rc == MD_OK) {
		rc = k8s_error(ks, &r, verb, err);
	} else {
		k8s_transport_error(ks, rc, err);
		md_err_prefix(err, "%s secret %s/%s", verb, ks->ns, ks->name);
	}
	return rc;
}

static int k8s_read(md_store *st, md_store_value *v, md_error *err)
{
	return k8s_get(st->impl, v, err);
}

static void k8s_free(md_store *st)
{
	k8s_store *ks = st->impl;
	if (!ks)
		return;
	md_http_free(ks->http);
	md_secret_free(ks->sa_token);
	free(ks);
	st->impl = NULL;
}

static const struct md_store_ops k8s_ops = {k8s_write, k8s_read, NULL, k8s_free};

int md_store_k8s_open(const md_uri *u, const md_store_opts *o, md_store *st, md_error *err)
{
	const char *name = u->path[0] == '/' ? u->path + 1 : "";
	if (u->port[0] || !u->host[0] || !name[0] || strchr(name, '/'))
		return md_err_set(err, MD_EUSAGE, "expected k8s://NAMESPACE/SECRET[?key=KEY]");
	if (!dns1123(u->host, 63, false))
		return md_err_set(err, MD_EUSAGE, "namespace '%.64s' is not a valid DNS-1123 label "
				  "(1 to 63 of a-z 0-9 '-', starting and ending alphanumeric)",
				  u->host);
	if (!dns1123(name, 253, true))
		return md_err_set(err, MD_EUSAGE, "secret name '%.64s' is not a valid DNS-1123 "
				  "subdomain (1 to 253 of a-z 0-9 '-' '.', starting and ending "
				  "alphanumeric)", name);
	k8s_store *ks = calloc(1, sizeof *ks);
	if (!ks)
		return md_err_set(err, MD_EFAIL, "out of memory");
	snprintf(ks->key, sizeof ks->key, "MOTHERDUCK_TOKEN");
	ks->transport = *o;
	snprintf(ks->ns, sizeof ks->ns, "%s", u->host);
	snprintf(ks->name, sizeof ks->name, "%s", name);
	int rc = md_uri_query_each(u->query, on_query, ks, err);
	if (!rc)
		rc = k8s_config(ks, err);
	if (rc) {
		free(ks);
		return rc;
	}
	snprintf(st->ident, sizeof st->ident, "k8s:%s|%s/%s", ks->url, ks->ns, ks->name);
	st->ops = &k8s_ops;
	st->impl = ks;
	return MD_OK;
}
