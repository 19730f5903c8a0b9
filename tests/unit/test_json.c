/* test_json.c - unit tests for lib/json.[ch], reading (md_json_*): parsing
 * structure, getters, strings and scalars, and big inputs (size limit,
 * linear time). The strict grammar (json_check.c: malformed input, depth)
 * is in test_json_check.c, the writer (md_jw_*, md_json_escape) in
 * test_json_writer.c; shared helpers in json_util.h. */
#include <check.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "json_util.h"
#include "base/secret.h"

/* ---- helpers ---- */

/* Wraps a JSON string literal as {"v":<lit>}, parses it and unescapes v.
 * Returns md_json_str's result, or -2 if the document did not parse. */
static int unescape_lit(const char *lit, char *out, size_t outsz)
{
	char buf[512];
	snprintf(buf, sizeof buf, "{\"v\":%s}", lit);
	md_json d;
	md_error err = {0};
	if (md_json_parse(&d, buf, strlen(buf), &err) != MD_OK)
		return -2;
	int v = md_json_get(&d, 0, "v");
	ck_assert_int_ge(v, 0);
	int n = md_json_str(&d, v, out, outsz);
	md_json_free(&d);
	return n;
}

/* ---- parsing structure ---- */

START_TEST(parse_object_members)
{
	md_json d;
	parse_ok(&d, "{\"a\":1,\"b\":\"x\",\"c\":true}");
	ck_assert_int_eq(md_json_type_of(&d, 0), MD_JSON_OBJECT);
	ck_assert_int_eq(md_json_count(&d, 0), 3);
	ck_assert_int_eq(int_at(&d, md_json_get(&d, 0, "a")), 1);
	str_at_eq(&d, md_json_get(&d, 0, "b"), "x");
	ck_assert_int_eq(md_json_type_of(&d, md_json_get(&d, 0, "c")), MD_JSON_BOOL);
	md_json_free(&d);
}
END_TEST

START_TEST(parse_empty_containers)
{
	md_json d;
	parse_ok(&d, "{}");
	ck_assert_int_eq(md_json_type_of(&d, 0), MD_JSON_OBJECT);
	ck_assert_int_eq(md_json_count(&d, 0), 0);
	ck_assert_int_eq(md_json_get(&d, 0, "a"), -1);
	md_json_free(&d);
	parse_ok(&d, " [ ] ");
	ck_assert_int_eq(md_json_type_of(&d, 0), MD_JSON_ARRAY);
	ck_assert_int_eq(md_json_count(&d, 0), 0);
	ck_assert_int_eq(md_json_at(&d, 0, 0), -1);
	md_json_free(&d);
}
END_TEST

START_TEST(parse_array_elements)
{
	md_json d;
	parse_ok(&d, "[1,\"two\",null,false]");
	ck_assert_int_eq(md_json_type_of(&d, 0), MD_JSON_ARRAY);
	ck_assert_int_eq(md_json_count(&d, 0), 4);
	ck_assert_int_eq(int_at(&d, md_json_at(&d, 0, 0)), 1);
	str_at_eq(&d, md_json_at(&d, 0, 1), "two");
	ck_assert_int_eq(md_json_type_of(&d, md_json_at(&d, 0, 2)), MD_JSON_NULL);
	ck_assert_int_eq(md_json_type_of(&d, md_json_at(&d, 0, 3)), MD_JSON_BOOL);
	md_json_free(&d);
}
END_TEST

START_TEST(parse_nested)
{
	md_json d;
	parse_ok(&d, "{\"outer\":{\"inner\":[1,{\"deep\":\"v\"}]}}");
	int outer = md_json_get(&d, 0, "outer");
	ck_assert_int_eq(md_json_type_of(&d, outer), MD_JSON_OBJECT);
	int inner = md_json_get(&d, outer, "inner");
	ck_assert_int_eq(md_json_type_of(&d, inner), MD_JSON_ARRAY);
	ck_assert_int_eq(md_json_count(&d, inner), 2);
	int o = md_json_at(&d, inner, 1);
	ck_assert_int_eq(md_json_type_of(&d, o), MD_JSON_OBJECT);
	str_at_eq(&d, md_json_get(&d, o, "deep"), "v");
	md_json_free(&d);
}
END_TEST

