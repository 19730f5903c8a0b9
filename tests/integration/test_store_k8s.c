/* test_store_k8s.c - k8s:// stores against tests/fakes/fake_k8s.py over real TLS.
 *
 * The fake's service-account token is a test secret like any other: it is
 * kept under requested/ and appended to tokens.record, so the leak scan
 * searches every file of the run for it.
 */
#include "harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"

static pid_t fake_pid;
static char fake_url[256];
static char cert[1200], key[1200], other_cert[1200], other_key[1200];
static char sa_file[1200], wrong_file[1200];
static char env_url[1400], env_tok[1400], env_ca[1400];

#define SECRET_PATH "/api/v1/namespaces/team-a/secrets/md-token"

static void record_token(const char *path, const char *prefix)
{
	ck_assert(h_make_credential(path, prefix, NULL, 0) == 0);
}

static void make_cert(const char *c, const char *k)
{
	ck_assert_msg(h_make_cert(c, k) == 0, "openssl could not make a certificate");
}

static void fake_start(void)
{
	snprintf(cert, sizeof cert, "%s", h_path(false, "k8s-cert.pem"));
	snprintf(key, sizeof key, "%s", h_path(true, "k8s-key.pem"));
	snprintf(other_cert, sizeof other_cert, "%s", h_path(false, "k8s-other-ca.pem"));
	snprintf(other_key, sizeof other_key, "%s", h_path(true, "k8s-other-key.pem"));
	snprintf(sa_file, sizeof sa_file, "%s", h_path(true, "k8s-sa.token"));
	snprintf(wrong_file, sizeof wrong_file, "%s", h_path(true, "k8s-wrong.token"));
	make_cert(cert, key);
	make_cert(other_cert, other_key);
	record_token(sa_file, "k8s-sa-");
	record_token(wrong_file, "k8s-wrong-");

	const char *fake = getenv("FAKE_K8S");
	const char *argv[] = {h_python(), fake && *fake ? fake : "tests/fakes/fake_k8s.py",
			      "--tls-cert", cert, "--tls-key", key, "--token-file", sa_file,
			      "--namespace", "team-a", "--namespace", "team-b", "--namespace",
			      "locked", "--deny", "locked", NULL};
	fake_pid = h_spawn_server(argv, "fake_k8s.log", fake_url, sizeof fake_url);
	ck_assert_msg(fake_pid > 0, "fake_k8s.py did not start (see fake_k8s.log)");
	ck_assert(strncmp(fake_url, "https://127.0.0.1:", 18) == 0);
	snprintf(env_url, sizeof env_url, "MDCRED_K8S_API_URL=%s", fake_url);
	snprintf(env_tok, sizeof env_tok, "MDCRED_K8S_TOKEN_FILE=%s", sa_file);
	snprintf(env_ca, sizeof env_ca, "MDCRED_K8S_CA_FILE=%s", cert);
}

static void fake_stop(void)
{
	h_stop_server(&fake_pid);
}

/* ---- talking to the fake directly ---- */

/* method path on the fake; with_auth sends the SA token. Returns the status. */
static long fake_call(const char *method, const char *path, const char *ctype, const char *body,
		      bool with_auth, md_secret *out)
{
	_cleanup_secret_ md_secret *auth = NULL;
	_cleanup_secret_ md_secret *sink = md_secret_new(1024);
	if (with_auth) {
		_cleanup_secret_ md_secret *tok = NULL;
		ck_assert(md_secret_read_file(sa_file, 4096, &tok, NULL) == 0);
		auth = md_secret_new(256);
		md_secret_appendf(auth, "Authorization: Bearer %s", md_secret_str(tok));
	}
	h_http_target t = {fake_url, cert, ctype, auth};
	return h_http(&t, method, path, body, out ? out : sink);
}

static void fake_reset(void)
{
	ck_assert_int_eq(fake_call("POST", "/_fake/reset", NULL, "{}", false, NULL), 200);
}

static void fake_fault(const char *json)
{
	ck_assert_int_eq(fake_call("POST", "/_fake/faults", NULL, json, false, NULL), 200);
}

typedef struct {
	md_secret *buf;
	md_json doc;
} fake_state;

