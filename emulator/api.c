/* api.c - the /v1/ routes of the MotherDuck admin REST API.
 *
 * Owns: the route table (a request that matches no route, or uses a method a
 * route does not have, is not ours: the caller answers plain-text 404), the
 * bearer check done on every routed request before anything else (401 for a
 * missing, unknown, revoked or expired token; 403 for any token that is not
 * an org admin's read_write token), and the users, tokens and
 * active_accounts handlers. Handlers run under emu_lock().
 */
#include "emu.h"
#include <stdio.h>

#include <ctype.h>
#include <string.h>
#include <strings.h>

typedef void (*api_fn)(struct emu_call *c);

struct api_route {
	const char *method;
	int nseg;
	const char *pat[5]; /* NULL: a parameter (non-empty) */
	api_fn fn;
};

static const char *const reserved_names[] = {"MotherDuck Extension", "MotherDuck Flights"};

static bool present(const md_json *doc, int tok)
{
	return tok >= 0 && md_json_type_of(doc, tok) != MD_JSON_NULL;
}

/* ---- authorization ---- */

/* Points tok and len at the credential of "Bearer <token>"; -1 if malformed. */
static int bearer_parse(const char *h, const char **tok, size_t *len)
{
	if (!h)
		return -1;
	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return -1;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	size_t n = strlen(h);
	while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	if (n == 0 || memchr(h, ' ', n) || memchr(h, '\t', n))
		return -1;
	*tok = h;
	*len = n;
	return 0;
}

static int api_auth(struct emu_call *c)
{
	const char *tok;
	size_t len;
	unsigned char d[EMU_DIGEST_LEN];
	struct emu_user *owner = NULL;
	struct emu_token *t = NULL;
	if (bearer_parse(c->auth, &tok, &len) == 0) {
		emu_digest(tok, len, d);
		t = emu_token_by_digest(d, &owner);
	}
	if (!t || !emu_token_live(t, emu_now())) {
		emu_reply_error(c, 401, "Invalid Credentials", NULL);
		return -1;
	}
	memcpy(c->who, owner->name, sizeof c->who);
	memcpy(c->tid, t->id, sizeof c->tid);
	if (owner->kind != EMU_ADMIN || t->type != EMU_READ_WRITE) {
		emu_reply_error1(c, 403, "Unauthorized", "minimum role org_admin is required");
		return -1;
	}
	return 0;
}

/* Parameters come after the bearer check: their errors need a credential. */
static int params_ok(struct emu_call *c, const struct api_route *r)
{
	for (int i = 0; i < r->nseg; i++) {
		if (!r->pat[i] && c->seg_bad[i]) {
			emu_reply_error1(c, 400, "Invalid request",
					 "path: a segment has a bad %-escape, an encoded '/' "
					 "or a NUL");
			return -1;
		}
	}
	return 0;
}

static struct emu_user *api_user(struct emu_call *c, const char *name)
{
	struct emu_user *u = emu_user_find(name);
	if (!u)
		emu_reply_error(c, 404, "User not found", NULL);
	return u;
}

/* ---- users ---- */

static bool username_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > EMU_NAME_MAX ||
	    (unsigned char)s[0] >= 0x80 || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x80 || !(isalnum(ch) || ch == '_'))
			return false;
	}
	return true;
}

/* {"username": name}: the answer of both POST and DELETE /v1/users. */
static void reply_username(struct emu_call *c, const char *name)
{
	md_secret *b = md_secret_new(64);
	md_jw w;
	if (b) {
		md_jw_init(&w, b);
		md_jw_obj_begin(&w);
		md_jw_key(&w, "username");
		md_jw_str(&w, name);
		md_jw_obj_end(&w);
	}
	emu_reply_json(c, 200, b, b ? &w : NULL);
}

static void users_create(struct emu_call *c)
{
	md_json doc;
	struct emu_issues iss = {0};
	char name[EMU_NAME_MAX + 1] = "";
	if (emu_body_json(c, &doc, true) < 0)
		return;
	int t = md_json_get(&doc, 0, "username");
	if (!present(&doc, t))
		emu_issue(&iss, "username: is required");
	else if (md_json_type_of(&doc, t) != MD_JSON_STRING)
		emu_issue(&iss, "username: must be a string");
	else if (md_json_str(&doc, t, name, sizeof name) < 0 || !username_valid(name))
		emu_issue(&iss, "username: must be 1 to 255 characters: a letter, then "
			  "letters, digits or underscores");
	md_json_free(&doc);
	if (iss.n > 0) {
		emu_reply_error(c, 400, "Invalid request", &iss);
		return;
	}
	if (emu_user_find(name)) {
		emu_reply_error1(c, 409, "duplicate key value violates unique constraint "
				 "\"alive_entity_unique_name_per_parent_and_type\"",
				 "username: a user with this name already exists");
		return;
	}
	struct emu_user *u = emu_user_add(name, EMU_SERVICE);
	if (!u) {
		emu_reply_error(c, 500, "Internal Server Error", NULL);
		return;
	}
	reply_username(c, u->name);
}

