/* env.h - the one reader of the environment's plain settings.
 *
 * Owns: what a variable means when read: set and not empty, or else the
 * default (an empty variable is an unset one everywhere), and what counts
 * as true for a flag. Variables that hold a credential are not read here:
 * md_secret_take_env (secret.h) moves those into secret memory and scrubs
 * the environment.
 */
#ifndef MD_ENV_H
#define MD_ENV_H

#include <stdbool.h>

/* The value of name, or dflt when it is unset or empty. */
const char *md_env(const char *name, const char *dflt);
/* A flag: set, not empty, and not "0", "false" or "no" (any case). */
bool md_env_flag(const char *name);

#endif