static void state_get(fake_state *s)
{
	s->buf = md_secret_new(1 << 16);
	ck_assert_int_eq(fake_call("GET", "/_fake/state", NULL, NULL, false, s->buf), 200);
	ck_assert_int_eq(md_json_parse(&s->doc, md_secret_str(s->buf), md_secret_len(s->buf), NULL),
			 0);
}

static void state_free(fake_state *s)
{
	md_json_free(&s->doc);
	md_secret_free(s->buf);
}

/* The state's entry for ns/name, or -1. */
static int state_secret(fake_state *s, const char *ns, const char *name)
{
	int arr = md_json_get(&s->doc, 0, "secrets");
	for (int i = 0; i < md_json_count(&s->doc, arr); i++) {
		int e = md_json_at(&s->doc, arr, i);
		char n1[128], n2[300];
		md_json_str(&s->doc, md_json_get(&s->doc, e, "namespace"), n1, sizeof n1);
		md_json_str(&s->doc, md_json_get(&s->doc, e, "name"), n2, sizeof n2);
		if (strcmp(n1, ns) == 0 && strcmp(n2, name) == 0)
			return e;
	}
	return -1;
}

static long long secret_rv(const char *ns, const char *name)
{
	fake_state s;
	state_get(&s);
	char rv[32] = "";
	md_json_str(&s.doc, md_json_get(&s.doc, state_secret(&s, ns, name), "resourceVersion"), rv,
		    sizeof rv);
	state_free(&s);
	return rv[0] ? atoll(rv) : -1;
}

static void secret_annotation(const char *ns, const char *name, const char *ann, char *out,
			      size_t outsz)
{
	fake_state s;
	state_get(&s);
	int e = state_secret(&s, ns, name);
	out[0] = '\0';
	md_json_str(&s.doc, md_json_get(&s.doc, md_json_get(&s.doc, e, "annotations"), ann), out,
		    outsz);
	state_free(&s);
}

static int fake_request_count(void)
{
	fake_state s;
	state_get(&s);
	long long n = -1;
	md_json_int(&s.doc, md_json_get(&s.doc, 0, "request_count"), &n);
	state_free(&s);
	return (int)n;
}

/* i-th request's method, status and content type. */
static long request_at(int i, char *method, size_t msz, char *ctype, size_t csz)
{
	fake_state s;
	state_get(&s);
	int e = md_json_at(&s.doc, md_json_get(&s.doc, 0, "requests"), i);
	long long st = -1;
	md_json_int(&s.doc, md_json_get(&s.doc, e, "status"), &st);
	md_json_str(&s.doc, md_json_get(&s.doc, e, "method"), method, msz);
	if (ctype)
		md_json_str(&s.doc, md_json_get(&s.doc, e, "content_type"), ctype, csz);
	state_free(&s);
	return (long)st;
}

/* ---- running mdcred with the k8s environment ---- */

#define K8S_ENV(extra) {env_url, env_tok, env_ca, "MDCRED_RETRIES=1", extra, NULL}

static void push(h_result *r, const char *extra_env, const char *user, const char *s1,
		 const char *s2)
{
	const char *env[] = K8S_ENV(extra_env);
	if (s2)
		h_run(r, 0, NULL, env, "push", user, "--store", s1, "--store", s2, NULL);
	else
		h_run(r, 0, NULL, env, "push", user, "--store", s1, NULL);
}

/* The token and id a file:// store in json format holds. */
static md_secret *file_token(const char *name, char *id, size_t idsz)
{
	_cleanup_secret_ md_secret *raw = NULL;
	ck_assert(md_file_read_secret(h_path(true, name), 1 << 16, &raw, NULL) == 0);
	md_json d;
	ck_assert(md_json_parse(&d, md_secret_str(raw), md_secret_len(raw), NULL) == 0);
	md_secret *tok = md_secret_new(256);
	ck_assert(md_json_str_secret(&d, md_json_get(&d, 0, "token"), tok) == 0);
	if (id)
		md_json_str(&d, md_json_get(&d, 0, "id"), id, idsz);
	md_json_free(&d);
	md_secret_watch(tok);
	return tok;
}

