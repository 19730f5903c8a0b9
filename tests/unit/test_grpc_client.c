/* test_grpc_client.c - unit tests for lib/vault/grpc_client.[ch] against a real
 * gRPC server: tests/grpc_client/server.py on Debian's python3-grpcio,
 * speaking mutual TLS with identities made by lib/vault/mtls.[ch].
 *
 * Each test starts its own server on a Unix socket in a fresh temp dir.
 * GRPC_TEST_PYTHON and GRPC_TEST_SERVER override the interpreter
 * (/usr/bin/python3) and the script (tests/grpc_client/server.py). */
#include <check.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "vault/grpc_client.h"
#include "vault/mtls.h"

/* ---- environment: identities, files, server process, client ---- */

struct env {
	char dir[64];
	char sock[128], key[128], cert[128], client_cert[128];
	md_mtls_identity *server_id, *client_id;
	SSL_CTX *cctx;
	pid_t pid;
	md_grpc_client *cl;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tests wait for a state, never for a while: a server that is ready, and
 * server.py's counts (wait_count), polled with a short pause. HANG_MS
 * bounds a wait against a hang only. */
#define HANG_MS 30000

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* The server needs its private key as PEM; mtls.h does not hand keys out,
 * so take it from a server context built from the identity. */
static void write_key(const md_mtls_identity *id, const char *peer_pem, const char *path)
{
	SSL_CTX *sctx = NULL;
	md_error err = {0};
	ck_assert_msg(md_mtls_server_ctx(id, peer_pem, &sctx, &err) == MD_OK, "%s", err.msg);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_PrivateKey(f, SSL_CTX_get0_privatekey(sctx), NULL, NULL, 0,
					      NULL, NULL),
			 1);
	fclose(f);
	SSL_CTX_free(sctx);
}

