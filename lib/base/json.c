/* json.c - see json.h. jsmn is compiled here only (header-only library). */
#define JSMN_STATIC
#define JSMN_STRICT
/* Without parent links jsmn searches back through every token at each ','
 * of an object: quadratic in the member count. */
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "base/json.h"
#include "base/json_check.h"
#include "base/text.h"
#include "base/dupset.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_LEN (64u << 20)

static const jsmntok_t *tok_at(const md_json *doc, int i)
{
	if (!doc || !doc->toks || i < 0 || i >= doc->ntok)
		return NULL;
	return (const jsmntok_t *)doc->toks + i;
}

/* A scalar document ("42", "\"x\""): jsmn wants a delimiter after it. */
static int parse_scalar(md_json *doc, const char *src, size_t len)
{
	size_t a = 0, b = len;
	while (a < b && strchr(" \t\r\n", src[a]))
		a++;
	while (b > a && strchr(" \t\r\n", src[b - 1]))
		b--;
	jsmntok_t *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	bool str = src[a] == '"';
	t->type = str ? JSMN_STRING : JSMN_PRIMITIVE;
	t->start = (int)(a + str);
	t->end = (int)(b - str);
	doc->toks = t;
	doc->ntok = 1;
	return 0;
}

static int json_duplicate_key(const md_json *doc);

int md_json_parse(md_json *doc, const char *src, size_t len, md_error *err)
{
	memset(doc, 0, sizeof *doc);
	if (len > JSON_MAX_LEN)
		return md_err_set(err, MD_EFAIL, "JSON document too large (%zu bytes)", len);
	switch (md_json_check(src, len)) {
	case JSON_CHECK_OK: break;
	case JSON_CHECK_PART: return md_err_set(err, MD_EFAIL, "truncated JSON");
	case JSON_CHECK_DEEP: return md_err_set(err, MD_EFAIL, "JSON nested too deeply");
	default: return md_err_set(err, MD_EFAIL, "malformed JSON");
	}
	doc->src = src;
	doc->len = len;
	size_t a = 0;
	while (a < len && strchr(" \t\r\n", src[a]))
		a++;
	if (src[a] != '{' && src[a] != '[') {
		if (parse_scalar(doc, src, len) < 0)
			return md_err_set(err, MD_EFAIL, "out of memory");
		return MD_OK;
	}
	jsmn_parser p;
	jsmn_init(&p);
	int n = jsmn_parse(&p, src, len, NULL, 0);
	jsmntok_t *t = n > 0 ? calloc((size_t)n, sizeof *t) : NULL;
	if (!t) {
		memset(doc, 0, sizeof *doc);
		return md_err_set(err, MD_EFAIL, n > 0 ? "out of memory" : "malformed JSON");
	}
	jsmn_init(&p);
	if (jsmn_parse(&p, src, len, t, (unsigned)n) != n) {
		free(t);
		memset(doc, 0, sizeof *doc);
		return md_err_set(err, MD_EFAIL, "malformed JSON");
	}
	doc->toks = t;
	doc->ntok = n;
	int dup = json_duplicate_key(doc);
	if (dup != 0) {
		md_json_free(doc);
		return md_err_set(err, MD_EFAIL, dup < 0 ? "JSON object with a key that cannot be "
					    "read (or out of memory)" : "JSON object with a duplicate key");
	}
	return MD_OK;
}

void md_json_free(md_json *doc)
{
	if (!doc)
		return;
	free(doc->toks);
	memset(doc, 0, sizeof *doc);
}

md_json_type md_json_type_of(const md_json *doc, int i)
{
	const jsmntok_t *t = tok_at(doc, i);
	if (!t)
		return MD_JSON_NONE;
	switch (t->type) {
	case JSMN_OBJECT: return MD_JSON_OBJECT;
	case JSMN_ARRAY: return MD_JSON_ARRAY;
	case JSMN_STRING: return MD_JSON_STRING;
	case JSMN_PRIMITIVE:
		switch (doc->src[t->start]) {
		case 't': case 'f': return MD_JSON_BOOL;
		case 'n': return MD_JSON_NULL;
		default: return MD_JSON_NUMBER;
		}
	default: return MD_JSON_NONE;
	}
}

int md_json_count(const md_json *doc, int i)
{
	const jsmntok_t *t = tok_at(doc, i);
	if (!t || (t->type != JSMN_OBJECT && t->type != JSMN_ARRAY))
		return 0;
	return t->size;
}

/* Index of the token after i's whole subtree. */
static int json_skip(const md_json *doc, int i)
{
	const jsmntok_t *t = doc->toks;
	int j = i + 1;
	while (j < doc->ntok && t[j].start < t[i].end)
		j++;
	return j;
}

