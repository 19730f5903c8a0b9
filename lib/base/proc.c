/* proc.c - see proc.h.
 *
 * What mdcred changes in its own process that execve would hand on, and so
 * what md_proc_restore_for_exec puts back: RLIMIT_CORE (lowered here), the
 * signal dispositions (SIGPIPE ignored by main, SIGCHLD set to default by
 * exec's supervisor, and whatever a library may set: all of them are saved,
 * not a list) and the signal mask (the supervisor blocks the signals it
 * forwards). Not restored because execve does not hand them on or mdcred
 * never changes them: PR_SET_DUMPABLE (execve resets it), mlock()ed memory,
 * timers (libcurl runs with CURLOPT_NOSIGNAL), the umask, the working
 * directory. The environment and the descriptors are exec.c's.
 */
#define _GNU_SOURCE
#include "base/proc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct {
	struct sigaction act[NSIG];
	bool have_act[NSIG]; /* some numbers (glibc's own, KILL, STOP) are not ours */
	sigset_t mask;
	struct rlimit core;
	bool have_core;
} proc_state;

static proc_state at_start; /* the caller's, saved by md_proc_start */
static proc_state ours;     /* mdcred's, saved by md_proc_restore_for_exec */
static bool started;
static unsigned closed_std; /* bit fd: 0, 1 or 2 was closed at start */

/* Only async-signal-safe calls from here to state_apply: both run in a
 * forked child. */
static void state_save(proc_state *s)
{
	for (int sig = 1; sig < NSIG; sig++)
		s->have_act[sig] = sig != SIGKILL && sig != SIGSTOP &&
				   sigaction(sig, NULL, &s->act[sig]) == 0;
	sigprocmask(SIG_SETMASK, NULL, &s->mask);
	s->have_core = getrlimit(RLIMIT_CORE, &s->core) == 0;
}

/* Dispositions first, the mask last: a signal that was held pending meets
 * the disposition it is meant to. */
static void state_apply(const proc_state *s)
{
	for (int sig = 1; sig < NSIG; sig++)
		if (s->have_act[sig])
			sigaction(sig, &s->act[sig], NULL);
	if (s->have_core)
		setrlimit(RLIMIT_CORE, &s->core);
	sigprocmask(SIG_SETMASK, &s->mask, NULL);
}

/* A closed 0, 1 or 2 would be handed to the next open(), socket() or
 * pipe(): a token printed to "stdout" would go into libcurl's socket. */
static int std_fd_open(int fd)
{
	if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
		return 0;
	int got = open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY);
	if (got < 0)
		return -1;
	/* Lower ones are open by now, so got is fd; dup2 in case it is not. */
	if (got != fd && (dup2(got, fd) < 0 || close(got) < 0))
		return -1;
	closed_std |= 1u << fd;
	return 0;
}

/* No core file and no ptrace by peers. Only the soft core limit is lowered:
 * an unprivileged process can never raise its hard limit again, and the
 * command exec runs must get the caller's limits back. The soft limit is
 * what the kernel checks, and PR_SET_DUMPABLE 0 stops a dump besides. */
static void harden(void)
{
	if (at_start.have_core) {
		struct rlimit rl = {0, at_start.core.rlim_max};
		(void)setrlimit(RLIMIT_CORE, &rl);
	}
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* ---- descriptors: which are the caller's to pass on ---- */

#define FD_TRACKED 1024
static unsigned char inherited_fds[FD_TRACKED / 8];
static bool inherited_noted;

/* Calls fn for every open descriptor but the directory's own. */
static int fd_each(void (*fn)(int fd))
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (e->d_name[0] != '.' && !*end && fd >= 0 && fd != self && fd <= INT_MAX)
			fn((int)fd);
	}
	closedir(d);
	return 0;
}

static void fd_note(int fd)
{
	if (fd < FD_TRACKED)
		inherited_fds[fd / 8] |= (unsigned char)(1u << (fd % 8));
}

static void note_inherited_fds(void)
{
	/* One directory read at start (no /proc: the first 64 by probing). */
	if (fd_each(fd_note) < 0)
		for (int fd = 0; fd < 64; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				fd_note(fd);
	inherited_noted = true;
}

static bool fd_inherited(int fd)
{
	if (!inherited_noted)
		return fd <= 2;
	return fd < FD_TRACKED && (inherited_fds[fd / 8] >> (fd % 8)) & 1;
}

static void fd_cloexec_unless_inherited(int fd)
{
	int fl = fd_inherited(fd) ? -1 : fcntl(fd, F_GETFD);
	if (fl >= 0)
		fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

void md_proc_cloexec_own_fds(void)
{
	fd_each(fd_cloexec_unless_inherited);
}

int md_proc_start(unsigned flags)
{
	for (int fd = 0; fd <= 2; fd++)
		if (std_fd_open(fd) < 0)
			return -1;
	state_save(&at_start);
	started = true;
	if (flags & MD_PROC_HARDEN)
		harden();
	note_inherited_fds();
	return 0;
}

bool md_proc_fd_was_closed(int fd)
{
	return fd >= 0 && fd <= 2 && (closed_std >> fd) & 1;
}

void md_proc_restore_for_exec(void)
{
	state_save(&ours);
	if (started) {
		state_apply(&at_start);
		return;
	}
	/* Never started (a library user): what a command usually starts with. */
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigaction(SIGPIPE, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void md_proc_exec_failed(void)
{
	state_apply(&ours);
}
