/* store_vault_auth.c - how the Vault store gets its client token.
 *
 * Owns: finding the credentials, first that applies: VAULT_TOKEN,
 * ~/.vault-token ($HOME), AppRole (VAULT_ROLE_ID + VAULT_SECRET_ID or
 * VAULT_SECRET_ID_FILE; mount VAULT_APPROLE_MOUNT, default "approle"),
 * Kubernetes auth (VAULT_K8S_ROLE + the pod's service-account JWT, path
 * VAULT_K8S_JWT_FILE, mount VAULT_K8S_MOUNT, default "kubernetes"); and the
 * login (POST /v1/auth/<mount>/login, sent on first use), whose
 * auth.client_token is kept for the store's life and shared: every store
 * at the same Vault address, namespace and auth mount reuses one login (a
 * login makes a token and a lease in Vault; a thousand roles must not make
 * a thousand), and a refused login is not tried again.
 *
 * Variables holding a credential are moved out of the environment (so a
 * command run by `exec` never inherits them) the first time any Vault store
 * is opened; the process keeps that one copy so later stores find it too.
 * Every credential is a watched md_secret.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/env.h"
#include "net/http.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"

#include "store/store_vault_int.h"

#define K8S_JWT_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount/token"
#define CRED_MAX 65536

typedef enum { AUTH_TOKEN, AUTH_APPROLE, AUTH_K8S } auth_kind;

struct md_vault_auth {
	auth_kind kind;
	char source[64];
	md_secret *token;     /* the client token: given, or from the login */
	md_secret *role_id;   /* AppRole */
	md_secret *secret_id; /* AppRole */
	char role[128];       /* Kubernetes role */
	char jwt_file[1024];  /* Kubernetes: read at login (projected tokens rotate) */
	char mount[128];      /* the auth method's mount */
};

/* Logins made so far, while any auth object lives. */
struct login_entry {
	char key[1400];        /* address, namespace header, method, mount, role */
	md_secret *token;      /* NULL: refused */
	md_error refused;
	SLIST_ENTRY(login_entry) link;
};
static pthread_mutex_t login_mx = PTHREAD_MUTEX_INITIALIZER;
static SLIST_HEAD(, login_entry) logins = SLIST_HEAD_INITIALIZER(logins);
static int auth_live;

/* Credentials taken from the environment, once per process. */
enum { ENV_TOKEN, ENV_ROLE_ID, ENV_SECRET_ID, ENV_N };
static const char *const env_names[ENV_N] = {"VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID"};
static md_secret *env_vals[ENV_N];
static bool env_taken[ENV_N];

/* A watched copy of s, or NULL when out of memory. */
static md_secret *secret_copy(const md_secret *s)
{
	md_secret *c = md_secret_new(md_secret_len(s));
	if (c && md_secret_set(c, md_secret_str(s), md_secret_len(s)) < 0)
		md_secret_freep(&c);
	if (c)
		md_secret_watch(c);
	return c;
}

/* A copy (watched) of the variable's value, or NULL when it is unset. */
static int env_secret(int which, md_secret **out, md_error *err)
{
	*out = NULL;
	if (!env_taken[which]) {
		int rc = md_secret_take_env(env_names[which], &env_vals[which], err);
		if (rc)
			return rc;
		env_taken[which] = true;
	}
	if (!env_vals[which])
		return MD_OK;
	if (!(*out = secret_copy(env_vals[which])))
		return md_err_set(err, MD_EFAIL, "out of memory");
	return MD_OK;
}

static int plain_word(const char *what, const char *v, char *out, size_t outsz, md_error *err)
{
	size_t n = strlen(v);
	if (n == 0 || n >= outsz)
		return md_err_set(err, MD_EUSAGE, "%s is empty or too long", what);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("-_./@", v[i]))
			return md_err_set(err, MD_EUSAGE, "%s '%.64s' is not a plain name", what, v);
	memcpy(out, v, n + 1);
	return MD_OK;
}


/* ~/.vault-token, if there is one. */
static int home_token(md_vault_auth *a, md_error *err)
{
	const char *home = md_env("HOME", NULL);
	if (!home)
		return MD_OK;
	char path[1100];
	if (snprintf(path, sizeof path, "%s/.vault-token", home) >= (int)sizeof path)
		return MD_OK;
	struct stat st;
	if (stat(path, &st) < 0 && errno == ENOENT)
		return MD_OK;
	int rc = md_secret_read_file(path, CRED_MAX, &a->token, err);
	if (rc)
		return rc;
	a->kind = AUTH_TOKEN;
	snprintf(a->source, sizeof a->source, "~/.vault-token");
	return MD_OK;
}

