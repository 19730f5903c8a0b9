/* http.c - the libmicrohttpd side of the emulator.
 *
 * Owns: the daemon (one thread per connection, so a "delay" or "hold"
 * fault waits without holding up other clients), the release of held
 * requests, request body accumulation across calls
 * of the access handler, splitting and percent-decoding the path, applying
 * fault rules, dispatch to the /v1/ and /_emulator/ routers, the request log
 * and in-flight hooks (a /v1/ request is in flight from before its faults,
 * an injected delay included, until its answer is made), the -v log line,
 * and every answer we send: JSON (error) bodies, the plain-text "Not Found",
 * empty 204s. Response bodies stay in their md_secret until libmicrohttpd
 * has sent them; then the free callback wipes them.
 */
#include "emu.h"
#include "base/text.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "base/log.h"

#define HTTP_LOG_PATH_MAX 2048
#define HTTP_CONN_TIMEOUT 120 /* seconds a connection may sit idle */

struct http_req {
	md_secret *body;
	bool too_big;
	bool oom;
};

static struct MHD_Daemon *http_daemon;
static pthread_mutex_t http_stop_mx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t http_stop_cv = PTHREAD_COND_INITIALIZER;
static bool http_stopping;
static bool http_started;
static char http_start_msg[256];

/* ---- small helpers shared by the routers ---- */

void emu_issue(struct emu_issues *iss, const char *fmt, ...)
{
	if (iss->n >= EMU_MAX_ISSUES)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(iss->msg[iss->n], sizeof iss->msg[0], fmt, ap);
	va_end(ap);
	iss->n++;
}

/* Code points in s, or -1 when s is not valid UTF-8 (overlongs, surrogates
 * and values past U+10FFFF included). */
long emu_utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;
	while (*p) {
		unsigned cp, need;
		if (*p < 0x80) {
			p++;
			n++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0)
			cp = *p & 0x1f, need = 1;
		else if ((*p & 0xf0) == 0xe0)
			cp = *p & 0x0f, need = 2;
		else if ((*p & 0xf8) == 0xf0)
			cp = *p & 0x07, need = 3;
		else
			return -1;
		p++;
		for (unsigned i = 0; i < need; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (*p & 0x3f);
		}
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		n++;
	}
	return n;
}

const char *emu_status_code(unsigned status)
{
	switch (status) {
	case 400: return "BAD_REQUEST";
	case 401: return "UNAUTHORIZED";
	case 403: return "FORBIDDEN";
	case 404: return "NOT_FOUND";
	case 405: return "METHOD_NOT_ALLOWED";
	case 408: return "REQUEST_TIMEOUT";
	case 409: return "CONFLICT";
	case 413: return "PAYLOAD_TOO_LARGE";
	case 422: return "UNPROCESSABLE_ENTITY";
	case 429: return "TOO_MANY_REQUESTS";
	case 500: return "INTERNAL_SERVER_ERROR";
	case 501: return "NOT_IMPLEMENTED";
	case 502: return "BAD_GATEWAY";
	case 503: return "SERVICE_UNAVAILABLE";
	case 504: return "GATEWAY_TIMEOUT";
	default: return status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST";
	}
}

/* ---- replies ---- */

static void reply_set(struct emu_call *c, unsigned status, const char *ctype, md_secret *body)
{
	md_secret_free(c->rep.body);
	c->rep.status = status;
	c->rep.ctype = ctype;
	c->rep.body = body;
}

void emu_reply_json(struct emu_call *c, unsigned status, md_secret *body, md_jw *w)
{
	if (!body || (w && !md_jw_ok(w))) {
		md_secret_free(body);
		/* Out of memory: a bare 500 is all we can still promise. */
		reply_set(c, 500, NULL, NULL);
		return;
	}
	reply_set(c, status, "application/json", body);
}

void emu_reply_error(struct emu_call *c, unsigned status, const char *message,
		     const struct emu_issues *iss)
{
	md_secret *b = md_secret_new(256);
	md_jw w;
	if (b) {
		md_jw_init(&w, b);
		md_jw_obj_begin(&w);
		md_jw_key(&w, "code");
		md_jw_str(&w, emu_status_code(status));
		md_jw_key(&w, "message");
		md_jw_str(&w, message);
		if (iss && iss->n > 0) {
			md_jw_key(&w, "issues");
			md_jw_arr_begin(&w);
			for (int i = 0; i < iss->n; i++) {
				md_jw_obj_begin(&w);
				md_jw_key(&w, "message");
				md_jw_str(&w, iss->msg[i]);
				md_jw_obj_end(&w);
			}
			md_jw_arr_end(&w);
		}
		md_jw_obj_end(&w);
	}
	emu_reply_json(c, status, b, b ? &w : NULL);
}

