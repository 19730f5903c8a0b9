/* test_json_writer.c - unit tests for lib/json.[ch], writing: md_jw_*
 * (commas, nesting depth, failure sticking) and md_json_escape (control
 * characters, embedded NUL, invalid UTF-8), checked by parsing the output
 * back. Shared helpers: json_util.h. */
#include <check.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "json_util.h"
#include "base/secret.h"

/* ---- writer ---- */

static md_secret *jw_new(md_jw *w)
{
	md_secret *s = md_secret_new(0);
	ck_assert_ptr_nonnull(s);
	md_jw_init(w, s);
	return s;
}

START_TEST(jw_round_trip)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_obj_begin(&w);
	md_jw_key(&w, "name");
	md_jw_str(&w, "quote \" back \\ slash / tab\t nl\n caf\xc3\xa9");
	md_jw_key(&w, "neg");
	md_jw_int(&w, -42);
	md_jw_key(&w, "max");
	md_jw_int(&w, LLONG_MAX);
	md_jw_key(&w, "min");
	md_jw_int(&w, LLONG_MIN);
	md_jw_key(&w, "yes");
	md_jw_bool(&w, true);
	md_jw_key(&w, "no");
	md_jw_bool(&w, false);
	md_jw_key(&w, "nil");
	md_jw_null(&w);
	md_jw_key(&w, "list");
	md_jw_arr_begin(&w);
	md_jw_int(&w, 1);
	md_jw_str(&w, "two");
	md_jw_arr_begin(&w);
	md_jw_arr_end(&w);
	md_jw_obj_begin(&w);
	md_jw_obj_end(&w);
	md_jw_arr_end(&w);
	md_jw_key(&w, "obj");
	md_jw_obj_begin(&w);
	md_jw_key(&w, "k");
	md_jw_strn(&w, "value-and-more", 5);
	md_jw_obj_end(&w);
	md_jw_obj_end(&w);
	ck_assert(md_jw_ok(&w));

	md_json d;
	parse_ok(&d, md_secret_str(s));
	ck_assert_int_eq(md_json_count(&d, 0), 9);
	str_at_eq(&d, md_json_get(&d, 0, "name"),
		  "quote \" back \\ slash / tab\t nl\n caf\xc3\xa9");
	ck_assert_int_eq(int_at(&d, md_json_get(&d, 0, "neg")), -42);
	ck_assert(int_at(&d, md_json_get(&d, 0, "max")) == LLONG_MAX);
	ck_assert(int_at(&d, md_json_get(&d, 0, "min")) == LLONG_MIN);
	bool b = false;
	ck_assert_int_eq(md_json_bool(&d, md_json_get(&d, 0, "yes"), &b), 0);
	ck_assert(b);
	ck_assert_int_eq(md_json_bool(&d, md_json_get(&d, 0, "no"), &b), 0);
	ck_assert(!b);
	ck_assert_int_eq(md_json_type_of(&d, md_json_get(&d, 0, "nil")), MD_JSON_NULL);
	int list = md_json_get(&d, 0, "list");
	ck_assert_int_eq(md_json_count(&d, list), 4);
	ck_assert_int_eq(int_at(&d, md_json_at(&d, list, 0)), 1);
	str_at_eq(&d, md_json_at(&d, list, 1), "two");
	ck_assert_int_eq(md_json_type_of(&d, md_json_at(&d, list, 2)), MD_JSON_ARRAY);
	ck_assert_int_eq(md_json_type_of(&d, md_json_at(&d, list, 3)), MD_JSON_OBJECT);
	str_at_eq(&d, md_json_get(&d, md_json_get(&d, 0, "obj"), "k"), "value");
	md_json_free(&d);
	md_secret_free(s);
}
END_TEST

START_TEST(jw_commas_exact)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_obj_begin(&w);
	md_jw_key(&w, "a");
	md_jw_arr_begin(&w);
	md_jw_int(&w, 1);
	md_jw_int(&w, 2);
	md_jw_obj_begin(&w);
	md_jw_key(&w, "b");
	md_jw_arr_begin(&w);
	md_jw_arr_end(&w);
	md_jw_key(&w, "c");
	md_jw_null(&w);
	md_jw_obj_end(&w);
	md_jw_bool(&w, true);
	md_jw_arr_end(&w);
	md_jw_key(&w, "d");
	md_jw_obj_begin(&w);
	md_jw_obj_end(&w);
	md_jw_key(&w, "e");
	md_jw_str(&w, "x");
	md_jw_obj_end(&w);
	ck_assert(md_jw_ok(&w));
	ck_assert_str_eq(md_secret_str(s), "{\"a\":[1,2,{\"b\":[],\"c\":null},true],\"d\":{},\"e\":\"x\"}");
	md_secret_free(s);
}
END_TEST

