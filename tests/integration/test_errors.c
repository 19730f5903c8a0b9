/* test_errors.c - every validation error: one clear line, exit 2, nothing sent;
 * URL policy; the plain-text no-route 404. Cases are data. */
#include "harness.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct bad_case {
	const char *args[12];
	const char *message; /* expected on stderr */
};

static const struct bad_case bad_cases[] = {
	{{"token", "create", "ab", NULL}, "invalid username 'ab'"},
	{{"token", "create", "1abc", NULL}, "invalid username"},
	{{"token", "create", "a-b-c", NULL}, "invalid username"},
	{{"token", "create", "svc_x", "--ttl", "299", NULL}, "the API accepts 300"},
	{{"token", "create", "svc_x", "--ttl", "366d", NULL}, "the API accepts 300"},
	{{"token", "create", "svc_x", "--ttl", "5x", NULL}, "is not a duration"},
	{{"token", "create", "svc_x", "--ttl", "", NULL}, "is not a duration"},
	{{"token", "create", "svc_x", "--type", "admin", NULL}, "not read_write or read_scaling"},
	{{"token", "create", "svc_x", "--name", "MotherDuck Flights", NULL}, "reserved"},
	{{"token", "create", "svc_x", "--name", "", NULL}, "1 to 255 characters"},
	{{"token", "create", "svc_x", "--format", "yaml", NULL}, "not token, env, dotenv or json"},
	{{"token", "create", "svc_x", "--bogus", NULL}, "unknown option"},
	{{"token", "create", NULL}, "missing argument"},
	{{"token", "create", "svc_x", "svc_y", NULL}, "too many arguments"},
	{{"token", "revoke", "svc_x", NULL}, "missing argument"},
	{{"token", "revoke", "svc_x", "../../v1/users", NULL}, "invalid token id"},
	{{"token", "frobnicate", NULL}, "unknown subcommand"},
	{{"account", "create", "_x", NULL}, "invalid username"},
	{{"account", NULL}, "expected create, delete or active"},
	{{"ducklings", "get", NULL}, "missing argument"},
	{{"exec", "svc_x", NULL}, "expected [options] USERNAME -- COMMAND"},
	{{"exec", "svc_x", "--", NULL}, "no command given"},
	{{"exec", "svc_x", "true", NULL}, "expected [options] USERNAME -- COMMAND"},
	{{"exec", "--env", "1BAD", "svc_x", "--", "true", NULL}, "not a variable name"},
	{{"exec", "--env", "MOTHERDUCK_ADMIN_TOKEN", "svc_x", "--", "true", NULL}, "never given"},
	{{"exec", "--from", "http://x/y", "svc_x", "--", "true", NULL}, "expected file:///path"},
	{{"exec", "--from", "file:///x", "--ttl", "1h", "svc_x", "--", "true", NULL}, "--from reads"},
	{{"exec", "--from", "file:///x", "--revoke-on-exit", "svc_x", "--", "true", NULL},
	 "cannot be used with --from"},
	{{"--timeout", "0", "token", "list", "svc_x", NULL}, "--timeout: 0 is out of range"},
	{{"--retries", "many", "token", "list", "svc_x", NULL}, "not a whole number"},
	{{"--log-format", "xml", "token", "list", "svc_x", NULL}, "not text or json"},
	{{"nonsense", NULL}, "unknown command 'nonsense'"},
	{{NULL}, "no command given"},
	{{"help", "nonsense", NULL}, "no help for 'nonsense'"},
};

START_TEST(validation_error_sends_nothing)
{
	const struct bad_case *c = &bad_cases[_i];
	const char *a[12] = {0};
	memcpy(a, c->args, sizeof a);
	h_result r;
	h_run(&r, 0, NULL, NULL, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], NULL);
	ck_assert_msg(r.status == 2, "case %d (%s %s): exit %d: %s", _i, a[0], a[1] ? a[1] : "",
		      r.status, md_secret_str(r.err));
	ck_assert_msg(h_contains(r.err, c->message), "case %d: stderr '%s' lacks '%s'", _i,
		      md_secret_str(r.err), c->message);
	/* One line, prefixed, no request sent. */
	const char *e = md_secret_str(r.err);
	ck_assert_msg(strncmp(e, "mdcred: error: ", 15) == 0, "case %d: prefix", _i);
	ck_assert_msg(strchr(e, '\n') == e + strlen(e) - 1, "case %d: one line", _i);
	ck_assert_uint_eq(md_secret_len(r.out), 0);
	ck_assert_int_eq(h_request_count(), 0);
	h_result_free(&r);
}
END_TEST

