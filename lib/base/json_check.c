/* json_check.c - strict RFC 8259 grammar check, run before jsmn.
 *
 * jsmn's strict mode still accepts "[1 2]", "[1,]", "{\"a\":tru}" and the
 * like; a parser in front of secrets must not guess. This is an iterative
 * state machine (no recursion: deep nesting cannot exhaust the stack).
 * Part of the json module (json.h); not a public interface.
 */
#include "base/json_check.h"
#include "base/text.h"

#include <string.h>

enum st { ST_VALUE, ST_VALUE_OR_CLOSE, ST_KEY, ST_KEY_OR_CLOSE, ST_COLON, ST_AFTER };

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_hex(char c)
{
	return md_text_hexval((unsigned char)c) >= 0;
}

/* s[*i] is the opening quote. */
static int check_string(const char *s, size_t n, size_t *i)
{
	size_t p = *i + 1;
	while (p < n) {
		unsigned char c = (unsigned char)s[p];
		if (c == '"') {
			*i = p + 1;
			return JSON_CHECK_OK;
		}
		if (c < 0x20)
			return JSON_CHECK_BAD;
		if (c >= 0x80) {
			/* RFC 8259 text is UTF-8: a string that is not cannot be
			 * what a server meant, and must not reach a printer. */
			uint32_t cp;
			size_t l = md_text_utf8_next((const unsigned char *)s + p, n - p, &cp);
			if (l == 0)
				return JSON_CHECK_BAD;
			p += l;
			continue;
		}
		if (c == '\\') {
			if (++p >= n)
				return JSON_CHECK_PART;
			if (s[p] == 'u') {
				for (int k = 1; k <= 4; k++) {
					if (p + (size_t)k >= n)
						return JSON_CHECK_PART;
					if (!is_hex(s[p + (size_t)k]))
						return JSON_CHECK_BAD;
				}
				p += 4;
			} else if (!strchr("\"\\/bfnrt", s[p])) {
				return JSON_CHECK_BAD;
			}
		}
		p++;
	}
	return JSON_CHECK_PART;
}

static size_t digits(const char *s, size_t n, size_t p)
{
	while (p < n && s[p] >= '0' && s[p] <= '9')
		p++;
	return p;
}

static int check_number(const char *s, size_t n, size_t *i)
{
	size_t p = *i, q;
	if (s[p] == '-')
		p++;
	if (p >= n)
		return JSON_CHECK_PART;
	if (s[p] == '0')
		p++;
	else if (s[p] >= '1' && s[p] <= '9')
		p = digits(s, n, p);
	else
		return JSON_CHECK_BAD;
	if (p < n && s[p] == '.') {
		q = digits(s, n, p + 1);
		if (q == p + 1)
			return q >= n ? JSON_CHECK_PART : JSON_CHECK_BAD;
		p = q;
	}
	if (p < n && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < n && (s[p] == '+' || s[p] == '-'))
			p++;
		q = digits(s, n, p);
		if (q == p)
			return q >= n ? JSON_CHECK_PART : JSON_CHECK_BAD;
		p = q;
	}
	*i = p;
	return JSON_CHECK_OK;
}

static int check_literal(const char *s, size_t n, size_t *i)
{
	static const char *const lits[] = {"true", "false", "null"};
	for (int k = 0; k < 3; k++) {
		size_t l = strlen(lits[k]);
		if (s[*i] != lits[k][0])
			continue;
		size_t have = n - *i < l ? n - *i : l;
		if (memcmp(s + *i, lits[k], have) != 0)
			return JSON_CHECK_BAD;
		if (have < l)
			return JSON_CHECK_PART;
		*i += l;
		return JSON_CHECK_OK;
	}
	return JSON_CHECK_BAD;
}

static int check_scalar(const char *s, size_t n, size_t *i)
{
	char c = s[*i];
	if (c == '"')
		return check_string(s, n, i);
	if (c == '-' || (c >= '0' && c <= '9'))
		return check_number(s, n, i);
	return check_literal(s, n, i);
}

int md_json_check(const char *s, size_t n)
{
	char stack[JSON_CHECK_MAX_DEPTH];
	int depth = 0;
	enum st st = ST_VALUE;
	size_t i = 0;
	for (;;) {
		while (i < n && is_ws(s[i]))
			i++;
		if (i >= n)
			return st == ST_AFTER && depth == 0 ? JSON_CHECK_OK : JSON_CHECK_PART;
		char c = s[i];
		int rc;
		switch (st) {
		case ST_VALUE_OR_CLOSE:
		case ST_KEY_OR_CLOSE:
			if (c == (st == ST_VALUE_OR_CLOSE ? ']' : '}')) {
				depth--;
				i++;
				st = ST_AFTER;
				break;
			}
			st = st == ST_VALUE_OR_CLOSE ? ST_VALUE : ST_KEY;
			continue;
		case ST_VALUE:
			if (c == '{' || c == '[') {
				if (depth == JSON_CHECK_MAX_DEPTH)
					return JSON_CHECK_DEEP;
				stack[depth++] = c;
				i++;
				st = c == '{' ? ST_KEY_OR_CLOSE : ST_VALUE_OR_CLOSE;
				break;
			}
			if ((rc = check_scalar(s, n, &i)) != JSON_CHECK_OK)
				return rc;
			st = ST_AFTER;
			break;
		case ST_KEY:
			if (c != '"')
				return JSON_CHECK_BAD;
			if ((rc = check_string(s, n, &i)) != JSON_CHECK_OK)
				return rc;
			st = ST_COLON;
			break;
		case ST_COLON:
			if (c != ':')
				return JSON_CHECK_BAD;
			i++;
			st = ST_VALUE;
			break;
		case ST_AFTER:
			if (depth == 0)
				return JSON_CHECK_BAD; /* trailing data */
			if (c == ',') {
				st = stack[depth - 1] == '{' ? ST_KEY : ST_VALUE;
			} else if (c == (stack[depth - 1] == '{' ? '}' : ']')) {
				depth--;
			} else {
				return JSON_CHECK_BAD;
			}
			i++;
			break;
		}
	}
}
