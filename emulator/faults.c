/* faults.c - injected faults and the request log of the control plane.
 *
 * Owns: the ordered list of fault rules set through /_emulator/faults
 * (parsing, matching by method and path prefix, consuming their counts,
 * listing them), the log of /v1/ requests that /_emulator/state shows
 * (method, path without query, status; the newest REQLOG_MAX entries are
 * kept, request_count counts all) and the count of /v1/ requests in
 * progress (in_flight; max_in_flight: the most at once since the last
 * reset).
 * Callers hold emu_lock().
 */
#include "emu.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FAULTS_MAX 1000
#define FAULT_PATH_MAX 2048
#define FAULT_COUNT_MAX 1000000LL
#define FAULT_DELAY_MAX 600000LL /* ms */
#define REQLOG_MAX 10000

struct fault {
	char method[16];        /* "": any */
	char *path;             /* NULL: any; else a prefix */
	enum emu_action action;
	unsigned status;
	long delay_ms;
	char retry_after[64];   /* "": none */
	long long count;
	struct fault *next;
};

struct reqent {
	char method[16];
	char *path;
	unsigned status;
	enum emu_action fault;
};

static struct fault *fl_head;
static size_t fl_len;

static struct reqent rl_ring[REQLOG_MAX];
static size_t rl_start;
static size_t rl_len;
static unsigned long long rl_total;
static long rl_in_flight, rl_max_in_flight;

const char *emu_action_name(enum emu_action a)
{
	switch (a) {
	case EMU_F_STATUS: return "status";
	case EMU_F_DROP: return "drop";
	case EMU_F_DROP_AFTER: return "drop_after";
	case EMU_F_DELAY: return "delay";
	case EMU_F_HOLD: return "hold";
	default: return "none";
	}
}

static enum emu_action action_parse(const char *s)
{
	for (enum emu_action a = EMU_F_STATUS; a <= EMU_F_HOLD; a++)
		if (strcmp(s, emu_action_name(a)) == 0)
			return a;
	return EMU_F_NONE;
}

/* ---- parsing a rule ---- */

static bool present(const md_json *doc, int tok)
{
	return tok >= 0 && md_json_type_of(doc, tok) != MD_JSON_NULL;
}

static void parse_method(const md_json *doc, struct fault *f, struct emu_issues *iss)
{
	int t = md_json_get(doc, 0, "method");
	if (!present(doc, t))
		return;
	int n = md_json_str(doc, t, f->method, sizeof f->method);
	bool ok = n > 0;
	for (int i = 0; ok && i < n; i++)
		ok = isalpha((unsigned char)f->method[i]);
	if (!ok)
		emu_issue(iss, "method: must be an HTTP method such as \"POST\"");
	for (int i = 0; ok && i < n; i++)
		f->method[i] = (char)toupper((unsigned char)f->method[i]);
	if (!ok)
		f->method[0] = '\0';
}

static void parse_path(const md_json *doc, struct fault *f, struct emu_issues *iss)
{
	int t = md_json_get(doc, 0, "path");
	char buf[FAULT_PATH_MAX + 1];
	if (!present(doc, t))
		return;
	if (md_json_str(doc, t, buf, sizeof buf) < 1 || buf[0] != '/') {
		emu_issue(iss, "path: must be a path prefix starting with '/'");
		return;
	}
	f->path = strdup(buf);
	if (!f->path)
		emu_issue(iss, "path: out of memory");
}

static void parse_retry_after(const md_json *doc, struct fault *f, struct emu_issues *iss)
{
	int t = md_json_get(doc, 0, "retry_after");
	long long v;
	if (!present(doc, t))
		return;
	if (md_json_int(doc, t, &v) == 0 && v >= 0) {
		snprintf(f->retry_after, sizeof f->retry_after, "%lld", v);
		return;
	}
	int n = md_json_str(doc, t, f->retry_after, sizeof f->retry_after);
	bool ok = n > 0;
	for (int i = 0; ok && i < n; i++)
		ok = f->retry_after[i] >= 0x20 && f->retry_after[i] < 0x7f;
	if (!ok) {
		f->retry_after[0] = '\0';
		emu_issue(iss, "retry_after: must be a header value such as \"1\" (printable "
			  "ASCII, under 64 characters)");
	}
}

