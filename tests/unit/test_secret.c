/* test_secret.c - unit tests for lib/secret.[ch]: the buffer (append,
 * grow, truncate, equality), watching and redaction, md_secret_format_line
 * and wipe, and lifetime (cleanup attribute, freep).
 * Getting a secret in (md_secret_read_fd, _read_file, _take_env) is in
 * test_secret_input.c.
 *
 * Project rule: a test never prints a secret value. Secret-like values are
 * compared with memcmp()/strstr() inside ck_assert_msg() with a fixed
 * message, never with ck_assert_str_eq(). */
#include <check.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/secret.h"
#include "base/redact.h"

#define FAKE "test-secret-value-123456"
#define FAKE2 "other-fake-credential-7890"

static md_secret *secret_of(const char *v)
{
	md_secret *s = md_secret_new(0);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(md_secret_set(s, v, strlen(v)), 0);
	return s;
}

/* Redacts a copy of msg and compares with want, without printing either. */
static void redacts_to(const char *msg, const char *want)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", msg);
	md_secret_redact(buf);
	ck_assert_msg(strcmp(buf, want) == 0, "redaction result differs from expected");
}

/* ---- buffer basics ---- */

START_TEST(new_is_empty_and_terminated)
{
	md_secret *s = md_secret_new(0);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(md_secret_len(s), 0);
	ck_assert_ptr_nonnull(md_secret_str(s));
	ck_assert_int_eq(md_secret_str(s)[0], '\0');
	md_secret_free(s);
	s = md_secret_new(100000);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(md_secret_len(s), 0);
	ck_assert_int_eq(md_secret_str(s)[0], '\0');
	md_secret_free(s);
}
END_TEST

START_TEST(append_concatenates)
{
	md_secret *s = md_secret_new(0);
	ck_assert_int_eq(md_secret_append(s, "abc", 3), 0);
	ck_assert_int_eq(md_secret_append(s, "defXXX", 3), 0);
	ck_assert_int_eq(md_secret_append(s, "", 0), 0);
	ck_assert_uint_eq(md_secret_len(s), 6);
	ck_assert_str_eq(md_secret_str(s), "abcdef");
	md_secret_free(s);
}
END_TEST

START_TEST(append_binary_keeps_length)
{
	md_secret *s = md_secret_new(0);
	ck_assert_int_eq(md_secret_append(s, "a\0b", 3), 0);
	ck_assert_uint_eq(md_secret_len(s), 3);
	ck_assert_int_eq(memcmp(md_secret_str(s), "a\0b\0", 4), 0);
	md_secret_free(s);
}
END_TEST

START_TEST(appendf_formats)
{
	md_secret *s = md_secret_new(0);
	ck_assert_int_eq(md_secret_appendf(s, "%s-%d", "x", 42), 0);
	ck_assert_int_eq(md_secret_appendf(s, "/%05.1f/%c", 2.5, 'z'), 0);
	ck_assert_int_eq(md_secret_appendf(s, "%s", ""), 0);
	ck_assert_str_eq(md_secret_str(s), "x-42/002.5/z");
	ck_assert_uint_eq(md_secret_len(s), 12);
	md_secret_free(s);
}
END_TEST

START_TEST(appendf_grows_past_page)
{
	md_secret *s = md_secret_new(0);
	ck_assert_int_eq(md_secret_append(s, "head:", 5), 0);
	ck_assert_int_eq(md_secret_appendf(s, "%0*d", 20000, 7), 0);
	ck_assert_uint_eq(md_secret_len(s), 20005);
	const char *p = md_secret_str(s);
	ck_assert_int_eq(memcmp(p, "head:000", 8), 0);
	ck_assert_int_eq(p[20004], '7');
	ck_assert_int_eq(p[20005], '\0');
	md_secret_free(s);
}
END_TEST

START_TEST(set_replaces_content)
{
	md_secret *s = secret_of("a-rather-long-initial-value");
	ck_assert_int_eq(md_secret_set(s, "short", 5), 0);
	ck_assert_uint_eq(md_secret_len(s), 5);
	ck_assert_str_eq(md_secret_str(s), "short");
	ck_assert_int_eq(md_secret_set(s, "", 0), 0);
	ck_assert_uint_eq(md_secret_len(s), 0);
	ck_assert_str_eq(md_secret_str(s), "");
	md_secret_free(s);
}
END_TEST

