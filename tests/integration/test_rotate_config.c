/* test_rotate_config.c - `mdcred rotate --config FILE` (many roles, one
 * libcurl multi handle), against the emulator, file stores, and in one
 * test tests/fakes/fake_vault.py and fake_k8s.py.
 *
 * The contract is doc/mdcred.1 (rotate --config, ROTATE CONFIG FILE),
 * `mdcred help rotate` and README.md. Invariants checked after each run:
 * every store of every role holds the token id the output printed for it
 * (or, for a failed role, the one it held before) and that token is live
 * in the emulator; no output holds a token (besides the suite-wide leak
 * scan, every output is checked for the emulator's JWT header); a config
 * mistake contacts nothing (the emulator's request count stays 0).
 * Parallelism is measured by the emulator's max_in_flight.
 *
 * Files that hold tokens (the stores) live under requested/; the config,
 * state dir and every captured output live outside it, where the leak scan
 * searches. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "json.h"

/* base64url of the emulator's JWT header: every token it issues starts so. */
#define JWT_HEAD "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
#define MAX_LINES 64

/* ---- this test's files -------------------------------------------------- */

static char cfg[1300];   /* the config file (no secret in it) */
static char state[1300]; /* --state-dir */
static char sdir[1300];  /* the stores' directory, under requested/ */
static h_fakes fakes;    /* the Vault and Kubernetes fakes, when started */

/* Names this test's config, state dir and store dir after it. */
static void ws(const char *name)
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
static void write_cfg(const char *text)
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
static const char *spath(const char *name)
{
	static char b[4][1400];
	static int i;
	char *p = b[i++ % 4];
	snprintf(p, sizeof b[0], "%s/%s", sdir, name);
	return p;
}

/* ---- running mdcred ----------------------------------------------------- */

static void no_token_shown(const h_result *r)
{
	/* Never the outputs in the message: they are what is under suspicion. */
	ck_assert_msg(!h_contains(r->out, JWT_HEAD), "stdout holds a token");
	ck_assert_msg(!h_contains(r->err, JWT_HEAD), "stderr holds a token");
}

/* rotate --config with this test's config and state dir, then ARGS...
 * (NULL for none); env as for h_run. */
#define ROTCFG(r, env, ...)                                                                   \
	do {                                                                                  \
		h_run(r, 0, NULL, env, "rotate", "--config", cfg, "--state-dir", state,       \
		      __VA_ARGS__, NULL);                                                     \
		no_token_shown(r);                                                            \
	} while (0)

/* ---- the output --------------------------------------------------------- */

typedef struct {
	char role[72], action[16], id[80], expire[40], error[600];
	long long stores, revoked;
} line_t;

typedef struct {
	line_t l[MAX_LINES];
	int n;
} lines_t;

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

static void parse_text(const h_result *r, lines_t *ls) { each_line(r->out, ls, text_line); }
static void parse_json(const h_result *r, lines_t *ls) { each_line(r->out, ls, json_line); }

/* rotate --config --json [a [b]] with env: exit code, the lines into ls.
 * The result is freed unless keep is given (then the caller frees it). */
