/* test_http_multi.c - unit tests for lib/http_multi.[ch] through md_http
 * clients created with opts.multi: answers, overlap of many callers'
 * transfers, the shared connection cache, failures, retries and timeouts,
 * and the retry loop's clock (md_http_set_clock: the waits it is asked for).
 *
 * The peer is a tiny HTTP/1.1 server inside the test process: a listening
 * socket on 127.0.0.1 and a thread per accepted connection, which answers
 * one request after another until EOF. It counts connections, requests and
 * the most requests it was holding at once.
 *
 * Check's asserts only work on the main thread: workers record what they
 * saw and the test asserts after joining them. */
#define _GNU_SOURCE /* memmem */
#include <check.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/http.h"
#include "net/http_multi.h"
#include "base/log.h"
#include "base/secret.h"

#define BEARER "dummy-bearer-for-unit-tests"
#define SRV_MAX_CONNS 256
#define SRV_BUF 8192

/* ---- the in-process server ---- */

static struct {
	int lfd;
	int port;
	pthread_t acceptor;
	pthread_mutex_t mx;
	pthread_cond_t stop_cv; /* wakes delayed answers when the server stops */
	bool stop;
	/* behaviour, set before the first request */
	int delay_ms;
	int status;     /* answer status once fail_first is used up */
	int fail_first; /* first requests answered 503 with Retry-After: retry_after */
	const char *retry_after; /* NULL: no Retry-After header */
	/* what the server saw, under mx */
	int conns, requests, in_flight, max_in_flight;
	int bearer_ok;     /* requests carrying Authorization: Bearer BEARER */
	long body_bytes;   /* request body bytes received */
	char last_method[16];
	int fds[SRV_MAX_CONNS];
	pthread_t threads[SRV_MAX_CONNS];
} S;

/* A TCP socket bound to 127.0.0.1 on a free port; listening if asked.
 * A bound socket that does not listen refuses connections. */
static int loopback_socket(bool listening, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 128), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Value of header name (with its colon) in the header block, or NULL. */
static const char *header_find(const char *hdrs, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(hdrs, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, nl) != 0)
			continue;
		const char *v = p + 2 + nl;
		while (*v == ' ')
			v++;
		const char *end = strstr(v, "\r\n");
		if (!end)
			end = v + strlen(v);
		size_t n = (size_t)(end - v) < outsz ? (size_t)(end - v) : outsz - 1;
		memcpy(out, v, n);
		out[n] = '\0';
		return out;
	}
	return NULL;
}

/* One request as the server saw it. */
struct srv_req {
	char method[16];
	char path[128];
	bool bearer; /* Authorization: Bearer BEARER */
	long body_len;
};

/* Reads one whole request (headers and a Content-Length body) from fd into
 * buf, which holds *have bytes already. Returns its length, or 0 on EOF or
 * an error. */
static size_t srv_read_request(int fd, char *buf, size_t *have, struct srv_req *rq)
{
	char *end;
	while (!(end = memmem(buf, *have, "\r\n\r\n", 4))) {
		if (*have == SRV_BUF - 1)
			return 0;
		ssize_t r = recv(fd, buf + *have, SRV_BUF - 1 - *have, 0);
		if (r <= 0)
			return 0;
		*have += (size_t)r;
	}
	*end = '\0'; /* the header block as a string; restored below */
	char v[128];
	rq->body_len = header_find(buf, "Content-Length:", v, sizeof v) ? atol(v) : 0;
	rq->bearer = header_find(buf, "Authorization:", v, sizeof v) &&
		     strcmp(v, "Bearer " BEARER) == 0;
	if (sscanf(buf, "%15s %127s", rq->method, rq->path) != 2)
		return 0;
	*end = '\r';
	size_t total = (size_t)(end - buf) + 4 + (size_t)rq->body_len;
	if (rq->body_len < 0 || total > SRV_BUF - 1)
		return 0;
	while (*have < total) {
		ssize_t r = recv(fd, buf + *have, SRV_BUF - 1 - *have, 0);
		if (r <= 0)
			return 0;
		*have += (size_t)r;
	}
	return total;
}

