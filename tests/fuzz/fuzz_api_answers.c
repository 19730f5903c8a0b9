/* fuzz_api_answers.c - libFuzzer target for what servers answer: the
 * MotherDuck API's decoders (a minted token, the token list, Ducklings,
 * error bodies of any status and content type), a JSON answer written out
 * again (md_jw_value, as `account active` does), and a stored token read
 * back (md_fmt_read_token, md_cache_decode).
 *
 * Input: byte 0 picks the decoder, byte 1 the HTTP status for error
 * bodies; the rest is the body. Properties checked besides memory safety:
 * a decoded token is a JWT; every string of metadata and every error
 * message is printable (no control character: text.h); a re-written answer
 * parses again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motherduck/api.h"
#include "deliver/cache.h"
#include "motherduck/format.h"
#include "base/json.h"
#include "base/text.h"
#include "base/validate.h"

static void printable_or_abort(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = md_text_utf8_next((const unsigned char *)s + i, n - i, &cp);
		if (l == 0 || !md_text_printable(cp))
			abort();
		i += l;
	}
}

static void meta_printable(const md_token_meta *m)
{
	printable_or_abort(m->id);
	printable_or_abort(m->name);
	printable_or_abort(m->token_type);
	printable_or_abort(m->expire_at);
	printable_or_abort(m->created_ts);
}

static void rewrite(const char *body, size_t len)
{
	md_json d;
	if (md_json_parse(&d, body, len, NULL) != MD_OK)
		return;
	md_secret *out = md_secret_new(len + 16);
	md_jw w;
	md_jw_init(&w, out);
	if (md_jw_value(&w, &d, 0) == 0 && md_jw_ok(&w)) {
		md_json again;
		if (md_json_parse(&again, md_secret_str(out), md_secret_len(out), NULL) != MD_OK)
			abort();
		md_json_free(&again);
	}
	md_secret_free(out);
	md_json_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > (1 << 20))
		return 0;
	const char *body = (const char *)data + 2;
	size_t len = size - 2;
	md_error err = {0};
	switch (data[0] % 7) {
	case 0: {
		md_token t;
		if (md_api_token_decode(body, len, &t, &err) == MD_OK) {
			if (md_valid_token_value(md_secret_str(t.secret), md_secret_len(t.secret),
						 NULL) != MD_OK ||
			    md_valid_token_id(t.meta.id, NULL) != MD_OK)
				abort();
			meta_printable(&t.meta);
		}
		md_token_clear(&t);
		break;
	}
	case 1: {
		md_token_meta *l = NULL;
		size_t n = 0;
		if (md_api_token_list_decode(body, len, &l, &n, &err) == MD_OK)
			for (size_t i = 0; i < n; i++)
				meta_printable(&l[i]);
		free(l);
		break;
	}
	case 2: {
		md_ducklings d;
		if (md_api_ducklings_decode(body, len, &d, "fuzz", &err) == MD_OK) {
			printable_or_abort(d.read_write.instance_size);
			printable_or_abort(d.read_scaling.instance_size);
		}
		break;
	}
	case 3: {
		md_http_resp r = {.status = 400 + data[1] % 200};
		r.body = md_secret_new(len);
		md_secret_append(r.body, body, len);
		snprintf(r.content_type, sizeof r.content_type, "%s",
			 data[1] & 1 ? "application/json" : "text/plain");
		md_api_error_from_resp(&r, "fuzz", &err);
		printable_or_abort(err.msg);
		md_http_resp_free(&r);
		break;
	}
	case 4:
		rewrite(body, len);
		break;
	case 5: {
		md_secret *c = md_secret_new(len), *tok = md_secret_new(256);
		md_token_meta m;
		md_secret_append(c, body, len);
		(void)md_fmt_read_token(c, tok, &m, &err);
		md_secret_free(c);
		md_secret_free(tok);
		break;
	}
	default: {
		md_secret *c = md_secret_new(len);
		md_cache_entry e;
		md_secret_append(c, body, len);
		if (md_cache_decode(c, "svc_fuzz", "read_write", &e, &err) == MD_OK && e.tok.secret &&
		    md_valid_token_value(md_secret_str(e.tok.secret), md_secret_len(e.tok.secret),
					 NULL) != MD_OK)
			abort();
		md_cache_entry_clear(&e);
		md_secret_free(c);
		break;
	}
	}
	return 0;
}
