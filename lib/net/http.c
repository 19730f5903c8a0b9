/* http.c - see http.h. */
#include "net/http.h"
#include "base/time.h"
#include "net/curl_dl.h"
#include "net/uri.h"
#include "net/http_multi.h"
#include "base/log.h"
#include "base/rand.h"
#include "base/version.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>


#define HTTP_BODY_MAX (16L << 20)
#define HTTP_RETRY_AFTER_CAP 30
#define HTTP_BACKOFF_BASE_MS 250
#define HTTP_BACKOFF_CAP_MS 8000

struct md_http {
	CURL *curl;
	md_http_multi *multi; /* NULL: curl_easy_perform */
	char *base_url;
	char *cacert;
	long timeout_secs;
	int retries;
	md_secret *bearer;    /* the credential, watched (pinned) while we live */
	md_secret *auth_line; /* "Authorization: Bearer <token>", secret memory */
	/* Header list built from our own nodes: curl reads data in place, so
	 * the auth line never passes through curl_slist_append's strdup. */
	struct curl_slist hdr_auth, hdr_type, hdr_accept, hdr_extra;
	char content_type[96]; /* "Content-Type: ..." of the request in flight */
	char *extra;
	char errbuf[CURL_ERROR_SIZE];
};

/* Per-request receive state. */
struct http_rx {
	md_http_resp *resp;
	long retry_after; /* seconds, -1 if absent */
	bool too_big;
};