START_TEST(truncate_shortens_and_terminates)
{
	md_secret *s = secret_of("abcdefgh");
	md_secret_truncate(s, 3);
	ck_assert_uint_eq(md_secret_len(s), 3);
	ck_assert_str_eq(md_secret_str(s), "abc");
	/* the cut bytes are wiped, not just hidden behind the NUL */
	for (int i = 4; i < 8; i++)
		ck_assert_int_eq(md_secret_str(s)[i], '\0');
	md_secret_truncate(s, 10); /* longer: no-op */
	ck_assert_uint_eq(md_secret_len(s), 3);
	ck_assert_str_eq(md_secret_str(s), "abc");
	md_secret_truncate(s, 0);
	ck_assert_uint_eq(md_secret_len(s), 0);
	ck_assert_str_eq(md_secret_str(s), "");
	md_secret_free(s);
}
END_TEST

START_TEST(growth_across_many_pages_keeps_content)
{
	md_secret *s = md_secret_new(0);
	size_t total = 0, cap = 1 << 20;
	char *ref = malloc(cap);
	ck_assert_ptr_nonnull(ref);
	char chunk[64];
	for (int i = 0; total < 300000; i++) {
		int n = snprintf(chunk, sizeof chunk, "<%d:%x>", i, (unsigned)i * 2654435761u);
		ck_assert_int_eq(md_secret_append(s, chunk, (size_t)n), 0);
		memcpy(ref + total, chunk, (size_t)n);
		total += (size_t)n;
		ck_assert_uint_eq(md_secret_len(s), total);
		ck_assert_int_eq(md_secret_str(s)[total], '\0');
	}
	ck_assert_int_eq(memcmp(md_secret_str(s), ref, total), 0);
	free(ref);
	md_secret_free(s);
}
END_TEST

START_TEST(null_secret_accessors)
{
	ck_assert_uint_eq(md_secret_len(NULL), 0);
	ck_assert_str_eq(md_secret_str(NULL), "");
	ck_assert(!md_secret_locked(NULL));
	md_secret_free(NULL);
}
END_TEST

/* ---- equality ---- */

START_TEST(eq_compares_content)
{
	md_secret *a = secret_of(FAKE);
	md_secret *b = secret_of(FAKE);
	md_secret *c = secret_of("test-secret-value-123457");
	md_secret *d = secret_of("test-secret-value-12345");
	md_secret *e1 = md_secret_new(0), *e2 = md_secret_new(10);
	ck_assert(md_secret_eq(a, b));
	ck_assert(md_secret_eq(a, a));
	ck_assert(!md_secret_eq(a, c));
	ck_assert(!md_secret_eq(a, d));
	ck_assert(!md_secret_eq(d, a));
	ck_assert(md_secret_eq(e1, e2));
	ck_assert(!md_secret_eq(e1, a));
	md_secret_free(a);
	md_secret_free(b);
	md_secret_free(c);
	md_secret_free(d);
	md_secret_free(e1);
	md_secret_free(e2);
}
END_TEST

/* ---- watch / redact ---- */

START_TEST(redact_at_start_middle_end)
{
	md_secret *s = secret_of(FAKE);
	md_secret_watch(s);
	redacts_to(FAKE " at start", "[redacted] at start");
	redacts_to("in the " FAKE " middle", "in the [redacted] middle");
	redacts_to("at the end " FAKE, "at the end [redacted]");
	redacts_to(FAKE, "[redacted]");
	md_secret_free(s);
}
END_TEST

START_TEST(redact_repeated_occurrences)
{
	md_secret *s = secret_of(FAKE);
	md_secret_watch(s);
	redacts_to("a " FAKE " b " FAKE " c", "a [redacted] b [redacted] c");
	redacts_to(FAKE FAKE FAKE, "[redacted][redacted][redacted]");
	md_secret_free(s);
}
END_TEST

START_TEST(redact_two_watched_secrets)
{
	md_secret *a = secret_of(FAKE);
	md_secret *b = secret_of(FAKE2);
	md_secret_watch(a);
	md_secret_watch(b);
	redacts_to("x=" FAKE " y=" FAKE2 ".", "x=[redacted] y=[redacted].");
	md_secret_free(a);
	md_secret_free(b);
}
END_TEST

/* A freed buffer's value stays redacted: a copy of it (an Authorization
 * line made from it) or a server that saw it may still echo it. */
