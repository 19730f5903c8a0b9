/* control.c - the test-only control plane under /_emulator/ (no auth).
 *
 * Owns: GET /_emulator/state (the org, the clock, pending faults and the
 * request log, never a token value), POST /_emulator/clock, GET, POST and
 * DELETE /_emulator/faults, POST /_emulator/release, GET and POST
 * /_emulator/config, and POST /_emulator/reset. Handlers run under emu_lock(). README.md beside this
 * file documents each body.
 */
#include "emu.h"

#include <string.h>

#define CLOCK_ADVANCE_MAX (100LL * 366 * 86400)

typedef void (*ctl_fn)(struct emu_call *c);

struct ctl_route {
	const char *method;
	const char *name;
	ctl_fn fn;
};

static bool present(const md_json *doc, int tok)
{
	return tok >= 0 && md_json_type_of(doc, tok) != MD_JSON_NULL;
}

static void write_now(md_jw *w)
{
	char ts[32];
	emu_time_fmt(emu_now(), ts);
	md_jw_key(w, "now");
	md_jw_str(w, ts);
	md_jw_key(w, "clock_offset_seconds");
	md_jw_int(w, emu_clock_offset());
}

static void write_cfg(md_jw *w)
{
	md_jw_obj_begin(w);
	md_jw_key(w, "delete_status");
	md_jw_int(w, emu_cfg()->delete_status);
	md_jw_key(w, "flock_limit");
	md_jw_int(w, emu_cfg()->flock_limit);
	md_jw_obj_end(w);
}

/* ---- state ---- */

static void write_token(md_jw *w, const struct emu_token *t, long long now)
{
	md_jw_obj_begin(w);
	emu_token_meta(w, t);
	if (t->desc) {
		md_jw_key(w, "description");
		md_jw_str(w, t->desc);
	}
	md_jw_key(w, "revoked");
	md_jw_bool(w, t->revoked);
	md_jw_key(w, "expired");
	md_jw_bool(w, t->expire != 0 && t->expire <= now);
	md_jw_obj_end(w);
}

static void write_user(md_jw *w, const struct emu_user *u, long long now)
{
	md_jw_obj_begin(w);
	md_jw_key(w, "username");
	md_jw_str(w, u->name);
	md_jw_key(w, "kind");
	md_jw_str(w, emu_kind_name(u->kind));
	md_jw_key(w, "instances");
	emu_ducks_write(w, &u->ducks);
	md_jw_key(w, "tokens");
	md_jw_arr_begin(w);
	for (const struct emu_token *t = u->tokens; t; t = t->next)
		write_token(w, t, now);
	md_jw_arr_end(w);
	md_jw_obj_end(w);
}

static void ctl_state(struct emu_call *c)
{
	long long now = emu_now();
	md_secret *b = md_secret_new(4096);
	md_jw w;
	if (b) {
		md_jw_init(&w, b);
		md_jw_obj_begin(&w);
		write_now(&w);
		md_jw_key(&w, "config");
		write_cfg(&w);
		md_jw_key(&w, "users");
		md_jw_arr_begin(&w);
		for (const struct emu_user *u = emu_users(); u; u = u->next)
			write_user(&w, u, now);
		md_jw_arr_end(&w);
		md_jw_key(&w, "faults");
		emu_faults_write(&w);
		emu_reqlog_write(&w);
		md_jw_obj_end(&w);
	}
	emu_reply_json(c, 200, b, b ? &w : NULL);
}

/* ---- clock ---- */

static void ctl_clock(struct emu_call *c)
{
	md_json doc;
	long long s = 0;
	if (emu_body_json(c, &doc, false) < 0)
		return;
	int t = md_json_get(&doc, 0, "advance_seconds");
	int bad = !present(&doc, t) || md_json_int(&doc, t, &s) < 0 || s < 0 ||
		  s > CLOCK_ADVANCE_MAX || emu_clock_advance(s) < 0;
	md_json_free(&doc);
	if (bad) {
		emu_reply_error1(c, 400, "Invalid request", "advance_seconds: must be a "
				 "non-negative integer (at most 100 years in all)");
		return;
	}
	md_secret *b = md_secret_new(128);
	md_jw w;
	if (b) {
		md_jw_init(&w, b);
		md_jw_obj_begin(&w);
		write_now(&w);
		md_jw_obj_end(&w);
	}
	emu_reply_json(c, 200, b, b ? &w : NULL);
}

/* ---- faults ---- */

