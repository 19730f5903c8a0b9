/* redact.h - the redaction registry: values that must never be printed.
 *
 * Owns: the fingerprints of every secret value the process has watched
 * (md_secret_watch in secret.h is the usual way in), and removing those
 * values from text. A fingerprint is a keyed hash (SipHash-2-4 under a key
 * drawn at the first watch) of the value and of its first 8 bytes, never the
 * value itself, so it can outlive every buffer that held the value: a
 * secret stays redacted for as long as any copy of it can be sent or echoed
 * (an Authorization line built from it, a server that saw it and repeats it
 * later), that is, for the life of the process. Past 2^18 values the
 * oldest that no live buffer holds give way (a long-running plugin); a
 * value a buffer still holds is never forgotten (md_redact_pin).
 *
 * Redaction costs one 8-byte hash per byte of text, whatever the number of
 * values watched: a rotation of 10,000 roles logs as fast as one.
 */
#ifndef MD_REDACT_H
#define MD_REDACT_H

#include <stddef.h>
#include <stdint.h>

/* Values shorter than this are not watched (they would blank common words). */
#define MD_REDACT_MIN 8

/* Registers p[0..n) (ignored when shorter than MD_REDACT_MIN). */
void md_redact_add(const void *p, size_t n);
/* Registers p[0..n) and marks it held by one more live buffer, so it can
 * never give way: the pin to hand to md_redact_unpin when that buffer
 * lets go (0 when nothing was registered). secret.h's watch does this. */
uint32_t md_redact_pin(const void *p, size_t n);
void md_redact_unpin(uint32_t pin);
/* Replaces every registered value in p[0..*n) with "[redacted]" (a value
 * shorter than that with as many '*'), in place: the text never grows.
 * *n becomes the new length. Where values overlap the longest wins. */
void md_redact_buf(char *p, size_t *n);
/* The same over a NUL-terminated string. */
void md_redact_str(char *s);
/* How many values are registered (tests). */
size_t md_redact_count(void);

/* SipHash-2-4 of in[0..n) under key (16 bytes); exposed for its test
 * vectors. */
uint64_t md_siphash24(const unsigned char key[16], const void *in, size_t n);

#endif
