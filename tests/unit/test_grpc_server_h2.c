/* test_grpc_server_h2.c - unit tests for lib/vault/grpc_server.c and its
 * connection layer (h2conn.c, h2stream.c) driven by a small blocking HTTP/2
 * client written here on nghttp2, for what a gRPC library will not send:
 * the stream side (GET, wrong content-type, a prefix over the limit,
 * compressed or truncated messages, trailers-only answers, client resets),
 * the loop's connections (garbage, no ALPN, idle and connection count), and
 * stopping (with no connections, before run, with open streams, from a
 * signal handler, through a watched pipe). The server under test (one per
 * test, checked fixture) is in grpc_server_util.h; the real gRPC client's
 * tests are in test_grpc_server.c. */
#include <check.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "grpc_server_util.h"

/* ---- a small blocking HTTP/2 client ---- */

typedef struct {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	nghttp2_session *h2;
	int32_t sid;
	int closed; /* the stream */
	uint32_t close_code;
	int header_blocks;
	int end_stream_on_headers; /* the first HEADERS carried END_STREAM */
	char status[8], ctype[64], gstatus[8], gmsg[256];
	uint8_t data[4096];
	size_t dlen;
	/* request body */
	const uint8_t *body;
	size_t body_len, body_off;
	int keep_open; /* no END_STREAM after the body */
} h2c;

static ssize_t c_send(nghttp2_session *s, const uint8_t *d, size_t n, int fl, void *ud)
{
	(void)s, (void)fl;
	h2c *c = ud;
	ERR_clear_error();
	int w = SSL_write(c->ssl, d, (int)n);
	return w > 0 ? w : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static void copy_hdr(char *dst, size_t cap, const uint8_t *v, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static int c_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		    const uint8_t *v, size_t vl, uint8_t fl, void *ud)
{
	(void)s, (void)fl;
	h2c *c = ud;
	if (f->hd.stream_id != c->sid)
		return 0;
	if (nl == 7 && !memcmp(name, ":status", 7))
		copy_hdr(c->status, sizeof c->status, v, vl);
	else if (nl == 12 && !memcmp(name, "content-type", 12))
		copy_hdr(c->ctype, sizeof c->ctype, v, vl);
	else if (nl == 11 && !memcmp(name, "grpc-status", 11))
		copy_hdr(c->gstatus, sizeof c->gstatus, v, vl);
	else if (nl == 12 && !memcmp(name, "grpc-message", 12))
		copy_hdr(c->gmsg, sizeof c->gmsg, v, vl);
	return 0;
}

static int c_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	(void)s;
	h2c *c = ud;
	if (f->hd.type == NGHTTP2_HEADERS && f->hd.stream_id == c->sid) {
		if (c->header_blocks++ == 0 && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
			c->end_stream_on_headers = 1;
	}
	return 0;
}

static int c_data(nghttp2_session *s, uint8_t fl, int32_t id, const uint8_t *d, size_t n, void *ud)
{
	(void)s, (void)fl;
	h2c *c = ud;
	if (id == c->sid && c->dlen + n <= sizeof c->data) {
		memcpy(c->data + c->dlen, d, n);
		c->dlen += n;
	}
	return 0;
}

static int c_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	(void)s;
	h2c *c = ud;
	if (id == c->sid) {
		c->closed = 1;
		c->close_code = code;
	}
	return 0;
}

static ssize_t c_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *fl,
		      nghttp2_data_source *src, void *ud)
{
	(void)s, (void)id, (void)src;
	h2c *c = ud;
	size_t n = c->body_len - c->body_off;
	if (n > len)
		n = len;
	memcpy(buf, c->body + c->body_off, n);
	c->body_off += n;
	if (c->body_off == c->body_len) {
		*fl |= NGHTTP2_DATA_FLAG_EOF;
		if (c->keep_open)
			*fl |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	}
	return (ssize_t)n;
}

/* A socket connected to the test server. */
static int c_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", T.sock);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* TLS to the test server (alpn: offer h2). Returns 0, or -1 if the
 * handshake failed. */
static int c_tls(h2c *c, int alpn)
{
	memset(c, 0, sizeof *c);
	c->fd = c_socket();
	struct timeval tv = {.tv_sec = 10};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	c->ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(c->ctx);
	if (alpn)
		SSL_CTX_set_alpn_protos(c->ctx, (const unsigned char *)"\x02h2", 3);
	c->ssl = SSL_new(c->ctx);
	SSL_set_fd(c->ssl, c->fd);
	return SSL_connect(c->ssl) == 1 ? 0 : -1;
}

