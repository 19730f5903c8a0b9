/* grpc_server.c - see grpc_server.h: the server role on h2conn.h. The loop
 * thread runs the role's hooks (a request's headers, dispatch, responses,
 * trailers); pool threads run handlers, which reach their call's stream
 * only through h2stream.h. */
#include "vault/grpc_server.h"

#include <sys/queue.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "vault/h2stream.h"

#define STOP_GRACE_MS 800 /* then connections are closed hard */
#define POOL_KEEP 4       /* handler threads kept however long they idle */
#define POOL_IDLE_SECS 10 /* others leave after this long without work */

typedef struct {
	char *path;
	md_grpc_handler fn;
	void *ud;
} route;

struct md_grpc_call {
	md_h2stream st; /* the layer's; its loop is the server's */
	md_grpc_server *s;
	/* loop: the request's header fields (path is read-only once the
	 * handler runs) */
	char *path, *method, *ctype;
	size_t hdr_bytes;
	int dispatched;
	/* set once, under the loop's mu, with st.out_end */
	int status;
	char *message;
};

struct job {
	md_grpc_call *c;
	md_grpc_handler fn;
	void *ud;
	STAILQ_ENTRY(job) link;
};

struct md_grpc_server {
	md_h2loop loop;
	route *routes;
	size_t nroutes;
	/* The handler pool, under loop.mu. Threads are reused, since creating
	 * one per call (stack mapping, clone, TLB shootdown on exit) cost more
	 * than the calls themselves. It grows when every thread is busy (the
	 * broker stream holds one for good) and shrinks after idling. */
	pthread_cond_t workers_cv; /* a handler returned; a pool thread left */
	int workers;               /* handlers still running */
	STAILQ_HEAD(, job) jobs; /* for the handler pool, in order */
	pthread_cond_t pool_cv; /* a job is queued, or the pool stops */
	int pool_threads, pool_idle, pool_stop;
	/* loop */
	int accepted_any; /* a connection got as far as the peer's SETTINGS */
	void (*idle_fn)(void *ud);
	void *idle_ud;
	int ran;
};

static md_grpc_server *server_of(md_h2loop *l)
{
	return md_h2_container(l, md_grpc_server, loop);
}

static md_grpc_call *call_of(md_h2stream *st)
{
	return md_h2_container(st, md_grpc_call, st);
}

/* ---- responses ---- */

/* grpc-status and grpc-message: as trailers, or (with http_status) as a
 * whole trailers-only response. */
static int submit_status(md_h2stream *st, const char *http_status, int status, const char *message)
{
	char code[16];
	snprintf(code, sizeof code, "%d", status);
	char *enc = message && message[0] ? md_h2_percent_encode(message) : NULL;
	nghttp2_nv nva[] = {
		MD_H2_NV(":status", http_status ? http_status : "200"),
		MD_H2_NV("content-type", "application/grpc"),
		MD_H2_NV("grpc-status", code),
		MD_H2_NV("grpc-message", enc ? enc : ""),
	};
	size_t first = http_status ? 0 : 2;
	size_t n = (enc ? 4 : 3) - first;
	nghttp2_session *h2 = st->conn->h2;
	int rc = http_status ? nghttp2_submit_response(h2, st->id, nva, n, NULL)
			     : nghttp2_submit_trailer(h2, st->id, nva + first, n);
	free(enc);
	return rc;
}

static int server_trailers(md_h2stream *st)
{
	md_grpc_call *c = call_of(st);
	return submit_status(st, NULL, c->status, c->message);
}

/* The handler sent its first message or finished. */
static int server_start(md_h2stream *st)
{
	md_grpc_call *c = call_of(st);
	if (STAILQ_EMPTY(&st->out) && st->out_end_taken)
		return submit_status(st, "200", c->status, c->message);
	nghttp2_nv nva[] = {MD_H2_NV(":status", "200"), MD_H2_NV("content-type", "application/grpc")};
	nghttp2_data_provider dp = md_h2stream_provider(st);
	return nghttp2_submit_response(st->conn->h2, st->id, nva, 2, &dp);
}

/* loop.mu held: the call's status, unless it has one. Returns 1 if set. */
static int set_status_locked(md_grpc_call *c, int status, char *message)
{
	if (c->st.out_end) {
		free(message);
		return 0;
	}
	c->status = status;
	c->message = message;
	c->st.out_end = 1;
	return 1;
}

/* The loop ends a call itself (bad request data): the handler's recv sees
 * -1 and whatever it sends or finishes later is dropped. */
