/* test_log.c - unit tests for lib/log.[ch]. stderr is redirected (dup2) to a
 * temporary file while md_log() runs, then read back.
 *
 * Project rule: a test never prints a secret value; captured output that may
 * hold one is checked with strstr()/memmem() and a fixed failure message. */
#define _GNU_SOURCE /* memmem */
#include <check.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"

#define FAKE "test-secret-value-123456"
#define PROG "mdtest"
#define ERASE "\r\033[K" /* what goes before a line written under a status line */

static FILE *cap_file;
static int cap_saved = -1;
static char cap_buf[16384];

static void cap_begin(void)
{
	cap_file = tmpfile();
	ck_assert_ptr_nonnull(cap_file);
	fflush(stderr);
	cap_saved = dup(STDERR_FILENO);
	ck_assert_int_ge(cap_saved, 0);
	ck_assert_int_ge(dup2(fileno(cap_file), STDERR_FILENO), 0);
}

/* Restores stderr and returns what was written meanwhile. */
static const char *cap_end(void)
{
	fflush(stderr);
	dup2(cap_saved, STDERR_FILENO);
	close(cap_saved);
	cap_saved = -1;
	rewind(cap_file);
	size_t n = fread(cap_buf, 1, sizeof cap_buf - 1, cap_file);
	cap_buf[n] = '\0';
	fclose(cap_file);
	cap_file = NULL;
	return cap_buf;
}

static md_secret *watched(const char *v)
{
	md_secret *s = md_secret_new(0);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(md_secret_set(s, v, strlen(v)), 0);
	md_secret_watch(s);
	return s;
}

static int count_char(const char *s, char c)
{
	int n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

/* Parses one JSON log line and returns the string field key into out. */
static void json_field(const char *line, size_t len, const char *key, char *out, size_t outsz)
{
	md_json d;
	md_error err = {0};
	ck_assert_msg(md_json_parse(&d, line, len, &err) == MD_OK, "log line is not JSON: %s",
		      err.msg);
	ck_assert_int_eq(md_json_type_of(&d, 0), MD_JSON_OBJECT);
	int v = md_json_get(&d, 0, key);
	ck_assert_msg(v >= 0, "field %s missing", key);
	ck_assert_msg(md_json_str(&d, v, out, outsz) >= 0, "field %s not a string", key);
	md_json_free(&d);
}

static bool is_iso_time(const char *t)
{
	/* YYYY-MM-DDTHH:MM:SS.mmmZ */
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	if (strlen(t) != sizeof pat - 1)
		return false;
	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] == 'd' ? !isdigit((unsigned char)t[i]) : t[i] != pat[i])
			return false;
	}
	return true;
}

/* ---- text format ---- */

START_TEST(text_warning_format)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	cap_begin();
	md_log_warn("disk %s at %d%%", "full", 99);
	ck_assert_str_eq(cap_end(), PROG ": warning: disk full at 99%\n");
}
END_TEST

START_TEST(text_error_format)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	cap_begin();
	md_log_error("cannot continue");
	ck_assert_str_eq(cap_end(), PROG ": error: cannot continue\n");
}
END_TEST

START_TEST(text_info_has_no_level_word)
{
	md_log_init(PROG, MD_LOG_INFO, MD_LOG_TEXT);
	cap_begin();
	md_log_info("created token %s", "ci");
	ck_assert_str_eq(cap_end(), PROG ": created token ci\n");
}
END_TEST

START_TEST(text_debug_format)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	cap_begin();
	md_log_debug("GET %s", "/v1/x");
	ck_assert_str_eq(cap_end(), PROG ": debug: GET /v1/x\n");
}
END_TEST

START_TEST(text_lines_append)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	cap_begin();
	md_log_warn("one");
	md_log_error("two");
	md_log_info("three");
	ck_assert_str_eq(cap_end(), PROG ": warning: one\n" PROG ": error: two\n" PROG ": three\n");
}
END_TEST

