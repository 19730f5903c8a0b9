/* grpc_client.c - see grpc_client.h. The loop thread is in
 * grpc_client_loop.c; shared internals in grpc_client_int.h.
 *
 * Threads. One loop thread reads the socket and runs the nghttp2 session:
 * it runs poll() on the socket and on a wake pipe. The socket, the SSL
 * object, the nghttp2 session and the loop-side state are guarded by
 * c->io_mu, which the loop holds for its whole turn except while blocked in
 * poll(). A caller of md_grpc_client_unary first tries io_mu: when it is
 * free (the loop sleeps), the caller opens the stream and writes its
 * request itself (nonblocking; what the socket does not take is left to
 * the loop, woken for POLLOUT), so a call costs no wake-up of the loop on
 * the way out. When io_mu is busy, the caller puts the call on a queue
 * (under c->mu) and writes a byte to the wake pipe only if the loop said
 * it is going to sleep (c->sleeping); an awake loop checks the queue before
 * sleeping. Either way the caller then sleeps on the call's condition
 * variable, and the loop, reading the response, releases it. Lock order:
 * io_mu before mu.
 *
 * A call (struct gcall) lives on the heap with two references: the caller's
 * and the loop's. The caller may return once the call is "released": the
 * loop has either finished it (result fields are final) or, after a timeout,
 * acknowledged the cancellation (it then sends RST_STREAM, ignores whatever
 * else arrives on that stream and never reads the request bytes, which stay
 * the caller's memory, again). The loop drops its reference when nghttp2
 * closes the stream, or when the connection dies.
 *
 * SIGPIPE: the loop thread is created with SIGPIPE blocked, and it does
 * the handshake and all reads. Callers write too (fast path above): a
 * write to a vanished peer raises SIGPIPE on the calling thread, so the
 * program must block or ignore SIGPIPE in its calling threads (the plugin
 * runs calls on the gRPC server's handler threads, which block it).
 *
 * Dial returns once the server's HTTP/2 SETTINGS frame has arrived, not
 * merely after our side of the TLS handshake: under TLS 1.3 a server judges
 * our certificate after the client considers the handshake done, and a
 * refusal must fail the dial, not the first call. Dial's timeout_ms covers
 * connect, handshake and SETTINGS (<= 0: 30 s).
 *
 * Calls: timeout_ms <= 0 waits without limit (until the connection dies or
 * the client is freed). On a timeout the stream is reset (RST_STREAM
 * CANCEL) and the connection stays up. When the connection dies, every
 * pending call fails with MD_ETRANSIENT naming the cause, and later calls
 * fail at once. md_grpc_client_free fails calls still in flight and waits
 * for them to return. Connection-wide errors set *status to UNAVAILABLE,
 * timeouts to DEADLINE_EXCEEDED, protocol errors to INTERNAL (the return
 * code is what counts).
 */
#include "vault/grpc_client_int.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- dialing ---- */

static int connect_wait(int fd, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EAGAIN)
		return -1;
	for (;;) {
		int64_t left = deadline - md_gc_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		int n = poll(&pf, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			continue;
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
			return -1;
		if (soerr != 0) {
			errno = soerr;
			return -1;
		}
		return 0;
	}
}

