/* test_error.c - unit tests for lib/error.[ch].
 *
 * Project rule: a test never prints a secret value; messages that may hold
 * one are checked with strstr()/memmem() and a fixed failure message. */
#define _GNU_SOURCE /* memmem */
#include <check.h>

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/secret.h"

#define FAKE "test-secret-value-123456"

static md_secret *watched(const char *v)
{
	md_secret *s = md_secret_new(0);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(md_secret_set(s, v, strlen(v)), 0);
	md_secret_watch(s);
	return s;
}

START_TEST(set_returns_code_and_formats)
{
	md_error err = {0};
	ck_assert_int_eq(md_err_set(&err, MD_EAUTH, "user %s: HTTP %d", "alice", 401), MD_EAUTH);
	ck_assert_int_eq(err.code, MD_EAUTH);
	ck_assert_str_eq(err.msg, "user alice: HTTP 401");
}
END_TEST

START_TEST(set_each_code_returned)
{
	md_error err;
	for (int c = MD_OK; c <= MD_ETRANSIENT; c++) {
		md_err_clear(&err);
		ck_assert_int_eq(md_err_set(&err, (md_code)c, "code %d", c), c);
		ck_assert_int_eq(err.code, c);
	}
}
END_TEST

START_TEST(set_null_err_returns_code)
{
	ck_assert_int_eq(md_err_set(NULL, MD_ECONFLICT, "ignored %d", 1), MD_ECONFLICT);
	ck_assert_int_eq(md_err_set(NULL, MD_OK, "ignored"), MD_OK);
}
END_TEST

START_TEST(set_overwrites_previous_message)
{
	md_error err = {0};
	md_err_set(&err, MD_EFAIL, "a much longer first message");
	md_err_set(&err, MD_EUSAGE, "short");
	ck_assert_int_eq(err.code, MD_EUSAGE);
	ck_assert_str_eq(err.msg, "short");
}
END_TEST

START_TEST(set_flattens_newlines)
{
	md_error err = {0};
	md_err_set(&err, MD_EFAIL, "line1\nline2\r\nline3%s", "\n");
	ck_assert_str_eq(err.msg, "line1 line2  line3 ");
	ck_assert_ptr_null(strchr(err.msg, '\n'));
	ck_assert_ptr_null(strchr(err.msg, '\r'));
}
END_TEST

