/* harness.c - see harness.h. */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/rand.h"

static pid_t emu_pid;
static char base_url[256];
static char run_dir[1024];

static const char *env_or(const char *n, const char *d)
{
	const char *v = getenv(n);
	return v && *v ? v : d;
}

const char *h_path(bool requested, const char *name)
{
	static char bufs[8][1200];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof bufs[0], "%s/%s%s", run_dir, requested ? "requested/" : "", name);
	return b;
}

const char *h_base_url(void) { return base_url; }
const char *h_admin_token_file(void) { return h_path(true, "admin.token"); }
const char *h_member_token_file(void) { return h_path(true, "member.token"); }

static void mkdirs(const char *p)
{
	char tmp[1200];
	snprintf(tmp, sizeof tmp, "%s", p);
	for (char *s = tmp + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(tmp, 0700);
			*s = '/';
		}
	}
	mkdir(tmp, 0700);
}

void h_start(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setenv("MDCRED_TEST_VIRTUAL_TIME", "1", 1);
	h_emulator_start();
}

void h_emulator_start(void)
{
	char rd[1024];
	snprintf(rd, sizeof rd, "%s/%d", env_or("TEST_RUN_DIR", "tests/run"), (int)getpid());
	if (rd[0] != '/') {
		char cwd[512];
		if (!getcwd(cwd, sizeof cwd))
			abort();
		snprintf(run_dir, sizeof run_dir, "%s/%s", cwd, rd);
	} else {
		snprintf(run_dir, sizeof run_dir, "%s", rd);
	}
	mkdirs(h_path(true, ""));
	const char *args[] = {"--admin-token-file", h_admin_token_file(), "--member-token-file",
			      h_member_token_file(), NULL};
	emu_pid = h_emulator_spawn(args, "emulator.log", base_url, sizeof base_url);
	if (emu_pid < 0) {
		fprintf(stderr, "harness: the emulator did not start\n");
		exit(1);
	}
}

