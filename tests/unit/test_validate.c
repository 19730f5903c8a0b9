/* test_validate.c - unit tests for lib/validate.[ch]. Every failure must be
 * MD_EUSAGE with a non-empty message. */
#include <check.h>

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/validate.h"

/* Checks a failure: return value, err.code and a non-empty one-line message. */
#define ck_usage(call_rc, err, what)                                                      \
	do {                                                                              \
		int rc_ = (call_rc);                                                      \
		ck_assert_msg(rc_ == MD_EUSAGE, "%s: rc %d, want MD_EUSAGE", (what), rc_); \
		ck_assert_msg((err).code == MD_EUSAGE, "%s: err.code %d", (what),          \
			      (int)(err).code);                                           \
		ck_assert_msg((err).msg[0] != '\0', "%s: empty message", (what));          \
		ck_assert_msg(strchr((err).msg, '\n') == NULL, "%s: multi-line message",   \
			      (what));                                                    \
	} while (0)

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- durations ---- */

static long long dur_ok(const char *s, bool allow_none)
{
	md_error err = {0};
	long long v = -12345;
	int rc = md_valid_duration("--test", s, allow_none, &v, &err);
	ck_assert_msg(rc == MD_OK, "'%s' rejected: %s", s, err.msg);
	return v;
}

static void dur_bad(const char *s, bool allow_none)
{
	md_error err = {0};
	long long v = -12345;
	ck_usage(md_valid_duration("--test", s, allow_none, &v, &err), err, s);
	ck_assert_msg(v == -12345, "'%s': output written on failure", s);
	ck_assert_ptr_nonnull(strstr(err.msg, "--test"));
}

START_TEST(duration_plain_seconds)
{
	ck_assert_int_eq(dur_ok("300", false), 300);
	ck_assert_int_eq(dur_ok("0", false), 0);
}
END_TEST

START_TEST(duration_suffixes)
{
	ck_assert_int_eq(dur_ok("300s", false), 300);
	ck_assert_int_eq(dur_ok("5m", false), 300);
	ck_assert_int_eq(dur_ok("12h", false), 43200);
	ck_assert_int_eq(dur_ok("7d", false), 604800);
	ck_assert_int_eq(dur_ok("365d", false), 31536000);
}
END_TEST

START_TEST(duration_none_allowed)
{
	ck_assert(dur_ok("none", true) == MD_TTL_NONE);
}
END_TEST

START_TEST(duration_none_not_allowed)
{
	dur_bad("none", false);
}
END_TEST

START_TEST(duration_bad_forms)
{
	static const char *const bad[] = {
		"", "5x", "-5", "m", "1.5h", " 5m", "5m ", "+5", "5 m", "5mm", "s", "0x10",
		"five", "5M", "NONE", "1e3", "5ms",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		dur_bad(bad[i], false);
		dur_bad(bad[i], true);
	}
}
END_TEST

START_TEST(duration_overflow_rejected)
{
	dur_bad("999999999999999999d", true);
	dur_bad("9999999999999999999", true);  /* over LLONG_MAX */
	dur_bad("99999999999999999999999999s", true); /* very long */
	dur_bad("153722867280912931m", true);  /* just over LLONG_MAX / 60 */
}
END_TEST

START_TEST(duration_large_but_fits)
{
	ck_assert(dur_ok("9223372036854775807", false) == 9223372036854775807LL);
	ck_assert(dur_ok("153722867280912930m", false) == 153722867280912930LL * 60);
}
END_TEST

START_TEST(duration_message_mentions_value)
{
	md_error err = {0};
	long long v;
	md_valid_duration("--ttl", "5x", false, &v, &err);
	ck_assert_ptr_nonnull(strstr(err.msg, "5x"));
}
END_TEST

/* ---- ttl ---- */

static long long ttl_ok(const char *s)
{
	md_error err = {0};
	long long v = -12345;
	int rc = md_valid_ttl(s, &v, &err);
	ck_assert_msg(rc == MD_OK, "ttl '%s' rejected: %s", s, err.msg);
	return v;
}

static void ttl_bad(const char *s)
{
	md_error err = {0};
	long long v = -12345;
	ck_usage(md_valid_ttl(s, &v, &err), err, s);
	ck_assert_msg(v == -12345, "'%s': output written on failure", s);
}

START_TEST(ttl_bounds)
{
	ttl_bad("299");
	ck_assert_int_eq(ttl_ok("300"), 300);
	ck_assert_int_eq(ttl_ok("31536000"), 31536000);
	ttl_bad("31536001");
}
END_TEST

START_TEST(ttl_units)
{
	ck_assert_int_eq(ttl_ok("5m"), 300);
	ttl_bad("4m");
	ttl_bad("299s");
	ck_assert_int_eq(ttl_ok("365d"), 31536000);
	ttl_bad("366d");
	ttl_bad("8761h");
	ck_assert_int_eq(ttl_ok("24h"), 86400);
	ttl_bad("0");
}
END_TEST

