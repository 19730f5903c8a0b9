/* test_cache.c - unit tests for lib/cache.[ch]: the freshness decision, the
 * expire_at parser, the kernel keyring (SKIPPED where there is none) and the
 * file cache. */
#define _GNU_SOURCE
#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deliver/cache.h"
#include "base/time.h"
#include "motherduck/format.h"

/* ---- freshness and time ---- */

START_TEST(fresh_decisions)
{
	time_t now = 1700000000;
	ck_assert(md_cache_fresh(MD_EXP_AT, now + 3600, now, 300));
	ck_assert(md_cache_fresh(MD_EXP_AT, now + 300, now, 300)); /* exactly enough */
	ck_assert(!md_cache_fresh(MD_EXP_AT, now + 299, now, 300));
	ck_assert(!md_cache_fresh(MD_EXP_AT, now - 10, now, 0)); /* expired */
	ck_assert(md_cache_fresh(MD_EXP_AT, now, now, 0));
	ck_assert(!md_cache_fresh(MD_EXP_AT, now + 3600, now, 7200)); /* --min-remaining 2h */
	ck_assert(md_cache_fresh(MD_EXP_NEVER, 0, now, 31536000));   /* --ttl none */
	ck_assert(!md_cache_fresh(MD_EXP_UNKNOWN, now + 99999, now, 0));
}
END_TEST

START_TEST(parse_times)
{
	time_t t;
	ck_assert_int_eq(md_time_parse("1970-01-01T00:00:00Z", &t), 0);
	ck_assert_int_eq((long long)t, 0);
	ck_assert_int_eq(md_time_parse("2023-11-14T22:13:20Z", &t), 0);
	ck_assert_int_eq((long long)t, 1700000000LL);
	ck_assert_int_eq(md_time_parse("2023-11-14T22:13:20.123456Z", &t), 0);
	ck_assert_int_eq((long long)t, 1700000000LL);
	ck_assert_int_eq(md_time_parse("2023-11-14T23:13:20+01:00", &t), 0);
	ck_assert_int_eq((long long)t, 1700000000LL);
	ck_assert_int_eq(md_time_parse("2023-11-14T21:13:20-0100", &t), 0);
	ck_assert_int_eq((long long)t, 1700000000LL);
	ck_assert_int_eq(md_time_parse("2023-11-14T22:13:20", &t), 0);
	ck_assert_int_eq(md_time_parse("", &t), -1);
	ck_assert_int_eq(md_time_parse("never", &t), -1);
	ck_assert_int_eq(md_time_parse("2023-13-14T22:13:20Z", &t), -1);
	ck_assert_int_eq(md_time_parse("2023-11-14T22:13:20Zjunk", &t), -1);
	ck_assert_int_eq(md_time_parse(NULL, &t), -1);
}
END_TEST

/* ---- documents ---- */

static void make_token(md_token *t, const char *value, const char *expire_at)
{
	memset(t, 0, sizeof *t);
	t->secret = md_secret_new(256);
	ck_assert_int_eq(md_secret_set(t->secret, value, strlen(value)), 0);
	snprintf(t->meta.id, sizeof t->meta.id, "tok-1");
	snprintf(t->meta.name, sizeof t->meta.name, "mdcred-test");
	snprintf(t->meta.token_type, sizeof t->meta.token_type, "read_write");
	snprintf(t->meta.expire_at, sizeof t->meta.expire_at, "%s", expire_at);
}