static void run_json(lines_t *ls, const char *const *env, int code, const char *a, const char *b,
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
static const line_t *line_of(const lines_t *ls, const char *role)
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

static const line_t *expect(const lines_t *ls, const char *role, const char *action)
{
	const line_t *l = line_of(ls, role);
	ck_assert_msg(strcmp(l->action, action) == 0, "role %s: %s, expected %s (error: %s)", role,
		      l->action, action, l->error);
	if (strcmp(action, "failed") != 0)
		ck_assert_msg(l->id[0] && l->expire[0], "role %s: no token id or expiry", role);
	return l;
}

/* The failed role's error is on stderr too, after its role on that line. */
static void expect_error_on_stderr(const h_result *r, const line_t *l)
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
static long long state_int(const char *key)
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
static void file_id(const char *path, char *id, size_t sz)
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
static void assert_holds(const char *what, const char *user, const char *held, const char *want)
{
	ck_assert_msg(held[0], "%s holds no token", what);
	if (want)
		ck_assert_msg(strcmp(held, want) == 0, "%s holds %s, the output said %s", what, held,
			      want);
	ck_assert_msg(h_token_of(user, held).live, "%s holds %s, which is not a live token of %s",
		      what, held, user);
}

static void assert_file_holds(const char *name, const char *user, const char *want)
{
	char id[80];
	file_id(spath(name), id, sizeof id);
	assert_holds(name, user, id, want);
}

static long long ts_secs(const char *s)
{
	struct tm tm = {0};
	const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	ck_assert_msg(e, "expire_at %s is not RFC 3339", s);
	return (long long)timegm(&tm);
}

/* ---- the three-role config ----------------------------------------------- */

/* Defaults (ttl 2h, grace 0) from the top block; beta overrides both;
 * gamma mints read_scaling. Comments of both kinds. */
static const char basic_cfg[] =
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

static const struct {
	const char *role, *user, *type;
	long long ttl;
	int nstores;
	const char *stores[2];
	int revoked_on_force; /* grace 0: the replaced token; grace 1h: none */
} basic[] = {
	{"alpha", "svc_alpha", "read_write", 7200, 2, {"alpha.json", "alpha.env"}, 1},
	{"beta", "svc_beta", "read_write", 3600, 1, {"beta.env"}, 0},
	{"gamma", "svc_gamma", "read_scaling", 7200, 1, {"gamma.json"}, 1},
};
#define NBASIC ((int)(sizeof basic / sizeof basic[0]))

static void basic_setup(const char *name)
{
	ws(name);
	write_cfg(basic_cfg);
	for (int i = 0; i < NBASIC; i++)
		h_make_account(basic[i].user);
}

/* Every basic role has action; its stores hold the printed live token, of
 * the role's type, expiring after the role's ttl, named after the role.
 * The ids go to ids. */
static void basic_check(const lines_t *ls, const char *action, char ids[][80])
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

/* One run of the basic config (--json when json, then extra, may be NULL):
 * exit 0, every role has action; with --json, its counts and no error. */
static void basic_run(bool json, const char *extra, const char *action, char ids[][80])
{
	h_result r;
	lines_t ls;
	ROTCFG(&r, NULL, json ? "--json" : extra, json ? extra : NULL);
	ck_assert_exit(r, 0);
	(json ? parse_json : parse_text)(&r, &ls);
	h_result_free(&r);
	basic_check(&ls, action, ids);
	bool forced = extra != NULL;
	for (int i = 0; json && i < NBASIC; i++) {
		const line_t *l = line_of(&ls, basic[i].role);
		ck_assert_int_eq(l->stores, basic[i].nstores);
		ck_assert_int_eq(l->revoked, forced ? basic[i].revoked_on_force : 0);
		ck_assert_str_eq(l->error, "");
	}
}

/* Three roles, text (_i 0) or --json (_i 1): rotated, then fresh, then
 * with --force rotated again, retiring per each role's grace. */
START_TEST(three_roles)
{
	bool json = _i == 1;
	basic_setup(json ? "json" : "text");
	char first[NBASIC][80], again[NBASIC][80], forced[NBASIC][80];
	basic_run(json, NULL, "rotated", first);
	basic_run(json, NULL, "fresh", again);
	for (int i = 0; i < NBASIC; i++)
		ck_assert_str_eq(first[i], again[i]);
	basic_run(json, "--force", "rotated", forced);
	for (int i = 0; i < NBASIC; i++) {
		ck_assert_str_ne(first[i], forced[i]);
		/* grace 0 retired the replaced token; beta's grace 1h kept it. */
		ck_assert_int_eq(h_token_of(basic[i].user, first[i]).live,
				 basic[i].revoked_on_force == 0);
		ck_assert_int_eq(h_live_tokens(basic[i].user), 2 - basic[i].revoked_on_force);
	}
}
END_TEST

/* ttl = none: a token that never expires (expire_at null), with the
 * warning DURATIONS in mdcred(1) promises, as `rotate --ttl none` gives. */
START_TEST(ttl_none_warns)
{
	ws("ttlnone");
	write_cfg("[forever]\nusername = svc_forever\nttl = none\nstore = file://@D/f.json\n");
	h_make_account("svc_forever");
	h_result r;
	lines_t ls;
	run_json(&ls, NULL, 0, NULL, NULL, &r);
	ck_assert_msg(h_contains(r.err, "never expires"), "no warning for ttl = none: %s",
		      md_secret_str(r.err));
	h_result_free(&r);
	const line_t *l = line_of(&ls, "forever");
	ck_assert_str_eq(l->action, "rotated");
	ck_assert_str_eq(l->expire, "");
	assert_file_holds("f.json", "svc_forever", l->id);
}
END_TEST

/* ---- parallelism ---------------------------------------------------------- */

/* n roles pNN on accounts svc_par_NN, one json file store each. */
static void many_roles(const char *name, int n)
{
	ws(name);
	static char text[16384];
	size_t o = (size_t)snprintf(text, sizeof text, "ttl = 1h\n");
	for (int i = 0; i < n; i++) {
		char user[32];
		snprintf(user, sizeof user, "svc_par_%02d", i);
		h_make_account(user);
		o += (size_t)snprintf(text + o, sizeof text - o,
				      "\n[p%02d]\nusername = %s\nstore = file://@D/p%02d.json\n", i,
				      user, i);
		ck_assert_uint_lt(o, sizeof text);
	}
	write_cfg(text);
}

/* rotate --config --json --parallel P over many_roles' n roles: every role
 * rotated into its store. */
static void many_run(int n, const char *parallel)
{
	lines_t ls;
	run_json(&ls, NULL, 0, "--parallel", parallel, NULL);
	ck_assert_int_eq(ls.n, n);
	for (int i = 0; i < n; i++) {
		char role[8], user[32], store[16];
		snprintf(role, sizeof role, "p%02d", i);
		snprintf(user, sizeof user, "svc_par_%02d", i);
		snprintf(store, sizeof store, "p%02d.json", i);
		assert_file_holds(store, user, expect(&ls, role, "rotated")->id);
	}
}

/* Every request delayed: the emulator sees at most --parallel requests at
 * once, and (with more roles than that) more than one. */
static const struct {
	const char *parallel;
	int roles, delay_ms;
	long long lo, hi; /* max_in_flight */
} par[] = {
	{"4", 20, 100, 2, 4},
	{"1", 4, 30, 1, 1},
};

START_TEST(parallel_bounded)
{
	char name[32], fault[96];
	snprintf(name, sizeof name, "par-%s", par[_i].parallel);
	many_roles(name, par[_i].roles);
	ck_assert_int_eq(state_int("max_in_flight"), 1); /* the accounts, one at a time */
	snprintf(fault, sizeof fault, "{\"action\":\"delay\",\"delay_ms\":%d,\"count\":1000}",
		 par[_i].delay_ms);
	h_fault(fault);
	many_run(par[_i].roles, par[_i].parallel);
	long long m = state_int("max_in_flight");
	ck_assert_msg(m >= par[_i].lo && m <= par[_i].hi,
		      "%lld /v1/ requests at once with --parallel %s (expected %lld to %lld)", m,
		      par[_i].parallel, par[_i].lo, par[_i].hi);
}
END_TEST

START_TEST(parallel_out_of_range)
{
	many_roles("parbad", 1);
	static const char *const bad[] = {"0", "257", "-1", "four", ""};
	int before = h_request_count();
	h_result r;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ROTCFG(&r, NULL, "--parallel", bad[i]);
		ck_assert_msg(r.status == 2, "--parallel '%s': exit %d", bad[i], r.status);
		h_result_free(&r);
	}
	ck_assert_int_eq(h_request_count(), before);
	many_run(1, "256");
}
END_TEST

