/* file.c - see file.h. */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/rand.h"

int md_file_mkdirs(const char *dir)
{
	char p[4096];
	if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int md_file_write_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int split_path(const char *path, char *dir, char *base, size_t sz)
{
	char a[4096], b[4096];
	if (strlen(path) >= sizeof a || strlen(path) >= sz)
		return -1;
	/* dirname and basename may write into their argument: copies. */
	snprintf(a, sizeof a, "%s", path);
	snprintf(b, sizeof b, "%s", path);
	snprintf(dir, sz, "%s", dirname(a));
	snprintf(base, sz, "%s", basename(b));
	return 0;
}

int md_file_check_target(const char *path, md_error *err)
{
	char dir[4096], base[4096];
	struct stat st;
	if (!path[0] || split_path(path, dir, base, sizeof dir) < 0)
		return md_err_set(err, MD_EUSAGE, "output path is empty or too long");
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return md_err_set(err, MD_EUSAGE, "%s %s", path, S_ISDIR(st.st_mode)
				  ? "is a directory: name a file in it"
				  : "exists and is not a regular file (a device, a pipe or a socket)");
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return md_err_set(err, MD_EUSAGE, "%s: directory %s does not exist", path, dir);
	if (access(dir, W_OK | X_OK) < 0)
		return md_err_set(err, MD_EUSAGE, "%s: cannot create files in %s: %s", path, dir,
				  strerror(errno));
	return MD_OK;
}

int md_file_write_atomic(const char *path, const md_secret *content, mode_t mode, md_error *err)
{
	return md_file_write_atomic_owned(path, content, mode, (uid_t)-1, (gid_t)-1, err);
}

int md_file_write_atomic_owned(const char *path, const md_secret *content, mode_t mode, uid_t uid,
			       gid_t gid, md_error *err)
{
	char dir[4096], base[4096], tmp[4200];
	struct stat st;
	if (!path[0] || split_path(path, dir, base, sizeof dir) < 0)
		return md_err_set(err, MD_EUSAGE, "output path is empty or too long");
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return md_err_set(err, MD_EUSAGE, "%s exists and is not a regular file", path);
	unsigned char r[6];
	if (md_rand_bytes(r, sizeof r) < 0)
		return md_err_set(err, MD_EFAIL, "no randomness for a temporary name");
	snprintf(tmp, sizeof tmp, "%s/.%s.%02x%02x%02x%02x%02x%02x.tmp", dir, base, r[0], r[1], r[2],
		 r[3], r[4], r[5]);
	/* The mode is right from creation: there is no moment the file is
	 * readable by others. umask can only narrow it; fchmod makes it exact. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0600);
	if (fd < 0)
		return md_err_set(err, MD_EFAIL, "cannot create a file in %s: %s", dir, strerror(errno));
	const char *step = "write";
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
		step = "chown";
	else if (fchmod(fd, mode) < 0)
		step = "chmod";
	else if (md_file_write_fd(fd, md_secret_str(content), md_secret_len(content)) < 0)
		step = "write";
	else if (fsync(fd) < 0)
		step = "fsync";
	else if ((step = NULL, close(fd) < 0))
		step = "close", fd = -1;
	else
		fd = -1;
	if (!step && rename(tmp, path) < 0)
		step = "rename";
	if (step) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return md_err_set(err, MD_EFAIL, "cannot write %s (%s): %s", path, step, strerror(e));
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return MD_OK;
}

/* Reads all of fd (at most max bytes) into a new secret. */
static int read_fd_secret(int fd, const char *path, size_t max, md_secret **out, md_error *err)
{
	md_secret *s = md_secret_new(4096);
	char buf[4096];
	ssize_t r;
	int rc = s ? MD_OK : md_err_set(err, MD_EFAIL, "out of memory");
	while (rc == MD_OK && (r = read(fd, buf, sizeof buf)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = md_err_set(err, MD_EFAIL, "cannot read %s: %s", path, strerror(errno));
		else if (md_secret_len(s) + (size_t)r > max)
			rc = md_err_set(err, MD_EUSAGE, "%s is larger than %zu bytes", path, max);
		else if (md_secret_append(s, buf, (size_t)r) < 0)
			rc = md_err_set(err, MD_EFAIL, "out of memory");
	}
	explicit_bzero(buf, sizeof buf);
	if (rc) {
		md_secret_free(s);
		return rc;
	}
	*out = s;
	return MD_OK;
}

int md_file_read_secret(const char *path, size_t max, md_secret **out, md_error *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return md_err_set(err, errno == ENOENT ? MD_ENOTFOUND : MD_EFAIL, "cannot open %s: %s",
				  path, strerror(errno));
	int rc = read_fd_secret(fd, path, max, out, err);
	close(fd);
	return rc;
}

int md_file_read_private(const char *path, size_t max, md_secret **out, md_error *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return md_err_set(err, errno == ENOENT ? MD_ENOTFOUND : errno == ELOOP ? MD_EUSAGE
											 : MD_EFAIL,
				  "cannot open %s: %s", path,
				  errno == ELOOP ? "it is a symlink" : strerror(errno));
	/* Checked on what was opened, not on the name: nothing can be swapped
	 * in between. A file someone else could have written is not ours. */
	struct stat st;
	int rc;
	if (fstat(fd, &st) < 0)
		rc = md_err_set(err, MD_EFAIL, "cannot stat %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = md_err_set(err, MD_EUSAGE, "%s is not a regular file", path);
	else if (st.st_uid != geteuid())
		rc = md_err_set(err, MD_EUSAGE, "%s is owned by uid %u, not by this user",
				path, (unsigned)st.st_uid);
	else if (st.st_mode & 077)
		rc = md_err_set(err, MD_EUSAGE, "%s has mode %04o: it should be 0600", path,
				(unsigned)(st.st_mode & 07777));
	else
		rc = read_fd_secret(fd, path, max, out, err);
	close(fd);
	return rc;
}
