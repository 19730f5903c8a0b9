/* json_check.h - the strict grammar check behind md_json_parse (internal). */
#ifndef MD_JSON_CHECK_H
#define MD_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_CHECK_MAX_DEPTH 256

enum { JSON_CHECK_OK = 0, JSON_CHECK_BAD = -1, JSON_CHECK_PART = -2, JSON_CHECK_DEEP = -3 };

/* Is s[0..n) exactly one JSON value (with surrounding white space)? */
int md_json_check(const char *s, size_t n);

#endif
