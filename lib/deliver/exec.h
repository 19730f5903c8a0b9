/* exec.h - running a command with a token in its environment.
 *
 * Owns: command lookup in PATH (127 not found, 126 not executable, decided
 * before any token is minted), the child's environment (the caller's minus
 * MOTHERDUCK_ADMIN_TOKEN / MOTHERDUCK_ADMIN_TOKEN_FILE, with the token under
 * each requested name), replacing the process with execve, and supervising a
 * child: every catchable signal forwarded, children reaped when PID 1, the
 * child killed if the supervisor dies (PR_SET_PDEATHSIG), and the child's
 * exit code or 128+signal returned. Before either execve the caller's
 * start-up state comes back (md_proc_restore_for_exec, proc.h): md_proc_start
 * must have run.
 */
#ifndef MD_EXEC_H
#define MD_EXEC_H

#include <stddef.h>

#include "base/error.h"
#include "base/secret.h"

#define MD_EXEC_NOT_FOUND 127
#define MD_EXEC_NOT_EXECUTABLE 126

/* Finds cmd as execvp would. MD_OK, or MD_EUSAGE with *exit_code 127/126. */
int md_exec_resolve(const char *cmd, char *path, size_t pathsz, int *exit_code, md_error *err);
/* A valid environment variable name that is not one of the admin ones. */
int md_exec_check_var(const char *name, md_error *err);

typedef struct {
	char **envp;         /* NULL-terminated, malloc()ed array */
	md_secret *backing;  /* holds the NAME=token strings */
} md_exec_env;

int md_exec_env_build(const md_secret *token, const char *const *vars, size_t nvars,
		      md_exec_env *out, md_error *err);
void md_exec_env_free(md_exec_env *e);
#define _cleanup_exec_env_ __attribute__((cleanup(md_exec_env_free)))

/* execve; returns only on failure, with *exit_code 126 or 127. */
int md_exec_replace(const char *path, char *const argv[], const md_exec_env *env,
		    int *exit_code, md_error *err);
/* fork + execve + supervise; *exit_code is the child's code or 128+signal. */
int md_exec_supervise(const char *path, char *const argv[], const md_exec_env *env,
		      int *exit_code, md_error *err);

#endif