/* Lines come as roles finish: the first role, slowed down, comes last. */
START_TEST(completion_order)
{
	ws("order");
	write_cfg("ttl = 1h\n"
		  "[slow]\nusername = svc_slow\nstore = file://@D/slow.json\n"
		  "[quick1]\nusername = svc_quick1\nstore = file://@D/quick1.json\n"
		  "[quick2]\nusername = svc_quick2\nstore = file://@D/quick2.json\n");
	h_make_account("svc_slow");
	h_make_account("svc_quick1");
	h_make_account("svc_quick2");
	h_fault("{\"path\":\"/v1/users/svc_slow/\",\"action\":\"delay\",\"delay_ms\":1500,"
		"\"count\":1}");
	lines_t ls;
	run_json(&ls, NULL, 0, NULL, NULL, NULL);
	ck_assert_int_eq(ls.n, 3);
	ck_assert_str_eq(ls.l[2].role, "slow");
	assert_file_holds("slow.json", "svc_slow", expect(&ls, "slow", "rotated")->id);
	assert_file_holds("quick1.json", "svc_quick1", expect(&ls, "quick1", "rotated")->id);
	assert_file_holds("quick2.json", "svc_quick2", expect(&ls, "quick2", "rotated")->id);
}
END_TEST

/* ---- failures ------------------------------------------------------------- */

/* Persistent 500s on one account: that role fails (transient, exit 6), the
 * others rotate, and its store keeps its old, still live token. */
