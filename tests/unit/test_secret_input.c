/* test_secret_input.c - unit tests for lib/secret.[ch], getting a secret
 * in: md_secret_read_fd (trimming, one line only, no NUL, the size limit,
 * several reads), md_secret_read_file (a missing or empty file names its
 * path) and md_secret_take_env (the value moved out of the environment and
 * wiped there); what comes in is watched (redacted from messages). The
 * rest of secret.c is in test_secret.c.
 *
 * Project rule: a test never prints a secret value. Secret-like values are
 * compared with memcmp()/strstr() inside ck_assert_msg() with a fixed
 * message, never with ck_assert_str_eq(). */
#include <check.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/secret.h"

#define FAKE "test-secret-value-123456"
#define ENV_NAME "MDCRED_UNIT_TEST_FAKE_TOKEN"

static bool secret_is(const md_secret *s, const char *want)
{
	size_t n = strlen(want);
	return md_secret_len(s) == n && memcmp(md_secret_str(s), want, n + 1) == 0;
}

/* Redacts a copy of msg and compares with want, without printing either. */
static void redacts_to(const char *msg, const char *want)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", msg);
	md_secret_redact(buf);
	ck_assert_msg(strcmp(buf, want) == 0, "redaction result differs from expected");
}

/* Writes data into a pipe, closes the write end and reads it back. */
static int read_via_pipe(const void *data, size_t n, size_t max, md_secret **out, md_error *err)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(n < 60000); /* fits the pipe buffer */
	if (n)
		ck_assert_int_eq(write(p[1], data, n), (ssize_t)n);
	close(p[1]);
	int rc = md_secret_read_fd(p[0], max, out, err);
	close(p[0]);
	return rc;
}

static char *temp_file_with(const void *data, size_t n)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/mdcred-unit-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	if (n)
		ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
	return path;
}

/* ---- reading ---- */

START_TEST(read_fd_trims_trailing_newline)
{
	md_secret *s = NULL;
	md_error err = {0};
	ck_assert_int_eq(read_via_pipe(FAKE "\n", strlen(FAKE) + 1, 4096, &s, &err), MD_OK);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(secret_is(s, FAKE), "value mismatch");
	md_secret_free(s);
}
END_TEST

START_TEST(read_fd_trims_trailing_whitespace)
{
	static const char in[] = FAKE " \t\r\n\n";
	md_secret *s = NULL;
	md_error err = {0};
	ck_assert_int_eq(read_via_pipe(in, sizeof in - 1, 4096, &s, &err), MD_OK);
	ck_assert_msg(secret_is(s, FAKE), "value mismatch");
	md_secret_free(s);
}
END_TEST

START_TEST(read_fd_without_newline)
{
	md_secret *s = NULL;
	md_error err = {0};
	ck_assert_int_eq(read_via_pipe(FAKE, strlen(FAKE), 4096, &s, &err), MD_OK);
	ck_assert_msg(secret_is(s, FAKE), "value mismatch");
	md_secret_free(s);
}
END_TEST

START_TEST(read_fd_rejects_empty)
{
	md_secret *s = (md_secret *)1;
	md_error err = {0};
	ck_assert_int_eq(read_via_pipe("", 0, 4096, &s, &err), MD_EUSAGE);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(err.code, MD_EUSAGE);
	ck_assert_str_ne(err.msg, "");
	md_err_clear(&err);
	ck_assert_int_eq(read_via_pipe("\n \n", 3, 4096, &s, &err), MD_EUSAGE);
	ck_assert_ptr_null(s);
	ck_assert_str_ne(err.msg, "");
}
END_TEST

START_TEST(read_fd_rejects_multi_line)
{
	static const char in[] = "first-line-fake-value\nsecond-line-fake-value\n";
	md_secret *s = (md_secret *)1;
	md_error err = {0};
	ck_assert_int_eq(read_via_pipe(in, sizeof in - 1, 4096, &s, &err), MD_EUSAGE);
	ck_assert_ptr_null(s);
	ck_assert_str_ne(err.msg, "");
	ck_assert_msg(strstr(err.msg, "line-fake-value") == NULL, "value in error message");
}
END_TEST