/* Neither the token nor the service-account token is in r's output. */
static void assert_quiet(const h_result *r, const md_secret *tok)
{
	_cleanup_secret_ md_secret *sa = NULL;
	ck_assert(md_file_read_secret(sa_file, 4096, &sa, NULL) == 0);
	ck_assert_msg(!h_contains(r->out, md_secret_str(sa)) && !h_contains(r->err, md_secret_str(sa)),
		      "the service-account token was printed");
	if (tok)
		ck_assert_msg(!h_contains(r->out, md_secret_str(tok)) &&
				      !h_contains(r->err, md_secret_str(tok)),
			      "the token was printed");
}

static const char *file_store(const char *name)
{
	static char uri[1300];
	snprintf(uri, sizeof uri, "file://%s?format=json", h_path(true, name));
	return uri;
}

/* ---- tests ---- */

START_TEST(push_creates_secret)
{
	h_make_account("svc_k8s_create");
	h_result r;
	push(&r, NULL, "svc_k8s_create", "k8s://team-a/md-token", file_store("create.json"));
	ck_assert_exit(r, 0);
	char id[80];
	_cleanup_secret_ md_secret *tok = file_token("create.json", id, sizeof id);
	assert_quiet(&r, tok);
	h_result_free(&r);

	fake_state s;
	state_get(&s);
	int e = state_secret(&s, "team-a", "md-token");
	ck_assert_int_ge(e, 0);
	char buf[300];
	md_json_str(&s.doc, md_json_at(&s.doc, md_json_get(&s.doc, e, "keys"), 0), buf, sizeof buf);
	ck_assert_str_eq(buf, "MOTHERDUCK_TOKEN");
	md_json_str(&s.doc, md_json_get(&s.doc, e, "type"), buf, sizeof buf);
	ck_assert_str_eq(buf, "Opaque");
	int ann = md_json_get(&s.doc, e, "annotations");
	md_json_str(&s.doc, md_json_get(&s.doc, ann, "mdcred.motherduck.com/token-id"), buf,
		    sizeof buf);
	ck_assert_str_eq(buf, id);
	md_json_str(&s.doc, md_json_get(&s.doc, ann, "mdcred.motherduck.com/token-type"), buf,
		    sizeof buf);
	ck_assert_str_eq(buf, "read_write");
	md_json_str(&s.doc, md_json_get(&s.doc, ann, "mdcred.motherduck.com/username"), buf,
		    sizeof buf);
	ck_assert_str_eq(buf, "svc_k8s_create");
	ck_assert_int_gt(md_json_str(&s.doc, md_json_get(&s.doc, ann,
							 "mdcred.motherduck.com/expire-at"),
				     buf, sizeof buf), 0);
	ck_assert_int_gt(md_json_str(&s.doc, md_json_get(&s.doc, ann,
							 "mdcred.motherduck.com/token-name"),
				     buf, sizeof buf), 0);
	/* The state never shows a value, and the fake's state holds no token. */
	ck_assert(!h_contains(s.buf, md_secret_str(tok)));
	state_free(&s);

	/* GET 404, POST 201 (application/json), read back GET 200. */
	char m[16], ct[96];
	ck_assert_int_eq(request_at(0, m, sizeof m, NULL, 0), 404);
	ck_assert_str_eq(m, "GET");
	ck_assert_int_eq(request_at(1, m, sizeof m, ct, sizeof ct), 201);
	ck_assert_str_eq(m, "POST");
	ck_assert_str_eq(ct, "application/json");
	ck_assert_int_eq(request_at(2, m, sizeof m, NULL, 0), 200);
	ck_assert_str_eq(m, "GET");
	ck_assert_int_eq(fake_request_count(), 3);
	ck_assert_int_eq(h_live_tokens("svc_k8s_create"), 1);
}
END_TEST

