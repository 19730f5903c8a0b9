/* token.c - token values, token ids and the --record-tokens file.
 *
 * Owns: the JWT-shaped token format, base64url(header) "." base64url(payload)
 * "." base64url(32 random bytes) without padding; UUIDv4 token ids; the
 * SHA-256 digest by which a token is remembered; the metadata fields every
 * token answer shares; and the test-only record file that lists every token
 * value ever issued, so a leak scanner knows what to look for. A token value
 * is written only into the caller's md_secret and into the record file.
 */
#include "emu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/log.h"

#define TOKEN_SIG_BYTES 32

static int rec_fd = -1;

int emu_uuid4(char out[EMU_ID_LEN + 1])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof b) != 1)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, EMU_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return 0;
}

void emu_digest(const char *s, size_t n, unsigned char out[EMU_DIGEST_LEN])
{
	unsigned int len = EMU_DIGEST_LEN;
	if (EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) != 1)
		memset(out, 0, EMU_DIGEST_LEN);
}

static int b64url_append(md_secret *out, const unsigned char *in, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char q[4];
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		size_t k = n - i >= 3 ? 3 : n - i;
		if (k > 1)
			v |= (unsigned)in[i + 1] << 8;
		if (k > 2)
			v |= in[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = tab[(v >> 6) & 63];
		q[3] = tab[v & 63];
		if (md_secret_append(out, q, k + 1) < 0)
			return -1;
	}
	return 0;
}

static int token_payload(md_secret *json, const struct emu_user *u, const struct emu_token *t)
{
	md_jw w;
	md_jw_init(&w, json);
	md_jw_obj_begin(&w);
	md_jw_key(&w, "username");
	md_jw_str(&w, u->name);
	md_jw_key(&w, "tid");
	md_jw_str(&w, t->id);
	md_jw_key(&w, "token_type");
	md_jw_str(&w, emu_ttype_name(t->type));
	md_jw_key(&w, "iat");
	md_jw_int(&w, t->created);
	if (t->expire) {
		md_jw_key(&w, "exp");
		md_jw_int(&w, t->expire);
	}
	md_jw_obj_end(&w);
	return md_jw_ok(&w) ? 0 : -1;
}

/* Builds the JWT-shaped value of t into value (replacing its content). */
static int token_value(md_secret *value, const struct emu_user *u, const struct emu_token *t)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char sig[TOKEN_SIG_BYTES];
	_cleanup_secret_ md_secret *payload = md_secret_new(256);
	md_secret_truncate(value, 0);
	if (!payload || token_payload(payload, u, t) < 0 ||
	    RAND_bytes(sig, sizeof sig) != 1)
		return -1;
	int rc = b64url_append(value, (const unsigned char *)header, sizeof header - 1);
	rc |= md_secret_append(value, ".", 1);
	rc |= b64url_append(value, (const unsigned char *)md_secret_str(payload),
			    md_secret_len(payload));
	rc |= md_secret_append(value, ".", 1);
	rc |= b64url_append(value, sig, sizeof sig);
	return rc ? -1 : 0;
}

static void record_value(const md_secret *value)
{
	if (rec_fd < 0)
		return;
	_cleanup_secret_ md_secret *line = md_secret_new(md_secret_len(value) + 1);
	if (!line || md_secret_append(line, md_secret_str(value), md_secret_len(value)) < 0 ||
	    md_secret_append(line, "\n", 1) < 0) {
		md_log_warn("cannot record a token: out of memory");
		return;
	}
	const char *p = md_secret_str(line);
	size_t left = md_secret_len(line);
	while (left > 0) {
		ssize_t n = write(rec_fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			md_log_warn("cannot record a token: %s", strerror(errno));
			return;
		}
		p += n;
		left -= (size_t)n;
	}
}

struct emu_token *emu_token_mint(struct emu_user *u, const char *name, const char *desc,
				 enum emu_ttype type, long long ttl, md_secret *value)
{
	struct emu_token *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->name = strdup(name);
	t->desc = desc ? strdup(desc) : NULL;
	t->type = type;
	t->created = emu_now();
	t->expire = ttl > 0 ? t->created + ttl : 0;
	if (!t->name || (desc && !t->desc) || emu_uuid4(t->id) < 0 ||
	    token_value(value, u, t) < 0) {
		md_secret_truncate(value, 0);
		emu_token_free(t);
		return NULL;
	}
	emu_digest(md_secret_str(value), md_secret_len(value), t->digest);
	record_value(value);
	emu_token_attach(u, t);
	return t;
}

void emu_token_meta(md_jw *w, const struct emu_token *t)
{
	char ts[32];
	md_jw_key(w, "id");
	md_jw_str(w, t->id);
	md_jw_key(w, "name");
	md_jw_str(w, t->name);
	if (t->expire) {
		emu_time_fmt(t->expire, ts);
		md_jw_key(w, "expire_at");
		md_jw_str(w, ts);
	}
	emu_time_fmt(t->created, ts);
	md_jw_key(w, "created_ts");
	md_jw_str(w, ts);
	md_jw_key(w, "read_only");
	md_jw_bool(w, t->type == EMU_READ_SCALING);
	md_jw_key(w, "token_type");
	md_jw_str(w, emu_ttype_name(t->type));
}

int emu_record_open(const char *path, md_error *err)
{
	rec_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
		      0600);
	if (rec_fd < 0)
		return md_err_set(err, MD_EUSAGE, "--record-tokens: cannot open %s: %s", path,
				  strerror(errno));
	return MD_OK;
}

void emu_record_close(void)
{
	if (rec_fd >= 0)
		close(rec_fd);
	rec_fd = -1;
}
