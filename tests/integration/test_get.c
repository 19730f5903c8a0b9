/* test_get.c - `mdcred get` against the emulator: the keyring, file and no
 * cache, freshness, concurrent callers, formats. Keyring keys are named by
 * the emulator's host:port, so real keys are never touched; every key the
 * suite makes is purged before and after each test. Without a kernel
 * keyring (a container's seccomp), what needs one says SKIPPED. */
#define _GNU_SOURCE
#include "harness.h"
#include "deliver/cache.h"
#include "base/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define USER "svc_get_test"

static char xdg_env[1300];
static const char *genv[2];

static const char *key_prefix(void)
{
	static char p[300];
	const char *h = strstr(h_base_url(), "://");
	h = h ? h + 3 : h_base_url();
	snprintf(p, sizeof p, "mdcred:%.*s:", (int)strcspn(h, "/"), h);
	return p;
}

static void purge_keys(void)
{
	md_keyring_purge(key_prefix());
}

static void setup(void)
{
	purge_keys();
	const char *d = h_path(false, "xdg-runtime");
	mkdir(d, 0700);
	snprintf(xdg_env, sizeof xdg_env, "XDG_RUNTIME_DIR=%s", d);
	genv[0] = xdg_env;
	genv[1] = NULL;
	h_make_account(USER);
}

/* The token from a default-format run (stdout "TOKEN\n"), copied to tok. */
static void token_of(const h_result *r, md_secret *tok)
{
	const char *s = md_secret_str(r->out);
	size_t n = md_secret_len(r->out);
	ck_assert_msg(n > 1 && s[n - 1] == '\n', "stdout is one line");
	ck_assert(h_is_issued_token(s, n - 1));
	md_secret_set(tok, s, n - 1);
}

static void get(h_result *r, const char *a1, const char *a2, const char *a3, const char *a4)
{
	h_run(r, H_SECRET_STDOUT, NULL, genv, "get", USER, a1, a2, a3, a4, NULL);
}

START_TEST(keyring_caches_and_refreshes)
{
	setup();
	bool have = md_keyring_available();
	_cleanup_secret_ md_secret *t1 = md_secret_new(512);
	_cleanup_secret_ md_secret *t2 = md_secret_new(512);
	h_result r;
	get(&r, "--ttl", "1h", NULL, NULL);
	ck_assert_exit(r, 0);
	token_of(&r, t1);
	ck_assert_int_eq(h_live_tokens(USER), 1);
	if (!have) {
		ck_assert(h_contains(r.err, "kernel keyring not available"));
		h_result_free(&r);
		h_skip("get: keyring_caches_and_refreshes: no kernel keyring here (only its "
		       "warning was checked)");
		return;
	}
	h_result_free(&r);
	int before = h_request_count();
	get(&r, "--ttl", "1h", NULL, NULL);
	ck_assert_exit(r, 0);
	token_of(&r, t2);
	ck_assert(md_secret_eq(t1, t2));
	ck_assert_int_eq(h_request_count(), before); /* nothing sent */
	ck_assert_uint_eq(md_secret_len(r.err), 0);  /* a hit is quiet */
	h_result_free(&r);

	/* Needs more than the 1h left: mints anew. */
	get(&r, "--min-remaining", "2h", NULL, NULL);
	ck_assert_exit(r, 0);
	token_of(&r, t2);
	ck_assert(!md_secret_eq(t1, t2));
	ck_assert_int_eq(h_live_tokens(USER), 2);
	h_result_free(&r);
	/* and that one (1d) is now what the cache returns. */
	get(&r, "--min-remaining", "2h", NULL, NULL);
	ck_assert_exit(r, 0);
	token_of(&r, t1);
	ck_assert(md_secret_eq(t1, t2));
	ck_assert_int_eq(h_live_tokens(USER), 2);
	h_result_free(&r);

	/* Another token type is another key. */
	get(&r, "--type", "read_scaling", NULL, NULL);
	ck_assert_exit(r, 0);
	token_of(&r, t1);
	ck_assert(!md_secret_eq(t1, t2));
	ck_assert_int_eq(h_live_tokens(USER), 3);
	h_result_free(&r);
	purge_keys();
}
END_TEST

START_TEST(cache_none_always_mints)
{
	setup();
	h_result r;
	for (int i = 1; i <= 3; i++) {
		get(&r, "--cache", "none", NULL, NULL);
		ck_assert_exit(r, 0);
		ck_assert_int_eq(h_live_tokens(USER), i);
		h_result_free(&r);
	}
}
END_TEST