/* Holds one request for delay_ms (or until the server stops) while it
 * counts as in flight; returns the status to answer. */
static int srv_handle(const struct srv_req *rq)
{
	pthread_mutex_lock(&S.mx);
	S.requests++;
	S.bearer_ok += rq->bearer;
	S.body_bytes += rq->body_len;
	snprintf(S.last_method, sizeof S.last_method, "%s", rq->method);
	if (++S.in_flight > S.max_in_flight)
		S.max_in_flight = S.in_flight;
	int status = S.status;
	if (S.fail_first > 0) {
		S.fail_first--;
		status = 503;
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += S.delay_ms / 1000;
	until.tv_nsec += (S.delay_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!S.stop && pthread_cond_timedwait(&S.stop_cv, &S.mx, &until) != ETIMEDOUT)
		;
	/* Out of flight before the answer leaves: a client that already has
	 * its answer is never counted as overlapping the next request. */
	S.in_flight--;
	pthread_mutex_unlock(&S.mx);
	return status;
}

/* The body the server answers to path with status s. */
static int answer_body(char *out, size_t outsz, const char *path, long s)
{
	return snprintf(out, outsz, "{\"ok\":%s,\"path\":\"%s\"}", s < 300 ? "true" : "false",
			path);
}

static void *srv_conn_main(void *arg)
{
	int fd = S.fds[(intptr_t)arg];
	char buf[SRV_BUF];
	size_t have = 0, len;
	struct srv_req rq;
	while ((len = srv_read_request(fd, buf, &have, &rq))) {
		int status = srv_handle(&rq);
		char body[256], out[640], ra[128] = "";
		int bn = answer_body(body, sizeof body, rq.path, status);
		if (status == 503 && S.retry_after)
			snprintf(ra, sizeof ra, "Retry-After: %s\r\n", S.retry_after);
		int n = snprintf(out, sizeof out,
				 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
				 "Content-Length: %d\r\n%s\r\n%s",
				 status, status < 300 ? "OK" : "Not OK", bn, ra, body);
		if (send(fd, out, (size_t)n, MSG_NOSIGNAL) != n)
			break;
		have -= len;
		memmove(buf, buf + len, have);
	}
	return NULL;
}

static void *srv_accept_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept4(S.lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			return NULL; /* shut down by srv_stop */
		pthread_mutex_lock(&S.mx);
		int i = S.conns;
		if (S.stop || i == SRV_MAX_CONNS) {
			pthread_mutex_unlock(&S.mx);
			close(fd);
			continue;
		}
		S.fds[i] = fd;
		if (pthread_create(&S.threads[i], NULL, srv_conn_main, (void *)(intptr_t)i) == 0)
			S.conns++;
		else
			close(fd);
		pthread_mutex_unlock(&S.mx);
	}
}

static void srv_start(int delay_ms)
{
	memset(&S, 0, sizeof S);
	pthread_mutex_init(&S.mx, NULL);
	pthread_cond_init(&S.stop_cv, NULL);
	S.delay_ms = delay_ms;
	S.status = 200;
	S.retry_after = "0";
	S.lfd = loopback_socket(true, &S.port);
	ck_assert_int_eq(pthread_create(&S.acceptor, NULL, srv_accept_main, NULL), 0);
}

/* Stops accepting, wakes delayed answers, ends every connection and joins
 * every thread. Call after the clients and the multi handle are freed. */
static void srv_stop(void)
{
	pthread_mutex_lock(&S.mx);
	S.stop = true;
	pthread_cond_broadcast(&S.stop_cv);
	pthread_mutex_unlock(&S.mx);
	shutdown(S.lfd, SHUT_RDWR);
	pthread_join(S.acceptor, NULL);
	close(S.lfd);
	for (int i = 0; i < S.conns; i++)
		shutdown(S.fds[i], SHUT_RDWR);
	for (int i = 0; i < S.conns; i++) {
		pthread_join(S.threads[i], NULL);
		close(S.fds[i]);
	}
	pthread_cond_destroy(&S.stop_cv);
	pthread_mutex_destroy(&S.mx);
}