static void start_server(struct env *e)
{
	const char *py = getenv("GRPC_TEST_PYTHON");
	const char *script = getenv("GRPC_TEST_SERVER");
	if (py == NULL)
		py = "/usr/bin/python3";
	if (script == NULL)
		script = "tests/grpc_client/server.py";
	ck_assert_msg(access(script, R_OK) == 0, "%s not found (run from the repository root)",
		      script);
	int out[2];
	ck_assert_int_eq(pipe(out), 0);
	e->pid = fork();
	ck_assert_int_ge(e->pid, 0);
	if (e->pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execl(py, py, script, e->sock, e->key, e->cert, e->client_cert, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	/* Wait for "ready" (importing grpc takes a moment, more under ASan). */
	char line[64] = "";
	size_t have = 0;
	int64_t deadline = now_ms() + HANG_MS;
	while (have < sizeof line - 1 && strchr(line, '\n') == NULL) {
		struct pollfd pf = {.fd = out[0], .events = POLLIN};
		int64_t left = deadline - now_ms();
		ck_assert_msg(left > 0, "server.py did not get ready in %d s", HANG_MS / 1000);
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(out[0], line + have, sizeof line - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		line[have] = '\0';
	}
	close(out[0]);
	ck_assert_msg(strncmp(line, "ready", 5) == 0,
		      "server.py failed to start (is python3-grpcio installed? "
		      "apt-get install -y python3-grpcio); see its stderr above");
}

static SSL_CTX *client_ctx(const md_mtls_identity *id, const char *peer_pem)
{
	SSL_CTX *ctx = NULL;
	md_error err = {0};
	ck_assert_msg(md_mtls_client_ctx(id, peer_pem, &ctx, &err) == MD_OK, "%s", err.msg);
	return ctx;
}

/* Identities, files, server; and a connected client when dial is set. */
static void env_up(struct env *e, int dial)
{
	memset(e, 0, sizeof *e);
	snprintf(e->dir, sizeof e->dir, "/tmp/mdgrpc.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	snprintf(e->sock, sizeof e->sock, "%s/s.sock", e->dir);
	snprintf(e->key, sizeof e->key, "%s/key.pem", e->dir);
	snprintf(e->cert, sizeof e->cert, "%s/cert.pem", e->dir);
	snprintf(e->client_cert, sizeof e->client_cert, "%s/client.pem", e->dir);
	md_error err = {0};
	ck_assert_msg(md_mtls_identity_new(&e->server_id, &err) == MD_OK, "%s", err.msg);
	ck_assert_msg(md_mtls_identity_new(&e->client_id, &err) == MD_OK, "%s", err.msg);
	write_key(e->server_id, md_mtls_identity_cert_pem(e->client_id), e->key);
	write_file(e->cert, md_mtls_identity_cert_pem(e->server_id));
	write_file(e->client_cert, md_mtls_identity_cert_pem(e->client_id));
	start_server(e);
	e->cctx = client_ctx(e->client_id, md_mtls_identity_cert_pem(e->server_id));
	if (dial) {
		int rc = md_grpc_client_dial("unix", e->sock, e->cctx, "localhost", 5000, &e->cl,
					     &err);
		ck_assert_msg(rc == MD_OK, "dial: %s", err.msg);
		ck_assert_ptr_nonnull(e->cl);
	}
}

static void env_down(struct env *e)
{
	md_grpc_client_free(e->cl);
	SSL_CTX_free(e->cctx);
	if (e->pid > 0) {
		kill(e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
	}
	md_mtls_identity_free(e->server_id);
	md_mtls_identity_free(e->client_id);
	unlink(e->sock);
	unlink(e->key);
	unlink(e->cert);
	unlink(e->client_cert);
	rmdir(e->dir);
}

struct result {
	int rc, status;
	uint8_t *resp;
	size_t len;
	char msg[256];
	md_error err;
};

static struct result call(md_grpc_client *cl, const char *path, const void *req, size_t len,
			  int timeout_ms)
{
	struct result r;
	memset(&r, 0, sizeof r);
	r.rc = md_grpc_client_unary(cl, path, req, len, timeout_ms, &r.resp, &r.len, &r.status,
				    r.msg, sizeof r.msg, &r.err);
	return r;
}

static void expect_echo(md_grpc_client *cl, const char *path, const void *req, size_t len)
{
	struct result r = call(cl, path, req, len, 10000);
	ck_assert_msg(r.rc == MD_OK, "%s: %s", path, r.err.msg);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(r.resp);
	ck_assert_uint_eq(r.len, len);
	if (len)
		ck_assert_int_eq(memcmp(r.resp, req, len), 0);
	free(r.resp);
}

/* The count server.py keeps under name (/test.Echo/Count). */
static int server_count(md_grpc_client *cl, const char *name)
{
	struct result r = call(cl, "/test.Echo/Count", name, strlen(name), 10000);
	ck_assert_msg(r.rc == MD_OK && r.status == 0, "count %s: %s", name, r.err.msg);
	char num[16] = "";
	memcpy(num, r.resp, r.len < sizeof num - 1 ? r.len : sizeof num - 1);
	free(r.resp);
	return atoi(num);
}

/* Waits until that count is want. */
static void wait_count(md_grpc_client *cl, const char *name, int want)
{
	int64_t until = now_ms() + HANG_MS;
	int n;
	while ((n = server_count(cl, name)) != want) {
		ck_assert_msg(now_ms() < until, "server count %s is %d, not %d", name, n, want);
		usleep(5000);
	}
}

/* ---- tests ---- */

START_TEST(unary_echo)
{
	struct env e;
	env_up(&e, 1);
	expect_echo(e.cl, "/test.Echo/Unary", "hello", 5);
	expect_echo(e.cl, "/test.Echo/Unary", "", 0); /* empty message */
	/* Many calls, one after the other, on the one connection. */
	for (int i = 0; i < 200; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof buf, "call %d", i);
		expect_echo(e.cl, "/test.Echo/Unary", buf, (size_t)n);
	}
	env_down(&e);
}
END_TEST

START_TEST(big_message_20mib)
{
	struct env e;
	env_up(&e, 1);
	size_t n = 20u << 20;
	uint8_t *big = malloc(n);
	ck_assert_ptr_nonnull(big);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		big[i] = (uint8_t)x;
	}
	struct result r = call(e.cl, "/test.Echo/Unary", big, n, 60000);
	ck_assert_msg(r.rc == MD_OK, "%s", r.err.msg);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.len, n);
	ck_assert_int_eq(memcmp(r.resp, big, n), 0);
	free(r.resp);
	free(big);
	env_down(&e);
}
END_TEST

START_TEST(status_with_message)
{
	struct env e;
	env_up(&e, 1);
	/* Non-ASCII and '%' travel percent-encoded in grpc-message. */
	const char *req = "5:n\xc3\xb6t found: 100% sure \xe2\x9c\x93";
	struct result r = call(e.cl, "/test.Echo/Status", req, strlen(req), 10000);
	ck_assert_msg(r.rc == MD_OK, "%s", r.err.msg);
	ck_assert_int_eq(r.status, 5);
	ck_assert_str_eq(r.msg, "n\xc3\xb6t found: 100% sure \xe2\x9c\x93");
	ck_assert_ptr_null(r.resp);
	ck_assert_uint_eq(r.len, 0);

	r = call(e.cl, "/test.Echo/Status", "3:bad arg", 9, 10000);
	ck_assert_int_eq(r.rc, MD_OK);
	ck_assert_int_eq(r.status, 3);
	ck_assert_str_eq(r.msg, "bad arg");

	/* An unknown method: the server answers UNIMPLEMENTED (trailers-only). */
	r = call(e.cl, "/test.Echo/Nope", "x", 1, 10000);
	ck_assert_msg(r.rc == MD_OK, "%s", r.err.msg);
	ck_assert_int_eq(r.status, 12);
	ck_assert_ptr_null(r.resp);

	/* The connection is still good. */
	expect_echo(e.cl, "/test.Echo/Unary", "after", 5);
	env_down(&e);
}
END_TEST

#define NTHREADS 100

struct worker {
	md_grpc_client *cl;
	int idx;
	int ok;
	char err[MD_ERR_MSG_MAX];
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	char req[32];
	int n = snprintf(req, sizeof req, "%d %d", NTHREADS, w->idx);
	struct result r = call(w->cl, "/test.Echo/Together", req, (size_t)n, HANG_MS);
	w->ok = r.rc == MD_OK && r.status == 0 && r.len == (size_t)n &&
		memcmp(r.resp, req, (size_t)n) == 0;
	snprintf(w->err, sizeof w->err, "%s", r.err.msg);
	free(r.resp);
	return NULL;
}

START_TEST(concurrent_100_threads)
{
	struct env e;
	env_up(&e, 1);
	expect_echo(e.cl, "/test.Echo/Unary", "warm", 4);
	static struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){.cl = e.cl, .idx = i};
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	/* Together answers only once all 100 calls are in it at once: calls
	 * the client made one after the other would get no answer. */
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_msg(w[i].ok, "call %d failed: %s", i, w[i].err);
	env_down(&e);
}
END_TEST

START_TEST(call_timeout)
{
	struct env e;
	env_up(&e, 1);
	int64_t t0 = now_ms();
	struct result r = call(e.cl, "/test.Echo/Slow", "zzz", 3, 50);
	int64_t elapsed = now_ms() - t0;
	ck_assert_int_eq(r.rc, MD_ETRANSIENT);
	ck_assert_int_eq(r.err.code, MD_ETRANSIENT);
	ck_assert_msg(strstr(r.err.msg, "within 50 ms") != NULL, "message: %s", r.err.msg);
	ck_assert_ptr_null(r.resp);
	ck_assert_int_ge(elapsed, 45);
	/* The connection survives the reset stream, also once the server is
	 * done with the abandoned call: its late answer, if it sent one, came
	 * before the answer that says so. */
	expect_echo(e.cl, "/test.Echo/Unary", "still here", 10);
	wait_count(e.cl, "slow", 0);
	expect_echo(e.cl, "/test.Echo/Unary", "and now", 7);
	env_down(&e);
}
END_TEST

/* Timeouts right around the server's 200 ms: completions and cancellations
 * race; every call ends as an echo or as a timeout, nothing else, and the
 * connection stays usable. */
struct racer {
	md_grpc_client *cl;
	int idx;
	int outcome; /* 1 echo, 2 timeout, 0 anything else */
	char err[MD_ERR_MSG_MAX];
};

static void *racer_main(void *p)
{
	struct racer *w = p;
	char req[32];
	int n = snprintf(req, sizeof req, "race %d", w->idx);
	struct result r = call(w->cl, "/test.Echo/Slow", req, (size_t)n, 180 + w->idx % 41);
	if (r.rc == MD_OK && r.status == 0 && r.len == (size_t)n &&
	    memcmp(r.resp, req, (size_t)n) == 0)
		w->outcome = 1;
	else if (r.rc == MD_ETRANSIENT && strstr(r.err.msg, "within") != NULL && r.resp == NULL)
		w->outcome = 2;
	snprintf(w->err, sizeof w->err, "%s", r.err.msg);
	free(r.resp);
	return NULL;
}

START_TEST(timeouts_race_completions)
{
	struct env e;
	env_up(&e, 1);
	static struct racer w[NTHREADS];
	pthread_t th[NTHREADS];
	int counts[3] = {0, 0, 0};
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < NTHREADS; i++) {
			w[i] = (struct racer){.cl = e.cl, .idx = i + round};
			ck_assert_int_eq(pthread_create(&th[i], NULL, racer_main, &w[i]), 0);
		}
		for (int i = 0; i < NTHREADS; i++) {
			pthread_join(th[i], NULL);
			ck_assert_msg(w[i].outcome != 0, "call %d: %s", i, w[i].err);
			counts[w[i].outcome]++;
		}
	}
	fprintf(stderr, "timeouts_race_completions: %d echoed, %d timed out\n", counts[1],
		counts[2]);
	ck_assert_int_gt(counts[2], 0);
	wait_count(e.cl, "slow", 0); /* late answers to abandoned calls came */
	expect_echo(e.cl, "/test.Echo/Unary", "intact", 6);
	env_down(&e);
}
END_TEST

