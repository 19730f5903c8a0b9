/* test_hardening.c - process hygiene (lib/base/proc.h) seen from outside: a token
 * is never printed into a stdout that was closed, a write error after the
 * mint revokes it, exec's command gets the caller's core limit and signal
 * state rather than mdcred's, and a supervised command dies with mdcred.
 *
 * The stdout redirections are made by /bin/sh around mdcred; the process
 * state is set in a forked caller that then runs mdcred. */
#define _GNU_SOURCE
#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"

#define USER "svc_hardening_test"

static const char *mdcred_bin(void)
{
	const char *b = getenv("MDCRED_BIN");
	return b && *b ? b : "build/mdcred";
}

/* The admin token file for runs through /bin/sh (h_run_prog adds none). */
static const char *const *auth_env(void)
{
	static char line[1400];
	static const char *env[] = {line, NULL};
	snprintf(line, sizeof line, "MOTHERDUCK_ADMIN_TOKEN_FILE=%s", h_admin_token_file());
	return env;
}

/* Runs `mdcred --api-url URL ARGS...` with its stdout redirected by sh
 * (REDIR: ">&-", ">/dev/full"). */
#define RUN_REDIRECTED(r, redir, ...)                                                       \
	h_run_prog(r, 0, "/bin/sh", NULL, auth_env(), "-c", "exec \"$@\" " redir, "sh",     \
		   mdcred_bin(), "--api-url", h_base_url(), __VA_ARGS__, NULL)

/* ---- stdout closed at start: nothing is minted ---- */

static void assert_refused_unsent(h_result *r, int before, const char *msg)
{
	ck_assert_exit(*r, 2);
	ck_assert_msg(h_contains(r->err, msg), "stderr: %s", md_secret_str(r->err));
	ck_assert_int_eq(h_request_count(), before);
	h_result_free(r);
}

