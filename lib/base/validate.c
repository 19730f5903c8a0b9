/* validate.c - see validate.h. */
#include "base/validate.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int parse_whole(const char *s, long long *out)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int md_valid_int(const char *what, const char *s, long long lo, long long hi, long long *out,
		 md_error *err)
{
	long long v;
	if (parse_whole(s, &v) < 0)
		return md_err_set(err, MD_EUSAGE, "%s: '%s' is not a whole number", what, s);
	if (v < lo || v > hi)
		return md_err_set(err, MD_EUSAGE, "%s: %lld is out of range %lld..%lld", what, v, lo, hi);
	*out = v;
	return MD_OK;
}

static int not_a_duration(const char *what, const char *s, bool allow_none, md_error *err)
{
	return md_err_set(err, MD_EUSAGE,
			  "%s: '%s' is not a duration (examples: 300, 300s, 5m, 12h, 7d%s)", what,
			  s, allow_none ? ", none" : "");
}

int md_valid_duration(const char *what, const char *s, bool allow_none, long long *secs,
		      md_error *err)
{
	if (allow_none && strcmp(s, "none") == 0) {
		*secs = MD_TTL_NONE;
		return MD_OK;
	}
	size_t n = strlen(s);
	long long mult = 1;
	char num[24];
	if (n == 0 || n >= sizeof num)
		return not_a_duration(what, s, allow_none, err);
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's': mult = 1; num[--n] = '\0'; break;
	case 'm': mult = 60; num[--n] = '\0'; break;
	case 'h': mult = 3600; num[--n] = '\0'; break;
	case 'd': mult = 86400; num[--n] = '\0'; break;
	default: break;
	}
	long long v;
	if (n == 0 || parse_whole(num, &v) < 0 || v > LLONG_MAX / mult)
		return not_a_duration(what, s, allow_none, err);
	*secs = v * mult;
	return MD_OK;
}

int md_valid_ttl(const char *s, long long *secs, md_error *err)
{
	long long v;
	int rc = md_valid_duration("--ttl", s, true, &v, err);
	if (rc)
		return rc;
	if (v != MD_TTL_NONE && (v < MD_TTL_MIN || v > MD_TTL_MAX))
		return md_err_set(err, MD_EUSAGE,
				  "--ttl: %s is %lld seconds; the API accepts 300 (5m) to 31536000 (365d)",
				  s, v);
	*secs = v;
	return MD_OK;
}

int md_valid_username(const char *s, md_error *err)
{
	size_t n = strlen(s);
	bool ok = n >= 3 && n <= 255 && isalpha((unsigned char)s[0]) && isascii((unsigned char)s[0]);
	for (size_t i = 1; ok && i < n; i++)
		ok = isascii((unsigned char)s[i]) && (isalnum((unsigned char)s[i]) || s[i] == '_');
	if (!ok)
		return md_err_set(err, MD_EUSAGE,
				  "invalid username '%.64s%s': use 3 to 255 letters, digits or '_', "
				  "starting with a letter", s, n > 64 ? "..." : "");
	return MD_OK;
}

int md_valid_token_name(const char *s, md_error *err)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255)
		return md_err_set(err, MD_EUSAGE, "--name: a token name has 1 to 255 characters");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return md_err_set(err, MD_EUSAGE, "--name: control characters are not allowed");
	if (strcmp(s, "MotherDuck Extension") == 0 || strcmp(s, "MotherDuck Flights") == 0)
		return md_err_set(err, MD_EUSAGE, "--name: '%s' is reserved by MotherDuck", s);
	return MD_OK;
}

int md_valid_token_type(const char *s, md_error *err)
{
	if (strcmp(s, "read_write") == 0 || strcmp(s, "read_scaling") == 0)
		return MD_OK;
	return md_err_set(err, MD_EUSAGE, "--type: '%.64s' is not read_write or read_scaling", s);
}

int md_valid_token_id(const char *s, md_error *err)
{
	size_t n = strlen(s);
	bool ok = n >= 1 && n <= 64;
	for (size_t i = 0; ok && i < n; i++)
		ok = isascii((unsigned char)s[i]) && (isalnum((unsigned char)s[i]) || s[i] == '-');
	if (!ok)
		return md_err_set(err, MD_EUSAGE,
				  "invalid token id '%.64s': expected the id shown by 'token list' "
				  "(letters, digits and '-')", s);
	return MD_OK;
}

static bool base64url_char(unsigned char c)
{
	return isascii(c) && (isalnum(c) || c == '-' || c == '_');
}

int md_valid_token_value(const char *s, size_t n, md_error *err)
{
	size_t part = 0, parts = 1;
	bool ok = n >= 5 && n <= MD_TOKEN_VALUE_MAX;
	for (size_t i = 0; ok && i < n; i++) {
		if (s[i] == '.') {
			ok = part > 0 && ++parts <= 3;
			part = 0;
		} else {
			ok = base64url_char((unsigned char)s[i]);
			part++;
		}
	}
	if (ok && parts == 3 && part > 0)
		return MD_OK;
	/* Never the value in the message: it may be a real token, mangled. */
	return md_err_set(err, MD_EFAIL, "the value is not a MotherDuck token (a JWT: three "
			  "base64url parts joined by '.', at most %d bytes)", MD_TOKEN_VALUE_MAX);
}

int md_valid_instance_size(const char *what, const char *s, md_error *err)
{
	static const char *const sizes[] = {"pulse", "standard", "jumbo", "mega", "giga"};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		if (strcmp(s, sizes[i]) == 0)
			return MD_OK;
	return md_err_set(err, MD_EUSAGE,
			  "%s: '%.64s' is not one of pulse, standard, jumbo, mega, giga", what, s);
}

int md_valid_flock_size(const char *s, long long *out, md_error *err)
{
	return md_valid_int("--flock-size", s, 0, MD_FLOCK_MAX, out, err);
}

int md_valid_cooldown(const char *what, const char *s, long long *out, md_error *err)
{
	return md_valid_int(what, s, MD_COOLDOWN_MIN, MD_COOLDOWN_MAX, out, err);
}