START_TEST(one_role_fails_transient)
{
	ws("fail500");
	write_cfg("ttl = 1h\n"
		  "[ok-one]\nusername = svc_ok1\nstore = file://@D/ok1.json\n"
		  "[broken-role]\nusername = svc_broken\nstore = file://@D/broken.env?format=env\n"
		  "[ok-two]\nusername = svc_ok2\nstore = file://@D/ok2.json\n");
	h_make_account("svc_ok1");
	h_make_account("svc_broken");
	h_make_account("svc_ok2");
	h_result r;
	lines_t ls;
	run_json(&ls, NULL, 0, NULL, NULL, NULL);
	char old[80];
	snprintf(old, sizeof old, "%s", expect(&ls, "broken-role", "rotated")->id);

	h_fault("{\"path\":\"/v1/users/svc_broken/tokens\",\"status\":500,\"count\":100000}");
	run_json(&ls, NULL, 6, "--force", NULL, &r);
	ck_assert_int_eq(ls.n, 3);
	expect_error_on_stderr(&r, expect(&ls, "broken-role", "failed"));
	h_result_free(&r);
	assert_file_holds("broken.env", "svc_broken", old);
	assert_file_holds("ok1.json", "svc_ok1", expect(&ls, "ok-one", "rotated")->id);
	assert_file_holds("ok2.json", "svc_ok2", expect(&ls, "ok-two", "rotated")->id);
	ck_assert_str_eq(line_of(&ls, "ok-one")->error, "");

	/* The same in text form: the failed role's line, its error on stderr. */
	ROTCFG(&r, NULL, "--force");
	ck_assert_exit(r, 6);
	parse_text(&r, &ls);
	ck_assert_int_eq(ls.n, 3);
	ck_assert_str_eq(line_of(&ls, "broken-role")->action, "failed");
	ck_assert(h_contains(r.err, "broken-role"));
	h_result_free(&r);
	assert_file_holds("broken.env", "svc_broken", old);
}
END_TEST

/* Two roles fail, one rotates: the exit code is the failed roles' code
 * when they share it (4: no such account), else 1 (4 and 6). */
static const struct {
	const char *name, *second; /* the second failing role's account */
	const char *fault;         /* what makes it fail, if it exists */
	int code;
} two_fail[] = {
	{"fail404", "svc_ghost2", NULL, 4},
	{"failmix", "svc_flaky", "{\"path\":\"/v1/users/svc_flaky/\",\"status\":500,\"count\":100000}",
	 1},
};

START_TEST(two_roles_fail)
{
	char text[512];
	ws(two_fail[_i].name);
	snprintf(text, sizeof text,
		 "[ghost]\nusername = svc_ghost\nstore = file://@D/ghost.json\n"
		 "[fine]\nusername = svc_fine\nstore = file://@D/fine.json\n"
		 "[second]\nusername = %s\nstore = file://@D/second.json\n", two_fail[_i].second);
	write_cfg(text);
	h_make_account("svc_fine");
	if (two_fail[_i].fault) {
		h_make_account(two_fail[_i].second);
		h_fault(two_fail[_i].fault);
	}
	h_result r;
	lines_t ls;
	run_json(&ls, NULL, two_fail[_i].code, NULL, NULL, &r);
	ck_assert_int_eq(ls.n, 3);
	expect_error_on_stderr(&r, expect(&ls, "ghost", "failed"));
	expect_error_on_stderr(&r, expect(&ls, "second", "failed"));
	h_result_free(&r);
	assert_file_holds("fine.json", "svc_fine", expect(&ls, "fine", "rotated")->id);
	ck_assert(access(spath("second.json"), F_OK) != 0);
}
END_TEST