void emu_reply_error1(struct emu_call *c, unsigned status, const char *message,
		      const char *issue)
{
	struct emu_issues iss = {0};
	if (issue)
		emu_issue(&iss, "%s", issue);
	emu_reply_error(c, status, message, &iss);
}

void emu_reply_empty(struct emu_call *c, unsigned status)
{
	reply_set(c, status, NULL, NULL);
}

void emu_reply_not_found_text(struct emu_call *c)
{
	md_secret *b = md_secret_new(16);
	if (b && md_secret_append(b, "Not Found", 9) == 0) {
		reply_set(c, 404, "text/plain", b);
		return;
	}
	md_secret_free(b);
	reply_set(c, 500, NULL, NULL);
}

static bool ctype_is_json(const char *ct)
{
	static const char want[] = "application/json";
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, sizeof want - 1) != 0)
		return false;
	ct += sizeof want - 1;
	return *ct == '\0' || *ct == ';' || *ct == ' ' || *ct == '\t';
}

int emu_body_json(struct emu_call *c, md_json *doc, bool strict_ctype)
{
	md_error err = {0};
	memset(doc, 0, sizeof *doc);
	if (c->body_too_big) {
		emu_reply_error1(c, 413, "Payload Too Large", "body: larger than 1 MiB");
		return -1;
	}
	if (strict_ctype && c->ctype && *c->ctype && !ctype_is_json(c->ctype)) {
		emu_reply_error1(c, 400, "Invalid request",
				 "Content-Type: must be application/json");
		return -1;
	}
	if (md_json_parse(doc, c->body, c->body_len, &err) != MD_OK) {
		emu_reply_error1(c, 400, "Invalid request", "body: malformed JSON");
		return -1;
	}
	if (md_json_type_of(doc, 0) != MD_JSON_OBJECT) {
		md_json_free(doc);
		emu_reply_error1(c, 400, "Invalid request", "body: must be a JSON object");
		return -1;
	}
	return 0;
}

/* ---- paths ---- */

/* Decodes %XX in s[0..n); *bad is set for a broken escape, a '/' or a NUL. */
static char *seg_decode(const char *s, size_t n, bool *bad)
{
	char *out = malloc(n + 1);
	size_t o = 0;
	if (!out)
		return NULL;
	*bad = false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%') {
			int hi = i + 1 < n ? md_text_hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? md_text_hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				*bad = true;
			} else {
				ch = (char)(hi * 16 + lo);
				i += 2;
				if (ch == '/' || ch == '\0')
					*bad = true;
			}
		}
		out[o++] = ch == '\0' ? '?' : ch;
	}
	out[o] = '\0';
	return out;
}

static void call_free_segs(struct emu_call *c, int n)
{
	for (int i = 0; i < n; i++) {
		free(c->seg[i]);
		c->seg[i] = NULL;
	}
}

/* Splits the raw path into decoded segments; nseg -1 when no route can match. */
static void path_split(struct emu_call *c)
{
	const char *p = c->path;
	c->nseg = 0;
	if (p[0] != '/') {
		c->nseg = -1;
		return;
	}
	for (p++;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (c->nseg == EMU_MAX_SEGS ||
		    !(c->seg[c->nseg] = seg_decode(p, n, &c->seg_bad[c->nseg]))) {
			call_free_segs(c, c->nseg);
			c->nseg = -1;
			return;
		}
		c->nseg++;
		if (!e)
			return;
		p = e + 1;
	}
}

/* The path as it may be shown: a segment that is a token value is replaced,
 * so a client that wrongly puts a secret into a URL cannot make us echo it. */
static char *path_for_log(const char *path)
{
	size_t n = strnlen(path, HTTP_LOG_PATH_MAX);
	char *out = malloc(n + 16);
	size_t o = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && path[j] != '/')
			j++;
		unsigned char d[EMU_DIGEST_LEN];
		struct emu_user *owner;
		emu_digest(path + i, j - i, d);
		if (j - i >= 16 && emu_token_by_digest(d, &owner)) {
			memcpy(out + o, "[redacted]", 10);
			o += 10;
		} else {
			memcpy(out + o, path + i, j - i);
			o += j - i;
		}
		if (j < n)
			out[o++] = '/';
		i = j + 1;
	}
	out[o] = '\0';
	return out;
}

