/* test_token.c - `mdcred token create|list|revoke` against the emulator. */
#include "harness.h"

#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define USER "svc_token_test"

static void setup_account(void)
{
	h_make_account(USER);
}

/* The minted token from a default-format run's stdout. */
static void assert_token_line(const h_result *r)
{
	const char *s = md_secret_str(r->out);
	size_t n = md_secret_len(r->out);
	ck_assert_msg(n > 1 && s[n - 1] == '\n', "stdout is one line");
	ck_assert_msg(memchr(s, '\n', n - 1) == NULL, "stdout is one line");
	ck_assert_msg(h_is_issued_token(s, n - 1), "stdout holds a token the emulator issued");
	int dots = 0;
	for (size_t i = 0; i < n - 1; i++)
		dots += s[i] == '.';
	ck_assert_msg(dots == 2, "token is JWT-shaped");
}

START_TEST(create_default_prints_only_token)
{
	setup_account();
	h_result r;
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "token", "create", USER, NULL);
	ck_assert_exit(r, 0);
	assert_token_line(&r);
	ck_assert(h_contains(r.err, "minted read_write token"));
	ck_assert_int_eq(h_live_tokens(USER), 1);
	h_result_free(&r);

	h_run(&r, 0, NULL, NULL, "token", "list", USER, "--json", NULL);
	ck_assert_exit(r, 0);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(r.out), md_secret_len(r.out), NULL), 0);
	int t0 = md_json_at(&d, md_json_get(&d, 0, "tokens"), 0);
	char name[256], exp[64];
	ck_assert_int_ge(md_json_str(&d, md_json_get(&d, t0, "name"), name, sizeof name), 0);
	ck_assert_int_gt(md_json_str(&d, md_json_get(&d, t0, "expire_at"), exp, sizeof exp), 0);
	regex_t re;
	regcomp(&re, "^mdcred-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$", REG_EXTENDED | REG_NOSUB);
	ck_assert_msg(regexec(&re, name, 0, NULL, 0) == 0, "default name '%s'", name);
	regfree(&re);
	md_json_free(&d);
	h_result_free(&r);
}
END_TEST

START_TEST(create_formats)
{
	setup_account();
	h_result r;
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "token", "create", USER, "--format", "env", NULL);
	ck_assert_exit(r, 0);
	ck_assert(strncmp(md_secret_str(r.out), "export MOTHERDUCK_TOKEN='", 25) == 0);
	ck_assert(h_contains(r.out, "'\n"));
	h_result_free(&r);

	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "token", "create", USER, "--format", "dotenv", NULL);
	ck_assert_exit(r, 0);
	ck_assert(strncmp(md_secret_str(r.out), "MOTHERDUCK_TOKEN=", 17) == 0);
	const char *v = md_secret_str(r.out) + 17;
	ck_assert(h_is_issued_token(v, strcspn(v, "\n")));
	h_result_free(&r);

	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "token", "create", USER, "--format", "json", "--type",
	      "read_scaling", "--name", "json-token", "--ttl", "12h", NULL);
	ck_assert_exit(r, 0);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(r.out), md_secret_len(r.out), NULL), 0);
	_cleanup_secret_ md_secret *tok = md_secret_new(256);
	char buf[256];
	ck_assert_int_eq(md_json_str_secret(&d, md_json_get(&d, 0, "token"), tok), 0);
	ck_assert(h_is_issued_token(md_secret_str(tok), md_secret_len(tok)));
	ck_assert_int_gt(md_json_str(&d, md_json_get(&d, 0, "id"), buf, sizeof buf), 0);
	md_json_str(&d, md_json_get(&d, 0, "name"), buf, sizeof buf);
	ck_assert_str_eq(buf, "json-token");
	md_json_str(&d, md_json_get(&d, 0, "username"), buf, sizeof buf);
	ck_assert_str_eq(buf, USER);
	md_json_str(&d, md_json_get(&d, 0, "token_type"), buf, sizeof buf);
	ck_assert_str_eq(buf, "read_scaling");
	ck_assert_int_gt(md_json_str(&d, md_json_get(&d, 0, "expire_at"), buf, sizeof buf), 0);
	md_json_free(&d);
	h_result_free(&r);
}
END_TEST

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.' || (e->d_name[1] && e->d_name[1] != '.' && e->d_name[1]);
	if (d)
		closedir(d);
	return n;
}