/* A call the server holds (/test.Echo/Hold) on a thread of its own:
 * held_start returns once the server has it. */
struct held {
	md_grpc_client *cl;
	int timeout_ms;
	pthread_t th;
	struct result r;
};

static void *held_main(void *p)
{
	struct held *h = p;
	h->r = call(h->cl, "/test.Echo/Hold", "held", 4, h->timeout_ms);
	return NULL;
}

static void held_start(struct held *h, md_grpc_client *cl, int timeout_ms)
{
	*h = (struct held){.cl = cl, .timeout_ms = timeout_ms};
	ck_assert_int_eq(pthread_create(&h->th, NULL, held_main, h), 0);
	wait_count(cl, "held", 1);
}

START_TEST(server_killed_mid_call)
{
	struct env e;
	env_up(&e, 1);
	expect_echo(e.cl, "/test.Echo/Unary", "before", 6);
	struct held h;
	held_start(&h, e.cl, HANG_MS);
	kill(e.pid, SIGKILL);
	pthread_join(h.th, NULL);
	waitpid(e.pid, NULL, 0);
	e.pid = 0;
	ck_assert_int_eq(h.r.rc, MD_ETRANSIENT);
	ck_assert_msg(strstr(h.r.err.msg, "lost") != NULL, "message: %s", h.r.err.msg);
	ck_assert_ptr_null(h.r.resp);
	fprintf(stderr, "server_killed_mid_call: %s\n", h.r.err.msg);

	/* Later calls fail at once, with a clear message ("gone" is said
	 * before any wait; a wait would end in "within"). */
	struct result r = call(e.cl, "/test.Echo/Unary", "after", 5, 5000);
	ck_assert_int_eq(r.rc, MD_ETRANSIENT);
	ck_assert_msg(strstr(r.err.msg, "gone") != NULL, "message: %s", r.err.msg);
	fprintf(stderr, "server_killed_mid_call, later: %s\n", r.err.msg);
	env_down(&e);
}
END_TEST

