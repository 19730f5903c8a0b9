/* validate.h - durations and the client-side validation rules.
 *
 * Owns: parsing DURATION strings ("300", "300s", "5m", "12h", "7d", "none"),
 * and every rule mdcred checks before a request is sent (usernames, token
 * names and types, TTL range, Duckling sizes, flock size, cooldowns). Each
 * failure is MD_EUSAGE with a message that names the value's role and the
 * accepted range. Rules come from ../shared/spec/motherduck-api.md, taking
 * the stricter side where sources disagree.
 */
#ifndef MD_VALIDATE_H
#define MD_VALIDATE_H

#include <stdbool.h>

#include "base/error.h"

#define MD_TTL_MIN 300LL
#define MD_TTL_MAX 31536000LL
#define MD_TTL_NONE (-1LL) /* "none": never expires */
#define MD_TTL_DEFAULT 86400LL
#define MD_COOLDOWN_MIN 60LL
#define MD_COOLDOWN_MAX 86400LL
#define MD_FLOCK_MAX 64LL

/* Parses a duration into seconds; "none" gives MD_TTL_NONE when allow_none. */
int md_valid_duration(const char *what, const char *s, bool allow_none, long long *secs,
		      md_error *err);
/* A TTL: a duration in 300..31536000, or none. */
int md_valid_ttl(const char *s, long long *secs, md_error *err);
/* ^[A-Za-z][A-Za-z0-9_]{2,254}$ */
int md_valid_username(const char *s, md_error *err);
/* 1..255 bytes, printable, not a reserved name. */
int md_valid_token_name(const char *s, md_error *err);
/* read_write | read_scaling */
int md_valid_token_type(const char *s, md_error *err);
/* Token ids go into URL paths: only [A-Za-z0-9-], 1..64. */
int md_valid_token_id(const char *s, md_error *err);
/* A token value as the API issues it: a JWT, three non-empty base64url
 * parts joined by '.' (no padding, no white space, nothing else), at most
 * MD_TOKEN_VALUE_MAX bytes. Anything else is refused (MD_EFAIL) before it
 * can reach a file, a store or an environment: a value with a newline
 * would inject a line into an env file. */
#define MD_TOKEN_VALUE_MAX 16384
int md_valid_token_value(const char *s, size_t n, md_error *err);
/* pulse | standard | jumbo | mega | giga */
int md_valid_instance_size(const char *what, const char *s, md_error *err);
int md_valid_flock_size(const char *s, long long *out, md_error *err);
int md_valid_cooldown(const char *what, const char *s, long long *out, md_error *err);
/* A whole decimal number in [lo, hi]. */
int md_valid_int(const char *what, const char *s, long long lo, long long hi, long long *out,
		 md_error *err);

#endif