START_TEST(create_output_file_atomic_0600)
{
	setup_account();
	const char *dir = h_path(true, "outdir");
	mkdir(dir, 0700);
	char path[1300];
	snprintf(path, sizeof path, "%s/md.json", dir);
	h_result r;
	h_run(&r, 0, NULL, NULL, "token", "create", USER, "--format", "json", "--output", path, NULL);
	ck_assert_exit(r, 0);
	ck_assert_uint_eq(md_secret_len(r.out), 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(count_entries(dir), 1); /* no temp file left behind */
	h_result_free(&r);

	/* Replacing keeps 0600 even with a permissive umask. */
	chmod(path, 0644);
	h_run(&r, 0, NULL, NULL, "token", "create", USER,
	      "--output", path, NULL);
	ck_assert_exit(r, 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(count_entries(dir), 1);
	h_result_free(&r);
}
END_TEST

/* An --output that cannot take the token is found before one is minted
 * (exit 2: nothing was sent): a missing directory, a directory, a device. */
START_TEST(create_output_checked_before_minting)
{
	setup_account();
	int sent = h_request_count();
	const char *dir = h_path(true, "out-dir");
	mkdir(dir, 0700);
	const char *const bad[][2] = {
		{h_path(true, "no/such/dir/tok"), "does not exist"},
		{dir, "is a directory"},
		{"/dev/null", "not a regular file"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		h_result r;
		h_run(&r, 0, NULL, NULL, "token", "create", USER, "--output", bad[i][0], NULL);
		ck_assert_exit(r, 2);
		ck_assert_msg(h_contains(r.err, bad[i][1]), "case %zu: %s", i, md_secret_str(r.err));
		h_result_free(&r);
	}
	ck_assert_int_eq(h_request_count(), sent);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

START_TEST(create_duplicate_name_conflict)
{
	setup_account();
	h_result r;
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "token", "create", USER, "--name", "same", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "token", "create", USER, "--name", "same", NULL);
	ck_assert_exit(r, 5);
	ck_assert(h_contains(r.err, "already has a live token named 'same'"));
	ck_assert_uint_eq(md_secret_len(r.out), 0);
	h_result_free(&r);
}
END_TEST

START_TEST(create_ttl_none_warns)
{
	setup_account();
	h_result r;
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "token", "create", USER, "--ttl", "none",
	      "--format", "json", NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.err, "never expires"));
	ck_assert(h_contains(r.out, "\"expire_at\":null"));
	h_result_free(&r);
}
END_TEST

START_TEST(list_and_revoke)
{
	setup_account();
	h_result r;
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "token", "create", USER, "--name", "to-revoke",
	      "--format", "json", NULL);
	ck_assert_exit(r, 0);
	md_json d;
	char id[80];
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(r.out), md_secret_len(r.out), NULL), 0);
	ck_assert_int_gt(md_json_str(&d, md_json_get(&d, 0, "id"), id, sizeof id), 0);
	md_json_free(&d);
	h_result_free(&r);

	h_run(&r, 0, NULL, NULL, "token", "list", USER, NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "to-revoke"));
	ck_assert(h_contains(r.out, id));
	h_result_free(&r);

	h_run(&r, 0, NULL, NULL, "token", "revoke", USER, id, NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.err, "revoked token"));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);

	h_run(&r, 0, NULL, NULL, "token", "revoke", USER, id, NULL);
	ck_assert_exit(r, 4);
	h_result_free(&r);
}
END_TEST

START_TEST(revoke_accepts_204)
{
	setup_account();
	ck_assert_int_eq(h_ctl("POST", "/_emulator/config", "{\"delete_status\":204}"), 200);
	h_result r;
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "token", "create", USER, "--format", "json", NULL);
	ck_assert_exit(r, 0);
	md_json d;
	char id[80];
	md_json_parse(&d, md_secret_str(r.out), md_secret_len(r.out), NULL);
	md_json_str(&d, md_json_get(&d, 0, "id"), id, sizeof id);
	md_json_free(&d);
	h_result_free(&r);
	h_run(&r, 0, NULL, NULL, "token", "revoke", USER, id, NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);
	h_ctl("POST", "/_emulator/config", "{\"delete_status\":200}");
}
END_TEST

START_TEST(expired_tokens_leave_the_list)
{
	setup_account();
	h_result r;
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "token", "create", USER, "--ttl", "5m", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	ck_assert_int_eq(h_ctl("POST", "/_emulator/clock", "{\"advance_seconds\":301}"), 200);
	h_run(&r, 0, NULL, NULL, "token", "list", USER, "--json", NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "\"tokens\":[]"));
	h_result_free(&r);
}
END_TEST

START_TEST(unknown_user_not_found)
{
	h_result r;
	h_run(&r, 0, NULL, NULL, "token", "create", "no_such_user", NULL);
	ck_assert_exit(r, 4);
	ck_assert(h_contains(r.err, "no service account 'no_such_user'"));
	h_result_free(&r);
	h_run(&r, 0, NULL, NULL, "token", "list", "no_such_user", NULL);
	ck_assert_exit(r, 4);
	h_result_free(&r);
}
END_TEST

/* Verbose output names requests, never secrets (the leak scan reads it). */
START_TEST(verbose_shows_requests_not_secrets)
{
	setup_account();
	h_result r;
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "-v", "token", "create", USER, NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.err, "POST /v1/users/" USER "/tokens -> 200"));
	ck_assert(!h_contains(r.err, "Authorization"));
	ck_assert(!h_contains(r.err, "Bearer"));
	h_result_free(&r);
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "-v", "--log-format", "json", "token", "create", USER,
	      "--format", "json", NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.err, "\"level\":\"debug\""));
	h_result_free(&r);
}
END_TEST

Suite *suite_token(void)
{
	Suite *s = h_suite("token");
	TCase *tc = h_tcase("token");
	tcase_add_test(tc, create_default_prints_only_token);
	tcase_add_test(tc, create_formats);
	tcase_add_test(tc, create_output_file_atomic_0600);
	tcase_add_test(tc, create_output_checked_before_minting);
	tcase_add_test(tc, create_duplicate_name_conflict);
	tcase_add_test(tc, create_ttl_none_warns);
	tcase_add_test(tc, list_and_revoke);
	tcase_add_test(tc, revoke_accepts_204);
	tcase_add_test(tc, expired_tokens_leave_the_list);
	tcase_add_test(tc, unknown_user_not_found);
	tcase_add_test(tc, verbose_shows_requests_not_secrets);
	suite_add_tcase(s, tc);
	return s;
}
