/* h2conn.c - see h2conn.h: connections and the loop here, streams and the
 * nghttp2 callbacks in h2stream.c. */
#define _GNU_SOURCE /* accept4, PTHREAD_MUTEX_ADAPTIVE_NP */
#include "vault/h2conn.h"
#include "base/time.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "base/log.h"
#include "vault/h2stream.h"
#include "vault/mtls.h"

#define READS_PER_TURN 64         /* SSL_read calls per connection per turn */
#define WBUF_GATHER (64 << 10)    /* bytes of HTTP/2 output per SSL_write */
#define CONN_WINDOW (64 << 20)    /* the connection's receive window */
#define ACCEPT_TIMEOUT_MS 10000   /* an accepted peer's handshake and SETTINGS */

/* ---- the loop's set-up and wake-ups ---- */

int md_h2loop_init(md_h2loop *l, const md_h2role *role, SSL_CTX *ctx, int listen_fd,
		   md_error *err)
{
	memset(l, 0, sizeof *l);
	l->role = role;
	l->ctx = ctx;
	l->listen_fd = listen_fd;
	l->stop_fd = -1;
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wake_fd < 0)
		return md_err_set(err, MD_EFAIL, "grpc: eventfd: %s", strerror(errno));
	/* Adaptive: mu is held for a few instructions at a time by the loop
	 * and every other thread; spinning briefly on contention beats
	 * sleeping in the kernel (a context switch each way). */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	(void)pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&l->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	atomic_init(&l->stop_req, 0);
	atomic_init(&l->nconns, 0);
	STAILQ_INIT(&l->dirty);
	LIST_INIT(&l->conns);
	return MD_OK;
}

/* Async-signal-safe: one write(2) to the eventfd, errno preserved. */
void md_h2loop_wake(md_h2loop *l)
{
	int saved = errno;
	uint64_t one = 1;
	ssize_t n = write(l->wake_fd, &one, sizeof one);
	(void)n; /* EAGAIN: the counter is already non-zero, the loop wakes anyway */
	errno = saved;
}

void md_h2loop_stop(md_h2loop *l)
{
	atomic_store(&l->stop_req, 1);
	md_h2loop_wake(l);
}

/* ---- connections ---- */

static int conn_fail(md_h2conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int conn_fail(md_h2conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	return -1;
}

/* Describes a failed SSL call into c->why, taking OpenSSL's error queue.
 * Returns 1 when the cause is TLS-level (an alert from the peer, say), 0
 * for a plain end of connection or a system error. */
static int ssl_why(md_h2conn *c, int ret, int saved_errno)
{
	int e = SSL_get_error(c->ssl, ret);
	unsigned long q = ERR_peek_last_error();
	int tls = 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		conn_fail(c, "closed by the peer");
	} else if (q != 0 && ERR_GET_LIB(q) == ERR_LIB_SSL &&
		   ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		conn_fail(c, "closed by the peer (unexpected EOF)");
	} else if (e == SSL_ERROR_SYSCALL && q == 0) {
		if (ret == 0 || saved_errno == 0)
			conn_fail(c, "closed by the peer (EOF)");
		else if (saved_errno == EPIPE || saved_errno == ECONNRESET)
			conn_fail(c, "closed by the peer (%s)", strerror(saved_errno));
		else
			conn_fail(c, "%s", strerror(saved_errno));
	} else if (q != 0) {
		tls = 1;
		char e1[160];
		ERR_error_string_n(q, e1, sizeof e1);
		long v = SSL_get_verify_result(c->ssl);
		if (v != X509_V_OK)
			conn_fail(c, "%s (certificate: %s)", e1, X509_verify_cert_error_string(v));
		else
			conn_fail(c, "%s", e1);
	} else {
		conn_fail(c, "SSL error %d", e);
	}
	ERR_clear_error();
	return tls;
}

md_h2conn *md_h2conn_new(md_h2loop *l, int fd, SSL_CTX *ctx, const char *server_name,
			 int timeout_ms)
{
	md_h2conn *c = calloc(1, sizeof *c);
	SSL *ssl = c ? SSL_new(ctx) : NULL;
	int ok = ssl && SSL_set_fd(ssl, fd) == 1;
	if (ok && server_name)
		ok = SSL_set_tlsext_host_name(ssl, server_name) == 1 &&
		     SSL_set1_host(ssl, server_name) == 1;
	if (!ok) {
		SSL_free(ssl);
		free(c);
		close(fd);
		ERR_clear_error();
		return NULL;
	}
	if (server_name)
		SSL_set_connect_state(ssl);
	else
		SSL_set_accept_state(ssl);
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	c->loop = l;
	c->fd = fd;
	c->ssl = ssl;
	c->id = ++l->next_id;
	c->deadline = md_time_now_ms() + timeout_ms;
	c->more = 1; /* a client speaks first: serve it on the first turn */
	LIST_INIT(&c->streams);
	LIST_INSERT_HEAD(&l->conns, c, link);
	atomic_fetch_add(&l->nconns, 1);
	return c;
}

