/* test_store_vault.c - `mdcred push` / `exec --from` with vault:// stores,
 * against tests/fakes/fake_vault.py (a KV v2 fake that checks auth on every
 * request) and the MotherDuck emulator.
 *
 * The fake's credentials (root token, AppRole secret_id, Kubernetes JWT) are
 * random per run, live in files under requested/ and are appended to the
 * run's tokens.record, as is every token the fake's logins issue: the leak
 * scan searches the whole run for all of them. Token values are compared
 * with memcmp and never printed. */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/rand.h"

#define USER "svc_vault_test"
#define ROLE_ID "mdcred-role-1"
#define K8S_ROLE "mdcred"

static pid_t fv_pid;
static char fv_url[128];  /* http://127.0.0.1:PORT */
static char fv_host[64];  /* 127.0.0.1:PORT */
static char env_addr[200], env_root[200], env_home_none[1300], env_sid_file[1300],
	env_jwt_file[1300];

/* A random credential into a requested/ file and the token record. */
static void make_cred(const char *name, const char *prefix, char *out, size_t outsz)
{
	ck_assert(h_make_credential(h_path(true, name), prefix, out, outsz) == 0);
}

/* Starts a fake (HTTPS with cert and key); its URL goes to url. */
static pid_t fv_spawn(const char *approle, const char *k8s, const char *cert, const char *key,
		      char *url, size_t urlsz)
{
	const char *fake = getenv("FAKE_VAULT");
	const char *argv[32] = {h_python(), fake && *fake ? fake : "tests/fakes/fake_vault.py",
				"--root-token-file", h_path(true, "vault/root.token"),
				"--namespace", "team-a", "--kv-mount", "secret", "--kv-mount",
				"kv", "--record-tokens", h_record_file(), "-v"};
	int n = 13;
	if (approle) {
		argv[n++] = "--approle";
		argv[n++] = approle;
		argv[n++] = "--k8s-role";
		argv[n++] = k8s;
	}
	if (cert) {
		argv[n++] = "--tls-cert";
		argv[n++] = cert;
		argv[n++] = "--tls-key";
		argv[n++] = key;
	}
	argv[n] = NULL;
	return h_spawn_server(argv, "fake_vault.log", url, urlsz);
}

/* Unchecked fixture: one fake per test process. */
static void fake_start(void)
{
	char root[128], sid[128], jwt[160];
	mkdir(h_path(true, "vault"), 0700);
	make_cred("vault/root.token", "hvs.root", root, sizeof root);
	make_cred("vault/approle.secret_id", "sid-", sid, sizeof sid);
	make_cred("vault/k8s.jwt", "eyJhbGciOiJSUzI1NiJ9.", jwt, sizeof jwt);
	explicit_bzero(sid, sizeof sid);
	explicit_bzero(jwt, sizeof jwt);
	char approle[1400], k8s[1400];
	snprintf(approle, sizeof approle, "%s:%s", ROLE_ID, h_path(true, "vault/approle.secret_id"));
	snprintf(k8s, sizeof k8s, "%s:%s", K8S_ROLE, h_path(true, "vault/k8s.jwt"));
	snprintf(env_root, sizeof env_root, "VAULT_TOKEN=%s", root);
	explicit_bzero(root, sizeof root);
	snprintf(env_home_none, sizeof env_home_none, "HOME=%s", h_path(false, "vault-no-home"));
	snprintf(env_sid_file, sizeof env_sid_file, "VAULT_SECRET_ID_FILE=%s",
		 h_path(true, "vault/approle.secret_id"));
	snprintf(env_jwt_file, sizeof env_jwt_file, "VAULT_K8S_JWT_FILE=%s",
		 h_path(true, "vault/k8s.jwt"));

	fv_pid = fv_spawn(approle, k8s, NULL, NULL, fv_url, sizeof fv_url);
	if (fv_pid < 0) {
		fprintf(stderr, "test_store_vault: the fake Vault did not start\n");
		exit(1);
	}
	snprintf(fv_host, sizeof fv_host, "%s", fv_url + strlen("http://"));
	snprintf(env_addr, sizeof env_addr, "VAULT_ADDR=%s", fv_url);
}