START_TEST(set_truncates_long_message)
{
	char big[2000];
	memset(big, 'm', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	md_error err = {0};
	md_err_set(&err, MD_EFAIL, "%s", big);
	ck_assert_uint_eq(strlen(err.msg), MD_ERR_MSG_MAX - 1);
	ck_assert_int_eq(err.msg[MD_ERR_MSG_MAX - 1], '\0');
}
END_TEST

START_TEST(set_does_not_touch_http_status)
{
	md_error err = {0};
	err.http_status = 503;
	md_err_set(&err, MD_ETRANSIENT, "server busy");
	ck_assert_int_eq(err.http_status, 503);
}
END_TEST

START_TEST(prefix_adds_context)
{
	md_error err = {0};
	md_err_set(&err, MD_ECONFLICT, "already exists");
	md_err_prefix(&err, "token create %s", "ci-token");
	ck_assert_str_eq(err.msg, "token create ci-token: already exists");
	ck_assert_int_eq(err.code, MD_ECONFLICT);
}
END_TEST

START_TEST(prefix_twice_nests)
{
	md_error err = {0};
	md_err_set(&err, MD_EFAIL, "boom");
	md_err_prefix(&err, "inner");
	md_err_prefix(&err, "outer");
	ck_assert_str_eq(err.msg, "outer: inner: boom");
}
END_TEST

START_TEST(prefix_on_empty_message)
{
	md_error err = {0};
	md_err_prefix(&err, "ctx");
	ck_assert_str_eq(err.msg, "ctx: ");
}
END_TEST

START_TEST(prefix_flattens_newlines)
{
	md_error err = {0};
	md_err_set(&err, MD_EFAIL, "boom");
	md_err_prefix(&err, "a\nb");
	ck_assert_str_eq(err.msg, "a b: boom");
}
END_TEST

START_TEST(prefix_null_err_is_noop)
{
	md_err_prefix(NULL, "ctx %d", 1);
}
END_TEST

START_TEST(prefix_long_stays_terminated)
{
	char big[1000];
	memset(big, 'p', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	md_error err = {0};
	md_err_set(&err, MD_EFAIL, "%s", big);
	md_err_prefix(&err, "%s", big);
	ck_assert_uint_lt(strlen(err.msg), MD_ERR_MSG_MAX);

	md_err_set(&err, MD_EFAIL, "tail-of-message");
	md_err_prefix(&err, "%.400s", big);
	ck_assert_uint_lt(strlen(err.msg), MD_ERR_MSG_MAX);
	ck_assert_int_eq(strncmp(err.msg + 400, ": tail-of-message", 17), 0);
}
END_TEST

START_TEST(clear_resets)
{
	md_error err;
	md_err_set(&err, MD_EAUTH, "denied");
	err.http_status = 403;
	md_err_clear(&err);
	ck_assert_int_eq(err.code, MD_OK);
	ck_assert_int_eq(err.http_status, 0);
	ck_assert_str_eq(err.msg, "");
	md_err_clear(NULL);
}
END_TEST

START_TEST(exit_code_mapping)
{
	static const struct {
		md_code code;
		int exit;
	} map[] = {
		{MD_OK, 0},        {MD_EFAIL, 1},     {MD_EUSAGE, 2},     {MD_EAUTH, 3},
		{MD_ENOTFOUND, 4}, {MD_ECONFLICT, 5}, {MD_ETRANSIENT, 6},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		md_error err = {0};
		err.code = map[i].code;
		ck_assert_int_eq(md_err_exit_code(&err), map[i].exit);
	}
}
END_TEST

START_TEST(exit_code_unknown_and_null)
{
	md_error err = {0};
	err.code = (md_code)42;
	ck_assert_int_eq(md_err_exit_code(&err), 1);
	err.code = (md_code)-1;
	ck_assert_int_eq(md_err_exit_code(&err), 1);
	ck_assert_int_eq(md_err_exit_code(NULL), 1);
}
END_TEST

START_TEST(code_names)
{
	ck_assert_str_eq(md_err_code_name(MD_OK), "ok");
	ck_assert_str_eq(md_err_code_name(MD_EFAIL), "error");
	ck_assert_str_eq(md_err_code_name(MD_EUSAGE), "usage");
	ck_assert_str_eq(md_err_code_name(MD_EAUTH), "auth");
	ck_assert_str_eq(md_err_code_name(MD_ENOTFOUND), "not_found");
	ck_assert_str_eq(md_err_code_name(MD_ECONFLICT), "conflict");
	ck_assert_str_eq(md_err_code_name(MD_ETRANSIENT), "transient");
	ck_assert_str_eq(md_err_code_name((md_code)42), "error");
}
END_TEST

START_TEST(set_redacts_watched_secret)
{
	md_secret *s = watched(FAKE);
	md_error err = {0};
	md_err_set(&err, MD_EAUTH, "token %s was rejected", FAKE);
	ck_assert_msg(strstr(err.msg, FAKE) == NULL, "secret leaked into error message");
	ck_assert_msg(strcmp(err.msg, "token [redacted] was rejected") == 0, "unexpected message");
	md_secret_free(s);
}
END_TEST

START_TEST(set_redacts_secret_next_to_newlines)
{
	/* Redaction runs after newline flattening; a value next to a newline
	 * is still found. */
	md_secret *s = watched(FAKE);
	md_error err = {0};
	md_err_set(&err, MD_EFAIL, "body:\n%s\n", FAKE);
	ck_assert_msg(strstr(err.msg, FAKE) == NULL, "secret leaked into error message");
	ck_assert_msg(strcmp(err.msg, "body: [redacted] ") == 0, "unexpected message");
	md_secret_free(s);
}
END_TEST

START_TEST(prefix_redacts_watched_secret)
{
	md_secret *s = watched(FAKE);
	md_error err = {0};
	md_err_set(&err, MD_EFAIL, "failed");
	md_err_prefix(&err, "using %s", FAKE);
	ck_assert_msg(strstr(err.msg, FAKE) == NULL, "secret leaked into error prefix");
	ck_assert_msg(strcmp(err.msg, "using [redacted]: failed") == 0, "unexpected message");
	md_secret_free(s);
}
END_TEST

START_TEST(unwatched_value_kept)
{
	md_error err = {0};
	md_err_set(&err, MD_EFAIL, "id %s", "not-a-secret-identifier");
	ck_assert_str_eq(err.msg, "id not-a-secret-identifier");
}
END_TEST

/* Redaction runs over the whole formatted message before it is cut to
 * MD_ERR_MSG_MAX: a secret straddling the cut must not leave its prefix. */
START_TEST(set_long_message_does_not_leak_secret_prefix)
{
	md_secret *s = watched(FAKE);
	char pad[501];
	memset(pad, 'x', 500);
	pad[500] = '\0';
	md_error err = {0};
	md_err_set(&err, MD_EFAIL, "%s%s", pad, FAKE);
	ck_assert_msg(memmem(err.msg, strlen(err.msg), FAKE, 8) == NULL,
		      "part of a watched secret left in a truncated error message");
	md_secret_free(s);
}
END_TEST

static Suite *error_suite(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("set");
	tcase_add_test(tc, set_returns_code_and_formats);
	tcase_add_test(tc, set_each_code_returned);
	tcase_add_test(tc, set_null_err_returns_code);
	tcase_add_test(tc, set_overwrites_previous_message);
	tcase_add_test(tc, set_flattens_newlines);
	tcase_add_test(tc, set_truncates_long_message);
	tcase_add_test(tc, set_does_not_touch_http_status);
	suite_add_tcase(s, tc);

	tc = tcase_create("prefix");
	tcase_add_test(tc, prefix_adds_context);
	tcase_add_test(tc, prefix_twice_nests);
	tcase_add_test(tc, prefix_on_empty_message);
	tcase_add_test(tc, prefix_flattens_newlines);
	tcase_add_test(tc, prefix_null_err_is_noop);
	tcase_add_test(tc, prefix_long_stays_terminated);
	tcase_add_test(tc, clear_resets);
	suite_add_tcase(s, tc);

	tc = tcase_create("codes");
	tcase_add_test(tc, exit_code_mapping);
	tcase_add_test(tc, exit_code_unknown_and_null);
	tcase_add_test(tc, code_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("redaction");
	tcase_add_test(tc, set_redacts_watched_secret);
	tcase_add_test(tc, set_redacts_secret_next_to_newlines);
	tcase_add_test(tc, prefix_redacts_watched_secret);
	tcase_add_test(tc, unwatched_value_kept);
	tcase_add_test(tc, set_long_message_does_not_leak_secret_prefix);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(error_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