/* clean: the session ended in order; say close_notify. */
static void conn_close(md_h2conn *c, int clean)
{
	md_h2loop *l = c->loop;
	while (!LIST_EMPTY(&c->streams))
		md_h2stream_detach(LIST_FIRST(&c->streams), NGHTTP2_CANCEL,
				   c->why[0] ? c->why : "closed");
	LIST_REMOVE(c, link);
	if (clean && c->h2) {
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl); /* best effort */
	}
	if (c->h2)
		nghttp2_session_del(c->h2);
	SSL_free(c->ssl);
	ERR_clear_error();
	close(c->fd);
	free(c->wbuf);
	md_log_debug("grpc: connection %u closed%s%s", c->id, c->why[0] ? ": " : "", c->why);
	atomic_fetch_sub(&l->nconns, 1);
	if (l->role->conn_closed)
		l->role->conn_closed(c);
	free(c);
}

/* Moves what the session has to send to the socket until it would block. */
static int conn_flush(md_h2conn *c)
{
	for (;;) {
		if (c->woff < c->wlen) {
			size_t left = c->wlen - c->woff;
			ERR_clear_error();
			errno = 0;
			int n = SSL_write(c->ssl, c->wbuf + c->woff, left > INT_MAX ? INT_MAX : (int)left);
			if (n > 0) {
				c->woff += (size_t)n;
				continue;
			}
			int saved = errno;
			int e = SSL_get_error(c->ssl, n);
			c->wr_blocked = e == SSL_ERROR_WANT_WRITE;
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
				return 0;
			ssl_why(c, n, saved);
			return -1;
		}
		c->woff = c->wlen = 0;
		c->wr_blocked = 0;
		while (c->wlen < WBUF_GATHER) {
			const uint8_t *d;
			ssize_t n = nghttp2_session_mem_send(c->h2, &d);
			if (n < 0)
				return conn_fail(c, "HTTP/2: %s", nghttp2_strerror((int)n));
			if (n == 0)
				break;
			if (c->wlen + (size_t)n > c->wcap) {
				size_t cap = c->wlen + (size_t)n + WBUF_GATHER;
				uint8_t *p = realloc(c->wbuf, cap);
				if (!p)
					return conn_fail(c, "out of memory");
				c->wbuf = p;
				c->wcap = cap;
			}
			memcpy(c->wbuf + c->wlen, d, (size_t)n);
			c->wlen += (size_t)n;
		}
		if (c->wlen == 0)
			return 0;
	}
}

/* Feeds the session what TLS has, a bounded number of reads per turn. */
static int conn_read(md_h2conn *c)
{
	uint8_t buf[32 << 10];
	c->more = 0;
	c->want_write = 0;
	for (int i = 0; i < READS_PER_TURN; i++) {
		ERR_clear_error();
		errno = 0;
		int n = SSL_read(c->ssl, buf, sizeof buf);
		if (n > 0) {
			ssize_t r = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
			if (r < 0)
				return conn_fail(c, "HTTP/2: %s", nghttp2_strerror((int)r));
			continue;
		}
		int saved = errno;
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			return 0;
		if (e == SSL_ERROR_WANT_WRITE) {
			c->want_write = 1;
			return 0;
		}
		ssl_why(c, n, saved);
		return -1;
	}
	c->more = 1;
	return 0;
}

/* A write fails with EPIPE when the peer hung up; an alert it sent before
 * (refusing our certificate, say) tells why. */
static void conn_why_from_alert(md_h2conn *c)
{
	char keep[sizeof c->why];
	memcpy(keep, c->why, sizeof keep);
	uint8_t buf[512];
	ERR_clear_error();
	errno = 0;
	int n = SSL_read(c->ssl, buf, sizeof buf);
	if (n > 0 || !ssl_why(c, n, errno))
		memcpy(c->why, keep, sizeof keep);
}