static void users_delete(struct emu_call *c)
{
	struct emu_user *u = api_user(c, c->seg[2]);
	if (!u)
		return;
	if (u->kind != EMU_SERVICE) {
		emu_reply_error1(c, 403, "Unauthorized", "only service accounts can be deleted");
		return;
	}
	char name[EMU_NAME_MAX + 1];
	snprintf(name, sizeof name, "%s", u->name);
	emu_user_remove(u);
	reply_username(c, name);
}

/* ---- tokens ---- */

struct mint_req {
	char name[EMU_NAME_MAX * 4 + 1];
	char desc[EMU_DESC_MAX * 4 + 1];
	bool has_desc;
	enum emu_ttype type;
	long long ttl;
};

static void mint_name(const md_json *doc, struct mint_req *m, struct emu_issues *iss)
{
	int t = md_json_get(doc, 0, "name");
	if (!present(doc, t)) {
		emu_issue(iss, "name: is required");
		return;
	}
	if (md_json_type_of(doc, t) != MD_JSON_STRING) {
		emu_issue(iss, "name: must be a string");
		return;
	}
	long n = 0;
	if (md_json_str(doc, t, m->name, sizeof m->name) < 0 ||
	    (n = emu_utf8_chars(m->name)) < 1 || n > EMU_NAME_MAX) {
		emu_issue(iss, "name: must be 1 to %d characters of UTF-8 text", EMU_NAME_MAX);
		return;
	}
	for (size_t i = 0; i < sizeof reserved_names / sizeof *reserved_names; i++)
		if (strcasecmp(m->name, reserved_names[i]) == 0)
			emu_issue(iss, "name: \"%s\" is reserved", reserved_names[i]);
}

static void mint_type(const md_json *doc, struct mint_req *m, struct emu_issues *iss)
{
	int t = md_json_get(doc, 0, "token_type");
	char buf[32];
	m->type = EMU_READ_WRITE;
	if (!present(doc, t))
		return;
	if (md_json_str(doc, t, buf, sizeof buf) >= 0) {
		if (strcmp(buf, "read_write") == 0)
			return;
		if (strcmp(buf, "read_scaling") == 0) {
			m->type = EMU_READ_SCALING;
			return;
		}
	}
	emu_issue(iss, "token_type: must be \"read_write\" or \"read_scaling\"");
}

static void mint_ttl(const md_json *doc, struct mint_req *m, struct emu_issues *iss)
{
	int t = md_json_get(doc, 0, "ttl");
	m->ttl = 0;
	if (!present(doc, t))
		return;
	if (md_json_int(doc, t, &m->ttl) < 0 || m->ttl < EMU_TTL_MIN || m->ttl > EMU_TTL_MAX) {
		m->ttl = 0;
		emu_issue(iss, "ttl: must be an integer number of seconds from %lld to %lld",
			  EMU_TTL_MIN, EMU_TTL_MAX);
	}
}

static void mint_desc(const md_json *doc, struct mint_req *m, struct emu_issues *iss)
{
	int t = md_json_get(doc, 0, "description");
	long n = 0;
	m->has_desc = false;
	if (!present(doc, t))
		return;
	if (md_json_type_of(doc, t) != MD_JSON_STRING ||
	    md_json_str(doc, t, m->desc, sizeof m->desc) < 0 ||
	    (n = emu_utf8_chars(m->desc)) < 1 || n > EMU_DESC_MAX) {
		emu_issue(iss, "description: must be UTF-8 text of 1 to %d characters",
			  EMU_DESC_MAX);
		return;
	}
	m->has_desc = true;
}

static int mint_parse(struct emu_call *c, struct mint_req *m)
{
	md_json doc;
	struct emu_issues iss = {0};
	if (emu_body_json(c, &doc, true) < 0)
		return -1;
	mint_name(&doc, m, &iss);
	mint_type(&doc, m, &iss);
	mint_ttl(&doc, m, &iss);
	mint_desc(&doc, m, &iss);
	md_json_free(&doc);
	if (iss.n > 0) {
		emu_reply_error(c, 400, "Invalid request", &iss);
		return -1;
	}
	return 0;
}

static void mint_reply(struct emu_call *c, const struct emu_token *t, const md_secret *value)
{
	md_secret *b = md_secret_new(md_secret_len(value) + 512);
	md_jw w;
	if (b) {
		md_jw_init(&w, b);
		md_jw_obj_begin(&w);
		md_jw_key(&w, "token");
		md_jw_strn(&w, md_secret_str(value), md_secret_len(value));
		emu_token_meta(&w, t);
		md_jw_obj_end(&w);
	}
	emu_reply_json(c, 200, b, b ? &w : NULL);
}

