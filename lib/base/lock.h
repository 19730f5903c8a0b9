/* lock.h - directories and lock files mdcred trusts, and locks in them.
 *
 * Owns: the ownership rule for what mdcred keeps state in (as ssh does for
 * its files): a private directory is owned by the caller and not writable
 * by group or others, every directory above it is owned by the caller or
 * root, and a symlink on the way counts only when the caller or root owns
 * it; a lock file is a regular file owned by the caller and writable by
 * nobody else. The walk goes down by descriptor (openat), checking what it
 * opened, so nothing can be swapped between a check and its use. Anything else is
 * refused, so another user cannot plant a lock that makes every run report
 * "skipped", or a symlink that makes root write into /etc.
 *
 * Locks are flock(2)s (the kernel drops them when the process ends, however
 * it ends), taken without waiting or waiting at most a bound. The holder
 * writes "PID START_EPOCH" into the lock file, so a run that finds it held
 * can say who holds it and for how long.
 */
#ifndef MD_LOCK_H
#define MD_LOCK_H

#include <stdbool.h>
#include <time.h>
#include <sys/types.h>

#include "base/error.h"

/* Opens dir (made, mode 0700, with any missing parents, when create is
 * set) after checking it and the directories above it; returns an
 * O_DIRECTORY descriptor, or -1 with err set (MD_EUSAGE for a directory
 * that fails the rule, MD_EFAIL for a system error). */
int md_dir_open_private(const char *dir, bool create, md_error *err);

typedef struct {
	int fd;          /* -1 when not held */
	pid_t holder;    /* when busy: the holder's pid, or 0 if unknown */
	time_t since;    /* when busy: when the holder took it (or the file's mtime) */
} md_lock;

/* Takes the exclusive lock on dirfd/name (created 0600 if absent). wait_ms
 * 0: do not wait; > 0: wait at most that long. MD_OK with l->fd >= 0 when
 * taken; MD_OK with l->fd -1 and l->holder/since set when another holds
 * it; MD_EUSAGE for a lock file that fails the rule; MD_EFAIL otherwise.
 * now is the caller's clock (for since when the holder wrote nothing). */
int md_lock_take(int dirfd, const char *name, long wait_ms, md_lock *l, md_error *err);
/* Releases (closes) a held lock; l->fd becomes -1. */
void md_lock_release(md_lock *l);

#endif
