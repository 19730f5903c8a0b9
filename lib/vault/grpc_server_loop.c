/* grpc_server_loop.c - the gRPC server's event loop: poll, accepting,
 * TLS (nonblocking OpenSSL, ALPN h2), feeding each connection's nghttp2
 * session and writing its output, stop and idle. Everything here runs on
 * the loop thread; see grpc_server_int.h. */
#define _GNU_SOURCE /* accept4 */
#include "vault/grpc_server_int.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "base/log.h"

#define HANDSHAKE_TIMEOUT_MS 10000
#define STOP_GRACE_MS 800           /* then connections are closed hard */
#define READS_PER_TURN 64           /* SSL_read calls per connection per turn */
#define WBUF_GATHER (64 << 10)      /* bytes of HTTP/2 output per SSL_write */

/* ---- connections ---- */

static void conn_close(md_grpc_conn *conn, int clean)
{
	md_grpc_server *s = conn->s;
	while (conn->calls)
		md_grpc_detach_call(conn->calls);
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		s->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	if (clean && conn->state == MD_GRPC_CONN_H2) {
		ERR_clear_error();
		(void)SSL_shutdown(conn->ssl); /* close_notify, best effort */
	}
	if (conn->h2)
		nghttp2_session_del(conn->h2);
	SSL_free(conn->ssl);
	close(conn->fd);
	free(conn->wbuf);
	md_log_debug("grpc: connection %u closed", conn->id);
	free(conn);
	ERR_clear_error();
	if (atomic_fetch_sub(&s->nconns, 1) == 1 && s->accepted_any && !s->stopping && s->idle_fn)
		s->idle_fn(s->idle_ud);
}

static int conn_flush(md_grpc_conn *conn)
{
	for (;;) {
		if (conn->woff < conn->wlen) {
			size_t left = conn->wlen - conn->woff;
			ERR_clear_error();
			int n = SSL_write(conn->ssl, conn->wbuf + conn->woff,
					  left > INT_MAX ? INT_MAX : (int)left);
			if (n > 0) {
				conn->woff += (size_t)n;
				continue;
			}
			int e = SSL_get_error(conn->ssl, n);
			if (e == SSL_ERROR_WANT_WRITE) {
				conn->wr_blocked = 1;
				return 0;
			}
			if (e == SSL_ERROR_WANT_READ)
				return 0;
			return -1;
		}
		conn->woff = conn->wlen = 0;
		conn->wr_blocked = 0;
		if (!conn->h2)
			return 0;
		while (conn->wlen < WBUF_GATHER) {
			const uint8_t *d;
			ssize_t n = nghttp2_session_mem_send(conn->h2, &d);
			if (n < 0) {
				md_log_debug("grpc: connection %u: %s", conn->id,
					     nghttp2_strerror((int)n));
				return -1;
			}
			if (n == 0)
				break;
			if (conn->wlen + (size_t)n > conn->wcap) {
				size_t cap = conn->wlen + (size_t)n + WBUF_GATHER;
				uint8_t *p = realloc(conn->wbuf, cap);
				if (!p)
					return -1;
				conn->wbuf = p;
				conn->wcap = cap;
			}
			memcpy(conn->wbuf + conn->wlen, d, (size_t)n);
			conn->wlen += (size_t)n;
		}
		if (conn->wlen == 0)
			return 0;
	}
}