static void server_bad_message(md_h2stream *st, int rc)
{
	md_grpc_call *c = call_of(st);
	char msg[128];
	int status = MD_GRPC_RESOURCE_EXHAUSTED;
	if (rc == MD_GRPC_FRAME_TOO_BIG) {
		snprintf(msg, sizeof msg, "request message larger than the limit of %u bytes",
			 MD_GRPC_MAX_MESSAGE);
	} else if (rc == MD_GRPC_FRAME_COMPRESSED) {
		status = MD_GRPC_UNIMPLEMENTED;
		snprintf(msg, sizeof msg,
			 "compressed messages are not supported (grpc-encoding identity only)");
	} else if (rc == MD_H2_TRUNCATED) {
		status = MD_GRPC_INTERNAL;
		snprintf(msg, sizeof msg, "request stream ended inside a message");
	} else {
		snprintf(msg, sizeof msg, "out of memory for a request message");
	}
	pthread_mutex_lock(&st->loop->mu);
	set_status_locked(c, status, strdup(msg));
	st->cancelled = 1;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->loop->mu);
	md_h2stream_process(st);
}

/* ---- requests ---- */

static md_h2stream *server_begin(md_h2conn *conn, int32_t id)
{
	md_grpc_call *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	md_h2stream_init(&c->st, conn->loop, 0);
	c->s = server_of(conn->loop);
	md_h2stream_attach(&c->st, conn, id);
	return &c->st;
}

