/* test_lock.c - unit tests for lib/base/lock.c: which directories and lock files
 * are trusted (another user is uid 65534: the suite chowns what it plants,
 * so it needs root, and says SKIPPED otherwise), and the lock itself:
 * taken, busy with its holder named, a bounded wait. */
#define _GNU_SOURCE
#include <check.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/lock.h"

#define OTHER 65534

static char base[256];

static void setup(void)
{
	snprintf(base, sizeof base, "/tmp/mdcred-test-lock-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void teardown(void)
{
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *at(const char *name)
{
	static char p[4][512];
	static int i;
	char *b = p[i++ % 4];
	snprintf(b, sizeof p[0], "%s/%s", base, name);
	return b;
}

static int open_private(const char *dir, bool create, md_error *err)
{
	int fd = md_dir_open_private(dir, create, err);
	if (fd >= 0)
		close(fd);
	return fd >= 0 ? MD_OK : err->code;
}

START_TEST(private_dir_made_0700)
{
	md_error err = {0};
	ck_assert_int_eq(open_private(at("a/b/state"), true, &err), MD_OK);
	struct stat st;
	ck_assert_int_eq(stat(at("a/b/state"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(open_private(at("missing"), false, &err), MD_EUSAGE);
}
END_TEST

START_TEST(untrusted_dirs_refused)
{
	md_error err = {0};
	if (geteuid() != 0) {
		printf("SKIPPED: untrusted_dirs_refused needs root to plant another user's files\n");
		return;
	}
	ck_assert_int_eq(mkdir(at("open"), 0777), 0);
	chmod(at("open"), 0777);
	ck_assert_int_eq(open_private(at("open"), false, &err), MD_EUSAGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "writable by every user"));
	ck_assert_int_eq(open_private(at("open/mine"), true, &err), MD_OK); /* root's parent */

	ck_assert_int_eq(mkdir(at("theirs"), 0700), 0);
	ck_assert_int_eq(chown(at("theirs"), OTHER, OTHER), 0);
	ck_assert_int_eq(open_private(at("theirs"), false, &err), MD_EUSAGE);
	ck_assert_int_eq(open_private(at("theirs/below"), true, &err), MD_EUSAGE);

	ck_assert_int_eq(mkdir(at("target"), 0700), 0);
	ck_assert_int_eq(symlink(at("target"), at("their-link")), 0);
	ck_assert_int_eq(lchown(at("their-link"), OTHER, OTHER), 0);
	ck_assert_int_eq(open_private(at("their-link"), false, &err), MD_EUSAGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "symlink"));
	ck_assert_int_eq(symlink(at("target"), at("my-link")), 0);
	ck_assert_int_eq(open_private(at("my-link"), false, &err), MD_OK);
}
END_TEST

START_TEST(lock_taken_busy_and_bounded)
{
	md_error err = {0};
	int dfd = md_dir_open_private(at("locks"), true, &err);
	ck_assert_int_ge(dfd, 0);
	md_lock a, b;
	ck_assert_int_eq(md_lock_take(dfd, "r.lock", 0, &a, &err), MD_OK);
	ck_assert_int_ge(a.fd, 0);
	/* flock belongs to the open file: a second open is another holder. */
	ck_assert_int_eq(md_lock_take(dfd, "r.lock", 0, &b, &err), MD_OK);
	ck_assert_int_eq(b.fd, -1);
	ck_assert_int_eq(b.holder, getpid());
	ck_assert(llabs((long long)(time(NULL) - b.since)) <= 5);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(md_lock_take(dfd, "r.lock", 60, &b, &err), MD_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(b.fd, -1);
	/* A lower bound only: it waited, then gave up (no upper limit here). */
	ck_assert_int_ge((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 55);
	md_lock_release(&a);
	ck_assert_int_eq(a.fd, -1);
	ck_assert_int_eq(md_lock_take(dfd, "r.lock", 0, &b, &err), MD_OK);
	ck_assert_int_ge(b.fd, 0);
	md_lock_release(&b);
	close(dfd);
}
END_TEST

START_TEST(untrusted_lock_files_refused)
{
	md_error err = {0};
	int dfd = md_dir_open_private(at("locks2"), true, &err);
	ck_assert_int_ge(dfd, 0);
	int fd = openat(dfd, "w.lock", O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fchmod(fd, 0666), 0);
	close(fd);
	md_lock l;
	ck_assert_int_eq(md_lock_take(dfd, "w.lock", 0, &l, &err), MD_EUSAGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "writable by others"));
	ck_assert_int_eq(symlinkat("/etc/passwd", dfd, "s.lock"), 0);
	ck_assert_int_eq(md_lock_take(dfd, "s.lock", 0, &l, &err), MD_EUSAGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "symlink"));
	if (geteuid() == 0) {
		fd = openat(dfd, "o.lock", O_CREAT | O_WRONLY, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(fchown(fd, OTHER, OTHER), 0);
		close(fd);
		ck_assert_int_eq(md_lock_take(dfd, "o.lock", 0, &l, &err), MD_EUSAGE);
		ck_assert_ptr_nonnull(strstr(err.msg, "owned by another user"));
	}
	close(dfd);
}
END_TEST

static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("lock");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, private_dir_made_0700);
	tcase_add_test(tc, untrusted_dirs_refused);
	tcase_add_test(tc, lock_taken_busy_and_bounded);
	tcase_add_test(tc, untrusted_lock_files_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lock_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