static int srv_get(const int *field)
{
	pthread_mutex_lock(&S.mx);
	int v = *field;
	pthread_mutex_unlock(&S.mx);
	return v;
}

/* ---- clients ---- */

static md_secret *bearer;

static md_secret *new_secret(const char *v)
{
	md_secret *s = md_secret_new(0);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(md_secret_set(s, v, strlen(v)), 0);
	return s;
}

static void setup(void)
{
	md_log_init("test_http_multi", MD_LOG_ERROR, MD_LOG_TEXT);
	bearer = new_secret(BEARER);
}

static void teardown(void)
{
	md_secret_free(bearer);
	bearer = NULL;
}

static md_http_multi *new_multi(void)
{
	md_http_multi *m = NULL;
	md_error err = {0};
	ck_assert_msg(md_http_multi_new(0, &m, &err) == MD_OK, "multi: %s", err.msg);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* A client of 127.0.0.1:port over m. Safe on any thread: NULL on failure. */
static md_http *try_client(md_http_multi *m, int port, long timeout_secs, int retries)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	md_http_opts o = {
		.base_url = url,
		.timeout_secs = timeout_secs,
		.retries = retries,
		.bearer = bearer,
		.multi = m,
	};
	md_http *h = NULL;
	md_error err = {0};
	return md_http_new(&o, &h, &err) == MD_OK ? h : NULL;
}

static md_http *client(md_http_multi *m, int port, long timeout_secs, int retries)
{
	md_http *h = try_client(m, port, timeout_secs, retries);
	ck_assert_ptr_nonnull(h);
	return h;
}

/* A new multi handle in *m and one client over it. */
static md_http *open_client(md_http_multi **m, int port, long timeout_secs, int retries)
{
	*m = new_multi();
	return client(*m, port, timeout_secs, retries);
}

static void close_client(md_http *h, md_http_multi *m)
{
	md_http_free(h);
	md_http_multi_free(m);
}

/* One request that must get an HTTP answer with status want and the body
 * the server makes for it. Returns resp.earlier_maybe_done. */
static bool request_ok(md_http *h, const char *method, const char *path, const md_secret *body,
		       md_http_retry mode, long want)
{
	md_http_resp resp;
	md_error err = {0};
	int rc = md_http_request(h, method, path, body, mode, &resp, &err);
	ck_assert_msg(rc == MD_OK, "%s %s: %s", method, path, err.msg);
	ck_assert_int_eq(resp.status, want);
	ck_assert_str_eq(resp.content_type, "application/json");
	char exp[256];
	answer_body(exp, sizeof exp, path, want);
	ck_assert_str_eq(md_secret_str(resp.body), exp);
	bool earlier = resp.earlier_maybe_done;
	md_http_resp_free(&resp);
	return earlier;
}

/* One GET that must end MD_ETRANSIENT with no answer, its message holding
 * why; maybe_sent as given. */
static void request_transient(md_http *h, const char *path, const char *why, bool maybe_sent)
{
	md_http_resp resp;
	md_error err = {0};
	int rc = md_http_request(h, "GET", path, NULL, MD_HTTP_IDEMPOTENT, &resp, &err);
	ck_assert_int_eq(rc, MD_ETRANSIENT);
	ck_assert_int_eq(err.code, MD_ETRANSIENT);
	ck_assert_msg(strstr(err.msg, why) != NULL, "unexpected error: %s", err.msg);
	ck_assert_int_eq(resp.status, 0);
	ck_assert_int_eq(resp.maybe_sent, maybe_sent);
	md_http_resp_free(&resp);
}

/* ---- tests ---- */