static int conn_read(md_grpc_conn *conn)
{
	uint8_t buf[32 << 10];
	conn->more = 0;
	conn->want_write = 0;
	for (int i = 0; i < READS_PER_TURN; i++) {
		ERR_clear_error();
		int n = SSL_read(conn->ssl, buf, sizeof buf);
		if (n > 0) {
			ssize_t r = nghttp2_session_mem_recv(conn->h2, buf, (size_t)n);
			if (r < 0) {
				md_log_debug("grpc: connection %u: bad HTTP/2: %s", conn->id,
					     nghttp2_strerror((int)r));
				return -1;
			}
			continue;
		}
		int e = SSL_get_error(conn->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			return 0;
		if (e == SSL_ERROR_WANT_WRITE) {
			conn->want_write = 1;
			return 0;
		}
		return -1; /* closed by the peer, or a TLS error */
	}
	conn->more = 1;
	return 0;
}

static int conn_handshake(md_grpc_conn *conn)
{
	ERR_clear_error();
	int r = SSL_accept(conn->ssl);
	if (r != 1) {
		int e = SSL_get_error(conn->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			conn->want_write = e == SSL_ERROR_WANT_WRITE;
			return 0;
		}
		char why[160] = "connection closed";
		unsigned long ec = ERR_peek_error();
		if (ec)
			ERR_error_string_n(ec, why, sizeof why);
		md_log_debug("grpc: connection %u: TLS handshake failed: %s", conn->id, why);
		return -1;
	}
	conn->want_write = 0;
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;
	SSL_get0_alpn_selected(conn->ssl, &alpn, &alpn_len);
	if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
		md_log_debug("grpc: connection %u: peer did not negotiate ALPN h2; closing", conn->id);
		return -1;
	}
	if (md_grpc_h2_start(conn) != 0)
		return -1;
	conn->state = MD_GRPC_CONN_H2;
	conn->deadline = 0;
	conn->s->accepted_any = 1;
	md_log_debug("grpc: connection %u: TLS and HTTP/2 ready", conn->id);
	if (conn->s->stopping)
		nghttp2_submit_goaway(conn->h2, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
	return conn_read(conn); /* the preface may already be here */
}

/* Serves one connection after poll; -1: close it. */
static int conn_serve(md_grpc_conn *conn)
{
	if (conn->state == MD_GRPC_CONN_HANDSHAKE) {
		if (conn_handshake(conn) < 0)
			return -1;
		if (conn->state == MD_GRPC_CONN_HANDSHAKE)
			return 0;
	} else if (conn_read(conn) < 0) {
		return -1;
	}
	return conn_flush(conn);
}

static void accept_all(md_grpc_server *s)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				md_log_debug("grpc: accept: %s", strerror(errno));
				s->listen_pause_until = md_grpc_now_ms() + 100;
			}
			return;
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* TCP only */
		md_grpc_conn *conn = calloc(1, sizeof *conn);
		SSL *ssl = conn ? SSL_new(s->ctx) : NULL;
		if (!ssl || SSL_set_fd(ssl, fd) != 1) {
			SSL_free(ssl);
			free(conn);
			close(fd);
			ERR_clear_error();
			continue;
		}
		SSL_set_accept_state(ssl);
		SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		conn->s = s;
		conn->fd = fd;
		conn->ssl = ssl;
		conn->id = ++s->next_conn_id;
		conn->deadline = md_grpc_now_ms() + HANDSHAKE_TIMEOUT_MS;
		conn->next = s->conns;
		if (s->conns)
			s->conns->prev = conn;
		s->conns = conn;
		atomic_fetch_add(&s->nconns, 1);
		md_log_debug("grpc: connection %u accepted", conn->id);
	}
}

/* Stop requested: no new connections or streams (GOAWAY); handlers blocked
 * in recv see -1; what is queued still goes out until the grace ends. */
static void begin_stop(md_grpc_server *s)
{
	s->stopping = 1;
	s->stop_deadline = md_grpc_now_ms() + STOP_GRACE_MS;
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		s->listen_fd = -1;
	}
	md_log_debug("grpc: stopping");
	for (md_grpc_conn *conn = s->conns, *next; conn; conn = next) {
		next = conn->next;
		if (conn->state == MD_GRPC_CONN_HANDSHAKE) {
			conn_close(conn, 0);
			continue;
		}
		nghttp2_submit_goaway(conn->h2, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(conn->h2),
				      NGHTTP2_NO_ERROR, NULL, 0);
		pthread_mutex_lock(&s->mu);
		for (md_grpc_call *c = conn->calls; c; c = c->conn_next) {
			c->cancelled = 1;
			pthread_cond_broadcast(&c->cv);
		}
		pthread_mutex_unlock(&s->mu);
	}
}

void md_grpc_loop_cleanup(md_grpc_server *s)
{
	while (s->conns) {
		(void)conn_flush(s->conns);
		conn_close(s->conns, 0);
	}
	md_grpc_process_dirty(s); /* every call is detached: this only drops references */
}

