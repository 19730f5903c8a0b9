/* text.h - small text helpers shared by parsers and printers.
 *
 * Owns: hex digits (JSON escapes, percent encoding in URLs and gRPC
 * trailers), UTF-8 decoding, and the rule of what may reach a terminal:
 * "printable UTF-8" is valid, shortest-form UTF-8 without control
 * characters (C0, DEL, C1), line or paragraph separators, or the
 * invisible direction marks and overrides that can make a line read other
 * than it is. Everything a server supplies passes md_text_escape() before
 * it is printed for people (log lines, errors, text output).
 */
#ifndef MD_TEXT_H
#define MD_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Value of one hex digit, or -1. */
int md_text_hexval(int ch);

/* Decodes one UTF-8 sequence at s (n > 0 bytes left): its length, and the
 * code point in *cp; 0 when the bytes there are not valid UTF-8 (overlong,
 * a surrogate, above U+10FFFF, or cut short). */
size_t md_text_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
/* True when all n bytes are valid UTF-8. */
bool md_text_utf8_valid(const char *s, size_t n);
/* May this code point be shown to a person as it is? */
bool md_text_printable(uint32_t cp);

/* Writes s[0..n) to out (outsz > 0, always NUL-terminated) with every byte
 * of anything not printable as "\xNN"; tab, CR and LF become a space when
 * flatten is set. Cut at outsz on a character boundary. Returns the
 * length written. */
size_t md_text_escape(char *out, size_t outsz, const char *s, size_t n, bool flatten);

#endif