static int server_header(md_h2stream *st, const nghttp2_frame *f, const uint8_t *name,
			 size_t nlen, const uint8_t *value, size_t vlen)
{
	md_grpc_call *c = call_of(st);
	if (f->headers.cat != NGHTTP2_HCAT_REQUEST || c->dispatched)
		return 0;
	c->hdr_bytes += nlen + vlen + 32;
	if (c->hdr_bytes > MD_H2_MAX_HEADER_BYTES)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
	char **slot = NULL;
	if (nlen == 5 && memcmp(name, ":path", 5) == 0)
		slot = &c->path;
	else if (nlen == 7 && memcmp(name, ":method", 7) == 0)
		slot = &c->method;
	else if (nlen == 12 && memcmp(name, "content-type", 12) == 0)
		slot = &c->ctype;
	if (slot && !*slot && !(*slot = strndup((const char *)value, vlen)))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

/* Answers with a status and no message, and forgets the stream. */
static void refuse(md_grpc_call *c, const char *http_status, int status, const char *message)
{
	int rc = submit_status(&c->st, http_status, status, message);
	if (rc != 0)
		md_log_debug("grpc: stream %d: %s", (int)c->st.id, nghttp2_strerror(rc));
	md_h2stream_detach(&c->st, NGHTTP2_NO_ERROR, NULL);
}

static int call_start(md_grpc_call *c, const route *r);

static void dispatch(md_grpc_call *c)
{
	md_grpc_server *s = c->s;
	char msg[320];
	c->dispatched = 1;
	if (s->loop.stopping) {
		refuse(c, "200", MD_GRPC_UNAVAILABLE, "server is stopping");
		return;
	}
	if (!c->method || strcmp(c->method, "POST") != 0) {
		snprintf(msg, sizeof msg, "HTTP method %.32s is not allowed: gRPC uses POST",
			 c->method ? c->method : "?");
		refuse(c, "405", MD_GRPC_INTERNAL, msg);
		return;
	}
	if (!c->ctype || !md_h2_is_grpc_type((const uint8_t *)c->ctype, strlen(c->ctype))) {
		snprintf(msg, sizeof msg, "content-type %.64s is not application/grpc",
			 c->ctype ? c->ctype : "(none)");
		refuse(c, "415", MD_GRPC_INTERNAL, msg);
		return;
	}
	const route *r = NULL;
	for (size_t i = 0; c->path && i < s->nroutes && !r; i++)
		if (strcmp(s->routes[i].path, c->path) == 0)
			r = &s->routes[i];
	if (!r) {
		snprintf(msg, sizeof msg, "unknown method %.256s", c->path ? c->path : "");
		refuse(c, "200", MD_GRPC_UNIMPLEMENTED, msg);
		return;
	}
	if (call_start(c, r) != 0)
		refuse(c, "200", MD_GRPC_RESOURCE_EXHAUSTED, "cannot start a handler thread");
}

static void server_headers(md_h2stream *st, const nghttp2_frame *f)
{
	md_grpc_call *c = call_of(st);
	if (f->headers.cat == NGHTTP2_HCAT_REQUEST && !c->dispatched)
		dispatch(c);
}

static void server_conn_ready(md_h2conn *conn)
{
	server_of(conn->loop)->accepted_any = 1;
	md_log_debug("grpc: connection %u: HTTP/2 ready", conn->id);
}

static void server_conn_closed(md_h2conn *conn)
{
	md_grpc_server *s = server_of(conn->loop);
	if (atomic_load(&s->loop.nconns) == 0 && s->accepted_any && !s->loop.stopping && s->idle_fn)
		s->idle_fn(s->idle_ud);
}

static void call_free(md_grpc_call *c)
{
	free(c->message);
	free(c->method);
	free(c->ctype);
	free(c->path);
	free(c);
}

static void server_free_stream(md_h2stream *st)
{
	call_free(call_of(st));
}

static const nghttp2_settings_entry server_settings[] = {
	{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
	{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16u << 20},
	{NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 1u << 20},
	{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MD_H2_MAX_HEADER_BYTES},
};

static const md_h2role server_role = {
	.server = 1,
	.settings = server_settings,
	.nsettings = sizeof server_settings / sizeof server_settings[0],
	.grace_ms = STOP_GRACE_MS,
	.begin = server_begin,
	.header = server_header,
	.headers = server_headers,
	.start = server_start,
	.trailers = server_trailers,
	.bad_message = server_bad_message,
	.conn_ready = server_conn_ready,
	.conn_closed = server_conn_closed,
	.free = server_free_stream,
};

/* ---- the handler pool ---- */

static void job_run(struct job *j)
{
	md_grpc_call *c = j->c;
	md_grpc_server *s = c->s;

	j->fn(c, j->ud);
	free(j);
	/* A handler that finished told the loop already; otherwise finish
	 * now, while s is sure to live (free waits for workers == 0). */
	md_grpc_call_finish(c, MD_GRPC_INTERNAL, "handler returned without a status");

	pthread_mutex_lock(&s->loop.mu);
	int last = md_h2stream_unref_locked(&c->st);
	s->workers--;
	pthread_cond_broadcast(&s->workers_cv);
	pthread_mutex_unlock(&s->loop.mu);
	if (last) { /* without touching s: it may be freed from here on */
		md_h2stream_cleanup(&c->st);
		call_free(c);
	}
}

/* The next job, waiting for one; NULL when the thread should go (the
 * server stops, or it idled long enough and enough others remain). loop.mu
 * held. */
static struct job *pool_next(md_grpc_server *s)
{
	while (STAILQ_EMPTY(&s->jobs) && !s->pool_stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += POOL_IDLE_SECS;
		s->pool_idle++;
		int rc = pthread_cond_timedwait(&s->pool_cv, &s->loop.mu, &until);
		s->pool_idle--;
		if (rc == ETIMEDOUT && STAILQ_EMPTY(&s->jobs) && s->pool_threads > POOL_KEEP)
			return NULL;
	}
	struct job *j = STAILQ_FIRST(&s->jobs); /* NULL: stopping */
	if (j)
		STAILQ_REMOVE_HEAD(&s->jobs, link);
	return j;
}

static void *pool_main(void *arg)
{
	md_grpc_server *s = arg;
	pthread_mutex_lock(&s->loop.mu);
	for (struct job *j; (j = pool_next(s));) {
		pthread_mutex_unlock(&s->loop.mu);
		job_run(j);
		pthread_mutex_lock(&s->loop.mu);
	}
	s->pool_threads--;
	pthread_cond_broadcast(&s->workers_cv);
	pthread_mutex_unlock(&s->loop.mu);
	return NULL;
}

/* loop.mu held. */
static int pool_add_thread(md_grpc_server *s)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	int rc = pthread_create(&t, &attr, pool_main, s);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		s->pool_threads++;
	else
		md_log_debug("grpc: cannot start a handler thread: %s", strerror(rc));
	return rc;
}

/* Queues the handler of r for a pool thread; 0 or -1. */
static int call_start(md_grpc_call *c, const route *r)
{
	md_grpc_server *s = c->s;
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return -1;
	j->c = c;
	j->fn = r->fn;
	j->ud = r->ud;
	pthread_mutex_lock(&s->loop.mu);
	/* Jobs queued but not yet taken each need an idle thread of their own. */
	int waiting = 0;
	struct job *q;
	STAILQ_FOREACH(q, &s->jobs, link)
		waiting++;
	if (s->pool_idle <= waiting && pool_add_thread(s) != 0 && s->pool_threads == 0) {
		pthread_mutex_unlock(&s->loop.mu);
		free(j);
		return -1;
	}
	c->st.refs++; /* the handler's */
	s->workers++;
	STAILQ_INSERT_TAIL(&s->jobs, j, link);
	pthread_mutex_unlock(&s->loop.mu);
	/* After the unlock, so the woken thread does not block on mu at once. */
	pthread_cond_signal(&s->pool_cv);
	return 0;
}

/* ---- the public API ---- */

int md_grpc_server_new(SSL_CTX *ssl_ctx, int listen_fd, md_grpc_server **out, md_error *err)
{
	*out = NULL;
	if (!ssl_ctx || listen_fd < 0)
		return md_err_set(err, MD_EUSAGE, "grpc server: no TLS context or socket");
	int fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return md_err_set(err, MD_EFAIL, "grpc server: listening socket: %s", strerror(errno));
	(void)fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
	md_grpc_server *s = calloc(1, sizeof *s);
	if (!s)
		return md_err_set(err, MD_EFAIL, "grpc server: out of memory");
	int rc = md_h2loop_init(&s->loop, &server_role, ssl_ctx, listen_fd, err);
	if (rc != MD_OK) {
		free(s);
		return rc;
	}
	pthread_cond_init(&s->workers_cv, NULL);
	pthread_cond_init(&s->pool_cv, NULL);
	STAILQ_INIT(&s->jobs);
	*out = s;
	return MD_OK;
}

int md_grpc_server_handle(md_grpc_server *s, const char *path, md_grpc_handler h, void *ud)
{
	if (!s || !path || path[0] != '/' || !h)
		return -1;
	for (size_t i = 0; i < s->nroutes; i++) {
		if (strcmp(s->routes[i].path, path) == 0) { /* re-registration replaces */
			s->routes[i].fn = h;
			s->routes[i].ud = ud;
			return 0;
		}
	}
	route *r = realloc(s->routes, (s->nroutes + 1) * sizeof *r);
	if (!r)
		return -1;
	s->routes = r;
	char *p = strdup(path);
	if (!p)
		return -1;
	r[s->nroutes++] = (route){p, h, ud};
	return 0;
}

int md_grpc_server_run(md_grpc_server *s, md_error *err)
{
	if (s->ran)
		return md_err_set(err, MD_EUSAGE, "grpc server: run called twice");
	s->ran = 1;
	return md_h2loop_run(&s->loop, err);
}

void md_grpc_server_stop(md_grpc_server *s)
{
	md_h2loop_stop(&s->loop);
}

void md_grpc_server_watch_stop(md_grpc_server *s, int fd)
{
	s->loop.stop_fd = fd;
}

int md_grpc_server_connections(md_grpc_server *s)
{
	return atomic_load(&s->loop.nconns);
}

void md_grpc_server_on_idle(md_grpc_server *s, void (*fn)(void *ud), void *ud)
{
	s->idle_fn = fn;
	s->idle_ud = ud;
}

void md_grpc_server_free(md_grpc_server *s)
{
	if (!s)
		return;
	md_h2loop_close_all(&s->loop); /* every call is detached: handlers see -1 */
	pthread_mutex_lock(&s->loop.mu);
	while (s->workers > 0)
		pthread_cond_wait(&s->workers_cv, &s->loop.mu);
	s->pool_stop = 1;
	pthread_cond_broadcast(&s->pool_cv);
	while (s->pool_threads > 0) /* nothing may touch s once it is freed */
		pthread_cond_wait(&s->workers_cv, &s->loop.mu);
	pthread_mutex_unlock(&s->loop.mu);
	md_h2loop_destroy(&s->loop);
	for (size_t i = 0; i < s->nroutes; i++)
		free(s->routes[i].path);
	free(s->routes);
	pthread_cond_destroy(&s->workers_cv);
	pthread_cond_destroy(&s->pool_cv);
	free(s);
}

/* ---- calls, on handler threads ---- */

int md_grpc_call_recv(md_grpc_call *c, uint8_t **msg, size_t *len)
{
	return md_h2stream_recv(&c->st, msg, len);
}

int md_grpc_call_send(md_grpc_call *c, const uint8_t *msg, size_t len)
{
	return md_h2stream_send(&c->st, msg, len, 0);
}

void md_grpc_call_finish(md_grpc_call *c, int status, const char *message)
{
	md_h2loop *l = c->st.loop;
	char *m = message ? strdup(message) : NULL;
	pthread_mutex_lock(&l->mu);
	int wake = 0;
	if (set_status_locked(c, status, m)) {
		pthread_cond_broadcast(&c->st.cv); /* a sender blocked on back-pressure */
		wake = md_h2stream_post_locked(&c->st);
	}
	pthread_mutex_unlock(&l->mu);
	if (wake)
		md_h2loop_wake(l);
}

const char *md_grpc_call_path(const md_grpc_call *c)
{
	return c->path;
}