START_TEST(get_over_multi)
{
	srv_start(0);
	md_http_multi *m;
	md_http *h = open_client(&m, S.port, 10, 0);
	request_ok(h, "GET", "/v1/hello", NULL, MD_HTTP_IDEMPOTENT, 200);
	close_client(h, m);
	srv_stop();
	ck_assert_int_eq(S.requests, 1);
	ck_assert_msg(S.bearer_ok == 1, "the bearer header did not arrive intact");
}
END_TEST

#define PAR_THREADS 16
#define PAR_REQUESTS 3

struct par_worker {
	pthread_t t;
	md_http_multi *m;
	int idx;
	int ok; /* requests answered 200 with this worker's own path */
	char why[MD_ERR_MSG_MAX];
};

static void *par_worker_main(void *arg)
{
	struct par_worker *w = arg;
	md_http *h = try_client(w->m, S.port, 20, 0);
	if (!h) {
		snprintf(w->why, sizeof w->why, "client %d: md_http_new failed", w->idx);
		return NULL;
	}
	for (int j = 0; j < PAR_REQUESTS; j++) {
		char path[64], exp[256];
		snprintf(path, sizeof path, "/t/%d/%d", w->idx, j);
		answer_body(exp, sizeof exp, path, 200);
		md_http_resp resp;
		md_error err = {0};
		int rc = md_http_request(h, "GET", path, NULL, MD_HTTP_IDEMPOTENT, &resp, &err);
		if (rc == MD_OK && resp.status == 200 && strcmp(md_secret_str(resp.body), exp) == 0)
			w->ok++;
		else if (!w->why[0])
			snprintf(w->why, sizeof w->why, "%s: rc %d status %ld: %s", path, rc,
				 resp.status, err.msg);
		md_http_resp_free(&resp);
	}
	md_http_free(h);
	return NULL;
}

/* Each caller gets its own answer back, and the transfers overlap: the
 * server holds more than one request at a time. No wall-time bound. */
START_TEST(threads_share_multi)
{
	srv_start(100);
	md_http_multi *m = new_multi();
	struct par_worker w[PAR_THREADS] = {0};
	for (int i = 0; i < PAR_THREADS; i++) {
		w[i].m = m;
		w[i].idx = i;
		ck_assert_int_eq(pthread_create(&w[i].t, NULL, par_worker_main, &w[i]), 0);
	}
	for (int i = 0; i < PAR_THREADS; i++)
		pthread_join(w[i].t, NULL);
	md_http_multi_free(m);
	srv_stop();
	for (int i = 0; i < PAR_THREADS; i++)
		ck_assert_msg(w[i].ok == PAR_REQUESTS, "worker %d: %d of %d ok; %s", i, w[i].ok,
			      PAR_REQUESTS, w[i].why);
	ck_assert_int_eq(S.requests, PAR_THREADS * PAR_REQUESTS);
	ck_assert_int_eq(S.bearer_ok, PAR_THREADS * PAR_REQUESTS);
	ck_assert_msg(S.max_in_flight >= 2, "transfers never overlapped (max in flight %d)",
		      S.max_in_flight);
}
END_TEST

/* Sequential GETs, even from two clients, use the multi handle's one
 * connection cache. */
START_TEST(gets_reuse_one_connection)
{
	srv_start(0);
	md_http_multi *m;
	md_http *a = open_client(&m, S.port, 10, 0), *b = client(m, S.port, 10, 0);
	for (int i = 0; i < 5; i++) {
		char path[32];
		snprintf(path, sizeof path, "/get/%d", i);
		request_ok(a, "GET", path, NULL, MD_HTTP_IDEMPOTENT, 200);
	}
	ck_assert_int_eq(srv_get(&S.conns), 1);
	request_ok(b, "GET", "/other-client", NULL, MD_HTTP_IDEMPOTENT, 200);
	md_http_free(b);
	close_client(a, m);
	srv_stop();
	ck_assert_int_eq(S.conns, 1);
	ck_assert_int_eq(S.requests, 6);
}
END_TEST