static void ts_in(long long secs, char *out, size_t sz)
{
	time_t t = time(NULL) + secs;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

START_TEST(decode_kinds)
{
	md_token t;
	md_cache_entry e;
	_cleanup_secret_ md_secret *doc = md_secret_new(1024);
	make_token(&t, "aaa.bbb.ccc", "2023-11-14T22:13:20Z");
	ck_assert_int_eq(md_fmt_token(doc, MD_FMT_JSON, &t, "svc_user", NULL), 0);
	ck_assert_int_eq(md_cache_decode(doc, "svc_user", "read_write", &e, NULL), MD_OK);
	ck_assert_ptr_nonnull(e.tok.secret);
	ck_assert_str_eq(md_secret_str(e.tok.secret), "aaa.bbb.ccc");
	ck_assert_int_eq(e.exp_kind, MD_EXP_AT);
	ck_assert_int_eq((long long)e.expire_at, 1700000000LL);
	ck_assert_str_eq(e.tok.meta.id, "tok-1");
	md_cache_entry_clear(&e);

	/* Another account's or type's token is a miss. */
	ck_assert_int_eq(md_cache_decode(doc, "other_user", "read_write", &e, NULL), MD_OK);
	ck_assert_ptr_null(e.tok.secret);
	ck_assert_int_eq(md_cache_decode(doc, "svc_user", "read_scaling", &e, NULL), MD_OK);
	ck_assert_ptr_null(e.tok.secret);

	/* expire_at null: never expires. */
	md_secret_truncate(doc, 0);
	t.meta.expire_at[0] = '\0';
	ck_assert_int_eq(md_fmt_token(doc, MD_FMT_JSON, &t, "svc_user", NULL), 0);
	ck_assert_int_eq(md_cache_decode(doc, "svc_user", "read_write", &e, NULL), MD_OK);
	ck_assert_int_eq(e.exp_kind, MD_EXP_NEVER);
	md_cache_entry_clear(&e);

	/* expire_at absent or garbage: unknown, i.e. stale. */
	const char *docs[] = {
		"{\"token\":\"aaa.bbb.ccc\",\"username\":\"svc_user\",\"token_type\":\"read_write\"}",
		"{\"token\":\"aaa.bbb.ccc\",\"username\":\"svc_user\",\"token_type\":\"read_write\","
		"\"expire_at\":\"soon\"}",
	};
	for (size_t i = 0; i < 2; i++) {
		md_secret_set(doc, docs[i], strlen(docs[i]));
		ck_assert_int_eq(md_cache_decode(doc, "svc_user", "read_write", &e, NULL), MD_OK);
		ck_assert_ptr_nonnull(e.tok.secret);
		ck_assert_int_eq(e.exp_kind, MD_EXP_UNKNOWN);
		ck_assert(!md_cache_fresh(e.exp_kind, e.expire_at, time(NULL), 0));
		md_cache_entry_clear(&e);
	}
	/* Not JSON at all: a miss. */
	md_secret_set(doc, "aaa.bbb.ccc\n", 12);
	ck_assert_int_eq(md_cache_decode(doc, "svc_user", "read_write", &e, NULL), MD_OK);
	ck_assert_ptr_null(e.tok.secret);
	md_token_clear(&t);
}
END_TEST

START_TEST(init_validation)
{
	md_cache c;
	md_error err = {0};
	ck_assert_int_eq(md_cache_init(&c, NULL, "http://127.0.0.1:9/", "svc", "read_write", &err),
			 MD_OK);
	ck_assert_int_eq(c.kind, MD_CACHE_KEYRING);
	ck_assert_str_eq(c.desc, "mdcred:127.0.0.1:9:svc:read_write");
	ck_assert_int_eq(md_cache_init(&c, "none", "https://api.motherduck.com", "svc", "read_write",
				       &err), MD_OK);
	ck_assert_int_eq(c.kind, MD_CACHE_NONE);
	ck_assert_int_eq(md_cache_init(&c, "file:///tmp/x.json", "https://h", "svc", "read_write",
				       &err), MD_OK);
	ck_assert_int_eq(c.kind, MD_CACHE_FILE);
	ck_assert_str_eq(c.path, "/tmp/x.json");
	const char *bad[] = {"file://relative", "file:///tmp/x?y", "redis://x", "file:///tmp/",
			     "file:///no/such/dir/x.json", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_int_eq(md_cache_init(&c, bad[i], "https://h", "svc", "read_write", &err),
				 MD_EUSAGE);
	char d[256];
	ck_assert_int_eq(md_keyring_desc(d, sizeof d, "https://user:pw@API.example.com:8443/v1",
					 "svc", "read_scaling"), 0);
	ck_assert_str_eq(d, "mdcred:api.example.com:8443:svc:read_scaling");
}
END_TEST

/* ---- file cache ---- */

START_TEST(file_cache_round_trip)
{
	char dir[] = "/tmp/mdcred-cache-XXXXXX", uri[256], path[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/cache.json", dir);
	snprintf(uri, sizeof uri, "file://%s", path);
	md_cache c;
	md_error err = {0};
	ck_assert_int_eq(md_cache_init(&c, uri, "http://127.0.0.1:9", "svc_user", "read_write", &err),
			 MD_OK);
	md_cache_entry e;
	md_cache_load(&c, &e); /* nothing yet */
	ck_assert_ptr_null(e.tok.secret);

	char exp[40];
	ts_in(3600, exp, sizeof exp);
	md_token t;
	make_token(&t, "fff.ggg.hhh", exp);
	md_cache_store(&c, &t, time(NULL));
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	md_cache_load(&c, &e);
	ck_assert_ptr_nonnull(e.tok.secret);
	ck_assert(md_secret_eq(e.tok.secret, t.secret));
	ck_assert_int_eq(e.exp_kind, MD_EXP_AT);
	ck_assert(md_cache_fresh(e.exp_kind, e.expire_at, time(NULL), 300));
	ck_assert(!md_cache_fresh(e.exp_kind, e.expire_at, time(NULL), 7200));
	md_cache_entry_clear(&e);

	int fd = md_cache_lock(&c, 0, &err);
	ck_assert_int_ge(fd, 0);
	md_cache_unlock(fd);
	md_token_clear(&t);
	unlink(path);
	snprintf(path, sizeof path, "%s/cache.json.lock", dir);
	unlink(path);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- keyring ---- */

static char kdesc[128];

/* False, with a SKIPPED line (tests/run_all.sh counts it as skipped, not
 * passed), where there is no kernel keyring (a container's seccomp). */
static bool keyring_or_skip(const char *test)
{
	if (md_keyring_available())
		return true;
	printf("SKIPPED: cache: %s: no kernel keyring here\n", test);
	fflush(stdout);
	return false;
}

/* Waits (at most 30 s) until the key is gone: MD_KEYRING_MISS, or what
 * md_keyring_get said last. */
static int keyring_wait_gone(const char *desc, md_secret *back)
{
	int e, rc = MD_OK;
	for (int i = 0; i < 3000 && (rc = md_keyring_get(desc, back, &e, NULL)) != MD_KEYRING_MISS;
	     i++) {
		struct timespec pause = {0, 10 * 1000000L};
		nanosleep(&pause, NULL);
	}
	return rc;
}

START_TEST(keyring_put_get)
{
	if (!keyring_or_skip("keyring_put_get"))
		return;
	snprintf(kdesc, sizeof kdesc, "mdcred:unit-test-%ld:svc_user:read_write", (long)getpid());
	_cleanup_secret_ md_secret *p = md_secret_new(64);
	_cleanup_secret_ md_secret *back = md_secret_new(64);
	md_secret_set(p, "{\"token\":\"kkk.lll.mmm\"}", 23);
	int e;
	md_error err = {0};
	ck_assert_int_eq(md_keyring_get(kdesc, back, &e, &err), MD_KEYRING_MISS);
	ck_assert_int_eq(md_keyring_put(kdesc, p, 3600, &e, &err), MD_OK);
	ck_assert_int_eq(md_keyring_get(kdesc, back, &e, &err), MD_OK);
	ck_assert(md_secret_eq(p, back));
	/* Replacing keeps one key with the new payload. */
	md_secret_set(p, "{\"token\":\"nnn.ooo.ppp.longer\"}", 30);
	ck_assert_int_eq(md_keyring_put(kdesc, p, 3600, &e, &err), MD_OK);
	ck_assert_int_eq(md_keyring_get(kdesc, back, &e, &err), MD_OK);
	ck_assert(md_secret_eq(p, back));
	ck_assert_int_eq(md_keyring_purge(kdesc), 1);
	ck_assert_int_eq(md_keyring_get(kdesc, back, &e, &err), MD_KEYRING_MISS);
}
END_TEST

START_TEST(keyring_timeout_expires)
{
	if (!keyring_or_skip("keyring_timeout_expires"))
		return;
	snprintf(kdesc, sizeof kdesc, "mdcred:unit-test-%ld:svc_user:read_scaling", (long)getpid());
	_cleanup_secret_ md_secret *p = md_secret_new(64);
	_cleanup_secret_ md_secret *back = md_secret_new(64);
	md_secret_set(p, "payload-bytes", 13);
	int e;
	md_error err = {0};
	ck_assert_int_eq(md_keyring_put(kdesc, p, 1, &e, &err), MD_OK);
	ck_assert_int_eq(md_keyring_get(kdesc, back, &e, &err), MD_OK);
	/* The kernel drops it once its 1 s timeout has passed. */
	ck_assert_int_eq(keyring_wait_gone(kdesc, back), MD_KEYRING_MISS);
	md_keyring_purge(kdesc);
}
END_TEST

START_TEST(keyring_cache_round_trip)
{
	if (!keyring_or_skip("keyring_cache_round_trip"))
		return;
	char url[64];
	snprintf(url, sizeof url, "http://unit-test-%ld.invalid", (long)getpid());
	md_cache c;
	md_error err = {0};
	setenv("XDG_RUNTIME_DIR", "/tmp", 1);
	ck_assert_int_eq(md_cache_init(&c, "keyring", url, "svc_user", "read_write", &err), MD_OK);
	char exp[40];
	ts_in(3600, exp, sizeof exp);
	md_token t;
	make_token(&t, "qqq.rrr.sss", exp);
	md_cache_store(&c, &t, time(NULL));
	md_cache_entry e;
	md_cache_load(&c, &e);
	ck_assert_ptr_nonnull(e.tok.secret);
	ck_assert(md_secret_eq(e.tok.secret, t.secret));
	ck_assert_int_eq(e.exp_kind, MD_EXP_AT);
	md_cache_entry_clear(&e);
	/* The key's timeout is set: /proc/keys shows a time left, not "perm". */
	FILE *f = fopen("/proc/keys", "r");
	if (f) {
		char line[1024];
		bool seen = false;
		while (fgets(line, sizeof line, f)) {
			if (!strstr(line, c.desc))
				continue;
			seen = true;
			char serial[32], flags[32], usage[32], timeout[32];
			ck_assert_int_eq(sscanf(line, "%31s %31s %31s %31s", serial, flags, usage,
						timeout), 4);
			ck_assert_msg(strcmp(timeout, "perm") != 0, "key has a timeout: %s", line);
		}
		fclose(f);
		ck_assert(seen);
	}
	char prefix[128];
	snprintf(prefix, sizeof prefix, "mdcred:unit-test-%ld.invalid:", (long)getpid());
	ck_assert_int_eq(md_keyring_purge(prefix), 1);
	md_cache_load(&c, &e);
	ck_assert_ptr_null(e.tok.secret);
	md_token_clear(&t);
}
END_TEST

static Suite *cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("decide");
	tcase_add_test(tc, fresh_decisions);
	tcase_add_test(tc, parse_times);
	tcase_add_test(tc, decode_kinds);
	tcase_add_test(tc, init_validation);
	suite_add_tcase(s, tc);
	tc = tcase_create("file");
	tcase_add_test(tc, file_cache_round_trip);
	suite_add_tcase(s, tc);
	tc = tcase_create("keyring");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, keyring_put_get);
	tcase_add_test(tc, keyring_timeout_expires);
	tcase_add_test(tc, keyring_cache_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cache_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
