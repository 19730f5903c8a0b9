/* base64.c - see base64.h. */
#include "base/base64.h"

#include <string.h>

static const char b64a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int md_b64_encode(md_secret *out, const void *data, size_t n, bool pad)
{
	const unsigned char *p = data;
	md_secret_truncate(out, 0);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = {b64a[(v >> 18) & 63], b64a[(v >> 12) & 63],
			     i + 1 < n ? b64a[(v >> 6) & 63] : '=', i + 2 < n ? b64a[v & 63] : '='};
		size_t len = pad ? 4 : i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
		int rc = md_secret_append(out, q, len);
		md_secret_wipe(&v, sizeof v);
		md_secret_wipe(q, sizeof q);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int b64_val(unsigned char c)
{
	const char *p = c ? strchr(b64a, c) : NULL;
	return p ? (int)(p - b64a) : -1;
}

/* Strict: padded standard alphabet, as the API server writes it. */
int md_b64_decode(md_secret *out, const char *s, size_t n)
{
	md_secret_truncate(out, 0);
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int a = b64_val((unsigned char)s[i]), b = b64_val((unsigned char)s[i + 1]);
		bool last = i + 4 == n;
		int c = last && s[i + 2] == '=' ? -2 : b64_val((unsigned char)s[i + 2]);
		int d = last && s[i + 3] == '=' ? -2 : b64_val((unsigned char)s[i + 3]);
		if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2))
			return -1;
		unsigned char o[3] = {(unsigned char)(a << 2 | b >> 4),
				      (unsigned char)((b & 15) << 4 | (c < 0 ? 0 : c >> 2)),
				      (unsigned char)((c < 0 ? 0 : (c & 3) << 6) | (d < 0 ? 0 : d))};
		int rc = md_secret_append(out, o, c < 0 ? 1 : d < 0 ? 2 : 3);
		md_secret_wipe(o, sizeof o);
		if (rc < 0)
			return -1;
	}
	return 0;
}