START_TEST(second_push_patches_and_exec_reads_it)
{
	h_make_account("svc_k8s_patch");
	h_result r;
	push(&r, NULL, "svc_k8s_patch", "k8s://team-a/md-token", file_store("p1.json"));
	ck_assert_exit(r, 0);
	h_result_free(&r);
	long long rv1 = secret_rv("team-a", "md-token");
	int before = fake_request_count();

	push(&r, NULL, "svc_k8s_patch", "k8s://team-a/md-token", file_store("p2.json"));
	ck_assert_exit(r, 0);
	char id[80], ann[128];
	_cleanup_secret_ md_secret *tok = file_token("p2.json", id, sizeof id);
	assert_quiet(&r, tok);
	h_result_free(&r);
	ck_assert_int_gt(secret_rv("team-a", "md-token"), rv1);
	secret_annotation("team-a", "md-token", "mdcred.motherduck.com/token-id", ann, sizeof ann);
	ck_assert_str_eq(ann, id);
	char m[16], ct[96];
	ck_assert_int_eq(request_at(before + 1, m, sizeof m, ct, sizeof ct), 200);
	ck_assert_str_eq(m, "PATCH");
	ck_assert_str_eq(ct, "application/merge-patch+json");

	/* exec --from the Secret hands over the very token the file store holds. */
	char cmd[1400];
	snprintf(cmd, sizeof cmd, "printf %%s \"$MOTHERDUCK_TOKEN\" > '%s'", h_path(true, "p-tok"));
	const char *env[] = K8S_ENV(NULL);
	h_run(&r, 0, NULL, env, "exec", "--from", "k8s://team-a/md-token", "svc_k8s_patch", "--",
	      "sh", "-c", cmd, NULL);
	ck_assert_exit(r, 0);
	assert_quiet(&r, tok);
	h_result_free(&r);
	_cleanup_secret_ md_secret *got = NULL;
	ck_assert(md_file_read_secret(h_path(true, "p-tok"), 4096, &got, NULL) == 0);
	ck_assert(md_secret_eq(got, tok));
}
END_TEST