static bool host_is_loopback(const char *host)
{
	if (strcasecmp(host, "localhost") == 0)
		return true;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	char buf[64];
	size_t n = strlen(host);
	if (n >= 2 && n < sizeof buf && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	struct in6_addr a6;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int md_http_check_url(const char *url, md_error *err)
{
	/* The one URI parser (uri.h): it refuses credentials and fragments. */
	md_uri u;
	if (md_uri_parse(url, &u, NULL) != MD_OK)
		return md_err_set(err, MD_EUSAGE, "API URL '%.200s' is not a valid URL (https://HOST"
				  "[:PORT][/PREFIX], no credentials, query or fragment)", url);
	if (!u.host[0])
		return md_err_set(err, MD_EUSAGE, "API URL '%.200s' names no host", url);
	if (u.query[0])
		return md_err_set(err, MD_EUSAGE,
				  "API URL must not carry credentials, a query or a fragment");
	if (strcmp(u.scheme, "https") == 0)
		return MD_OK;
	if (strcmp(u.scheme, "http") != 0)
		return md_err_set(err, MD_EUSAGE, "API URL scheme '%.20s' is not https", u.scheme);
	if (!host_is_loopback(u.host))
		return md_err_set(err, MD_EUSAGE, "refusing plain http:// to %.100s: tokens would "
				  "cross the network unencrypted; use https:// (http:// is only for "
				  "loopback hosts)", u.host);
	return MD_OK;
}

/* A credential goes into a header line: a CR or LF in it (a Vault login
 * answer, a token file) would add lines of a server's choosing. Visible
 * ASCII only, as every bearer token and Vault token is. */
static bool header_value_ok(const md_secret *v)
{
	const char *s = md_secret_str(v);
	for (size_t i = 0; i < md_secret_len(v); i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return md_secret_len(v) > 0;
}

int md_http_new(const md_http_opts *o, md_http **out, md_error *err)
{
	*out = NULL;
	int rc = md_http_check_url(o->base_url, err);
	if (rc || (rc = md_curl_dl_load(err)))
		return rc;
	if (o->bearer && !header_value_ok(o->bearer))
		return md_err_set(err, MD_EFAIL, "a credential for %.200s is empty or holds "
				  "characters a header cannot carry (white space, control "
				  "characters, non-ASCII)", o->base_url);
	md_http *h = calloc(1, sizeof *h);
	if (!h)
		return md_err_set(err, MD_EFAIL, "out of memory");
	h->base_url = strdup(o->base_url);
	h->cacert = o->cacert ? strdup(o->cacert) : NULL;
	h->curl = curl_easy_init();
	h->timeout_secs = o->timeout_secs > 0 ? o->timeout_secs : 30;
	h->retries = o->retries >= 0 ? o->retries : 0;
	h->multi = o->multi;
	if (!h->base_url || !h->curl || (o->cacert && !h->cacert)) {
		md_http_free(h);
		return md_err_set(err, MD_EFAIL, "out of memory");
	}
	size_t bl = strlen(h->base_url);
	while (bl > 0 && h->base_url[bl - 1] == '/')
		h->base_url[--bl] = '\0';

	snprintf(h->content_type, sizeof h->content_type, "Content-Type: application/json");
	h->hdr_type.data = h->content_type;
	h->hdr_accept.data = "Accept: application/json";
	h->hdr_type.next = &h->hdr_accept;
	if (o->extra_header) {
		if (!(h->extra = strdup(o->extra_header))) {
			md_http_free(h);
			return md_err_set(err, MD_EFAIL, "out of memory");
		}
		h->hdr_extra.data = h->extra;
		h->hdr_accept.next = &h->hdr_extra;
	}
	struct curl_slist *first = &h->hdr_type;
	if (o->bearer) {
		/* The credential, watched while this client can send it: it
		 * stays pinned in the redaction registry (redact.h) however the
		 * caller's own copy fares. */
		h->bearer = md_secret_new(md_secret_len(o->bearer));
		h->auth_line = md_secret_new(md_secret_len(o->bearer) + 64);
		if (!h->bearer || !h->auth_line ||
		    md_secret_set(h->bearer, md_secret_str(o->bearer), md_secret_len(o->bearer))) {
			md_http_free(h);
			return md_err_set(err, MD_EFAIL, "out of memory");
		}
		if (o->auth_header)
			md_secret_appendf(h->auth_line, "%s: ", o->auth_header);
		else
			md_secret_append(h->auth_line, "Authorization: Bearer ", 22);
		md_secret_append(h->auth_line, md_secret_str(o->bearer), md_secret_len(o->bearer));
		md_secret_watch(h->bearer);
		h->hdr_auth.data = (char *)md_secret_str(h->auth_line);
		h->hdr_auth.next = first;
		first = &h->hdr_auth;
	}

	CURL *c = h->curl;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, first);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mdcred/" MD_VERSION);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, h->timeout_secs);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->timeout_secs < 10 ? h->timeout_secs : 10L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_VERBOSE, 0L);
	if (h->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->cacert);
	*out = h;
	return MD_OK;
}

void md_http_free(md_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	md_secret_free(h->auth_line);
	md_secret_free(h->bearer);
	free(h->extra);
	free(h->base_url);
	free(h->cacert);
	free(h);
}

void md_http_resp_free(md_http_resp *r)
{
	if (!r)
		return;
	md_secret_free(r->body);
	memset(r, 0, sizeof *r);
}


int md_http_path_segment(md_secret *out, const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	if (!e)
		return -1;
	int rc = md_secret_append(out, e, strlen(e));
	curl_free(e);
	return rc;
}

bool md_http_status_retryable(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

static size_t http_on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct http_rx *rx = ud;
	size_t len = sz * n;
	if ((long)(md_secret_len(rx->resp->body) + len) > HTTP_BODY_MAX) {
		rx->too_big = true;
		return 0;
	}
	return md_secret_append(rx->resp->body, p, len) == 0 ? len : 0;
}

static void header_value(const char *p, size_t len, size_t namelen, char *out, size_t outsz)
{
	const char *v = p + namelen, *end = p + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	size_t n = (size_t)(end - v);
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

/* ---- the retry loop's clock (http.h: md_http_clock) ---- */

static void real_sleep_ms(void *ctx, long ms)
{
	(void)ctx;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static time_t real_now(void *ctx)
{
	(void)ctx;
	return time(NULL);
}

/* The virtual clock: milliseconds of waits not slept, process-wide. */
static long long virtual_ms;

static void virtual_sleep_ms(void *ctx, long ms)
{
	(void)ctx;
	long long at = __atomic_add_fetch(&virtual_ms, ms, __ATOMIC_RELAXED);
	md_log_debug("virtual wait %ld ms (not slept; virtual clock +%lld ms)", ms, at);
}

static time_t virtual_now(void *ctx)
{
	(void)ctx;
	return time(NULL) + (time_t)(__atomic_load_n(&virtual_ms, __ATOMIC_RELAXED) / 1000);
}

static md_http_clock start_clock = {real_sleep_ms, real_now, NULL};
static md_http_clock clock_now = {real_sleep_ms, real_now, NULL};

/* Read once, at start (before main): later changes to the environment do
 * not switch clocks. */
__attribute__((constructor)) static void http_clock_from_env(void)
{
	const char *v = getenv("MDCRED_TEST_VIRTUAL_TIME");
	if (v && strcmp(v, "1") == 0)
		start_clock = (md_http_clock){virtual_sleep_ms, virtual_now, NULL};
	clock_now = start_clock;
}

void md_http_set_clock(const md_http_clock *c)
{
	clock_now = c ? *c : start_clock;
}

static time_t http_now(void)
{
	return clock_now.now(clock_now.ctx);
}

/* Retry-After: delta-seconds or an HTTP-date. */
static long parse_retry_after(const char *v)
{
	char *end;
	long s = strtol(v, &end, 10);
	if (end != v && *end == '\0')
		return s < 0 ? 0 : s;
	time_t t = curl_getdate(v, NULL);
	if (t < 0)
		return -1;
	long d = (long)(t - http_now());
	return d < 0 ? 0 : d;
}

static size_t http_on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct http_rx *rx = ud;
	size_t len = sz * n;
	char v[96];
	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		header_value(p, len, 12, v, sizeof v);
		rx->retry_after = parse_retry_after(v);
	} else if (len > 13 && strncasecmp(p, "Content-Type:", 13) == 0) {
		header_value(p, len, 13, rx->resp->content_type, sizeof rx->resp->content_type);
	} else if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new response (e.g. after 100 Continue): forget old headers. */
		rx->retry_after = -1;
		rx->resp->content_type[0] = '\0';
	}
	return len;
}

static void http_prepare(md_http *h, const char *method, const char *url, const md_secret *body,
			 md_http_retry mode, struct http_rx *rx)
{
	CURL *c = h->curl;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	if (body) {
		/* curl sends straight from the secret buffer: no copy is made. */
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, md_secret_str(body));
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)md_secret_len(body));
	} else if (strcmp(method, "POST") == 0) {
		/* An empty POST (Content-Length: 0), not the GET HTTPGET set. */
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	/* libcurl silently sends a request again when a reused connection turns
	 * out dead without an answer: a request that must not be repeated (a
	 * mint, a guarded PATCH) goes out on a connection of its own. */
	curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, mode == MD_HTTP_ONCE ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rx);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rx);
	h->errbuf[0] = '\0';
}

