/* ducks.c - Duckling configs: GET and PUT /v1/users/{username}/instances.
 *
 * Owns: the default config of a new user, the JSON form of a config (the
 * GET answer: no "config" wrapper), and the validation of a PUT body: both
 * blocks required; instance_size one of pulse, standard, jumbo, mega, giga;
 * read_scaling.flock_size 0..64 and within the plan limit (--flock-limit:
 * above it, 400 "Invalid config for tier ..."); cooldown_seconds optional,
 * 60..86400, not allowed with pulse. Every violation becomes one issue.
 */
#include "emu.h"

#include <stdio.h>
#include <string.h>

#define COOLDOWN_MIN 60LL
#define COOLDOWN_MAX 86400LL

static const char *const duck_sizes[] = {"pulse", "standard", "jumbo", "mega", "giga"};

struct duck_check {
	struct emu_issues iss;
	int tier_issues;      /* issues that are plan limits, not bad input */
	long long limit;
};

static bool present(const md_json *doc, int tok)
{
	return tok >= 0 && md_json_type_of(doc, tok) != MD_JSON_NULL;
}

static bool size_valid(const char *s)
{
	for (size_t i = 0; i < sizeof duck_sizes / sizeof *duck_sizes; i++)
		if (strcmp(s, duck_sizes[i]) == 0)
			return true;
	return false;
}

void emu_ducks_default(struct emu_ducks *d)
{
	memset(d, 0, sizeof *d);
	strcpy(d->rw.size, "pulse");
	strcpy(d->rs.size, "pulse");
	d->rs.flock = 0;
}

static void block_write(md_jw *w, const struct emu_block *b, bool scaling)
{
	md_jw_obj_begin(w);
	md_jw_key(w, "instance_size");
	md_jw_str(w, b->size);
	if (scaling) {
		md_jw_key(w, "flock_size");
		md_jw_int(w, b->flock);
	}
	if (b->cooldown) {
		md_jw_key(w, "cooldown_seconds");
		md_jw_int(w, b->cooldown);
	}
	md_jw_obj_end(w);
}

void emu_ducks_write(md_jw *w, const struct emu_ducks *d)
{
	md_jw_obj_begin(w);
	md_jw_key(w, "read_write");
	block_write(w, &d->rw, false);
	md_jw_key(w, "read_scaling");
	block_write(w, &d->rs, true);
	md_jw_obj_end(w);
}

/* ---- validation ---- */

static void check_size(const md_json *doc, int blk, const char *label, struct emu_block *out,
		       struct duck_check *dc)
{
	int t = md_json_get(doc, blk, "instance_size");
	if (!present(doc, t)) {
		emu_issue(&dc->iss, "config.%s.instance_size: is required", label);
		return;
	}
	if (md_json_str(doc, t, out->size, sizeof out->size) < 0 || !size_valid(out->size)) {
		out->size[0] = '\0';
		emu_issue(&dc->iss, "config.%s.instance_size: must be one of pulse, standard, "
			  "jumbo, mega, giga", label);
	}
}

static void check_flock(const md_json *doc, int blk, struct emu_block *out,
			struct duck_check *dc)
{
	int t = md_json_get(doc, blk, "flock_size");
	if (!present(doc, t)) {
		emu_issue(&dc->iss, "config.read_scaling.flock_size: is required");
		return;
	}
	if (md_json_int(doc, t, &out->flock) < 0 || out->flock < 0 ||
	    out->flock > EMU_FLOCK_MAX) {
		emu_issue(&dc->iss, "config.read_scaling.flock_size: must be an integer from 0 "
			  "to %d", EMU_FLOCK_MAX);
		return;
	}
	if (out->flock > dc->limit) {
		emu_issue(&dc->iss, "config.read_scaling.flock_size: %lld exceeds the limit of "
			  "%lld for this tier", out->flock, dc->limit);
		dc->tier_issues++;
	}
}

static void check_cooldown(const md_json *doc, int blk, const char *label,
			   struct emu_block *out, struct duck_check *dc)
{
	int t = md_json_get(doc, blk, "cooldown_seconds");
	out->cooldown = 0;
	if (!present(doc, t))
		return;
	if (md_json_int(doc, t, &out->cooldown) < 0 || out->cooldown < COOLDOWN_MIN ||
	    out->cooldown > COOLDOWN_MAX) {
		out->cooldown = 0;
		emu_issue(&dc->iss, "config.%s.cooldown_seconds: must be an integer from %lld "
			  "to %lld", label, COOLDOWN_MIN, COOLDOWN_MAX);
		return;
	}
	if (strcmp(out->size, "pulse") == 0)
		emu_issue(&dc->iss, "config.%s.cooldown_seconds: is not allowed when "
			  "instance_size is pulse", label);
}

static void check_block(const md_json *doc, int cfg, const char *label, bool scaling,
			struct emu_block *out, struct duck_check *dc)
{
	int blk = md_json_get(doc, cfg, label);
	if (!present(doc, blk)) {
		emu_issue(&dc->iss, "config.%s: is required", label);
		return;
	}
	if (md_json_type_of(doc, blk) != MD_JSON_OBJECT) {
		emu_issue(&dc->iss, "config.%s: must be an object", label);
		return;
	}
	check_size(doc, blk, label, out, dc);
	if (scaling)
		check_flock(doc, blk, out, dc);
	check_cooldown(doc, blk, label, out, dc);
}

static void ducks_check(const md_json *doc, struct emu_ducks *out, struct duck_check *dc)
{
	int cfg = md_json_get(doc, 0, "config");
	memset(out, 0, sizeof *out);
	if (!present(doc, cfg)) {
		emu_issue(&dc->iss, "config: is required");
		return;
	}
	if (md_json_type_of(doc, cfg) != MD_JSON_OBJECT) {
		emu_issue(&dc->iss, "config: must be an object with read_write and "
			  "read_scaling");
		return;
	}
	check_block(doc, cfg, "read_write", false, &out->rw, dc);
	check_block(doc, cfg, "read_scaling", true, &out->rs, dc);
}

/* ---- handlers ---- */

static void ducks_reply(struct emu_call *c, const struct emu_ducks *d)
{
	md_secret *b = md_secret_new(256);
	md_jw w;
	if (b) {
		md_jw_init(&w, b);
		emu_ducks_write(&w, d);
	}
	emu_reply_json(c, 200, b, b ? &w : NULL);
}

void emu_api_instances_get(struct emu_call *c, struct emu_user *u)
{
	ducks_reply(c, &u->ducks);
}

void emu_api_instances_put(struct emu_call *c, const char *username)
{
	md_json doc;
	struct duck_check dc = {.limit = emu_cfg()->flock_limit};
	struct emu_ducks d;
	if (emu_body_json(c, &doc, true) < 0)
		return;
	ducks_check(&doc, &d, &dc);
	md_json_free(&doc);
	if (dc.iss.n > 0) {
		char msg[96] = "Invalid request";
		if (dc.tier_issues == dc.iss.n)
			snprintf(msg, sizeof msg, "Invalid config for tier emulator "
				 "(flock_size limit %lld)", dc.limit);
		emu_reply_error(c, 400, msg, &dc.iss);
		return;
	}
	struct emu_user *u = emu_user_find(username);
	if (!u) {
		emu_reply_error(c, 404, "User not found", NULL);
		return;
	}
	u->ducks = d;
	ducks_reply(c, &u->ducks);
}
