/* grpc_client_loop.c - the loop thread of the gRPC client: TLS handshake,
 * nghttp2 session, socket I/O, stream callbacks. See grpc_client.c for the
 * design (threads, call lifetime, SIGPIPE). Everything here runs under
 * c->io_mu: on the loop thread, or on a caller's in md_gc_send_direct.
 */
#define _GNU_SOURCE /* PTHREAD_MUTEX_ADAPTIVE_NP */
#include "vault/grpc_client_int.h"
#include "base/text.h"
#include "base/log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

/* ---- small helpers ---- */

int64_t md_gc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void md_gc_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
	(void)pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

void md_gc_wake(md_grpc_client *c)
{
	char b = 1;
	ssize_t r = write(c->wake[1], &b, 1);
	(void)r; /* a full pipe is already a pending wake-up */
}

/* Describes the failure of an SSL call, taking OpenSSL's error queue.
 * Returns 1 when the cause is a TLS-level error (such as an alert from the
 * peer), 0 for a plain end of connection or a system error. */
static int ssl_detail(SSL *ssl, int ret, int saved_errno, char *buf, size_t n)
{
	int e = SSL_get_error(ssl, ret);
	unsigned long q = ERR_peek_last_error();
	int tls = 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		snprintf(buf, n, "closed by the peer");
	} else if (q != 0 && ERR_GET_LIB(q) == ERR_LIB_SSL &&
		   ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		snprintf(buf, n, "closed by the peer (unexpected EOF)");
	} else if (e == SSL_ERROR_SYSCALL && q == 0) {
		if (ret == 0 || saved_errno == 0)
			snprintf(buf, n, "closed by the peer (EOF)");
		else if (saved_errno == EPIPE || saved_errno == ECONNRESET)
			snprintf(buf, n, "closed by the peer (%s)", strerror(saved_errno));
		else
			snprintf(buf, n, "%s", strerror(saved_errno));
	} else if (q != 0) {
		tls = 1;
		char e1[200];
		ERR_error_string_n(q, e1, sizeof e1);
		long v = SSL_get_verify_result(ssl);
		if (v != X509_V_OK)
			snprintf(buf, n, "%s (certificate: %s)", e1, X509_verify_cert_error_string(v));
		else
			snprintf(buf, n, "%s", e1);
	} else {
		snprintf(buf, n, "SSL error %d", e);
	}
	ERR_clear_error();
	return tls;
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

void md_gc_call_free(struct gcall *call)
{
	md_grpc_decoder_free(&call->dec);
	free(call->resp);
	pthread_cond_destroy(&call->cv);
	free(call);
}

/* Drops one reference; takes c->mu. */
static void call_unref(md_grpc_client *c, struct gcall *call)
{
	pthread_mutex_lock(&c->mu);
	int left = --call->refs;
	pthread_mutex_unlock(&c->mu);
	if (left == 0)
		md_gc_call_free(call);
}

/* Loop side: the result is final; let the caller go and drop our ref.
 * The signal comes after the unlock, so the caller does not wake only to
 * block on c->mu still held here (two more context switches); our
 * reference keeps call->cv alive until then. */
static void call_finish(md_grpc_client *c, struct gcall *call)
{
	pthread_mutex_lock(&c->mu);
	call->released = 1;
	pthread_mutex_unlock(&c->mu);
	pthread_cond_signal(&call->cv);
	call_unref(c, call);
}

static void active_add(md_grpc_client *c, struct gcall *call)
{
	call->prev = NULL;
	call->next = c->active;
	if (c->active)
		c->active->prev = call;
	c->active = call;
}

static void active_remove(md_grpc_client *c, struct gcall *call)
{
	if (call->prev)
		call->prev->next = call->next;
	else
		c->active = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->next = call->prev = NULL;
}

/* ---- nghttp2 callbacks (loop thread) ---- */

static ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)src;
	(void)ud;
	struct gcall *call = nghttp2_session_get_stream_user_data(s, sid);
	if (call == NULL || call->cancel_seen)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	size_t total = sizeof call->prefix + call->req_len, n = 0;
	while (n < len && call->sent < total) {
		size_t take;
		if (call->sent < sizeof call->prefix) {
			take = sizeof call->prefix - call->sent;
			if (take > len - n)
				take = len - n;
			memcpy(buf + n, call->prefix + call->sent, take);
		} else {
			size_t off = call->sent - sizeof call->prefix;
			take = call->req_len - off;
			if (take > len - n)
				take = len - n;
			memcpy(buf + n, call->req + off, take);
		}
		n += take;
		call->sent += take;
	}
	if (call->sent == total)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int hdr_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* grpc-message is percent-encoded (gRPC over HTTP/2 spec). */
static void percent_decode(const uint8_t *v, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < outsz; i++) {
		int hi, lo;
		if (v[i] == '%' && i + 2 < n && (hi = md_text_hexval(v[i + 1])) >= 0 &&
		    (lo = md_text_hexval(v[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = (char)v[i];
		}
	}
	out[o] = '\0';
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

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *ud)
{
	(void)flags;
	if (ud == NULL || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct gcall *call = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (call == NULL || call->cancel_seen)
		return 0;
	if (hdr_is(name, namelen, ":status")) {
		call->http_status = parse_uint(value, valuelen, 999);
	} else if (hdr_is(name, namelen, "content-type")) {
		static const char ct[] = "application/grpc";
		size_t k = sizeof ct - 1;
		call->bad_ctype = !(valuelen >= k && memcmp(value, ct, k) == 0 &&
				    (valuelen == k || value[k] == '+' || value[k] == ';'));
	} else if (hdr_is(name, namelen, "grpc-status")) {
		int st = parse_uint(value, valuelen, 0x7fffffff);
		call->grpc_status = st >= 0 ? st : 2; /* UNKNOWN for garbage */
	} else if (hdr_is(name, namelen, "grpc-message")) {
		percent_decode(value, valuelen, call->grpc_msg, sizeof call->grpc_msg);
	}
	return 0;
}

static int on_msg(void *ud, uint8_t *msg, size_t len)
{
	struct gcall *call = ud;
	if (call->nmsg++ > 0) {
		free(msg);
		call_fail(call, MD_EFAIL, "the server sent more than one response message");
		return -100;
	}
	call->resp = msg;
	call->resp_len = len;
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
		   size_t len, void *ud)
{
	(void)flags;
	if (ud == NULL)
		return 0;
	struct gcall *call = nghttp2_session_get_stream_user_data(s, sid);
	if (call == NULL || call->cancel_seen || call->fail_code != MD_OK)
		return 0;
	int rc = md_grpc_decoder_feed(&call->dec, data, len, on_msg, call);
	if (rc == MD_GRPC_FRAME_OK)
		return 0;
	if (rc == MD_GRPC_FRAME_TOO_BIG)
		call_fail(call, MD_EFAIL, "response message over the %u-byte limit",
			  MD_GRPC_MAX_MESSAGE);
	else if (rc == MD_GRPC_FRAME_COMPRESSED)
		call_fail(call, MD_EFAIL, "compressed response message (no encoding was offered)");
	else if (rc == MD_GRPC_FRAME_NOMEM)
		call_fail(call, MD_EFAIL, "out of memory for the response message");
	nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, sid, NGHTTP2_CANCEL);
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
	md_grpc_client *c = ud;
	if (c == NULL)
		return 0;
	struct gcall *call = nghttp2_session_get_stream_user_data(s, sid);
	if (call == NULL)
		return 0;
	active_remove(c, call);
	if (call->cancel_seen) {
		call_unref(c, call); /* the caller is long gone */
		return 0;
	}
	if (call->fail_code == MD_OK) {
		if (call->grpc_status < 0) {
			if (code == NGHTTP2_REFUSED_STREAM)
				call_fail(call, MD_ETRANSIENT, "the server refused the stream");
			else if (code != NGHTTP2_NO_ERROR)
				call_fail(call, MD_ETRANSIENT, "stream reset (%s)",
					  nghttp2_http2_strerror(code));
			else if (call->http_status > 0 && call->http_status != 200)
				call_fail(call, MD_EFAIL, "HTTP status %d without grpc-status",
					  call->http_status);
			else if (call->bad_ctype)
				call_fail(call, MD_EFAIL, "response is not application/grpc");
			else
				call_fail(call, MD_EFAIL, "response ended without grpc-status");
		} else if (!md_grpc_decoder_idle(&call->dec)) {
			call_fail(call, MD_EFAIL, "response ended inside a message");
		}
	}
	call_finish(c, call);
	return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	(void)s;
	md_grpc_client *c = ud;
	if (c != NULL && f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK))
		c->got_settings = 1;
	return 0;
}

static int on_error(nghttp2_session *s, int lib_code, const char *msg, size_t len, void *ud)
{
	(void)s;
	(void)ud;
	md_log_debug("grpc client: http2: %.*s (%d)", (int)len, msg, lib_code);
	return 0;
}

/* ---- the loop ---- */

/* Tells md_grpc_client_dial how the setup went (once). */
static void report_ready(md_grpc_client *c, int rc, const md_error *err)
{
	if (c->ready)
		return;
	c->ready = 1;
	pthread_mutex_lock(&c->mu);
	c->hs_done = 1;
	c->hs_rc = rc;
	if (err)
		c->hs_err = *err;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Marks the connection dead and fails every call, queued or active. */
static void conn_die(md_grpc_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_die(md_grpc_client *c, const char *fmt, ...)
{
	char why[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);

	if (!c->ready) {
		md_error err = {0};
		md_err_set(&err, MD_ETRANSIENT, "grpc: setting up HTTP/2 with %s failed: %s",
			   c->target, why);
		report_ready(c, MD_ETRANSIENT, &err);
	}
	pthread_mutex_lock(&c->mu);
	if (!c->dead) {
		c->dead = 1;
		snprintf(c->dead_msg, sizeof c->dead_msg, "%s", why);
	}
	struct gcall *q = c->q_head;
	c->q_head = c->q_tail = NULL;
	for (struct gcall *x = q; x; x = x->next)
		x->state = CALL_ACTIVE; /* ours now: a timed-out caller must wait */
	int stopping = c->stop;
	pthread_mutex_unlock(&c->mu);
	if (!stopping)
		md_log_debug("grpc client: connection to %s lost: %s", c->target, why);

	while (q) {
		struct gcall *next = q->next;
		call_fail(q, MD_ETRANSIENT, "connection to %s lost: %s", c->target, why);
		call_finish(c, q);
		q = next;
	}
	while (c->active) {
		struct gcall *call = c->active;
		active_remove(c, call);
		if (call->cancel_seen) {
			call_unref(c, call);
			continue;
		}
		call_fail(call, MD_ETRANSIENT, "connection to %s lost: %s", c->target, why);
		call_finish(c, call);
	}
}

static void submit_call(md_grpc_client *c, struct gcall *call)
{
#define NV(n, v)                                                                  \
	{                                                                         \
		(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE \
	}
	nghttp2_nv hdrs[] = {
		NV(":method", "POST"),
		NV(":scheme", "https"),
		NV(":path", call->path),
		NV(":authority", c->authority),
		NV("content-type", "application/grpc"),
		NV("te", "trailers"),
		NV("user-agent", "mdcred-grpc-c/1"),
	};
#undef NV
	nghttp2_data_provider dp = {.source = {.ptr = NULL}, .read_callback = body_read};
	int32_t id = nghttp2_submit_request(c->h2, NULL, hdrs, sizeof hdrs / sizeof hdrs[0], &dp,
					    call);
	if (id < 0) {
		call_fail(call, MD_ETRANSIENT, "cannot open a stream: %s", nghttp2_strerror(id));
		call_finish(c, call);
		return;
	}
	call->stream_id = id;
	active_add(c, call);
}

/* Takes new calls and cancellations. Returns 1 when asked to stop. */
static int take_work(md_grpc_client *c)
{
	pthread_mutex_lock(&c->mu);
	if (c->stop) {
		pthread_mutex_unlock(&c->mu);
		return 1;
	}
	struct gcall *q = c->q_head;
	c->q_head = c->q_tail = NULL;
	for (struct gcall *x = q; x; x = x->next)
		x->state = CALL_ACTIVE;
	/* Cancellations: release the caller now; RST_STREAM below. */
	struct gcall *cancelled[64];
	int ncancel = 0;
	if (c->cancel_pending) {
		c->cancel_pending = 0;
		for (struct gcall *a = c->active; a; a = a->next) {
			if (!a->cancel || a->cancel_seen)
				continue;
			if (ncancel == (int)(sizeof cancelled / sizeof cancelled[0])) {
				c->cancel_pending = 1; /* the rest next turn */
				break;
			}
			a->cancel_seen = 1;
			a->released = 1;
			pthread_cond_signal(&a->cv);
			cancelled[ncancel++] = a;
		}
	}
	int more = c->cancel_pending;
	pthread_mutex_unlock(&c->mu);

	for (int i = 0; i < ncancel; i++)
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, cancelled[i]->stream_id,
					  NGHTTP2_CANCEL);
	while (q) {
		struct gcall *next = q->next;
		submit_call(c, q);
		q = next;
	}
	if (more)
		md_gc_wake(c);
	return 0;
}

static int out_append(md_grpc_client *c, const uint8_t *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 64 * 1024;
		while (cap < c->out_len + n)
			cap *= 2;
		uint8_t *nb = realloc(c->out, cap);
		if (nb == NULL)
			return -1;
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/* Moves frames from nghttp2 to the socket until it would block. */
static int flush_out(md_grpc_client *c, char *why, size_t whysz)
{
	c->want_pollout = 0;
	for (;;) {
		if (c->out_off == c->out_len) {
			c->out_off = c->out_len = 0;
			while (c->out_len < GC_OUT_HIGH) {
				const uint8_t *p = NULL;
				ssize_t n = nghttp2_session_mem_send(c->h2, &p);
				if (n < 0) {
					snprintf(why, whysz, "HTTP/2: %s", nghttp2_strerror((int)n));
					return -1;
				}
				if (n == 0)
					break;
				if (out_append(c, p, (size_t)n) != 0) {
					snprintf(why, whysz, "out of memory");
					return -1;
				}
			}
			if (c->out_len == 0)
				return 0;
		}
		ERR_clear_error();
		errno = 0;
		int w = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
		if (w > 0) {
			c->out_off += (size_t)w;
			continue;
		}
		int saved = errno;
		int e = SSL_get_error(c->ssl, w);
		if (e == SSL_ERROR_WANT_WRITE) {
			c->want_pollout = 1;
			return 0;
		}
		if (e == SSL_ERROR_WANT_READ)
			return 0;
		ssl_detail(c->ssl, w, saved, why, whysz);
		return -1;
	}
}

static int read_in(md_grpc_client *c, char *why, size_t whysz)
{
	c->read_more = 0;
	c->read_wants_write = 0;
	for (int turn = 0; turn < GC_READS_PER_TURN; turn++) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_read(c->ssl, c->rbuf, GC_READ_BUF);
		if (r > 0) {
			ssize_t rv = nghttp2_session_mem_recv(c->h2, c->rbuf, (size_t)r);
			if (rv < 0) {
				snprintf(why, whysz, "HTTP/2: %s", nghttp2_strerror((int)rv));
				return -1;
			}
			continue;
		}
		int saved = errno;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			return 0;
		if (e == SSL_ERROR_WANT_WRITE) {
			c->read_wants_write = 1;
			return 0;
		}
		return ssl_detail(c->ssl, r, saved, why, whysz) ? -2 : -1;
	}
	c->read_more = 1;
	return 0;
}

/* Caller thread; see grpc_client_int.h. The loop holds io_mu except while
 * in poll(), so a free io_mu means the loop sleeps (or is gone: then dead
 * is set) and this thread may drive the session: open the stream and
 * write. What the socket does not take stays in nghttp2/c->out and the
 * loop, woken, waits for POLLOUT. A write error is left to the loop
 * (io_err), which owns the connection's death. */
int md_gc_send_direct(md_grpc_client *c, struct gcall *call)
{
	if (pthread_mutex_trylock(&c->io_mu) != 0)
		return 0;
	pthread_mutex_lock(&c->mu);
	if (c->dead || c->stop || c->io_err || !c->ready) {
		/* The queue path reports dead/stop; io_err: the loop is about
		 * to fail everything queued. */
		pthread_mutex_unlock(&c->mu);
		pthread_mutex_unlock(&c->io_mu);
		return 0;
	}
	c->inflight++;
	call->refs = 2;
	call->state = CALL_ACTIVE; /* the loop's now, as if taken from the queue */
	pthread_mutex_unlock(&c->mu);

	submit_call(c, call);
	/* This thread writes to the socket: a peer gone away must give EPIPE,
	 * not a SIGPIPE that kills the process. */
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	char why[sizeof c->io_why];
	int wake = 0;
	if (flush_out(c, why, sizeof why) != 0) {
		c->io_err = 1;
		memcpy(c->io_why, why, sizeof why);
		wake = 1;
		sigset_t pending;
		if (!sigismember(&old, SIGPIPE) && sigpending(&pending) == 0 &&
		    sigismember(&pending, SIGPIPE)) {
			struct timespec zero = {0, 0};
			(void)sigtimedwait(&pipe_set, NULL, &zero);
		}
	} else if (c->want_pollout) {
		wake = 1; /* the loop must poll for POLLOUT */
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	ERR_clear_error();
	pthread_mutex_unlock(&c->io_mu);
	if (wake)
		md_gc_wake(c);
	return 1;
}

static void run_loop(md_grpc_client *c)
{
	char why[200];
	for (;;) {
		if (take_work(c)) {
			/* Polite goodbye, best effort: GOAWAY, close_notify. */
			nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
			(void)flush_out(c, why, sizeof why);
			ERR_clear_error();
			(void)SSL_shutdown(c->ssl);
			ERR_clear_error();
			conn_die(c, "the client was closed");
			break;
		}
		if (c->io_err)
			snprintf(why, sizeof why, "%s", c->io_why);
		if (c->io_err || flush_out(c, why, sizeof why) != 0) {
			/* A write fails with EPIPE when the peer hung up; an alert
			 * it sent first (say, refusing our certificate) says why. */
			char why2[sizeof why];
			if (read_in(c, why2, sizeof why2) == -2)
				memcpy(why, why2, sizeof why);
			conn_die(c, "%s", why);
			break;
		}
		if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
		    c->out_off == c->out_len) {
			conn_die(c, "the server ended the HTTP/2 session");
			break;
		}
		struct pollfd pf[2] = {
			{.fd = c->fd,
			 .events = (short)(POLLIN |
					   (c->want_pollout || c->read_wants_write ? POLLOUT : 0))},
			{.fd = c->wake[0], .events = POLLIN},
		};
		int wait = -1;
		if (!c->ready) {
			int64_t left = c->hs_deadline_ms - md_gc_now_ms();
			if (left <= 0) {
				conn_die(c, "no HTTP/2 SETTINGS from the server in time");
				break;
			}
			wait = (int)left;
		}
		/* Callers queue work only while we hold io_mu; they write the
		 * wake pipe only once we said we sleep. So look at the queue,
		 * under mu, before saying so. */
		pthread_mutex_lock(&c->mu);
		int busy = c->q_head != NULL || c->cancel_pending || c->stop;
		c->sleeping = !busy;
		pthread_mutex_unlock(&c->mu);
		/* Never poll holding io_mu: callers take it to send. */
		pthread_mutex_unlock(&c->io_mu);
		int n = poll(pf, 2, c->read_more || busy ? 0 : wait);
		int perr = errno;
		pthread_mutex_lock(&c->io_mu);
		pthread_mutex_lock(&c->mu);
		c->sleeping = 0;
		pthread_mutex_unlock(&c->mu);
		if (n < 0 && perr != EINTR) {
			conn_die(c, "poll: %s", strerror(perr));
			break;
		}
		if (n <= 0 && !c->read_more)
			continue;
		if (pf[1].revents & POLLIN) {
			char buf[256];
			while (read(c->wake[0], buf, sizeof buf) > 0)
				;
		}
		if (c->read_more || (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) ||
		    (c->read_wants_write && (pf[0].revents & POLLOUT))) {
			if (read_in(c, why, sizeof why) != 0) {
				conn_die(c, "%s", why);
				break;
			}
			if (c->got_settings)
				report_ready(c, MD_OK, NULL);
		}
	}
}

/* TLS handshake, on the loop thread, bounded by hs_deadline_ms. */
static int handshake(md_grpc_client *c, md_error *err)
{
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		int saved = errno;
		int e = SSL_get_error(c->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			char d[300];
			ssl_detail(c->ssl, r, saved, d, sizeof d);
			return md_err_set(err, MD_ETRANSIENT, "grpc: TLS handshake with %s failed: %s",
					  c->target, d);
		}
		int64_t left = c->hs_deadline_ms - md_gc_now_ms();
		if (left <= 0)
			return md_err_set(err, MD_ETRANSIENT, "grpc: TLS handshake with %s timed out",
					  c->target);
		struct pollfd pf = {.fd = c->fd,
				    .events = (short)(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)};
		if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
			return md_err_set(err, MD_ETRANSIENT, "grpc: poll: %s", strerror(errno));
	}
	if (SSL_get0_peer_certificate(c->ssl) == NULL ||
	    SSL_get_verify_result(c->ssl) != X509_V_OK)
		return md_err_set(err, MD_ETRANSIENT,
				  "grpc: TLS handshake with %s: the server's certificate is not verified",
				  c->target);
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	if (alpn == NULL || alpn_len != 2 || memcmp(alpn, "h2", 2) != 0)
		return md_err_set(err, MD_EFAIL, "grpc: %s did not negotiate ALPN h2", c->target);
	return MD_OK;
}

static int session_new(md_grpc_client *c, md_error *err)
{
	nghttp2_session_callbacks *cb;
	if (nghttp2_session_callbacks_new(&cb) != 0)
		return md_err_set(err, MD_EFAIL, "grpc: out of memory");
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_error_callback2(cb, on_error);
	int rv = nghttp2_session_client_new(&c->h2, cb, c);
	nghttp2_session_callbacks_del(cb);
	if (rv != 0)
		return md_err_set(err, MD_EFAIL, "grpc: nghttp2: %s", nghttp2_strerror(rv));
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GC_STREAM_WINDOW},
	};
	rv = nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
	if (rv == 0)
		rv = nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
							   GC_CONN_WINDOW);
	if (rv != 0)
		return md_err_set(err, MD_EFAIL, "grpc: nghttp2: %s", nghttp2_strerror(rv));
	return MD_OK;
}

void *md_gc_loop_main(void *arg)
{
	md_grpc_client *c = arg;
	md_error err = {0};
	int rc = handshake(c, &err);
	if (rc == MD_OK)
		rc = session_new(c, &err);
	if (rc == MD_OK) {
		pthread_mutex_lock(&c->io_mu);
		run_loop(c); /* reports ready on the server's SETTINGS */
		pthread_mutex_unlock(&c->io_mu);
	} else {
		pthread_mutex_lock(&c->mu);
		c->dead = 1;
		snprintf(c->dead_msg, sizeof c->dead_msg, "handshake failed");
		pthread_mutex_unlock(&c->mu);
		report_ready(c, rc, &err);
	}
	ERR_clear_error();
	return NULL;
}