static void faults_reply(struct emu_call *c)
{
	md_secret *b = md_secret_new(512);
	md_jw w;
	if (b) {
		md_jw_init(&w, b);
		md_jw_obj_begin(&w);
		md_jw_key(&w, "pending");
		md_jw_int(&w, (long long)emu_faults_pending());
		md_jw_key(&w, "faults");
		emu_faults_write(&w);
		md_jw_obj_end(&w);
	}
	emu_reply_json(c, 200, b, b ? &w : NULL);
}

static void ctl_faults_add(struct emu_call *c)
{
	md_json doc;
	struct emu_issues iss = {0};
	if (emu_body_json(c, &doc, false) < 0)
		return;
	int rc = emu_fault_add(&doc, &iss);
	md_json_free(&doc);
	if (rc < 0) {
		emu_reply_error(c, 400, "Invalid fault rule", &iss);
		return;
	}
	faults_reply(c);
}

static void ctl_faults_clear(struct emu_call *c)
{
	emu_faults_clear();
	faults_reply(c);
}

/* 200 {"KEY": true} (with the clock when with_now). */
static void reply_done(struct emu_call *c, const char *key, bool with_now)
{
	md_secret *b = md_secret_new(128);
	md_jw w;
	if (b) {
		md_jw_init(&w, b);
		md_jw_obj_begin(&w);
		md_jw_key(&w, key);
		md_jw_bool(&w, true);
		if (with_now)
			write_now(&w);
		md_jw_obj_end(&w);
	}
	emu_reply_json(c, 200, b, b ? &w : NULL);
}

/* Every request a hold fault holds goes on (and is logged once done). */
static void ctl_release(struct emu_call *c)
{
	emu_http_release();
	reply_done(c, "released", false);
}

/* ---- config ---- */

static void config_reply(struct emu_call *c)
{
	md_secret *b = md_secret_new(128);
	md_jw w;
	if (b) {
		md_jw_init(&w, b);
		write_cfg(&w);
	}
	emu_reply_json(c, 200, b, b ? &w : NULL);
}

static void ctl_config_set(struct emu_call *c)
{
	md_json doc;
	struct emu_issues iss = {0};
	struct emu_cfg cfg = *emu_cfg();
	long long v;
	if (emu_body_json(c, &doc, false) < 0)
		return;
	int t = md_json_get(&doc, 0, "delete_status");
	if (present(&doc, t)) {
		if (md_json_int(&doc, t, &v) < 0 || (v != 200 && v != 204))
			emu_issue(&iss, "delete_status: must be 200 or 204");
		else
			cfg.delete_status = (int)v;
	}
	t = md_json_get(&doc, 0, "flock_limit");
	if (present(&doc, t)) {
		if (md_json_int(&doc, t, &v) < 0 || v < 0 || v > EMU_FLOCK_MAX)
			emu_issue(&iss, "flock_limit: must be an integer from 0 to %d",
				  EMU_FLOCK_MAX);
		else
			cfg.flock_limit = (int)v;
	}
	md_json_free(&doc);
	if (iss.n > 0) {
		emu_reply_error(c, 400, "Invalid request", &iss);
		return;
	}
	*emu_cfg() = cfg;
	config_reply(c);
}

/* ---- reset ---- */

static void ctl_reset(struct emu_call *c)
{
	emu_org_reset();
	emu_faults_clear();
	emu_http_release();
	emu_reqlog_clear();
	reply_done(c, "reset", true);
}

static const struct ctl_route ctl_routes[] = {
	{"GET", "state", ctl_state},
	{"POST", "clock", ctl_clock},
	{"GET", "faults", faults_reply},
	{"POST", "faults", ctl_faults_add},
	{"DELETE", "faults", ctl_faults_clear},
	{"POST", "release", ctl_release},
	{"GET", "config", config_reply},
	{"POST", "config", ctl_config_set},
	{"POST", "reset", ctl_reset},
};

bool emu_control(struct emu_call *c)
{
	if (c->nseg != 2 || c->seg_bad[1] || strcmp(c->seg[0], "_emulator") != 0)
		return false;
	for (size_t i = 0; i < sizeof ctl_routes / sizeof *ctl_routes; i++) {
		const struct ctl_route *r = &ctl_routes[i];
		if (strcmp(c->method, r->method) == 0 && strcmp(c->seg[1], r->name) == 0) {
			r->fn(c);
			return true;
		}
	}
	return false;
}