/* A role whose lock another run holds is skipped; exit 0. */
START_TEST(lock_held_skipped)
{
	ws("lock");
	write_cfg("ttl = 1h\n"
		  "[held]\nusername = svc_held\nstore = file://@D/held.json\n"
		  "[free]\nusername = svc_free\nstore = file://@D/free.json\n");
	h_make_account("svc_held");
	h_make_account("svc_free");
	ck_assert_int_eq(md_file_mkdirs(state), 0);
	char lock[1400];
	snprintf(lock, sizeof lock, "%s/held.lock", state);
	int fd = open(lock, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	lines_t ls;
	run_json(&ls, NULL, 0, NULL, NULL, NULL);
	ck_assert_int_eq(ls.n, 2);
	ck_assert_str_eq(line_of(&ls, "held")->action, "skipped");
	assert_file_holds("free.json", "svc_free", expect(&ls, "free", "rotated")->id);
	ck_assert_int_eq(h_live_tokens("svc_held"), 0);
	close(fd);
	run_json(&ls, NULL, 0, NULL, NULL, NULL);
	assert_file_holds("held.json", "svc_held", expect(&ls, "held", "rotated")->id);
	expect(&ls, "free", "fresh");
}
END_TEST

/* ---- config mistakes: FILE:LINE:, exit 2, nothing contacted ---------------- */

static const struct {
	const char *what, *text;
	int line; /* 0: a mistake of the whole file, "FILE: ..." */
} bad_cfg[] = {
	{"unknown key", "[r]\nusername = svc_a\nstore = file://@D/a.json\ncolour = blue\n", 4},
	{"unknown key in the defaults", "ttl = 1h\nflavour = x\n[r]\nusername = svc_a\n"
					"store = file://@D/a.json\n", 2},
	{"no username", "ttl = 1h\n\n[r]\nstore = file://@D/a.json\n", 3},
	{"no store", "[ok]\nusername = svc_a\nstore = file://@D/a.json\n[r]\nusername = svc_b\n",
	 4},
	{"ttl too short", "[r]\nusername = svc_a\nttl = 5s\nstore = file://@D/a.json\n", 3},
	{"ttl not a duration", "[r]\nusername = svc_a\nstore = file://@D/a.json\nttl = soon\n", 4},
	{"ttl with a trailing comment", "ttl = 1h # hourly\n[r]\nusername = svc_a\n"
					"store = file://@D/a.json\n", 1},
	{"bad default every", "every = 1w\n[r]\nusername = svc_a\nstore = file://@D/a.json\n", 1},
	{"keep 0", "[r]\nusername = svc_a\nkeep = 0\nstore = file://@D/a.json\n", 3},
	{"bad token_type", "[r]\nusername = svc_a\ntoken_type = admin\nstore = file://@D/a.json\n", 3},
	{"bad username", "[r]\nusername = svc-a\nstore = file://@D/a.json\n", 2},
	{"key given twice", "[r]\nusername = svc_a\nusername = svc_b\nstore = file://@D/a.json\n",
	 3},
	{"default given twice", "ttl = 1h\nttl = 2h\n[r]\nusername = svc_a\n"
				"store = file://@D/a.json\n", 2},
	{"duplicate role", "[r]\nusername = svc_a\nstore = file://@D/a.json\n\n[r]\n"
			   "username = svc_b\nstore = file://@D/b.json\n", 5},
	{"same store in two roles", "[r1]\nusername = svc_a\nstore = file://@D/a.json\n[r2]\n"
				    "username = svc_b\nstore = file://@D/a.json\n", 6},
	/* One file however it is spelled: both roles would write it. */
	{"same file store, default format spelled out",
	 "[r1]\nusername = svc_a\nstore = file://@D/a.json\n[r2]\n"
	 "username = svc_b\nstore = file://@D/a.json?format=json\n", 6},
	{"same file store, another path spelling",
	 "[r1]\nusername = svc_a\nstore = file://@D/a.json\n[r2]\n"
	 "username = svc_b\nstore = file://@D/./a.json\n", 6},
	{"store in the defaults", "ttl = 1h\nstore = file://@D/a.json\n[r]\nusername = svc_a\n"
				  "store = file://@D/b.json\n", 2},
	{"username in the defaults", "username = svc_a\n[r]\nstore = file://@D/a.json\n", 1},
	{"bad role name", "[r]\nusername = svc_a\nstore = file://@D/a.json\n[bad role]\n"
			  "username = svc_b\nstore = file://@D/b.json\n", 4},
	{"role name too long", "[r12345678901234567890123456789012345678901234567890123456789012345]"
			       "\nusername = svc_a\nstore = file://@D/a.json\n", 1},
	{"not key = value", "[r]\nusername = svc_a\nstore = file://@D/a.json\njust words\n", 4},
	{"unclosed section", "[r\nusername = svc_a\nstore = file://@D/a.json\n", 1},
	{"no role at all", "", 0},
	{"only defaults", "ttl = 1h\n# no role\n", 0},
};
#define NBAD ((int)(sizeof bad_cfg / sizeof bad_cfg[0]))

/* rotate --config fails with code, says where (or where2, if not NULL) on
 * stderr, prints nothing on stdout and sends no request. */
static void expect_nothing_sent(const char *what, int code, const char *where, const char *where2)
{
	h_result r;
	ROTCFG(&r, NULL, "--json");
	ck_assert_msg(r.status == code, "%s: exit %d, expected %d; stderr: %s", what, r.status,
		      code, md_secret_str(r.err));
	ck_assert_msg(h_contains(r.err, where) || (where2 && h_contains(r.err, where2)),
		      "%s: stderr does not say %s: %s", what, where, md_secret_str(r.err));
	ck_assert_msg(md_secret_len(r.out) == 0, "%s: stdout: %s", what, md_secret_str(r.out));
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), 0);
}

START_TEST(config_error)
{
	char name[32], where[1400];
	snprintf(name, sizeof name, "bad-%02d", _i);
	ws(name);
	write_cfg(bad_cfg[_i].text);
	if (bad_cfg[_i].line)
		snprintf(where, sizeof where, "%s:%d:", cfg, bad_cfg[_i].line);
	else
		snprintf(where, sizeof where, "%s: ", cfg);
	expect_nothing_sent(bad_cfg[_i].what, 2, where, NULL);
}
END_TEST