START_TEST(get_skips_nested_subtrees)
{
	md_json d;
	parse_ok(&d, "{\"a\":{\"target\":1,\"x\":[{\"target\":2},[\"target\"]]},"
		     "\"b\":[{\"target\":3}],\"s\":\"target\",\"target\":4}");
	ck_assert_int_eq(int_at(&d, md_json_get(&d, 0, "target")), 4);
	int a = md_json_get(&d, 0, "a");
	ck_assert_int_eq(int_at(&d, md_json_get(&d, a, "target")), 1);
	md_json_free(&d);
}
END_TEST

START_TEST(get_missing_key_and_non_object)
{
	md_json d;
	parse_ok(&d, "{\"a\":[1,2],\"b\":\"c\"}");
	ck_assert_int_eq(md_json_get(&d, 0, "zz"), -1);
	ck_assert_int_eq(md_json_get(&d, 0, ""), -1);
	/* a value is not a key */
	ck_assert_int_eq(md_json_get(&d, 0, "c"), -1);
	ck_assert_int_eq(md_json_get(&d, md_json_get(&d, 0, "a"), "a"), -1);
	ck_assert_int_eq(md_json_get(&d, md_json_get(&d, 0, "b"), "a"), -1);
	md_json_free(&d);
}
END_TEST

/* One answer must not mean two things: a repeated key (however escaped,
 * at any depth) refuses the whole document. */