int md_grpc_loop_run(md_grpc_server *s, md_error *err)
{
	/* OpenSSL writes with write(2): a peer gone away must give EPIPE on
	 * this thread, not kill the process. (Workers inherit the mask.) */
	sigset_t pipe_set, old_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

	struct pollfd *pfd = NULL;
	md_grpc_conn **pconn = NULL;
	size_t pcap = 0;
	int rc = MD_OK;
	for (;;) {
		int64_t now = md_grpc_now_ms();
		if (atomic_load(&s->stop_req) && !s->stopping)
			begin_stop(s);
		if (s->stopping && (!s->conns || now >= s->stop_deadline))
			break;

		size_t nc = 0;
		for (md_grpc_conn *c = s->conns; c; c = c->next)
			nc++;
		if (nc + 3 > pcap) {
			size_t cap = nc + 16;
			struct pollfd *p = realloc(pfd, cap * sizeof *p);
			if (p)
				pfd = p;
			md_grpc_conn **q = p ? realloc(pconn, cap * sizeof *q) : NULL;
			if (!p || !q) {
				rc = md_err_set(err, MD_EFAIL, "grpc server: out of memory");
				break;
			}
			pconn = q;
			pcap = cap;
		}
		size_t n = 0;
		int64_t wake_at = s->stopping ? s->stop_deadline : -1;
		pfd[n] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
		pconn[n++] = NULL;
		/* Until stopping: it stays readable. */
		pfd[n] = (struct pollfd){.fd = s->stopping ? -1 : s->stop_fd, .events = POLLIN};
		pconn[n++] = NULL;
		if (s->listen_fd >= 0) {
			if (now >= s->listen_pause_until) {
				pfd[n] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
				pconn[n++] = NULL;
			} else if (wake_at < 0 || s->listen_pause_until < wake_at) {
				wake_at = s->listen_pause_until;
			}
		}
		for (md_grpc_conn *c = s->conns; c; c = c->next) {
			short ev = POLLIN;
			if (c->want_write || c->wr_blocked || c->woff < c->wlen)
				ev |= POLLOUT;
			pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
			pconn[n++] = c;
			if (c->more)
				wake_at = now;
			if (c->deadline && (wake_at < 0 || c->deadline < wake_at))
				wake_at = c->deadline;
		}
		int timeout = wake_at < 0 ? -1 : wake_at <= now ? 0 : (int)(wake_at - now);
		/* Workers wake us only once we said we sleep; what they queued
		 * before that is on the dirty list: then only peek at the
		 * sockets. */
		pthread_mutex_lock(&s->mu);
		int busy = s->dirty_head != NULL;
		s->sleeping = !busy;
		pthread_mutex_unlock(&s->mu);
		int pr = poll(pfd, n, busy ? 0 : timeout);
		int perr = errno;
		pthread_mutex_lock(&s->mu);
		s->sleeping = 0;
		pthread_mutex_unlock(&s->mu);
		if (pr < 0 && perr != EINTR) {
			rc = md_err_set(err, MD_EFAIL, "grpc server: poll: %s", strerror(perr));
			break;
		}
		if (pr < 0)
			continue;
		if (pfd[0].revents) {
			uint64_t v;
			ssize_t r = read(s->wake_fd, &v, sizeof v);
			(void)r;
		}
		if (pfd[1].revents)
			atomic_store(&s->stop_req, 1);
		md_grpc_process_dirty(s);
		for (size_t i = 2; i < n; i++) {
			md_grpc_conn *c = pconn[i];
			if (!c) {
				if (pfd[i].revents && s->listen_fd >= 0)
					accept_all(s);
				continue;
			}
			if (!pfd[i].revents && !c->more)
				continue;
			if (conn_serve(c) < 0)
				conn_close(c, 0);
		}
		/* Output queued by workers and callbacks; finished sessions; late
		 * handshakes. */
		now = md_grpc_now_ms();
		for (md_grpc_conn *c = s->conns, *next; c; c = next) {
			next = c->next;
			if (c->state == MD_GRPC_CONN_HANDSHAKE) {
				if (c->deadline && now >= c->deadline) {
					md_log_debug("grpc: connection %u: TLS handshake timeout", c->id);
					conn_close(c, 0);
				}
				continue;
			}
			if (conn_flush(c) < 0)
				conn_close(c, 0);
			else if (!nghttp2_session_want_read(c->h2) &&
				 !nghttp2_session_want_write(c->h2) && c->woff == c->wlen)
				conn_close(c, 1);
		}
	}
	free(pfd);
	free(pconn);
	if (!s->stopping)
		begin_stop(s);
	md_grpc_loop_cleanup(s);

	sigset_t pending;
	if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = {0, 0};
		(void)sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	return rc;
}