/* A store URI that does not open: exit 2 before any role starts, the
 * message saying FILE:LINE. */
static const char *const bad_store[] = {
	"file://@D/b.json?mode=0644",
	"file://@D/b.json?format=yaml",
	"file://relative/b.json",
	"vault://127.0.0.1:1/secret/b?colour=blue",
	"s3://bucket/b",
};
#define NBADSTORE ((int)(sizeof bad_store / sizeof bad_store[0]))

START_TEST(bad_store_uri)
{
	char name[32], text[512], where[1400];
	snprintf(name, sizeof name, "badstore-%02d", _i);
	ws(name);
	snprintf(text, sizeof text,
		 "[first]\nusername = svc_a\nstore = file://@D/a.json\n"
		 "[second]\nusername = svc_b\nstore = %s\n", bad_store[_i]);
	write_cfg(text);
	snprintf(where, sizeof where, "%s:6:", cfg);
	expect_nothing_sent(bad_store[_i], 2, where, NULL);
	ck_assert(access(spath("a.json"), F_OK) != 0);
}
END_TEST

START_TEST(missing_config_file)
{
	ws("missing");
	expect_nothing_sent("no config file", 4, cfg, NULL);
}
END_TEST

/* ---- roles sharing an account ---------------------------------------------- */

/* Roles "a" and "a-b" of one account: a's tokens are named mdcred-a-...,
 * a-b's mdcred-a-b-...; a's retirement (grace 0, keep 1) must not take
 * a-b's tokens for its own. */
START_TEST(shared_account_role_prefix)
{
	ws("shared");
	write_cfg("ttl = 1h\ngrace = 0\nkeep = 1\n"
		  "[a-b]\nusername = svc_shared\nstore = file://@D/a-b.json\n"
		  "[a]\nusername = svc_shared\nstore = file://@D/a.json\n");
	h_make_account("svc_shared");
	/* In file order one at a time (a after a-b, then a-b after a), then
	 * both at once. */
	static const char *const runs[][2] = {
		{"--parallel=1", NULL}, {"--force", "--parallel=1"}, {"--force", "--parallel=1"},
		{"--force", NULL},      {"--force", NULL},
	};
	for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
		lines_t ls;
		run_json(&ls, NULL, 0, runs[i][0], runs[i][1], NULL);
		ck_assert_int_eq(ls.n, 2);
		const line_t *a = expect(&ls, "a", "rotated"), *ab = expect(&ls, "a-b", "rotated");
		char what[64];
		snprintf(what, sizeof what, "run %zu: a's store", i);
		char id[80];
		file_id(spath("a.json"), id, sizeof id);
		assert_holds(what, "svc_shared", id, a->id);
		snprintf(what, sizeof what, "run %zu: a-b's store", i);
		file_id(spath("a-b.json"), id, sizeof id);
		assert_holds(what, "svc_shared", id, ab->id);
		ck_assert_msg(strncmp(h_token_of("svc_shared", ab->id).name, "mdcred-a-b-", 11) == 0,
			      "a-b's token is not named mdcred-a-b-...");
	}
	ck_assert_int_eq(h_live_tokens("svc_shared"), 2);
}
END_TEST

/* ---- progress ---------------------------------------------------------------- */

START_TEST(no_progress_off_a_terminal)
{
	basic_setup("notty");
	h_result r;
	ROTCFG(&r, NULL, NULL);
	ck_assert_exit(r, 0);
	/* stderr keeps to warnings and errors: there are none. */
	ck_assert_msg(md_secret_len(r.err) == 0, "stderr that is no terminal: %s",
		      md_secret_str(r.err));
	ck_assert_msg(!h_contains(r.out, "\r"), "a carriage return on stdout");
	h_result_free(&r);
}
END_TEST

static void read_all(int fd, md_secret *into)
{
	char buf[1024];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			md_secret_append(into, buf, (size_t)n);
}

/* Runs mdcred --api-url URL ARGS... as h_run does, but with stderr on a
 * pseudo-terminal (output post-processing off, so every '\r' is mdcred's
 * own) and stdout in a file. What the terminal showed goes to r->err and to
 * a file of the run dir, for the leak scan. */
