/* test_planted.c - what another local user can plant, and what mdcred
 * must refuse before anything is minted: a token cache, a state dir, a lock
 * file not the caller's (or writable by others), a lock held forever (a
 * stuck rotation has its own exit code, 9), get's bounded wait for its
 * lock, and output targets that cannot take a token. "Another user" is uid
 * 65534 (nobody): the suite runs as root and chowns what it plants. */
#define _GNU_SOURCE
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USER "svc_harden_test"
#define OTHER 65534
/* JWT-shaped, but no token the emulator ever issued. */
#define PLANTED "eyJhbGciOiJIUzI1NiJ9.eyJwbGFudGVkIjoxfQ.cGxhbnRlZC1zaWduYXR1cmU"

static int n_case;

/* A new directory (under requested/ when a token will be cached in it). */
static const char *fresh_dir(const char *tag, mode_t mode)
{
	static char bufs[4][1300];
	char *b = bufs[n_case % 4];
	char name[64];
	snprintf(name, sizeof name, "%s-%d", tag, ++n_case);
	snprintf(b, sizeof bufs[0], "%s", h_path(strncmp(tag, "cache", 5) == 0, name));
	ck_assert_int_eq(mkdir(b, mode), 0);
	ck_assert_int_eq(chmod(b, mode), 0);
	return b;
}

static void write_file(const char *path, const char *text, mode_t mode, uid_t uid)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchown(fd, uid, uid), 0);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void rotate(h_result *r, const char *state, const char *every)
{
	char store[1400];
	snprintf(store, sizeof store, "file://%s", h_path(true, "harden-rot.json"));
	h_run(r, 0, NULL, NULL, "rotate", USER, "--state-dir", state, "--store", store, "--ttl",
	      "2h", "--every", every, NULL);
}

/* ---- the get cache ---- */

/* A cache file another user planted in a shared (sticky) directory is a
 * miss: its token is never handed out; a fresh one is minted and cached. */
START_TEST(planted_cache_file_is_a_miss)
{
	h_make_account(USER);
	const char *shared = fresh_dir("cache-shared", 01777);
	char path[1400], uri[1500], doc[512];
	snprintf(path, sizeof path, "%s/md-cache.json", shared);
	snprintf(uri, sizeof uri, "file://%s", path);
	snprintf(doc, sizeof doc, "{\"token\":\"%s\",\"username\":\"%s\",\"token_type\":"
		 "\"read_write\",\"id\":\"planted\",\"expire_at\":\"2099-01-01T00:00:00Z\"}\n",
		 PLANTED, USER);
	const struct {
		mode_t mode;
		uid_t uid;
		const char *warning;
	} cases[] = {
		{0644, OTHER, "owned by uid 65534"},
		{0600, OTHER, "owned by uid 65534"},
		{0644, 0, "it should be 0600"},
		{0620, 0, "it should be 0600"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unlink(path);
		write_file(path, doc, cases[i].mode, cases[i].uid);
		h_result r;
		h_run(&r, H_SECRET_STDOUT, NULL, NULL, "get", USER, "--cache", uri, NULL);
		ck_assert_exit(r, 0);
		ck_assert_msg(!h_contains(r.out, PLANTED), "case %zu: the planted token was used", i);
		ck_assert(h_is_issued_token(md_secret_str(r.out), md_secret_len(r.out) - 1));
		ck_assert_msg(h_contains(r.err, cases[i].warning), "case %zu: %s", i,
			      md_secret_str(r.err));
		h_result_free(&r);
		/* Replaced by ours (root may rename over another user's file in a
		 * sticky directory; another user would be told "not caching"). */
		struct stat st;
		ck_assert_int_eq(lstat(path, &st), 0);
		ck_assert_uint_eq(st.st_uid, geteuid());
		ck_assert_uint_eq(st.st_mode & 07777, 0600);
	}
	/* A symlink in its place is a miss too. */
	unlink(path);
	char target[1400];
	snprintf(target, sizeof target, "%s/elsewhere.json", shared);
	write_file(target, doc, 0600, 0);
	ck_assert_int_eq(symlink(target, path), 0);
	h_result r;
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "get", USER, "--cache", uri, NULL);
	ck_assert_exit(r, 0);
	ck_assert(!h_contains(r.out, PLANTED));
	ck_assert(h_contains(r.err, "symlink"));
	h_result_free(&r);
}
END_TEST

/* get waits for another caller's lock, but not forever: --timeout bounds
 * it (exit 6, naming the holder); a lock file of another user is refused. */
START_TEST(get_lock_wait_is_bounded)
{
	h_make_account(USER);
	int sent = h_request_count();
	const char *dir = fresh_dir("cache-lock", 0700);
	char path[1400], lock[1450], uri[1500], who[64];
	snprintf(path, sizeof path, "%s/cache.json", dir);
	snprintf(lock, sizeof lock, "%s.lock", path);
	snprintf(uri, sizeof uri, "file://%s", path);
	snprintf(who, sizeof who, "%ld %lld\n", (long)getpid(), (long long)time(NULL));
	write_file(lock, who, 0600, 0);
	int fd = open(lock, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	h_result r;
	h_run(&r, 0, NULL, NULL, "--timeout", "1", "--retries", "0", "get", USER, "--cache", uri,
	      NULL);
	ck_assert_exit(r, 6);
	ck_assert(h_contains(r.err, "gave up"));
	char pid[32];
	snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
	ck_assert(h_contains(r.err, pid));
	ck_assert_uint_eq(md_secret_len(r.out), 0);
	h_result_free(&r);
	close(fd);
	ck_assert_int_eq(h_request_count(), sent);

	ck_assert_int_eq(chown(lock, OTHER, OTHER), 0);
	h_run(&r, 0, NULL, NULL, "get", USER, "--cache", uri, NULL);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "owned by another user"));
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), sent);
}
END_TEST