static void c_connect(h2c *c)
{
	ck_assert_int_eq(c_tls(c, 1), 0);
	nghttp2_session_callbacks *cb;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, c_send);
	nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
	ck_assert_int_eq(nghttp2_session_client_new(&c->h2, cb, c), 0);
	nghttp2_session_callbacks_del(cb);
	ck_assert_int_eq(nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static void c_free(h2c *c)
{
	if (c->h2)
		nghttp2_session_del(c->h2);
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	close(c->fd);
	ERR_clear_error();
}

#define CNV(n, v)                                                                         \
	{                                                                                 \
		(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE \
	}

/* One request (ctype NULL: no content-type); body NULL: no DATA. */
static void c_request(h2c *c, const char *method, const char *path, const char *ctype,
		      const uint8_t *body, size_t blen, int keep_open)
{
	nghttp2_nv nva[] = {
		CNV(":method", method),	 CNV(":scheme", "https"), CNV(":path", path),
		CNV(":authority", "unused"), CNV("te", "trailers"),  CNV("content-type", ctype ? ctype : ""),
	};
	c->closed = 0;
	c->header_blocks = c->end_stream_on_headers = 0;
	c->status[0] = c->ctype[0] = c->gstatus[0] = c->gmsg[0] = '\0';
	c->dlen = 0;
	c->body = body;
	c->body_len = blen;
	c->body_off = 0;
	c->keep_open = keep_open;
	nghttp2_data_provider dp = {.read_callback = c_body};
	c->sid = nghttp2_submit_request(c->h2, NULL, nva, ctype ? 6 : 5, body ? &dp : NULL, NULL);
	ck_assert_int_gt(c->sid, 0);
}

/* Runs the session until the stream closed; -1 if the connection did. */
static int c_wait(h2c *c)
{
	uint8_t buf[16384];
	while (!c->closed) {
		if (nghttp2_session_send(c->h2) != 0)
			return -1;
		ERR_clear_error();
		int n = SSL_read(c->ssl, buf, sizeof buf);
		if (n <= 0)
			return -1;
		if (nghttp2_session_mem_recv(c->h2, buf, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

/* Reads until the server closes; 1 if it did, 0 on timeout or data. */
static int c_closed_by_server(h2c *c)
{
	uint8_t buf[4096];
	for (int i = 0; i < 100; i++) {
		ERR_clear_error();
		errno = 0;
		int n = SSL_read(c->ssl, buf, sizeof buf);
		if (n > 0)
			continue; /* e.g. SETTINGS or GOAWAY before the close */
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0; /* SO_RCVTIMEO: still open */
		return 1;
	}
	return 0;
}

static void framed(uint8_t *out, const char *msg, size_t n)
{
	out[0] = 0;
	out[1] = (uint8_t)(n >> 24);
	out[2] = (uint8_t)(n >> 16);
	out[3] = (uint8_t)(n >> 8);
	out[4] = (uint8_t)n;
	memcpy(out + 5, msg, n);
}

/* ---- raw HTTP/2 tests ---- */

START_TEST(raw_unary_and_path)
{
	h2c c;
	c_connect(&c);
	uint8_t body[5];
	framed(body, "", 0);
	c_request(&c, "POST", "/test.Svc/Path", "application/grpc", body, 5, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.status, "200");
	ck_assert_str_eq(c.ctype, "application/grpc");
	ck_assert_str_eq(c.gstatus, "0");
	ck_assert_int_eq(c.header_blocks, 2); /* response headers, then trailers */
	ck_assert_uint_eq(c.dlen, 5 + strlen("/test.Svc/Path"));
	ck_assert(memcmp(c.data + 5, "/test.Svc/Path", c.dlen - 5) == 0);
	ck_assert_int_eq(md_grpc_server_connections(T.srv), 1);
	/* content-type application/grpc+proto is gRPC too */
	c_request(&c, "POST", "/test.Svc/Path", "application/grpc+proto", body, 5, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.gstatus, "0");
	c_free(&c);
}
END_TEST

START_TEST(raw_unknown_method_trailers_only)
{
	h2c c;
	c_connect(&c);
	uint8_t body[8];
	framed(body, "abc", 3);
	c_request(&c, "POST", "/no.Such/Method", "application/grpc", body, 8, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.status, "200");
	ck_assert_str_eq(c.ctype, "application/grpc");
	ck_assert_str_eq(c.gstatus, "12");
	ck_assert_ptr_nonnull(strstr(c.gmsg, "/no.Such/Method"));
	ck_assert_int_eq(c.header_blocks, 1);
	ck_assert_int_eq(c.end_stream_on_headers, 1);
	ck_assert_uint_eq(c.dlen, 0);
	c_free(&c);
}
END_TEST

START_TEST(raw_get_and_bad_content_type)
{
	h2c c;
	c_connect(&c);
	c_request(&c, "GET", "/test.Svc/Echo", NULL, NULL, 0, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.status, "405");
	ck_assert_str_eq(c.gstatus, "13");
	ck_assert_ptr_nonnull(strstr(c.gmsg, "POST"));

	uint8_t body[8];
	framed(body, "abc", 3);
	c_request(&c, "POST", "/test.Svc/Echo", "text/plain", body, 8, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.status, "415");
	ck_assert_str_eq(c.gstatus, "13");
	c_request(&c, "POST", "/test.Svc/Echo", NULL, body, 8, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.status, "415");
	c_request(&c, "POST", "/test.Svc/Echo", "application/grpcx", body, 8, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.status, "415");
	/* the connection still serves */
	c_request(&c, "POST", "/test.Svc/Echo", "application/grpc", body, 8, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.gstatus, "0");
	ck_assert_uint_eq(c.dlen, 8);
	c_free(&c);
}
END_TEST

START_TEST(raw_grpc_message_percent_encoded)
{
	h2c c;
	c_connect(&c);
	c_request(&c, "POST", "/test.Svc/Fail", "application/grpc", NULL, 0, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.status, "200");
	ck_assert_str_eq(c.gstatus, "3");
	ck_assert_str_eq(c.gmsg, "100%25 sure%0Anot %C3%BCn%C3%AF");
	c_free(&c);
}
END_TEST

START_TEST(raw_over_limit_prefix)
{
	h2c c;
	c_connect(&c);
	/* Only a prefix announcing 64 MiB + 1; the stream stays open: the
	 * server answers from the prefix alone. */
	uint8_t p[5] = {0, 0x04, 0, 0, 0x01};
	c_request(&c, "POST", "/test.Svc/Echo", "application/grpc", p, 5, 1);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.status, "200");
	ck_assert_str_eq(c.gstatus, "8");
	ck_assert_ptr_nonnull(strstr(c.gmsg, "limit"));
	ck_assert_uint_eq(c.close_code, NGHTTP2_NO_ERROR);
	c_free(&c);
}
END_TEST

START_TEST(raw_compressed_and_truncated)
{
	h2c c;
	c_connect(&c);
	uint8_t b[8];
	framed(b, "abc", 3);
	b[0] = 1;
	c_request(&c, "POST", "/test.Svc/Echo", "application/grpc", b, 8, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.gstatus, "12");
	ck_assert_ptr_nonnull(strstr(c.gmsg, "compress"));

	framed(b, "abc", 3);
	c_request(&c, "POST", "/test.Svc/Echo", "application/grpc", b, 6, 0); /* cut */
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.gstatus, "13");

	/* no message at all: the handler sees end of stream at once */
	c_request(&c, "POST", "/test.Svc/Echo", "application/grpc", NULL, 0, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.gstatus, "3");
	c_free(&c);
}
END_TEST

START_TEST(raw_client_reset_cancels_call)
{
	h2c c;
	c_connect(&c);
	uint8_t b[8];
	framed(b, "abc", 3);
	c_request(&c, "POST", "/test.Svc/Hold", "application/grpc", b, 8, 1);
	/* wait for "held", then reset the stream */
	uint8_t buf[4096];
	while (c.dlen < 9) {
		ck_assert_int_eq(nghttp2_session_send(c.h2), 0);
		int n = SSL_read(c.ssl, buf, sizeof buf);
		ck_assert_int_gt(n, 0);
		ck_assert_int_ge(nghttp2_session_mem_recv(c.h2, buf, (size_t)n), 0);
	}
	nghttp2_submit_rst_stream(c.h2, NGHTTP2_FLAG_NONE, c.sid, NGHTTP2_CANCEL);
	ck_assert_int_eq(nghttp2_session_send(c.h2), 0);
	WAIT_UNTIL(atomic_load(&T.hold_cancelled));
	ck_assert_int_eq(atomic_load(&T.hold_cancelled), 1);
	/* the connection still serves */
	c_request(&c, "POST", "/test.Svc/Echo", "application/grpc", b, 8, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.gstatus, "0");
	c_free(&c);
}
END_TEST

START_TEST(raw_garbage_closes_only_that_connection)
{
	h2c good;
	c_connect(&good);
	uint8_t b[8];
	framed(b, "abc", 3);
	c_request(&good, "POST", "/test.Svc/Echo", "application/grpc", b, 8, 0);
	ck_assert_int_eq(c_wait(&good), 0);

	h2c bad;
	ck_assert_int_eq(c_tls(&bad, 1), 0);
	const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	ck_assert_int_gt(SSL_write(bad.ssl, junk, (int)sizeof junk - 1), 0);
	ck_assert_int_eq(c_closed_by_server(&bad), 1);
	c_free(&bad);

	/* a valid preface, then a frame that breaks the protocol (DATA on
	 * stream 0) */
	h2c bad2;
	ck_assert_int_eq(c_tls(&bad2, 1), 0);
	const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	const uint8_t frames[] = {0, 0, 0, 4, 0, 0, 0, 0, 0, /* empty SETTINGS */
				  0, 0, 1, 0, 0, 0, 0, 0, 0, 'x'};
	ck_assert_int_gt(SSL_write(bad2.ssl, preface, (int)sizeof preface - 1), 0);
	ck_assert_int_gt(SSL_write(bad2.ssl, frames, (int)sizeof frames), 0);
	ck_assert_int_eq(c_closed_by_server(&bad2), 1);
	c_free(&bad2);

	c_request(&good, "POST", "/test.Svc/Echo", "application/grpc", b, 8, 0);
	ck_assert_int_eq(c_wait(&good), 0);
	ck_assert_str_eq(good.gstatus, "0");
	c_free(&good);
}
END_TEST

/* A good host comes, is served one call and goes: the server goes idle
 * once, after the close (no idle call while it is connected). */
static void host_comes_and_goes(void)
{
	ck_assert_int_eq(md_grpc_server_connections(T.srv), 0);
	h2c c;
	c_connect(&c);
	uint8_t b[8];
	framed(b, "abc", 3);
	c_request(&c, "POST", "/test.Svc/Echo", "application/grpc", b, 8, 0);
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_int_eq(md_grpc_server_connections(T.srv), 1);
	ck_assert_int_eq(atomic_load(&T.idle_calls), 0);
	c_free(&c);
	WAIT_UNTIL(atomic_load(&T.idle_calls) != 0);
	ck_assert_int_eq(atomic_load(&T.idle_calls), 1);
	ck_assert_int_eq(md_grpc_server_connections(T.srv), 0);
}

START_TEST(raw_no_alpn_refused)
{
	h2c c;
	if (c_tls(&c, 0) == 0) { /* TLS 1.3: the client may finish first */
		const unsigned char *a = NULL;
		unsigned al = 0;
		SSL_get0_alpn_selected(c.ssl, &a, &al);
		ck_assert_uint_eq(al, 0);
		const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
		SSL_write(c.ssl, preface, (int)sizeof preface - 1);
		ck_assert_int_eq(c_closed_by_server(&c), 1);
	}
	c_free(&c);
	/* A refused handshake is not a host that came and went. The loop
	 * closes the refused connection (and would count it) before it
	 * accepts the next: once it is gone, a good host is served with no
	 * idle call before it, and its own leaving is the first. */
	WAIT_UNTIL(md_grpc_server_connections(T.srv) == 0);
	host_comes_and_goes();
}
END_TEST

START_TEST(idle_and_connection_count)
{
	host_comes_and_goes();
}
END_TEST

/* ---- stop ---- */

/* Returns once the server's loop is running: it accepted a connection
 * (which then leaves before its TLS handshake: no host, no idle call) and
 * saw it go. */
static void wait_running(void)
{
	int fd = c_socket();
	WAIT_UNTIL(md_grpc_server_connections(T.srv) == 1);
	ck_assert_int_eq(md_grpc_server_connections(T.srv), 1);
	close(fd);
	WAIT_UNTIL(md_grpc_server_connections(T.srv) == 0);
	ck_assert_int_eq(md_grpc_server_connections(T.srv), 0);
}

START_TEST(stop_without_connections)
{
	wait_running();
	stop_and_join();
	ck_assert_int_eq(T.run_rc, MD_OK);
	ck_assert_int_eq(atomic_load(&T.idle_calls), 0);
}
END_TEST

START_TEST(stop_before_run)
{
	stop_and_join();
	/* a second server, stopped before it runs */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	md_grpc_server *s;
	md_error err = {0};
	ck_assert_int_eq(md_grpc_server_new(T.ctx, fd, &s, &err), MD_OK);
	md_grpc_server_stop(s);
	ck_assert_int_eq(md_grpc_server_run(s, &err), MD_OK);
	ck_assert_int_ne(md_grpc_server_run(s, &err), MD_OK); /* only once */
	md_grpc_server_free(s);
}
END_TEST

START_TEST(stop_with_open_streams)
{
	h2c c;
	c_connect(&c);
	uint8_t b[8];
	framed(b, "abc", 3);
	/* an open bidi stream, like the broker's */
	c_request(&c, "POST", "/test.Svc/Hold", "application/grpc", b, 8, 1);
	uint8_t buf[4096];
	while (c.dlen < 9) {
		ck_assert_int_eq(nghttp2_session_send(c.h2), 0);
		int n = SSL_read(c.ssl, buf, sizeof buf);
		ck_assert_int_gt(n, 0);
		ck_assert_int_ge(nghttp2_session_mem_recv(c.h2, buf, (size_t)n), 0);
	}
	stop_and_join();
	ck_assert_int_eq(T.run_rc, MD_OK);
	ck_assert_int_eq(atomic_load(&T.hold_cancelled), 1);
	/* the client got the status of its stream and a GOAWAY, then EOF */
	ck_assert_int_eq(c_wait(&c), 0);
	ck_assert_str_eq(c.gstatus, "1");
	ck_assert_int_eq(nghttp2_session_want_read(c.h2) && !c_closed_by_server(&c), 0);
	c_free(&c);
	ck_assert_int_eq(atomic_load(&T.idle_calls), 0);
}
END_TEST

/* Raises sig, handled by fn, which must stop the server: run returns. */
static void raise_and_join(int sig, void (*fn)(int))
{
	struct sigaction sa = {.sa_handler = fn};
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(sig, &sa, NULL), 0);
	ck_assert_int_eq(raise(sig), 0);
	pthread_join(T.thread, NULL);
	T.running = 0;
	ck_assert_int_eq(T.run_rc, MD_OK);
}

static md_grpc_server *sig_srv;
static void on_usr1(int sig)
{
	(void)sig;
	md_grpc_server_stop(sig_srv);
}

START_TEST(stop_from_signal_handler)
{
	sig_srv = T.srv;
	wait_running();
	raise_and_join(SIGUSR1, on_usr1);
}
END_TEST

/* The plugin's way: the signal handler writes to a pipe the server
 * watches, and never touches the server, which may not exist yet or may
 * be freed already. */
static int sig_pipe = -1;
static void on_usr2(int sig)
{
	(void)sig;
	ssize_t n = write(sig_pipe, "", 1);
	(void)n;
}

START_TEST(stop_through_watched_pipe)
{
	sig_pipe = T.stop_pipe[1];
	h2c c;
	c_connect(&c);
	uint8_t b[8];
	framed(b, "abc", 3);
	c_request(&c, "POST", "/test.Svc/Echo", "application/grpc", b, 8, 0);
	ck_assert_int_eq(c_wait(&c), 0); /* the loop is serving */
	raise_and_join(SIGUSR2, on_usr2);
	c_free(&c);
	md_grpc_server_free(T.srv);
	ck_assert_int_eq(raise(SIGUSR2), 0); /* after the free: harmless */

	/* A stop that came before the server was made is not lost: run
	 * returns. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	md_error err = {0};
	ck_assert_int_eq(md_grpc_server_new(T.ctx, fd, &T.srv, &err), MD_OK);
	md_grpc_server_watch_stop(T.srv, T.stop_pipe[0]);
	ck_assert_int_eq(md_grpc_server_run(T.srv, &err), MD_OK);
}
END_TEST

static Suite *server_h2_suite(void)
{
	Suite *s = suite_create("grpc_server_h2");

	TCase *tc = tcase_create("raw_http2");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, raw_unary_and_path);
	tcase_add_test(tc, raw_unknown_method_trailers_only);
	tcase_add_test(tc, raw_get_and_bad_content_type);
	tcase_add_test(tc, raw_grpc_message_percent_encoded);
	tcase_add_test(tc, raw_over_limit_prefix);
	tcase_add_test(tc, raw_compressed_and_truncated);
	tcase_add_test(tc, raw_client_reset_cancels_call);
	tcase_add_test(tc, raw_garbage_closes_only_that_connection);
	tcase_add_test(tc, raw_no_alpn_refused);
	tcase_add_test(tc, idle_and_connection_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("stop");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, stop_without_connections);
	tcase_add_test(tc, stop_before_run);
	tcase_add_test(tc, stop_with_open_streams);
	tcase_add_test(tc, stop_from_signal_handler);
	tcase_add_test(tc, stop_through_watched_pipe);
	suite_add_tcase(s, tc);
	return s;
}
int main(void)
{
	/* The test's own client writes may hit a socket the server closed. */
	signal(SIGPIPE, SIG_IGN);
	SRunner *sr = srunner_create(server_h2_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