static void tokens_create(struct emu_call *c)
{
	static struct mint_req m; /* large; handlers run under emu_lock() */
	if (mint_parse(c, &m) < 0)
		return;
	struct emu_user *u = api_user(c, c->seg[2]);
	if (!u)
		return;
	if (u->kind == EMU_MEMBER) {
		emu_reply_error1(c, 403, "Unauthorized", "tokens can be created only for "
				 "yourself or for service accounts");
		return;
	}
	if (emu_token_by_name(u, m.name, emu_now())) {
		emu_reply_error1(c, 409, "duplicate key value violates unique constraint "
				 "\"alive_entity_unique_name_per_parent_and_type\"",
				 "name: a live token with this name already exists");
		return;
	}
	_cleanup_secret_ md_secret *value = md_secret_new(512);
	struct emu_token *t = value ? emu_token_mint(u, m.name, m.has_desc ? m.desc : NULL,
						     m.type, m.ttl, value) : NULL;
	if (!t) {
		emu_reply_error(c, 500, "Internal Server Error", NULL);
		return;
	}
	mint_reply(c, t, value);
}

static void tokens_list(struct emu_call *c)
{
	struct emu_user *u = api_user(c, c->seg[2]);
	if (!u)
		return;
	long long now = emu_now();
	md_secret *b = md_secret_new(1024);
	md_jw w;
	if (b) {
		md_jw_init(&w, b);
		md_jw_obj_begin(&w);
		md_jw_key(&w, "tokens");
		md_jw_arr_begin(&w);
		for (const struct emu_token *t = u->tokens; t; t = t->next) {
			if (!emu_token_live(t, now))
				continue;
			md_jw_obj_begin(&w);
			emu_token_meta(&w, t);
			md_jw_obj_end(&w);
		}
		md_jw_arr_end(&w);
		md_jw_obj_end(&w);
	}
	emu_reply_json(c, 200, b, b ? &w : NULL);
}

static void tokens_delete(struct emu_call *c)
{
	struct emu_user *u = api_user(c, c->seg[2]);
	if (!u)
		return;
	struct emu_token *t = emu_token_by_id(u, c->seg[4], emu_now());
	if (!t) {
		emu_reply_error(c, 404, "Token not found", NULL);
		return;
	}
	t->revoked = true;
	if (emu_cfg()->delete_status == 204) {
		emu_reply_empty(c, 204);
		return;
	}
	md_secret *b = md_secret_new(8);
	if (b && md_secret_append(b, "{}", 2) < 0)
		md_secret_freep(&b);
	emu_reply_json(c, 200, b, NULL);
}

/* ---- the rest ---- */

static void instances_get(struct emu_call *c)
{
	struct emu_user *u = api_user(c, c->seg[2]);
	if (u)
		emu_api_instances_get(c, u);
}

static void instances_put(struct emu_call *c)
{
	emu_api_instances_put(c, c->seg[2]);
}

/* Preview endpoint: service accounts holding at least one live token. */
static void active_accounts(struct emu_call *c)
{
	long long now = emu_now();
	md_secret *b = md_secret_new(1024);
	md_jw w;
	if (b) {
		md_jw_init(&w, b);
		md_jw_obj_begin(&w);
		md_jw_key(&w, "accounts");
		md_jw_arr_begin(&w);
		for (const struct emu_user *u = emu_users(); u; u = u->next) {
			long long live = 0;
			for (const struct emu_token *t = u->tokens; t; t = t->next)
				live += emu_token_live(t, now);
			if (u->kind != EMU_SERVICE || live == 0)
				continue;
			md_jw_obj_begin(&w);
			md_jw_key(&w, "username");
			md_jw_str(&w, u->name);
			md_jw_key(&w, "live_tokens");
			md_jw_int(&w, live);
			md_jw_obj_end(&w);
		}
		md_jw_arr_end(&w);
		md_jw_obj_end(&w);
	}
	emu_reply_json(c, 200, b, b ? &w : NULL);
}

static const struct api_route api_routes[] = {
	{"POST", 2, {"v1", "users"}, users_create},
	{"DELETE", 3, {"v1", "users", NULL}, users_delete},
	{"POST", 4, {"v1", "users", NULL, "tokens"}, tokens_create},
	{"GET", 4, {"v1", "users", NULL, "tokens"}, tokens_list},
	{"DELETE", 5, {"v1", "users", NULL, "tokens", NULL}, tokens_delete},
	{"GET", 4, {"v1", "users", NULL, "instances"}, instances_get},
	{"PUT", 4, {"v1", "users", NULL, "instances"}, instances_put},
	{"GET", 2, {"v1", "active_accounts"}, active_accounts},
};

static bool route_matches(const struct api_route *r, const struct emu_call *c)
{
	if (c->nseg != r->nseg || strcmp(c->method, r->method) != 0)
		return false;
	for (int i = 0; i < r->nseg; i++) {
		if (r->pat[i] ? (c->seg_bad[i] || strcmp(c->seg[i], r->pat[i]) != 0)
			      : c->seg[i][0] == '\0')
			return false;
	}
	return true;
}

bool emu_api(struct emu_call *c)
{
	for (size_t i = 0; i < sizeof api_routes / sizeof *api_routes; i++) {
		const struct api_route *r = &api_routes[i];
		if (!route_matches(r, c))
			continue;
		if (api_auth(c) == 0 && params_ok(c, r) == 0)
			r->fn(c);
		return true;
	}
	return false;
}
