/* env.c - see env.h. */
#include "base/env.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *md_env(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

bool md_env_flag(const char *name)
{
	const char *v = md_env(name, NULL);
	return v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 && strcasecmp(v, "no") != 0;
}
