/* error.h - the one error value every lib function reports through.
 *
 * Owns: md_error (a category code plus a one-line message that never holds a
 * secret) and the stable mapping from category to process exit code, which is
 * a public contract documented in README.md and mdcred(1).
 */
#ifndef MD_ERROR_H
#define MD_ERROR_H

#include <stddef.h>

/* Values are the exit codes; do not renumber. */
typedef enum {
	MD_OK = 0,
	MD_EFAIL = 1,      /* anything else */
	MD_EUSAGE = 2,     /* usage or validation error: nothing was sent */
	MD_EAUTH = 3,      /* 401 / 403 */
	MD_ENOTFOUND = 4,  /* entity missing (JSON NOT_FOUND) */
	MD_ECONFLICT = 5,  /* 409, already exists */
	MD_ETRANSIENT = 6, /* network, timeout, 429, 5xx after retries */
	MD_ESTORE = 7,     /* no store took the new token (it was revoked) */
	MD_EPARTIAL = 8,   /* some stores took the new token, others did not */
	MD_ESTUCK = 9,     /* a rotation's lock has been held for longer than its period */
} md_code;

#define MD_ERR_MSG_MAX 512

/* What a caller may need to tell apart within one code (never by reading
 * msg, which is for people). */
typedef enum {
	MD_CAUSE_NONE = 0,
	MD_CAUSE_TLS, /* the peer's certificate could not be verified */
} md_cause;

typedef struct {
	md_code code;
	md_cause cause;
	int http_status; /* 0 when no HTTP answer was involved */
	char msg[MD_ERR_MSG_MAX];
} md_error;

/* Sets err (if non-NULL) and returns code, so callers can `return md_err_set(...)`.
 * The formatted message passes through md_secret_redact(): even a careless
 * caller cannot put a live secret into an error. */
int md_err_set(md_error *err, md_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefixes an existing message with context ("token create: ..."). */
void md_err_prefix(md_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void md_err_clear(md_error *err);
int md_err_exit_code(const md_error *err);
const char *md_err_code_name(md_code code);

#endif
