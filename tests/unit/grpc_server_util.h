/* grpc_server_util.h - the server under test that the grpc_server suites
 * share (test_grpc_server.c, test_grpc_server_h2.c): a self-signed TLS
 * context, the test handlers (the methods tests/grpc/client.py calls), and
 * the checked fixture that runs a server on a Unix socket in a temp dir on
 * a background thread (setup, teardown, stop_and_join). static inline:
 * each suite is its own binary (Makefile: tests/unit/test_*.c, one each). */
#ifndef GRPC_SERVER_UTIL_H
#define GRPC_SERVER_UTIL_H

#include <check.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "vault/grpc_server.h"
#include "base/log.h"

static inline int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tests wait for a state, never for a while: WAIT_UNTIL polls cond with a
 * short pause until it holds, bounded only against a hang (HANG_MS); the
 * caller then asserts cond (a hang fails there, not in a check timeout). */
#define HANG_MS 20000
#define WAIT_UNTIL(cond)                                                         \
	for (int64_t until_ = now_ms() + HANG_MS; !(cond) && now_ms() < until_;) \
		usleep(5000)

/* ---- the server under test ---- */

static struct {
	char dir[64];
	char sock[128];
	char cert[128];
	SSL_CTX *ctx;
	md_grpc_server *srv;
	int stop_pipe[2]; /* the server stops once its read end is readable */
	pthread_t thread;
	int running;
	int run_rc;
	md_error run_err;
	atomic_int shutdown_called; /* the Shutdown handler asked to stop */
	atomic_int idle_calls;
	atomic_int hold_cancelled;
	atomic_int together; /* calls that entered h_together */
} T;

