/* lock.c - see lock.h. */
#define _GNU_SOURCE
#include "base/lock.h"
#include "base/time.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* May a directory on the way to a private one be trusted? The private one
 * itself: ours and writable by no one else. Those above: ours or root's
 * (another user could swap the whole tree below one of theirs). Whether
 * others may write a directory above does not matter: the walk holds each
 * directory open and checks what it opened, so someone who can write there
 * can only rename entries (a run then fails, or loses its lock), never
 * make us write elsewhere. That lets a Kubernetes emptyDir (root, 0777)
 * hold a state dir. */
static int dir_trusted(const struct stat *st, const char *path, bool last, md_error *err)
{
	uid_t me = geteuid();
	if (!S_ISDIR(st->st_mode))
		return md_err_set(err, MD_EUSAGE, "%s is not a directory", path);
	if (last && st->st_uid != me)
		return md_err_set(err, MD_EUSAGE, "%s is owned by uid %u, not by this user (uid %u): "
				  "refusing to keep state in it", path, (unsigned)st->st_uid,
				  (unsigned)me);
	if (!last && st->st_uid != me && st->st_uid != 0)
		return md_err_set(err, MD_EUSAGE, "%s (above the state directory) is owned by uid "
				  "%u: another user could replace what is below it", path,
				  (unsigned)st->st_uid);
	if (last && (st->st_mode & 022))
		return md_err_set(err, MD_EUSAGE, "%s is writable by %s: refusing to keep state "
				  "in it (chmod go-w)", path,
				  st->st_mode & 002 ? "every user" : "its group");
	return MD_OK;
}

/* One step down from parent into name: made if absent and create, a
 * symlink followed only when we or root own it. Returns the new fd. */
static int dir_step(int parent, const char *name, const char *path, bool create, bool last,
		    md_error *err)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT || !create)
			return md_err_set(err, errno == ENOENT ? MD_EUSAGE : MD_EFAIL, "%s: %s", path,
					  strerror(errno)), -1;
		if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
			return md_err_set(err, MD_EFAIL, "cannot create %s: %s", path,
					  strerror(errno)), -1;
	} else if (S_ISLNK(st.st_mode) && st.st_uid != geteuid() && st.st_uid != 0) {
		return md_err_set(err, MD_EUSAGE, "%s is a symlink owned by uid %u: refusing to "
				  "follow it", path, (unsigned)st.st_uid), -1;
	}
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return md_err_set(err, MD_EFAIL, "%s: %s", path, strerror(errno)), -1;
	if (fstat(fd, &st) < 0 || dir_trusted(&st, path, last, err) != MD_OK) {
		if (err && err->code == MD_OK)
			md_err_set(err, MD_EFAIL, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int md_dir_open_private(const char *dir, bool create, md_error *err)
{
	char path[PATH_MAX], cwd[PATH_MAX];
	if (!dir || !dir[0])
		return md_err_set(err, MD_EUSAGE, "no state directory given"), -1;
	if (dir[0] != '/' && !getcwd(cwd, sizeof cwd))
		return md_err_set(err, MD_EFAIL, "cannot tell the current directory: %s",
				  strerror(errno)), -1;
	if (snprintf(path, sizeof path, "%s%s%s", dir[0] == '/' ? "" : cwd, dir[0] == '/' ? "" : "/",
		     dir) >= (int)sizeof path)
		return md_err_set(err, MD_EUSAGE, "%.200s: path too long", dir), -1;
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return md_err_set(err, MD_EFAIL, "/: %s", strerror(errno)), -1;
	/* Walk down from / one name at a time (openat): what is checked is
	 * what is used, with no gap for a swap between the two. */
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	for (size_t at = 1; at < len;) {
		size_t n = strcspn(path + at, "/");
		char name[NAME_MAX + 1], shown[PATH_MAX];
		if (n == 0) {
			at++;
			continue;
		}
		snprintf(name, sizeof name, "%.*s", (int)n, path + at);
		snprintf(shown, sizeof shown, "%.*s", (int)(at + n), path);
		int next = n <= NAME_MAX ? dir_step(fd, name, shown, create, at + n >= len, err)
					 : (md_err_set(err, MD_EUSAGE, "%s: name too long", shown), -1);
		close(fd);
		if (next < 0)
			return -1;
		fd = next;
		at += n;
	}
	return fd;
}

/* "PID EPOCH" from the holder, or the file's mtime. */
static void lock_holder(int fd, const struct stat *st, md_lock *l)
{
	char buf[64];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	long long pid = 0, since = 0;
	buf[n > 0 ? n : 0] = '\0';
	if (sscanf(buf, "%lld %lld", &pid, &since) == 2 && pid > 0 && since > 0) {
		l->holder = (pid_t)pid;
		l->since = (time_t)since;
	} else {
		l->holder = 0;
		l->since = st->st_mtime;
	}
}

static void lock_mark(int fd)
{
	char buf[64];
	int n = snprintf(buf, sizeof buf, "%ld %lld\n", (long)getpid(), (long long)time(NULL));
	if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) != n) {
		/* Best effort: without it others fall back to the mtime. */
	}
}

int md_lock_take(int dirfd, const char *name, long wait_ms, md_lock *l, md_error *err)
{
	*l = (md_lock){.fd = -1};
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return md_err_set(err, errno == ELOOP ? MD_EUSAGE : MD_EFAIL, "lock %s: %s", name,
				  errno == ELOOP ? "is a symlink" : strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return md_err_set(err, MD_EFAIL, "lock %s: %s", name, strerror(e));
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return md_err_set(err, MD_EUSAGE, "lock %s is %s: refusing it (another user could "
				  "hold it forever or swap it)", name,
				  !S_ISREG(st.st_mode)	       ? "not a regular file"
				  : st.st_uid != geteuid() ? "owned by another user"
							   : "writable by others");
	}
	long long deadline = md_time_now_ms() + (wait_ms > 0 ? wait_ms : 0), pause = 5;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			lock_mark(fd);
			l->fd = fd;
			return MD_OK;
		}
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int e = errno;
			close(fd);
			return md_err_set(err, MD_EFAIL, "lock %s: %s", name, strerror(e));
		}
		long long left = deadline - md_time_now_ms();
		if (left <= 0)
			break;
		/* flock has no timeout: poll, backing off to 200 ms. */
		md_time_sleep_ms(pause < left ? pause : left);
		pause = pause < 100 ? pause * 2 : 200;
	}
	lock_holder(fd, &st, l);
	close(fd);
	return MD_OK;
}

void md_lock_release(md_lock *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