static void run_on_pty(h_result *r, ...)
{
	static int seq;
	const char *argv[32];
	int n = 0;
	argv[n++] = "mdcred";
	argv[n++] = "--api-url";
	argv[n++] = h_base_url();
	va_list ap;
	va_start(ap, r);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 31)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;

	int m, s;
	ck_assert_int_eq(openpty(&m, &s, NULL, NULL, NULL), 0);
	struct termios t;
	ck_assert_int_eq(tcgetattr(s, &t), 0);
	t.c_oflag &= ~(tcflag_t)OPOST;
	ck_assert_int_eq(tcsetattr(s, TCSANOW, &t), 0);
	char name[96];
	snprintf(name, sizeof name, "rotcfg-pty-%d-%d.stdout", (int)getpid(), ++seq);
	int ofd = open(h_path(false, name), O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(ofd, 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		dup2(in, 0);
		dup2(ofd, 1);
		dup2(s, 2);
		close(m);
		setenv("MOTHERDUCK_ADMIN_TOKEN_FILE", h_admin_token_file(), 1);
		const char *bin = getenv("MDCRED_BIN");
		execv(bin && *bin ? bin : "build/mdcred", (char *const *)argv);
		_exit(127);
	}
	close(s);
	r->err = md_secret_new(4096);
	r->out = md_secret_new(4096);
	read_all(m, r->err); /* until EIO: mdcred closed the terminal */
	close(m);
	int st = 0;
	waitpid(pid, &st, 0);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	lseek(ofd, 0, SEEK_SET);
	read_all(ofd, r->out);
	close(ofd);
	snprintf(name, sizeof name, "rotcfg-pty-%d-%d.tty", (int)getpid(), seq);
	int tfd = open(h_path(false, name), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert(tfd >= 0 && md_file_write_fd(tfd, md_secret_str(r->err),
					       md_secret_len(r->err)) == 0);
	close(tfd);
	no_token_shown(r);
}

/* stderr on a terminal: progress with '\r' (_i 0), none with --json (_i 1);
 * the results on stdout either way. A second run with beta failing: the
 * failure is counted, and its error is on the terminal. */
START_TEST(progress_on_a_terminal)
{
	bool json = _i == 1;
	basic_setup(json ? "ptyjson" : "pty");
	const char *fmt = json ? "--json" : NULL;
	h_result r;
	lines_t ls;
	char ids[NBASIC][80];
	run_on_pty(&r, "rotate", "--config", cfg, "--state-dir", state, fmt, NULL);
	ck_assert_exit(r, 0);
	if (json)
		ck_assert_msg(!h_contains(r.err, "\r") && !h_contains(r.err, "done"),
			      "progress with --json: %s", md_secret_str(r.err));
	else
		ck_assert_msg(h_contains(r.err, "\r") && h_contains(r.err, "3/3 roles done"),
			      "no progress line (done of 3 roles) on the terminal: %s",
			      md_secret_str(r.err));
	(json ? parse_json : parse_text)(&r, &ls);
	h_result_free(&r);
	basic_check(&ls, "rotated", ids);

	h_fault("{\"path\":\"/v1/users/svc_beta/\",\"status\":500,\"count\":100000}");
	run_on_pty(&r, "rotate", "--config", cfg, "--state-dir", state, "--force", fmt, NULL);
	ck_assert_exit(r, 6);
	ck_assert_msg(h_contains(r.err, "beta"), "beta's error is not on the terminal: %s",
		      md_secret_str(r.err));
	ck_assert_msg(json != h_contains(r.err, "1 failed"), "failures %s counted: %s",
		      json ? "are" : "are not", md_secret_str(r.err));
	ck_assert(json != h_contains(r.err, "\r"));
	(json ? parse_json : parse_text)(&r, &ls);
	h_result_free(&r);
	ck_assert_int_eq(ls.n, NBASIC);
	ck_assert_str_eq(line_of(&ls, "beta")->action, "failed");
	assert_file_holds("beta.env", "svc_beta", ids[1]);
}
END_TEST

/* ---- file, Vault and Kubernetes stores in one role ---------------------------- */

/* Unchecked fixture: both fakes once per test process, their credentials
 * under requested/ and in the run's token record. */
static void fakes_start(void) { h_fakes_start(&fakes, "rotcfg"); }
static void fakes_stop(void) { h_fakes_stop(&fakes); }

/* The id the Vault secret secret/PATH records beside its token. */
static void vault_id(const char *path, char *id, size_t sz)
{
	id[0] = '\0';
	_cleanup_secret_ md_secret *auth = md_secret_new(256), *b = md_secret_new(4096);
	md_secret_appendf(auth, "X-Vault-Token: %s",
			  fakes.env_vault_token + strlen("VAULT_TOKEN="));
	h_http_target t = {fakes.vault_url, NULL, NULL, auth};
	char p[256];
	snprintf(p, sizeof p, "/v1/secret/data/%s", path);
	ck_assert_int_eq(h_http(&t, "GET", p, NULL, b), 200);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(b), md_secret_len(b), NULL), 0);
	int kv = md_json_get(&d, md_json_get(&d, 0, "data"), "data");
	if (md_json_get(&d, kv, "token") >= 0)
		md_json_str(&d, md_json_get(&d, kv, "id"), id, sz);
	md_json_free(&d);
}

