/* http.h - HTTP transport over libcurl.
 *
 * Owns: the one reused curl handle per client (connection reuse, or a
 * shared multi handle's connection cache, see http_multi.h), the URL
 * policy (https with verification always on; http only to loopback hosts),
 * the bearer header kept in secret memory, response bodies received into
 * md_secret, Retry-After parsing, and the retry loop: exponential backoff with
 * full jitter on 429/502/503/504 and network errors, Retry-After honoured
 * (capped at 30 s), and the clock those waits run on (md_http_clock). curl's
 * verbose mode is never enabled: secrets are always in flight here.
 */
#ifndef MD_HTTP_H
#define MD_HTTP_H

#include <stdbool.h>
#include <time.h>

#include "base/error.h"
#include "base/secret.h"

typedef struct md_http md_http;
struct md_http_multi;

typedef struct {
	const char *base_url;   /* scheme://host[:port][/prefix] */
	const char *cacert;     /* PEM bundle, or NULL for the system store */
	long timeout_secs;      /* whole-attempt timeout, > 0 */
	int retries;            /* extra attempts for retryable failures, >= 0 */
	const md_secret *bearer; /* may be NULL: no Authorization header */
	const char *auth_header; /* header name for the bearer; NULL: Authorization: Bearer */
	const char *extra_header; /* one more "Name: value" (never a secret), or NULL */
	/* Transfers go over this shared multi handle (http_multi.h) instead of
	 * a blocking perform of their own; NULL: blocking. */
	struct md_http_multi *multi;
} md_http_opts;

/* How a request may be repeated. */
typedef enum {
	MD_HTTP_IDEMPOTENT, /* GET, PUT, DELETE: retry every transient failure */
	MD_HTTP_ONCE,       /* POST: retry only what surely never reached the server */
} md_http_retry;

typedef struct {
	long status;        /* 0: no HTTP answer */
	md_secret *body;    /* the answer, never NULL after md_http_request */
	char content_type[96];
	bool maybe_sent;    /* no answer, but the request may have been processed */
	bool earlier_maybe_done; /* a retried-over attempt may have been processed */
} md_http_resp;

int md_http_new(const md_http_opts *opts, md_http **out, md_error *err);
void md_http_free(md_http *h);
static inline void md_http_freep(md_http **h)
{
	md_http_free(*h);
	*h = NULL;
}
#define _cleanup_http_ __attribute__((cleanup(md_http_freep)))
/* Checks a base URL against the policy without creating a client. */
int md_http_check_url(const char *url, md_error *err);

/* Sends method path (path starts with '/', appended to base_url) with an
 * optional JSON body. MD_OK means an HTTP answer arrived (any status: see
 * resp->status); MD_ETRANSIENT means none did after the allowed attempts;
 * MD_EFAIL with resp->status set: an answer too large to read (16 MiB). */
int md_http_request(md_http *h, const char *method, const char *path, const md_secret *body,
		    md_http_retry mode, md_http_resp *resp, md_error *err);
/* The same with the body's content type (NULL: application/json), e.g.
 * application/merge-patch+json for a Kubernetes PATCH: a property of
 * this request only. */
int md_http_request_typed(md_http *h, const char *method, const char *path, const md_secret *body,
			  const char *content_type, md_http_retry mode, md_http_resp *resp,
			  md_error *err);
void md_http_resp_free(md_http_resp *resp);
/* `_cleanup_resp_ md_http_resp r = {0};`: its body freed (and wiped) at
 * the end of the scope. */
#define _cleanup_resp_ __attribute__((cleanup(md_http_resp_free)))

/* The clock of the retry loop: the wait between attempts (backoff,
 * Retry-After) and the time an HTTP-date Retry-After is measured from.
 * Nothing else uses it: transfer timeouts, TLS, the URL policy, redaction,
 * what is sent and how many attempts are made never depend on it.
 *
 * By default it is the real clock (nanosleep, time(2)). Tests make it
 * virtual in two ways:
 *  - MDCRED_TEST_VIRTUAL_TIME=1 in a process's environment when it starts
 *    (read once, before main, never again): every wait returns at once and
 *    moves a process-wide virtual clock forward instead (now() is the real
 *    time plus every virtual wait so far), and each wait is logged at debug
 *    level as "virtual wait N ms (not slept ...)", so a test running the
 *    real binary in a child process asserts on the wait that was meant,
 *    not on wall time. Any other value, or none, is the real clock. It is
 *    for tests only (every program linking this, mdcred and the plugin,
 *    reads it): set outside tests it only removes the pauses between a
 *    request's --retries attempts.
 *  - md_http_set_clock() in-process (unit tests); NULL restores the clock
 *    chosen at start. Not for use while requests are in flight.
 * sleep_ms may be called from several threads at once (rotate --config). */
typedef struct {
	void (*sleep_ms)(void *ctx, long ms);
	time_t (*now)(void *ctx);
	void *ctx;
} md_http_clock;
void md_http_set_clock(const md_http_clock *clock);

/* Appends curl-escaped s to out as one URL path segment. */
int md_http_path_segment(md_secret *out, const char *s);
bool md_http_status_retryable(long status);
/* "libcurl/7.88.1 OpenSSL/3.0.x ..." (loads libcurl), or NULL. */
const char *md_http_library_version(md_error *err);

#endif