START_TEST(token_create_stdout_closed_mints_nothing)
{
	h_make_account(USER);
	int before = h_request_count();
	h_result r;
	RUN_REDIRECTED(&r, ">&-", "token", "create", USER);
	assert_refused_unsent(&r, before, "token create: stdout is closed: there is nowhere to "
				  "print the token (use --output FILE)");
	RUN_REDIRECTED(&r, ">&-", "token", "create", USER, "--format", "json");
	assert_refused_unsent(&r, before, "stdout is closed");
	ck_assert_int_eq(h_live_tokens(USER), 0);

	/* With --output, stdout is not needed. */
	const char *out = h_path(true, "hardening-closed.token");
	RUN_REDIRECTED(&r, ">&-", "token", "create", USER, "--output", out);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(get_stdout_closed_mints_nothing)
{
	h_make_account(USER);
	int before = h_request_count();
	char cache[1400];
	snprintf(cache, sizeof cache, "file://%s", h_path(true, "hardening-get-cache.json"));
	h_result r;
	RUN_REDIRECTED(&r, ">&-", "get", USER, "--cache", "none");
	assert_refused_unsent(&r, before, "get: stdout is closed: there is nowhere to print the "
				  "token");
	RUN_REDIRECTED(&r, ">&-", "get", USER, "--cache", cache, "--format", "json");
	assert_refused_unsent(&r, before, "stdout is closed");
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

START_TEST(list_stdout_closed_fails)
{
	h_make_account(USER);
	h_result r;
	RUN_REDIRECTED(&r, ">&-", "token", "list", USER);
	ck_assert_exit(r, 1);
	ck_assert_msg(h_contains(r.err, "cannot write to stdout: it was closed when mdcred started"),
		      "stderr: %s", md_secret_str(r.err));
	h_result_free(&r);
}
END_TEST

/* ---- a write error after the mint: the token is revoked ---- */

static void assert_one_revoked(void)
{
	h_tokens ts;
	h_user_tokens(USER, &ts);
	ck_assert_int_eq(ts.n, 1);
	ck_assert_int_eq(ts.revoked, 1);
	ck_assert_int_eq(ts.live, 0);
}

START_TEST(stdout_full_revokes)
{
	h_make_account(USER);
	h_result r;
	RUN_REDIRECTED(&r, ">/dev/full", "token", "create", USER, "--format", "json");
	ck_assert_exit(r, 1);
	ck_assert_msg(h_contains(r.err, "cannot write to stdout: No space left on device") &&
			      h_contains(r.err, "revoked the undelivered token"),
		      "stderr: %s", md_secret_str(r.err));
	h_result_free(&r);
	assert_one_revoked();
	h_reset();
	h_make_account(USER);
	RUN_REDIRECTED(&r, ">/dev/full", "get", USER, "--cache", "none");
	ck_assert_exit(r, 1);
	ck_assert_msg(h_contains(r.err, "revoked the undelivered token"), "stderr: %s",
		      md_secret_str(r.err));
	h_result_free(&r);
	assert_one_revoked();
}
END_TEST

/* ---- mdcred in the background (h_spawn_mdcred) ---- */

static md_secret *read_run_file(const char *name)
{
	md_secret *s = NULL;
	md_file_read_secret(h_path(false, name), 1 << 20, &s, NULL);
	return s;
}

static int wait_status(pid_t pid)
{
	int st = 0;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- exec: the command gets the caller's core limit and signal state ---- */

static void append_file(int to, const char *path)
{
	_cleanup_secret_ md_secret *s = NULL;
	if (md_file_read_secret(path, 1 << 16, &s, NULL) == MD_OK)
		md_file_write_fd(to, md_secret_str(s), md_secret_len(s));
}

/* What the caller hands mdcred, written to caller-state as the command
 * below writes its own. */
static void caller_state_save(void)
{
	int fd = open(h_path(false, "caller-state"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	append_file(fd, "/proc/self/status");
	append_file(fd, "/proc/self/limits");
	close(fd);
}

/* Under AddressSanitizer (make check SANITIZE=1) the runtime lowers the
 * soft core limit itself, before main: tell it not to, so what is seen is
 * mdcred's own doing. Nothing changes without ASan. */
static void asan_keeps_core_limit(void)
{
	char v[512];
	const char *old = getenv("ASAN_OPTIONS");
	snprintf(v, sizeof v, "%s%sdisable_coredump=0", old ? old : "", old && *old ? ":" : "");
	setenv("ASAN_OPTIONS", v, 1);
}

/* A caller that ignores SIGPIPE and SIGCHLD and blocks SIGUSR2 (what mdcred
 * itself does differently), with a core limit of 1000, hard 2000. */
static void caller_ignoring(void)
{
	asan_keeps_core_limit();
	struct rlimit rl = {1000, 2000};
	setrlimit(RLIMIT_CORE, &rl);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_SETMASK, &s, NULL);
	caller_state_save();
}

/* A caller with every signal at its default and none blocked (SIGPIPE
 * included, which mdcred ignores), with a core limit of 3000, unlimited. */
static void caller_default(void)
{
	asan_keeps_core_limit();
	struct rlimit rl = {3000, RLIM_INFINITY};
	setrlimit(RLIMIT_CORE, &rl);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	caller_state_save();
}

static void (*const callers[])(void) = {caller_ignoring, caller_default};

/* The line of s that starts with prefix ("" if none). */
static void line_of(const md_secret *s, const char *prefix, char *out, size_t outsz)
{
	const char *p = s ? strstr(md_secret_str(s), prefix) : NULL;
	snprintf(out, outsz, "%.*s", p ? (int)strcspn(p, "\n") : 0, p ? p : "");
}

static void assert_same_line(const md_secret *caller, const md_secret *child, const char *prefix)
{
	char a[256], b[256];
	line_of(caller, prefix, a, sizeof a);
	line_of(child, prefix, b, sizeof b);
	ck_assert_msg(a[0], "the caller has no '%s' line", prefix);
	ck_assert_msg(strcmp(a, b) == 0, "caller '%s', command '%s'", a, b);
}

/* The command prints its own state: no shell in between to change it. */
#define PRINT_STATE "--", "cat", "/proc/self/status", "/proc/self/limits", NULL
static const struct {
	const char *name;
	const char *const args[10];
} exec_modes[] = {
	{"replace", {"exec", USER, PRINT_STATE}},
	{"supervise", {"exec", "--revoke-on-exit", USER, PRINT_STATE}},
};

START_TEST(exec_command_gets_callers_state)
{
	h_make_account(USER);
	int mode = _i % 2, who = _i / 2;
	char tag[32];
	snprintf(tag, sizeof tag, "state-%s-%d", exec_modes[mode].name, who);
	int status = wait_status(h_spawn_mdcred(tag, callers[who], exec_modes[mode].args));
	char name[64];
	snprintf(name, sizeof name, "bg-%s.stderr", tag);
	_cleanup_secret_ md_secret *err = read_run_file(name);
	ck_assert_msg(status == 0, "exit %d; stderr: %s", status, err ? md_secret_str(err) : "");
	snprintf(name, sizeof name, "bg-%s.stdout", tag);
	_cleanup_secret_ md_secret *child = read_run_file(name);
	_cleanup_secret_ md_secret *caller = read_run_file("caller-state");
	assert_same_line(caller, child, "Max core file size");
	assert_same_line(caller, child, "SigIgn:");
	assert_same_line(caller, child, "SigBlk:");
}
END_TEST

/* ---- exec --revoke-on-exit: the command dies with mdcred ---- */

struct pid_wait {
	const char *name;
	pid_t pid; /* the pid read, -1 if still_running ended first */
	pid_t still_running;
};

static bool pid_written(void *arg)
{
	struct pid_wait *w = arg;
	_cleanup_secret_ md_secret *s = read_run_file(w->name);
	if (s && strchr(md_secret_str(s), '\n')) {
		w->pid = (pid_t)atoi(md_secret_str(s));
		return true;
	}
	return waitpid(w->still_running, NULL, WNOHANG) == w->still_running;
}

/* Waits (at most 30 s) for the run dir's file name to hold a pid. */
static pid_t wait_for_pid(const char *name, pid_t still_running)
{
	struct pid_wait w = {name, -1, still_running};
	h_wait_for(pid_written, &w, 30000);
	return w.pid;
}

struct reap {
	pid_t pid;
	int status; /* -1 while it runs */
};

static bool reaped(void *arg)
{
	struct reap *r = arg;
	int st = 0;
	if (waitpid(r->pid, &st, WNOHANG) != r->pid)
		return false;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return true;
}

/* Reaps pid (re-parented to us, the subreaper), waiting at most 30 s: its
 * status, or -1 if it is still running. */
static int reap_within(pid_t pid)
{
	struct reap r = {pid, -1};
	h_wait_for(reaped, &r, 30000);
	return r.status;
}

START_TEST(supervised_command_dies_with_mdcred)
{
	h_make_account(USER);
	/* The command, orphaned by mdcred's death, is re-parented to us. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	char script[2000];
	const char *pidfile = h_path(false, "pdeath.pid");
	unlink(pidfile);
	snprintf(script, sizeof script, "echo $$ > '%s.tmp' && mv '%s.tmp' '%s'; exec sleep 1000",
		 pidfile, pidfile, pidfile);
	const char *args[] = {"exec", "--revoke-on-exit", USER, "--", "/bin/sh", "-c", script,
			      NULL};
	pid_t md = h_spawn_mdcred("pdeath", NULL, args);
	pid_t child = wait_for_pid("pdeath.pid", md);
	if (child <= 0) {
		kill(md, SIGKILL);
		waitpid(md, NULL, 0);
		ck_abort_msg("the command never wrote its pid");
	}
	ck_assert_int_eq(kill(md, SIGKILL), 0);
	ck_assert_int_eq(wait_status(md), 128 + SIGKILL);
	int status = reap_within(child);
	if (status < 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
	ck_assert_msg(status == 128 + SIGKILL, "the command outlived mdcred (status %d)", status);

	/* What remains: nothing could revoke the token; it lives until its TTL. */
	h_tokens ts;
	h_user_tokens(USER, &ts);
	ck_assert_int_eq(ts.n, 1);
	ck_assert_int_eq(ts.live, 1);
	h_result r;
	h_run(&r, 0, NULL, NULL, "token", "revoke", USER, ts.t[0].id, NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

Suite *suite_hardening(void)
{
	Suite *s = h_suite("hardening");
	TCase *tc = h_tcase("hardening");
	tcase_add_test(tc, token_create_stdout_closed_mints_nothing);
	tcase_add_test(tc, get_stdout_closed_mints_nothing);
	tcase_add_test(tc, list_stdout_closed_fails);
	tcase_add_test(tc, stdout_full_revokes);
	/* Each of the two exec modes with each of the two callers. */
	tcase_add_loop_test(tc, exec_command_gets_callers_state, 0, 4);
	tcase_add_test(tc, supervised_command_dies_with_mdcred);
	suite_add_tcase(s, tc);
	return s;
}