START_TEST(custom_key)
{
	h_make_account("svc_k8s_key");
	h_result r;
	push(&r, NULL, "svc_k8s_key", "k8s://team-b/db.creds?key=md_token.v1",
	     file_store("key.json"));
	ck_assert_exit(r, 0);
	h_result_free(&r);
	_cleanup_secret_ md_secret *tok = file_token("key.json", NULL, 0);
	fake_state s;
	state_get(&s);
	char k[64];
	md_json_str(&s.doc, md_json_at(&s.doc, md_json_get(&s.doc, state_secret(&s, "team-b",
										 "db.creds"),
							   "keys"), 0), k, sizeof k);
	state_free(&s);
	ck_assert_str_eq(k, "md_token.v1");
	char cmd[1400];
	snprintf(cmd, sizeof cmd, "printf %%s \"$MOTHERDUCK_TOKEN\" > '%s'", h_path(true, "k-tok"));
	const char *env[] = K8S_ENV(NULL);
	h_run(&r, 0, NULL, env, "exec", "--from", "k8s://team-b/db.creds?key=md_token.v1",
	      "svc_k8s_key", "--", "sh", "-c", cmd, NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	_cleanup_secret_ md_secret *got = NULL;
	ck_assert(md_file_read_secret(h_path(true, "k-tok"), 4096, &got, NULL) == 0);
	ck_assert(md_secret_eq(got, tok));
	/* Another key of the same Secret holds nothing: exec --from says not found. */
	h_run(&r, 0, NULL, env, "exec", "--from", "k8s://team-b/db.creds", "svc_k8s_key", "--",
	      "true", NULL);
	ck_assert_exit(r, 4);
	h_result_free(&r);
}
END_TEST

START_TEST(stale_resource_version_conflict)
{
	h_make_account("svc_k8s_conflict");
	h_result r;
	push(&r, NULL, "svc_k8s_conflict", "k8s://team-a/md-token", file_store("c1.json"));
	ck_assert_exit(r, 0);
	h_result_free(&r);
	char id1[80], ann[128];
	_cleanup_secret_ md_secret *t1 = file_token("c1.json", id1, sizeof id1);
	long long rv1 = secret_rv("team-a", "md-token");

	/* Another writer changes the Secret between our GET and our PATCH. */
	fake_fault("{\"method\":\"PATCH\",\"path\":\"" SECRET_PATH "\",\"action\":\"bump\"}");
	push(&r, NULL, "svc_k8s_conflict", "k8s://team-a/md-token", NULL);
	ck_assert_exit(r, 7);
	ck_assert(h_contains(r.err, "409"));
	ck_assert(h_contains(r.err, "changed by someone else"));
	ck_assert(h_contains(r.err, "k8s://team-a/md-token"));
	assert_quiet(&r, t1);
	h_result_free(&r);
	/* The other writer's change stands, our token was revoked: not orphaned. */
	ck_assert_int_eq(secret_rv("team-a", "md-token"), rv1 + 1);
	secret_annotation("team-a", "md-token", "fake.k8s.io/bumped", ann, sizeof ann);
	ck_assert_str_eq(ann, "1");
	secret_annotation("team-a", "md-token", "mdcred.motherduck.com/token-id", ann, sizeof ann);
	ck_assert_str_eq(ann, id1);
	ck_assert_int_eq(h_live_tokens("svc_k8s_conflict"), 1);

	/* With a file store beside it: partial (8), the new token stays alive. */
	fake_fault("{\"method\":\"PATCH\",\"path\":\"" SECRET_PATH "\",\"action\":\"bump\"}");
	push(&r, NULL, "svc_k8s_conflict", "k8s://team-a/md-token", file_store("c2.json"));
	ck_assert_exit(r, 8);
	ck_assert(h_contains(r.err, "changed by someone else"));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens("svc_k8s_conflict"), 2);

	/* A rerun converges. */
	push(&r, NULL, "svc_k8s_conflict", "k8s://team-a/md-token", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
}
END_TEST

/* In the forked writer below: has the fake taken its only fault rule (the
 * hold: the PATCH is held now)? No Check asserts here: this runs in a child. */
static bool patch_held(void *arg)
{
	(void)arg;
	_cleanup_secret_ md_secret *b = md_secret_new(1 << 16);
	md_json d;
	if (fake_call("GET", "/_fake/state", NULL, NULL, false, b) != 200 ||
	    md_json_parse(&d, md_secret_str(b), md_secret_len(b), NULL) != 0)
		return false;
	long long left = -1;
	md_json_int(&d, md_json_get(&d, md_json_at(&d, md_json_get(&d, 0, "faults"), 0), "count"),
		    &left);
	md_json_free(&d);
	return left == 0;
}

START_TEST(conflict_with_delayed_patch)
{
	h_make_account("svc_k8s_delay");
	h_result r;
	push(&r, NULL, "svc_k8s_delay", "k8s://team-a/md-token", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	/* The fake holds the PATCH; meanwhile another writer (a child here)
	 * changes the Secret through the control plane, then lets it go on. */
	fake_fault("{\"method\":\"PATCH\",\"path\":\"" SECRET_PATH "\",\"action\":\"hold\"}");
	pid_t other = fork();
	if (other == 0) {
		bool held = h_wait_for(patch_held, NULL, 30000);
		long st = held ? fake_call("POST", "/_fake/bump", NULL,
					   "{\"namespace\":\"team-a\",\"name\":\"md-token\"}", false,
					   NULL)
			       : 0;
		long rel = fake_call("POST", "/_fake/release", NULL, "{}", false, NULL);
		_exit(st == 200 && rel == 200 ? 0 : 1);
	}
	push(&r, NULL, "svc_k8s_delay", "k8s://team-a/md-token", NULL);
	int ws = 0;
	waitpid(other, &ws, 0);
	ck_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	ck_assert_exit(r, 7);
	ck_assert(h_contains(r.err, "changed by someone else"));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens("svc_k8s_delay"), 1);
}
END_TEST

START_TEST(denied_namespace)
{
	h_make_account("svc_k8s_denied");
	h_result r;
	push(&r, NULL, "svc_k8s_denied", "k8s://locked/md-token", NULL);
	ck_assert_exit(r, 7);
	ck_assert(h_contains(r.err, "HTTP 403"));
	ck_assert(h_contains(r.err, "forbidden"));
	ck_assert(h_contains(r.err, "RBAC"));
	assert_quiet(&r, NULL);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens("svc_k8s_denied"), 0);

	push(&r, NULL, "svc_k8s_denied", "k8s://locked/md-token", file_store("d.json"));
	ck_assert_exit(r, 8);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens("svc_k8s_denied"), 1);

	/* Reading from it is an authorization error: exit 3. */
	const char *env[] = K8S_ENV(NULL);
	h_run(&r, 0, NULL, env, "exec", "--from", "k8s://locked/md-token", "svc_k8s_denied", "--",
	      "true", NULL);
	ck_assert_exit(r, 3);
	ck_assert(h_contains(r.err, "403"));
	h_result_free(&r);
}
END_TEST