static bool key_equals(const md_json *doc, int k, const char *key)
{
	char buf[256];
	int n = md_json_str(doc, k, buf, sizeof buf);
	return n >= 0 && strcmp(buf, key) == 0;
}

int md_json_get(const md_json *doc, int obj, const char *key)
{
	const jsmntok_t *t = tok_at(doc, obj);
	if (!t || t->type != JSMN_OBJECT)
		return -1;
	int k = obj + 1;
	for (int m = 0; m < t->size && k < doc->ntok; m++) {
		int v = k + 1;
		if (key_equals(doc, k, key))
			return v < doc->ntok ? v : -1;
		k = json_skip(doc, v);
	}
	return -1;
}

int md_json_key_at(const md_json *doc, int obj, int idx)
{
	const jsmntok_t *t = tok_at(doc, obj);
	if (!t || t->type != JSMN_OBJECT || idx < 0 || idx >= t->size)
		return -1;
	int k = obj + 1;
	for (int m = 0; m < idx; m++)
		k = json_skip(doc, k + 1);
	return k < doc->ntok ? k : -1;
}

int md_json_at(const md_json *doc, int arr, int idx)
{
	const jsmntok_t *t = tok_at(doc, arr);
	if (!t || t->type != JSMN_ARRAY || idx < 0 || idx >= t->size)
		return -1;
	int e = arr + 1;
	for (int m = 0; m < idx; m++)
		e = json_skip(doc, e);
	return e < doc->ntok ? e : -1;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int d = md_text_hexval((unsigned char)p[i]);
		if (d < 0)
			return -1;
		v = (v << 4) | (unsigned)d;
	}
	*out = v;
	return 0;
}

static size_t utf8_put(unsigned cp, char *o)
{
	if (cp < 0x80) { o[0] = (char)cp; return 1; }
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Unescapes [p, end) into emit(); the sink decides where bytes go. */
typedef int (*emit_fn)(void *ctx, const char *b, size_t n);

static int unescape(const char *p, const char *end, emit_fn emit, void *ctx)
{
	while (p < end) {
		const char *run = p;
		while (p < end && *p != '\\')
			p++;
		if (p > run && emit(ctx, run, (size_t)(p - run)) < 0)
			return -1;
		if (p >= end)
			break;
		if (++p >= end)
			return -1;
		char c = *p++, b[4];
		size_t bl = 1;
		switch (c) {
		case '"': b[0] = '"'; break;
		case '\\': b[0] = '\\'; break;
		case '/': b[0] = '/'; break;
		case 'b': b[0] = '\b'; break;
		case 'f': b[0] = '\f'; break;
		case 'n': b[0] = '\n'; break;
		case 'r': b[0] = '\r'; break;
		case 't': b[0] = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (hex4(p, end, &cp) < 0)
				return -1;
			p += 4;
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return -1; /* lone low surrogate */
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    hex4(p + 2, end, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				p += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			if (cp == 0)
				return -1; /* C strings cannot carry NUL */
			bl = utf8_put(cp, b);
			break;
		}
		default:
			return -1;
		}
		if (emit(ctx, b, bl) < 0)
			return -1;
	}
	return 0;
}

struct fixed_sink {
	char *out;
	size_t cap, len;
};

static int fixed_emit(void *ctx, const char *b, size_t n)
{
	struct fixed_sink *s = ctx;
	if (memchr(b, '\0', n) || s->len + n + 1 > s->cap)
		return -1;
	memcpy(s->out + s->len, b, n);
	s->len += n;
	return 0;
}

int md_json_str(const md_json *doc, int i, char *out, size_t outsz)
{
	const jsmntok_t *t = tok_at(doc, i);
	if (outsz)
		out[0] = '\0';
	if (!t || t->type != JSMN_STRING || outsz == 0)
		return -1;
	struct fixed_sink s = {out, outsz, 0};
	if (unescape(doc->src + t->start, doc->src + t->end, fixed_emit, &s) < 0 ||
	    s.len > INT_MAX) {
		out[0] = '\0';
		return -1;
	}
	out[s.len] = '\0';
	return (int)s.len;
}

static int secret_emit(void *ctx, const char *b, size_t n)
{
	if (memchr(b, '\0', n))
		return -1;
	return md_secret_append(ctx, b, n);
}

int md_json_str_secret(const md_json *doc, int i, md_secret *out)
{
	const jsmntok_t *t = tok_at(doc, i);
	md_secret_truncate(out, 0);
	if (!t || t->type != JSMN_STRING)
		return -1;
	if (unescape(doc->src + t->start, doc->src + t->end, secret_emit, out) < 0) {
		md_secret_truncate(out, 0);
		return -1;
	}
	return 0;
}

/* ---- duplicate keys ----
 *
 * RFC 8259 leaves objects with a repeated name to the reader; readers
 * differ (first wins here, last wins elsewhere), which lets one answer mean
 * two things: {"token":"A","token":"B"}. Such a document is refused. Keys
 * are compared unescaped ("a" and "\u0061" are one name), each prefixed by
 * its object's index, in one duplicate set (dupset.h) for the document. */

struct keys {
	const md_json *doc;
	int *tok; /* the key tokens, in document order */
};

static const char *object_key(const void *ud, size_t i, md_secret *scratch, size_t *len)
{
	const struct keys *k = ud;
	const jsmntok_t *t = (const jsmntok_t *)k->doc->toks + k->tok[i];
	int obj = t->parent;
	md_secret_truncate(scratch, 0);
	if (md_secret_append(scratch, &obj, sizeof obj) < 0 ||
	    unescape(k->doc->src + t->start, k->doc->src + t->end, secret_emit, scratch) < 0)
		return NULL;
	*len = md_secret_len(scratch);
	return md_secret_str(scratch);
}

/* 1: some object repeats a key; 0: none; -1: out of memory. */
static int json_duplicate_key(const md_json *doc)
{
	const jsmntok_t *t = doc->toks;
	struct keys k = {doc, malloc((size_t)doc->ntok * sizeof *k.tok)};
	if (!k.tok)
		return -1;
	size_t nk = 0;
	for (int i = 0; i < doc->ntok; i++)
		if (t[i].parent >= 0 && t[t[i].parent].type == JSMN_OBJECT)
			k.tok[nk++] = i;
	md_dupset set;
	md_dupset_init(&set, object_key, &k);
	int dup = 0;
	size_t first;
	for (size_t i = 0; i < nk && dup == 0; i++)
		dup = md_dupset_add(&set, i, &first);
	md_dupset_free(&set);
	free(k.tok);
	return dup;
}

int md_json_int(const md_json *doc, int i, long long *out)
{
	const jsmntok_t *t = tok_at(doc, i);
	if (!t || md_json_type_of(doc, i) != MD_JSON_NUMBER)
		return -1;
	char buf[32];
	size_t n = (size_t)(t->end - t->start);
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, doc->src + t->start, n);
	buf[n] = '\0';
	char *endp;
	errno = 0;
	long long v = strtoll(buf, &endp, 10);
	if (errno || *endp != '\0')
		return -1; /* fractions and exponents are not integers here */
	*out = v;
	return 0;
}

