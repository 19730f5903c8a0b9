/* test_json_check.c - unit tests for lib/base/json_check.c, the strict RFC 8259
 * grammar check that md_json_parse runs before jsmn: malformed documents
 * (unterminated, trailing data, bare words, what jsmn alone accepts), top-
 * level scalars, white space and len, what a failed parse leaves, and
 * nesting depth (no recursion: deep input fails cleanly). Driven through
 * md_json_parse, as callers see it. Shared helpers: json_util.h. */
#include <check.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "json_util.h"

/* ---- malformed ---- */

START_TEST(malformed_unterminated)
{
	static const char *const bad[] = {
		"{", "[", "{\"a\":1", "[1,2", "{\"a\":\"b", "\"abc", "{\"a\":[1,2}", "[{]",
		"{\"a\":{\"b\":1}", "[[[]]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], strlen(bad[i]));
}
END_TEST

START_TEST(malformed_trailing_garbage)
{
	static const char *const bad[] = {
		"{} x", "{}}", "[]]", "{\"a\":1}garbage", "[1] ,", "{}\n0", "\"a\" x",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], strlen(bad[i]));
}
END_TEST

START_TEST(malformed_two_top_level_values)
{
	static const char *const bad[] = {
		"{}{}", "[1] [2]", "{\"a\":1} {\"b\":2}", "\"a\" \"b\"", "[] {}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], strlen(bad[i]));
}
END_TEST

START_TEST(malformed_bare_words)
{
	static const char *const bad[] = {
		"hello", "{\"a\":hello}", "[undefined]", "['a']", "{a:1}", "[True]", "{\"a\":+1}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], strlen(bad[i]));
}
END_TEST

START_TEST(malformed_structure)
{
	static const char *const bad[] = {
		"{]", "[}", "}", "]", "{\"a\" 1}", "{1:2}", "{[]:1}", "{{}:1}", ",",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], strlen(bad[i]));
}
END_TEST

START_TEST(malformed_empty_or_blank)
{
	parse_fails("", 0);
	parse_fails("   \n\t ", 6);
}
END_TEST

START_TEST(trailing_whitespace_accepted)
{
	md_json d;
	parse_ok(&d, " \t\r\n{\"a\":1} \t\r\n");
	ck_assert_int_eq(md_json_count(&d, 0), 1);
	md_json_free(&d);
}
END_TEST

START_TEST(parse_respects_len)
{
	/* Only the first len bytes count: the rest of the buffer is ignored. */
	static const char src[] = "{\"a\":1}trailing garbage";
	md_json d;
	md_error err = {0};
	ck_assert_int_eq(md_json_parse(&d, src, 7, &err), MD_OK);
	ck_assert_int_eq(int_at(&d, md_json_get(&d, 0, "a")), 1);
	md_json_free(&d);
}
END_TEST

START_TEST(every_prefix_of_valid_document_rejected)
{
	static const char doc[] =
		"{\"a\":1,\"b\":[true,false,null,-12,3.5e2],\"c\":{\"d\":\"e\\\"f\\u00e9"
		"\\ud83e\\udd86\",\"g\":[]},\"h\":\"\",\"i\":{}}";
	size_t n = sizeof doc - 1;
	md_json d;
	parse_ok(&d, doc);
	md_json_free(&d);
	for (size_t len = 0; len < n; len++) {
		md_error err = {0};
		int rc = md_json_parse(&d, doc, len, &err);
		if (rc == MD_OK)
			md_json_free(&d);
		ck_assert_msg(rc != MD_OK, "prefix of %zu bytes accepted: %.*s", len, (int)len,
			      doc);
	}
}
END_TEST

START_TEST(failed_parse_leaves_empty_doc)
{
	md_json d;
	md_error err = {0};
	ck_assert_int_ne(md_json_parse(&d, "[1,", 3, &err), MD_OK);
	ck_assert_ptr_null(d.toks);
	ck_assert_int_eq(d.ntok, 0);
	ck_assert_int_eq(md_json_type_of(&d, 0), MD_JSON_NONE);
	md_json_free(&d);
}
END_TEST

START_TEST(parse_without_err_pointer)
{
	md_json d;
	ck_assert_int_ne(md_json_parse(&d, "{", 1, NULL), MD_OK);
	ck_assert_int_eq(md_json_parse(&d, "{}", 2, NULL), MD_OK);
	md_json_free(&d);
}
END_TEST

/* jsmn alone (even with JSMN_STRICT) accepts all of these; md_json_parse
 * must not. {"a" "b"} would otherwise make md_json_get(doc, 0, "a") return
 * the token "b". */
START_TEST(strict_rejects_what_jsmn_accepts)
{
	static const char *const bad[] = {
		"{\"a\":tru}", "{\"a\":nul}", "[true1]", "[nan]", "[1 2]", "[1,]", "[,1]",
		"{\"a\":1,}", "{\"a\" \"b\"}", "{\"a\"}", "{\"a\":}", "[01]", "[1.2.3]", "[-]",
		"[\"a\":1]", "{\"a\":1 \"b\":2}",
	};
	char accepted[512] = "";
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		md_json d;
		md_error err = {0};
		if (md_json_parse(&d, bad[i], strlen(bad[i]), &err) == MD_OK) {
			md_json_free(&d);
			strncat(accepted, bad[i], sizeof accepted - strlen(accepted) - 3);
			strcat(accepted, "  ");
		}
	}
	ck_assert_msg(accepted[0] == '\0', "invalid JSON accepted: %s", accepted);
}
END_TEST