START_TEST(jw_top_level_array)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_arr_begin(&w);
	md_jw_str(&w, "a");
	md_jw_str(&w, NULL);
	md_jw_int(&w, 0);
	md_jw_arr_end(&w);
	ck_assert(md_jw_ok(&w));
	ck_assert_str_eq(md_secret_str(s), "[\"a\",null,0]");
	md_secret_free(s);
}
END_TEST

START_TEST(jw_escapes_quote_and_backslash)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_str(&w, "a\"b\\c/d");
	ck_assert(md_jw_ok(&w));
	ck_assert_str_eq(md_secret_str(s), "\"a\\\"b\\\\c/d\"");
	md_secret_free(s);
}
END_TEST

START_TEST(jw_escapes_keys)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_obj_begin(&w);
	md_jw_key(&w, "k\"\n");
	md_jw_int(&w, 1);
	md_jw_obj_end(&w);
	ck_assert(md_jw_ok(&w));
	ck_assert_str_eq(md_secret_str(s), "{\"k\\\"\\n\":1}");
	md_secret_free(s);
}
END_TEST

START_TEST(jw_escapes_control_chars)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_str(&w, "\x01\b\f\n\r\t\x1f\x7f");
	ck_assert(md_jw_ok(&w));
	const char *out = md_secret_str(s);
	/* no raw control character may remain */
	for (const char *p = out; *p; p++)
		ck_assert_msg((unsigned char)*p >= 0x20, "raw control char 0x%02x", *p);
	ck_assert_ptr_nonnull(strstr(out, "\\u0001"));
	ck_assert_ptr_nonnull(strstr(out, "\\u001f"));
	ck_assert_ptr_nonnull(strstr(out, "\\n\\r\\t"));
	/* and it reads back to the same bytes */
	md_json d;
	parse_ok(&d, out);
	str_at_eq(&d, 0, "\x01\b\f\n\r\t\x1f\x7f");
	md_json_free(&d);
	md_secret_free(s);
}
END_TEST

START_TEST(jw_control_char_exact)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_str(&w, "a\x01z");
	ck_assert_str_eq(md_secret_str(s), "\"a\\u0001z\"");
	md_secret_free(s);
}
END_TEST

START_TEST(jw_embedded_nul_escaped)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_strn(&w, "a\0b", 3);
	ck_assert(md_jw_ok(&w));
	ck_assert_str_eq(md_secret_str(s), "\"a\\u0000b\"");
	md_secret_free(s);
}
END_TEST

START_TEST(jw_invalid_utf8_becomes_replacement)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_str(&w, "\xff");
	ck_assert_str_eq(md_secret_str(s), "\"\\ufffd\"");
	md_secret_free(s);

	s = jw_new(&w);
	md_jw_str(&w, "a\xc3"); /* truncated 2-byte sequence */
	ck_assert_str_eq(md_secret_str(s), "\"a\\ufffd\"");
	md_secret_free(s);
}
END_TEST

START_TEST(jw_invalid_utf8_never_passes_raw)
{
	static const char *const bad[] = {
		"\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
		"\xe2\x82", "x\xfe\xffy",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		md_jw w;
		md_secret *s = jw_new(&w);
		md_jw_str(&w, bad[i]);
		ck_assert(md_jw_ok(&w));
		const char *out = md_secret_str(s);
		for (const char *p = out; *p; p++)
			ck_assert_msg((unsigned char)*p < 0x80, "case %zu: raw byte 0x%02x kept", i,
				      (unsigned char)*p);
		ck_assert_msg(strstr(out, "\\ufffd") != NULL, "case %zu: no U+FFFD", i);
		md_json d;
		parse_ok(&d, out);
		char back[64];
		ck_assert_int_gt(md_json_str(&d, 0, back, sizeof back), 0);
		ck_assert_ptr_nonnull(strstr(back, "\xef\xbf\xbd"));
		md_json_free(&d);
		md_secret_free(s);
	}
}
END_TEST

/* What may not reach a terminal as it is leaves the writer escaped. */
START_TEST(jw_escapes_terminal_controls)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_str(&w, "a\x7f\xc2\x9b" "b\xe2\x80\xae" "c\x1b");
	ck_assert_str_eq(md_secret_str(s), "\"a\\u007f\\u009bb\\u202ec\\u001b\"");
	md_secret_free(s);
}
END_TEST

START_TEST(jw_valid_multibyte_kept)
{
	static const char txt[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x86 \xdf\xbf \xef\xbf\xbf "
				  "\xf4\x8f\xbf\xbf";
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_str(&w, txt);
	ck_assert(md_jw_ok(&w));
	char want[128];
	snprintf(want, sizeof want, "\"%s\"", txt);
	ck_assert_str_eq(md_secret_str(s), want);
	md_secret_free(s);
}
END_TEST

START_TEST(jw_depth_limit)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	for (int i = 0; i < MD_JW_MAX_DEPTH; i++)
		md_jw_arr_begin(&w);
	for (int i = 0; i < MD_JW_MAX_DEPTH; i++)
		md_jw_arr_end(&w);
	ck_assert(md_jw_ok(&w));
	ck_assert_uint_eq(md_secret_len(s), 2 * MD_JW_MAX_DEPTH);
	md_secret_free(s);
}
END_TEST