static void fake_stop(void)
{
	h_stop_server(&fv_pid);
	explicit_bzero(env_root, sizeof env_root);
}

/* --- the fake's control plane ------------------------------------------- */

static long fv_ctl(const char *method, const char *path, const char *body, md_secret *out)
{
	h_http_target t = {fv_url, NULL, NULL, NULL};
	return h_http(&t, method, path, body, out);
}

static void fv_reset(void)
{
	_cleanup_secret_ md_secret *b = md_secret_new(256);
	ck_assert_int_eq(fv_ctl("POST", "/_fake/reset", "{}", b), 200);
	unsetenv("MOTHERDUCK_TOKEN");
}

static void fv_fault(const char *json)
{
	_cleanup_secret_ md_secret *b = md_secret_new(256);
	ck_assert_int_eq(fv_ctl("POST", "/_fake/faults", json, b), 200);
}

static void fv_state(md_json *d, md_secret **buf)
{
	*buf = md_secret_new(1 << 16);
	ck_assert_int_eq(fv_ctl("GET", "/_fake/state", NULL, *buf), 200);
	ck_assert_int_eq(md_json_parse(d, md_secret_str(*buf), md_secret_len(*buf), NULL), 0);
}

/* The state entry of NS/MOUNT/PATH (-1 when absent). */
static int fv_entry(md_json *d, const char *ns, const char *mount, const char *path)
{
	return md_json_get(d, md_json_get(d, md_json_get(d, md_json_get(d, 0, "kv"), ns), mount),
			   path);
}

static long long fv_version(const char *ns, const char *mount, const char *path)
{
	md_json d;
	_cleanup_secret_ md_secret *b = NULL;
	fv_state(&d, &b);
	long long v = -1;
	md_json_int(&d, md_json_get(&d, fv_entry(&d, ns, mount, path), "current_version"), &v);
	md_json_free(&d);
	return v;
}

/* Does the latest version of the entry have key? */
static bool fv_has_key(const char *ns, const char *mount, const char *path, const char *key)
{
	md_json d;
	_cleanup_secret_ md_secret *b = NULL;
	fv_state(&d, &b);
	int vers = md_json_get(&d, fv_entry(&d, ns, mount, path), "versions");
	int last = md_json_at(&d, vers, md_json_count(&d, vers) - 1);
	bool found = md_json_get(&d, md_json_get(&d, last, "sha256"), key) >= 0;
	md_json_free(&d);
	return found;
}

/* Requests in the log matching method and path with this token kind / status. */
static int fv_count(const char *method, const char *path, const char *token, long status)
{
	md_json d;
	_cleanup_secret_ md_secret *b = NULL;
	fv_state(&d, &b);
	int reqs = md_json_get(&d, 0, "requests"), n = 0;
	for (int i = 0; i < md_json_count(&d, reqs); i++) {
		int e = md_json_at(&d, reqs, i);
		char m[16], p[512], t[32];
		long long s = -2;
		md_json_str(&d, md_json_get(&d, e, "method"), m, sizeof m);
		md_json_str(&d, md_json_get(&d, e, "path"), p, sizeof p);
		md_json_str(&d, md_json_get(&d, e, "token"), t, sizeof t);
		md_json_int(&d, md_json_get(&d, e, "status"), &s);
		n += strcmp(m, method) == 0 && strcmp(p, path) == 0 && (!token || !strcmp(t, token)) &&
		     (status < 0 || s == status);
	}
	md_json_free(&d);
	return n;
}

/* --- helpers ------------------------------------------------------------ */

static const char *vault_uri(const char *path)
{
	static char bufs[4][512];
	static int i;
	char *b = bufs[i++ % 4];
	snprintf(b, sizeof bufs[0], "vault://%s/%s", fv_host, path);
	return b;
}