static int conn_handshake(md_h2conn *c)
{
	c->more = 0;
	ERR_clear_error();
	errno = 0;
	int r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		int saved = errno;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			c->want_write = e == SSL_ERROR_WANT_WRITE;
			return 0;
		}
		ssl_why(c, r, saved);
		return -1;
	}
	c->want_write = 0;
	if (!SSL_is_server(c->ssl) &&
	    (!SSL_get0_peer_certificate(c->ssl) || SSL_get_verify_result(c->ssl) != X509_V_OK))
		return conn_fail(c, "the server's certificate is not verified");
	if (!md_mtls_alpn_is_h2(c->ssl))
		return conn_fail(c, "the peer did not negotiate ALPN h2");
	if (md_h2stream_session_new(c, CONN_WINDOW) != 0)
		return conn_fail(c, "cannot start an HTTP/2 session");
	md_log_debug("grpc: connection %u: TLS up", c->id);
	return conn_read(c); /* the peer's first frames may be here already */
}

/* ---- the loop ---- */

static void accept_all(md_h2loop *l)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(l->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				md_log_debug("grpc: accept: %s", strerror(errno));
				l->listen_pause_until = md_time_now_ms() + 100;
			}
			return;
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* TCP only */
		md_h2conn *c = md_h2conn_new(l, fd, l->ctx, NULL, ACCEPT_TIMEOUT_MS);
		if (c)
			md_log_debug("grpc: connection %u accepted", c->id);
	}
}

/* No new connections or streams (GOAWAY); receivers of open streams see
 * -1; what is queued still goes out until the grace ends. */
static void begin_stop(md_h2loop *l)
{
	l->stopping = 1;
	l->stop_deadline = md_time_now_ms() + l->role->grace_ms;
	if (l->listen_fd >= 0) {
		close(l->listen_fd);
		l->listen_fd = -1;
	}
	md_log_debug("grpc: stopping");
	for (md_h2conn *c = LIST_FIRST(&l->conns), *next; c; c = next) {
		next = LIST_NEXT(c, link);
		if (!c->h2) {
			conn_close(c, 0);
			continue;
		}
		nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(c->h2), NGHTTP2_NO_ERROR,
				      NULL, 0);
		pthread_mutex_lock(&l->mu);
		md_h2stream *st;
		LIST_FOREACH(st, &c->streams, conn_link) {
			st->cancelled = 1;
			pthread_cond_broadcast(&st->cv);
		}
		pthread_mutex_unlock(&l->mu);
	}
}

/* After poll: what each connection has to send, deadlines, sessions that
 * ended. */
static void after_turn(md_h2loop *l)
{
	int64_t now = md_time_now_ms();
	for (md_h2conn *c = LIST_FIRST(&l->conns), *next; c; c = next) {
		next = LIST_NEXT(c, link);
		if (c->deadline && now >= c->deadline) {
			conn_fail(c, c->h2 ? "no HTTP/2 SETTINGS in time" : "no TLS handshake in time");
			conn_close(c, 0);
		} else if (!c->h2) {
			continue;
		} else if (conn_flush(c) < 0) {
			conn_why_from_alert(c);
			conn_close(c, 0);
		} else if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
			   c->woff == c->wlen) {
			if (!c->why[0] && !l->stopping)
				conn_fail(c, "the peer ended the HTTP/2 session");
			conn_close(c, 1);
		}
	}
}

struct pollset {
	struct pollfd *fd;
	md_h2conn **conn;
	size_t n, cap;
};

static int pollset_add(struct pollset *p, int fd, short ev, md_h2conn *c)
{
	if (p->n == p->cap) {
		size_t cap = p->cap + 16;
		struct pollfd *f = realloc(p->fd, cap * sizeof *f);
		if (f)
			p->fd = f;
		md_h2conn **q = f ? realloc(p->conn, cap * sizeof *q) : NULL;
		if (!q)
			return -1;
		p->conn = q;
		p->cap = cap;
	}
	p->fd[p->n] = (struct pollfd){.fd = fd, .events = ev};
	p->conn[p->n++] = c;
	return 0;
}

/* Fills the poll set (wake-up fd, stop fd, listening socket, then the
 * connections) and says how long poll may wait. */
