/* test_rotate_config.c - `mdcred rotate --config FILE` (many roles, one
 * libcurl multi handle) at work, against the emulator, file stores, and in
 * one test tests/fakes/fake_vault.py and fake_k8s.py. Config mistakes and
 * progress: test_rotate_config_input.c; shared pieces: rotcfg.[ch].
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
#include "rotcfg.h"

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

#include "base/file.h"
#include "base/json.h"

/* ---- the three-role config ----------------------------------------------- */

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

/* A background run's stdout holds want lines (or the run ended first). */
struct lines_wait {
	const char *path;
	int want;
	pid_t pid;
	bool ended;
	int st;
};

static bool lines_written(void *arg)
{
	struct lines_wait *w = arg;
	_cleanup_secret_ md_secret *o = NULL;
	int n = 0;
	if (md_file_read_secret(w->path, 1 << 16, &o, NULL) == MD_OK)
		for (const char *p = md_secret_str(o); (p = strchr(p, '\n')); p++)
			n++;
	if (n >= w->want)
		return true;
	w->ended = waitpid(w->pid, &w->st, WNOHANG) == w->pid;
	return w->ended;
}

/* Lines come as roles finish: the first role, held by the emulator until
 * both others have printed theirs, comes last. */
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
	h_fault("{\"path\":\"/v1/users/svc_slow/\",\"action\":\"hold\",\"count\":1}");
	const char *args[] = {"rotate", "--config", cfg, "--state-dir", state, "--json", NULL};
	pid_t pid = h_spawn_mdcred("order", NULL, args);
	struct lines_wait w = {h_path(false, "bg-order.stdout"), 2, pid, false, 0};
	bool two = h_wait_for(lines_written, &w, 30000);
	ck_assert_int_eq(h_ctl("POST", "/_emulator/release", "{}"), 200);
	if (!w.ended)
		ck_assert_int_eq(waitpid(pid, &w.st, 0), pid);
	ck_assert_msg(two, "the quick roles' lines did not come while the slow one was held");
	h_result r = {WIFEXITED(w.st) ? WEXITSTATUS(w.st) : 128 + WTERMSIG(w.st), NULL, NULL};
	ck_assert(md_file_read_secret(h_path(false, "bg-order.stdout"), 1 << 16, &r.out, NULL) ==
		  MD_OK);
	ck_assert(md_file_read_secret(h_path(false, "bg-order.stderr"), 1 << 16, &r.err, NULL) ==
		  MD_OK);
	no_token_shown(&r);
	ck_assert_exit(r, 0);
	lines_t ls;
	parse_json(&r, &ls);
	h_result_free(&r);
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
	Suite *s = h_suite("rotate_config");
	TCase *tc = h_tcase("rotate_config");
	tcase_add_loop_test(tc, three_roles, 0, 2);
	tcase_add_test(tc, ttl_none_warns);
	tcase_add_loop_test(tc, parallel_bounded, 0, 2);
	tcase_add_test(tc, parallel_out_of_range);
	tcase_add_test(tc, completion_order);
	tcase_add_test(tc, one_role_fails_transient);
	tcase_add_loop_test(tc, two_roles_fail, 0, 2);
	tcase_add_test(tc, lock_held_skipped);
	tcase_add_test(tc, shared_account_role_prefix);
	suite_add_tcase(s, tc);
	TCase *st = h_tcase("rotate_config_stores");
	tcase_add_unchecked_fixture(st, fakes_start, fakes_stop);
	tcase_add_test(st, mixed_stores);
	suite_add_tcase(s, st);
	return s;
}

