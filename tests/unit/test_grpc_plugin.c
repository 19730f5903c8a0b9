/* test_grpc_plugin.c - the plugin binary's lifetimes, driven by a small host
 * written here on lib/vault (the gRPC client and server, AutoMTLS), which
 * can do what the Go host never does: call Setup a second time while a
 * request is inside a storage call, and send SIGTERM while the plugin is
 * still starting.
 *
 * The host: spawns the plugin with go-plugin's environment, reads the
 * handshake line, dials the plugin (trusting the certificate in the line),
 * serves pb.Storage on a Unix socket of its own and announces it on the
 * broker stream (one ConnInfo per StartStream call: the plugin's broker
 * handler reads until the client half-closes). Messages are encoded here
 * by hand: the few fields the tests need.
 *
 * The plugin binary: PLUGIN_BIN, else vault-plugin-secrets-motherduck
 * beside this test's directory (build/ or build-san/). */
#include <check.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "vault/grpc_client.h"
#include "vault/grpc_server.h"
#include "vault/mtls.h"

extern char **environ;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static const char *plugin_bin(void)
{
	static char path[PATH_MAX];
	const char *v = getenv("PLUGIN_BIN");
	if (v)
		return v;
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 64);
	ck_assert_int_gt(n, 0);
	path[n] = '\0';
	char *slash = strrchr(path, '/'); /* .../build/tests/test_grpc_plugin */
	*slash = '\0';
	slash = strrchr(path, '/');
	strcpy(slash, "/vault-plugin-secrets-motherduck");
	ck_assert_msg(access(path, X_OK) == 0, "%s not built (make it first)", path);
	return path;
}

/* ---- protobuf, by hand ---- */

