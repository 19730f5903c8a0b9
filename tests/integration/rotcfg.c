/* rotcfg.c - see rotcfg.h. */
#define _GNU_SOURCE
#include "rotcfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/file.h"
#include "base/json.h"

/* ---- this test's files -------------------------------------------------- */

char cfg[1300];   /* the config file (no secret in it) */
char state[1300]; /* --state-dir */
char sdir[1300];  /* the stores' directory, under requested/ */
h_fakes fakes;    /* the Vault and Kubernetes fakes, when started */

/* Names this test's config, state dir and store dir after it. */
void ws(const char *name)
{
	char n[128];
	snprintf(n, sizeof n, "rotcfg-%s.ini", name);
	snprintf(cfg, sizeof cfg, "%s", h_path(false, n));
	snprintf(n, sizeof n, "rotcfg-%s-state", name);
	snprintf(state, sizeof state, "%s", h_path(false, n));
	snprintf(n, sizeof n, "rotcfg-%s", name);
	snprintf(sdir, sizeof sdir, "%s", h_path(true, n));
	ck_assert_int_eq(md_file_mkdirs(sdir), 0);
}

/* Writes the config; "@D" stands for the store dir, "@V" for the fake
 * Vault's HOST:PORT. */
void write_cfg(const char *text)
{
	FILE *f = fopen(cfg, "w");
	ck_assert_ptr_nonnull(f);
	for (const char *p = text; *p; p++) {
		if (p[0] == '@' && (p[1] == 'D' || p[1] == 'V'))
			fputs(*++p == 'D' ? sdir : fakes.vault_host, f);
		else
			fputc(*p, f);
	}
	ck_assert_int_eq(fclose(f), 0);
}

/* A path in the store dir (static buffer rotation of 4). */
const char *spath(const char *name)
{
	static char b[4][1400];
	static int i;
	char *p = b[i++ % 4];
	snprintf(p, sizeof b[0], "%s/%s", sdir, name);
	return p;
}

/* ---- running mdcred ----------------------------------------------------- */

void no_token_shown(const h_result *r)
{
	/* Never the outputs in the message: they are what is under suspicion. */
	ck_assert_msg(!h_contains(r->out, JWT_HEAD), "stdout holds a token");
	ck_assert_msg(!h_contains(r->err, JWT_HEAD), "stderr holds a token");
}


/* ---- the output --------------------------------------------------------- */


/* Calls fn for each non-empty line of s (copied into line). */
static void each_line(const md_secret *s, lines_t *ls, void (*fn)(const char *, lines_t *))
{
	const char *p = md_secret_str(s);
	memset(ls, 0, sizeof *ls);
	while (*p) {
		size_t n = strcspn(p, "\n");
		char line[2048];
		ck_assert_msg(n < sizeof line, "an output line of %zu bytes", n);
		memcpy(line, p, n);
		line[n] = '\0';
		if (n > 0) {
			ck_assert_msg(ls->n < MAX_LINES, "more than %d output lines", MAX_LINES);
			fn(line, ls);
		}
		p += n + (p[n] == '\n');
	}
}

/* ACTION ROLE TOKEN_ID EXPIRE_AT */
static void text_line(const char *line, lines_t *ls)
{
	line_t *l = &ls->l[ls->n++];
	char extra[8];
	int k = sscanf(line, "%15s %71s %79s %39s %7s", l->action, l->role, l->id, l->expire, extra);
	ck_assert_msg(k == 4, "not 'ACTION ROLE TOKEN_ID EXPIRE_AT': %s", line);
	if (strcmp(l->id, "-") == 0)
		l->id[0] = '\0';
}