START_TEST(duplicate_keys_refused)
{
	static const char *const bad[] = {
		"{\"k\":1,\"k\":2}",
		"{\"token\":\"a\",\"id\":\"x\",\"token\":\"b\"}",
		"{\"k\":1,\"\\u006b\":2}",
		"{\"a\":{\"b\":1,\"b\":1}}",
		"[{\"x\":1},{\"y\":[{\"z\":1,\"z\":null}]}]",
		"{\"\":1,\"\":2}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], strlen(bad[i]));
}
END_TEST

START_TEST(same_key_in_other_objects_accepted)
{
	md_json d;
	parse_ok(&d, "{\"a\":{\"k\":1},\"b\":{\"k\":2},\"k\":[{\"k\":3},{\"k\":4}],\"ka\":1}");
	ck_assert_int_eq(int_at(&d, md_json_get(&d, 0, "ka")), 1);
	md_json_free(&d);
}
END_TEST

/* Keys that share a hash bucket are still told apart by their bytes. */
START_TEST(many_distinct_keys_accepted)
{
	md_secret *doc = md_secret_new(1 << 20);
	md_secret_append(doc, "{", 1);
	for (int i = 0; i < 20000; i++)
		md_secret_appendf(doc, "%s\"k%d\":%d", i ? "," : "", i, i);
	md_secret_append(doc, "}", 1);
	md_json d;
	parse_ok(&d, md_secret_str(doc));
	ck_assert_int_eq(md_json_count(&d, 0), 20000);
	md_json_free(&d);
	md_secret_truncate(doc, md_secret_len(doc) - 1);
	md_secret_append(doc, ",\"k19999\":0}", 12);
	parse_fails(md_secret_str(doc), md_secret_len(doc));
	md_secret_free(doc);
}
END_TEST

/* RFC 8259 text is UTF-8: raw bytes that are not are refused. */
START_TEST(invalid_utf8_in_strings_refused)
{
	static const char *const bad[] = {
		"\"\xff\"", "{\"token\":\"a\xc3\"}", "[\"\xc0\xaf\"]", "\"\xed\xa0\x80\"",
		"\"\xf4\x90\x80\x80\"", "{\"\xfe\":1}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], strlen(bad[i]));
	md_json d;
	parse_ok(&d, "\"caf\xc3\xa9 \xf0\x9f\xa6\x86\"");
	md_json_free(&d);
}
END_TEST

START_TEST(get_matches_unescaped_key)
{
	md_json d;
	parse_ok(&d, "{\"a\\\"b\":1,\"caf\\u00e9\":2}");
	ck_assert_int_eq(int_at(&d, md_json_get(&d, 0, "a\"b")), 1);
	ck_assert_int_eq(int_at(&d, md_json_get(&d, 0, "caf\xc3\xa9")), 2);
	md_json_free(&d);
}
END_TEST

START_TEST(at_skips_nested_subtrees)
{
	md_json d;
	parse_ok(&d, "[[1,2,[3]],{\"a\":[4,5]},6,\"seven\"]");
	ck_assert_int_eq(md_json_count(&d, 0), 4);
	ck_assert_int_eq(md_json_type_of(&d, md_json_at(&d, 0, 0)), MD_JSON_ARRAY);
	ck_assert_int_eq(md_json_type_of(&d, md_json_at(&d, 0, 1)), MD_JSON_OBJECT);
	ck_assert_int_eq(int_at(&d, md_json_at(&d, 0, 2)), 6);
	str_at_eq(&d, md_json_at(&d, 0, 3), "seven");
	ck_assert_int_eq(md_json_at(&d, 0, 4), -1);
	ck_assert_int_eq(md_json_at(&d, 0, -1), -1);
	int first = md_json_at(&d, 0, 0);
	ck_assert_int_eq(md_json_count(&d, md_json_at(&d, first, 2)), 1);
	md_json_free(&d);
}
END_TEST

START_TEST(at_on_non_array)
{
	md_json d;
	parse_ok(&d, "{\"a\":1}");
	ck_assert_int_eq(md_json_at(&d, 0, 0), -1);
	ck_assert_int_eq(md_json_at(&d, md_json_get(&d, 0, "a"), 0), -1);
	md_json_free(&d);
}
END_TEST

START_TEST(types_of_values)
{
	md_json d;
	parse_ok(&d, "{\"o\":{},\"a\":[],\"s\":\"\",\"n\":-1.5e3,\"t\":true,\"f\":false,\"z\":null}");
	ck_assert_int_eq(md_json_type_of(&d, md_json_get(&d, 0, "o")), MD_JSON_OBJECT);
	ck_assert_int_eq(md_json_type_of(&d, md_json_get(&d, 0, "a")), MD_JSON_ARRAY);
	ck_assert_int_eq(md_json_type_of(&d, md_json_get(&d, 0, "s")), MD_JSON_STRING);
	ck_assert_int_eq(md_json_type_of(&d, md_json_get(&d, 0, "n")), MD_JSON_NUMBER);
	ck_assert_int_eq(md_json_type_of(&d, md_json_get(&d, 0, "t")), MD_JSON_BOOL);
	ck_assert_int_eq(md_json_type_of(&d, md_json_get(&d, 0, "f")), MD_JSON_BOOL);
	ck_assert_int_eq(md_json_type_of(&d, md_json_get(&d, 0, "z")), MD_JSON_NULL);
	ck_assert_int_eq(md_json_type_of(&d, d.ntok), MD_JSON_NONE);
	ck_assert_int_eq(md_json_count(&d, md_json_get(&d, 0, "s")), 0);
	md_json_free(&d);
}
END_TEST

START_TEST(negative_index_accepted_by_every_getter)
{
	md_json d;
	parse_ok(&d, "{\"a\":1}");
	char buf[8] = "junk";
	long long iv = 7;
	bool bv = true;
	size_t rl = 99;
	md_secret *s = md_secret_new(0);
	md_secret_set(s, "old", 3);
	ck_assert_int_eq(md_json_type_of(&d, -1), MD_JSON_NONE);
	ck_assert_int_eq(md_json_count(&d, -1), 0);
	ck_assert_int_eq(md_json_get(&d, -1, "a"), -1);
	ck_assert_int_eq(md_json_at(&d, -1, 0), -1);
	ck_assert_int_eq(md_json_str(&d, -1, buf, sizeof buf), -1);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(md_json_str_secret(&d, -1, s), -1);
	ck_assert_uint_eq(md_secret_len(s), 0);
	ck_assert_int_eq(md_json_int(&d, -1, &iv), -1);
	ck_assert_int_eq(iv, 7);
	ck_assert_int_eq(md_json_bool(&d, -1, &bv), -1);
	ck_assert(bv);
	ck_assert_ptr_null(md_json_raw(&d, -1, &rl));
	ck_assert_uint_eq(rl, 0);
	md_secret_free(s);
	md_json_free(&d);
}
END_TEST

START_TEST(free_twice_is_safe)
{
	md_json d;
	parse_ok(&d, "[1]");
	md_json_free(&d);
	md_json_free(&d);
	ck_assert_ptr_null(d.toks);
	ck_assert_int_eq(d.ntok, 0);
	md_json_free(NULL);
}
END_TEST

/* ---- strings ---- */

START_TEST(str_simple_escapes)
{
	char out[64];
	int n = unescape_lit("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", out, sizeof out);
	ck_assert_int_eq(n, 8);
	ck_assert_str_eq(out, "\"\\/\b\f\n\r\t");
}
END_TEST

START_TEST(str_plain_and_empty)
{
	char out[64];
	ck_assert_int_eq(unescape_lit("\"hello world\"", out, sizeof out), 11);
	ck_assert_str_eq(out, "hello world");
	ck_assert_int_eq(unescape_lit("\"\"", out, sizeof out), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(str_unicode_bmp)
{
	char out[64];
	ck_assert_int_eq(unescape_lit("\"caf\\u00e9\"", out, sizeof out), 5);
	ck_assert_str_eq(out, "caf\xc3\xa9");
	ck_assert_int_eq(unescape_lit("\"\\u0041\\u20AC\\u07ff\"", out, sizeof out), 6);
	ck_assert_str_eq(out, "A\xe2\x82\xac\xdf\xbf");
	ck_assert_int_eq(unescape_lit("\"\\uffff\"", out, sizeof out), 3);
	ck_assert_str_eq(out, "\xef\xbf\xbf");
}
END_TEST

START_TEST(str_surrogate_pair_to_4_byte_utf8)
{
	char out[64];
	ck_assert_int_eq(unescape_lit("\"\\ud83e\\udd86\"", out, sizeof out), 4);
	ck_assert_str_eq(out, "\xf0\x9f\xa6\x86");
	ck_assert_int_eq(unescape_lit("\"x\\uD800\\uDC00y\"", out, sizeof out), 6);
	ck_assert_str_eq(out, "x\xf0\x90\x80\x80y");
	ck_assert_int_eq(unescape_lit("\"\\udbff\\udfff\"", out, sizeof out), 4);
	ck_assert_str_eq(out, "\xf4\x8f\xbf\xbf");
}
END_TEST

START_TEST(str_lone_surrogates_rejected)
{
	static const char *const bad[] = {
		"\"\\ud83e\"",        /* high at end */
		"\"\\ud83ex\"",       /* high then plain char */
		"\"\\ud83e\\u0041\"", /* high then non-surrogate */
		"\"\\ud83e\\ud83e\"", /* high then high */
		"\"\\ud83e\\n\"",     /* high then other escape */
		"\"\\udd86\"",        /* lone low */
		"\"a\\udfffb\"",      /* lone low in the middle */
	};
	char out[64];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int n = unescape_lit(bad[i], out, sizeof out);
		ck_assert_msg(n < 0, "%s accepted", bad[i]);
		ck_assert_str_eq(out, "");
	}
}
END_TEST

START_TEST(str_nul_escape_rejected)
{
	char out[64];
	ck_assert_int_lt(unescape_lit("\"a\\u0000b\"", out, sizeof out), 0);
	ck_assert_int_lt(unescape_lit("\"\\u0000\"", out, sizeof out), 0);
}
END_TEST

START_TEST(str_invalid_escapes_rejected)
{
	static const char *const bad[] = {
		"\"\\x41\"", "\"\\a\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\U0041\"", "\"\\'\"",
		"\"\\0\"",
	};
	char out[64];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(unescape_lit(bad[i], out, sizeof out) < 0, "%s accepted", bad[i]);
}
END_TEST

START_TEST(str_output_too_small)
{
	char out[8];
	memset(out, 'Z', sizeof out);
	ck_assert_int_eq(unescape_lit("\"hello\"", out, 5), -1);
	ck_assert_int_eq(out[0], '\0');
	ck_assert_int_eq(unescape_lit("\"hello\"", out, 6), 5);
	ck_assert_str_eq(out, "hello");
	/* the multibyte expansion counts, not the escaped length */
	ck_assert_int_eq(unescape_lit("\"\\ud83e\\udd86\"", out, 4), -1);
	ck_assert_int_eq(unescape_lit("\"\\ud83e\\udd86\"", out, 5), 4);
}
END_TEST

START_TEST(str_zero_size_output)
{
	md_json d;
	parse_ok(&d, "[\"a\"]");
	char out[1] = {'Z'};
	ck_assert_int_eq(md_json_str(&d, 1, out, 0), -1);
	ck_assert_int_eq(out[0], 'Z');
	md_json_free(&d);
}
END_TEST

START_TEST(str_on_non_string)
{
	md_json d;
	parse_ok(&d, "{\"n\":5,\"o\":{},\"t\":true}");
	char out[16];
	ck_assert_int_eq(md_json_str(&d, md_json_get(&d, 0, "n"), out, sizeof out), -1);
	ck_assert_int_eq(md_json_str(&d, md_json_get(&d, 0, "o"), out, sizeof out), -1);
	ck_assert_int_eq(md_json_str(&d, md_json_get(&d, 0, "t"), out, sizeof out), -1);
	ck_assert_int_eq(md_json_str(&d, 0, out, sizeof out), -1);
	md_json_free(&d);
}
END_TEST

START_TEST(str_raw_multibyte_kept)
{
	char out[64];
	ck_assert_int_eq(unescape_lit("\"h\xc3\xa9 \xf0\x9f\xa6\x86\"", out, sizeof out), 8);
	ck_assert_str_eq(out, "h\xc3\xa9 \xf0\x9f\xa6\x86");
}
END_TEST

START_TEST(str_secret_unescapes)
{
	static const char doc[] = "{\"token\":\"test-secret-\\u0076alue\\/123456\","
				  "\"bad\":\"x\\ud800\",\"n\":1}";
	md_json d;
	md_error err = {0};
	/* not parse_ok(): its failure message would print the document */
	ck_assert_msg(md_json_parse(&d, doc, sizeof doc - 1, &err) == MD_OK, "parse failed");
	md_secret *s = md_secret_new(0);
	md_secret_set(s, "previous-content", 16);
	ck_assert_int_eq(md_json_str_secret(&d, md_json_get(&d, 0, "token"), s), 0);
	static const char want[] = "test-secret-value/123456";
	ck_assert_uint_eq(md_secret_len(s), sizeof want - 1);
	ck_assert_msg(memcmp(md_secret_str(s), want, sizeof want) == 0, "secret mismatch");

	ck_assert_int_eq(md_json_str_secret(&d, md_json_get(&d, 0, "bad"), s), -1);
	ck_assert_uint_eq(md_secret_len(s), 0);
	ck_assert_str_eq(md_secret_str(s), "");

	md_secret_set(s, "previous-content", 16);
	ck_assert_int_eq(md_json_str_secret(&d, md_json_get(&d, 0, "n"), s), -1);
	ck_assert_uint_eq(md_secret_len(s), 0);
	md_secret_free(s);
	md_json_free(&d);
}
END_TEST

START_TEST(str_secret_long_value)
{
	/* Longer than any fixed buffer and than one page. */
	size_t n = 10000;
	char *src = malloc(n + 16);
	ck_assert_ptr_nonnull(src);
	src[0] = '"';
	for (size_t i = 0; i < n; i++)
		src[1 + i] = (char)('a' + i % 26);
	src[n + 1] = '"';
	src[n + 2] = '\0';
	md_json d;
	parse_ok(&d, src);
	md_secret *s = md_secret_new(0);
	ck_assert_int_eq(md_json_str_secret(&d, 0, s), 0);
	ck_assert_uint_eq(md_secret_len(s), n);
	ck_assert_msg(memcmp(md_secret_str(s), src + 1, n) == 0, "mismatch");
	md_secret_free(s);
	md_json_free(&d);
	free(src);
}
END_TEST

START_TEST(raw_bytes_of_tokens)
{
	md_json d;
	parse_ok(&d, "{\"s\":\"a\\nb\",\"n\":-12}");
	size_t len = 0;
	const char *r = md_json_raw(&d, md_json_get(&d, 0, "s"), &len);
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(memcmp(r, "a\\nb", 4), 0);
	r = md_json_raw(&d, md_json_get(&d, 0, "n"), &len);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(r, "-12", 3), 0);
	md_json_free(&d);
}
END_TEST

/* ---- numbers, bools, null ---- */

START_TEST(int_values)
{
	md_json d;
	parse_ok(&d, "[0,42,-17,9223372036854775807,-9223372036854775808,-0]");
	ck_assert_int_eq(int_at(&d, md_json_at(&d, 0, 0)), 0);
	ck_assert_int_eq(int_at(&d, md_json_at(&d, 0, 1)), 42);
	ck_assert_int_eq(int_at(&d, md_json_at(&d, 0, 2)), -17);
	ck_assert(int_at(&d, md_json_at(&d, 0, 3)) == LLONG_MAX);
	ck_assert(int_at(&d, md_json_at(&d, 0, 4)) == LLONG_MIN);
	ck_assert_int_eq(int_at(&d, md_json_at(&d, 0, 5)), 0);
	md_json_free(&d);
}
END_TEST

START_TEST(int_overflow_rejected)
{
	md_json d;
	parse_ok(&d, "[9223372036854775808,-9223372036854775809,"
		     "123456789012345678901234567890123456789]");
	for (int i = 0; i < 3; i++) {
		long long v = 5;
		ck_assert_int_eq(md_json_int(&d, md_json_at(&d, 0, i), &v), -1);
		ck_assert_int_eq(v, 5);
	}
	md_json_free(&d);
}
END_TEST

START_TEST(int_fraction_and_exponent_rejected)
{
	md_json d;
	parse_ok(&d, "[1.5,1e3,1E3,-0.0,2.0,1e-2]");
	for (int i = 0; i < md_json_count(&d, 0); i++) {
		long long v = 5;
		ck_assert_int_eq(md_json_type_of(&d, md_json_at(&d, 0, i)), MD_JSON_NUMBER);
		ck_assert_msg(md_json_int(&d, md_json_at(&d, 0, i), &v) == -1, "element %d", i);
		ck_assert_int_eq(v, 5);
	}
	md_json_free(&d);
}
END_TEST

START_TEST(int_on_non_number)
{
	md_json d;
	parse_ok(&d, "[\"5\",true,null,[],{}]");
	for (int i = 0; i < 5; i++) {
		long long v = 0;
		ck_assert_int_eq(md_json_int(&d, md_json_at(&d, 0, i), &v), -1);
	}
	md_json_free(&d);
}
END_TEST

START_TEST(bool_values)
{
	md_json d;
	parse_ok(&d, "[true,false,null,0,\"true\"]");
	bool b = false;
	ck_assert_int_eq(md_json_bool(&d, md_json_at(&d, 0, 0), &b), 0);
	ck_assert(b);
	ck_assert_int_eq(md_json_bool(&d, md_json_at(&d, 0, 1), &b), 0);
	ck_assert(!b);
	for (int i = 2; i < 5; i++) {
		b = true;
		ck_assert_int_eq(md_json_bool(&d, md_json_at(&d, 0, i), &b), -1);
		ck_assert(b);
	}
	md_json_free(&d);
}
END_TEST

START_TEST(null_value)
{
	md_json d;
	parse_ok(&d, "{\"z\":null}");
	int z = md_json_get(&d, 0, "z");
	ck_assert_int_ge(z, 0);
	ck_assert_int_eq(md_json_type_of(&d, z), MD_JSON_NULL);
	long long v;
	bool b;
	char out[8];
	ck_assert_int_eq(md_json_int(&d, z, &v), -1);
	ck_assert_int_eq(md_json_bool(&d, z, &b), -1);
	ck_assert_int_eq(md_json_str(&d, z, out, sizeof out), -1);
	md_json_free(&d);
}
END_TEST

/* ---- big inputs ---- */

START_TEST(huge_array_of_numbers)
{
	size_t cap = 6u << 20;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	size_t len = 0;
	int count = 0;
	buf[len++] = '[';
	while (len < (5u << 20)) {
		len += (size_t)snprintf(buf + len, cap - len, "%s%d", count ? "," : "", count);
		count++;
	}
	buf[len++] = ']';
	buf[len] = '\0';
	md_json d;
	md_error err = {0};
	ck_assert_int_eq(md_json_parse(&d, buf, len, &err), MD_OK);
	ck_assert_int_eq(md_json_count(&d, 0), count);
	ck_assert_int_eq(int_at(&d, md_json_at(&d, 0, 0)), 0);
	ck_assert_int_eq(int_at(&d, md_json_at(&d, 0, count - 1)), count - 1);
	ck_assert_int_eq(md_json_at(&d, 0, count), -1);
	md_json_free(&d);
	free(buf);
}
END_TEST

/* Regression: without JSMN_PARENT_LINKS jsmn searched back through every
 * token at each comma, making wide objects quadratic (200k members: 20 s). */
START_TEST(wide_object_parses_in_linear_time)
{
	size_t cap = 8u << 20;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	size_t len = 0;
	int members = 300000;
	buf[len++] = '{';
	for (int i = 0; i < members; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s\"k%d\":%d", i ? "," : "", i, i);
	buf[len++] = '}';
	buf[len] = '\0';
	md_json d;
	md_error err = {0};
	ck_assert_int_eq(md_json_parse(&d, buf, len, &err), MD_OK);
	ck_assert_int_eq(md_json_count(&d, 0), members);
	ck_assert_int_eq(int_at(&d, md_json_get(&d, 0, "k299999")), 299999);
	md_json_free(&d);
	free(buf);
}
END_TEST

START_TEST(over_64mib_rejected)
{
	size_t max = 64u << 20;
	char *buf = malloc(max + 1);
	ck_assert_ptr_nonnull(buf);
	memset(buf, ' ', max + 1);
	buf[0] = '[';
	buf[1] = ']';
	parse_fails(buf, max + 1);
	md_json d;
	md_error err = {0};
	ck_assert_int_eq(md_json_parse(&d, buf, max, &err), MD_OK);
	md_json_free(&d);
	free(buf);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");

	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, parse_object_members);
	tcase_add_test(tc, parse_empty_containers);
	tcase_add_test(tc, parse_array_elements);
	tcase_add_test(tc, parse_nested);
	tcase_add_test(tc, get_skips_nested_subtrees);
	tcase_add_test(tc, get_missing_key_and_non_object);
	tcase_add_test(tc, duplicate_keys_refused);
	tcase_add_test(tc, same_key_in_other_objects_accepted);
	tcase_add_test(tc, many_distinct_keys_accepted);
	tcase_add_test(tc, invalid_utf8_in_strings_refused);
	tcase_add_test(tc, get_matches_unescaped_key);
	tcase_add_test(tc, at_skips_nested_subtrees);
	tcase_add_test(tc, at_on_non_array);
	tcase_add_test(tc, types_of_values);
	tcase_add_test(tc, negative_index_accepted_by_every_getter);
	tcase_add_test(tc, free_twice_is_safe);
	suite_add_tcase(s, tc);

	tc = tcase_create("strings");
	tcase_add_test(tc, str_simple_escapes);
	tcase_add_test(tc, str_plain_and_empty);
	tcase_add_test(tc, str_unicode_bmp);
	tcase_add_test(tc, str_surrogate_pair_to_4_byte_utf8);
	tcase_add_test(tc, str_lone_surrogates_rejected);
	tcase_add_test(tc, str_nul_escape_rejected);
	tcase_add_test(tc, str_invalid_escapes_rejected);
	tcase_add_test(tc, str_output_too_small);
	tcase_add_test(tc, str_zero_size_output);
	tcase_add_test(tc, str_on_non_string);
	tcase_add_test(tc, str_raw_multibyte_kept);
	tcase_add_test(tc, str_secret_unescapes);
	tcase_add_test(tc, str_secret_long_value);
	tcase_add_test(tc, raw_bytes_of_tokens);
	suite_add_tcase(s, tc);

	tc = tcase_create("scalars");
	tcase_add_test(tc, int_values);
	tcase_add_test(tc, int_overflow_rejected);
	tcase_add_test(tc, int_fraction_and_exponent_rejected);
	tcase_add_test(tc, int_on_non_number);
	tcase_add_test(tc, bool_values);
	tcase_add_test(tc, null_value);
	suite_add_tcase(s, tc);

	tc = tcase_create("huge");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, huge_array_of_numbers);
	tcase_add_test(tc, over_64mib_rejected);
	suite_add_tcase(s, tc);

	/* 10 s is ~100x what a linear parse of 4.8 MB needs, even with ASan. */
	tc = tcase_create("huge_object");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, wide_object_parses_in_linear_time);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