START_TEST(wrong_service_account_token)
{
	h_make_account("svc_k8s_401");
	char tokenv[1300];
	snprintf(tokenv, sizeof tokenv, "MDCRED_K8S_TOKEN_FILE=%s", wrong_file);
	const char *env[] = {env_url, tokenv, env_ca, NULL};
	h_result r;
	h_run(&r, 0, NULL, env, "exec", "--from", "k8s://team-a/md-token", "svc_k8s_401", "--",
	      "true", NULL);
	ck_assert_exit(r, 3);
	ck_assert(h_contains(r.err, "401"));
	ck_assert(h_contains(r.err, "service-account token was rejected"));
	assert_quiet(&r, NULL);
	_cleanup_secret_ md_secret *w = NULL;
	ck_assert(md_file_read_secret(wrong_file, 4096, &w, NULL) == 0);
	ck_assert(!h_contains(r.err, md_secret_str(w)));
	h_result_free(&r);
	/* The fake saw a request without a valid token and refused it. */
	char m[16];
	ck_assert_int_eq(request_at(0, m, sizeof m, NULL, 0), 401);
}
END_TEST

START_TEST(bad_ca_refused)
{
	h_make_account("svc_k8s_tls");
	char ca[1300];
	snprintf(ca, sizeof ca, "MDCRED_K8S_CA_FILE=%s", other_cert);
	const char *env[] = {env_url, env_tok, ca, NULL};
	h_result r;
	h_run(&r, 0, NULL, env, "push", "svc_k8s_tls", "--store", "k8s://team-a/md-token", NULL);
	ck_assert_exit(r, 7);
	ck_assert(h_contains(r.err, "TLS verification failed"));
	assert_quiet(&r, NULL);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens("svc_k8s_tls"), 0);
	h_run(&r, 0, NULL, env, "exec", "--from", "k8s://team-a/md-token", "svc_k8s_tls", "--",
	      "true", NULL);
	ck_assert_exit(r, 1);
	ck_assert(h_contains(r.err, "TLS verification failed"));
	h_result_free(&r);
	ck_assert_int_eq(fake_request_count(), 0);
}
END_TEST

START_TEST(invalid_names_send_nothing)
{
	h_make_account("svc_k8s_names");
	int emu_before = h_request_count();
	static const char *const bad[] = {
		"k8s://Team-A/md-token",      "k8s://team_a/md-token",    "k8s://team-a/MD-Token",
		"k8s://team-a/-md",           "k8s://team-a/md..token",   "k8s://team-a/",
		"k8s://team-a",               "k8s:///md-token",          "k8s://team-a/md/token",
		"k8s://team-a/md-token?key=a/b", "k8s://team-a/md-token?key=a%2Fb",
		"k8s://team-a/md-token?key=", "k8s://team-a/md-token?secret=x",
		"k8s://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/x", /* 64 */
		"k8s://team-a.x/md-token",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		h_result r;
		push(&r, NULL, "svc_k8s_names", bad[i], NULL);
		ck_assert_msg(r.status == 2, "%s: exit %d, stderr %s", bad[i], r.status,
			      md_secret_str(r.err));
		h_result_free(&r);
	}
	h_result r;
	const char *env[] = K8S_ENV(NULL);
	h_run(&r, 0, NULL, env, "exec", "--from", "k8s://Bad/x", "svc_k8s_names", "--", "true",
	      NULL);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "DNS-1123"));
	h_result_free(&r);
	/* Nothing was minted, nothing reached the fake. */
	ck_assert_int_eq(h_request_count(), emu_before);
	ck_assert_int_eq(fake_request_count(), 0);
	ck_assert_int_eq(h_live_tokens("svc_k8s_names"), 0);
}
END_TEST

