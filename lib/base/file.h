/* file.h - files that hold secrets.
 *
 * Owns: the atomic, private write (temp file created O_EXCL|O_NOFOLLOW in
 * the target's directory with the final mode from the start, write, fsync,
 * rename over the target, fsync of the directory; the temp file is removed on
 * any failure, so a reader sees the old file or the new one, never half), and
 * reading a small file into secret memory (a private one: owned by the
 * caller, no group or other bits), and checking an output target before a
 * token is minted for it.
 */
#ifndef MD_FILE_H
#define MD_FILE_H

#include <sys/types.h>

#include "base/error.h"
#include "base/secret.h"

int md_file_write_atomic(const char *path, const md_secret *content, mode_t mode, md_error *err);
/* Can md_file_write_atomic write path? Checked before a token is minted
 * for it (MD_EUSAGE: nothing was sent): path is not a directory, a device
 * or anything else but a regular file, and its directory exists and can
 * take a new file. */
int md_file_check_target(const char *path, md_error *err);
/* Same, and owned by uid:gid (-1 keeps the caller's) from before the rename. */
int md_file_write_atomic_owned(const char *path, const md_secret *content, mode_t mode, uid_t uid,
			       gid_t gid, md_error *err);
/* mkdir -p; what it creates is mode 0700. 0, or -1 with errno set. */
int md_file_mkdirs(const char *dir);
/* write(2) until done; -1 on error (errno set). */
int md_file_write_fd(int fd, const char *p, size_t n);
int md_file_read_secret(const char *path, size_t max, md_secret **out, md_error *err);
/* Reads a file only mdcred writes (a cache): it must be a regular file (not
 * a symlink) owned by the caller with no group or other permission bits.
 * MD_ENOTFOUND when absent, MD_EUSAGE when it is not such a file. */
int md_file_read_private(const char *path, size_t max, md_secret **out, md_error *err);

#endif
