/* text.c - see text.h. */
#include "base/text.h"

#include <stdio.h>

int md_text_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

size_t md_text_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned c = s[0];
	size_t len;
	uint32_t min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	uint32_t v = c & (0x7Fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3Fu);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

bool md_text_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	for (size_t i = 0, l; i < n; i += l)
		if ((l = md_text_utf8_next(p + i, n - i, &cp)) == 0)
			return false;
	return true;
}

bool md_text_printable(uint32_t cp)
{
	if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
		return false; /* C0, DEL, C1: terminal controls */
	/* Marks and overrides that reorder or hide text (Trojan Source), the
	 * line and paragraph separators, and the byte-order mark. */
	return !(cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) ||
		 (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF);
}

size_t md_text_escape(char *out, size_t outsz, const char *s, size_t n, bool flatten)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp = 0;
		size_t l = md_text_utf8_next(p + i, n - i, &cp);
		size_t need;
		if (l && md_text_printable(cp)) {
			need = l;
			if (w + need >= outsz)
				break;
			for (size_t k = 0; k < l; k++)
				out[w++] = (char)p[i + k];
		} else if (flatten && (p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) {
			l = 1;
			if (w + 1 >= outsz)
				break;
			out[w++] = ' ';
		} else {
			/* Every byte of it, so nothing is lost to the reader. */
			l = l ? l : 1;
			if (w + 4 * l >= outsz)
				break;
			for (size_t k = 0; k < l; k++)
				w += (size_t)snprintf(out + w, 5, "\\x%02x", p[i + k]);
		}
		i += l;
	}
	out[w] = '\0';
	return w;
}