/* One JSON object with every documented member. */
static void json_line(const char *line, lines_t *ls)
{
	line_t *l = &ls->l[ls->n++];
	md_json d;
	ck_assert_msg(md_json_parse(&d, line, strlen(line), NULL) == 0 &&
			      md_json_type_of(&d, 0) == MD_JSON_OBJECT,
		      "not a JSON object: %s", line);
	static const char *const keys[] = {"role",   "action",  "token_id", "expire_at",
					   "stores", "revoked", "error"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		ck_assert_msg(md_json_get(&d, 0, keys[i]) >= 0, "no \"%s\" in %s", keys[i], line);
	ck_assert_int_gt(md_json_str(&d, md_json_get(&d, 0, "role"), l->role, sizeof l->role), 0);
	ck_assert_int_gt(md_json_str(&d, md_json_get(&d, 0, "action"), l->action, sizeof l->action),
			 0);
	md_json_str(&d, md_json_get(&d, 0, "token_id"), l->id, sizeof l->id);
	md_json_str(&d, md_json_get(&d, 0, "expire_at"), l->expire, sizeof l->expire);
	md_json_str(&d, md_json_get(&d, 0, "error"), l->error, sizeof l->error);
	ck_assert_int_eq(md_json_int(&d, md_json_get(&d, 0, "stores"), &l->stores), 0);
	ck_assert_int_eq(md_json_int(&d, md_json_get(&d, 0, "revoked"), &l->revoked), 0);
	int e = md_json_get(&d, 0, "error");
	ck_assert_msg(md_json_type_of(&d, e) == MD_JSON_NULL || l->error[0],
		      "error is neither null nor a message: %s", line);
	md_json_free(&d);
}

void parse_text(const h_result *r, lines_t *ls) { each_line(r->out, ls, text_line); }
void parse_json(const h_result *r, lines_t *ls) { each_line(r->out, ls, json_line); }

/* rotate --config --json [a [b]] with env: exit code, the lines into ls.
 * The result is freed unless keep is given (then the caller frees it). */
void run_json(lines_t *ls, const char *const *env, int code, const char *a, const char *b,
		     h_result *keep)
{
	h_result r;
	ROTCFG(&r, env, "--json", a, b);
	ck_assert_exit(r, code);
	parse_json(&r, ls);
	if (keep)
		*keep = r;
	else
		h_result_free(&r);
}

/* The one line of role (fails when there is none or more than one). */
const line_t *line_of(const lines_t *ls, const char *role)
{
	const line_t *found = NULL;
	for (int i = 0; i < ls->n; i++) {
		if (strcmp(ls->l[i].role, role) != 0)
			continue;
		ck_assert_msg(!found, "role %s printed twice", role);
		found = &ls->l[i];
	}
	ck_assert_msg(found, "no output line for role %s", role);
	return found;
}

const line_t *expect(const lines_t *ls, const char *role, const char *action)
{
	const line_t *l = line_of(ls, role);
	ck_assert_msg(strcmp(l->action, action) == 0, "role %s: %s, expected %s (error: %s)", role,
		      l->action, action, l->error);
	if (strcmp(action, "failed") != 0)
		ck_assert_msg(l->id[0] && l->expire[0], "role %s: no token id or expiry", role);
	return l;
}

/* The failed role's error is on stderr too, after its role on that line. */
void expect_error_on_stderr(const h_result *r, const line_t *l)
{
	ck_assert_msg(l->error[0], "role %s failed without an error", l->role);
	const char *err = md_secret_str(r->err), *at = strstr(err, l->error);
	ck_assert_msg(at, "role %s's error is not on stderr: %s", l->role, err);
	const char *bol = at;
	while (bol > err && bol[-1] != '\n')
		bol--;
	const char *role = strstr(bol, l->role);
	ck_assert_msg(role && role < at, "role %s's error on stderr is not prefixed by it: %s",
		      l->role, err);
}

/* ---- what the emulator knows -------------------------------------------- */

/* A number at the top of /_emulator/state. */
long long state_int(const char *key)
{
	md_json d;
	_cleanup_secret_ md_secret *b = NULL;
	h_state(&d, &b);
	long long v = -1;
	ck_assert_msg(md_json_int(&d, md_json_get(&d, 0, key), &v) == 0, "no %s in the state", key);
	md_json_free(&d);
	return v;
}

/* ---- what the stores hold ------------------------------------------------ */

/* The id a file store records beside its token, any format ("" if none). */
void file_id(const char *path, char *id, size_t sz)
{
	id[0] = '\0';
	_cleanup_secret_ md_secret *c = NULL;
	if (md_file_read_secret(path, 1 << 16, &c, NULL) != MD_OK)
		return;
	const char *s = md_secret_str(c), *m = strstr(s, "# mdcred: id=");
	if (m) { /* env, dotenv */
		m += strlen("# mdcred: id=");
		snprintf(id, sz, "%.*s", (int)strcspn(m, " \n"), m);
		return;
	}
	md_json d;
	if (s[0] == '{' && md_json_parse(&d, s, md_secret_len(c), NULL) == 0) { /* json */
		md_json_str(&d, md_json_get(&d, 0, "id"), id, sz);
		md_json_free(&d);
		return;
	}
	char side[1500]; /* the bare token: its sidecar */
	snprintf(side, sizeof side, "%s.meta.json", path);
	_cleanup_secret_ md_secret *sc = NULL;
	if (md_file_read_secret(side, 1 << 16, &sc, NULL) != MD_OK ||
	    md_json_parse(&d, md_secret_str(sc), md_secret_len(sc), NULL) != 0)
		return;
	md_json_str(&d, md_json_get(&d, 0, "id"), id, sz);
	md_json_free(&d);
}

/* The store (what) holds id held; want (if not NULL) is the id it should
 * hold; the token is a live one of user. */
void assert_holds(const char *what, const char *user, const char *held, const char *want)
{
	ck_assert_msg(held[0], "%s holds no token", what);
	if (want)
		ck_assert_msg(strcmp(held, want) == 0, "%s holds %s, the output said %s", what, held,
			      want);
	ck_assert_msg(h_token_of(user, held).live, "%s holds %s, which is not a live token of %s",
		      what, held, user);
}

void assert_file_holds(const char *name, const char *user, const char *want)
{
	char id[80];
	file_id(spath(name), id, sizeof id);
	assert_holds(name, user, id, want);
}

long long ts_secs(const char *s)
{
	struct tm tm = {0};
	const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	ck_assert_msg(e, "expire_at %s is not RFC 3339", s);
	return (long long)timegm(&tm);
}

/* ---- the three-role config ----------------------------------------------- */

/* Defaults (ttl 2h, grace 0) from the top block; beta overrides both;
 * gamma mints read_scaling. Comments of both kinds. */
const char basic_cfg[] =
	"# defaults for every role\n"
	"ttl = 2h\n"
	"; grace 0: a --force run retires the replaced token at once\n"
	"grace = 0\n"
	"\n"
	"[alpha]\n"
	"username = svc_alpha\n"
	"store = file://@D/alpha.json\n"
	"store = file://@D/alpha.env?format=env\n"
	"\n"
	"[beta]\n"
	"  username   =   svc_beta  \n"
	"ttl = 1h\n"
	"grace = 1h\n"
	"store = file://@D/beta.env?format=dotenv\n"
	"\n"
	"[gamma]\n"
	"username = svc_gamma\n"
	"token_type = read_scaling\n"
	"store = file://@D/gamma.json?format=json\n";

const struct basic_role basic[] = {
	{"alpha", "svc_alpha", "read_write", 7200, 2, {"alpha.json", "alpha.env"}, 1},
	{"beta", "svc_beta", "read_write", 3600, 1, {"beta.env"}, 0},
	{"gamma", "svc_gamma", "read_scaling", 7200, 1, {"gamma.json"}, 1},
};

void basic_setup(const char *name)
{
	ws(name);
	write_cfg(basic_cfg);
	for (int i = 0; i < NBASIC; i++)
		h_make_account(basic[i].user);
}

/* Every basic role has action; its stores hold the printed live token, of
 * the role's type, expiring after the role's ttl, named after the role.
 * The ids go to ids. */
void basic_check(const lines_t *ls, const char *action, char ids[][80])
{
	ck_assert_int_eq(ls->n, NBASIC);
	for (int i = 0; i < NBASIC; i++) {
		const line_t *l = expect(ls, basic[i].role, action);
		for (int s = 0; s < basic[i].nstores; s++)
			assert_file_holds(basic[i].stores[s], basic[i].user, l->id);
		h_token t = h_token_of(basic[i].user, l->id);
		ck_assert_str_eq(t.type, basic[i].type);
		char prefix[96];
		snprintf(prefix, sizeof prefix, "mdcred-%s-", basic[i].role);
		ck_assert_msg(strncmp(t.name, prefix, strlen(prefix)) == 0, "role %s's token is %s",
			      basic[i].role, t.name);
		long long left = ts_secs(l->expire) - (long long)time(NULL);
		ck_assert_msg(left > basic[i].ttl - 300 && left <= basic[i].ttl + 5,
			      "role %s: expires in %lld s, ttl %lld", basic[i].role, left,
			      basic[i].ttl);
		snprintf(ids[i], 80, "%s", l->id);
	}
}