/* The element of array arr whose member key is the string want, or -1. */
static int find_by(const md_json *d, int arr, const char *key, const char *want)
{
	for (int i = 0; i < md_json_count(d, arr); i++) {
		int e = md_json_at(d, arr, i);
		char v[256];
		if (md_json_str(d, md_json_get(d, e, key), v, sizeof v) >= 0 && strcmp(v, want) == 0)
			return e;
	}
	return -1;
}

/* The token id the Secret NAME (namespace team-a, the fake's only one) is
 * annotated with (the fake's state: metadata only, no auth). */
static void k8s_id(const char *name, char *id, size_t sz)
{
	id[0] = '\0';
	_cleanup_secret_ md_secret *b = md_secret_new(1 << 16);
	h_http_target t = {fakes.k8s_url, fakes.k8s_cert, NULL, NULL};
	ck_assert_int_eq(h_http(&t, "GET", "/_fake/state", NULL, b), 200);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(b), md_secret_len(b), NULL), 0);
	int sec = find_by(&d, md_json_get(&d, 0, "secrets"), "name", name);
	md_json_str(&d, md_json_get(&d, md_json_get(&d, sec, "annotations"),
				    "mdcred.motherduck.com/token-id"),
		    id, sz);
	md_json_free(&d);
}

static void mixed_check(const lines_t *ls, const char *action)
{
	const line_t *m = expect(ls, "mixed", action), *p = expect(ls, "plain", action);
	char id[80];
	assert_file_holds("mixed.json", "svc_mixed", m->id);
	vault_id("rotcfg/mixed", id, sizeof id);
	assert_holds("the vault store", "svc_mixed", id, m->id);
	k8s_id("md-mixed", id, sizeof id);
	assert_holds("the k8s store", "svc_mixed", id, m->id);
	assert_file_holds("plain.env", "svc_plain", p->id);
}

START_TEST(mixed_stores)
{
	ws("mixed");
	write_cfg("ttl = 1h\ngrace = 0\n"
		  "[mixed]\nusername = svc_mixed\nstore = file://@D/mixed.json\n"
		  "store = vault://@V/secret/rotcfg/mixed\nstore = k8s://team-a/md-mixed\n"
		  "[plain]\nusername = svc_plain\nstore = file://@D/plain.env?format=env\n");
	h_make_account("svc_mixed");
	h_make_account("svc_plain");
	const char *const *env = fakes.env;
	lines_t ls;
	run_json(&ls, env, 0, NULL, NULL, NULL);
	mixed_check(&ls, "rotated");
	ck_assert_int_eq(line_of(&ls, "mixed")->stores, 3);
	char first[80];
	snprintf(first, sizeof first, "%s", line_of(&ls, "mixed")->id);

	run_json(&ls, env, 0, NULL, NULL, NULL);
	mixed_check(&ls, "fresh");
	ck_assert_str_eq(line_of(&ls, "mixed")->id, first);

	run_json(&ls, env, 0, "--force", NULL, NULL);
	mixed_check(&ls, "rotated");
	ck_assert_int_eq(line_of(&ls, "mixed")->revoked, 1);
	ck_assert_int_eq(h_live_tokens("svc_mixed"), 1);
}
END_TEST

Suite *suite_rotate_config(void)
{
	Suite *s = suite_create("rotate_config");
	TCase *tc = h_tcase("rotate_config");
	tcase_add_loop_test(tc, three_roles, 0, 2);
	tcase_add_test(tc, ttl_none_warns);
	tcase_add_loop_test(tc, parallel_bounded, 0, 2);
	tcase_add_test(tc, parallel_out_of_range);
	tcase_add_test(tc, completion_order);
	tcase_add_test(tc, one_role_fails_transient);
	tcase_add_loop_test(tc, two_roles_fail, 0, 2);
	tcase_add_test(tc, lock_held_skipped);
	tcase_add_loop_test(tc, config_error, 0, NBAD);
	tcase_add_loop_test(tc, bad_store_uri, 0, NBADSTORE);
	tcase_add_test(tc, missing_config_file);
	tcase_add_test(tc, shared_account_role_prefix);
	tcase_add_test(tc, no_progress_off_a_terminal);
	tcase_add_loop_test(tc, progress_on_a_terminal, 0, 2);
	suite_add_tcase(s, tc);
	TCase *st = h_tcase("rotate_config_stores");
	tcase_add_unchecked_fixture(st, fakes_start, fakes_stop);
	tcase_add_test(st, mixed_stores);
	suite_add_tcase(s, st);
	return s;
}