START_TEST(dial_wrong_trust_fails)
{
	struct env e;
	env_up(&e, 0);
	md_mtls_identity *other = NULL;
	md_error err = {0};
	ck_assert_int_eq(md_mtls_identity_new(&other, &err), MD_OK);
	SSL_CTX *bad = client_ctx(e.client_id, md_mtls_identity_cert_pem(other));
	md_grpc_client *cl = NULL;
	int rc = md_grpc_client_dial("unix", e.sock, bad, "localhost", 5000, &cl, &err);
	ck_assert_int_ne(rc, MD_OK);
	ck_assert_ptr_null(cl);
	ck_assert_msg(strstr(err.msg, "handshake") != NULL, "message: %s", err.msg);
	fprintf(stderr, "dial_wrong_trust_fails: %s\n", err.msg);
	SSL_CTX_free(bad);
	md_mtls_identity_free(other);

	/* The right trust still works against the same server. */
	rc = md_grpc_client_dial("unix", e.sock, e.cctx, "localhost", 5000, &e.cl, &err);
	ck_assert_msg(rc == MD_OK, "%s", err.msg);
	expect_echo(e.cl, "/test.Echo/Unary", "ok", 2);
	env_down(&e);
}
END_TEST

/* The server refuses a client certificate it does not expect. Under TLS 1.3
 * the client's side of the handshake ends before the server has judged the
 * certificate; dial still fails because it waits for the server's SETTINGS. */