/* ---- one request ---- */

/* Bumped by each release: a held request waits for it to change. */
static unsigned long http_release_gen;

static unsigned long http_release_now(void)
{
	pthread_mutex_lock(&http_stop_mx);
	unsigned long gen = http_release_gen;
	pthread_mutex_unlock(&http_stop_mx);
	return gen;
}

/* Waits ms, or (hold) until a release after generation gen (read when the
 * fault was taken, so a release sent once the test saw it taken always
 * counts), at most ms; a stop ends either wait. */
static void http_sleep_ms(long ms, bool hold, unsigned long gen)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&http_stop_mx);
	int rc = 0;
	while (!http_stopping && rc != ETIMEDOUT && !(hold && gen != http_release_gen))
		rc = pthread_cond_timedwait(&http_stop_cv, &http_stop_mx, &ts);
	pthread_mutex_unlock(&http_stop_mx);
}

void emu_http_release(void)
{
	pthread_mutex_lock(&http_stop_mx);
	http_release_gen++;
	pthread_cond_broadcast(&http_stop_cv);
	pthread_mutex_unlock(&http_stop_mx);
}

static void fault_reply(struct emu_call *c, const struct emu_fault_hit *hit)
{
	const char *phrase = MHD_get_reason_phrase_for(hit->status);
	emu_reply_error(c, hit->status, phrase && *phrase ? phrase : "Injected fault", NULL);
	snprintf(c->rep.retry_after, sizeof c->rep.retry_after, "%s", hit->retry_after);
}

static void dispatch(struct emu_call *c, bool control, bool v1)
{
	bool handled = false;
	if (c->nseg > 0 && control)
		handled = emu_control(c);
	else if (c->nseg > 0 && v1)
		handled = emu_api(c);
	if (!handled)
		emu_reply_not_found_text(c);
	if (c->rep.status == 0)
		emu_reply_error(c, 500, "Internal Server Error", NULL);
}

static void log_line(const struct emu_call *c, const char *path,
		     const struct emu_fault_hit *hit)
{
	if (!md_log_enabled(MD_LOG_INFO))
		return;
	char who[EMU_NAME_MAX + EMU_ID_LEN + 32] = "";
	if (c->who[0])
		snprintf(who, sizeof who, " (user %s, token %s)", c->who, c->tid);
	if (hit->action == EMU_F_DROP)
		md_log_info("%s %s -> dropped (fault)", c->method, path ? path : "?");
	else
		md_log_info("%s %s -> %u%s%s%s%s", c->method, path ? path : "?", c->rep.status, who,
			    hit->action ? " [fault: " : "",
			    hit->action ? emu_action_name(hit->action) : "", hit->action ? "]" : "");
}

static void secret_free_cb(void *cls)
{
	md_secret_free(cls);
}

static enum MHD_Result http_queue(struct MHD_Connection *conn, struct emu_call *c)
{
	struct MHD_Response *resp;
	md_secret *body = c->rep.body;
	if (body) {
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
			md_secret_len(body), (void *)md_secret_str(body), secret_free_cb, body);
		if (!resp)
			return MHD_NO; /* body still owned by c */
		c->rep.body = NULL;
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
	}
	if (body && c->rep.ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, c->rep.ctype);
	if (c->rep.retry_after[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, c->rep.retry_after);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result rc = MHD_queue_response(conn, c->rep.status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static void call_init(struct emu_call *c, struct MHD_Connection *conn, const char *url,
		      const char *method, const struct http_req *r)
{
	memset(c, 0, sizeof *c);
	c->method = method;
	c->path = url;
	c->auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					      MHD_HTTP_HEADER_AUTHORIZATION);
	c->ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					       MHD_HTTP_HEADER_CONTENT_TYPE);
	c->body = r->body ? md_secret_str(r->body) : "";
	c->body_len = md_secret_len(r->body);
	c->body_too_big = r->too_big;
	path_split(c);
}