/* A request that must not be repeated goes out on a fresh connection. */
START_TEST(posts_once_use_fresh_connections)
{
	srv_start(0);
	md_http_multi *m;
	md_http *h = open_client(&m, S.port, 10, 0);
	md_secret *body = new_secret("{\"n\":1}");
	for (int i = 0; i < 5; i++)
		request_ok(h, "POST", "/v1/mint", body, MD_HTTP_ONCE, 200);
	md_secret_free(body);
	close_client(h, m);
	srv_stop();
	ck_assert_int_eq(S.requests, 5);
	ck_assert_int_eq(S.conns, 5);
	ck_assert_int_eq(S.body_bytes, 5 * 7);
	ck_assert_str_eq(S.last_method, "POST");
}
END_TEST

/* Nothing listens: the answer is MD_ETRANSIENT after both attempts. */
START_TEST(refused_is_transient)
{
	int port;
	int fd = loopback_socket(false, &port); /* bound, not listening: refuses */
	md_http_multi *m;
	md_http *h = open_client(&m, port, 5, 1);
	request_transient(h, "/x", "after 2 attempts", false);
	close_client(h, m);
	close(fd);
}
END_TEST

/* 503 with Retry-After: 0, then 200: the retry loop runs over the multi. */
START_TEST(retry_after_503)
{
	srv_start(0);
	S.fail_first = 1;
	md_http_multi *m;
	md_http *h = open_client(&m, S.port, 10, 2);
	ck_assert(request_ok(h, "GET", "/retry", NULL, MD_HTTP_IDEMPOTENT, 200));
	close_client(h, m);
	srv_stop();
	ck_assert_int_eq(S.requests, 2);
}
END_TEST

/* ---- the retry loop's clock (http.h: md_http_clock) ---- */

/* A clock that records each wait instead of sleeping; now() is C.now. */
static struct {
	long waits[8];
	int n;
	time_t now;
} C;

static void rec_sleep(void *ctx, long ms)
{
	(void)ctx;
	if (C.n < 8)
		C.waits[C.n] = ms;
	C.n++;
}

static time_t rec_now(void *ctx)
{
	(void)ctx;
	return C.now;
}

static void use_recording_clock(time_t now)
{
	memset(&C, 0, sizeof C);
	C.now = now;
	md_http_clock c = {rec_sleep, rec_now, NULL};
	md_http_set_clock(&c);
}

/* 503s answered with this Retry-After, then a 200: the waits the clock
 * was asked for. */
static void retried_on_clock(const char *retry_after, int fails, int retries)
{
	srv_start(0);
	S.fail_first = fails;
	S.retry_after = retry_after;
	md_http_multi *m;
	md_http *h = open_client(&m, S.port, 10, retries);
	request_ok(h, "GET", "/clock", NULL, MD_HTTP_IDEMPOTENT, 200);
	close_client(h, m);
	srv_stop();
	md_http_set_clock(NULL);
	ck_assert_int_eq(S.requests, fails + 1);
	ck_assert_int_eq(C.n, fails);
}

/* Retry-After in seconds is the wait, capped at 30 s. */
START_TEST(retry_after_seconds_waited_on_clock)
{
	use_recording_clock(0);
	retried_on_clock("7", 2, 3);
	ck_assert_int_eq(C.waits[0], 7000);
	ck_assert_int_eq(C.waits[1], 7000);
	use_recording_clock(0);
	retried_on_clock("120", 1, 1);
	ck_assert_int_eq(C.waits[0], 30000);
}
END_TEST

/* An HTTP-date is measured from the clock's now. */
START_TEST(retry_after_date_measured_from_clock)
{
	const time_t date = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
	use_recording_clock(date - 5);
	retried_on_clock("Wed, 21 Oct 2015 07:28:00 GMT", 1, 1);
	ck_assert_int_eq(C.waits[0], 5000);
	use_recording_clock(date + 60); /* a date in the past: no wait */
	retried_on_clock("Wed, 21 Oct 2015 07:28:00 GMT", 1, 1);
	ck_assert_int_eq(C.waits[0], 0);
}
END_TEST