/* An integer member; def when absent; an issue when outside lo..hi. */
static long long parse_int(const md_json *doc, const char *key, long long lo, long long hi,
			   long long def, struct emu_issues *iss)
{
	int t = md_json_get(doc, 0, key);
	long long v;
	if (!present(doc, t))
		return def;
	if (md_json_int(doc, t, &v) < 0 || v < lo || v > hi) {
		emu_issue(iss, "%s: must be an integer from %lld to %lld", key, lo, hi);
		return def;
	}
	return v;
}

static void parse_action(const md_json *doc, struct fault *f, struct emu_issues *iss)
{
	int t = md_json_get(doc, 0, "action");
	char buf[32];
	f->action = EMU_F_STATUS;
	if (!present(doc, t))
		return;
	if (md_json_str(doc, t, buf, sizeof buf) < 0 ||
	    (f->action = action_parse(buf)) == EMU_F_NONE) {
		f->action = EMU_F_STATUS;
		emu_issue(iss, "action: must be one of status, drop, drop_after, delay, hold");
	}
}

static void fault_free(struct fault *f)
{
	if (!f)
		return;
	free(f->path);
	free(f);
}

int emu_fault_add(const md_json *doc, struct emu_issues *iss)
{
	struct fault *f = calloc(1, sizeof *f);
	if (!f) {
		emu_issue(iss, "out of memory");
		return -1;
	}
	parse_method(doc, f, iss);
	parse_path(doc, f, iss);
	parse_action(doc, f, iss);
	parse_retry_after(doc, f, iss);
	f->count = parse_int(doc, "count", 1, FAULT_COUNT_MAX, 1, iss);
	if (f->action == EMU_F_STATUS) {
		f->status = (unsigned)parse_int(doc, "status", 400, 599, 0, iss);
		if (!present(doc, md_json_get(doc, 0, "status")))
			emu_issue(iss, "status: is required for action \"status\"");
	}
	if (f->action == EMU_F_DELAY) {
		f->delay_ms = (long)parse_int(doc, "delay_ms", 0, FAULT_DELAY_MAX, 0, iss);
		if (!present(doc, md_json_get(doc, 0, "delay_ms")))
			emu_issue(iss, "delay_ms: is required for action \"delay\"");
	}
	if (f->action == EMU_F_HOLD) /* at most delay_ms: a forgotten release never hangs */
		f->delay_ms = (long)parse_int(doc, "delay_ms", 0, FAULT_DELAY_MAX, 60000, iss);
	if (fl_len >= FAULTS_MAX)
		emu_issue(iss, "too many pending fault rules (at most %d)", FAULTS_MAX);
	if (iss->n > 0) {
		fault_free(f);
		return -1;
	}
	struct fault **pp = &fl_head;
	while (*pp)
		pp = &(*pp)->next;
	*pp = f;
	fl_len++;
	return 0;
}

/* ---- using rules ---- */

static bool fault_matches(const struct fault *f, const char *method, const char *path)
{
	if (f->method[0] && strcasecmp(f->method, method) != 0)
		return false;
	return !f->path || strncmp(path, f->path, strlen(f->path)) == 0;
}

bool emu_fault_take(const char *method, const char *path, struct emu_fault_hit *hit)
{
	memset(hit, 0, sizeof *hit);
	for (struct fault **pp = &fl_head; *pp; pp = &(*pp)->next) {
		struct fault *f = *pp;
		if (!fault_matches(f, method, path))
			continue;
		hit->action = f->action;
		hit->status = f->status;
		hit->delay_ms = f->delay_ms;
		memcpy(hit->retry_after, f->retry_after, sizeof hit->retry_after);
		if (--f->count <= 0) {
			*pp = f->next;
			fault_free(f);
			fl_len--;
		}
		return true;
	}
	return false;
}

