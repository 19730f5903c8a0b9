/* test_hardening.c - process hygiene (lib/proc.h) seen from outside: a token
 * is never printed into a stdout that was closed, and a write error after
 * the mint revokes it.
 *
 * The stdout redirections are made by /bin/sh around mdcred. */
#define _GNU_SOURCE
#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"

#define USER "svc_hardening_test"

static const char *mdcred_bin(void)
{
	const char *b = getenv("MDCRED_BIN");
	return b && *b ? b : "build/mdcred";
}

/* The admin token file for runs through /bin/sh (h_run_prog adds none). */
static const char *const *auth_env(void)
{
	static char line[1400];
	static const char *env[] = {line, NULL};
	snprintf(line, sizeof line, "MOTHERDUCK_ADMIN_TOKEN_FILE=%s", h_admin_token_file());
	return env;
}

/* Runs `mdcred --api-url URL ARGS...` with its stdout redirected by sh
 * (REDIR: ">&-", ">/dev/full"). */
#define RUN_REDIRECTED(r, redir, ...)                                                       \
	h_run_prog(r, 0, "/bin/sh", NULL, auth_env(), "-c", "exec \"$@\" " redir, "sh",     \
		   mdcred_bin(), "--api-url", h_base_url(), __VA_ARGS__, NULL)

/* ---- stdout closed at start: nothing is minted ---- */

static void assert_refused_unsent(h_result *r, int before, const char *msg)
{
	ck_assert_exit(*r, 2);
	ck_assert_msg(h_contains(r->err, msg), "stderr: %s", md_secret_str(r->err));
	ck_assert_int_eq(h_request_count(), before);
	h_result_free(r);
}

START_TEST(token_create_stdout_closed_mints_nothing)
{
	h_make_account(USER);
	int before = h_request_count();
	h_result r;
	RUN_REDIRECTED(&r, ">&-", "token", "create", USER);
	assert_refused_unsent(&r, before, "token create: stdout is closed: there is nowhere to "
				  "print the token (use --output FILE)");
	RUN_REDIRECTED(&r, ">&-", "token", "create", USER, "--format", "json");
	assert_refused_unsent(&r, before, "stdout is closed");
	ck_assert_int_eq(h_live_tokens(USER), 0);

	/* With --output, stdout is not needed. */
	const char *out = h_path(true, "hardening-closed.token");
	RUN_REDIRECTED(&r, ">&-", "token", "create", USER, "--output", out);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(get_stdout_closed_mints_nothing)
{
	h_make_account(USER);
	int before = h_request_count();
	char cache[1400];
	snprintf(cache, sizeof cache, "file://%s", h_path(true, "hardening-get-cache.json"));
	h_result r;
	RUN_REDIRECTED(&r, ">&-", "get", USER, "--cache", "none");
	assert_refused_unsent(&r, before, "get: stdout is closed: there is nowhere to print the "
				  "token");
	RUN_REDIRECTED(&r, ">&-", "get", USER, "--cache", cache, "--format", "json");
	assert_refused_unsent(&r, before, "stdout is closed");
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

START_TEST(list_stdout_closed_fails)
{
	h_make_account(USER);
	h_result r;
	RUN_REDIRECTED(&r, ">&-", "token", "list", USER);
	ck_assert_exit(r, 1);
	ck_assert_msg(h_contains(r.err, "cannot write to stdout: it was closed when mdcred started"),
		      "stderr: %s", md_secret_str(r.err));
	h_result_free(&r);
}
END_TEST

/* ---- a write error after the mint: the token is revoked ---- */

static void assert_one_revoked(void)
{
	h_tokens ts;
	h_user_tokens(USER, &ts);
	ck_assert_int_eq(ts.n, 1);
	ck_assert_int_eq(ts.revoked, 1);
	ck_assert_int_eq(ts.live, 0);
}

START_TEST(stdout_full_revokes)
{
	h_make_account(USER);
	h_result r;
	RUN_REDIRECTED(&r, ">/dev/full", "token", "create", USER, "--format", "json");
	ck_assert_exit(r, 1);
	ck_assert_msg(h_contains(r.err, "cannot write to stdout: No space left on device") &&
			      h_contains(r.err, "revoked the undelivered token"),
		      "stderr: %s", md_secret_str(r.err));
	h_result_free(&r);
	assert_one_revoked();
	h_reset();
	h_make_account(USER);
	RUN_REDIRECTED(&r, ">/dev/full", "get", USER, "--cache", "none");
	ck_assert_exit(r, 1);
	ck_assert_msg(h_contains(r.err, "revoked the undelivered token"), "stderr: %s",
		      md_secret_str(r.err));
	h_result_free(&r);
	assert_one_revoked();
}
END_TEST

Suite *suite_hardening(void)
{
	Suite *s = suite_create("hardening");
	TCase *tc = h_tcase("hardening");
	tcase_add_test(tc, token_create_stdout_closed_mints_nothing);
	tcase_add_test(tc, get_stdout_closed_mints_nothing);
	tcase_add_test(tc, list_stdout_closed_fails);
	tcase_add_test(tc, stdout_full_revokes);
	suite_add_tcase(s, tc);
	return s;
}