START_TEST(text_newlines_flattened)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	cap_begin();
	md_log_warn("a\nb\rc%s", "\n");
	const char *out = cap_end();
	ck_assert_str_eq(out, PROG ": warning: a b c \n");
	ck_assert_int_eq(count_char(out, '\n'), 1);
}
END_TEST

START_TEST(prog_name_used)
{
	md_log_init("other-prog", MD_LOG_WARN, MD_LOG_TEXT);
	cap_begin();
	md_log_warn("x");
	ck_assert_str_eq(cap_end(), "other-prog: warning: x\n");
}
END_TEST

/* ---- threshold ---- */

START_TEST(threshold_suppresses_lower_levels)
{
	md_log_init(PROG, MD_LOG_WARN, MD_LOG_TEXT);
	cap_begin();
	md_log_debug("hidden debug");
	md_log_info("hidden info");
	md_log_warn("shown warning");
	md_log_error("shown error");
	ck_assert_str_eq(cap_end(), PROG ": warning: shown warning\n" PROG ": error: shown error\n");
}
END_TEST

START_TEST(debug_suppressed_at_info)
{
	md_log_init(PROG, MD_LOG_INFO, MD_LOG_TEXT);
	cap_begin();
	md_log_debug("hidden");
	ck_assert_str_eq(cap_end(), "");
}
END_TEST

START_TEST(error_threshold_only_errors)
{
	md_log_init(PROG, MD_LOG_ERROR, MD_LOG_JSON);
	cap_begin();
	md_log_warn("hidden");
	md_log_info("hidden");
	md_log_debug("hidden");
	ck_assert_str_eq(cap_end(), "");
}
END_TEST

START_TEST(enabled_follows_threshold)
{
	md_log_init(PROG, MD_LOG_INFO, MD_LOG_TEXT);
	ck_assert(md_log_enabled(MD_LOG_ERROR));
	ck_assert(md_log_enabled(MD_LOG_WARN));
	ck_assert(md_log_enabled(MD_LOG_INFO));
	ck_assert(!md_log_enabled(MD_LOG_DEBUG));
	md_log_set_level(MD_LOG_DEBUG);
	ck_assert(md_log_enabled(MD_LOG_DEBUG));
	md_log_set_level(MD_LOG_ERROR);
	ck_assert(md_log_enabled(MD_LOG_ERROR));
	ck_assert(!md_log_enabled(MD_LOG_WARN));
}
END_TEST

START_TEST(set_level_takes_effect)
{
	md_log_init(PROG, MD_LOG_WARN, MD_LOG_TEXT);
	md_log_set_level(MD_LOG_DEBUG);
	cap_begin();
	md_log_debug("now visible");
	ck_assert_str_eq(cap_end(), PROG ": debug: now visible\n");
}
END_TEST

/* ---- format ---- */

START_TEST(format_parse)
{
	ck_assert_int_eq(md_log_format_parse("text"), MD_LOG_TEXT);
	ck_assert_int_eq(md_log_format_parse("json"), MD_LOG_JSON);
	ck_assert_int_eq(md_log_format_parse("JSON"), -1);
	ck_assert_int_eq(md_log_format_parse(""), -1);
	ck_assert_int_eq(md_log_format_parse("xml"), -1);
	ck_assert_int_eq(md_log_format_parse("text "), -1);
}
END_TEST

START_TEST(json_line_has_fields)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_JSON);
	cap_begin();
	md_log_warn("hello %s", "\"world\"");
	const char *out = cap_end();
	size_t len = strlen(out);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(out[len - 1], '\n');
	ck_assert_int_eq(count_char(out, '\n'), 1);
	char v[256];
	json_field(out, len, "time", v, sizeof v);
	ck_assert_msg(is_iso_time(v), "bad time '%s'", v);
	json_field(out, len, "level", v, sizeof v);
	ck_assert_str_eq(v, "warning");
	json_field(out, len, "prog", v, sizeof v);
	ck_assert_str_eq(v, PROG);
	json_field(out, len, "msg", v, sizeof v);
	ck_assert_str_eq(v, "hello \"world\"");
}
END_TEST