START_TEST(in_cluster_environment)
{
	h_make_account("svc_k8s_incluster");
	/* No MDCRED_K8S_API_URL: the server comes from KUBERNETES_SERVICE_*. */
	const char *port = strrchr(fake_url, ':') + 1;
	char p[64];
	snprintf(p, sizeof p, "KUBERNETES_SERVICE_PORT_HTTPS=%s", port);
	const char *env[] = {"MDCRED_K8S_API_URL=", "KUBERNETES_SERVICE_HOST=127.0.0.1", p,
			     env_tok, env_ca, NULL};
	h_result r;
	h_run(&r, 0, NULL, env, "push", "svc_k8s_incluster", "--store", "k8s://team-b/md", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	ck_assert_int_gt(secret_rv("team-b", "md"), 0);

	/* Neither: a usage error before anything is minted. */
	int emu_before = h_request_count();
	const char *none[] = {"MDCRED_K8S_API_URL=", "KUBERNETES_SERVICE_HOST=", env_tok, NULL};
	h_run(&r, 0, NULL, none, "push", "svc_k8s_incluster", "--store", "k8s://team-b/md", NULL);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "KUBERNETES_SERVICE_HOST"));
	h_result_free(&r);
	/* A missing token file too. */
	const char *notok[] = {env_url, "MDCRED_K8S_TOKEN_FILE=/nonexistent/token", env_ca, NULL};
	h_run(&r, 0, NULL, notok, "push", "svc_k8s_incluster", "--store", "k8s://team-b/md", NULL);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "/nonexistent/token"));
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), emu_before);
}
END_TEST

START_TEST(immutable_secret)
{
	h_make_account("svc_k8s_immutable");
	ck_assert_int_eq(fake_call("POST", "/api/v1/namespaces/team-a/secrets", "application/json",
				   "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
				   "{\"name\":\"md-token\"},\"immutable\":true,\"data\":"
				   "{\"MOTHERDUCK_TOKEN\":\"cGxhY2Vob2xkZXI=\"}}",
				   true, NULL), 201);
	h_result r;
	push(&r, NULL, "svc_k8s_immutable", "k8s://team-a/md-token", NULL);
	ck_assert_exit(r, 7);
	ck_assert(h_contains(r.err, "immutable"));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens("svc_k8s_immutable"), 0);
}
END_TEST

START_TEST(transient_faults)
{
	h_make_account("svc_k8s_faults");
	h_result r;
	/* One 503 on the GET (Retry-After 0) is retried over. */
	fake_fault("{\"method\":\"GET\",\"path\":\"" SECRET_PATH "\",\"status\":503,"
		   "\"retry_after\":0}");
	push(&r, NULL, "svc_k8s_faults", "k8s://team-a/md-token", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	/* The PATCH's answer is lost after the change was made: the read-back
	 * shows the Secret holds our token, so the write counts. */
	fake_fault("{\"method\":\"PATCH\",\"path\":\"" SECRET_PATH "\",\"action\":\"drop_after\"}");
	push(&r, NULL, "svc_k8s_faults", "k8s://team-a/md-token", file_store("f.json"));
	ck_assert_exit(r, 0);
	h_result_free(&r);
	char id[80], ann[128];
	_cleanup_secret_ md_secret *tok = file_token("f.json", id, sizeof id);
	secret_annotation("team-a", "md-token", "mdcred.motherduck.com/token-id", ann, sizeof ann);
	ck_assert_str_eq(ann, id);
	/* The PATCH dropped before it was processed (twice: libcurl itself
	 * resends once on a fresh connection): the Secret still holds the old
	 * token, the new one is revoked. */
	fake_fault("{\"method\":\"PATCH\",\"path\":\"" SECRET_PATH "\",\"action\":\"drop\","
		   "\"count\":2}");
	int live = h_live_tokens("svc_k8s_faults");
	push(&r, NULL, "svc_k8s_faults", "k8s://team-a/md-token", NULL);
	ck_assert_exit(r, 7);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens("svc_k8s_faults"), live);
	/* 503 on every GET: transient after retries; exec --from exits 6. */
	fake_fault("{\"method\":\"GET\",\"path\":\"" SECRET_PATH "\",\"status\":503,"
		   "\"retry_after\":0,\"count\":-1}");
	const char *env[] = K8S_ENV(NULL);
	h_run(&r, 0, NULL, env, "exec", "--from", "k8s://team-a/md-token", "svc_k8s_faults", "--",
	      "true", NULL);
	ck_assert_exit(r, 6);
	ck_assert(h_contains(r.err, "503"));
	h_result_free(&r);
}
END_TEST