static size_t pb_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	do {
		p[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			p[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

/* A length-delimited field (string, bytes, message). */
static size_t pb_bytes(uint8_t *p, unsigned field, const void *v, size_t len)
{
	size_t n = pb_varint(p, (uint64_t)field << 3 | 2);
	n += pb_varint(p + n, len);
	memcpy(p + n, v, len);
	return n + len;
}

/* Finds length-delimited field `field` at the top of msg; 1 if found. */
static int pb_find(const uint8_t *m, size_t len, unsigned field, const uint8_t **v, size_t *vlen)
{
	size_t i = 0;
	while (i < len) {
		uint64_t key = 0, x = 0;
		for (int sh = 0; i < len; sh += 7) {
			key |= (uint64_t)(m[i] & 0x7f) << sh;
			if (!(m[i++] & 0x80))
				break;
		}
		unsigned wt = key & 7;
		if (wt == 0) {
			while (i < len && (m[i++] & 0x80))
				;
			continue;
		}
		ck_assert_uint_eq(wt, 2);
		for (int sh = 0; i < len; sh += 7) {
			x |= (uint64_t)(m[i] & 0x7f) << sh;
			if (!(m[i++] & 0x80))
				break;
		}
		ck_assert_uint_le(x, len - i);
		if ((key >> 3) == field) {
			*v = m + i;
			*vlen = x;
			return 1;
		}
		i += x;
	}
	return 0;
}

/* ---- the host's storage: pb.Storage on a Unix socket ---- */

struct store {
	char sock[160];
	md_grpc_server *srv;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int gets; /* Get calls that arrived */
	int hold; /* Get waits while set */
};

static void store_get(md_grpc_call *c, void *ud)
{
	struct store *s = ud;
	uint8_t *m;
	size_t n;
	if (md_grpc_call_recv(c, &m, &n) != 1) {
		md_grpc_call_finish(c, MD_GRPC_INVALID_ARGUMENT, "no request");
		return;
	}
	free(m);
	pthread_mutex_lock(&s->mu);
	s->gets++;
	pthread_cond_broadcast(&s->cv);
	while (s->hold)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	/* An empty StorageGetReply: no entry, no error. */
	if (md_grpc_call_send(c, NULL, 0) == 0)
		md_grpc_call_finish(c, MD_GRPC_OK, NULL);
}

static void *store_main(void *arg)
{
	struct store *s = arg;
	md_error err = {0};
	md_grpc_server_run(s->srv, &err);
	return NULL;
}

static void store_start(struct store *s, SSL_CTX *ctx, const char *dir, int id)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	snprintf(s->sock, sizeof s->sock, "%s/storage%d.sock", dir, id);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->sock);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	md_error err = {0};
	ck_assert_int_eq(md_grpc_server_new(ctx, fd, &s->srv, &err), MD_OK);
	ck_assert_int_eq(md_grpc_server_handle(s->srv, "/pb.Storage/Get", store_get, s), 0);
	ck_assert_int_eq(pthread_create(&s->th, NULL, store_main, s), 0);
}

static void store_hold(struct store *s, int on)
{
	pthread_mutex_lock(&s->mu);
	s->hold = on;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Waits until at least n Get calls arrived; 1, or 0 after 10 s. */
static int store_wait_gets(struct store *s, int n)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&s->mu);
	while (s->gets < n && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
		;
	int ok = s->gets >= n;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

static void store_stop(struct store *s)
{
	store_hold(s, 0);
	md_grpc_server_stop(s->srv);
	pthread_join(s->th, NULL);
	md_grpc_server_free(s->srv);
	unlink(s->sock);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

/* ---- the host ---- */

static struct {
	char dir[64];
	char log[128];
	md_mtls_identity *id;
	pid_t pid;
	int out; /* the plugin's stdout */
	char *plugin_pem;
	SSL_CTX *cctx, *sctx;
	md_grpc_client *cl;
} H;

static void host_setup(void)
{
	memset(&H, 0, sizeof H);
	H.out = -1;
	strcpy(H.dir, "/tmp/grpcplug.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(H.dir));
	snprintf(H.log, sizeof H.log, "%s/plugin.log", H.dir);
	md_error err = {0};
	ck_assert_msg(md_mtls_identity_new(&H.id, &err) == MD_OK, "%s", err.msg);
}

/* Starts the plugin with go-plugin's environment (and extra, "K=V" or
 * NULL); its stdout is H.out, its stderr H.log. */
static void host_spawn(const char *extra)
{
	setenv("VAULT_BACKEND_PLUGIN", "6669da05-b1c8-4f49-97d9-c8e5bed98e20", 1);
	setenv("PLUGIN_PROTOCOL_VERSIONS", "5", 1);
	setenv("PLUGIN_CLIENT_CERT", md_mtls_identity_cert_pem(H.id), 1);
	setenv("PLUGIN_UNIX_SOCKET_DIR", H.dir, 1);
	if (extra)
		ck_assert_int_eq(putenv((char *)extra), 0);
	int out[2];
	ck_assert_int_eq(pipe(out), 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	posix_spawn_file_actions_addclose(&fa, out[1]);
	posix_spawn_file_actions_addopen(&fa, 2, H.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	char *argv[] = {(char *)plugin_bin(), NULL};
	int rc = posix_spawn(&H.pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_msg(rc == 0, "spawn %s: %s", argv[0], strerror(rc));
	close(out[1]);
	H.out = out[0];
}

/* Waits (at most ms) for the plugin to exit; its wait status, or -1. */
static int host_wait_exit(int ms)
{
	int64_t until = now_ms() + ms;
	int st;
	for (;;) {
		pid_t r = waitpid(H.pid, &st, WNOHANG);
		if (r == H.pid) {
			H.pid = 0;
			return st;
		}
		if (now_ms() >= until)
			return -1;
		nap_ms(5);
	}
}

/* The DER of the handshake line's certificate (base64 without padding) as PEM. */
static char *cert_pem_of(const char *b64)
{
	size_t n = strlen(b64);
	char *padded = calloc(1, n + 4);
	memcpy(padded, b64, n);
	size_t pad = (4 - n % 4) % 4;
	memset(padded + n, '=', pad);
	unsigned char *der = malloc(n + 4);
	int dl = EVP_DecodeBlock(der, (unsigned char *)padded, (int)(n + pad));
	ck_assert_int_gt(dl, 0);
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, dl - (int)pad);
	ck_assert_ptr_nonnull(x);
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	char *data;
	long len = BIO_get_mem_data(b, &data);
	char *pem = strndup(data, (size_t)len);
	BIO_free(b);
	X509_free(x);
	free(der);
	free(padded);
	return pem;
}

/* Reads the handshake line and dials the plugin. */
static void host_connect(void)
{
	char line[4096];
	size_t have = 0;
	int64_t until = now_ms() + 20000;
	while (!memchr(line, '\n', have)) {
		ck_assert_msg(have < sizeof line - 1, "handshake line too long");
		struct pollfd pf = {.fd = H.out, .events = POLLIN};
		ck_assert_msg(now_ms() < until, "no handshake line in 20 s (see %s)", H.log);
		if (poll(&pf, 1, 100) <= 0)
			continue;
		ssize_t n = read(H.out, line + have, sizeof line - 1 - have);
		ck_assert_msg(n > 0, "the plugin closed stdout before its handshake (see %s)", H.log);
		have += (size_t)n;
	}
	line[have] = '\0';
	*strchr(line, '\n') = '\0';
	char *field[6], *save = NULL;
	int nf = 0;
	for (char *f = strtok_r(line, "|", &save); f && nf < 6; f = strtok_r(NULL, "|", &save))
		field[nf++] = f;
	ck_assert_int_eq(nf, 6);
	ck_assert_str_eq(field[2], "unix");
	H.plugin_pem = cert_pem_of(field[5]);
	md_error err = {0};
	ck_assert_int_eq(md_mtls_client_ctx(H.id, H.plugin_pem, &H.cctx, &err), MD_OK);
	ck_assert_int_eq(md_mtls_server_ctx(H.id, H.plugin_pem, &H.sctx, &err), MD_OK);
	ck_assert_msg(md_grpc_client_dial("unix", field[3], H.cctx, "localhost", 10000, &H.cl,
					  &err) == MD_OK,
		      "dial the plugin: %s", err.msg);
}

static void host_teardown(void)
{
	md_grpc_client_free(H.cl);
	if (H.pid > 0) {
		kill(H.pid, SIGKILL);
		waitpid(H.pid, NULL, 0);
	}
	if (H.out >= 0)
		close(H.out);
	SSL_CTX_free(H.cctx);
	SSL_CTX_free(H.sctx);
	free(H.plugin_pem);
	md_mtls_identity_free(H.id);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", H.dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* One unary call to the plugin; the gRPC status (transport errors fail). */
static int rpc(const char *path, const uint8_t *req, size_t len, uint8_t **resp, size_t *rlen)
{
	int status = -1;
	char msg[256];
	md_error err = {0};
	int rc = md_grpc_client_unary(H.cl, path, req, len, 20000, resp, rlen, &status, msg,
				      sizeof msg, &err);
	ck_assert_msg(rc == MD_OK, "%s: %s", path, err.msg);
	return status;
}

/* Announces storage s as broker id `id` on the broker stream. The plugin's
 * handler takes the ConnInfo and answers OK without a message, which the
 * unary client counts as an error: only the announcement matters. */
static void host_announce(const struct store *s, unsigned id)
{
	uint8_t m[256];
	size_t n = pb_varint(m, 1 << 3 | 0);
	n += pb_varint(m + n, id);
	n += pb_bytes(m + n, 2, "unix", 4);
	n += pb_bytes(m + n, 3, s->sock, strlen(s->sock));
	uint8_t *resp = NULL;
	size_t rlen = 0;
	int status = -1;
	md_error err = {0};
	int rc = md_grpc_client_unary(H.cl, "/plugin.GRPCBroker/StartStream", m, n, 20000, &resp,
				      &rlen, &status, NULL, 0, &err);
	free(resp);
	ck_assert_msg(rc == MD_OK || strstr(err.msg, "no response message"), "announce: %s",
		      err.msg);
}

static void host_setup_call(unsigned broker_id)
{
	uint8_t m[16], *resp = NULL;
	size_t n = pb_varint(m, 1 << 3 | 0), rlen = 0;
	n += pb_varint(m + n, broker_id);
	ck_assert_int_eq(rpc("/pb.Backend/Setup", m, n, &resp, &rlen), MD_GRPC_OK);
	const uint8_t *e;
	size_t elen;
	ck_assert_msg(!pb_find(resp, rlen, 1, &e, &elen), "Setup: %.*s", (int)elen, e);
	free(resp);
}

/* `read config`; "" when the reply carries no error, else its message. */
struct request {
	pthread_t th;
	char err[512];
};

static void *request_main(void *arg)
{
	struct request *r = arg;
	uint8_t inner[64], m[80], *resp = NULL;
	size_t in = pb_bytes(inner, 3, "read", 4), rlen = 0;
	in += pb_bytes(inner + in, 4, "config", 6);
	size_t n = pb_bytes(m, 2, inner, in);
	int st = rpc("/pb.Backend/HandleRequest", m, n, &resp, &rlen);
	const uint8_t *pe, *msg;
	size_t pelen, mlen;
	r->err[0] = '\0';
	if (st != MD_GRPC_OK)
		snprintf(r->err, sizeof r->err, "gRPC status %d", st);
	else if (pb_find(resp, rlen, 2, &pe, &pelen) && pb_find(pe, pelen, 2, &msg, &mlen))
		snprintf(r->err, sizeof r->err, "%.*s", (int)mlen, (const char *)msg);
	else if (pb_find(resp, rlen, 2, &pe, &pelen))
		snprintf(r->err, sizeof r->err, "an error without a message");
	free(resp);
	return NULL;
}

/* ---- tests ---- */

/* A second Setup replaces the storage client while a request is inside a
 * Storage.Get on the first: the request keeps the client it started with
 * (its reference) and completes; the old client is closed only when that
 * request lets go of it; later requests use the new one. */
START_TEST(second_setup_during_storage_call)
{
	host_setup();
	host_spawn(NULL);
	host_connect();
	struct store a, b;
	store_start(&a, H.sctx, H.dir, 1);
	host_announce(&a, 1);
	host_setup_call(1);

	store_hold(&a, 1);
	struct request r1;
	ck_assert_int_eq(pthread_create(&r1.th, NULL, request_main, &r1), 0);
	ck_assert_msg(store_wait_gets(&a, 1), "the request never reached storage a");

	store_start(&b, H.sctx, H.dir, 2);
	host_announce(&b, 2);
	host_setup_call(2); /* while r1 is inside a's Get */

	store_hold(&a, 0);
	pthread_join(r1.th, NULL);
	ck_assert_msg(r1.err[0] == '\0', "the request in flight during Setup failed: %s", r1.err);
	/* its reference was the last one on a's client: a's connection goes */
	int64_t until = now_ms() + 10000;
	while (md_grpc_server_connections(a.srv) > 0 && now_ms() < until)
		nap_ms(5);
	ck_assert_int_eq(md_grpc_server_connections(a.srv), 0);

	struct request r2;
	request_main(&r2);
	ck_assert_msg(r2.err[0] == '\0', "request after Setup: %s", r2.err);
	ck_assert_int_eq(a.gets, 1);
	ck_assert_int_eq(b.gets, 1);

	uint8_t *resp = NULL;
	size_t rlen = 0;
	ck_assert_int_eq(rpc("/plugin.GRPCController/Shutdown", NULL, 0, &resp, &rlen), MD_GRPC_OK);
	free(resp);
	int st = host_wait_exit(10000);
	ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "plugin after Shutdown: wait status %d (see %s)", st, H.log);
	store_stop(&a);
	store_stop(&b);
	host_teardown();
}
END_TEST

/* True when /proc says pid has a handler for sig (SigCgt). */
static int catches(pid_t pid, int sig)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	unsigned long long mask = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "SigCgt: %llx", &mask) == 1)
			break;
	fclose(f);
	return (mask >> (sig - 1)) & 1;
}

/* SIGTERM while the plugin is starting, before its server exists: it must
 * still stop (a host that died during start-up sends it, through
 * PR_SET_PDEATHSIG). The plugin is held at that moment by its OpenSSL
 * configuration, a FIFO: OpenSSL reads it when the plugin makes its
 * identity, after main installed its signal handlers and before the server
 * is made; opening the FIFO to write succeeds only once the plugin has
 * opened it to read. */
START_TEST(sigterm_while_starting)
{
	host_setup();
	static char env[160];
	char fifo[128];
	snprintf(fifo, sizeof fifo, "%s/openssl.cnf", H.dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	snprintf(env, sizeof env, "OPENSSL_CONF=%s", fifo);
	host_spawn(env);
	int fd;
	int64_t until = now_ms() + 20000;
	while ((fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		ck_assert_int_eq(errno, ENXIO); /* no reader yet */
		ck_assert_msg(now_ms() < until, "the plugin never read its OpenSSL configuration");
		nap_ms(1);
	}
	ck_assert_msg(catches(H.pid, SIGTERM), "SIGTERM has no handler while OpenSSL starts");
	ck_assert_int_eq(kill(H.pid, SIGTERM), 0);
	/* The only thread is in read(2) on the FIFO: the handler runs before
	 * the plugin goes on with the configuration. */
	ck_assert_int_eq(write(fd, "# empty\n", 8), 8);
	close(fd);
	int st = host_wait_exit(10000);
	ck_assert_msg(st >= 0, "the plugin lost a SIGTERM that came before its server was made: "
			       "still running 10 s later");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "plugin wait status %d (see %s)", st,
		      H.log);
	host_teardown();
}
END_TEST

static Suite *plugin_suite(void)
{
	Suite *s = suite_create("grpc_plugin");
	TCase *tc = tcase_create("lifetimes");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, second_setup_during_storage_call);
	tcase_add_test(tc, sigterm_while_starting);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	SRunner *sr = srunner_create(plugin_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
