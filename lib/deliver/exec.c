/* exec.c - see exec.h. */
#define _GNU_SOURCE
#include "deliver/exec.h"
#include "base/env.h"
#include "base/proc.h"

#include <ctype.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int check_candidate(const char *p, int *exit_code)
{
	struct stat st;
	if (stat(p, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode) || access(p, X_OK) < 0) {
		*exit_code = MD_EXEC_NOT_EXECUTABLE;
		return 1;
	}
	return 0;
}

int md_exec_resolve(const char *cmd, char *path, size_t pathsz, int *exit_code, md_error *err)
{
	*exit_code = MD_EXEC_NOT_FOUND;
	if (!cmd || !cmd[0])
		return md_err_set(err, MD_EUSAGE, "exec: no command given after --");
	if (strchr(cmd, '/')) {
		int r = check_candidate(cmd, exit_code);
		if (r == 0 && snprintf(path, pathsz, "%s", cmd) < (int)pathsz)
			return MD_OK;
		return md_err_set(err, MD_EUSAGE, "exec: %s: %s", cmd,
				  r > 0 ? "not executable" : "command not found");
	}
	const char *pv = md_env("PATH", "/usr/local/bin:/usr/bin:/bin");
	bool seen_nonexec = false;
	while (*pv) {
		const char *colon = strchr(pv, ':');
		size_t dl = colon ? (size_t)(colon - pv) : strlen(pv);
		int n = snprintf(path, pathsz, "%.*s%s%s", (int)dl, dl ? pv : ".", "/", cmd);
		if (n > 0 && (size_t)n < pathsz) {
			int r = check_candidate(path, exit_code);
			if (r == 0)
				return MD_OK;
			seen_nonexec |= r > 0;
		}
		pv += dl + (colon ? 1 : 0);
		if (!colon)
			break;
	}
	*exit_code = seen_nonexec ? MD_EXEC_NOT_EXECUTABLE : MD_EXEC_NOT_FOUND;
	return md_err_set(err, MD_EUSAGE, "exec: %s: %s", cmd,
			  seen_nonexec ? "not executable" : "command not found");
}

int md_exec_check_var(const char *name, md_error *err)
{
	bool ok = name[0] && (isalpha((unsigned char)name[0]) || name[0] == '_');
	for (const char *p = name; ok && *p; p++)
		ok = isascii((unsigned char)*p) && (isalnum((unsigned char)*p) || *p == '_');
	if (!ok)
		return md_err_set(err, MD_EUSAGE, "--env: '%.64s' is not a variable name", name);
	if (strncmp(name, "MOTHERDUCK_ADMIN_TOKEN", 22) == 0)
		return md_err_set(err, MD_EUSAGE, "--env: %s is never given to the child", name);
	return MD_OK;
}

