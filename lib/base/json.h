/* json.h - JSON reading (on jsmn) and safe JSON writing.
 *
 * Owns: md_json, a parsed view of a JSON text that stays in the caller's
 * buffer (usually an md_secret response body), lookups by key and index,
 * string unescaping (incl. \uXXXX surrogate pairs to UTF-8), and md_jw, a
 * writer that appends correctly escaped JSON to an md_secret. Token indexes
 * are ints; a negative index means "absent" and every getter accepts it.
 */
#ifndef MD_JSON_H
#define MD_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/secret.h"

typedef enum {
	MD_JSON_NONE = 0,
	MD_JSON_OBJECT,
	MD_JSON_ARRAY,
	MD_JSON_STRING,
	MD_JSON_NUMBER,
	MD_JSON_BOOL,
	MD_JSON_NULL,
} md_json_type;

typedef struct {
	const char *src;
	size_t len;
	void *toks; /* jsmntok_t[], heap: offsets only, never text */
	int ntok;
} md_json;

/* Parses src[0..len) (strict JSON, one value, max 64 MiB). Root is index 0. */
int md_json_parse(md_json *doc, const char *src, size_t len, md_error *err);
void md_json_free(md_json *doc);
/* `_cleanup_json_ md_json d = {0};`: freed when d goes out of scope. */
#define _cleanup_json_ __attribute__((cleanup(md_json_free)))

md_json_type md_json_type_of(const md_json *doc, int tok);
/* Members of an object / elements of an array; 0 for anything else. */
int md_json_count(const md_json *doc, int tok);
/* Value of key in object tok (first match), or -1. */
int md_json_get(const md_json *doc, int obj, const char *key);
/* Token of the i-th key of object tok (a string), or -1. */
int md_json_key_at(const md_json *doc, int obj, int i);
/* i-th element of array tok, or -1. */
int md_json_at(const md_json *doc, int arr, int i);

/* Unescaped string value into out (NUL-terminated). Returns its length, or
 * -1 if tok is not a string, is invalid, holds a NUL, or does not fit. */
int md_json_str(const md_json *doc, int tok, char *out, size_t outsz);
/* Same, into a secret (replacing its content). 0 or -1. */
int md_json_str_secret(const md_json *doc, int tok, md_secret *out);
/* Integral number in [LLONG_MIN, LLONG_MAX]; 0 or -1. */
int md_json_int(const md_json *doc, int tok, long long *out);
int md_json_bool(const md_json *doc, int tok, bool *out);
/* Raw bytes of a token (for strings: without the quotes, still escaped). */
const char *md_json_raw(const md_json *doc, int tok, size_t *len);

/* Writer. Calls after a failure (out of memory, too deep) are no-ops;
 * md_jw_ok() tells at the end. */
#define MD_JW_MAX_DEPTH 32
typedef struct {
	md_secret *out;
	int depth;
	bool first[MD_JW_MAX_DEPTH];
	bool after_key;
	bool failed;
} md_jw;

void md_jw_init(md_jw *w, md_secret *out);
void md_jw_obj_begin(md_jw *w);
void md_jw_obj_end(md_jw *w);
void md_jw_arr_begin(md_jw *w);
void md_jw_arr_end(md_jw *w);
void md_jw_key(md_jw *w, const char *key);
void md_jw_str(md_jw *w, const char *s);           /* NULL writes null */
void md_jw_strn(md_jw *w, const char *s, size_t n);
void md_jw_int(md_jw *w, long long v);
void md_jw_bool(md_jw *w, bool v);
void md_jw_null(md_jw *w);
/* Writes the value tok of doc again (a server's JSON re-serialised, never
 * copied raw). 0, or -1 (a NUL in a string, too deep, out of memory). */
int md_jw_value(md_jw *w, const md_json *doc, int tok);
bool md_jw_ok(const md_jw *w);

/* Appends s, escaped as the inside of a JSON string (no quotes). Invalid
 * UTF-8 becomes U+FFFD, so output is always valid JSON. */
int md_json_escape(md_secret *out, const char *s, size_t n);

#endif