static const char *file_uri(const char *name)
{
	static char b[1400];
	unlink(h_path(true, name));
	snprintf(b, sizeof b, "file://%s?format=json", h_path(true, name));
	return b;
}

/* The token in a requested/ json file written by the file store. */
static md_secret *json_token(const char *name)
{
	_cleanup_secret_ md_secret *s = NULL;
	ck_assert_int_eq(md_file_read_secret(h_path(true, name), 1 << 20, &s, NULL), MD_OK);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(s), md_secret_len(s), NULL), 0);
	md_secret *t = md_secret_new(512);
	ck_assert_int_eq(md_json_str_secret(&d, md_json_get(&d, 0, "token"), t), 0);
	md_json_free(&d);
	return t;
}

static md_secret *read_req(const char *name)
{
	md_secret *s = NULL;
	if (md_file_read_secret(h_path(true, name), 1 << 20, &s, NULL) != MD_OK)
		return NULL;
	return s;
}

/* Reads the store through `exec --from` into requested/NAME; returns it. */
static md_secret *exec_read(const char *uri, const char *const *env, const char *name,
			    int want_exit)
{
	char script[1500];
	unlink(h_path(true, name));
	snprintf(script, sizeof script, "printf %%s \"$MOTHERDUCK_TOKEN\" > '%s'; "
		 "printf %%s \"${VAULT_TOKEN-unset}${VAULT_SECRET_ID-unset}\" > '%s.env'",
		 h_path(true, name), h_path(true, name));
	h_result r;
	h_run(&r, 0, NULL, env, "exec", "--from", uri, USER, "--", "/bin/sh", "-c", script, NULL);
	ck_assert_exit(r, want_exit);
	h_result_free(&r);
	if (want_exit != 0)
		return NULL;
	char envname[300];
	snprintf(envname, sizeof envname, "%s.env", name);
	_cleanup_secret_ md_secret *seen = read_req(envname);
	ck_assert_msg(seen && strcmp(md_secret_str(seen), "unsetunset") == 0,
		      "the command inherited a Vault credential");
	md_secret *t = read_req(name);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* push USER --store VAULT --store FILE(json) with env; checks the exit code
 * and that nothing secret reached stdout/stderr. */
static void push(h_result *r, const char *const *env, int want, ...)
{
	const char *args[16] = {0};
	int n = 0;
	va_list ap;
	va_start(ap, want);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 14)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	h_run(r, 0, NULL, env, "push", USER, args[0], args[1], args[2], args[3], args[4],
	      args[5], args[6], args[7], NULL);
	ck_assert_exit(*r, want);
	ck_assert_msg(!h_contains(r->out, "hvs.") && !h_contains(r->err, "hvs."),
		      "a Vault token in mdcred's output");
	ck_assert_msg(!h_contains(r->out, "eyJ") && !h_contains(r->err, "eyJ"),
		      "a JWT in mdcred's output");
}

static void assert_same(const md_secret *a, const md_secret *b)
{
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_msg(md_secret_len(a) > 20 && md_secret_eq(a, b), "tokens differ");
}

/* --- tests -------------------------------------------------------------- */