START_TEST(jw_depth_overflow_fails)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	for (int i = 0; i < MD_JW_MAX_DEPTH + 1; i++)
		md_jw_obj_begin(&w);
	ck_assert(!md_jw_ok(&w));
	ck_assert(w.failed);
	for (int i = 0; i < MD_JW_MAX_DEPTH + 1; i++)
		md_jw_obj_end(&w);
	ck_assert(!md_jw_ok(&w));
	md_secret_free(s);
}
END_TEST

START_TEST(jw_calls_after_failure_are_noops)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_arr_end(&w); /* close without open: failure */
	ck_assert(!md_jw_ok(&w));
	size_t len = md_secret_len(s);
	md_jw_str(&w, "more");
	md_jw_int(&w, 5);
	md_jw_bool(&w, true);
	md_jw_null(&w);
	md_jw_key(&w, "k");
	ck_assert_uint_eq(md_secret_len(s), len);
	ck_assert(!md_jw_ok(&w));
	md_secret_free(s);
}
END_TEST

START_TEST(jw_unbalanced_not_ok)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_obj_begin(&w);
	md_jw_key(&w, "a");
	md_jw_arr_begin(&w);
	md_jw_arr_end(&w);
	ck_assert(!md_jw_ok(&w)); /* object still open */
	md_jw_obj_end(&w);
	ck_assert(md_jw_ok(&w));
	md_jw_obj_end(&w); /* one close too many */
	ck_assert(!md_jw_ok(&w));
	md_secret_free(s);
}
END_TEST

START_TEST(jw_fresh_writer_ok_and_empty)
{
	md_jw w;
	md_secret *s = jw_new(&w);
	ck_assert(md_jw_ok(&w));
	ck_assert_uint_eq(md_secret_len(s), 0);
	md_secret_free(s);
}
END_TEST

START_TEST(escape_appends_without_quotes)
{
	md_secret *s = md_secret_new(0);
	md_secret_set(s, "pre:", 4);
	ck_assert_int_eq(md_json_escape(s, "a\"b\n\xff", 5), 0);
	ck_assert_str_eq(md_secret_str(s), "pre:a\\\"b\\n\\ufffd");
	ck_assert_int_eq(md_json_escape(s, "", 0), 0);
	ck_assert_str_eq(md_secret_str(s), "pre:a\\\"b\\n\\ufffd");
	md_secret_free(s);
}
END_TEST

START_TEST(jw_large_string_round_trip)
{
	size_t n = 100000;
	char *big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < n; i++)
		big[i] = "ab\"\\\n\x01z"[i % 7];
	big[n] = '\0';
	md_jw w;
	md_secret *s = jw_new(&w);
	md_jw_str(&w, big);
	ck_assert(md_jw_ok(&w));
	md_json d;
	parse_ok(&d, md_secret_str(s));
	md_secret *back = md_secret_new(0);
	ck_assert_int_eq(md_json_str_secret(&d, 0, back), 0);
	ck_assert_uint_eq(md_secret_len(back), n);
	ck_assert_msg(memcmp(md_secret_str(back), big, n) == 0, "round trip mismatch");
	md_secret_free(back);
	md_json_free(&d);
	md_secret_free(s);
	free(big);
}
END_TEST

static Suite *json_writer_suite(void)
{
	Suite *s = suite_create("json_writer");

	TCase *tc = tcase_create("writer");
	tcase_add_test(tc, jw_round_trip);
	tcase_add_test(tc, jw_commas_exact);
	tcase_add_test(tc, jw_top_level_array);
	tcase_add_test(tc, jw_escapes_quote_and_backslash);
	tcase_add_test(tc, jw_escapes_keys);
	tcase_add_test(tc, jw_escapes_control_chars);
	tcase_add_test(tc, jw_control_char_exact);
	tcase_add_test(tc, jw_embedded_nul_escaped);
	tcase_add_test(tc, jw_invalid_utf8_becomes_replacement);
	tcase_add_test(tc, jw_invalid_utf8_never_passes_raw);
	tcase_add_test(tc, jw_escapes_terminal_controls);
	tcase_add_test(tc, jw_valid_multibyte_kept);
	tcase_add_test(tc, jw_depth_limit);
	tcase_add_test(tc, jw_depth_overflow_fails);
	tcase_add_test(tc, jw_calls_after_failure_are_noops);
	tcase_add_test(tc, jw_unbalanced_not_ok);
	tcase_add_test(tc, jw_fresh_writer_ok_and_empty);
	tcase_add_test(tc, escape_appends_without_quotes);
	tcase_add_test(tc, jw_large_string_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_writer_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