/* The fake itself behaves as the API server does. */
START_TEST(fake_is_faithful)
{
	_cleanup_secret_ md_secret *b = md_secret_new(1024);
	ck_assert_int_eq(fake_call("GET", SECRET_PATH, NULL, NULL, false, b), 401);
	ck_assert(h_contains(b, "\"kind\": \"Status\""));
	ck_assert_int_eq(fake_call("GET", SECRET_PATH, NULL, NULL, true, NULL), 404);
	ck_assert_int_eq(fake_call("POST", "/api/v1/namespaces/nowhere/secrets", "application/json",
				   "{\"metadata\":{\"name\":\"x\"}}", true, NULL), 404);
	const char *create = "{\"metadata\":{\"name\":\"md-token\"},\"data\":{\"K\":\"YWJj\"}}";
	ck_assert_int_eq(fake_call("POST", "/api/v1/namespaces/team-a/secrets", "application/json",
				   create, true, NULL), 201);
	md_secret_truncate(b, 0);
	ck_assert_int_eq(fake_call("POST", "/api/v1/namespaces/team-a/secrets", "application/json",
				   create, true, b), 409);
	ck_assert(h_contains(b, "AlreadyExists"));
	long long rv = secret_rv("team-a", "md-token");
	char patch[256];
	snprintf(patch, sizeof patch, "{\"metadata\":{\"resourceVersion\":\"%lld\"},\"data\":"
		 "{\"K\":\"ZGVm\"}}", rv);
	ck_assert_int_eq(fake_call("PATCH", SECRET_PATH, "application/json-patch+json", "[]", true,
				   NULL), 415);
	ck_assert_int_eq(fake_call("PATCH", SECRET_PATH, "application/merge-patch+json", patch,
				   true, NULL), 200);
	ck_assert_int_eq(secret_rv("team-a", "md-token"), rv + 1);
	md_secret_truncate(b, 0);
	ck_assert_int_eq(fake_call("PATCH", SECRET_PATH, "application/merge-patch+json", patch,
				   true, b), 409);
	ck_assert(h_contains(b, "the object has been modified"));
	ck_assert_int_eq(fake_call("GET", "/api/v1/namespaces/locked/secrets/x", NULL, NULL, true,
				   NULL), 403);
	/* The control plane never shows data. */
	fake_state s;
	state_get(&s);
	ck_assert(!h_contains(s.buf, "ZGVm") && !h_contains(s.buf, "YWJj"));
	state_free(&s);
	ck_assert_int_eq(fake_call("DELETE", SECRET_PATH, NULL, NULL, true, NULL), 200);
	ck_assert_int_eq(fake_call("GET", SECRET_PATH, NULL, NULL, true, NULL), 404);
}
END_TEST

Suite *suite_store_k8s(void)
{
	Suite *s = h_suite("store_k8s");
	TCase *tc = h_tcase("store_k8s");
	tcase_add_unchecked_fixture(tc, fake_start, fake_stop);
	tcase_add_checked_fixture(tc, fake_reset, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fake_is_faithful);
	tcase_add_test(tc, push_creates_secret);
	tcase_add_test(tc, second_push_patches_and_exec_reads_it);
	tcase_add_test(tc, custom_key);
	tcase_add_test(tc, stale_resource_version_conflict);
	tcase_add_test(tc, conflict_with_delayed_patch);
	tcase_add_test(tc, denied_namespace);
	tcase_add_test(tc, wrong_service_account_token);
	tcase_add_test(tc, bad_ca_refused);
	tcase_add_test(tc, invalid_names_send_nothing);
	tcase_add_test(tc, in_cluster_environment);
	tcase_add_test(tc, immutable_secret);
	tcase_add_test(tc, transient_faults);
	suite_add_tcase(s, tc);
	return s;
}