/* Did this failure surely happen before the request reached the server? */
static bool curl_failed_before_send(CURLcode cc)
{
	return cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY ||
	       cc == CURLE_COULDNT_CONNECT;
}

static bool curl_failure_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT: case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2: case CURLE_HTTP2_STREAM: case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

static long backoff_ms(int attempt, long retry_after)
{
	if (retry_after >= 0)
		return (retry_after > HTTP_RETRY_AFTER_CAP ? HTTP_RETRY_AFTER_CAP : retry_after) * 1000;
	long cap = HTTP_BACKOFF_BASE_MS;
	for (int i = 0; i < attempt && cap < HTTP_BACKOFF_CAP_MS; i++)
		cap *= 2;
	if (cap > HTTP_BACKOFF_CAP_MS)
		cap = HTTP_BACKOFF_CAP_MS;
	unsigned r = 0;
	if (md_rand_bytes(&r, sizeof r) < 0)
		r = (unsigned)rand();
	return (long)(r % (unsigned)(cap + 1)); /* full jitter: uniform in [0, cap] */
}

static int http_fail(md_http *h, const char *method, const char *path, CURLcode cc, int attempts,
		     md_error *err)
{
	const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
	if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
	    cc == CURLE_SSL_CERTPROBLEM) {
		md_err_set(err, MD_EFAIL, "%s %s: TLS verification failed: %s", method, path, why);
		if (err)
			err->cause = MD_CAUSE_TLS;
		return MD_EFAIL;
	}
	return md_err_set(err, MD_ETRANSIENT, "%s %s%s: %s (after %d attempt%s)", method, h->base_url,
			  path, why, attempts, attempts == 1 ? "" : "s");
}

