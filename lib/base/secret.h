/* secret.h - the secret buffer: the only place a token may live.
 *
 * Owns: md_secret, a growable byte buffer in memory of its own (a locked
 * arena of size classes for small buffers, a mapping of its own for large
 * ones) that is mlock()ed where the RLIMIT_MEMLOCK allows, excluded from
 * core dumps (MADV_DONTDUMP), always NUL-terminated, and wiped with a
 * non-elidable wipe (md_secret_wipe) when it grows, shrinks or is freed. Also
 * owns watching a buffer for redaction (the registry of values that must
 * never be printed is redact.h's), formatting a log or error line (redacted,
 * then escaped), and reading a secret from a file descriptor or from the
 * environment (scrubbing the environment block in place). The process's
 * own hardening is proc.h's.
 *
 * Every response body and every JSON document we build lives in an
 * md_secret: a body may carry a token, and one type means no copy path
 * through ordinary heap memory exists to forget about.
 */
#ifndef MD_SECRET_H
#define MD_SECRET_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

typedef struct md_secret md_secret;

md_secret *md_secret_new(size_t cap_hint);
void md_secret_free(md_secret *s);
/* Zeroes memory in a way the compiler may not remove. */
void md_secret_wipe(void *p, size_t n);
static inline void md_secret_freep(md_secret **s)
{
	md_secret_free(*s);
	*s = NULL;
}
/* The lifetime of a secret is visible in code: `_cleanup_secret_ md_secret *t = ...`. */
#define _cleanup_secret_ __attribute__((cleanup(md_secret_freep)))

int md_secret_append(md_secret *s, const void *p, size_t n);
int md_secret_appendf(md_secret *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int md_secret_set(md_secret *s, const void *p, size_t n);
void md_secret_truncate(md_secret *s, size_t n);
const char *md_secret_str(const md_secret *s);
size_t md_secret_len(const md_secret *s);
bool md_secret_locked(const md_secret *s);
/* Constant-time equality of two secrets' contents. */
bool md_secret_eq(const md_secret *a, const md_secret *b);

/* Registers s with the redaction registry (redact.h): what it holds now,
 * and every value it is changed to later, is removed by md_secret_redact()
 * from any message for the rest of the process, also after s is freed (a
 * copy of it, or a server that saw it, may still echo it). Values shorter
 * than 8 bytes are not registered. */
void md_secret_watch(md_secret *s);
/* Replaces every watched value in msg (NUL-terminated, in place) with
 * "[redacted]" (values shorter than that with as many '*'). Used by the
 * log and error modules on every line. */
void md_secret_redact(char *msg);
/* Formats one line for a log or an error: watched values are redacted over
 * the whole line, then anything not printable is escaped (text.h; CR, LF
 * and tab become spaces), then it is cut to dstsz. */
void md_secret_format_line(char *dst, size_t dstsz, const char *fmt, va_list ap);

/* Reads all of fd into a new secret, strips trailing whitespace; fails on an
 * empty value or one over max bytes. The result is watched. */
int md_secret_read_fd(int fd, size_t max, md_secret **out, md_error *err);
int md_secret_read_file(const char *path, size_t max, md_secret **out, md_error *err);
/* Moves the variable's value into a new watched secret, overwrites the value
 * in the process's environment block in place (so /proc/self/environ no
 * longer shows it) and unsets it. *out is NULL when the variable is unset. */
int md_secret_take_env(const char *name, md_secret **out, md_error *err);


#endif