static bool env_is_named(const char *entry, const char *name)
{
	size_t n = strlen(name);
	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static bool env_dropped(const char *entry, const char *const *vars, size_t nvars)
{
	if (env_is_named(entry, "MOTHERDUCK_ADMIN_TOKEN") ||
	    env_is_named(entry, "MOTHERDUCK_ADMIN_TOKEN_FILE"))
		return true;
	for (size_t i = 0; i < nvars; i++)
		if (env_is_named(entry, vars[i]))
			return true;
	return false;
}

int md_exec_env_build(const md_secret *token, const char *const *vars, size_t nvars,
		      md_exec_env *out, md_error *err)
{
	memset(out, 0, sizeof *out);
	size_t n = 0;
	while (environ && environ[n])
		n++;
	out->envp = calloc(n + nvars + 1, sizeof *out->envp);
	out->backing = md_secret_new((md_secret_len(token) + 64) * (nvars ? nvars : 1));
	if (!out->envp || !out->backing) {
		md_exec_env_free(out);
		return md_err_set(err, MD_EFAIL, "out of memory");
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!env_dropped(environ[i], vars, nvars))
			out->envp[k++] = environ[i];
	/* Offsets first: the backing buffer may move while it grows. */
	size_t offs[64];
	if (nvars > sizeof offs / sizeof offs[0]) {
		md_exec_env_free(out);
		return md_err_set(err, MD_EUSAGE, "--env: at most 64 names");
	}
	for (size_t i = 0; i < nvars; i++) {
		offs[i] = md_secret_len(out->backing);
		if (md_secret_appendf(out->backing, "%s=", vars[i]) ||
		    md_secret_append(out->backing, md_secret_str(token), md_secret_len(token)) ||
		    md_secret_append(out->backing, "", 1)) {
			md_exec_env_free(out);
			return md_err_set(err, MD_EFAIL, "out of memory");
		}
	}
	for (size_t i = 0; i < nvars; i++)
		out->envp[k++] = (char *)md_secret_str(out->backing) + offs[i];
	out->envp[k] = NULL;
	return MD_OK;
}

void md_exec_env_free(md_exec_env *e)
{
	free(e->envp);
	md_secret_free(e->backing);
	memset(e, 0, sizeof *e);
}

int md_exec_replace(const char *path, char *const argv[], const md_exec_env *env,
		    int *exit_code, md_error *err)
{
	md_proc_cloexec_own_fds();
	md_proc_restore_for_exec();
	execve(path, argv, env->envp);
	int e = errno;
	md_proc_exec_failed(); /* mdcred again, to revoke what it minted */
	*exit_code = e == ENOENT ? MD_EXEC_NOT_FOUND : MD_EXEC_NOT_EXECUTABLE;
	return md_err_set(err, MD_EFAIL, "exec: %s: %s", argv[0], strerror(e));
}

/* Signals that describe our own faults are not forwarded; nor can KILL/STOP be. */
static bool sig_forwardable(int s)
{
	return s != SIGKILL && s != SIGSTOP && s != SIGSEGV && s != SIGBUS && s != SIGFPE &&
	       s != SIGILL && s != SIGTRAP && s != SIGABRT && s != SIGSYS;
}

/* In the forked child: die with the supervisor. If mdcred is SIGKILLed it
 * cannot revoke the token; the command must not run on with it. The kernel
 * sends PR_SET_PDEATHSIG when the *thread* that forked exits: mdcred forks
 * on its main thread (main -> tool_cmd_exec -> here), which lives as long
 * as the process. The signal survives execve (not into a set-user-ID or
 * file-capability program, where the kernel clears it). */
static void child_die_with(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The parent may have died before prctl: we were reparented. */
	if (getppid() != parent)
		_exit(128 + SIGKILL);
}

static int wait_child(pid_t child, bool reap_all, int *status)
{
	for (;;) {
		pid_t p = waitpid(reap_all ? -1 : child, status, WNOHANG);
		if (p == child)
			return 1;
		if (p <= 0)
			return p < 0 && errno == ECHILD ? -1 : 0;
		/* An orphan reaped as PID 1: keep going. */
	}
}

int md_exec_supervise(const char *path, char *const argv[], const md_exec_env *env,
		      int *exit_code, md_error *err)
{
	sigset_t all, old;
	sigemptyset(&all);
	for (int s = 1; s < NSIG; s++)
		if (sig_forwardable(s))
			sigaddset(&all, s);
	md_proc_cloexec_own_fds();
	/* An inherited SIG_IGN for SIGCHLD would auto-reap the child. */
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t parent = getpid();
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return md_err_set(err, MD_EFAIL, "exec: fork: %s", strerror(e));
	}
	if (child == 0) {
		child_die_with(parent);
		md_proc_restore_for_exec();
		execve(path, argv, env->envp);
		_exit(errno == ENOENT ? MD_EXEC_NOT_FOUND : MD_EXEC_NOT_EXECUTABLE);
	}
	bool pid1 = getpid() == 1;
	int status = 0;
	for (;;) {
		siginfo_t si;
		int s = sigwaitinfo(&all, &si);
		if (s < 0)
			continue;
		if (s == SIGCHLD) {
			int r = wait_child(child, pid1, &status);
			if (r != 0)
				break;
			continue;
		}
		/* Keyboard signals already reached the whole foreground group,
		 * child included: sending them again would deliver them twice. */
		if (si.si_code == SI_KERNEL && (s == SIGINT || s == SIGQUIT || s == SIGTSTP))
			continue;
		kill(child, s);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (WIFEXITED(status))
		*exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		*exit_code = 128 + WTERMSIG(status);
	else
		*exit_code = 1;
	return MD_OK;
}