START_TEST(server_refuses_other_client_cert)
{
	struct env e;
	env_up(&e, 0);
	md_mtls_identity *other = NULL;
	md_error err = {0};
	ck_assert_int_eq(md_mtls_identity_new(&other, &err), MD_OK);
	SSL_CTX *bad = client_ctx(other, md_mtls_identity_cert_pem(e.server_id));
	md_grpc_client *cl = NULL;
	int rc = md_grpc_client_dial("unix", e.sock, bad, "localhost", 5000, &cl, &err);
	ck_assert_int_eq(rc, MD_ETRANSIENT);
	ck_assert_ptr_null(cl);
	ck_assert_msg(strstr(err.msg, "HTTP/2") != NULL, "message: %s", err.msg);
	fprintf(stderr, "server_refuses_other_client_cert: %s\n", err.msg);
	SSL_CTX_free(bad);
	md_mtls_identity_free(other);
	env_down(&e);
}
END_TEST

START_TEST(dial_nothing_there)
{
	md_mtls_identity *id = NULL;
	md_error err = {0};
	ck_assert_int_eq(md_mtls_identity_new(&id, &err), MD_OK);
	SSL_CTX *ctx = client_ctx(id, md_mtls_identity_cert_pem(id));
	md_grpc_client *cl = NULL;
	int rc = md_grpc_client_dial("unix", "/nonexistent/grpc.sock", ctx, "localhost", 1000,
				     &cl, &err);
	ck_assert_int_eq(rc, MD_ETRANSIENT);
	ck_assert_ptr_null(cl);
	ck_assert_msg(strstr(err.msg, "/nonexistent/grpc.sock") != NULL, "%s", err.msg);
	rc = md_grpc_client_dial("carrier-pigeon", "x", ctx, "localhost", 1000, &cl, &err);
	ck_assert_int_eq(rc, MD_EUSAGE);
	rc = md_grpc_client_dial("tcp", "no-port", ctx, "localhost", 1000, &cl, &err);
	ck_assert_int_eq(rc, MD_EUSAGE);
	SSL_CTX_free(ctx);
	md_mtls_identity_free(id);
}
END_TEST

/* Closing the client with calls in flight fails them and returns. */
START_TEST(free_with_call_in_flight)
{
	struct env e;
	env_up(&e, 1);
	struct held h;
	held_start(&h, e.cl, 0); /* no time limit: only the free ends it */
	md_grpc_client_free(e.cl);
	e.cl = NULL;
	pthread_join(h.th, NULL);
	ck_assert_int_eq(h.r.rc, MD_ETRANSIENT);
	ck_assert_msg(strstr(h.r.err.msg, "closed") != NULL, "message: %s", h.r.err.msg);
	env_down(&e);
}
END_TEST

static Suite *grpc_client_suite(void)
{
	Suite *s = suite_create("grpc_client");
	TCase *tc = tcase_create("against_python_grpc");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, unary_echo);
	tcase_add_test(tc, big_message_20mib);
	tcase_add_test(tc, status_with_message);
	tcase_add_test(tc, concurrent_100_threads);
	tcase_add_test(tc, call_timeout);
	tcase_add_test(tc, timeouts_race_completions);
	tcase_add_test(tc, server_killed_mid_call);
	tcase_add_test(tc, dial_wrong_trust_fails);
	tcase_add_test(tc, server_refuses_other_client_cert);
	tcase_add_test(tc, dial_nothing_there);
	tcase_add_test(tc, free_with_call_in_flight);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(grpc_client_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