START_TEST(ttl_none)
{
	ck_assert(ttl_ok("none") == MD_TTL_NONE);
}
END_TEST

START_TEST(ttl_bad_syntax)
{
	ttl_bad("");
	ttl_bad("forever");
	ttl_bad("-300");
	ttl_bad("999999999999999999d");
}
END_TEST

/* ---- usernames ---- */

static void user_ok(const char *s)
{
	md_error err = {0};
	ck_assert_msg(md_valid_username(s, &err) == MD_OK, "username rejected: %s", err.msg);
}

static void user_bad(const char *s)
{
	md_error err = {0};
	ck_usage(md_valid_username(s, &err), err, "username");
}

START_TEST(username_valid)
{
	user_ok("abc");
	user_ok("a_1");
	user_ok("Abc_DEF_123");
	user_ok("z__");
	char *s = repeat('a', 255);
	user_ok(s);
	s[0] = 'Q';
	s[254] = '9';
	user_ok(s);
	free(s);
}
END_TEST

START_TEST(username_invalid)
{
	static const char *const bad[] = {
		"", "a", "ab", "1abc", "_abc", "a-b", "a b", "abc.", "ab\n", "abc!", "a\tb",
		"abc\xc3\xa9", "\xc3\xa9" "abc", "ab\x7f",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		user_bad(bad[i]);
}
END_TEST

START_TEST(username_too_long)
{
	char *s = repeat('a', 256);
	user_bad(s);
	free(s);
}
END_TEST

/* ---- token names ---- */

static void name_ok(const char *s)
{
	md_error err = {0};
	ck_assert_msg(md_valid_token_name(s, &err) == MD_OK, "name rejected: %s", err.msg);
}

static void name_bad(const char *s)
{
	md_error err = {0};
	ck_usage(md_valid_token_name(s, &err), err, "token name");
}

START_TEST(token_name_valid)
{
	name_ok("x");
	name_ok("ci deploy token");
	name_ok("caf\xc3\xa9 \xf0\x9f\xa6\x86");
	name_ok("MotherDuck Extension 2");
	name_ok("motherduck extension-ish");
	char *s = repeat('n', 255);
	name_ok(s);
	free(s);
}
END_TEST

START_TEST(token_name_empty)
{
	name_bad("");
}
END_TEST

START_TEST(token_name_too_long)
{
	char *s = repeat('n', 256);
	name_bad(s);
	free(s);
}
END_TEST

START_TEST(token_name_control_chars)
{
	name_bad("a\x01");
	name_bad("line\nbreak");
	name_bad("tab\there");
	name_bad("\x1f");
	name_bad("del\x7f");
}
END_TEST

START_TEST(token_name_reserved)
{
	name_bad("MotherDuck Extension");
	name_bad("MotherDuck Flights");
}
END_TEST

/* ---- token types ---- */

START_TEST(token_type_valid)
{
	md_error err = {0};
	ck_assert_int_eq(md_valid_token_type("read_write", &err), MD_OK);
	ck_assert_int_eq(md_valid_token_type("read_scaling", &err), MD_OK);
}
END_TEST

START_TEST(token_type_invalid)
{
	static const char *const bad[] = {
		"", "READ_WRITE", "read_only", "read_write ", " read_scaling", "readwrite", "rw",
		"read_scaling\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		md_error err = {0};
		ck_usage(md_valid_token_type(bad[i], &err), err, bad[i]);
	}
}
END_TEST

/* ---- token ids ---- */

START_TEST(token_id_valid)
{
	md_error err = {0};
	ck_assert_int_eq(md_valid_token_id("3f2b6c1e-8d4a-4c2b-9e7f-0a1b2c3d4e5f", &err), MD_OK);
	ck_assert_int_eq(md_valid_token_id("ABC-123", &err), MD_OK);
	ck_assert_int_eq(md_valid_token_id("x", &err), MD_OK);
	char *s = repeat('a', 64);
	ck_assert_int_eq(md_valid_token_id(s, &err), MD_OK);
	free(s);
}
END_TEST

START_TEST(token_id_invalid)
{
	static const char *const bad[] = {
		"", "../x", "a/b", "..", "a b", "a%2Fb", "abc?x=1", "a#b", "a_b", "a.b", "a\\b",
		"id\n", "\xc3\xa9",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		md_error err = {0};
		ck_usage(md_valid_token_id(bad[i], &err), err, "token id");
	}
}
END_TEST

START_TEST(token_id_too_long)
{
	char *s = repeat('a', 65);
	md_error err = {0};
	ck_usage(md_valid_token_id(s, &err), err, "65-char id");
	free(s);
}
END_TEST

/* ---- instance sizes ---- */

START_TEST(instance_size_valid)
{
	static const char *const ok[] = {"pulse", "standard", "jumbo", "mega", "giga"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		md_error err = {0};
		ck_assert_int_eq(md_valid_instance_size("--size", ok[i], &err), MD_OK);
	}
}
END_TEST

START_TEST(instance_size_invalid)
{
	static const char *const bad[] = {"", "Pulse", "huge", "giga ", "standard\n", "tera"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		md_error err = {0};
		ck_usage(md_valid_instance_size("--rw-size", bad[i], &err), err, bad[i]);
		ck_assert_ptr_nonnull(strstr(err.msg, "--rw-size"));
	}
}
END_TEST

/* ---- flock ---- */

START_TEST(flock_size_range)
{
	md_error err = {0};
	long long v = -1;
	ck_assert_int_eq(md_valid_flock_size("0", &v, &err), MD_OK);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(md_valid_flock_size("64", &v, &err), MD_OK);
	ck_assert_int_eq(v, 64);
	ck_assert_int_eq(md_valid_flock_size("16", &v, &err), MD_OK);
	ck_assert_int_eq(v, 16);
}
END_TEST

START_TEST(flock_size_invalid)
{
	static const char *const bad[] = {"65", "-1", "", "1.5", " 1", "1 ", "abc", "+1",
					  "99999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		md_error err = {0};
		long long v = 7;
		ck_usage(md_valid_flock_size(bad[i], &v, &err), err, bad[i]);
		ck_assert_int_eq(v, 7);
	}
}
END_TEST

/* ---- cooldown ---- */

START_TEST(cooldown_range)
{
	md_error err = {0};
	long long v = 0;
	ck_assert_int_eq(md_valid_cooldown("--cooldown", "60", &v, &err), MD_OK);
	ck_assert_int_eq(v, 60);
	ck_assert_int_eq(md_valid_cooldown("--cooldown", "86400", &v, &err), MD_OK);
	ck_assert_int_eq(v, 86400);
}
END_TEST

START_TEST(cooldown_invalid)
{
	static const char *const bad[] = {"59", "86401", "0", "-60", "", "1m", "abc"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		md_error err = {0};
		long long v = 7;
		ck_usage(md_valid_cooldown("--cooldown", bad[i], &v, &err), err, bad[i]);
		ck_assert_ptr_nonnull(strstr(err.msg, "--cooldown"));
		ck_assert_int_eq(v, 7);
	}
}
END_TEST

/* ---- generic int ---- */

START_TEST(valid_int_range_and_message)
{
	md_error err = {0};
	long long v = 0;
	ck_assert_int_eq(md_valid_int("--n", "5", 5, 5, &v, &err), MD_OK);
	ck_assert_int_eq(v, 5);
	ck_usage(md_valid_int("--n", "6", 0, 5, &v, &err), err, "6 in 0..5");
	ck_assert_ptr_nonnull(strstr(err.msg, "--n"));
	ck_assert_ptr_nonnull(strstr(err.msg, "0..5"));
	md_err_clear(&err);
	ck_usage(md_valid_int("--n", "x", 0, 5, &v, &err), err, "x");
}
END_TEST

static Suite *validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("duration");
	tcase_add_test(tc, duration_plain_seconds);
	tcase_add_test(tc, duration_suffixes);
	tcase_add_test(tc, duration_none_allowed);
	tcase_add_test(tc, duration_none_not_allowed);
	tcase_add_test(tc, duration_bad_forms);
	tcase_add_test(tc, duration_overflow_rejected);
	tcase_add_test(tc, duration_large_but_fits);
	tcase_add_test(tc, duration_message_mentions_value);
	suite_add_tcase(s, tc);

	tc = tcase_create("ttl");
	tcase_add_test(tc, ttl_bounds);
	tcase_add_test(tc, ttl_units);
	tcase_add_test(tc, ttl_none);
	tcase_add_test(tc, ttl_bad_syntax);
	suite_add_tcase(s, tc);

	tc = tcase_create("username");
	tcase_add_test(tc, username_valid);
	tcase_add_test(tc, username_invalid);
	tcase_add_test(tc, username_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("token");
	tcase_add_test(tc, token_name_valid);
	tcase_add_test(tc, token_name_empty);
	tcase_add_test(tc, token_name_too_long);
	tcase_add_test(tc, token_name_control_chars);
	tcase_add_test(tc, token_name_reserved);
	tcase_add_test(tc, token_type_valid);
	tcase_add_test(tc, token_type_invalid);
	tcase_add_test(tc, token_id_valid);
	tcase_add_test(tc, token_id_invalid);
	tcase_add_test(tc, token_id_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("numbers");
	tcase_add_test(tc, instance_size_valid);
	tcase_add_test(tc, instance_size_invalid);
	tcase_add_test(tc, flock_size_range);
	tcase_add_test(tc, flock_size_invalid);
	tcase_add_test(tc, cooldown_range);
	tcase_add_test(tc, cooldown_invalid);
	tcase_add_test(tc, valid_int_range_and_message);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(validate_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
