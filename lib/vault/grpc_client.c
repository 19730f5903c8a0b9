/* grpc_client.c - see grpc_client.h: the client role on h2conn.h.
 *
 * A call is a stream. The caller queues the request (copied) as the
 * stream's one message and the end of its side, which posts the stream to
 * the loop (woken only if it sleeps), and waits until the stream is
 * detached: closed by the server (the outcome is then in the response
 * headers, the trailers and the one message the loop gathered), or lost
 * with the connection. On a timeout the caller asks the loop to reset the
 * stream (RST_STREAM CANCEL) and returns at once: its reference and the
 * loop's keep the call alive until both are done with it, and the
 * connection stays up. When the connection dies, every call in flight
 * fails with MD_ETRANSIENT naming the cause, and later calls fail at once.
 * md_grpc_client_free fails calls still in flight and waits for them to
 * return. Connection-wide errors set *status to UNAVAILABLE, timeouts to
 * DEADLINE_EXCEEDED, protocol errors to INTERNAL (the return code is what
 * counts). timeout_ms <= 0 waits without limit.
 *
 * Dial returns once the server's HTTP/2 SETTINGS frame has arrived, not
 * merely after our side of the TLS handshake: under TLS 1.3 a server judges
 * our certificate after the client considers the handshake done, and a
 * refusal must fail the dial, not the first call. Dial's timeout_ms covers
 * the handshake and SETTINGS (<= 0: 30 s).
 */
#include "vault/grpc_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "vault/h2stream.h"

#define DEFAULT_DIAL_MS 30000
#define STREAM_WINDOW (16 << 20)

enum { DIALING, READY, DEAD };

struct gcall {
	md_h2stream st;
	char *path;
	/* The outcome: the loop's until the stream is detached, then the
	 * caller's. */
	int http_status;
	int grpc_status; /* -1 until seen */
	char grpc_msg[512];
	int bad_ctype;
	md_code fail_code; /* MD_OK unless the call failed in transport */
	char fail_msg[400];
};

struct md_grpc_client {
	md_h2loop loop;
	char target[256]; /* "unix:/path" or "tcp:host:port", for messages */
	char *authority;
	pthread_t thread;
	int thread_started;
	md_h2conn *conn; /* loop: NULL once closed */
	pthread_cond_t cv; /* with loop.mu: the dial's outcome; inflight back to 0 */
	/* under loop.mu */
	int state;
	char dead_msg[300];
	md_error dial_err;
	int inflight;
};

static md_grpc_client *client_of(md_h2loop *l)
{
	return md_h2_container(l, md_grpc_client, loop);
}

static struct gcall *gcall_of(md_h2stream *st)
{
	return md_h2_container(st, struct gcall, st);
}

