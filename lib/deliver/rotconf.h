/* rotconf.h - the `rotate --config` file: many roles in one file.
 *
 * Owns: reading and validating the INI-style role file (format in
 * doc/mdcred.1, ROTATE CONFIG FILE): one [ROLE] section per role with
 * username, store (repeatable), token_type, ttl, every, grace and keep;
 * keys before the first section are defaults for every role. Every mistake
 * is reported as "FILE:LINE: what" with MD_EUSAGE, before anything is
 * contacted, so a cron job with a typo changes nothing. Store URIs are only
 * kept here; opening them is the caller's job.
 */
#ifndef MD_ROTCONF_H
#define MD_ROTCONF_H

#include <stddef.h>

#include "base/error.h"

#define MD_ROTCONF_MAX_ROLES 10000
#define MD_ROTCONF_MAX_STORES 32

typedef struct {
	char role[65];
	char username[256]; /* 3..255, as md_valid_username */
	char token_type[16];  /* read_write or read_scaling */
	long long ttl;        /* seconds or MD_TTL_NONE */
	long long every;      /* seconds */
	long long grace;      /* seconds */
	int keep;
	int line;             /* where the section starts, for messages */
	size_t nstores;
	char *stores[MD_ROTCONF_MAX_STORES]; /* URIs as written */
	int store_line[MD_ROTCONF_MAX_STORES];
} md_rotconf_role;

typedef struct {
	md_rotconf_role *roles;
	size_t n;
	char *name; /* the file, for "FILE:LINE:" messages */
} md_rotconf;

/* Reads and checks path. On error *conf is empty and err says FILE:LINE. */
int md_rotconf_load(const char *path, md_rotconf *conf, md_error *err);
/* The same from a buffer; name is used in messages. */
int md_rotconf_parse(const char *name, const char *text, size_t len, md_rotconf *conf,
		     md_error *err);
void md_rotconf_free(md_rotconf *conf);

#endif