START_TEST(push_vault_token_create_then_update)
{
	h_make_account(USER);
	const char *env[] = {env_root, env_home_none, NULL};
	h_result r;
	push(&r, env, 0, "--store", vault_uri("secret/mdcred/app"), "--store", file_uri("app1.json"),
	     NULL);
	ck_assert(h_contains(r.err, "pushed token"));
	h_result_free(&r);
	ck_assert_int_eq(fv_version("root", "secret", "mdcred/app"), 1);
	static const char *keys[] = {"token", "id", "name", "token_type", "expire_at", "username"};
	for (size_t i = 0; i < 6; i++)
		ck_assert_msg(fv_has_key("root", "secret", "mdcred/app", keys[i]), "key %s", keys[i]);
	/* create-only write (cas 0), then the read-back */
	ck_assert_int_eq(fv_count("POST", "/v1/secret/data/mdcred/app", "root", 200), 1);

	_cleanup_secret_ md_secret *t1 = json_token("app1.json");
	_cleanup_secret_ md_secret *got1 = exec_read(vault_uri("secret/mdcred/app"), env,
						     "app1.tok", 0);
	assert_same(got1, t1);
	ck_assert(h_is_issued_token(md_secret_str(got1), md_secret_len(got1)));

	/* A second push updates: version 2, a new token. */
	push(&r, env, 0, "--store", vault_uri("secret/mdcred/app"), "--store", file_uri("app2.json"),
	     NULL);
	h_result_free(&r);
	ck_assert_int_eq(fv_version("root", "secret", "mdcred/app"), 2);
	_cleanup_secret_ md_secret *t2 = json_token("app2.json");
	_cleanup_secret_ md_secret *got2 = exec_read(vault_uri("secret/mdcred/app"), env,
						     "app2.tok", 0);
	assert_same(got2, t2);
	ck_assert(!md_secret_eq(t1, t2));
}
END_TEST