START_TEST(json_level_names)
{
	static const struct {
		md_log_level level;
		const char *name;
	} cases[] = {
		{MD_LOG_ERROR, "error"},
		{MD_LOG_WARN, "warning"},
		{MD_LOG_INFO, "info"},
		{MD_LOG_DEBUG, "debug"},
	};
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_JSON);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cap_begin();
		md_log(cases[i].level, "m");
		const char *out = cap_end();
		char v[64];
		json_field(out, strlen(out), "level", v, sizeof v);
		ck_assert_str_eq(v, cases[i].name);
	}
}
END_TEST

START_TEST(json_one_object_per_line)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_JSON);
	cap_begin();
	md_log_info("first");
	md_log_error("second");
	const char *out = cap_end();
	ck_assert_int_eq(count_char(out, '\n'), 2);
	const char *nl = strchr(out, '\n');
	char v[64];
	json_field(out, (size_t)(nl - out + 1), "msg", v, sizeof v);
	ck_assert_str_eq(v, "first");
	json_field(nl + 1, strlen(nl + 1), "msg", v, sizeof v);
	ck_assert_str_eq(v, "second");
}
END_TEST

START_TEST(json_newlines_flattened)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_JSON);
	cap_begin();
	md_log_warn("a\nb\r\nc");
	const char *out = cap_end();
	ck_assert_int_eq(count_char(out, '\n'), 1);
	char v[64];
	json_field(out, strlen(out), "msg", v, sizeof v);
	ck_assert_str_eq(v, "a b  c");
}
END_TEST

START_TEST(json_control_chars_escaped)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_JSON);
	cap_begin();
	md_log_warn("tab\there \x01 back\\slash");
	const char *out = cap_end();
	for (const char *p = out; *p && *p != '\n'; p++)
		ck_assert_msg((unsigned char)*p >= 0x20, "raw control char in JSON line");
	char v[64];
	json_field(out, strlen(out), "msg", v, sizeof v);
	/* Escaped before it is a JSON string (secret.h, md_secret_format_line). */
	ck_assert_str_eq(v, "tab here \\x01 back\\slash");
}
END_TEST

START_TEST(json_invalid_utf8_still_json)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_JSON);
	cap_begin();
	md_log_warn("bad \xff byte");
	const char *out = cap_end();
	char v[64];
	json_field(out, strlen(out), "msg", v, sizeof v);
	ck_assert_str_eq(v, "bad \\xff byte");
}
END_TEST

START_TEST(set_format_switches)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	md_log_set_format(MD_LOG_JSON);
	cap_begin();
	md_log_warn("x");
	const char *out = cap_end();
	ck_assert_int_eq(out[0], '{');
	md_log_set_format(MD_LOG_TEXT);
	cap_begin();
	md_log_warn("x");
	ck_assert_str_eq(cap_end(), PROG ": warning: x\n");
}
END_TEST

/* ---- redaction ---- */

START_TEST(text_redacts_watched_secret)
{
	md_secret *s = watched(FAKE);
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	cap_begin();
	md_log_warn("token %s rejected", FAKE);
	md_log_debug("Authorization: Bearer %s", FAKE);
	const char *out = cap_end();
	ck_assert_msg(strstr(out, FAKE) == NULL, "secret leaked into text log");
	ck_assert_msg(strcmp(out, PROG ": warning: token [redacted] rejected\n" PROG
				  ": debug: Authorization: Bearer [redacted]\n") == 0,
		      "unexpected redacted text log");
	md_secret_free(s);
}
END_TEST

START_TEST(json_redacts_watched_secret)
{
	md_secret *s = watched(FAKE);
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_JSON);
	cap_begin();
	md_log_error("token %s rejected", FAKE);
	const char *out = cap_end();
	ck_assert_msg(strstr(out, FAKE) == NULL, "secret leaked into JSON log");
	char v[256];
	json_field(out, strlen(out), "msg", v, sizeof v);
	ck_assert_msg(strcmp(v, "token [redacted] rejected") == 0, "unexpected redacted msg");
	md_secret_free(s);
}
END_TEST