static int dial_unix(const char *path, int64_t deadline, md_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return -md_err_set(err, MD_EUSAGE, "grpc: socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -md_err_set(err, MD_EFAIL, "grpc: socket: %s", strerror(errno));
	if (connect_wait(fd, (struct sockaddr *)&sa, sizeof sa, deadline) != 0) {
		int e = errno;
		close(fd);
		return -md_err_set(err, MD_ETRANSIENT, "grpc: connect to unix:%s: %s", path,
				   strerror(e));
	}
	return fd;
}

static int dial_tcp(const char *address, int64_t deadline, md_error *err)
{
	char host[256];
	const char *port;
	if (address[0] == '[') {
		const char *end = strchr(address, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - address - 1) >= sizeof host)
			return -md_err_set(err, MD_EUSAGE, "grpc: bad address '%s'", address);
		memcpy(host, address + 1, (size_t)(end - address - 1));
		host[end - address - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(address, ':');
		if (colon == NULL || (size_t)(colon - address) >= sizeof host)
			return -md_err_set(err, MD_EUSAGE, "grpc: bad address '%s' (want host:port)",
					   address);
		memcpy(host, address, (size_t)(colon - address));
		host[colon - address] = '\0';
		port = colon + 1;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0)
		return -md_err_set(err, MD_ETRANSIENT, "grpc: resolving %s: %s", address,
				   gai_strerror(gai));
	int fd = -1, e = 0;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect_wait(fd, ai->ai_addr, ai->ai_addrlen, deadline) != 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -md_err_set(err, MD_ETRANSIENT, "grpc: connect to tcp:%s: %s", address,
				   strerror(e));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

int md_grpc_client_dial(const char *network, const char *address, SSL_CTX *ssl_ctx,
			const char *server_name, int timeout_ms, md_grpc_client **out,
			md_error *err)
{
	*out = NULL;
	if (network == NULL || address == NULL || ssl_ctx == NULL || server_name == NULL ||
	    server_name[0] == '\0')
		return md_err_set(err, MD_EUSAGE, "grpc: dial: missing argument");
	int is_unix = strcmp(network, "unix") == 0;
	if (!is_unix && strcmp(network, "tcp") != 0)
		return md_err_set(err, MD_EUSAGE, "grpc: unknown network '%s'", network);

	md_grpc_client *c = calloc(1, sizeof *c);
	if (c == NULL)
		return md_err_set(err, MD_EFAIL, "grpc: out of memory");
	c->fd = c->wake[0] = c->wake[1] = -1;
	md_gc_mutex_init(&c->mu);
	md_gc_mutex_init(&c->io_mu);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(c->target, sizeof c->target, "%s:%s", network, address);
	c->authority = strdup(server_name);
	c->rbuf = malloc(GC_READ_BUF);
	if (c->authority == NULL || c->rbuf == NULL) {
		md_grpc_client_free(c);
		return md_err_set(err, MD_EFAIL, "grpc: out of memory");
	}

	int64_t deadline = md_gc_now_ms() + (timeout_ms > 0 ? timeout_ms : GC_DEFAULT_DIAL_MS);
	c->hs_deadline_ms = deadline;
	c->fd = is_unix ? dial_unix(address, deadline, err) : dial_tcp(address, deadline, err);
	if (c->fd < 0) {
		int rc = -c->fd;
		c->fd = -1;
		md_grpc_client_free(c);
		return rc;
	}
	if (pipe(c->wake) != 0 || set_nonblock(c->wake[0]) != 0 || set_nonblock(c->wake[1]) != 0 ||
	    fcntl(c->wake[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(c->wake[1], F_SETFD, FD_CLOEXEC) != 0) {
		int e = errno;
		md_grpc_client_free(c);
		return md_err_set(err, MD_EFAIL, "grpc: pipe: %s", strerror(e));
	}
	c->ssl = SSL_new(ssl_ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, server_name) != 1 ||
	    SSL_set1_host(c->ssl, server_name) != 1) {
		ERR_clear_error();
		md_grpc_client_free(c);
		return md_err_set(err, MD_EFAIL, "grpc: cannot set up TLS for %s", c->target);
	}
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_connect_state(c->ssl);

	/* The loop thread inherits a mask with SIGPIPE blocked. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int prc = pthread_create(&c->thread, NULL, md_gc_loop_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (prc != 0) {
		md_grpc_client_free(c);
		return md_err_set(err, MD_EFAIL, "grpc: pthread_create: %s", strerror(prc));
	}
	c->thread_started = 1;

	pthread_mutex_lock(&c->mu);
	while (!c->hs_done)
		pthread_cond_wait(&c->cv, &c->mu);
	int rc = c->hs_rc;
	md_error hs_err = c->hs_err;
	pthread_mutex_unlock(&c->mu);
	if (rc != MD_OK) {
		md_grpc_client_free(c);
		if (err)
			*err = hs_err;
		return rc;
	}
	md_log_debug("grpc client: connected to %s", c->target);
	*out = c;
	return MD_OK;
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

int md_grpc_client_unary(md_grpc_client *c, const char *path, const uint8_t *req, size_t req_len,
			 int timeout_ms, uint8_t **resp, size_t *resp_len, int *status,
			 char *status_msg, size_t status_msg_sz, md_error *err)
{
	*resp = NULL;
	*resp_len = 0;
	*status = GC_INTERNAL;
	if (status_msg && status_msg_sz)
		status_msg[0] = '\0';
	if (path == NULL || path[0] != '/' || (req == NULL && req_len > 0))
		return md_err_set(err, MD_EUSAGE, "grpc: bad call arguments");
	if (req_len > MD_GRPC_MAX_MESSAGE)
		return md_err_set(err, MD_EUSAGE, "grpc %s: request of %zu bytes is over the limit",
				  path, req_len);

	struct gcall *call = calloc(1, sizeof *call);
	if (call == NULL)
		return md_err_set(err, MD_EFAIL, "grpc: out of memory");
	call->path = path;
	call->req = req;
	call->req_len = req_len;
	md_grpc_frame_prefix(call->prefix, req_len);
	call->grpc_status = -1;
	md_grpc_decoder_init(&call->dec, MD_GRPC_MAX_MESSAGE);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&call->cv, &ca);
	pthread_condattr_destroy(&ca);

	/* Fast path: open the stream and write the request on this thread,
	 * when the loop is not using the session (it is asleep in poll, or
	 * gone), saving a wake-up of the loop per call. Otherwise queue. */
	if (md_gc_send_direct(c, call))
		goto sent;
	pthread_mutex_lock(&c->mu);
	if (c->dead || c->stop) {
		char why[sizeof c->dead_msg];
		snprintf(why, sizeof why, "%s", c->stop ? "the client was closed" : c->dead_msg);
		pthread_mutex_unlock(&c->mu);
		md_gc_call_free(call);
		*status = GC_UNAVAILABLE;
		return md_err_set(err, MD_ETRANSIENT, "grpc %s: the connection to %s is gone (%s)",
				  path, c->target, why);
	}
	c->inflight++;
	call->refs = 2;
	call->state = CALL_QUEUED;
	call->next = NULL;
	if (c->q_tail)
		c->q_tail->next = call;
	else
		c->q_head = call;
	c->q_tail = call;
	/* A loop that is awake takes the queue before it next sleeps (it
	 * checks under mu before setting sleeping). */
	int wake = c->sleeping;
	pthread_mutex_unlock(&c->mu);
	if (wake)
		md_gc_wake(c);

sent:;
	struct timespec dl;
	if (timeout_ms > 0)
		deadline_ts(&dl, timeout_ms);
	int timed_out = 0;
	pthread_mutex_lock(&c->mu);
	while (!call->released) {
		if (timeout_ms <= 0 || timed_out) {
			pthread_cond_wait(&call->cv, &c->mu);
			continue;
		}
		int w = pthread_cond_timedwait(&call->cv, &c->mu, &dl);
		if (w != ETIMEDOUT || call->released)
			continue;
		timed_out = 1;
		struct gcall **pp = &c->q_head, *prev = NULL;
		while (call->state == CALL_QUEUED && *pp && *pp != call) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (call->state == CALL_QUEUED && *pp == call) {
			/* Never reached the loop: take it back. */
			*pp = call->next;
			if (c->q_tail == call)
				c->q_tail = prev;
			call->released = 1;
			call->refs--; /* the loop's */
		} else {
			call->cancel = 1;
			c->cancel_pending = 1;
			md_gc_wake(c);
		}
	}
	pthread_mutex_unlock(&c->mu);

	int rc = MD_OK;
	if (timed_out) {
		*status = GC_DEADLINE_EXCEEDED;
		rc = md_err_set(err, MD_ETRANSIENT, "grpc %s: no answer from %s within %d ms", path,
				c->target, timeout_ms);
	} else if (call->fail_code != MD_OK) {
		*status = call->fail_code == MD_ETRANSIENT ? GC_UNAVAILABLE : GC_INTERNAL;
		rc = md_err_set(err, call->fail_code, "grpc %s: %s", path, call->fail_msg);
	} else {
		*status = call->grpc_status;
		if (status_msg && status_msg_sz)
			snprintf(status_msg, status_msg_sz, "%s", call->grpc_msg);
		if (call->grpc_status == 0) {
			if (call->nmsg != 1) {
				*status = GC_INTERNAL;
				rc = md_err_set(err, MD_EFAIL, "grpc %s: the server sent no response message",
						path);
			} else {
				*resp = call->resp;
				*resp_len = call->resp_len;
				call->resp = NULL;
			}
		}
	}

	pthread_mutex_lock(&c->mu);
	int left = --call->refs;
	if (--c->inflight == 0)
		pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (left == 0)
		md_gc_call_free(call);
	return rc;
}

void md_grpc_client_free(md_grpc_client *c)
{
	if (c == NULL)
		return;
	if (c->thread_started) {
		pthread_mutex_lock(&c->mu);
		c->stop = 1;
		pthread_mutex_unlock(&c->mu);
		md_gc_wake(c);
		pthread_join(c->thread, NULL);
		/* Calls still waiting were failed by the loop; let them return. */
		pthread_mutex_lock(&c->mu);
		while (c->inflight > 0)
			pthread_cond_wait(&c->cv, &c->mu);
		pthread_mutex_unlock(&c->mu);
	}
	if (c->h2) {
		nghttp2_session_set_user_data(c->h2, NULL);
		nghttp2_session_del(c->h2);
	}
	if (c->ssl) {
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	if (c->fd >= 0)
		close(c->fd);
	if (c->wake[0] >= 0)
		close(c->wake[0]);
	if (c->wake[1] >= 0)
		close(c->wake[1]);
	free(c->out);
	free(c->rbuf);
	free(c->authority);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->io_mu);
	free(c);
}