pid_t h_spawn_server(const char *const *argv, const char *log, char *url, size_t urlsz)
{
	int out[2];
	if (pipe(out) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		int logfd = open(h_path(false, log), O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(logfd, STDERR_FILENO);
		close(out[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	bool ok = f && fgets(url, (int)urlsz, f);
	if (f)
		fclose(f);
	if (!ok) {
		h_stop_server(&pid);
		return -1;
	}
	url[strcspn(url, "\r\n")] = '\0';
	return pid;
}

void h_stop_server(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

const char *h_record_file(void)
{
	static char rec[1200];
	snprintf(rec, sizeof rec, "%s/tokens.record", env_or("TEST_RUN_DIR", "tests/run"));
	return rec;
}

/* v and a newline in one write: the record is appended to by every test
 * process and server of the run at once (O_APPEND keeps each write whole). */
static int append_line(const char *path, int flags, const char *v)
{
	char line[256];
	int n = snprintf(line, sizeof line, "%s\n", v);
	int fd = open(path, O_WRONLY | O_CREAT | flags, 0600);
	int rc = fd < 0 || n <= 0 || (size_t)n >= sizeof line ||
			 write(fd, line, (size_t)n) != n
		 ? -1
		 : 0;
	explicit_bzero(line, sizeof line);
	if (fd >= 0)
		close(fd);
	return rc;
}

int h_make_credential(const char *path, const char *prefix, char *out, size_t outsz)
{
	unsigned char b[24];
	char v[160];
	if (md_rand_bytes(b, sizeof b) != 0)
		return -1;
	int n = snprintf(v, sizeof v, "%s", prefix);
	for (size_t i = 0; i < sizeof b && n > 0 && (size_t)n < sizeof v; i++)
		n += snprintf(v + n, sizeof v - (size_t)n, "%02x", b[i]);
	int rc = append_line(path, O_TRUNC, v) || append_line(h_record_file(), O_APPEND, v) ? -1 : 0;
	if (!rc && out)
		snprintf(out, outsz, "%s", v);
	explicit_bzero(v, sizeof v);
	explicit_bzero(b, sizeof b);
	return rc;
}

int h_make_cert(const char *cert, const char *key)
{
	char cmd[4000];
	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
		 "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
		 "-keyout '%s' -out '%s' >/dev/null 2>&1", key, cert);
	return system(cmd) == 0 ? 0 : -1;
}

pid_t h_emulator_spawn(const char *const *args, const char *log, char *url, size_t urlsz)
{
	/* Every emulator records the tokens it issues; the leak scan reads the
	 * record after the run. */
	const char *argv[32] = {env_or("EMULATOR_BIN", "build/mdcred-emulator"), "-v",
				"--record-tokens", h_record_file()};
	int n = 4;
	for (size_t i = 0; args && args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return h_spawn_server(argv, log, url, urlsz);
}

void h_fakes_start(h_fakes *f, const char *tag)
{
	char dir[1200], root[1300], key[1300], name[256], tok[160];
	memset(f, 0, sizeof *f);
	snprintf(name, sizeof name, "%s-fakes", tag);
	snprintf(dir, sizeof dir, "%s", h_path(true, name));
	mkdir(dir, 0700);
	snprintf(root, sizeof root, "%s/vault.root", dir);
	snprintf(f->k8s_sa, sizeof f->k8s_sa, "%s/k8s-sa.token", dir);
	snprintf(key, sizeof key, "%s/k8s-key.pem", dir);
	snprintf(name, sizeof name, "%s-k8s-cert.pem", tag);
	snprintf(f->k8s_cert, sizeof f->k8s_cert, "%s", h_path(false, name));
	char vprefix[64], kprefix[64];
	snprintf(vprefix, sizeof vprefix, "hvs.%s", tag);
	snprintf(kprefix, sizeof kprefix, "k8s-%s-", tag);
	if (h_make_credential(root, vprefix, tok, sizeof tok) != 0 ||
	    h_make_credential(f->k8s_sa, kprefix, NULL, 0) != 0 ||
	    h_make_cert(f->k8s_cert, key) != 0) {
		fprintf(stderr, "harness: could not make the fakes' credentials (%s)\n", tag);
		exit(1);
	}
	snprintf(f->env_vault_token, sizeof f->env_vault_token, "VAULT_TOKEN=%s", tok);
	explicit_bzero(tok, sizeof tok);
	const char *vargv[] = {h_python(), env_or("FAKE_VAULT", "tests/fakes/fake_vault.py"),
			       "--root-token-file", root, "--kv-mount", "secret",
			       "--record-tokens", h_record_file(), NULL};
	const char *kargv[] = {h_python(), env_or("FAKE_K8S", "tests/fakes/fake_k8s.py"),
			       "--tls-cert", f->k8s_cert, "--tls-key", key, "--token-file",
			       f->k8s_sa, "--namespace", "team-a", NULL};
	char vlog[128], klog[128];
	snprintf(vlog, sizeof vlog, "%s-vault.log", tag);
	snprintf(klog, sizeof klog, "%s-k8s.log", tag);
	f->vault_pid = h_spawn_server(vargv, vlog, f->vault_url, sizeof f->vault_url);
	f->k8s_pid = h_spawn_server(kargv, klog, f->k8s_url, sizeof f->k8s_url);
	if (f->vault_pid < 0 || f->k8s_pid < 0) {
		fprintf(stderr, "harness: a fake did not start (see %s-*.log)\n", tag);
		exit(1);
	}
	snprintf(f->vault_host, sizeof f->vault_host, "%s", f->vault_url + strlen("http://"));
	snprintf(name, sizeof name, "%s-no-home", tag);
	snprintf(f->env_home, sizeof f->env_home, "HOME=%s", h_path(false, name));
	snprintf(f->env_k8s_url, sizeof f->env_k8s_url, "MDCRED_K8S_API_URL=%s", f->k8s_url);
	snprintf(f->env_k8s_tok, sizeof f->env_k8s_tok, "MDCRED_K8S_TOKEN_FILE=%s", f->k8s_sa);
	snprintf(f->env_k8s_ca, sizeof f->env_k8s_ca, "MDCRED_K8S_CA_FILE=%s", f->k8s_cert);
	const char *env[] = {f->env_vault_token, f->env_home, f->env_k8s_url, f->env_k8s_tok,
			     f->env_k8s_ca, NULL};
	memcpy(f->env, env, sizeof env);
}

void h_fakes_stop(h_fakes *f)
{
	h_stop_server(&f->vault_pid);
	h_stop_server(&f->k8s_pid);
	explicit_bzero(f->env_vault_token, sizeof f->env_vault_token);
}

void h_emulator_stop(void)
{
	h_stop_server(&emu_pid);
}

void h_reset(void)
{
	ck_assert_int_eq(h_ctl("POST", "/_emulator/reset", "{}"), 200);
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
	return md_secret_append(ud, p, sz * n) == 0 ? sz * n : 0;
}

long h_http(const h_http_target *t, const char *method, const char *path, const char *body,
	    md_secret *out)
{
	char url[1200], ct[128];
	snprintf(url, sizeof url, "%s%s", t->base_url, path);
	snprintf(ct, sizeof ct, "Content-Type: %s",
		 t->content_type ? t->content_type : "application/json");
	struct curl_slist *hd = curl_slist_append(NULL, ct);
	if (t->auth_line)
		hd = curl_slist_append(hd, md_secret_str(t->auth_line));
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (t->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, t->cacert);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	long status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	/* The list holds copies of the header lines, the auth line among them. */
	for (struct curl_slist *p = hd; p; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(hd);
	return status;
}

static long ctl_call(const char *method, const char *path, const char *body, md_secret *out)
{
	h_http_target t = {base_url, NULL, NULL, NULL};
	return h_http(&t, method, path, body, out);
}

long h_ctl(const char *method, const char *path, const char *json_body)
{
	_cleanup_secret_ md_secret *b = md_secret_new(4096);
	return ctl_call(method, path, json_body, b);
}

void h_fault(const char *json)
{
	ck_assert_int_eq(h_ctl("POST", "/_emulator/faults", json), 200);
}

void h_state(md_json *doc, md_secret **buf)
{
	*buf = md_secret_new(1 << 16);
	ck_assert_int_eq(ctl_call("GET", "/_emulator/state", NULL, *buf), 200);
	ck_assert_int_eq(md_json_parse(doc, md_secret_str(*buf), md_secret_len(*buf), NULL), 0);
}

int h_request_count(void)
{
	md_json d;
	_cleanup_secret_ md_secret *b = NULL;
	h_state(&d, &b);
	long long n = -1;
	md_json_int(&d, md_json_get(&d, 0, "request_count"), &n);
	md_json_free(&d);
	return (int)n;
}

void h_user_tokens(const char *username, h_tokens *out)
{
	memset(out, 0, sizeof *out);
	md_json d;
	_cleanup_secret_ md_secret *b = NULL;
	h_state(&d, &b);
	int users = md_json_get(&d, 0, "users");
	for (int i = 0; i < md_json_count(&d, users); i++) {
		int u = md_json_at(&d, users, i);
		char name[256];
		md_json_str(&d, md_json_get(&d, u, "username"), name, sizeof name);
		if (strcmp(name, username) != 0)
			continue;
		out->found = true;
		int toks = md_json_get(&d, u, "tokens");
		ck_assert_msg(md_json_count(&d, toks) <= H_MAX_TOKENS,
			      "%s has more than %d tokens: raise H_MAX_TOKENS", username,
			      H_MAX_TOKENS);
		for (int k = 0; k < md_json_count(&d, toks); k++) {
			int t = md_json_at(&d, toks, k);
			h_token *o = &out->t[out->n++];
			md_json_str(&d, md_json_get(&d, t, "id"), o->id, sizeof o->id);
			md_json_str(&d, md_json_get(&d, t, "name"), o->name, sizeof o->name);
			md_json_str(&d, md_json_get(&d, t, "token_type"), o->type, sizeof o->type);
			md_json_bool(&d, md_json_get(&d, t, "revoked"), &o->revoked);
			md_json_bool(&d, md_json_get(&d, t, "expired"), &o->expired);
			o->live = !o->revoked && !o->expired;
			out->live += o->live;
			out->revoked += o->revoked;
		}
	}
	md_json_free(&d);
}

const h_token *h_find_token(const h_tokens *ts, const char *id)
{
	for (int i = 0; i < ts->n; i++)
		if (strcmp(ts->t[i].id, id) == 0)
			return &ts->t[i];
	return NULL;
}

h_token h_token_of(const char *username, const char *id)
{
	h_tokens ts;
	h_user_tokens(username, &ts);
	const h_token *t = h_find_token(&ts, id);
	h_token none = {0};
	return t ? *t : none;
}

int h_live_tokens(const char *username)
{
	h_tokens ts;
	h_user_tokens(username, &ts);
	return ts.found ? ts.live : -1;
}

bool h_is_issued_token(const char *value, size_t len)
{
	_cleanup_secret_ md_secret *all = NULL;
	if (md_file_read_secret(h_record_file(), 64 << 20, &all, NULL) != MD_OK || len == 0)
		return false;
	const char *p = md_secret_str(all);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		if (l == len && memcmp(p, value, len) == 0)
			return true;
		p += l + (nl ? 1 : 0);
	}
	return false;
}

static void read_fd_all(int fd, md_secret *into)
{
	char buf[4096];
	ssize_t n;
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		md_secret_append(into, buf, (size_t)n);
	explicit_bzero(buf, sizeof buf);
}

/* Runs prog with args (args[0] is argv[0]), capturing stdout and stderr. */
static void run_argv(h_result *r, int flags, const char *prog, const char *const *args,
		     const char *stdin_data, const char *const *env)
{
	static int seq;
	char outname[64], errname[64], inname[64];
	seq++;
	/* The pid keeps every forked test's captures apart: the leak scan
	 * must see all of them, not the last test's. */
	snprintf(outname, sizeof outname, "run-%d-%d.stdout", (int)getpid(), seq);
	snprintf(errname, sizeof errname, "run-%d-%d.stderr", (int)getpid(), seq);
	snprintf(inname, sizeof inname, "run-%d-%d.stdin", (int)getpid(), seq);
	int ofd = open(h_path(flags & H_SECRET_STDOUT, outname), O_RDWR | O_CREAT | O_TRUNC, 0600);
	int efd = open(h_path(false, errname), O_RDWR | O_CREAT | O_TRUNC, 0600);
	int ifd = open("/dev/null", O_RDONLY);
	if (stdin_data) {
		/* stdin may carry the admin token: it is a requested input. */
		close(ifd);
		ifd = open(h_path(true, inname), O_RDWR | O_CREAT | O_TRUNC, 0600);
		md_file_write_fd(ifd, stdin_data, strlen(stdin_data));
		lseek(ifd, 0, SEEK_SET);
	}
	ck_assert(ofd >= 0 && efd >= 0 && ifd >= 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(ifd, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		if (!(flags & H_NO_AUTH))
			setenv("MOTHERDUCK_ADMIN_TOKEN_FILE", h_admin_token_file(), 1);
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(prog, (char *const *)args);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = md_secret_new(4096);
	r->err = md_secret_new(4096);
	read_fd_all(ofd, r->out);
	read_fd_all(efd, r->err);
	close(ofd);
	close(efd);
	close(ifd);
}

void h_run(h_result *r, int flags, const char *stdin_data, const char *const *env, ...)
{
	const char *args[128];
	int n = 0;
	args[n++] = "mdcred";
	if (!(flags & H_NO_URL)) {
		args[n++] = "--api-url";
		args[n++] = base_url;
	}
	va_list ap;
	va_start(ap, env);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 126)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	run_argv(r, flags, env_or("MDCRED_BIN", "build/mdcred"), args, stdin_data, env);
}

void h_run_prog(h_result *r, int flags, const char *prog, const char *stdin_data,
		const char *const *env, ...)
{
	const char *args[128];
	int n = 0;
	args[n++] = prog;
	va_list ap;
	va_start(ap, env);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 126)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	run_argv(r, flags | H_NO_AUTH, prog, args, stdin_data, env);
}

pid_t h_spawn_mdcred(const char *tag, void (*prepare)(void), const char *const *args)
{
	char outp[1300], errp[1300], name[64];
	snprintf(name, sizeof name, "bg-%s.stdout", tag);
	snprintf(outp, sizeof outp, "%s", h_path(false, name));
	snprintf(name, sizeof name, "bg-%s.stderr", tag);
	snprintf(errp, sizeof errp, "%s", h_path(false, name));
	const char *argv[64] = {"mdcred", "--api-url", base_url};
	int n = 3;
	for (size_t i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || out < 0 || err < 0)
			_exit(120);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		setenv("MOTHERDUCK_ADMIN_TOKEN_FILE", h_admin_token_file(), 1);
		if (prepare)
			prepare();
		execv(env_or("MDCRED_BIN", "build/mdcred"), (char *const *)argv);
		_exit(127);
	}
	return pid;
}

void h_result_free(h_result *r)
{
	md_secret_free(r->out);
	md_secret_free(r->err);
	r->out = r->err = NULL;
}

bool h_contains(const md_secret *s, const char *needle)
{
	return strstr(md_secret_str(s), needle) != NULL;
}

int h_count(const md_secret *s, const char *needle)
{
	int n = 0;
	size_t l = strlen(needle);
	for (const char *p = md_secret_str(s); l && (p = strstr(p, needle)); p += l)
		n++;
	return n;
}

void h_make_account(const char *username)
{
	h_result r;
	h_run(&r, 0, NULL, NULL, "account", "create", username, NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
}

/* Every case made, under its suite's name, for h_list. */
#define H_MAX_CASES 128
static const char *cur_suite = "";
static struct {
	const char *suite, *tcase;
} cases[H_MAX_CASES];
static int ncases;

Suite *h_suite(const char *name)
{
	cur_suite = name;
	return suite_create(name);
}

TCase *h_tcase(const char *name)
{
	if (ncases == H_MAX_CASES) {
		fprintf(stderr, "harness: more than %d test cases: raise H_MAX_CASES\n",
			H_MAX_CASES);
		exit(1);
	}
	cases[ncases].suite = cur_suite;
	cases[ncases++].tcase = name;
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, h_reset, NULL);
	tcase_set_timeout(tc, 120);
	return tc;
}

void h_list(FILE *f)
{
	for (int i = 0; i < ncases; i++)
		fprintf(f, "%s %s\n", cases[i].suite, cases[i].tcase);
}

void h_part(int n, int part, int parts, int *lo, int *hi)
{
	*lo = n * part / parts;
	*hi = n * (part + 1) / parts;
}

bool h_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long pause_us = 1000;
	for (;;) {
		if (cond(arg))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= timeout_ms)
			return cond(arg);
		struct timespec p = {0, pause_us * 1000};
		nanosleep(&p, NULL);
		if (pause_us < 20000)
			pause_us *= 2;
	}
}

void h_skip(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("SKIPPED: ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

const char *h_python(void)
{
	return env_or("PYTHON", "python3");
}