START_TEST(redact_outlives_the_buffer)
{
	md_secret *s = secret_of(FAKE);
	md_secret_watch(s);
	md_secret *line = md_secret_new(64);
	md_secret_appendf(line, "Authorization: Bearer %s", md_secret_str(s));
	md_secret_free(s);
	redacts_to("bad auth header: Bearer " FAKE, "bad auth header: Bearer [redacted]");
	md_secret_free(line);
	redacts_to("v=" FAKE, "v=[redacted]");
}
END_TEST

START_TEST(redact_longest_value_wins)
{
	md_secret *shortv = secret_of("abcdefgh12");
	md_secret *longv = secret_of("abcdefgh12345678");
	md_secret_watch(shortv);
	md_secret_watch(longv);
	redacts_to("a abcdefgh12345678 b abcdefgh12 c", "a [redacted] b [redacted] c");
	redacts_to("abcdefgh12345678abcdefgh12", "[redacted][redacted]");
	md_secret_free(shortv);
	md_secret_free(longv);
}
END_TEST

START_TEST(redact_counts_each_value_once)
{
	size_t before = md_redact_count();
	md_secret *s = secret_of(FAKE);
	md_secret_watch(s);
	md_secret_watch(s);
	md_secret *t = secret_of(FAKE);
	md_secret_watch(t);
	ck_assert_uint_eq(md_redact_count(), before + 1);
	md_secret_free(s);
	md_secret_free(t);
	md_secret_watch(NULL);
}
END_TEST

/* The registry keeps the newest values when it is full. */
START_TEST(redact_many_values)
{
	char v[64];
	for (int i = 0; i < 300000; i++) {
		int n = snprintf(v, sizeof v, "value-%08d-x", i);
		md_redact_add(v, (size_t)n);
	}
	ck_assert_uint_eq(md_redact_count(), 1u << 18);
	redacts_to("a value-00299999-x b", "a [redacted] b");
	redacts_to("a value-00000001-x b", "a value-00000001-x b"); /* evicted */
}
END_TEST

/* A value a live buffer holds never gives way, however many others come. */
START_TEST(redact_live_value_never_evicted)
{
	md_secret *s = secret_of(FAKE);
	md_secret_watch(s);
	char v[64];
	for (int i = 0; i < 300000; i++) {
		int n = snprintf(v, sizeof v, "other-%08d-x", i);
		md_redact_add(v, (size_t)n);
	}
	redacts_to("a " FAKE " b", "a [redacted] b");
	md_secret_free(s);
}
END_TEST

/* SipHash-2-4 reference vectors: key 00..0f, message 00..(n-1). */
START_TEST(siphash_reference_vectors)
{
	unsigned char key[16], msg[64];
	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (unsigned char)i;
	ck_assert_uint_eq(md_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ull);
	ck_assert_uint_eq(md_siphash24(key, msg, 1), 0x74f839c593dc67fdull);
	ck_assert_uint_eq(md_siphash24(key, msg, 8), 0x93f5f5799a932462ull);
	ck_assert_uint_eq(md_siphash24(key, msg, 15), 0xa129ca6149be45e5ull);
	ck_assert_uint_eq(md_siphash24(key, msg, 63), 0x958a324ceb064572ull);
}
END_TEST

START_TEST(redact_leaves_other_text_alone)
{
	md_secret *s = secret_of(FAKE);
	md_secret_watch(s);
	redacts_to("nothing secret here", "nothing secret here");
	redacts_to("test-secret-value-12345 (one short)", "test-secret-value-12345 (one short)");
	redacts_to("", "");
	md_secret_redact(NULL);
	md_secret_free(s);
}
END_TEST

START_TEST(short_values_not_watched)
{
	md_secret *s = secret_of("abc1234"); /* 7 bytes */
	md_secret_watch(s);
	redacts_to("v=abc1234.", "v=abc1234.");
	md_secret_free(s);
	s = md_secret_new(0);
	md_secret_watch(s); /* empty */
	redacts_to("v=.", "v=.");
	md_secret_free(s);
}
END_TEST

START_TEST(eight_byte_value_removed)
{
	/* 8 and 9 byte values are the shortest watched ones; whatever the
	 * replacement, the value itself must be gone. */
	md_secret *s = secret_of("fake1234");
	md_secret_watch(s);
	char buf[64] = "a fake1234 b";
	md_secret_redact(buf);
	ck_assert_msg(strstr(buf, "fake1234") == NULL, "8-byte value not redacted");
	ck_assert_int_eq(strncmp(buf, "a ", 2), 0);
	ck_assert_int_eq(strcmp(buf + strlen(buf) - 2, " b"), 0);
	md_secret_free(s);
}
END_TEST

