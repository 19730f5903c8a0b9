/* json_util.h - what the json suites share (test_json.c, test_json_check.c,
 * test_json_writer.c): parsing a document that must parse or must fail,
 * and reading an integer or a string token back. static inline: each suite
 * is its own binary (Makefile: tests/unit/test_*.c, one each). */
#ifndef JSON_UTIL_H
#define JSON_UTIL_H

#include <check.h>

#include <string.h>

#include "base/json.h"

static inline void parse_ok(md_json *d, const char *s)
{
	md_error err = {0};
	int rc = md_json_parse(d, s, strlen(s), &err);
	ck_assert_msg(rc == MD_OK, "parse of '%s' failed: %s", s, err.msg);
}

/* Parses s and expects failure with a non-empty message. */
static inline void parse_fails(const char *s, size_t len)
{
	md_json d;
	md_error err = {0};
	int rc = md_json_parse(&d, s, len, &err);
	if (rc == MD_OK)
		md_json_free(&d);
	ck_assert_msg(rc != MD_OK, "parse of '%.*s' should fail", (int)len, s);
	ck_assert_msg(err.msg[0] != '\0', "no error message for '%.*s'", (int)len, s);
}

static inline long long int_at(md_json *d, int tok)
{
	long long v = 0;
	ck_assert_int_eq(md_json_int(d, tok, &v), 0);
	return v;
}

static inline void str_at_eq(md_json *d, int tok, const char *want)
{
	char buf[256];
	int n = md_json_str(d, tok, buf, sizeof buf);
	ck_assert_int_eq(n, (int)strlen(want));
	ck_assert_str_eq(buf, want);
}

#endif