static void call_fail(struct gcall *call, md_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void call_fail(struct gcall *call, md_code code, const char *fmt, ...)
{
	if (call->fail_code != MD_OK)
		return; /* the first cause is the one worth reporting */
	call->fail_code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(call->fail_msg, sizeof call->fail_msg, fmt, ap);
	va_end(ap);
}

/* ---- the role, on the loop thread ---- */

static int client_start(md_h2stream *st)
{
	struct gcall *call = gcall_of(st);
	md_grpc_client *cl = client_of(st->loop);
	if (!cl->conn) {
		call_fail(call, MD_ETRANSIENT, "the connection to %s is gone (%s)", cl->target,
			  cl->dead_msg);
		md_h2stream_detach(st, NGHTTP2_NO_ERROR, NULL);
		return 0;
	}
	nghttp2_nv hdrs[] = {
		MD_H2_NV(":method", "POST"),
		MD_H2_NV(":scheme", "https"),
		MD_H2_NV(":path", call->path),
		MD_H2_NV(":authority", cl->authority),
		MD_H2_NV("content-type", "application/grpc"),
		MD_H2_NV("te", "trailers"),
		MD_H2_NV("user-agent", "mdcred-grpc-c/1"),
	};
	nghttp2_data_provider dp = md_h2stream_provider(st);
	int32_t id = nghttp2_submit_request(cl->conn->h2, NULL, hdrs, sizeof hdrs / sizeof hdrs[0],
					    &dp, st);
	if (id < 0) {
		call_fail(call, MD_ETRANSIENT, "cannot open a stream: %s", nghttp2_strerror(id));
		md_h2stream_detach(st, NGHTTP2_NO_ERROR, NULL);
		return 0;
	}
	md_h2stream_attach(st, cl->conn, id);
	return 0;
}

static int parse_uint(const uint8_t *v, size_t n, int max)
{
	if (n == 0 || n > 10)
		return -1;
	long x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x > max ? -1 : (int)x;
}

static int hdr_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

static int client_header(md_h2stream *st, const nghttp2_frame *f, const uint8_t *name,
			 size_t nlen, const uint8_t *value, size_t vlen)
{
	(void)f;
	struct gcall *call = gcall_of(st);
	if (hdr_is(name, nlen, ":status")) {
		call->http_status = parse_uint(value, vlen, 999);
	} else if (hdr_is(name, nlen, "content-type")) {
		call->bad_ctype = !md_h2_is_grpc_type(value, vlen);
	} else if (hdr_is(name, nlen, "grpc-status")) {
		int code = parse_uint(value, vlen, 0x7fffffff);
		call->grpc_status = code >= 0 ? code : MD_GRPC_UNKNOWN; /* for garbage */
	} else if (hdr_is(name, nlen, "grpc-message")) {
		md_h2_percent_decode(value, vlen, call->grpc_msg, sizeof call->grpc_msg);
	}
	return 0;
}

static void client_bad_message(md_h2stream *st, int rc)
{
	struct gcall *call = gcall_of(st);
	if (rc == MD_GRPC_FRAME_TOO_BIG)
		call_fail(call, MD_EFAIL, "response message over the %u-byte limit",
			  MD_GRPC_MAX_MESSAGE);
	else if (rc == MD_GRPC_FRAME_COMPRESSED)
		call_fail(call, MD_EFAIL, "compressed response message (no encoding was offered)");
	else if (rc == MD_H2_TRUNCATED)
		call_fail(call, MD_EFAIL, "response ended inside a message");
	else
		call_fail(call, MD_EFAIL, "out of memory for the response message");
	st->reset = 1;
	nghttp2_submit_rst_stream(st->conn->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
}

/* The stream ended: say how, unless the caller gave up on it (reset). */
static void client_closed(md_h2stream *st, uint32_t code, const char *why)
{
	struct gcall *call = gcall_of(st);
	md_grpc_client *cl = client_of(st->loop);
	if (st->reset || call->fail_code != MD_OK)
		return;
	if (why)
		call_fail(call, MD_ETRANSIENT, "connection to %s lost: %s", cl->target,
			  cl->loop.stopping ? "the client was closed" : why);
	else if (call->grpc_status >= 0)
		return;
	else if (code != NGHTTP2_NO_ERROR) /* REFUSED_STREAM among them */
		call_fail(call, MD_ETRANSIENT, "stream reset (%s)", nghttp2_http2_strerror(code));
	else
		call_fail(call, MD_EFAIL, "response ended without grpc-status (HTTP status %d%s)",
			  call->http_status, call->bad_ctype ? ", not application/grpc" : "");
}

static void client_conn_ready(md_h2conn *conn)
{
	md_grpc_client *cl = client_of(conn->loop);
	pthread_mutex_lock(&cl->loop.mu);
	cl->state = READY;
	pthread_mutex_unlock(&cl->loop.mu);
	pthread_cond_broadcast(&cl->cv);
}

/* The one connection is gone: the dial fails, or later calls do; the loop
 * has nothing left to do. */
static void client_conn_closed(md_h2conn *conn)
{
	md_grpc_client *cl = client_of(conn->loop);
	const char *why = cl->loop.stopping ? "the client was closed" : conn->why;
	cl->conn = NULL;
	pthread_mutex_lock(&cl->loop.mu);
	if (cl->state == DIALING)
		md_err_set(&cl->dial_err, MD_ETRANSIENT,
			   conn->h2 ? "grpc: setting up HTTP/2 with %s failed: %s"
				    : "grpc: TLS handshake with %s failed: %s",
			   cl->target, why);
	else if (!cl->loop.stopping)
		md_log_debug("grpc client: connection to %s lost: %s", cl->target, why);
	cl->state = DEAD;
	snprintf(cl->dead_msg, sizeof cl->dead_msg, "%s", why);
	pthread_mutex_unlock(&cl->loop.mu);
	pthread_cond_broadcast(&cl->cv);
	md_h2loop_stop(&cl->loop);
}

static void client_free_stream(md_h2stream *st)
{
	struct gcall *call = gcall_of(st);
	free(call->path);
	free(call);
}

static const nghttp2_settings_entry client_settings[] = {
	{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
};

static const md_h2role client_role = {
	.server = 0,
	.settings = client_settings,
	.nsettings = sizeof client_settings / sizeof client_settings[0],
	.grace_ms = 0, /* a client is stopped by its free: calls fail at once */
	.header = client_header,
	.start = client_start,
	.bad_message = client_bad_message,
	.closed = client_closed,
	.conn_ready = client_conn_ready,
	.conn_closed = client_conn_closed,
	.free = client_free_stream,
};

/* ---- dialing ---- */

/* go-plugin's broker listens on a Unix socket wherever this plugin runs
 * (TCP is its Windows fallback). A local connect completes or fails at
 * once; the dial's timeout then covers the handshake and SETTINGS. */
static int dial_unix(const char *path, md_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return -md_err_set(err, MD_EUSAGE, "grpc: socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -md_err_set(err, MD_EFAIL, "grpc: socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		int e = errno;
		close(fd);
		return -md_err_set(err, MD_ETRANSIENT, "grpc: connect to unix:%s: %s", path,
				   strerror(e));
	}
	return fd;
}

static void *client_main(void *arg)
{
	md_grpc_client *cl = arg;
	md_error err = {0};
	if (md_h2loop_run(&cl->loop, &err) != MD_OK)
		md_log_debug("grpc client: %s", err.msg);
	return NULL;
}

/* Connects and starts the loop thread; the caller waits for the outcome. */
static int client_connect(md_grpc_client *cl, const char *path, SSL_CTX *ctx, int timeout_ms,
			  md_error *err)
{
	int fd = dial_unix(path, err);
	if (fd < 0)
		return -fd;
	cl->conn = md_h2conn_new(&cl->loop, fd, ctx, cl->authority, timeout_ms);
	if (!cl->conn)
		return md_err_set(err, MD_EFAIL, "grpc: cannot set up TLS for %s", cl->target);
	int rc = pthread_create(&cl->thread, NULL, client_main, cl);
	if (rc != 0)
		return md_err_set(err, MD_EFAIL, "grpc: pthread_create: %s", strerror(rc));
	cl->thread_started = 1;
	return MD_OK;
}

int md_grpc_client_dial(const char *network, const char *address, SSL_CTX *ssl_ctx,
			const char *server_name, int timeout_ms, md_grpc_client **out,
			md_error *err)
{
	*out = NULL;
	if (!network || !address || !ssl_ctx || !server_name || !server_name[0])
		return md_err_set(err, MD_EUSAGE, "grpc: dial: missing argument");
	if (strcmp(network, "unix") != 0)
		return md_err_set(err, MD_EUSAGE, "grpc: network '%s' is not supported (unix only)",
				  network);

	md_grpc_client *cl = calloc(1, sizeof *cl);
	if (!cl)
		return md_err_set(err, MD_EFAIL, "grpc: out of memory");
	int rc = md_h2loop_init(&cl->loop, &client_role, NULL, -1, err);
	if (rc != MD_OK) {
		free(cl);
		return rc;
	}
	pthread_cond_init(&cl->cv, NULL);
	snprintf(cl->target, sizeof cl->target, "%s:%s", network, address);
	cl->authority = strdup(server_name);
	rc = cl->authority ? client_connect(cl, address, ssl_ctx,
					    timeout_ms > 0 ? timeout_ms : DEFAULT_DIAL_MS, err)
			   : md_err_set(err, MD_EFAIL, "grpc: out of memory");
	if (rc == MD_OK) {
		pthread_mutex_lock(&cl->loop.mu);
		while (cl->state == DIALING)
			pthread_cond_wait(&cl->cv, &cl->loop.mu);
		if (cl->state != READY) {
			rc = cl->dial_err.code;
			if (err)
				*err = cl->dial_err;
		}
		pthread_mutex_unlock(&cl->loop.mu);
	}
	if (rc != MD_OK) {
		md_grpc_client_free(cl);
		return rc;
	}
	md_log_debug("grpc client: connected to %s", cl->target);
	*out = cl;
	return MD_OK;
}

void md_grpc_client_free(md_grpc_client *cl)
{
	if (!cl)
		return;
	if (cl->thread_started) {
		md_h2loop_stop(&cl->loop);
		pthread_join(cl->thread, NULL);
		/* Calls still waiting were failed by the loop; let them return. */
		pthread_mutex_lock(&cl->loop.mu);
		while (cl->inflight > 0)
			pthread_cond_wait(&cl->cv, &cl->loop.mu);
		pthread_mutex_unlock(&cl->loop.mu);
	}
	md_h2loop_destroy(&cl->loop);
	free(cl->authority);
	pthread_cond_destroy(&cl->cv);
	free(cl);
}

/* ---- calls ---- */

static void deadline_ts(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits until the call's stream is detached; 1 when the time ran out
 * first (the loop is then asked to reset it). */
static int call_wait(md_grpc_client *cl, struct gcall *call, int timeout_ms)
{
	struct timespec dl;
	if (timeout_ms > 0)
		deadline_ts(&dl, timeout_ms);
	int timed_out = 0, wake = 0;
	pthread_mutex_lock(&cl->loop.mu);
	while (!call->st.detached && !timed_out) {
		if (timeout_ms <= 0) {
			pthread_cond_wait(&call->st.cv, &cl->loop.mu);
		} else if (pthread_cond_timedwait(&call->st.cv, &cl->loop.mu, &dl) == ETIMEDOUT &&
			   !call->st.detached) {
			timed_out = 1;
			call->st.cancel_req = 1;
			wake = md_h2stream_post_locked(&call->st);
		}
	}
	pthread_mutex_unlock(&cl->loop.mu);
	if (wake)
		md_h2loop_wake(&cl->loop);
	return timed_out;
}

/* The finished call's result, as md_grpc_client_unary reports it. */
static int call_outcome(struct gcall *call, uint8_t **resp, size_t *resp_len, int *status,
			char *status_msg, size_t status_msg_sz, md_error *err)
{
	if (call->fail_code != MD_OK) {
		*status = call->fail_code == MD_ETRANSIENT ? MD_GRPC_UNAVAILABLE : MD_GRPC_INTERNAL;
		return md_err_set(err, call->fail_code, "grpc %s: %s", call->path, call->fail_msg);
	}
	*status = call->grpc_status;
	if (status_msg && status_msg_sz)
		snprintf(status_msg, status_msg_sz, "%s", call->grpc_msg);
	if (call->grpc_status != MD_GRPC_OK)
		return MD_OK;
	md_h2msg *m = STAILQ_FIRST(&call->st.in); /* the loop is done with it */
	if (!m || STAILQ_NEXT(m, link)) {
		*status = MD_GRPC_INTERNAL;
		return md_err_set(err, MD_EFAIL, "grpc %s: the server sent %s response message",
				  call->path, m ? "more than one" : "no");
	}
	STAILQ_INIT(&call->st.in);
	*resp = m->p;
	*resp_len = m->len;
	free(m);
	return MD_OK;
}

int md_grpc_client_unary(md_grpc_client *cl, const char *path, const uint8_t *req,
			 size_t req_len, int timeout_ms, uint8_t **resp, size_t *resp_len,
			 int *status, char *status_msg, size_t status_msg_sz, md_error *err)
{
	*resp = NULL;
	*resp_len = 0;
	*status = MD_GRPC_INTERNAL;
	if (status_msg && status_msg_sz)
		status_msg[0] = '\0';
	if (!path || path[0] != '/' || (!req && req_len > 0))
		return md_err_set(err, MD_EUSAGE, "grpc: bad call arguments");
	if (req_len > MD_GRPC_MAX_MESSAGE)
		return md_err_set(err, MD_EUSAGE, "grpc %s: request of %zu bytes is over the limit",
				  path, req_len);
	struct gcall *call = calloc(1, sizeof *call);
	char *p = strdup(path);
	if (!call || !p) {
		free(call);
		free(p);
		return md_err_set(err, MD_EFAIL, "grpc: out of memory");
	}
	md_h2stream_init(&call->st, &cl->loop, 1); /* the caller's reference */
	call->path = p;
	call->grpc_status = -1;

	pthread_mutex_lock(&cl->loop.mu);
	int ready = cl->state == READY;
	cl->inflight += ready;
	char why[sizeof cl->dead_msg];
	snprintf(why, sizeof why, "%s", cl->dead_msg);
	pthread_mutex_unlock(&cl->loop.mu);
	int rc;
	if (!ready || md_h2stream_send(&call->st, req, req_len, 1) != 0) {
		*status = MD_GRPC_UNAVAILABLE;
		rc = md_err_set(err, MD_ETRANSIENT, "grpc %s: the connection to %s is gone (%s)",
				path, cl->target, ready ? "closing" : why);
	} else if (call_wait(cl, call, timeout_ms)) {
		*status = MD_GRPC_DEADLINE_EXCEEDED;
		rc = md_err_set(err, MD_ETRANSIENT, "grpc %s: no answer from %s within %d ms", path,
				cl->target, timeout_ms);
	} else {
		rc = call_outcome(call, resp, resp_len, status, status_msg, status_msg_sz, err);
	}
	md_h2stream_release(&call->st);
	if (ready) { /* after the release: free waits for this, then frees the loop */
		pthread_mutex_lock(&cl->loop.mu);
		if (--cl->inflight == 0)
			pthread_cond_broadcast(&cl->cv);
		pthread_mutex_unlock(&cl->loop.mu);
	}
	return rc;
}