void emu_faults_clear(void)
{
	while (fl_head) {
		struct fault *f = fl_head;
		fl_head = f->next;
		fault_free(f);
	}
	fl_len = 0;
}

size_t emu_faults_pending(void)
{
	return fl_len;
}

void emu_faults_write(md_jw *w)
{
	md_jw_arr_begin(w);
	for (const struct fault *f = fl_head; f; f = f->next) {
		md_jw_obj_begin(w);
		if (f->method[0]) {
			md_jw_key(w, "method");
			md_jw_str(w, f->method);
		}
		if (f->path) {
			md_jw_key(w, "path");
			md_jw_str(w, f->path);
		}
		md_jw_key(w, "action");
		md_jw_str(w, emu_action_name(f->action));
		if (f->action == EMU_F_STATUS) {
			md_jw_key(w, "status");
			md_jw_int(w, f->status);
		}
		if (f->retry_after[0]) {
			md_jw_key(w, "retry_after");
			md_jw_str(w, f->retry_after);
		}
		if (f->action == EMU_F_DELAY || f->action == EMU_F_HOLD) {
			md_jw_key(w, "delay_ms");
			md_jw_int(w, f->delay_ms);
		}
		md_jw_key(w, "count");
		md_jw_int(w, f->count);
		md_jw_obj_end(w);
	}
	md_jw_arr_end(w);
}

/* ---- the request log ---- */

void emu_reqlog_add(const char *method, const char *path, unsigned status,
		    enum emu_action fault)
{
	struct reqent *e;
	if (rl_len == REQLOG_MAX) {
		e = &rl_ring[rl_start];
		free(e->path);
		rl_start = (rl_start + 1) % REQLOG_MAX;
		rl_len--;
	}
	e = &rl_ring[(rl_start + rl_len) % REQLOG_MAX];
	snprintf(e->method, sizeof e->method, "%s", method);
	e->path = strdup(path);
	e->status = status;
	e->fault = fault;
	rl_len++;
	rl_total++;
}

/* A /v1/ request starts (before its faults, so an injected delay counts)
 * or has its answer. */
void emu_reqlog_begin(void)
{
	if (++rl_in_flight > rl_max_in_flight)
		rl_max_in_flight = rl_in_flight;
}

void emu_reqlog_end(void)
{
	rl_in_flight--;
}

void emu_reqlog_write(md_jw *w)
{
	md_jw_key(w, "requests");
	md_jw_arr_begin(w);
	for (size_t i = 0; i < rl_len; i++) {
		const struct reqent *e = &rl_ring[(rl_start + i) % REQLOG_MAX];
		md_jw_obj_begin(w);
		md_jw_key(w, "method");
		md_jw_str(w, e->method);
		md_jw_key(w, "path");
		md_jw_str(w, e->path ? e->path : "?");
		md_jw_key(w, "status");
		md_jw_int(w, e->status);
		if (e->fault) {
			md_jw_key(w, "fault");
			md_jw_str(w, emu_action_name(e->fault));
		}
		md_jw_obj_end(w);
	}
	md_jw_arr_end(w);
	md_jw_key(w, "request_count");
	md_jw_int(w, (long long)rl_total);
	md_jw_key(w, "max_in_flight");
	md_jw_int(w, rl_max_in_flight);
	md_jw_key(w, "in_flight");
	md_jw_int(w, rl_in_flight);
}

void emu_reqlog_clear(void)
{
	for (size_t i = 0; i < rl_len; i++)
		free(rl_ring[(rl_start + i) % REQLOG_MAX].path);
	memset(rl_ring, 0, sizeof rl_ring);
	rl_start = rl_len = 0;
	rl_total = 0;
	/* Requests still running count from here on. */
	rl_max_in_flight = rl_in_flight;
}