/* Without Retry-After: full jitter under a cap that doubles from 250 ms. */
START_TEST(backoff_waits_on_clock)
{
	use_recording_clock(0);
	retried_on_clock(NULL, 3, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(C.waits[i] >= 0 && C.waits[i] <= 250L << i, "wait %d: %ld ms", i,
			      C.waits[i]);
}
END_TEST

/* Statuses that are not retried come back as they are: a 404, and a 503
 * to a POST (it may have been processed). */
START_TEST(unretried_statuses_returned)
{
	srv_start(0);
	S.status = 404;
	md_http_multi *m;
	md_http *h = open_client(&m, S.port, 10, 3);
	request_ok(h, "GET", "/missing", NULL, MD_HTTP_IDEMPOTENT, 404);
	ck_assert_int_eq(srv_get(&S.requests), 1);
	pthread_mutex_lock(&S.mx);
	S.fail_first = 1;
	pthread_mutex_unlock(&S.mx);
	md_secret *body = new_secret("{}");
	request_ok(h, "POST", "/v1/mint", body, MD_HTTP_ONCE, 503);
	md_secret_free(body);
	close_client(h, m);
	srv_stop();
	ck_assert_int_eq(S.requests, 2);
	ck_assert_str_eq(S.last_method, "POST");
}
END_TEST

/* A driver thread that never ran a transfer stops when freed, also when
 * it is already waiting in its poll (the pause lets it get there). How
 * promptly it stops (a lost wake-up costs the driver's 1 s poll timeout)
 * is measured by bench/multi_free.c (`make bench`), not here: a test makes
 * no claim about wall time. */
START_TEST(free_unused_stops)
{
	struct timespec pause = {0, 30 * 1000000L};
	for (int i = 0; i < 20; i++) {
		md_http_multi *m = new_multi();
		if (i % 2)
			nanosleep(&pause, NULL);
		md_http_multi_free(m);
	}
	md_http_multi_free(NULL);
}
END_TEST

/* The server holds the request for 3 s; the client gives up after 1 s. */
START_TEST(timeout_is_transient)
{
	srv_start(3000);
	md_http_multi *m;
	md_http *h = open_client(&m, S.port, 1, 0);
	request_transient(h, "/slow", "timed out", true);
	close_client(h, m);
	srv_stop();
	ck_assert_int_eq(S.requests, 1);
}
END_TEST

/* A POST without a body is still a POST (with Content-Length: 0). */
START_TEST(post_without_body)
{
	srv_start(0);
	md_http_multi *m;
	md_http *h = open_client(&m, S.port, 10, 0);
	request_ok(h, "POST", "/v1/empty", NULL, MD_HTTP_ONCE, 200);
	close_client(h, m);
	srv_stop();
	ck_assert_str_eq(S.last_method, "POST");
}
END_TEST

/* A test case of s with the fixture; the timeout leaves room for a slow
 * sanitizer build. */
static TCase *add_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *http_multi_suite(void)
{
	Suite *s = suite_create("http_multi");
	TCase *tc = add_tcase(s, "transfers");
	tcase_add_test(tc, get_over_multi);
	tcase_add_test(tc, threads_share_multi);
	tcase_add_test(tc, gets_reuse_one_connection);
	tcase_add_test(tc, posts_once_use_fresh_connections);
	tc = add_tcase(s, "failures");
	tcase_add_test(tc, refused_is_transient);
	tcase_add_test(tc, retry_after_503);
	tcase_add_test(tc, retry_after_seconds_waited_on_clock);
	tcase_add_test(tc, retry_after_date_measured_from_clock);
	tcase_add_test(tc, backoff_waits_on_clock);
	tcase_add_test(tc, unretried_statuses_returned);
	tcase_add_test(tc, timeout_is_transient);
	tcase_add_test(tc, post_without_body);
	tc = add_tcase(s, "lifecycle");
	tcase_add_test(tc, free_unused_stops);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_multi_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