START_TEST(read_fd_rejects_embedded_nul)
{
	static const char in[] = "test-secret\0value-123456";
	md_secret *s = (md_secret *)1;
	md_error err = {0};
	ck_assert_int_eq(read_via_pipe(in, sizeof in - 1, 4096, &s, &err), MD_EUSAGE);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(read_fd_rejects_over_max)
{
	char in[100];
	memset(in, 'k', sizeof in);
	md_secret *s = (md_secret *)1;
	md_error err = {0};
	ck_assert_int_eq(read_via_pipe(in, sizeof in, 50, &s, &err), MD_EUSAGE);
	ck_assert_ptr_null(s);
	ck_assert_str_ne(err.msg, "");
	md_err_clear(&err);
	ck_assert_int_eq(read_via_pipe(in, 51, 50, &s, &err), MD_EUSAGE);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(read_fd_exactly_max_ok)
{
	md_secret *s = NULL;
	md_error err = {0};
	ck_assert_int_eq(read_via_pipe(FAKE, strlen(FAKE), strlen(FAKE), &s, &err), MD_OK);
	ck_assert_msg(secret_is(s, FAKE), "value mismatch");
	md_secret_free(s);
}
END_TEST

/* max applies to the value after trailing whitespace is stripped: a value
 * of exactly max bytes written with echo (ending in "\n") is fine. */
START_TEST(read_fd_exactly_max_with_newline_ok)
{
	md_secret *s = NULL;
	md_error err = {0};
	int rc = read_via_pipe(FAKE "\n", strlen(FAKE) + 1, strlen(FAKE), &s, &err);
	ck_assert_msg(rc == MD_OK, "rejected: %s", err.msg);
	ck_assert_msg(secret_is(s, FAKE), "value mismatch");
	md_secret_free(s);
}
END_TEST

START_TEST(read_fd_over_max_after_trim_rejected)
{
	/* max + 1 bytes of value, then a newline */
	md_secret *s = (md_secret *)1;
	md_error err = {0};
	ck_assert_int_eq(read_via_pipe(FAKE "\n", strlen(FAKE) + 1, strlen(FAKE) - 1, &s, &err),
			 MD_EUSAGE);
	ck_assert_ptr_null(s);
	ck_assert_str_ne(err.msg, "");
}
END_TEST

START_TEST(read_fd_multiple_reads)
{
	size_t n = 20000; /* several read() calls of 4096 */
	char *in = malloc(n + 1);
	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < n; i++)
		in[i] = (char)('A' + i % 26);
	in[n] = '\n';
	md_secret *s = NULL;
	md_error err = {0};
	ck_assert_int_eq(read_via_pipe(in, n + 1, 65536, &s, &err), MD_OK);
	ck_assert_uint_eq(md_secret_len(s), n);
	ck_assert_msg(memcmp(md_secret_str(s), in, n) == 0, "value mismatch");
	ck_assert_int_eq(md_secret_str(s)[n], '\0');
	md_secret_free(s);
	free(in);
}
END_TEST

START_TEST(read_fd_result_is_watched)
{
	md_secret *s = NULL;
	md_error err = {0};
	ck_assert_int_eq(read_via_pipe(FAKE "\n", strlen(FAKE) + 1, 4096, &s, &err), MD_OK);
	redacts_to("got " FAKE, "got [redacted]");
	md_secret_free(s);
	redacts_to("got " FAKE, "got [redacted]"); /* for the rest of the process */
}
END_TEST

START_TEST(read_fd_bad_descriptor)
{
	md_secret *s = (md_secret *)1;
	md_error err = {0};
	ck_assert_int_eq(md_secret_read_fd(-1, 4096, &s, &err), MD_EUSAGE);
	ck_assert_ptr_null(s);
	ck_assert_str_ne(err.msg, "");
}
END_TEST

START_TEST(read_file_missing_is_usage)
{
	md_secret *s = NULL;
	md_error err = {0};
	const char *path = "/nonexistent-mdcred-dir/token-file";
	ck_assert_int_eq(md_secret_read_file(path, 4096, &s, &err), MD_EUSAGE);
	ck_assert_int_eq(err.code, MD_EUSAGE);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
}
END_TEST

/* *out is NULL on every failure, so `_cleanup_secret_ md_secret *t;` with
 * no initializer is safe even when the file is missing. */
START_TEST(read_file_missing_sets_out_null)
{
	md_secret *s = (md_secret *)1; /* stands for an uninitialized pointer */
	md_error err = {0};
	int rc = md_secret_read_file("/nonexistent-mdcred-dir/token-file", 4096, &s, &err);
	ck_assert_int_eq(rc, MD_EUSAGE);
	ck_assert_msg(s == NULL, "*out left unset on open failure");
}
END_TEST

START_TEST(read_file_reads_value)
{
	const char *path = temp_file_with(FAKE "\n", strlen(FAKE) + 1);
	md_secret *s = NULL;
	md_error err = {0};
	int rc = md_secret_read_file(path, 4096, &s, &err);
	unlink(path);
	ck_assert_int_eq(rc, MD_OK);
	ck_assert_msg(secret_is(s, FAKE), "value mismatch");
	redacts_to(FAKE, "[redacted]");
	md_secret_free(s);
}
END_TEST

START_TEST(read_file_empty_names_path)
{
	const char *path = temp_file_with("", 0);
	md_secret *s = (md_secret *)1;
	md_error err = {0};
	int rc = md_secret_read_file(path, 4096, &s, &err);
	unlink(path);
	ck_assert_int_eq(rc, MD_EUSAGE);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
}
END_TEST

/* ---- environment ---- */

START_TEST(take_env_moves_value)
{
	ck_assert_int_eq(setenv(ENV_NAME, FAKE, 1), 0);
	md_secret *s = NULL;
	md_error err = {0};
	ck_assert_int_eq(md_secret_take_env(ENV_NAME, &s, &err), MD_OK);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(secret_is(s, FAKE), "value mismatch");
	ck_assert_ptr_null(getenv(ENV_NAME));
	md_secret_free(s);
}
END_TEST

START_TEST(take_env_wipes_original_memory)
{
	ck_assert_int_eq(setenv(ENV_NAME, FAKE, 1), 0);
	char *orig = getenv(ENV_NAME);
	ck_assert_ptr_nonnull(orig);
	size_t n = strlen(orig);
	ck_assert_uint_eq(n, strlen(FAKE));
	md_secret *s = NULL;
	md_error err = {0};
	ck_assert_int_eq(md_secret_take_env(ENV_NAME, &s, &err), MD_OK);
	/* glibc keeps setenv() strings allocated after unsetenv(), so the bytes
	 * getenv() pointed at can still be inspected. */
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(orig[i] == '\0', "environment byte %zu not wiped", i);
	md_secret_free(s);
}
END_TEST

START_TEST(take_env_unset_gives_null)
{
	unsetenv(ENV_NAME);
	md_secret *s = (md_secret *)1;
	md_error err = {0};
	ck_assert_int_eq(md_secret_take_env(ENV_NAME, &s, &err), MD_OK);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(take_env_trims_and_watches)
{
	ck_assert_int_eq(setenv(ENV_NAME, FAKE "\n", 1), 0);
	md_secret *s = NULL;
	md_error err = {0};
	ck_assert_int_eq(md_secret_take_env(ENV_NAME, &s, &err), MD_OK);
	ck_assert_msg(secret_is(s, FAKE), "value mismatch");
	redacts_to("env " FAKE, "env [redacted]");
	md_secret_free(s);
}
END_TEST

START_TEST(take_env_other_variables_untouched)
{
	ck_assert_int_eq(setenv(ENV_NAME, FAKE, 1), 0);
	ck_assert_int_eq(setenv(ENV_NAME "_OTHER", "keep-me", 1), 0);
	md_secret *s = NULL;
	md_error err = {0};
	ck_assert_int_eq(md_secret_take_env(ENV_NAME, &s, &err), MD_OK);
	ck_assert_ptr_nonnull(getenv(ENV_NAME "_OTHER"));
	ck_assert_str_eq(getenv(ENV_NAME "_OTHER"), "keep-me");
	md_secret_free(s);
	unsetenv(ENV_NAME "_OTHER");
}
END_TEST

static Suite *secret_input_suite(void)
{
	Suite *s = suite_create("secret_input");

	TCase *tc = tcase_create("read");
	tcase_add_test(tc, read_fd_trims_trailing_newline);
	tcase_add_test(tc, read_fd_trims_trailing_whitespace);
	tcase_add_test(tc, read_fd_without_newline);
	tcase_add_test(tc, read_fd_rejects_empty);
	tcase_add_test(tc, read_fd_rejects_multi_line);
	tcase_add_test(tc, read_fd_rejects_embedded_nul);
	tcase_add_test(tc, read_fd_rejects_over_max);
	tcase_add_test(tc, read_fd_exactly_max_ok);
	tcase_add_test(tc, read_fd_exactly_max_with_newline_ok);
	tcase_add_test(tc, read_fd_over_max_after_trim_rejected);
	tcase_add_test(tc, read_fd_multiple_reads);
	tcase_add_test(tc, read_fd_result_is_watched);
	tcase_add_test(tc, read_fd_bad_descriptor);
	tcase_add_test(tc, read_file_missing_is_usage);
	tcase_add_test(tc, read_file_missing_sets_out_null);
	tcase_add_test(tc, read_file_reads_value);
	tcase_add_test(tc, read_file_empty_names_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("env");
	tcase_add_test(tc, take_env_moves_value);
	tcase_add_test(tc, take_env_wipes_original_memory);
	tcase_add_test(tc, take_env_unset_gives_null);
	tcase_add_test(tc, take_env_trims_and_watches);
	tcase_add_test(tc, take_env_other_variables_untouched);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(secret_input_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
