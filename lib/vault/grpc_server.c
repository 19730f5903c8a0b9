/* grpc_server.c - gRPC server: the public API, routes, and the call side
 * that handler (worker) threads use. The event loop (sockets, TLS,
 * HTTP/2) is in grpc_server_loop.c; the threading rules are in
 * grpc_server_int.h. */
#define _GNU_SOURCE /* PTHREAD_MUTEX_ADAPTIVE_NP */
#include "vault/grpc_server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/secret.h"

int64_t md_grpc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Async-signal-safe: one write(2) to the eventfd, errno preserved. */
void md_grpc_wake(md_grpc_server *s)
{
	int saved = errno;
	uint64_t one = 1;
	ssize_t n = write(s->wake_fd, &one, sizeof one);
	(void)n; /* EAGAIN: the counter is already non-zero, the loop wakes anyway */
	errno = saved;
}

int md_grpc_server_new(SSL_CTX *ssl_ctx, int listen_fd, md_grpc_server **out, md_error *err)
{
	*out = NULL;
	if (!ssl_ctx || listen_fd < 0)
		return md_err_set(err, MD_EUSAGE, "grpc server: no TLS context or socket");
	md_grpc_server *s = calloc(1, sizeof *s);
	if (!s)
		return md_err_set(err, MD_EFAIL, "grpc server: out of memory");
	s->ctx = ssl_ctx;
	s->listen_fd = listen_fd;
	s->stop_fd = -1;
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0) {
		int e = errno;
		free(s);
		return md_err_set(err, MD_EFAIL, "grpc server: eventfd: %s", strerror(e));
	}
	int fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;
		close(s->wake_fd);
		free(s);
		return md_err_set(err, MD_EFAIL, "grpc server: listening socket: %s", strerror(e));
	}
	(void)fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
	/* Adaptive: s->mu is held for a few instructions at a time by the
	 * loop and every handler thread; spinning briefly on contention beats
	 * sleeping in the kernel (a context switch each way). */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	(void)pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&s->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_cond_init(&s->workers_cv, NULL);
	pthread_cond_init(&s->pool_cv, NULL);
	atomic_init(&s->stop_req, 0);
	atomic_init(&s->nconns, 0);
	*out = s;
	return MD_OK;
}

int md_grpc_server_handle(md_grpc_server *s, const char *path, md_grpc_handler h, void *ud)
{
	if (!s || !path || path[0] != '/' || !h)
		return -1;
	md_grpc_route *r = realloc(s->routes, (s->nroutes + 1) * sizeof *r);
	if (!r)
		return -1;
	s->routes = r;
	char *p = strdup(path);
	if (!p)
		return -1;
	for (size_t i = 0; i < s->nroutes; i++) {
		if (strcmp(r[i].path, path) == 0) { /* re-registration replaces */
			free(p);
			r[i].fn = h;
			r[i].ud = ud;
			return 0;
		}
	}
	r[s->nroutes].path = p;
	r[s->nroutes].fn = h;
	r[s->nroutes].ud = ud;
	s->nroutes++;
	return 0;
}

const md_grpc_route *md_grpc_route_find(const md_grpc_server *s, const char *path)
{
	for (size_t i = 0; i < s->nroutes; i++)
		if (strcmp(s->routes[i].path, path) == 0)
			return &s->routes[i];
	return NULL;
}

int md_grpc_server_run(md_grpc_server *s, md_error *err)
{
	if (s->ran)
		return md_err_set(err, MD_EUSAGE, "grpc server: run called twice");
	s->ran = 1;
	return md_grpc_loop_run(s, err);
}

void md_grpc_server_stop(md_grpc_server *s)
{
	atomic_store(&s->stop_req, 1);
	md_grpc_wake(s);
}

void md_grpc_server_watch_stop(md_grpc_server *s, int fd)
{
	s->stop_fd = fd;
}