/* ---- the state dir and rotate's locks ---- */

START_TEST(lock_file_not_ours_is_refused)
{
	h_make_account(USER);
	int sent = h_request_count();
	const char *state = fresh_dir("state", 0700);
	char lock[1400];
	snprintf(lock, sizeof lock, "%s/%s.lock", state, USER);
	write_file(lock, "", 0600, OTHER);
	h_result r;
	rotate(&r, state, "1h");
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "owned by another user"));
	h_result_free(&r);
	write_file(lock, "", 0666, 0);
	rotate(&r, state, "1h");
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "writable by others"));
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), sent);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

START_TEST(state_dir_others_control_is_refused)
{
	h_make_account(USER);
	int sent = h_request_count();
	/* Writable by every user. */
	const char *open_dir = fresh_dir("open", 0777);
	h_result r;
	rotate(&r, open_dir, "1h");
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "writable by every user"));
	h_result_free(&r);
	/* Below a directory of another user: the whole tree is theirs to
	 * swap. */
	const char *their_parent = fresh_dir("their-parent", 0755);
	ck_assert_int_eq(chown(their_parent, OTHER, OTHER), 0);
	char below[1400];
	snprintf(below, sizeof below, "%s/state", their_parent);
	rotate(&r, below, "1h");
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "owned by uid 65534"));
	h_result_free(&r);
	/* Not ours. */
	const char *theirs = fresh_dir("theirs", 0700);
	ck_assert_int_eq(chown(theirs, OTHER, OTHER), 0);
	rotate(&r, theirs, "1h");
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "owned by uid 65534"));
	h_result_free(&r);
	/* A symlink another user planted in a sticky shared directory,
	 * pointing at a directory that would pass (root's own). */
	const char *shared = fresh_dir("tmp", 01777);
	const char *target = fresh_dir("target", 0700);
	char link[1400];
	snprintf(link, sizeof link, "%s/mdcred-state", shared);
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(lchown(link, OTHER, OTHER), 0);
	rotate(&r, link, "1h");
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "symlink owned by uid 65534"));
	h_result_free(&r);
	struct stat st;
	char planted[1400];
	snprintf(planted, sizeof planted, "%s/%s.lock", target, USER);
	ck_assert_int_ne(stat(planted, &st), 0);
	ck_assert_int_eq(h_request_count(), sent);
	/* A state dir below a sticky shared directory, made by us: fine. */
	char ok[1400];
	snprintf(ok, sizeof ok, "%s/mine/state", shared);
	rotate(&r, ok, "1h");
	ck_assert_exit(r, 0);
	h_result_free(&r);
	ck_assert_int_eq(stat(ok, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	/* Below a directory every user may write but root owns (a Kubernetes
	 * emptyDir is 0777): the state dir made in it is ours, 0700, and is
	 * held open while used, so that is fine. */
	char in_open[1400];
	snprintf(in_open, sizeof in_open, "%s/state", open_dir);
	rotate(&r, in_open, "1h");
	ck_assert_exit(r, 0);
	h_result_free(&r);
}
END_TEST

/* A lock held for longer than the role's period is a stuck rotation:
 * exit 9, never a healthy "skipped". Held for less, it is skipped. */
START_TEST(stuck_lock_has_its_own_exit_code)
{
	h_make_account(USER);
	const char *state = fresh_dir("stuck", 0700);
	char lock[1400], who[64];
	snprintf(lock, sizeof lock, "%s/%s.lock", state, USER);
	snprintf(who, sizeof who, "4242 %lld\n", (long long)time(NULL) - 2 * 3600);
	write_file(lock, who, 0600, 0);
	int fd = open(lock, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	h_result r;
	rotate(&r, state, "1h");
	ck_assert_exit(r, 9);
	ck_assert(h_contains(r.err, "stuck"));
	ck_assert(h_contains(r.err, "pid 4242"));
	h_result_free(&r);
	/* The same holder, younger than the period: skipped, exit 0. */
	snprintf(who, sizeof who, "4242 %lld\n", (long long)time(NULL) - 60);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(pwrite(fd, who, strlen(who), 0), (ssize_t)strlen(who));
	rotate(&r, state, "1h");
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "skipped"));
	h_result_free(&r);
	close(fd);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

/* ---- output targets ---- */

START_TEST(store_target_checked_before_minting)
{
	h_make_account(USER);
	int sent = h_request_count();
	const char *dir = fresh_dir("outdir", 0700);
	char uri[1400];
	snprintf(uri, sizeof uri, "file://%s", dir);
	h_result r;
	h_run(&r, 0, NULL, NULL, "push", USER, "--store", uri, NULL);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "is a directory"));
	h_result_free(&r);
	h_run(&r, 0, NULL, NULL, "push", USER, "--store", "file:///dev/null?format=env", NULL);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "not a regular file"));
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), sent);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

Suite *suite_planted(void)
{
	Suite *s = h_suite("planted");
	TCase *tc = h_tcase("planted");
	tcase_add_test(tc, planted_cache_file_is_a_miss);
	tcase_add_test(tc, get_lock_wait_is_bounded);
	tcase_add_test(tc, lock_file_not_ours_is_refused);
	tcase_add_test(tc, state_dir_others_control_is_refused);
	tcase_add_test(tc, stuck_lock_has_its_own_exit_code);
	tcase_add_test(tc, store_target_checked_before_minting);
	suite_add_tcase(s, tc);
	return s;
}