static int turn_prepare(md_h2loop *l, struct pollset *p, int *timeout)
{
	int64_t now = md_time_now_ms();
	int64_t wake_at = l->stopping ? l->stop_deadline : -1;
	int listen = l->listen_fd >= 0 && now >= l->listen_pause_until;
	if (l->listen_fd >= 0 && !listen && (wake_at < 0 || l->listen_pause_until < wake_at))
		wake_at = l->listen_pause_until;
	p->n = 0;
	int rc = pollset_add(p, l->wake_fd, POLLIN, NULL);
	/* The stop fd stays readable: only until stopping. */
	rc |= pollset_add(p, l->stopping ? -1 : l->stop_fd, POLLIN, NULL);
	rc |= pollset_add(p, listen ? l->listen_fd : -1, POLLIN, NULL);
	md_h2conn *c;
	LIST_FOREACH(c, &l->conns, link) {
		short ev = POLLIN;
		if (c->want_write || c->wr_blocked || c->woff < c->wlen)
			ev |= POLLOUT;
		rc |= pollset_add(p, c->fd, ev, c);
		if (c->more)
			wake_at = now;
		if (c->deadline && (wake_at < 0 || c->deadline < wake_at))
			wake_at = c->deadline;
	}
	*timeout = wake_at < 0 ? -1 : wake_at <= now ? 0 : (int)(wake_at - now);
	return rc;
}

/* poll, telling other threads whether a post must wake us. What they
 * posted before we said so is on the dirty list: then only peek. */
static int turn_poll(md_h2loop *l, struct pollset *p, int timeout)
{
	pthread_mutex_lock(&l->mu);
	int busy = !STAILQ_EMPTY(&l->dirty);
	l->sleeping = !busy;
	pthread_mutex_unlock(&l->mu);
	int n = poll(p->fd, p->n, busy ? 0 : timeout);
	int saved = errno;
	pthread_mutex_lock(&l->mu);
	l->sleeping = 0;
	pthread_mutex_unlock(&l->mu);
	errno = saved;
	return n;
}

static void turn_serve(md_h2loop *l, struct pollset *p)
{
	if (p->fd[0].revents) {
		uint64_t v;
		ssize_t r = read(l->wake_fd, &v, sizeof v);
		(void)r;
	}
	if (p->fd[1].revents)
		atomic_store(&l->stop_req, 1);
	md_h2stream_process_dirty(l);
	if (p->fd[2].revents && l->listen_fd >= 0)
		accept_all(l);
	for (size_t i = 3; i < p->n; i++) {
		md_h2conn *c = p->conn[i];
		if (!p->fd[i].revents && !c->more)
			continue;
		if ((c->h2 ? conn_read(c) : conn_handshake(c)) < 0)
			conn_close(c, 0);
	}
	after_turn(l);
}

int md_h2loop_run(md_h2loop *l, md_error *err)
{
	/* OpenSSL writes with write(2): a peer gone away must give EPIPE on
	 * this thread, not kill the process. (Threads it starts inherit it.) */
	sigset_t pipe_set, old_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

	struct pollset p = {0};
	int rc = MD_OK;
	for (;;) {
		if (atomic_load(&l->stop_req) && !l->stopping)
			begin_stop(l);
		if (l->stopping && (LIST_EMPTY(&l->conns) || md_time_now_ms() >= l->stop_deadline))
			break;
		int timeout;
		if (turn_prepare(l, &p, &timeout) != 0) {
			rc = md_err_set(err, MD_EFAIL, "grpc: out of memory");
			break;
		}
		int n = turn_poll(l, &p, timeout);
		if (n < 0 && errno != EINTR) {
			rc = md_err_set(err, MD_EFAIL, "grpc: poll: %s", strerror(errno));
			break;
		}
		if (n >= 0)
			turn_serve(l, &p);
	}
	free(p.fd);
	free(p.conn);
	if (!l->stopping)
		begin_stop(l);
	md_h2loop_close_all(l);

	sigset_t pending;
	if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = {0, 0};
		(void)sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	return rc;
}

void md_h2loop_close_all(md_h2loop *l)
{
	/* From here a post would never be seen: senders get -1. */
	pthread_mutex_lock(&l->mu);
	l->closed = 1;
	pthread_mutex_unlock(&l->mu);
	while (!LIST_EMPTY(&l->conns)) {
		md_h2conn *c = LIST_FIRST(&l->conns);
		if (c->h2)
			(void)conn_flush(c); /* GOAWAY, and what else is ready */
		if (!c->why[0])
			conn_fail(c, "stopped");
		conn_close(c, c->h2 != NULL);
	}
	/* Streams posted before closed: detached ones drop their reference,
	 * a client's never started fail. */
	md_h2stream_process_dirty(l);
}

void md_h2loop_destroy(md_h2loop *l)
{
	md_h2loop_close_all(l);
	if (l->listen_fd >= 0)
		close(l->listen_fd);
	close(l->wake_fd);
	pthread_mutex_destroy(&l->mu);
}