int md_http_request_typed(md_http *h, const char *method, const char *path, const md_secret *body,
			  const char *content_type, md_http_retry mode, md_http_resp *resp,
			  md_error *err)
{
	memset(resp, 0, sizeof *resp);
	/* This request's own: a client's requests do not share a type. */
	int tn = snprintf(h->content_type, sizeof h->content_type, "Content-Type: %s",
			  content_type ? content_type : "application/json");
	if (tn < 0 || (size_t)tn >= sizeof h->content_type)
		return md_err_set(err, MD_EUSAGE, "content type '%.64s' is too long", content_type);
	resp->body = md_secret_new(4096);
	_cleanup_secret_ md_secret *url = md_secret_new(strlen(h->base_url) + strlen(path) + 1);
	if (!resp->body || !url || md_secret_appendf(url, "%s%s", h->base_url, path) < 0)
		return md_err_set(err, MD_EFAIL, "out of memory");

	bool earlier_maybe_done = false;
	for (int attempt = 0;; attempt++) {
		struct http_rx rx = {resp, -1, false};
		resp->earlier_maybe_done = earlier_maybe_done;
		md_secret_truncate(resp->body, 0);
		resp->status = 0;
		resp->content_type[0] = '\0';
		resp->maybe_sent = false;
		http_prepare(h, method, md_secret_str(url), body, mode, &rx);
		long long t0 = md_time_now_ms();
		CURLcode cc = h->multi ? md_http_multi_perform(h->multi, h->curl)
					: curl_easy_perform(h->curl);
		long ms = (long)(md_time_now_ms() - t0);
		if (rx.too_big) {
			/* The status came first: a 2xx says the work was done
			 * (a mint answered with a body too large to read still
			 * made a token its caller must clean up). */
			curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
			md_secret_truncate(resp->body, 0);
			return md_err_set(err, MD_EFAIL, "%s %s: answer larger than %ld bytes", method,
					  path, HTTP_BODY_MAX);
		}
		bool retry;
		char what[96];
		if (cc == CURLE_OK) {
			curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
			md_log_debug("%s %s -> %ld (%ld ms)", method, path, resp->status, ms);
			/* 429 means "not processed"; 5xx from a POST may have been. */
			retry = md_http_status_retryable(resp->status) &&
				(mode == MD_HTTP_IDEMPOTENT || resp->status == 429);
			snprintf(what, sizeof what, "HTTP %ld", resp->status);
		} else {
			md_log_debug("%s %s -> %s (%ld ms)", method, path, curl_easy_strerror(cc), ms);
			bool unsent = curl_failed_before_send(cc);
			resp->maybe_sent = !unsent;
			retry = curl_failure_retryable(cc) && (mode == MD_HTTP_IDEMPOTENT || unsent);
			snprintf(what, sizeof what, "%s", curl_easy_strerror(cc));
		}
		if (!retry || attempt >= h->retries) {
			if (cc != CURLE_OK)
				return http_fail(h, method, path, cc, attempt + 1, err);
			return MD_OK;
		}
		/* Only a refused connection or a 429 surely did nothing. */
		if (cc == CURLE_OK ? resp->status != 429 : resp->maybe_sent)
			earlier_maybe_done = true;
		long wait = backoff_ms(attempt, cc == CURLE_OK ? rx.retry_after : -1);
		md_log_warn("%s %s: %s; retrying in %ld.%03ld s (attempt %d of %d)", method, path, what,
			    wait / 1000, wait % 1000, attempt + 2, h->retries + 1);
		clock_now.sleep_ms(clock_now.ctx, wait);
	}
}

int md_http_request(md_http *h, const char *method, const char *path, const md_secret *body,
		    md_http_retry mode, md_http_resp *resp, md_error *err)
{
	return md_http_request_typed(h, method, path, body, NULL, mode, resp, err);
}

const char *md_http_library_version(md_error *err)
{
	return md_curl_dl_load(err) == MD_OK ? curl_version() : NULL;
}
