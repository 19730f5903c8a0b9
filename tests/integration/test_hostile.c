/* test_hostile.c - every mdcred command that talks to the admin API against
 * tests/fakes/hostile_api.py: a well-behaved mode first (the commands work),
 * then error answers that echo the credentials in every shape and status,
 * redirects to a path that counts hits, a huge body and a slow one. Each run
 * must keep every credential and token value off stdout and stderr, print
 * no raw control byte and exit as the README says (hostile.h has the
 * checks). Unusable token answers, control characters, duplicate keys and
 * the stores are in test_hostile_tokens.c. */
#include "hostile.h"

#include <stdio.h>
#include <string.h>

/* Runs every command against m, then the commands that read before they
 * write (rotate, ducklings set) against m limited to POST, PUT and DELETE,
 * so that their writes meet it too. */
static void run_all_and_writes(hx_verdict *v, const hx_mode_case *m, const char *mode_json)
{
	hx_run_all(v, m);
	char label[96], writes[600];
	snprintf(label, sizeof label, "%s, writes only", m->label);
	snprintf(writes, sizeof writes, "%.*s,\"method\":\"POST,PUT,DELETE\"}",
		 (int)strlen(mode_json) - 1, mode_json);
	hx_mode_case w = *m;
	w.label = label;
	w.mode = writes;
	w.touches = A_MUT;
	for (int i = 0; i < hx_ncmds; i++)
		if ((hx_cmds[i].answers & A_MUT) && (hx_cmds[i].answers & (A_LIST | A_DUCKS)))
			hx_run(v, &w, &hx_cmds[i], NULL, NULL, NULL);
}

START_TEST(well_behaved_server_commands_work)
{
	hx_verdict v = {0};
	hx_mode_case m = {"normal", NULL, A_ALL, 0, NULL, false, false};
	hx_run_all(&v, &m);
	/* The revoke and the account changes reached the server. */
	hx_state s;
	hx_run(&v, &m, hx_cmd_named("token revoke"), NULL, NULL, &s);
	hx_check(&v, s.requests == 1, "token revoke sent %d requests", s.requests);
	hx_done(&v);
}
END_TEST

/* --- error answers that echo the credentials -------------------------------- */

static const char *const shapes[] = {"message", "issues", "code", "escaped", "straddle",
				     "text", "html"};
static const int statuses[] = {400, 401, 403, 404, 409, 429, 500, 503};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])
#define NSTATUSES (int)(sizeof statuses / sizeof statuses[0])

/* The README's exit codes. */
static int echo_exit(int status, const char *shape)
{
	bool json_not_found = strcmp(shape, "text") != 0 && strcmp(shape, "html") != 0 &&
			      strcmp(shape, "code") != 0;
	switch (status) {
	case 401: case 403: return 3;
	case 404: return json_not_found ? 4 : 1; /* only a JSON NOT_FOUND is an entity's */
	case 409: return 5;
	case 429: case 500: case 503: return 6;
	default: return 1;
	}
}

START_TEST(error_answers_echoing_credentials)
{
	const char *shape = shapes[_i / NSTATUSES];
	int status = statuses[_i % NSTATUSES];
	char label[64], mode[160];
	snprintf(label, sizeof label, "echo %s %d", shape, status);
	snprintf(mode, sizeof mode, "{\"mode\":\"echo\",\"status\":%d,\"shape\":\"%s\"}", status,
		 shape);
	hx_mode_case m = {label, mode, A_ALL, echo_exit(status, shape), NULL, true, false};
	hx_verdict v = {0};
	run_all_and_writes(&v, &m, mode);
	hx_done(&v);
}
END_TEST

/* --- redirects, a huge body, a slow body ------------------------------------ */

START_TEST(redirects_not_followed)
{
	static const int codes[] = {301, 302, 307, 308};
	char label[32], mode[80];
	snprintf(label, sizeof label, "redirect %d", codes[_i]);
	snprintf(mode, sizeof mode, "{\"mode\":\"redirect\",\"status\":%d}", codes[_i]);
	hx_mode_case m = {label, mode, A_ALL, X_NONZERO, NULL, true, true};
	hx_verdict v = {0};
	run_all_and_writes(&v, &m, mode);
	hx_done(&v);
}
END_TEST

/* The first request of each command, or each mint (which the server did),
 * answered with a body over 16 MiB, or a byte a second under --timeout 1 (a
 * transient failure, 6). A mint whose answer was not read is found by its
 * name and revoked. */
static const hx_mode_case body_cases[] = {
	{"huge body, first request", "{\"mode\":\"huge\",\"count\":1}", A_ALL, X_NONZERO, NULL,
	 true, true},
	{"huge body, the mint", "{\"mode\":\"huge\",\"method\":\"POST\",\"path\":\"/tokens$\"}",
	 A_MINT, X_NONZERO, NULL, true, true},
	{"slow body, first request", "{\"mode\":\"slow\",\"count\":1}", A_ALL, 6, "1", true, true},
	{"slow body, the mint", "{\"mode\":\"slow\",\"method\":\"POST\",\"path\":\"/tokens$\"}",
	 A_MINT, 6, "1", true, true},
};

START_TEST(huge_and_slow_bodies)
{
	hx_verdict v = {0};
	hx_run_all(&v, &body_cases[_i]);
	hx_done(&v);
}
END_TEST

/* Test cases of TCase-sized parts, each with its own server: run_all.sh runs
 * them side by side. The slow-body cases wait for --timeout 1 once per
 * command, so each is a case of its own. */
static TCase *hostile_case(Suite *s, const char *name)
{
	TCase *tc = h_tcase(name);
	tcase_add_unchecked_fixture(tc, hx_start, hx_stop);
	suite_add_tcase(s, tc);
	return tc;
}

#define ECHO_PARTS 4

Suite *suite_hostile(void)
{
	static const char *const echo[ECHO_PARTS] = {"hostile_echo_1", "hostile_echo_2",
						     "hostile_echo_3", "hostile_echo_4"};
	Suite *s = h_suite("hostile");
	TCase *tc = hostile_case(s, "hostile_api");
	tcase_add_test(tc, well_behaved_server_commands_work);
	tcase_add_loop_test(tc, redirects_not_followed, 0, 4);
	tcase_add_loop_test(tc, huge_and_slow_bodies, 0, 2); /* huge */
	for (int p = 0; p < ECHO_PARTS; p++) {
		int lo, hi;
		h_part(NSHAPES * NSTATUSES, p, ECHO_PARTS, &lo, &hi);
		tcase_add_loop_test(hostile_case(s, echo[p]), error_answers_echoing_credentials, lo,
				    hi);
	}
	tcase_add_loop_test(hostile_case(s, "hostile_slow_first"), huge_and_slow_bodies, 2, 3);
	tcase_add_loop_test(hostile_case(s, "hostile_slow_mint"), huge_and_slow_bodies, 3, 4);
	hostile_tokens_tcases(s);
	return s;
}