int md_json_bool(const md_json *doc, int i, bool *out)
{
	const jsmntok_t *t = tok_at(doc, i);
	if (!t || md_json_type_of(doc, i) != MD_JSON_BOOL)
		return -1;
	*out = doc->src[t->start] == 't';
	return 0;
}

const char *md_json_raw(const md_json *doc, int i, size_t *len)
{
	const jsmntok_t *t = tok_at(doc, i);
	if (!t) {
		*len = 0;
		return NULL;
	}
	*len = (size_t)(t->end - t->start);
	return doc->src + t->start;
}

/* ---- writing ---- */

int md_json_escape(md_secret *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		while (i < n && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			i++;
		if (i > run && md_secret_append(out, s + run, i - run) < 0)
			return -1;
		if (i >= n)
			break;
		unsigned char c = s[i];
		int rc;
		if (c == '"') rc = md_secret_append(out, "\\\"", 2);
		else if (c == '\\') rc = md_secret_append(out, "\\\\", 2);
		else if (c == '\n') rc = md_secret_append(out, "\\n", 2);
		else if (c == '\r') rc = md_secret_append(out, "\\r", 2);
		else if (c == '\t') rc = md_secret_append(out, "\\t", 2);
		else if (c < 0x20 || c == 0x7f) rc = md_secret_appendf(out, "\\u%04x", c);
		else {
			/* Invalid UTF-8 becomes U+FFFD; what may not reach a
			 * terminal as it is (C1, direction overrides: text.h) is
			 * escaped, so a reader printing the value stays safe. */
			uint32_t cp = 0;
			size_t l = md_text_utf8_next(s + i, n - i, &cp);
			if (l == 0) {
				rc = md_secret_append(out, "\\ufffd", 6);
				l = 1;
			} else if (!md_text_printable(cp)) {
				rc = md_secret_appendf(out, "\\u%04x", (unsigned)cp);
			} else {
				rc = md_secret_append(out, s + i, l);
			}
			if (rc < 0)
				return -1;
			i += l;
			continue;
		}
		if (rc < 0)
			return -1;
		i++;
	}
	return 0;
}