static enum MHD_Result http_finish(struct MHD_Connection *conn, const char *url,
				   const char *method, struct http_req *r)
{
	struct emu_call c;
	struct emu_fault_hit hit = {0};
	unsigned long gen = 0;
	call_init(&c, conn, url, method, r);
	bool control = strncmp(url, "/_emulator/", 11) == 0;
	bool v1 = strncmp(url, "/v1/", 4) == 0;

	if (!control) {
		emu_lock();
		if (v1)
			emu_reqlog_begin();
		emu_fault_take(method, url, &hit);
		if (hit.action == EMU_F_HOLD)
			gen = http_release_now(); /* releases run under emu_lock() too */
		emu_unlock();
	}
	if (hit.action == EMU_F_DELAY || hit.action == EMU_F_HOLD)
		http_sleep_ms(hit.delay_ms, hit.action == EMU_F_HOLD, gen);

	emu_lock();
	if (r->oom)
		emu_reply_error(&c, 500, "Internal Server Error", NULL);
	else if (hit.action == EMU_F_STATUS)
		fault_reply(&c, &hit);
	else if (hit.action != EMU_F_DROP)
		dispatch(&c, control, v1);
	char *lpath = path_for_log(url);
	if (v1) {
		emu_reqlog_add(method, lpath ? lpath : "?",
			       hit.action == EMU_F_DROP ? 0 : c.rep.status, hit.action);
		emu_reqlog_end();
	}
	emu_unlock();

	log_line(&c, lpath, &hit);
	free(lpath);
	enum MHD_Result rc = MHD_NO;
	if (hit.action != EMU_F_DROP && hit.action != EMU_F_DROP_AFTER)
		rc = http_queue(conn, &c);
	if (c.nseg > 0)
		call_free_segs(&c, c.nseg);
	md_secret_free(c.rep.body);
	return rc;
}

static void req_body_add(struct http_req *r, const char *data, size_t n)
{
	if (r->too_big || r->oom)
		return;
	if (md_secret_len(r->body) + n > EMU_BODY_MAX) {
		r->too_big = true;
		md_secret_freep(&r->body);
		return;
	}
	if (!r->body)
		r->body = md_secret_new(n);
	if (!r->body || md_secret_append(r->body, data, n) < 0)
		r->oom = true;
}

static bool body_declared_too_big(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!cl)
		return false;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(cl, &end, 10);
	return end != cl && (errno == ERANGE || n > EMU_BODY_MAX);
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version,
				   const char *upload, size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct http_req *r = *con_cls;
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		if (!body_declared_too_big(conn))
			return MHD_YES;
		/* Answer now instead of reading it all; libmicrohttpd then closes. */
		r->too_big = true;
		return http_finish(conn, url, method, r);
	}
	if (*upload_size > 0) {
		req_body_add(r, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return http_finish(conn, url, method, r);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct http_req *r = *con_cls;
	if (!r)
		return;
	md_secret_free(r->body);
	free(r);
	*con_cls = NULL;
}

/* Keeps the path raw: we decode per segment, so "%2F" stays distinguishable. */
static size_t http_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return strlen(s);
}

static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\r\n")] = '\0';
	if (!http_started)
		snprintf(http_start_msg, sizeof http_start_msg, "%s", msg);
	else
		md_log_debug("libmicrohttpd: %s", msg);
}

/* ---- the daemon ---- */

int emu_http_start(const struct sockaddr *sa, bool tls, const char *cert, const char *key,
		   unsigned *port, md_error *err)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_ERROR_LOG;
	struct MHD_OptionItem tlsopt[] = {
		{MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key},
		{MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert},
		{MHD_OPTION_END, 0, NULL},
	};
	uint16_t port_be = ((const struct sockaddr_in *)sa)->sin_port;
	if (sa->sa_family == AF_INET6) {
		flags |= MHD_USE_IPv6;
		port_be = ((const struct sockaddr_in6 *)sa)->sin6_port;
	}
	if (tls)
		flags |= MHD_USE_TLS;
	if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
		flags |= MHD_USE_POLL; /* no FD_SETSIZE limit on descriptors */
	http_daemon = MHD_start_daemon(
		flags, ntohs(port_be), NULL, NULL, http_access, NULL,
		MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_CONN_TIMEOUT,
		MHD_OPTION_ARRAY, tls ? tlsopt : tlsopt + 2,
		MHD_OPTION_END);
	if (!http_daemon)
		return md_err_set(err, MD_EFAIL, "cannot start the HTTP server: %s",
				  http_start_msg[0] ? http_start_msg
				  : "address in use, or bad TLS material");
	http_started = true;
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(http_daemon, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : 0;
	return MD_OK;
}

void emu_http_stop(void)
{
	pthread_mutex_lock(&http_stop_mx);
	http_stopping = true;
	pthread_cond_broadcast(&http_stop_cv);
	pthread_mutex_unlock(&http_stop_mx);
	if (http_daemon)
		MHD_stop_daemon(http_daemon);
	http_daemon = NULL;
}