START_TEST(file_cache)
{
	setup();
	char path[1300], uri[1300];
	snprintf(path, sizeof path, "%s", h_path(true, "get-cache.json")); /* h_path rotates */
	snprintf(uri, sizeof uri, "file://%s", path);
	_cleanup_secret_ md_secret *t1 = md_secret_new(512);
	_cleanup_secret_ md_secret *t2 = md_secret_new(512);
	h_result r;
	get(&r, "--cache", uri, NULL, NULL);
	ck_assert_exit(r, 0);
	token_of(&r, t1);
	h_result_free(&r);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	_cleanup_secret_ md_secret *content = NULL;
	ck_assert_int_eq(md_file_read_secret(path, 65536, &content, NULL), 0);
	ck_assert(h_contains(content, "\"username\":\"" USER "\""));

	int before = h_request_count();
	get(&r, "--cache", uri, NULL, NULL);
	ck_assert_exit(r, 0);
	token_of(&r, t2);
	ck_assert(md_secret_eq(t1, t2));
	ck_assert_int_eq(h_request_count(), before);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 1);

	get(&r, "--cache", uri, "--min-remaining", "2d");
	ck_assert_exit(r, 2); /* longer than the 1d ttl: refused before anything is sent */
	h_result_free(&r);
	get(&r, "--cache", uri, "--min-remaining", "23h59m");
	ck_assert_exit(r, 2); /* not a duration */
	h_result_free(&r);
	/* A file holding no expiry counts as stale. */
	FILE *f = fopen(path, "w");
	fprintf(f, "{\"token\":\"x.y.z\",\"username\":\"%s\",\"token_type\":\"read_write\"}\n", USER);
	fclose(f);
	get(&r, "--cache", uri, NULL, NULL);
	ck_assert_exit(r, 0);
	token_of(&r, t2);
	ck_assert(!md_secret_eq(t1, t2));
	ck_assert_int_eq(h_live_tokens(USER), 2);
	h_result_free(&r);
}
END_TEST

START_TEST(concurrent_callers_mint_once)
{
	setup();
	bool have = md_keyring_available();
	char path[1300], uri[1300];
	snprintf(path, sizeof path, "%s", h_path(true, "get-conc.json"));
	snprintf(uri, sizeof uri, "file://%s", path);
	/* Both caches that lock: the keyring (when there is one) and a file. */
	if (!have)
		h_skip("get: concurrent_callers_mint_once: its keyring pass (no kernel keyring "
		       "here; the file pass ran)");
	for (int pass = have ? 0 : 1; pass < 2; pass++) {
		h_reset();
		h_make_account(USER);
		purge_keys();
		int before = h_request_count();
		pid_t kids[5];
		for (int i = 0; i < 5; i++) {
			kids[i] = fork();
			if (kids[i] == 0) {
				h_result r;
				h_run(&r, H_SECRET_STDOUT, NULL, genv, "get", USER, "--cache",
				      pass == 0 ? "keyring" : uri, NULL);
				bool ok = r.status == 0 &&
					  h_is_issued_token(md_secret_str(r.out),
							    md_secret_len(r.out) - 1);
				h_result_free(&r);
				_exit(ok ? 0 : 1);
			}
		}
		for (int i = 0; i < 5; i++) {
			int st = 0;
			waitpid(kids[i], &st, 0);
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "caller %d failed", i);
		}
		ck_assert_int_eq(h_live_tokens(USER), 1);
		ck_assert_int_eq(h_request_count() - before, 1); /* one POST */
	}
	purge_keys();
}
END_TEST

START_TEST(formats_and_validation)
{
	setup();
	h_result r;
	get(&r, "--format", "env", "--cache", "none");
	ck_assert_exit(r, 0);
	ck_assert(strncmp(md_secret_str(r.out), "export MOTHERDUCK_TOKEN='", 25) == 0);
	h_result_free(&r);
	get(&r, "--format", "dotenv", "--cache", "none");
	ck_assert_exit(r, 0);
	ck_assert(strncmp(md_secret_str(r.out), "MOTHERDUCK_TOKEN=", 17) == 0);
	h_result_free(&r);
	get(&r, "--format", "json", "--ttl", "none");
	ck_assert_exit(r, 0);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(r.out), md_secret_len(r.out), NULL), 0);
	char buf[256];
	md_json_str(&d, md_json_get(&d, 0, "username"), buf, sizeof buf);
	ck_assert_str_eq(buf, USER);
	ck_assert_int_eq(md_json_type_of(&d, md_json_get(&d, 0, "expire_at")), MD_JSON_NULL);
	md_json_free(&d);
	h_result_free(&r);
	if (!md_keyring_available())
		h_skip("get: formats_and_validation: a --ttl none hit from the keyring (no kernel "
		       "keyring here; the rest ran)");
	else {
		/* --ttl none never goes stale: any --min-remaining is met. */
		int before = h_request_count();
		get(&r, "--ttl", "none", "--min-remaining", "365d");
		ck_assert_exit(r, 0);
		ck_assert_int_eq(h_request_count(), before);
		h_result_free(&r);
	}
	int before = h_request_count();
	const char *bad[][2] = {{"--format", "yaml"}, {"--cache", "redis://x"},
				{"--min-remaining", "soon"}, {"--type", "admin"},
				{"--ttl", "10s"}, {"--cache", "file://relative"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		get(&r, bad[i][0], bad[i][1], NULL, NULL);
		ck_assert_exit(r, 2);
		h_result_free(&r);
	}
	h_run(&r, 0, NULL, genv, "get", "x", NULL);
	ck_assert_exit(r, 2);
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), before);
	h_run(&r, 0, NULL, genv, "help", "get", NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "--min-remaining"));
	h_result_free(&r);
	purge_keys();
}
END_TEST

Suite *suite_get(void)
{
	Suite *s = h_suite("get");
	TCase *tc = h_tcase("get");
	tcase_add_unchecked_fixture(tc, NULL, purge_keys);
	tcase_add_test(tc, keyring_caches_and_refreshes);
	tcase_add_test(tc, cache_none_always_mints);
	tcase_add_test(tc, file_cache);
	tcase_add_test(tc, concurrent_callers_mint_once);
	tcase_add_test(tc, formats_and_validation);
	suite_add_tcase(s, tc);
	return s;
}
