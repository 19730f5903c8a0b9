/* fuzz_durations.c - libFuzzer target for the small parsers of values a
 * user or a server gives: durations and TTLs (lib/base/validate.c), RFC 3339
 * timestamps (md_time_parse), token values (md_valid_token_value),
 * usernames, token names and ids.
 *
 * Properties checked besides memory safety: an accepted duration is in
 * range (a TTL in 300..31536000 or none), and an accepted token value is
 * three base64url parts.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/time.h"
#include "base/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	long long secs = 0;
	if (md_valid_ttl(s, &secs, NULL) == MD_OK && secs != MD_TTL_NONE &&
	    (secs < MD_TTL_MIN || secs > MD_TTL_MAX))
		abort();
	if (md_valid_duration("fuzz", s, false, &secs, NULL) == MD_OK && secs < 0)
		abort();
	time_t t;
	(void)md_time_parse(s, &t);
	if (md_valid_token_value(s, size, NULL) == MD_OK) {
		int dots = 0;
		for (size_t i = 0; i < size; i++) {
			if (s[i] == '.')
				dots++;
			else if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
				abort();
		}
		if (dots != 2)
			abort();
	}
	(void)md_valid_username(s, NULL);
	(void)md_valid_token_name(s, NULL);
	(void)md_valid_token_id(s, NULL);
	free(s);
	return 0;
}