START_TEST(redacts_secret_next_to_newline)
{
	md_secret *s = watched(FAKE);
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	cap_begin();
	md_log_warn("body:\n%s\n", FAKE);
	const char *out = cap_end();
	ck_assert_msg(strstr(out, FAKE) == NULL, "secret leaked into text log");
	md_secret_free(s);
}
END_TEST

START_TEST(suppressed_line_writes_nothing_even_with_secret)
{
	md_secret *s = watched(FAKE);
	md_log_init(PROG, MD_LOG_WARN, MD_LOG_TEXT);
	cap_begin();
	md_log_debug("%s", FAKE);
	ck_assert_msg(cap_end()[0] == '\0', "suppressed line was written");
	md_secret_free(s);
}
END_TEST

/* Redaction runs over the whole line before it is cut to the 2 KiB
 * message buffer: a secret straddling the cut must not leave its prefix. */
START_TEST(long_line_does_not_leak_secret_prefix)
{
	md_secret *s = watched(FAKE);
	static char pad[2031];
	memset(pad, 'x', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	cap_begin();
	md_log_warn("%s%s", pad, FAKE);
	const char *out = cap_end();
	ck_assert_msg(memmem(out, strlen(out), FAKE, 8) == NULL,
		      "part of a watched secret written to the log");
	md_secret_free(s);
}
END_TEST

/* ---- role tag and status line ---- */

/* Leaves no role, status line or capture behind for the next test (they
 * share one process under CK_FORK=no). */
static void role_status_teardown(void)
{
	if (cap_saved >= 0)
		cap_end();
	md_log_set_role(NULL);
	cap_begin();
	md_log_status(NULL);
	cap_end();
}

START_TEST(role_tags_text_and_json)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	md_log_set_role("r1");
	cap_begin();
	md_log_warn("msg");
	md_log_info("note");
	ck_assert_str_eq(cap_end(), PROG ": warning: r1: msg\n" PROG ": r1: note\n");

	md_log_set_format(MD_LOG_JSON);
	cap_begin();
	md_log_warn("msg");
	const char *out = cap_end();
	char v[64];
	json_field(out, strlen(out), "role", v, sizeof v);
	ck_assert_str_eq(v, "r1");
	json_field(out, strlen(out), "msg", v, sizeof v);
	ck_assert_str_eq(v, "msg");

	md_log_set_role(NULL);
	cap_begin();
	md_log_warn("msg");
	out = cap_end();
	ck_assert_msg(strstr(out, "\"role\"") == NULL, "role left in JSON after clearing: %s", out);
	md_log_set_format(MD_LOG_TEXT);
	cap_begin();
	md_log_warn("msg");
	ck_assert_str_eq(cap_end(), PROG ": warning: msg\n");
}
END_TEST

/* Logs one line from a thread of its own, under role (NULL: none set). */
static void *role_thread_main(void *arg)
{
	const char *role = arg;
	if (role)
		md_log_set_role(role);
	md_log_warn("from %s", role ? role : "a bare thread");
	return NULL;
}

static void log_from_thread(const char *role)
{
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, role_thread_main, (void *)role), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
}

START_TEST(role_is_per_thread)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	md_log_set_role("main-role");
	cap_begin();
	log_from_thread(NULL);
	log_from_thread("t2");
	md_log_warn("from main");
	ck_assert_str_eq(cap_end(), PROG ": warning: from a bare thread\n"
				    PROG ": warning: t2: from t2\n"
				    PROG ": warning: main-role: from main\n");
}
END_TEST

START_TEST(status_line_redrawn_and_erased)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	cap_begin();
	md_log_status("S");
	md_log_warn("msg");
	md_log_status("S2");
	md_log_error("err");
	md_log_status(NULL);
	md_log_warn("after");
	ck_assert_str_eq(cap_end(), ERASE "S"
				    ERASE PROG ": warning: msg\n" "S"
				    ERASE "S2"
				    ERASE PROG ": error: err\n" "S2"
				    ERASE
				    PROG ": warning: after\n");
}
END_TEST