static inline int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			      const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl, (void)arg;
	static const unsigned char h2[] = "\x02h2";
	unsigned char *o = NULL;
	if (SSL_select_next_proto(&o, outlen, h2, sizeof h2 - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = o;
	return SSL_TLSEXT_ERR_OK;
}

static inline void add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* Self-signed P-256 certificate for "localhost" (written to T.cert for the
 * clients) and a server context choosing ALPN h2. */
static inline void make_tls(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(key);
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
				   -1, 0);
	X509_set_issuer_name(x, nm);
	add_ext(x, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign");
	add_ext(x, NID_ext_key_usage, "serverAuth,clientAuth");
	add_ext(x, NID_subject_alt_name, "DNS:localhost");
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);

	FILE *f = fopen(T.cert, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);

	T.ctx = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(T.ctx);
	SSL_CTX_set_min_proto_version(T.ctx, TLS1_2_VERSION);
	ck_assert_int_eq(SSL_CTX_use_certificate(T.ctx, x), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(T.ctx, key), 1);
	SSL_CTX_set_alpn_select_cb(T.ctx, alpn_select, NULL);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* ---- handlers ---- */

static inline void h_echo(md_grpc_call *c, void *ud)
{
	(void)ud;
	uint8_t *m;
	size_t n;
	int r = md_grpc_call_recv(c, &m, &n);
	if (r != 1) {
		md_grpc_call_finish(c, MD_GRPC_INVALID_ARGUMENT, "no request message");
		return;
	}
	md_grpc_call_send(c, m, n);
	free(m);
	md_grpc_call_finish(c, MD_GRPC_OK, NULL);
}

static inline void h_stream(md_grpc_call *c, void *ud)
{
	(void)ud;
	uint8_t *m;
	size_t n;
	if (md_grpc_call_recv(c, &m, &n) != 1) {
		md_grpc_call_finish(c, MD_GRPC_INVALID_ARGUMENT, "no request message");
		return;
	}
	char num[16] = {0};
	memcpy(num, m, n < sizeof num - 1 ? n : sizeof num - 1);
	free(m);
	int count = atoi(num);
	for (int i = 0; i < count; i++) {
		char item[32];
		int k = snprintf(item, sizeof item, "item-%d", i);
		if (md_grpc_call_send(c, (const uint8_t *)item, (size_t)k) != 0)
			return;
		/* A handler that produces its items over time (behaviour under
		 * test: the client sees them as they come), not a wait. */
		usleep(2000);
	}
	md_grpc_call_finish(c, MD_GRPC_OK, NULL);
}

static inline void h_count(md_grpc_call *c, void *ud)
{
	(void)ud;
	uint8_t *m;
	size_t n;
	int count = 0, r;
	while ((r = md_grpc_call_recv(c, &m, &n)) == 1) {
		free(m);
		count++;
	}
	if (r < 0)
		return;
	char out[16];
	int k = snprintf(out, sizeof out, "%d", count);
	md_grpc_call_send(c, (const uint8_t *)out, (size_t)k);
	md_grpc_call_finish(c, MD_GRPC_OK, NULL);
}

static inline void h_bidi(md_grpc_call *c, void *ud)
{
	(void)ud;
	uint8_t *m;
	size_t n;
	int r;
	while ((r = md_grpc_call_recv(c, &m, &n)) == 1) {
		uint8_t *out = malloc(n + 5);
		memcpy(out, "echo:", 5);
		memcpy(out + 5, m, n);
		free(m);
		int s = md_grpc_call_send(c, out, n + 5);
		free(out);
		if (s != 0)
			return;
	}
	if (r == 0)
		md_grpc_call_finish(c, MD_GRPC_OK, "done");
}

/* Echoes once TOGETHER calls are in it at once: calls that were served one
 * after the other would never all be in together (client.py's concurrent
 * mode proves concurrency by this state, not by a clock). */
#define TOGETHER 100

static inline void h_together(md_grpc_call *c, void *ud)
{
	atomic_fetch_add(&T.together, 1);
	WAIT_UNTIL(atomic_load(&T.together) >= TOGETHER);
	if (atomic_load(&T.together) < TOGETHER) {
		md_grpc_call_finish(c, MD_GRPC_DEADLINE_EXCEEDED, "the calls never were all in at once");
		return;
	}
	h_echo(c, ud);
}

static const char fail_msg[] = "100% sure\nnot \xc3\xbcn\xc3\xaf";

static inline void h_fail(md_grpc_call *c, void *ud)
{
	(void)ud;
	md_grpc_call_finish(c, MD_GRPC_INVALID_ARGUMENT, fail_msg);
}

static inline void h_nofinish(md_grpc_call *c, void *ud)
{
	(void)c, (void)ud;
}

/* Like go-plugin's broker stream: stays open until the call goes away. */
static inline void h_hold(md_grpc_call *c, void *ud)
{
	(void)ud;
	uint8_t *m;
	size_t n;
	int r;
	while ((r = md_grpc_call_recv(c, &m, &n)) == 1) {
		free(m);
		md_grpc_call_send(c, (const uint8_t *)"held", 4);
	}
	if (r < 0)
		atomic_store(&T.hold_cancelled, 1);
	md_grpc_call_finish(c, MD_GRPC_CANCELLED, "server stopping");
}

static inline void h_shutdown(md_grpc_call *c, void *ud)
{
	md_grpc_server *s = ud;
	uint8_t *m;
	size_t n;
	if (md_grpc_call_recv(c, &m, &n) == 1)
		free(m);
	md_grpc_call_send(c, (const uint8_t *)"", 0);
	md_grpc_call_finish(c, MD_GRPC_OK, NULL);
	atomic_store(&T.shutdown_called, 1);
	md_grpc_server_stop(s);
}

/* N messages of 1 MiB: more than the send high-water mark. */
static inline void h_flood(md_grpc_call *c, void *ud)
{
	(void)ud;
	uint8_t *m;
	size_t n;
	if (md_grpc_call_recv(c, &m, &n) != 1) {
		md_grpc_call_finish(c, MD_GRPC_INVALID_ARGUMENT, "no request message");
		return;
	}
	char num[16] = {0};
	memcpy(num, m, n < sizeof num - 1 ? n : sizeof num - 1);
	free(m);
	int count = atoi(num);
	size_t len = (size_t)1 << 20;
	uint8_t *buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	for (int i = 0; i < count; i++) {
		memset(buf, i % 251, len);
		if (md_grpc_call_send(c, buf, len) != 0) {
			free(buf);
			return;
		}
	}
	free(buf);
	md_grpc_call_finish(c, MD_GRPC_OK, NULL);
}

/* Checks the path it was routed by. */
static inline void h_path(md_grpc_call *c, void *ud)
{
	(void)ud;
	const char *p = md_grpc_call_path(c);
	md_grpc_call_send(c, (const uint8_t *)p, strlen(p));
	md_grpc_call_finish(c, MD_GRPC_OK, NULL);
}

static inline void on_idle(void *ud)
{
	(void)ud;
	atomic_fetch_add(&T.idle_calls, 1);
}

static inline void *server_main(void *arg)
{
	(void)arg;
	T.run_rc = md_grpc_server_run(T.srv, &T.run_err);
	return NULL;
}

static inline void setup(void)
{
	memset(&T, 0, sizeof T);
	if (getenv("GRPC_TEST_DEBUG"))
		md_log_init("test_grpc_server", MD_LOG_DEBUG, MD_LOG_TEXT);
	strcpy(T.dir, "/tmp/grpcsrv.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(T.dir));
	snprintf(T.sock, sizeof T.sock, "%s/s.sock", T.dir);
	snprintf(T.cert, sizeof T.cert, "%s/cert.pem", T.dir);
	make_tls();

	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", T.sock);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 128), 0);

	md_error err = {0};
	ck_assert_int_eq(md_grpc_server_new(T.ctx, fd, &T.srv, &err), MD_OK);
	struct {
		const char *path;
		md_grpc_handler fn;
	} routes[] = {
		{"/test.Svc/Echo", h_echo},	    {"/test.Svc/Stream", h_stream},
		{"/test.Svc/Count", h_count},	    {"/test.Svc/Bidi", h_bidi},
		{"/test.Svc/Together", h_together}, {"/test.Svc/Fail", h_fail},
		{"/test.Svc/NoFinish", h_nofinish}, {"/test.Svc/Hold", h_hold},
		{"/test.Svc/Shutdown", h_shutdown}, {"/test.Svc/Path", h_path},
		{"/test.Svc/Flood", h_flood},
	};
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
		ck_assert_int_eq(md_grpc_server_handle(T.srv, routes[i].path, routes[i].fn, T.srv), 0);
	md_grpc_server_on_idle(T.srv, on_idle, NULL);
	ck_assert_int_eq(pipe(T.stop_pipe), 0);
	md_grpc_server_watch_stop(T.srv, T.stop_pipe[0]);
	ck_assert_int_eq(pthread_create(&T.thread, NULL, server_main, NULL), 0);
	T.running = 1;
}

static inline void stop_and_join(void)
{
	if (!T.running)
		return;
	md_grpc_server_stop(T.srv);
	pthread_join(T.thread, NULL);
	T.running = 0;
}

static inline void teardown(void)
{
	stop_and_join();
	md_grpc_server_free(T.srv);
	close(T.stop_pipe[0]);
	close(T.stop_pipe[1]);
	SSL_CTX_free(T.ctx);
	unlink(T.sock);
	unlink(T.cert);
	rmdir(T.dir);
}

#endif