START_TEST(push_home_vault_token_and_vault_addr)
{
	h_make_account(USER);
	char home[1300], tokfile[1400], envhome[1400];
	snprintf(home, sizeof home, "%s", h_path(true, "vault-home"));
	mkdir(home, 0700);
	snprintf(tokfile, sizeof tokfile, "%s/.vault-token", home);
	int fd = open(tokfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	const char *root = env_root + strlen("VAULT_TOKEN=");
	md_file_write_fd(fd, root, strlen(root));
	md_file_write_fd(fd, "\n", 1);
	close(fd);
	snprintf(envhome, sizeof envhome, "HOME=%s", home);
	const char *env[] = {env_addr, envhome, NULL};
	h_result r;
	push(&r, env, 0, "--store", "vault:///secret/mdcred/home", "--store", file_uri("home.json"),
	     NULL);
	h_result_free(&r);
	ck_assert_int_eq(fv_version("root", "secret", "mdcred/home"), 1);
	_cleanup_secret_ md_secret *t = json_token("home.json");
	_cleanup_secret_ md_secret *got = exec_read("vault:///secret/mdcred/home", env, "home.tok", 0);
	assert_same(got, t);
}
END_TEST

START_TEST(push_approle_secret_id_file)
{
	h_make_account(USER);
	const char *env[] = {env_addr, env_home_none, "VAULT_ROLE_ID=" ROLE_ID, env_sid_file, NULL};
	h_result r;
	push(&r, env, 0, "--store", "vault:///kv/team/app?field=motherduck_token", "--store",
	     file_uri("approle.json"), NULL);
	h_result_free(&r);
	ck_assert_int_eq(fv_version("root", "kv", "team/app"), 1);
	ck_assert(fv_has_key("root", "kv", "team/app", "motherduck_token"));
	ck_assert(!fv_has_key("root", "kv", "team/app", "token"));
	/* One login per process; every KV request carried the login's token. */
	ck_assert_int_eq(fv_count("POST", "/v1/auth/approle/login", NULL, 200), 1);
	ck_assert_int_eq(fv_count("POST", "/v1/kv/data/team/app", "login", 200), 1);
	ck_assert_int_eq(fv_count("GET", "/v1/kv/data/team/app", "root", -1), 0);

	/* Read back with the secret_id in the environment: the command must not
	 * inherit it. */
	_cleanup_secret_ md_secret *sid = read_req("vault/approle.secret_id");
	ck_assert_ptr_nonnull(sid);
	char envsid[256];
	snprintf(envsid, sizeof envsid, "VAULT_SECRET_ID=%.*s", (int)strcspn(md_secret_str(sid), "\n"),
		 md_secret_str(sid));
	const char *env2[] = {env_addr, env_home_none, "VAULT_ROLE_ID=" ROLE_ID, envsid, NULL};
	_cleanup_secret_ md_secret *t = json_token("approle.json");
	_cleanup_secret_ md_secret *got = exec_read("vault:///kv/team/app?field=motherduck_token",
						    env2, "approle.tok", 0);
	explicit_bzero(envsid, sizeof envsid);
	assert_same(got, t);
	ck_assert_int_eq(fv_count("POST", "/v1/auth/approle/login", NULL, 200), 2);
}
END_TEST

/* Stores at one Vault share one login (each login is a token and a lease
 * in Vault); a refused login is not tried again for the next store. */
START_TEST(approle_login_shared_across_stores)
{
	h_make_account(USER);
	const char *env[] = {env_addr, env_home_none, "VAULT_ROLE_ID=" ROLE_ID, env_sid_file, NULL};
	h_result r;
	push(&r, env, 0, "--store", "vault:///kv/shared/one", "--store", "vault:///kv/shared/two",
	     "--store", "vault:///secret/shared/three", NULL);
	h_result_free(&r);
	ck_assert_int_eq(fv_count("POST", "/v1/auth/approle/login", NULL, -1), 1);
	ck_assert_int_eq(fv_version("root", "kv", "shared/one"), 1);
	ck_assert_int_eq(fv_version("root", "kv", "shared/two"), 1);
	ck_assert_int_eq(fv_version("root", "secret", "shared/three"), 1);

	const char *bad[] = {env_addr, env_home_none, "VAULT_ROLE_ID=" ROLE_ID,
			     "VAULT_SECRET_ID=sid-wrong-wrong-wrong", NULL};
	push(&r, bad, 7, "--store", "vault:///kv/shared/four", "--store", "vault:///kv/shared/five",
	     NULL);
	ck_assert(h_contains(r.err, "invalid secret id"));
	h_result_free(&r);
	ck_assert_int_eq(fv_count("POST", "/v1/auth/approle/login", NULL, -1), 2);
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(push_kubernetes_auth)
{
	h_make_account(USER);
	const char *env[] = {env_addr, env_home_none, "VAULT_K8S_ROLE=" K8S_ROLE, env_jwt_file, NULL};
	h_result r;
	push(&r, env, 0, "--store", "vault:///secret/k8s/app", "--store", file_uri("k8s.json"), NULL);
	h_result_free(&r);
	ck_assert_int_eq(fv_count("POST", "/v1/auth/kubernetes/login", NULL, 200), 1);
	ck_assert_int_eq(fv_count("POST", "/v1/secret/data/k8s/app", "login", 200), 1);
	_cleanup_secret_ md_secret *t = json_token("k8s.json");
	_cleanup_secret_ md_secret *got = exec_read("vault:///secret/k8s/app", env, "k8s.tok", 0);
	assert_same(got, t);

	/* A wrong auth mount: the login fails, no store took the token. */
	const char *bad[] = {env_addr, env_home_none, "VAULT_K8S_ROLE=" K8S_ROLE, env_jwt_file,
			     "VAULT_K8S_MOUNT=k8s-other", NULL};
	push(&r, bad, 7, "--store", "vault:///secret/k8s/other", NULL);
	ck_assert(h_contains(r.err, "Kubernetes login"));
	ck_assert(h_contains(r.err, "k8s-other"));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(push_namespace)
{
	h_make_account(USER);
	const char *env[] = {env_root, env_home_none, "VAULT_NAMESPACE=team-a", NULL};
	h_result r;
	push(&r, env, 0, "--store", vault_uri("secret/mdcred/ns"), "--store", file_uri("ns.json"),
	     NULL);
	h_result_free(&r);
	ck_assert_int_eq(fv_version("team-a", "secret", "mdcred/ns"), 1);
	ck_assert_int_eq(fv_version("root", "secret", "mdcred/ns"), -1);
	_cleanup_secret_ md_secret *t = json_token("ns.json");
	_cleanup_secret_ md_secret *got = exec_read(vault_uri("secret/mdcred/ns"), env, "ns.tok", 0);
	assert_same(got, t);
	/* Not in the root namespace: nothing to read there (exit 4). */
	const char *root_ns[] = {env_root, env_home_none, NULL};
	exec_read(vault_uri("secret/mdcred/ns"), root_ns, "ns-root.tok", 4);
	/* A namespace the server does not have: permission denied, token revoked. */
	const char *bad[] = {env_root, env_home_none, "VAULT_NAMESPACE=nope", NULL};
	push(&r, bad, 7, "--store", vault_uri("secret/mdcred/ns"), NULL);
	ck_assert(h_contains(r.err, "HTTP 403: permission denied"));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(cas_conflict_another_writer)
{
	h_make_account(USER);
	const char *env[] = {env_root, env_home_none, NULL};
	/* Another writer creates the secret between our read and our write. */
	fv_fault("{\"method\":\"POST\",\"path\":\"/v1/secret/data/mdcred/cas\",\"action\":\"bump\"}");
	h_result r;
	push(&r, env, 8, "--store", vault_uri("secret/mdcred/cas"), "--store", file_uri("cas.json"),
	     NULL);
	ck_assert(h_contains(r.err, "check-and-set parameter did not match"));
	ck_assert(h_contains(r.err, "another writer"));
	h_result_free(&r);
	/* The other writer's version survives. */
	ck_assert_int_eq(fv_version("root", "secret", "mdcred/cas"), 1);
	ck_assert(fv_has_key("root", "secret", "mdcred/cas", "written_by"));
	ck_assert(!fv_has_key("root", "secret", "mdcred/cas", "token"));
	ck_assert_int_eq(h_live_tokens(USER), 1); /* the file store holds it */

	/* Same with the Vault store alone: no store took it, it is revoked. */
	fv_fault("{\"method\":\"POST\",\"path\":\"/v1/secret/data/mdcred/cas\",\"action\":\"bump\"}");
	push(&r, env, 7, "--store", vault_uri("secret/mdcred/cas"), NULL);
	ck_assert(h_contains(r.err, "changed since version 1 was read"));
	ck_assert(h_contains(r.err, "revoked"));
	h_result_free(&r);
	ck_assert_int_eq(fv_version("root", "secret", "mdcred/cas"), 2);
	ck_assert_int_eq(h_live_tokens(USER), 1);

	/* A rerun converges. */
	push(&r, env, 0, "--store", vault_uri("secret/mdcred/cas"), NULL);
	h_result_free(&r);
	ck_assert_int_eq(fv_version("root", "secret", "mdcred/cas"), 3);
	ck_assert(fv_has_key("root", "secret", "mdcred/cas", "token"));
}
END_TEST

START_TEST(bad_credentials_revoke)
{
	h_make_account(USER);
	const char *env[] = {"VAULT_TOKEN=hvs.not-a-valid-token-at-all", env_home_none, NULL};
	h_result r;
	push(&r, env, 7, "--store", vault_uri("secret/mdcred/bad"), NULL);
	ck_assert(h_contains(r.err, "HTTP 403: permission denied"));
	ck_assert(h_contains(r.err, "VAULT_TOKEN"));
	ck_assert(!h_contains(r.err, "not-a-valid-token")); /* redacted */
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);

	/* A wrong AppRole secret_id. */
	const char *env2[] = {env_addr, env_home_none, "VAULT_ROLE_ID=" ROLE_ID,
			      "VAULT_SECRET_ID=sid-wrong-wrong-wrong", NULL};
	push(&r, env2, 7, "--store", "vault:///secret/mdcred/bad", NULL);
	ck_assert(h_contains(r.err, "AppRole login"));
	ck_assert(h_contains(r.err, "invalid secret id"));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);
	ck_assert_int_eq(fv_version("root", "secret", "mdcred/bad"), -1);

	/* exec --from with a bad token: exit 3. */
	exec_read(vault_uri("secret/mdcred/bad"), env, "bad.tok", 3);
}
END_TEST

START_TEST(no_credentials_or_bad_uri_sends_nothing)
{
	h_make_account(USER);
	h_result r;
	const char *noauth[] = {env_addr, env_home_none, NULL};
	push(&r, noauth, 2, "--store", "vault:///secret/mdcred/x", NULL);
	ck_assert(h_contains(r.err, "VAULT_TOKEN"));
	ck_assert(h_contains(r.err, "VAULT_ROLE_ID"));
	ck_assert(h_contains(r.err, "VAULT_K8S_ROLE"));
	h_result_free(&r);

	const char *env[] = {env_root, env_home_none, NULL};
	static const char *const bad[][2] = {
		{"vault:///secret/mdcred/x", "VAULT_ADDR"},
		{"vault://vault.example.com/secret/x", "without a port"},
		{"vault://10.1.2.3:8200/secret/x?scheme=http", "refusing plain http://"},
		{"vault://127.0.0.1:8200/secret", "MOUNT/PATH"},
		{"vault://127.0.0.1:8200/secret/a/../b", "not a plain name"},
		{"vault://127.0.0.1:8200/secret/x?field=id", "metadata"},
		{"vault://127.0.0.1:8200/secret/x?colour=red", "unknown option"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		push(&r, env, 2, "--store", bad[i][0], NULL);
		ck_assert_msg(h_contains(r.err, bad[i][1]), "%s: %s", bad[i][0], md_secret_str(r.err));
		h_result_free(&r);
	}
	ck_assert_int_eq(h_live_tokens(USER), 0);
	md_json d;
	_cleanup_secret_ md_secret *b = NULL;
	fv_state(&d, &b);
	long long n = -1;
	md_json_int(&d, md_json_get(&d, 0, "request_count"), &n);
	md_json_free(&d);
	ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(store_503_retry_after_retried)
{
	h_make_account(USER);
	const char *env[] = {env_root, env_home_none, "MDCRED_VERBOSE=1", NULL};
	fv_fault("{\"method\":\"GET\",\"path\":\"/v1/secret/data/mdcred/retry\",\"status\":503,"
		 "\"retry_after\":1,\"count\":1}");
	/* A POST is retried only when it surely did nothing: 429. */
	fv_fault("{\"method\":\"POST\",\"path\":\"/v1/secret/data/mdcred/retry\",\"status\":429,"
		 "\"retry_after\":1,\"count\":1}");
	h_result r;
	push(&r, env, 0, "--store", vault_uri("secret/mdcred/retry"), NULL);
	ck_assert(h_contains(r.err, "HTTP 503; retrying in 1.000 s"));
	ck_assert(h_contains(r.err, "HTTP 429; retrying in 1.000 s"));
	/* Both waits were Retry-After's 1 s, on mdcred's virtual clock. */
	ck_assert_msg(h_count(r.err, "virtual wait 1000 ms") == 2, "stderr: %s",
		      md_secret_str(r.err));
	h_result_free(&r);
	ck_assert_int_eq(fv_count("GET", "/v1/secret/data/mdcred/retry", NULL, 503), 1);
	ck_assert_int_eq(fv_count("POST", "/v1/secret/data/mdcred/retry", NULL, 200), 1);
	ck_assert_int_eq(fv_version("root", "secret", "mdcred/retry"), 1);

	/* A 503 on the write is not repeated (it may have been applied). */
	fv_fault("{\"method\":\"POST\",\"path\":\"/v1/secret/data/mdcred/retry\",\"status\":503,"
		 "\"count\":-1}");
	push(&r, env, 7, "--store", vault_uri("secret/mdcred/retry"), NULL);
	ck_assert(h_contains(r.err, "may or may not have been applied"));
	h_result_free(&r);
	ck_assert_int_eq(fv_count("POST", "/v1/secret/data/mdcred/retry", NULL, 503), 1);
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(store_persistent_503_transient_read)
{
	h_make_account(USER);
	const char *env[] = {env_root, env_home_none, "MDCRED_RETRIES=1", NULL};
	fv_fault("{\"method\":\"GET\",\"path\":\"/v1/secret/data/mdcred/down\",\"status\":503,"
		 "\"retry_after\":0,\"count\":-1}");
	exec_read(vault_uri("secret/mdcred/down"), env, "down.tok", 6);
	ck_assert_int_eq(fv_count("GET", "/v1/secret/data/mdcred/down", NULL, 503), 2);
}
END_TEST

/* A Vault that cannot be read (GET 503 every time) is never written: the
 * new token is in no store, so it is revoked and the exit is 7, not a
 * "partial" 8 that keeps an orphan alive every run. */
START_TEST(unreadable_store_nothing_written_revoked)
{
	h_make_account(USER);
	const char *env[] = {env_root, env_home_none, "MDCRED_RETRIES=0", NULL};
	fv_fault("{\"method\":\"GET\",\"path\":\"/v1/secret/data/mdcred/unreadable\","
		 "\"status\":503,\"count\":-1}");
	h_result r;
	push(&r, env, 7, "--store", vault_uri("secret/mdcred/unreadable"), NULL);
	ck_assert(h_contains(r.err, "revoked the undelivered token"));
	h_result_free(&r);
	ck_assert_int_eq(fv_count("POST", "/v1/secret/data/mdcred/unreadable", NULL, -1), 0);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

START_TEST(https_with_vault_cacert)
{
	h_make_account(USER);
	char cert[1300], key[1300], url[128], cacert[1400], uri[256];
	snprintf(cert, sizeof cert, "%s", h_path(false, "vault-tls-cert.pem"));
	snprintf(key, sizeof key, "%s", h_path(false, "vault-tls-key.pem"));
	ck_assert_msg(h_make_cert(cert, key) == 0, "openssl could not make a certificate");
	pid_t pid = fv_spawn(NULL, NULL, cert, key, url, sizeof url);
	ck_assert_int_gt(pid, 0);
	ck_assert(strncmp(url, "https://127.0.0.1:", 18) == 0);
	snprintf(uri, sizeof uri, "vault://%s/secret/mdcred/tls?scheme=https", url + 8);
	snprintf(cacert, sizeof cacert, "VAULT_CACERT=%s", cert);
	const char *env[] = {env_root, env_home_none, cacert, NULL};
	h_result r;
	push(&r, env, 0, "--store", uri, "--store", file_uri("tls.json"), NULL);
	h_result_free(&r);
	_cleanup_secret_ md_secret *t = json_token("tls.json");
	_cleanup_secret_ md_secret *got = exec_read(uri, env, "tls.tok", 0);
	assert_same(got, t);
	/* Without the CA the certificate is refused (VAULT_SKIP_VERIFY is ignored). */
	const char *noca[] = {env_root, env_home_none, "VAULT_SKIP_VERIFY=1", NULL};
	push(&r, noca, 7, "--store", uri, NULL);
	ck_assert(h_contains(r.err, "TLS verification failed"));
	ck_assert(h_contains(r.err, "VAULT_SKIP_VERIFY is ignored"));
	h_result_free(&r);
	h_stop_server(&pid);
}
END_TEST

Suite *suite_store_vault(void)
{
	Suite *s = h_suite("store_vault");
	TCase *tc = h_tcase("store_vault");
	tcase_add_unchecked_fixture(tc, fake_start, fake_stop);
	tcase_add_checked_fixture(tc, fv_reset, NULL);
	tcase_add_test(tc, push_vault_token_create_then_update);
	tcase_add_test(tc, push_home_vault_token_and_vault_addr);
	tcase_add_test(tc, push_approle_secret_id_file);
	tcase_add_test(tc, approle_login_shared_across_stores);
	tcase_add_test(tc, push_kubernetes_auth);
	tcase_add_test(tc, push_namespace);
	tcase_add_test(tc, cas_conflict_another_writer);
	tcase_add_test(tc, bad_credentials_revoke);
	tcase_add_test(tc, no_credentials_or_bad_uri_sends_nothing);
	tcase_add_test(tc, store_503_retry_after_retried);
	tcase_add_test(tc, store_persistent_503_transient_read);
	tcase_add_test(tc, unreadable_store_nothing_written_revoked);
	tcase_add_test(tc, https_with_vault_cacert);
	suite_add_tcase(s, tc);
	return s;
}