static int approle(md_vault_auth *a, md_error *err)
{
	int rc = env_secret(ENV_SECRET_ID, &a->secret_id, err);
	if (rc)
		return rc;
	const char *file = md_env("VAULT_SECRET_ID_FILE", NULL);
	if (!a->secret_id && file && (rc = md_secret_read_file(file, CRED_MAX, &a->secret_id, err))) {
		md_err_prefix(err, "VAULT_SECRET_ID_FILE");
		return rc;
	}
	if (!a->secret_id)
		return md_err_set(err, MD_EUSAGE, "vault: VAULT_ROLE_ID is set but neither "
				  "VAULT_SECRET_ID nor VAULT_SECRET_ID_FILE is (AppRole login needs "
				  "both)");
	a->kind = AUTH_APPROLE;
	snprintf(a->source, sizeof a->source, "AppRole login");
	return plain_word("VAULT_APPROLE_MOUNT", md_env("VAULT_APPROLE_MOUNT", "approle"),
			  a->mount, sizeof a->mount, err);
}

static int kubernetes(md_vault_auth *a, const char *role, md_error *err)
{
	int rc = plain_word("VAULT_K8S_ROLE", role, a->role, sizeof a->role, err);
	if (rc || (rc = plain_word("VAULT_K8S_MOUNT", md_env("VAULT_K8S_MOUNT", "kubernetes"),
				   a->mount, sizeof a->mount, err)))
		return rc;
	const char *jf = md_env("VAULT_K8S_JWT_FILE", K8S_JWT_DEFAULT);
	if (snprintf(a->jwt_file, sizeof a->jwt_file, "%s", jf) >= (int)sizeof a->jwt_file)
		return md_err_set(err, MD_EUSAGE, "VAULT_K8S_JWT_FILE is too long");
	if (access(jf, R_OK) < 0)
		return md_err_set(err, MD_EUSAGE, "vault: VAULT_K8S_ROLE is set but the "
				  "service-account token %.300s cannot be read: %s (not in a pod? "
				  "set VAULT_K8S_JWT_FILE)", jf, strerror(errno));
	a->kind = AUTH_K8S;
	snprintf(a->source, sizeof a->source, "Kubernetes login");
	return MD_OK;
}

static void logins_forget(void)
{
	struct login_entry *e;
	while ((e = SLIST_FIRST(&logins))) {
		SLIST_REMOVE_HEAD(&logins, link);
		md_secret_free(e->token);
		free(e);
	}
}

void md_vault_auth_free(md_vault_auth *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&login_mx);
	if (--auth_live == 0)
		logins_forget();
	pthread_mutex_unlock(&login_mx);
	md_secret_free(a->token);
	md_secret_free(a->role_id);
	md_secret_free(a->secret_id);
	free(a);
}

/* The first credential the environment offers, in Vault's own order. */
static int auth_choose(md_vault_auth *a, md_error *err)
{
	int rc = env_secret(ENV_TOKEN, &a->token, err);
	if (rc)
		return rc;
	if (a->token) {
		a->kind = AUTH_TOKEN;
		snprintf(a->source, sizeof a->source, "VAULT_TOKEN");
		return MD_OK;
	}
	if ((rc = home_token(a, err)) || a->token) /* ~/.vault-token */
		return rc;
	if ((rc = env_secret(ENV_ROLE_ID, &a->role_id, err)))
		return rc;
	if (a->role_id)
		return approle(a, err);
	const char *k8s_role = md_env("VAULT_K8S_ROLE", NULL);
	if (k8s_role)
		return kubernetes(a, k8s_role, err);
	return md_err_set(err, MD_EUSAGE, "vault: no credentials: set VAULT_TOKEN, write "
			  "~/.vault-token, set VAULT_ROLE_ID with VAULT_SECRET_ID or "
			  "VAULT_SECRET_ID_FILE (AppRole), or set VAULT_K8S_ROLE (Kubernetes auth)");
}

int md_vault_auth_new(md_vault_auth **out, md_error *err)
{
	*out = NULL;
	md_vault_auth *a = calloc(1, sizeof *a);
	if (!a)
		return md_err_set(err, MD_EFAIL, "out of memory");
	pthread_mutex_lock(&login_mx);
	auth_live++;
	pthread_mutex_unlock(&login_mx);
	int rc = auth_choose(a, err);
	if (rc) {
		md_vault_auth_free(a);
		return rc;
	}
	*out = a;
	return MD_OK;
}

const char *md_vault_auth_source(const md_vault_auth *a)
{
	return a->source;
}

static md_secret *login_body(const md_vault_auth *a, const md_secret *jwt)
{
	md_secret *b = md_secret_new(256 + (jwt ? md_secret_len(jwt) : 0));
	if (!b)
		return NULL;
	md_jw w;
	md_jw_init(&w, b);
	md_jw_obj_begin(&w);
	if (a->kind == AUTH_APPROLE) {
		md_jw_key(&w, "role_id");
		md_jw_strn(&w, md_secret_str(a->role_id), md_secret_len(a->role_id));
		md_jw_key(&w, "secret_id");
		md_jw_strn(&w, md_secret_str(a->secret_id), md_secret_len(a->secret_id));
	} else {
		md_jw_key(&w, "role");
		md_jw_str(&w, a->role);
		md_jw_key(&w, "jwt");
		md_jw_strn(&w, md_secret_str(jwt), md_secret_len(jwt));
	}
	md_jw_obj_end(&w);
	if (!md_jw_ok(&w)) {
		md_secret_free(b);
		return NULL;
	}
	return b;
}