void md_jw_init(md_jw *w, md_secret *out)
{
	memset(w, 0, sizeof *w);
	w->out = out;
}

static void jw_put(md_jw *w, const char *s, size_t n)
{
	if (!w->failed && md_secret_append(w->out, s, n) < 0)
		w->failed = true;
}

/* Comma before a value or key unless it is the first in its container or
 * the value right after a key. */
static void jw_sep(md_jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth - 1])
			jw_put(w, ",", 1);
		w->first[w->depth - 1] = false;
	}
}

static void jw_open(md_jw *w, const char *c)
{
	jw_sep(w);
	if (w->depth >= MD_JW_MAX_DEPTH) {
		w->failed = true;
		return;
	}
	jw_put(w, c, 1);
	w->first[w->depth++] = true;
}

static void jw_close(md_jw *w, const char *c)
{
	if (w->depth <= 0) {
		w->failed = true;
		return;
	}
	w->depth--;
	jw_put(w, c, 1);
}

void md_jw_obj_begin(md_jw *w) { jw_open(w, "{"); }
void md_jw_obj_end(md_jw *w) { jw_close(w, "}"); }
void md_jw_arr_begin(md_jw *w) { jw_open(w, "["); }
void md_jw_arr_end(md_jw *w) { jw_close(w, "]"); }

static void jw_quoted(md_jw *w, const char *s, size_t n)
{
	jw_put(w, "\"", 1);
	if (!w->failed && md_json_escape(w->out, s, n) < 0)
		w->failed = true;
	jw_put(w, "\"", 1);
}

void md_jw_key(md_jw *w, const char *key)
{
	jw_sep(w);
	jw_quoted(w, key, strlen(key));
	jw_put(w, ":", 1);
	w->after_key = true;
}

void md_jw_strn(md_jw *w, const char *s, size_t n)
{
	jw_sep(w);
	jw_quoted(w, s, n);
}

void md_jw_str(md_jw *w, const char *s)
{
	if (!s) {
		md_jw_null(w);
		return;
	}
	md_jw_strn(w, s, strlen(s));
}

void md_jw_int(md_jw *w, long long v)
{
	jw_sep(w);
	if (!w->failed && md_secret_appendf(w->out, "%lld", v) < 0)
		w->failed = true;
}

void md_jw_bool(md_jw *w, bool v)
{
	jw_sep(w);
	jw_put(w, v ? "true" : "false", v ? 4 : 5);
}

void md_jw_null(md_jw *w)
{
	jw_sep(w);
	jw_put(w, "null", 4);
}

/* Strings are decoded and written again by md_jw_strn: whatever escapes a
 * server chose, the copy is canonical (so redaction can see a value it
 * spelled with \u escapes) and terminal-safe. */
int md_jw_value(md_jw *w, const md_json *doc, int tok)
{
	const jsmntok_t *t = tok_at(doc, tok);
	if (!t)
		return -1;
	switch (md_json_type_of(doc, tok)) {
	case MD_JSON_OBJECT:
	case MD_JSON_ARRAY: {
		bool obj = t->type == JSMN_OBJECT;
		obj ? md_jw_obj_begin(w) : md_jw_arr_begin(w);
		int k = tok + 1;
		for (int i = 0; i < t->size && !w->failed; i++) {
			if (obj) {
				_cleanup_secret_ md_secret *key = md_secret_new(64);
				if (!key || md_json_str_secret(doc, k, key) < 0)
					return -1;
				md_jw_key(w, md_secret_str(key));
				k++;
			}
			if (md_jw_value(w, doc, k) < 0)
				return -1;
			k = json_skip(doc, k);
		}
		obj ? md_jw_obj_end(w) : md_jw_arr_end(w);
		break;
	}
	case MD_JSON_STRING: {
		_cleanup_secret_ md_secret *v = md_secret_new((size_t)(t->end - t->start));
		if (!v || md_json_str_secret(doc, tok, v) < 0)
			return -1;
		md_jw_strn(w, md_secret_str(v), md_secret_len(v));
		break;
	}
	default:
		/* Numbers and literals: checked by the grammar, copied as they are. */
		jw_sep(w);
		jw_put(w, doc->src + t->start, (size_t)(t->end - t->start));
		break;
	}
	return w->failed ? -1 : 0;
}

bool md_jw_ok(const md_jw *w)
{
	return !w->failed && w->depth == 0;
}