START_TEST(exec_missing_command_127_before_mint)
{
	h_result r;
	h_run(&r, 0, NULL, NULL, "exec", "svc_x", "--", "no-such-command-here", NULL);
	ck_assert_exit(r, 127);
	ck_assert(h_contains(r.err, "command not found"));
	h_result_free(&r);
	const char *plain = h_path(false, "not-executable.txt");
	FILE *f = fopen(plain, "w");
	fputs("data\n", f);
	fclose(f);
	chmod(plain, 0644);
	h_run(&r, 0, NULL, NULL, "exec", "svc_x", "--", plain, NULL);
	ck_assert_exit(r, 126);
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), 0);
}
END_TEST

START_TEST(plain_http_refused_off_loopback)
{
	h_result r;
	h_run(&r, H_NO_URL, NULL, NULL, "--api-url", "http://api.example.com", "token", "list",
	      "svc_x", NULL);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "refusing plain http://"));
	h_result_free(&r);
	h_run(&r, H_NO_URL, NULL, NULL, "--api-url", "https://user:pw@api.example.com", "token",
	      "list", "svc_x", NULL);
	ck_assert_exit(r, 2);
	h_result_free(&r);
	h_run(&r, H_NO_URL, NULL, NULL, "--api-url", "ftp://127.0.0.1", "token", "list", "svc_x",
	      NULL);
	ck_assert_exit(r, 2);
	h_result_free(&r);
}
END_TEST

START_TEST(no_route_is_told_apart)
{
	char url[400];
	snprintf(url, sizeof url, "%s/not-the-api", h_base_url());
	h_result r;
	h_run(&r, H_NO_URL, NULL, NULL, "--api-url", url, "token", "list", "svc_x", NULL);
	ck_assert_exit(r, 1);
	ck_assert(h_contains(r.err, "no such route"));
	ck_assert(h_contains(r.err, "--api-url"));
	h_result_free(&r);
}
END_TEST

START_TEST(help_and_version)
{
	static const char *const topics[] = {"account", "ducklings", "token", "exec"};
	h_result r;
	for (size_t i = 0; i < 4; i++) {
		h_run(&r, H_NO_AUTH, NULL, NULL, "help", topics[i], NULL);
		ck_assert_exit(r, 0);
		ck_assert(h_contains(r.out, "usage: mdcred"));
		h_result_free(&r);
	}
	h_run(&r, H_NO_AUTH, NULL, NULL, "help", NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "exit codes:"));
	h_result_free(&r);
	h_run(&r, H_NO_AUTH, NULL, NULL, "version", NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "mdcred "));
	h_result_free(&r);
	h_run(&r, H_NO_AUTH, NULL, NULL, "token", "create", "--help", NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "usage: mdcred token create"));
	h_result_free(&r);
}
END_TEST

START_TEST(json_log_format)
{
	h_result r;
	h_run(&r, 0, NULL, NULL, "--log-format", "json", "token", "list", "svc_missing_json", NULL);
	ck_assert_exit(r, 4);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(r.err), md_secret_len(r.err), NULL), 0);
	char lvl[16];
	md_json_str(&d, md_json_get(&d, 0, "level"), lvl, sizeof lvl);
	ck_assert_str_eq(lvl, "error");
	md_json_free(&d);
	h_result_free(&r);
}
END_TEST

Suite *suite_errors(void)
{
	Suite *s = h_suite("errors");
	TCase *tc = h_tcase("errors");
	tcase_add_loop_test(tc, validation_error_sends_nothing, 0,
			    (int)(sizeof bad_cases / sizeof bad_cases[0]));
	tcase_add_test(tc, exec_missing_command_127_before_mint);
	tcase_add_test(tc, plain_http_refused_off_loopback);
	tcase_add_test(tc, no_route_is_told_apart);
	tcase_add_test(tc, help_and_version);
	tcase_add_test(tc, json_log_format);
	suite_add_tcase(s, tc);
	return s;
}