int md_grpc_server_connections(md_grpc_server *s)
{
	return atomic_load(&s->nconns);
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
	md_grpc_loop_cleanup(s); /* closes connections: every call is detached */
	pthread_mutex_lock(&s->mu);
	while (s->workers > 0) /* handlers see -1 from recv/send and return */
		pthread_cond_wait(&s->workers_cv, &s->mu);
	s->pool_stop = 1;
	pthread_cond_broadcast(&s->pool_cv);
	while (s->pool_threads > 0) /* nothing may touch s once it is freed */
		pthread_cond_wait(&s->workers_cv, &s->mu);
	md_grpc_call *d = s->dirty_head;
	s->dirty_head = s->dirty_tail = NULL;
	pthread_mutex_unlock(&s->mu);
	while (d) {
		pthread_mutex_lock(&s->mu);
		md_grpc_call *next = d->dirty_next;
		d->in_dirty = 0;
		pthread_mutex_unlock(&s->mu);
		md_grpc_call_release(d);
		d = next;
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	close(s->wake_fd);
	for (size_t i = 0; i < s->nroutes; i++)
		free(s->routes[i].path);
	free(s->routes);
	pthread_cond_destroy(&s->workers_cv);
	pthread_cond_destroy(&s->pool_cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- calls ---- */

md_grpc_call *md_grpc_call_new(md_grpc_server *s)
{
	md_grpc_call *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->s = s;
	c->refs = 1; /* the loop's */
	pthread_cond_init(&c->cv, NULL);
	md_grpc_decoder_init(&c->dec, MD_GRPC_MAX_MESSAGE);
	return c;
}

/* Messages may carry tokens (replies, config writes): wiped, then freed. */
void md_grpc_buf_free(md_grpc_buf *b)
{
	if (!b)
		return;
	md_secret_wipe(b->data, b->len);
	free(b);
}

void md_grpc_free_bufs(md_grpc_buf *b)
{
	while (b) {
		md_grpc_buf *n = b->next;
		md_grpc_buf_free(b);
		b = n;
	}
}

static void call_free(md_grpc_call *c)
{
	for (md_grpc_msg *m = c->in_head; m;) {
		md_grpc_msg *n = m->next;
		md_secret_wipe(m->p, m->len);
		free(m->p);
		free(m);
		m = n;
	}
	md_grpc_free_bufs(c->pend_head);
	md_grpc_free_bufs(c->out_head);
	md_grpc_decoder_free(&c->dec);
	free(c->message);
	free(c->fin_message);
	free(c->method);
	free(c->ctype);
	free(c->path);
	pthread_cond_destroy(&c->cv);
	free(c);
}

void md_grpc_call_release(md_grpc_call *c)
{
	pthread_mutex_lock(&c->s->mu);
	int last = --c->refs == 0;
	pthread_mutex_unlock(&c->s->mu);
	if (last)
		call_free(c);
}

int md_grpc_mark_dirty_locked(md_grpc_call *c)
{
	md_grpc_server *s = c->s;
	if (c->in_dirty || c->detached)
		return s->sleeping;
	c->in_dirty = 1;
	c->refs++;
	c->dirty_next = NULL;
	if (s->dirty_tail)
		s->dirty_tail->dirty_next = c;
	else
		s->dirty_head = c;
	s->dirty_tail = c;
	return s->sleeping;
}

struct md_grpc_job {
	md_grpc_call *c;
	md_grpc_handler fn;
	void *ud;
	struct md_grpc_job *next;
};

#define POOL_KEEP 4          /* threads kept however long they idle */
#define POOL_IDLE_SECS 10    /* others leave after this long without work */

static void job_run(struct md_grpc_job *j)
{
	md_grpc_call *c = j->c;
	md_grpc_server *s = c->s;

	j->fn(c, j->ud);
	free(j);

	/* A handler that finished has told the loop already (finish marked
	 * the call dirty): nothing new for the loop, no wake-up. Otherwise
	 * finish it now, while s is sure to live (free waits for workers ==
	 * 0). */
	md_grpc_call_finish(c, MD_GRPC_INTERNAL, "handler returned without a status");

	pthread_mutex_lock(&s->mu);
	c->worker_done = 1;
	int last = --c->refs == 0;
	s->workers--;
	pthread_cond_broadcast(&s->workers_cv);
	pthread_mutex_unlock(&s->mu);
	if (last)
		call_free(c);
}

static void *pool_main(void *arg)
{
	md_grpc_server *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->jobs_head && !s->pool_stop) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += POOL_IDLE_SECS;
			s->pool_idle++;
			int rc = pthread_cond_timedwait(&s->pool_cv, &s->mu, &until);
			s->pool_idle--;
			if (rc == ETIMEDOUT && !s->jobs_head && s->pool_threads > POOL_KEEP)
				goto leave;
		}
		if (!s->jobs_head)
			goto leave; /* stopping */
		struct md_grpc_job *j = s->jobs_head;
		s->jobs_head = j->next;
		if (!s->jobs_head)
			s->jobs_tail = NULL;
		pthread_mutex_unlock(&s->mu);
		job_run(j);
		pthread_mutex_lock(&s->mu);
	}
leave:
	s->pool_threads--;
	pthread_cond_broadcast(&s->workers_cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* s->mu held. */
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

int md_grpc_call_start(md_grpc_call *c, const md_grpc_route *r)
{
	md_grpc_server *s = c->s;
	struct md_grpc_job *j = calloc(1, sizeof *j);
	if (!j)
		return -1;
	j->c = c;
	j->fn = r->fn;
	j->ud = r->ud;
	pthread_mutex_lock(&s->mu);
	/* Jobs queued but not yet taken each need an idle thread of their own. */
	int waiting = 0;
	for (struct md_grpc_job *q = s->jobs_head; q; q = q->next)
		waiting++;
	if (s->pool_idle <= waiting && pool_add_thread(s) != 0 && s->pool_threads == 0) {
		pthread_mutex_unlock(&s->mu);
		free(j);
		return -1;
	}
	c->refs++;
	s->workers++;
	if (s->jobs_tail)
		s->jobs_tail->next = j;
	else
		s->jobs_head = j;
	s->jobs_tail = j;
	pthread_mutex_unlock(&s->mu);
	/* After the unlock, so the woken thread does not block on s->mu at
	 * once. s and pool_cv outlive this (the loop is the caller). */
	pthread_cond_signal(&s->pool_cv);
	return 0;
}

int md_grpc_call_recv(md_grpc_call *c, uint8_t **msg, size_t *len)
{
	md_grpc_server *s = c->s;
	*msg = NULL;
	*len = 0;
	pthread_mutex_lock(&s->mu);
	while (!c->in_head && !c->in_eof && !c->cancelled)
		pthread_cond_wait(&c->cv, &s->mu);
	int rc;
	if (c->cancelled) {
		rc = -1;
	} else if (c->in_head) {
		md_grpc_msg *m = c->in_head;
		c->in_head = m->next;
		if (!c->in_head)
			c->in_tail = NULL;
		*msg = m->p;
		*len = m->len;
		free(m);
		rc = 1;
	} else {
		rc = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int md_grpc_call_send(md_grpc_call *c, const uint8_t *msg, size_t len)
{
	md_grpc_server *s = c->s;
	if (len > UINT32_MAX || (len > 0 && !msg))
		return -1;
	md_grpc_buf *b = malloc(sizeof *b + 5 + len);
	if (!b)
		return -1;
	b->next = NULL;
	b->len = 5 + len;
	b->off = 0;
	md_grpc_frame_prefix(b->data, len);
	if (len > 0)
		memcpy(b->data + 5, msg, len);

	pthread_mutex_lock(&s->mu);
	/* Back-pressure: wait while earlier messages still wait for the peer. */
	while (c->queued > MD_GRPC_SEND_HIGH_WATER && !c->detached && !c->finished)
		pthread_cond_wait(&c->cv, &s->mu);
	if (c->detached || c->finished) {
		pthread_mutex_unlock(&s->mu);
		md_grpc_buf_free(b);
		return -1;
	}
	if (c->pend_tail)
		c->pend_tail->next = b;
	else
		c->pend_head = b;
	c->pend_tail = b;
	c->queued += b->len;
	int wake = md_grpc_mark_dirty_locked(c);
	pthread_mutex_unlock(&s->mu);
	if (wake)
		md_grpc_wake(s);
	return 0;
}

void md_grpc_call_finish(md_grpc_call *c, int status, const char *message)
{
	md_grpc_server *s = c->s;
	char *m = message ? strdup(message) : NULL;
	pthread_mutex_lock(&s->mu);
	if (c->finished) {
		pthread_mutex_unlock(&s->mu);
		free(m);
		return;
	}
	c->finished = 1;
	c->status = status;
	c->message = m;
	pthread_cond_broadcast(&c->cv); /* a sender blocked on back-pressure */
	int wake = md_grpc_mark_dirty_locked(c);
	pthread_mutex_unlock(&s->mu);
	if (wake)
		md_grpc_wake(s);
}

const char *md_grpc_call_path(const md_grpc_call *c)
{
	return c->path;
}

char *md_grpc_percent_encode(const char *msg)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(msg);
	if (n > 4096)
		n = 4096; /* a status line, not a document */
	char *out = malloc(3 * n + 1);
	if (!out)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)msg[i];
		if (ch < 0x20 || ch > 0x7e || ch == '%') {
			out[j++] = '%';
			out[j++] = hex[ch >> 4];
			out[j++] = hex[ch & 15];
		} else {
			out[j++] = (char)ch;
		}
	}
	out[j] = '\0';
	return out;
}