/* A top-level scalar is a whole JSON text (RFC 8259); jsmn alone reports a
 * primitive at the very end of the input as truncated. */
START_TEST(top_level_scalar_parses)
{
	static const char *const ok[] = {"42", "true", "false", "null", "-1"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		md_json d;
		md_error err = {0};
		int rc = md_json_parse(&d, ok[i], strlen(ok[i]), &err);
		ck_assert_msg(rc == MD_OK, "'%s' rejected: %s", ok[i], err.msg);
		md_json_free(&d);
	}
}
END_TEST

START_TEST(top_level_scalar_values)
{
	md_json d;
	parse_ok(&d, " -42 ");
	ck_assert_int_eq(md_json_type_of(&d, 0), MD_JSON_NUMBER);
	ck_assert_int_eq(int_at(&d, 0), -42);
	md_json_free(&d);
	parse_ok(&d, "\"caf\\u00e9\"\n");
	ck_assert_int_eq(md_json_type_of(&d, 0), MD_JSON_STRING);
	str_at_eq(&d, 0, "caf\xc3\xa9");
	md_json_free(&d);
	parse_ok(&d, "false");
	bool b = true;
	ck_assert_int_eq(md_json_bool(&d, 0, &b), 0);
	ck_assert(!b);
	md_json_free(&d);
	parse_ok(&d, "null");
	ck_assert_int_eq(md_json_type_of(&d, 0), MD_JSON_NULL);
	ck_assert_int_eq(md_json_count(&d, 0), 0);
	md_json_free(&d);
}
END_TEST

START_TEST(malformed_scalars)
{
	static const char *const bad[] = {
		"tru", "nul", "-", "1.", "1.e5", "1e", "01", "--1", ".5", "\"abc", "\"a\\\"",
		"\"\\u12\"", "\"tab\there\"", "truex", "1 2", "\"a\" 1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], strlen(bad[i]));
}
END_TEST

/* ---- nesting depth ---- */

START_TEST(deep_nesting_does_not_crash)
{
	const size_t depth = 200000;
	char *buf = malloc(2 * depth + 1);
	ck_assert_ptr_nonnull(buf);
	memset(buf, '[', depth);
	memset(buf + depth, ']', depth);
	buf[2 * depth] = '\0';
	md_json d;
	md_error err = {0};
	int rc = md_json_parse(&d, buf, 2 * depth, &err);
	if (rc == MD_OK) {
		ck_assert_int_eq(md_json_type_of(&d, 0), MD_JSON_ARRAY);
		ck_assert_int_eq(md_json_count(&d, 0), 1);
		ck_assert_int_eq(md_json_at(&d, 0, 0), 1);
		md_json_free(&d);
	} else {
		ck_assert_str_ne(err.msg, "");
	}
	free(buf);
}
END_TEST

START_TEST(moderate_nesting_parses)
{
	/* 100 levels: far more than any API answer, well inside any limit */
	char buf[256];
	memset(buf, '[', 100);
	memset(buf + 100, ']', 100);
	buf[200] = '\0';
	md_json d;
	parse_ok(&d, buf);
	ck_assert_int_eq(d.ntok, 100);
	ck_assert_int_eq(md_json_at(&d, 98, 0), 99);
	ck_assert_int_eq(md_json_count(&d, 99), 0);
	md_json_free(&d);
}
END_TEST

START_TEST(deep_unclosed_nesting_rejected)
{
	const size_t depth = 200000;
	char *buf = malloc(depth);
	ck_assert_ptr_nonnull(buf);
	memset(buf, '[', depth);
	parse_fails(buf, depth);
	free(buf);
}
END_TEST

static Suite *json_check_suite(void)
{
	Suite *s = suite_create("json_check");

	TCase *tc = tcase_create("malformed");
	tcase_add_test(tc, malformed_unterminated);
	tcase_add_test(tc, malformed_trailing_garbage);
	tcase_add_test(tc, malformed_two_top_level_values);
	tcase_add_test(tc, malformed_bare_words);
	tcase_add_test(tc, malformed_structure);
	tcase_add_test(tc, malformed_empty_or_blank);
	tcase_add_test(tc, trailing_whitespace_accepted);
	tcase_add_test(tc, parse_respects_len);
	tcase_add_test(tc, every_prefix_of_valid_document_rejected);
	tcase_add_test(tc, failed_parse_leaves_empty_doc);
	tcase_add_test(tc, parse_without_err_pointer);
	tcase_add_test(tc, strict_rejects_what_jsmn_accepts);
	tcase_add_test(tc, top_level_scalar_parses);
	tcase_add_test(tc, top_level_scalar_values);
	tcase_add_test(tc, malformed_scalars);
	suite_add_tcase(s, tc);

	tc = tcase_create("deep");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, deep_nesting_does_not_crash);
	tcase_add_test(tc, moderate_nesting_parses);
	tcase_add_test(tc, deep_unclosed_nesting_rejected);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_check_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
