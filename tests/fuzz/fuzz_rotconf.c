/* fuzz_rotconf.c - libFuzzer target for the `rotate --config` parser
 * (lib/deliver/rotconf.c): arbitrary file contents, NUL bytes, CRLF, huge lines.
 *
 * Properties checked besides memory safety: a parse that succeeds yields
 * roles whose fields are within the documented ranges, with 1 to 32 stores
 * each; one that fails leaves the config empty and says FILE:LINE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/rotconf.h"
#include "base/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	md_rotconf c;
	md_error err = {0};
	int rc = md_rotconf_parse("fuzz.conf", (const char *)data, size, &c, &err);
	if (rc == MD_OK) {
		for (size_t i = 0; i < c.n; i++) {
			const md_rotconf_role *r = &c.roles[i];
			if (!r->role[0] || md_valid_username(r->username, NULL) != MD_OK ||
			    r->nstores < 1 || r->nstores > MD_ROTCONF_MAX_STORES || r->keep < 1 ||
			    (r->ttl != MD_TTL_NONE && (r->ttl < MD_TTL_MIN || r->ttl > MD_TTL_MAX)))
				abort();
		}
		md_rotconf_free(&c);
	} else if (c.n != 0 || strncmp(err.msg, "fuzz.conf", 9) != 0) {
		abort();
	}
	return 0;
}