static int login(md_vault_auth *a, const md_http_opts *o, md_error *err)
{
	char what[200];
	snprintf(what, sizeof what, "%s login at auth/%s",
		 a->kind == AUTH_APPROLE ? "AppRole" : "Kubernetes", a->mount);
	_cleanup_secret_ md_secret *jwt = NULL;
	int rc;
	if (a->kind == AUTH_K8S && (rc = md_secret_read_file(a->jwt_file, CRED_MAX, &jwt, err))) {
		md_err_prefix(err, "vault: %s: service-account token", what);
		return rc;
	}
	_cleanup_secret_ md_secret *body = login_body(a, jwt);
	_cleanup_secret_ md_secret *path = md_secret_new(64);
	if (!body || !path || md_secret_append(path, "/v1/auth/", 9) ||
	    md_http_path_segment(path, a->mount) || md_secret_append(path, "/login", 6))
		return md_err_set(err, MD_EFAIL, "out of memory");
	md_http *h = NULL;
	if ((rc = md_http_new(o, &h, err)))
		return rc;
	_cleanup_resp_ md_http_resp r = {0};
	rc = md_http_request(h, "POST", md_secret_str(path), body, MD_HTTP_ONCE, &r, err);
	md_http_free(h);
	if (rc) {
		md_err_prefix(err, "vault: %s", what);
		return rc;
	}
	if (r.status != 200) {
		rc = md_vault_error(&r, what, err);
		/* A refused login is an authentication failure, whatever its status. */
		if (rc == MD_EFAIL || rc == MD_ENOTFOUND) {
			rc = MD_EAUTH;
			if (err)
				err->code = MD_EAUTH;
		}
		if ((r.status == 404 || r.status == 403) && err) {
			size_t n = strlen(err->msg);
			snprintf(err->msg + n, sizeof err->msg - n, " (is the auth method enabled at "
				 "auth/%s, and the %s right?)", a->mount,
				 a->kind == AUTH_APPROLE ? "role_id/secret_id" : "role and its JWT");
		}
		return rc;
	}
	_cleanup_json_ md_json d = {0};
	a->token = md_secret_new(128);
	if (!a->token)
		return md_err_set(err, MD_EFAIL, "out of memory");
	rc = MD_OK;
	if (md_json_parse(&d, md_secret_str(r.body), md_secret_len(r.body), NULL) == 0) {
		int t = md_json_get(&d, md_json_get(&d, 0, "auth"), "client_token");
		if (md_json_str_secret(&d, t, a->token) < 0 || md_secret_len(a->token) == 0)
			rc = -1;
		md_secret_watch(a->token);
	} else {
		rc = -1;
	}
	if (rc) {
		md_secret_freep(&a->token);
		return md_err_set(err, MD_EFAIL, "vault: %s: the answer has no auth.client_token",
				  what);
	}
	md_log_debug("vault: %s succeeded", what);
	return MD_OK;
}

static struct login_entry *login_find(const char *key)
{
	struct login_entry *e;
	SLIST_FOREACH(e, &logins, link)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* Logs in, or takes the login another store at the same place made.
 * Called with login_mx held: concurrent stores wait for the one login. */
static int login_shared(md_vault_auth *a, const md_http_opts *o, md_error *err)
{
	char key[sizeof ((struct login_entry *)0)->key];
	int n = snprintf(key, sizeof key, "%s|%s|%d|%s|%s", o->base_url,
			 o->extra_header ? o->extra_header : "", (int)a->kind, a->mount, a->role);
	struct login_entry *e = n > 0 && (size_t)n < sizeof key ? login_find(key) : NULL;
	if (e && !e->token) {
		if (err)
			*err = e->refused;
		return e->refused.code;
	}
	if (e)
		return (a->token = secret_copy(e->token)) ? MD_OK
							  : md_err_set(err, MD_EFAIL, "out of memory");
	md_error mine = {0};
	int rc = login(a, o, &mine);
	if (err)
		*err = mine;
	if ((rc != MD_OK && rc != MD_EAUTH) || n <= 0 || (size_t)n >= sizeof key ||
	    !(e = calloc(1, sizeof *e)))
		return rc;
	memcpy(e->key, key, (size_t)n + 1);
	e->refused = mine;
	if (rc == MD_OK && !(e->token = secret_copy(a->token))) {
		free(e);
		return rc;
	}
	SLIST_INSERT_HEAD(&logins, e, link);
	return rc;
}

int md_vault_auth_token(md_vault_auth *a, const md_http_opts *o, const md_secret **tok,
			md_error *err)
{
	*tok = NULL;
	if (!a->token) {
		pthread_mutex_lock(&login_mx);
		int rc = login_shared(a, o, err);
		pthread_mutex_unlock(&login_mx);
		if (rc)
			return rc;
	}
	*tok = a->token;
	return MD_OK;
}