START_TEST(status_keep_ends_the_line)
{
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	cap_begin();
	md_log_status("done 3/3");
	md_log_status_keep();
	md_log_warn("later");
	md_log_status_keep(); /* nothing shown: writes nothing */
	ck_assert_str_eq(cap_end(), ERASE "done 3/3\n" PROG ": warning: later\n");
}
END_TEST

#define TEAR_THREADS 8
#define TEAR_LINES 40 /* all of it fits cap_buf */

static void *tear_thread_main(void *arg)
{
	md_log_set_role(arg);
	for (int i = 0; i < TEAR_LINES; i++)
		md_log_warn("line %d", i);
	return NULL;
}

/* Lines from many threads under a status line: every line arrives whole,
 * between an erase and a redraw of the status, each thread's in order. */
START_TEST(status_never_torn_by_threads)
{
	static const char *const roles[TEAR_THREADS] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	md_log_init(PROG, MD_LOG_DEBUG, MD_LOG_TEXT);
	cap_begin();
	md_log_status("S");
	pthread_t t[TEAR_THREADS];
	for (int i = 0; i < TEAR_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, tear_thread_main, (void *)roles[i]), 0);
	for (int i = 0; i < TEAR_THREADS; i++)
		pthread_join(t[i], NULL);
	const char *p = cap_end();
	ck_assert_msg(strncmp(p, ERASE "S", 5) == 0, "status not drawn first");
	p += 5;
	int next[TEAR_THREADS] = {0};
	for (int k = 0; k < TEAR_THREADS * TEAR_LINES; k++) {
		char role = p[strlen(ERASE PROG ": warning: ")];
		ck_assert_msg(role >= 'a' && role < 'a' + TEAR_THREADS, "line %d torn: %.40s", k, p);
		char want[64];
		int n = snprintf(want, sizeof want, ERASE PROG ": warning: %c: line %d\nS", role,
				 next[role - 'a']++);
		ck_assert_msg(strncmp(p, want, (size_t)n) == 0, "line %d torn: %.40s", k, p);
		p += n;
	}
	ck_assert_str_eq(p, "");
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("text");
	tcase_add_test(tc, text_warning_format);
	tcase_add_test(tc, text_error_format);
	tcase_add_test(tc, text_info_has_no_level_word);
	tcase_add_test(tc, text_debug_format);
	tcase_add_test(tc, text_lines_append);
	tcase_add_test(tc, text_newlines_flattened);
	tcase_add_test(tc, prog_name_used);
	suite_add_tcase(s, tc);

	tc = tcase_create("threshold");
	tcase_add_test(tc, threshold_suppresses_lower_levels);
	tcase_add_test(tc, debug_suppressed_at_info);
	tcase_add_test(tc, error_threshold_only_errors);
	tcase_add_test(tc, enabled_follows_threshold);
	tcase_add_test(tc, set_level_takes_effect);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, format_parse);
	tcase_add_test(tc, json_line_has_fields);
	tcase_add_test(tc, json_level_names);
	tcase_add_test(tc, json_one_object_per_line);
	tcase_add_test(tc, json_newlines_flattened);
	tcase_add_test(tc, json_control_chars_escaped);
	tcase_add_test(tc, json_invalid_utf8_still_json);
	tcase_add_test(tc, set_format_switches);
	suite_add_tcase(s, tc);

	tc = tcase_create("redaction");
	tcase_add_test(tc, text_redacts_watched_secret);
	tcase_add_test(tc, json_redacts_watched_secret);
	tcase_add_test(tc, redacts_secret_next_to_newline);
	tcase_add_test(tc, suppressed_line_writes_nothing_even_with_secret);
	tcase_add_test(tc, long_line_does_not_leak_secret_prefix);
	suite_add_tcase(s, tc);

	tc = tcase_create("role_status");
	tcase_add_checked_fixture(tc, NULL, role_status_teardown);
	tcase_add_test(tc, role_tags_text_and_json);
	tcase_add_test(tc, role_is_per_thread);
	tcase_add_test(tc, status_line_redrawn_and_erased);
	tcase_add_test(tc, status_keep_ends_the_line);
	tcase_add_test(tc, status_never_torn_by_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(log_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
