/* test_proc.c - lib/proc: standard descriptors closed at start, and the
 * caller's core limit and signal state put back for exec.
 *
 * md_proc_start is once per process: every test runs its body in a forked
 * child (a fresh process state) whose exit code is 0, or the number of the
 * first expectation that failed. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/proc.h"

#define EXPECT(n, cond)              \
	do {                         \
		if (!(cond))         \
			return (n);  \
	} while (0)

/* The body's result, or 100 + signal if the child died. */
static int in_child(int (*body)(void))
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(body());
	int st = 0;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static bool is_dev_null(int fd)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat("/dev/null", &b) == 0 && S_ISCHR(a.st_mode) &&
	       a.st_rdev == b.st_rdev;
}

static bool is_ignored(int sig)
{
	struct sigaction sa;
	return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

static bool is_blocked(int sig)
{
	sigset_t now;
	return sigprocmask(SIG_SETMASK, NULL, &now) == 0 && sigismember(&now, sig) == 1;
}

/* The signal mask becomes just sig (0: nothing blocked). */
static void mask_only(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	if (sig)
		sigaddset(&s, sig);
	sigprocmask(SIG_SETMASK, &s, NULL);
}

static bool core_limit_is(rlim_t soft, rlim_t hard)
{
	struct rlimit rl;
	return getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == soft && rl.rlim_max == hard;
}

/* ---- descriptors ---- */

static int stdout_and_stderr_closed(void)
{
	close(STDOUT_FILENO);
	close(STDERR_FILENO);
	EXPECT(1, md_proc_start(0) == 0);
	EXPECT(2, is_dev_null(STDOUT_FILENO) && is_dev_null(STDERR_FILENO));
	EXPECT(3, md_proc_fd_was_closed(STDOUT_FILENO) && md_proc_fd_was_closed(STDERR_FILENO));
	EXPECT(4, !md_proc_fd_was_closed(STDIN_FILENO));
	EXPECT(5, write(STDOUT_FILENO, "x", 1) == 1);
	/* The next descriptor opened is not a standard one any more. */
	int fd = open("/dev/null", O_RDONLY);
	EXPECT(6, fd > STDERR_FILENO);
	return 0;
}

START_TEST(closed_fds_reopened_on_dev_null)
{
	ck_assert_int_eq(in_child(stdout_and_stderr_closed), 0);
}
END_TEST

static int all_three_closed(void)
{
	for (int fd = 0; fd <= 2; fd++)
		close(fd);
	EXPECT(1, md_proc_start(0) == 0);
	char c;
	for (int fd = 0; fd <= 2; fd++)
		EXPECT(2, is_dev_null(fd) && md_proc_fd_was_closed(fd));
	EXPECT(3, read(STDIN_FILENO, &c, 1) == 0);
	return 0;
}

START_TEST(all_three_closed_reopened)
{
	ck_assert_int_eq(in_child(all_three_closed), 0);
}
END_TEST

static int none_closed(void)
{
	int p[2];
	struct stat before, after;
	EXPECT(1, pipe(p) == 0 && dup2(p[1], STDOUT_FILENO) == STDOUT_FILENO);
	EXPECT(2, fstat(STDOUT_FILENO, &before) == 0);
	EXPECT(3, md_proc_start(0) == 0);
	EXPECT(4, fstat(STDOUT_FILENO, &after) == 0 && after.st_ino == before.st_ino);
	for (int fd = 0; fd <= 2; fd++)
		EXPECT(5, !md_proc_fd_was_closed(fd));
	EXPECT(6, !md_proc_fd_was_closed(3) && !md_proc_fd_was_closed(-1));
	return 0;
}

START_TEST(open_fds_left_alone)
{
	ck_assert_int_eq(in_child(none_closed), 0);
}
END_TEST

/* ---- the core limit ---- */

/* As an unprivileged user (dropping root when the tests run as root): one
 * that cannot raise a hard limit it has lowered. */
static int core_limit_round_trip(void)
{
	struct rlimit caller = {1000, 2000};
	EXPECT(1, setrlimit(RLIMIT_CORE, &caller) == 0);
	if (geteuid() == 0)
		EXPECT(2, setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0);
	EXPECT(3, md_proc_start(MD_PROC_HARDEN) == 0);
	EXPECT(4, core_limit_is(0, 2000));
	EXPECT(5, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
	md_proc_restore_for_exec();
	EXPECT(6, core_limit_is(1000, 2000));
	md_proc_exec_failed();
	EXPECT(7, core_limit_is(0, 2000));
	return 0;
}

START_TEST(restore_puts_back_core_limit)
{
	ck_assert_int_eq(in_child(core_limit_round_trip), 0);
}
END_TEST

/* ---- signals ---- */

/* The caller: SIGPIPE ignored, SIGUSR2 blocked. Then mdcred's own changes
 * (the opposite), undone for exec and redone after a failed one. */
static int signals_round_trip(void)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	mask_only(SIGUSR2);
	EXPECT(1, md_proc_start(0) == 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_IGN);
	mask_only(SIGUSR1);
	md_proc_restore_for_exec();
	EXPECT(2, is_ignored(SIGPIPE) && !is_ignored(SIGCHLD));
	EXPECT(3, is_blocked(SIGUSR2) && !is_blocked(SIGUSR1));
	md_proc_exec_failed();
	EXPECT(4, !is_ignored(SIGPIPE) && is_ignored(SIGCHLD));
	EXPECT(5, is_blocked(SIGUSR1) && !is_blocked(SIGUSR2));
	return 0;
}

START_TEST(restore_puts_back_signals)
{
	ck_assert_int_eq(in_child(signals_round_trip), 0);
}
END_TEST

/* mdcred's own case: it ignores SIGPIPE; the command gets the default. */
static int sigpipe_default_again(void)
{
	signal(SIGPIPE, SIG_DFL);
	mask_only(0);
	EXPECT(1, md_proc_start(0) == 0);
	signal(SIGPIPE, SIG_IGN);
	md_proc_restore_for_exec();
	EXPECT(2, !is_ignored(SIGPIPE));
	return 0;
}

START_TEST(restore_gives_default_sigpipe_back)
{
	ck_assert_int_eq(in_child(sigpipe_default_again), 0);
}
END_TEST

static Suite *proc_suite(void)
{
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("fds");
	tcase_add_test(tc, closed_fds_reopened_on_dev_null);
	tcase_add_test(tc, all_three_closed_reopened);
	tcase_add_test(tc, open_fds_left_alone);
	suite_add_tcase(s, tc);

	tc = tcase_create("restore");
	tcase_add_test(tc, restore_puts_back_core_limit);
	tcase_add_test(tc, restore_puts_back_signals);
	tcase_add_test(tc, restore_gives_default_sigpipe_back);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(proc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
