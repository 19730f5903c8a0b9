/* log.c - see log.h. */
#include "base/log.h"
#include "base/json.h"
#include "base/secret.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "mdcred";
static md_log_level log_threshold = MD_LOG_WARN;
static md_log_format log_format = MD_LOG_TEXT;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static _Thread_local const char *log_role;
/* Serialises writes so the status line and log lines never interleave. */
static pthread_mutex_t log_mx = PTHREAD_MUTEX_INITIALIZER;
static char log_status_line[256];

void md_log_set_role(const char *role) { log_role = role; }

static void log_out(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* One whole line to stderr, above the status line if one is shown. */
static void log_emit(const char *line, size_t n)
{
	pthread_mutex_lock(&log_mx);
	if (log_status_line[0])
		log_out("\r\033[K", 4);
	log_out(line, n);
	if (log_status_line[0])
		log_out(log_status_line, strlen(log_status_line));
	pthread_mutex_unlock(&log_mx);
}

/* Like md_log's lines, the status passes redaction. */
static void status_format(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	md_secret_format_line(log_status_line, sizeof log_status_line, fmt, ap);
	va_end(ap);
}

void md_log_status(const char *line)
{
	pthread_mutex_lock(&log_mx);
	log_out("\r\033[K", 4);
	status_format("%s", line ? line : "");
	log_out(log_status_line, strlen(log_status_line));
	pthread_mutex_unlock(&log_mx);
}

void md_log_init(const char *prog, md_log_level threshold, md_log_format fmt)
{
	log_prog = prog;
	log_threshold = threshold;
	log_format = fmt;
}

void md_log_set_level(md_log_level threshold) { log_threshold = threshold; }
void md_log_set_format(md_log_format fmt) { log_format = fmt; }
bool md_log_enabled(md_log_level level) { return level <= log_threshold; }
md_log_format md_log_get_format(void) { return log_format; }

int md_log_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return MD_LOG_TEXT;
	if (strcmp(s, "json") == 0)
		return MD_LOG_JSON;
	return -1;
}

static void log_write_json(md_log_level level, const char *msg)
{
	/* hclog wants microseconds and a zone: 2006-01-02T15:04:05.000000Z07:00 */
	static const char *const hclog_levels[] = {"error", "warn", "info", "debug"};
	bool hc = log_format == MD_LOG_HCLOG;
	char ts[40];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%0*ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, hc ? 6 : 3,
		 hc ? now.tv_nsec / 1000 : now.tv_nsec / 1000000);
	_cleanup_secret_ md_secret *line = md_secret_new(256);
	if (!line)
		return;
	md_jw w;
	md_jw_init(&w, line);
	md_jw_obj_begin(&w);
	md_jw_key(&w, hc ? "@timestamp" : "time");
	md_jw_str(&w, ts);
	md_jw_key(&w, hc ? "@level" : "level");
	md_jw_str(&w, hc ? hclog_levels[level] : level_names[level]);
	md_jw_key(&w, hc ? "@module" : "prog");
	md_jw_str(&w, log_prog);
	md_jw_key(&w, hc ? "@message" : "msg");
	md_jw_str(&w, msg);
	if (log_role) {
		md_jw_key(&w, "role");
		md_jw_str(&w, log_role);
	}
	md_jw_obj_end(&w);
	if (md_jw_ok(&w) && md_secret_append(line, "\n", 1) == 0)
		log_emit(md_secret_str(line), md_secret_len(line));
}

void md_log_status_keep(void)
{
	pthread_mutex_lock(&log_mx);
	if (log_status_line[0])
		log_out("\n", 1);
	log_status_line[0] = '\0';
	pthread_mutex_unlock(&log_mx);
}

void md_log(md_log_level level, const char *fmt, ...)
{
	if (level > log_threshold)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	md_secret_format_line(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (log_format != MD_LOG_TEXT) {
		log_write_json(level, msg);
		return;
	}
	char line[2200];
	int n = snprintf(line, sizeof line, "%s: %s%s%s%s%s\n", log_prog,
			 level == MD_LOG_INFO ? "" : level_names[level],
			 level == MD_LOG_INFO ? "" : ": ", log_role ? log_role : "",
			 log_role ? ": " : "", msg);
	if (n > 0)
		log_emit(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