START_TEST(watched_secret_survives_growth)
{
	md_secret *s = secret_of(FAKE);
	md_secret_watch(s);
	char big[9000];
	memset(big, 'q', sizeof big);
	ck_assert_int_eq(md_secret_append(s, big, sizeof big), 0); /* remaps */
	md_secret_truncate(s, strlen(FAKE));
	redacts_to("v=" FAKE, "v=[redacted]");
	md_secret_free(s);
}
END_TEST

/* The replacement must not be matched again: an 8-byte value of '*' is
 * blanked with '*', a 10-byte "[redacted]" replaced by itself. */
START_TEST(redact_terminates_when_replacement_matches)
{
	md_secret *s = secret_of("********");
	md_secret_watch(s);
	char buf[64] = "pw=******** end";
	md_secret_redact(buf);
	ck_assert_str_eq(buf, "pw=******** end");
	md_secret_free(s);

	s = secret_of("[redacted]");
	md_secret_watch(s);
	snprintf(buf, sizeof buf, "v=[redacted]");
	md_secret_redact(buf);
	ck_assert_str_eq(buf, "v=[redacted]");
	md_secret_free(s);
}
END_TEST

/* ---- format_line / wipe ---- */

static void __attribute__((format(printf, 3, 4)))
format_line(char *dst, size_t dstsz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	md_secret_format_line(dst, dstsz, fmt, ap);
	va_end(ap);
}

START_TEST(format_line_formats)
{
	char buf[64];
	format_line(buf, sizeof buf, "%s=%d", "n", 5);
	ck_assert_str_eq(buf, "n=5");
}
END_TEST

START_TEST(format_line_flattens_cr_lf)
{
	char buf[64];
	format_line(buf, sizeof buf, "a\nb\r\nc%s", "\r");
	ck_assert_str_eq(buf, "a b  c ");
}
END_TEST

/* A server's words reach a terminal escaped: no control sequence, no
 * direction override, no invalid UTF-8; printable UTF-8 stays. */
START_TEST(format_line_escapes_what_is_not_printable)
{
	char buf[256];
	format_line(buf, sizeof buf, "msg: %s", "\x1b[2J\x1b]0;t\x07 caf\xc3\xa9 \xc2\x9b" "1m \xe2\x80\xae"
		    "x \xff\x7f");
	ck_assert_str_eq(buf, "msg: \\x1b[2J\\x1b]0;t\\x07 caf\xc3\xa9 \\xc2\\x9b1m \\xe2\\x80\\xaex "
			 "\\xff\\x7f");
}
END_TEST

/* Redaction sees the value before escaping could hide it. */
START_TEST(format_line_redacts_then_escapes)
{
	md_secret *s = secret_of(FAKE);
	md_secret_watch(s);
	char buf[256];
	format_line(buf, sizeof buf, "\x1b%s\x1b", FAKE);
	ck_assert_str_eq(buf, "\\x1b[redacted]\\x1b");
	md_secret_free(s);
}
END_TEST

START_TEST(format_line_truncates)
{
	char buf[8];
	memset(buf, 'Z', sizeof buf);
	format_line(buf, sizeof buf, "%s", "0123456789");
	ck_assert_str_eq(buf, "0123456");
	char one[1] = {'Z'};
	format_line(one, sizeof one, "%s", "abc");
	ck_assert_int_eq(one[0], '\0');
	char none[1] = {'Z'};
	format_line(none, 0, "%s", "abc");
	ck_assert_int_eq(none[0], 'Z');
}
END_TEST

START_TEST(format_line_redacts)
{
	md_secret *s = secret_of(FAKE);
	md_secret_watch(s);
	char buf[128];
	format_line(buf, sizeof buf, "token:\n%s!", FAKE);
	ck_assert_msg(strcmp(buf, "token: [redacted]!") == 0, "unexpected redacted line");
	md_secret_free(s);
}
END_TEST

START_TEST(format_line_redacts_before_cutting)
{
	md_secret *s = secret_of(FAKE);
	md_secret_watch(s);
	char buf[16];
	/* the cut at 15 bytes falls inside the secret */
	format_line(buf, sizeof buf, "abcdef%s", FAKE);
	ck_assert_msg(strstr(buf, "test-se") == NULL, "secret prefix survived the cut");
	ck_assert_msg(strncmp(buf, "abcdef[redacted]", sizeof buf - 1) == 0, "unexpected line");
	ck_assert_uint_eq(strlen(buf), sizeof buf - 1);
	md_secret_free(s);
}
END_TEST

