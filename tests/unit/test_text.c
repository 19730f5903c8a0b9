/* test_text.c - unit tests for lib/base/text.c: hex digits, UTF-8 decoding, what
 * is printable, and escaping a server's words for a terminal. */
#include <check.h>

#include <string.h>

#include "base/text.h"

START_TEST(hexval_digits)
{
	ck_assert_int_eq(md_text_hexval('0'), 0);
	ck_assert_int_eq(md_text_hexval('f'), 15);
	ck_assert_int_eq(md_text_hexval('A'), 10);
	ck_assert_int_eq(md_text_hexval('g'), -1);
}
END_TEST

START_TEST(utf8_decodes_and_refuses)
{
	uint32_t cp = 0;
	ck_assert_uint_eq(md_text_utf8_next((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
	ck_assert_uint_eq(cp, 0xe9);
	ck_assert_uint_eq(md_text_utf8_next((const unsigned char *)"\xf0\x9f\xa6\x86", 4, &cp), 4);
	ck_assert_uint_eq(cp, 0x1f986);
	static const char *const bad[] = {"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf",
					  "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
					  "\xff", "\xc3"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(md_text_utf8_next((const unsigned char *)bad[i], strlen(bad[i]), &cp) == 0,
			      "case %zu accepted", i);
	ck_assert(md_text_utf8_valid("caf\xc3\xa9", 5));
	ck_assert(!md_text_utf8_valid("caf\xc3", 4));
	ck_assert(md_text_utf8_valid("", 0));
}
END_TEST

START_TEST(printable_excludes_controls_and_overrides)
{
	static const uint32_t no[] = {0x00, 0x07, 0x1b, 0x7f, 0x80, 0x9b, 0x9f, 0x061c, 0x200e,
				      0x200f, 0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069, 0xfeff};
	static const uint32_t yes[] = {0x20, 'a', '~', 0xa0, 0xe9, 0x20ac, 0x1f986, 0x10ffff};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(!md_text_printable(no[i]), "U+%04X printable", (unsigned)no[i]);
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		ck_assert_msg(md_text_printable(yes[i]), "U+%04X not printable", (unsigned)yes[i]);
}
END_TEST

START_TEST(escape_keeps_printable_and_escapes_the_rest)
{
	char out[128];
	const char in[] = "ok \x1b[31m caf\xc3\xa9 \xc2\x9b \xff\ttab\nnl";
	md_text_escape(out, sizeof out, in, sizeof in - 1, false);
	ck_assert_str_eq(out, "ok \\x1b[31m caf\xc3\xa9 \\xc2\\x9b \\xff\\x09tab\\x0anl");
	md_text_escape(out, sizeof out, in, sizeof in - 1, true);
	ck_assert_str_eq(out, "ok \\x1b[31m caf\xc3\xa9 \\xc2\\x9b \\xff tab nl");
}
END_TEST

/* Cut on a character boundary: never half of a UTF-8 sequence or of an
 * escape. */
START_TEST(escape_cuts_on_a_boundary)
{
	char out[8];
	ck_assert_uint_eq(md_text_escape(out, sizeof out, "abcdef\xc3\xa9", 8, false), 6);
	ck_assert_str_eq(out, "abcdef");
	ck_assert_uint_eq(md_text_escape(out, sizeof out, "abcd\x1b", 5, false), 4);
	ck_assert_str_eq(out, "abcd");
	char one[1];
	ck_assert_uint_eq(md_text_escape(one, sizeof one, "abc", 3, false), 0);
	ck_assert_str_eq(one, "");
}
END_TEST

static Suite *text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("text");
	tcase_add_test(tc, hexval_digits);
	tcase_add_test(tc, utf8_decodes_and_refuses);
	tcase_add_test(tc, printable_excludes_controls_and_overrides);
	tcase_add_test(tc, escape_keeps_printable_and_escapes_the_rest);
	tcase_add_test(tc, escape_cuts_on_a_boundary);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(text_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
