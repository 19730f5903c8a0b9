/* ducklings.h - changing one Duckling setting without losing the others.
 *
 * Owns: the set of changes `ducklings set` can ask for, their validation
 * before any request, and applying them to the current configuration (the
 * API requires both blocks on PUT, so a change is always read-modify-write).
 */
#ifndef MD_DUCKLINGS_H
#define MD_DUCKLINGS_H

#include "motherduck/api.h"
#include "base/error.h"

typedef struct {
	const char *rw_size, *rw_cooldown, *rs_size, *rs_cooldown, *flock_size;
} md_dk_flags;

typedef struct {
	md_duckling read_write; /* "" size / -1 number: unchanged */
	md_duckling read_scaling;
} md_dk_changes;

/* Parses and range-checks the flags; MD_EUSAGE if none is given. */
int md_dk_parse(const md_dk_flags *f, md_dk_changes *out, md_error *err);
/* Applies changes to cur; a cooldown inherited by a block that becomes
 * pulse is dropped (the API refuses cooldown with pulse), an explicit one
 * is refused. */
int md_dk_apply(const md_ducklings *cur, const md_dk_changes *c, md_ducklings *out, md_error *err);
/* Human-readable lines: "read_write:   instance_size=standard cooldown_seconds=600". */
int md_dk_text(md_secret *out, const md_ducklings *d);

#endif