START_TEST(format_line_long_output)
{
	size_t n = 10000;
	char *big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'w', n);
	big[n] = '\0';
	char *buf = malloc(n + 10);
	ck_assert_ptr_nonnull(buf);
	format_line(buf, n + 10, "<%s>", big);
	ck_assert_uint_eq(strlen(buf), n + 2);
	ck_assert_int_eq(buf[0], '<');
	ck_assert_int_eq(buf[n + 1], '>');
	free(buf);
	free(big);
}
END_TEST

START_TEST(wipe_zeroes)
{
	char buf[32];
	memset(buf, 'x', sizeof buf);
	md_secret_wipe(buf + 4, 20);
	for (size_t i = 0; i < sizeof buf; i++)
		ck_assert_int_eq(buf[i], i >= 4 && i < 24 ? '\0' : 'x');
	md_secret_wipe(buf, 0);
}
END_TEST

/* ---- lifetime and process ---- */

START_TEST(cleanup_attribute_frees_at_scope_end)
{
	{
		_cleanup_secret_ md_secret *t = secret_of(FAKE);
		md_secret_watch(t);
		redacts_to("in scope " FAKE, "in scope [redacted]");
	}
	/* freed when the scope ended; its value stays redacted (redact.h) */
	redacts_to("after " FAKE, "after [redacted]");
	{
		_cleanup_secret_ md_secret *none = NULL; /* NULL is fine */
		(void)none;
	}
}
END_TEST

START_TEST(freep_sets_null)
{
	md_secret *s = secret_of(FAKE);
	md_secret_freep(&s);
	ck_assert_ptr_null(s);
	md_secret_freep(&s);
}
END_TEST

static Suite *secret_suite(void)
{
	Suite *s = suite_create("secret");

	TCase *tc = tcase_create("buffer");
	tcase_add_test(tc, new_is_empty_and_terminated);
	tcase_add_test(tc, append_concatenates);
	tcase_add_test(tc, append_binary_keeps_length);
	tcase_add_test(tc, appendf_formats);
	tcase_add_test(tc, appendf_grows_past_page);
	tcase_add_test(tc, set_replaces_content);
	tcase_add_test(tc, truncate_shortens_and_terminates);
	tcase_add_test(tc, growth_across_many_pages_keeps_content);
	tcase_add_test(tc, null_secret_accessors);
	tcase_add_test(tc, eq_compares_content);
	suite_add_tcase(s, tc);

	tc = tcase_create("redact");
	tcase_add_test(tc, redact_at_start_middle_end);
	tcase_add_test(tc, redact_repeated_occurrences);
	tcase_add_test(tc, redact_two_watched_secrets);
	tcase_add_test(tc, redact_outlives_the_buffer);
	tcase_add_test(tc, redact_longest_value_wins);
	tcase_add_test(tc, redact_counts_each_value_once);
	tcase_add_test(tc, redact_many_values);
	tcase_add_test(tc, redact_live_value_never_evicted);
	tcase_add_test(tc, siphash_reference_vectors);
	tcase_add_test(tc, redact_leaves_other_text_alone);
	tcase_add_test(tc, short_values_not_watched);
	tcase_add_test(tc, eight_byte_value_removed);
	tcase_add_test(tc, watched_secret_survives_growth);
	suite_add_tcase(s, tc);

	tc = tcase_create("format_line");
	tcase_add_test(tc, format_line_formats);
	tcase_add_test(tc, format_line_flattens_cr_lf);
	tcase_add_test(tc, format_line_escapes_what_is_not_printable);
	tcase_add_test(tc, format_line_redacts_then_escapes);
	tcase_add_test(tc, format_line_truncates);
	tcase_add_test(tc, format_line_redacts);
	tcase_add_test(tc, format_line_redacts_before_cutting);
	tcase_add_test(tc, format_line_long_output);
	tcase_add_test(tc, wipe_zeroes);
	suite_add_tcase(s, tc);

	tc = tcase_create("redact_termination");
	tcase_set_timeout(tc, 3);
	tcase_add_test(tc, redact_terminates_when_replacement_matches);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifetime");
	tcase_add_test(tc, cleanup_attribute_frees_at_scope_end);
	tcase_add_test(tc, freep_sets_null);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(secret_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
