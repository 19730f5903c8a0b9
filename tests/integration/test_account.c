/* test_account.c - `mdcred account ...`, admin-token sources and auth errors. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

START_TEST(create_and_delete)
{
	h_result r;
	h_run(&r, 0, NULL, NULL, "account", "create", "svc_acct_one", NULL);
	ck_assert_exit(r, 0);
	ck_assert_str_eq(md_secret_str(r.out), "svc_acct_one\n");
	ck_assert(h_contains(r.err, "created service account 'svc_acct_one'"));
	h_result_free(&r);

	h_run(&r, 0, NULL, NULL, "account", "create", "svc_acct_one", NULL);
	ck_assert_exit(r, 5);
	ck_assert(h_contains(r.err, "already exists"));
	h_result_free(&r);

	h_run(&r, 0, NULL, NULL, "account", "delete", "svc_acct_one", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);

	h_run(&r, 0, NULL, NULL, "account", "delete", "svc_acct_one", NULL);
	ck_assert_exit(r, 4);
	ck_assert(h_contains(r.err, "no service account 'svc_acct_one'"));
	h_result_free(&r);
}
END_TEST

START_TEST(active_accounts_preview)
{
	h_make_account("svc_active");
	h_result r;
	h_run(&r, H_SECRET_STDOUT, NULL, NULL, "token", "create", "svc_active", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	h_run(&r, 0, NULL, NULL, "account", "active", NULL);
	ck_assert_exit(r, 0);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(r.out), md_secret_len(r.out), NULL), 0);
	ck_assert_int_eq(md_json_type_of(&d, md_json_get(&d, 0, "accounts")), MD_JSON_ARRAY);
	md_json_free(&d);
	h_result_free(&r);
}
END_TEST

/* The admin token, read into this test's memory for the env/stdin forms. */
static md_secret *admin_token(void)
{
	md_secret *t = NULL;
	ck_assert_int_eq(md_secret_read_file(h_admin_token_file(), 16384, &t, NULL), 0);
	return t;
}

START_TEST(admin_token_from_env)
{
	_cleanup_secret_ md_secret *t = admin_token();
	_cleanup_secret_ md_secret *kv = md_secret_new(512);
	md_secret_appendf(kv, "MOTHERDUCK_ADMIN_TOKEN=%s", md_secret_str(t));
	const char *env[] = {md_secret_str(kv), NULL};
	h_result r;
	h_run(&r, H_NO_AUTH, NULL, env, "account", "create", "svc_from_env", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
}
END_TEST

START_TEST(admin_token_from_stdin)
{
	_cleanup_secret_ md_secret *t = admin_token();
	_cleanup_secret_ md_secret *in = md_secret_new(512);
	md_secret_appendf(in, "%s\n", md_secret_str(t));
	h_result r;
	h_run(&r, H_NO_AUTH, md_secret_str(in), NULL, "--admin-token-file", "-", "account", "create",
	      "svc_from_stdin", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
}
END_TEST

START_TEST(no_admin_token_is_usage_error)
{
	h_result r;
	h_run(&r, H_NO_AUTH, NULL, NULL, "account", "create", "svc_noauth", NULL);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "no admin token"));
	ck_assert_int_eq(h_request_count(), 0);
	h_result_free(&r);
}
END_TEST

START_TEST(member_token_forbidden)
{
	const char *env[] = {NULL, NULL};
	char kv[1300];
	snprintf(kv, sizeof kv, "MOTHERDUCK_ADMIN_TOKEN_FILE=%s", h_member_token_file());
	env[0] = kv;
	h_result r;
	h_run(&r, H_NO_AUTH, NULL, env, "account", "create", "svc_by_member", NULL);
	ck_assert_exit(r, 3);
	ck_assert(h_contains(r.err, "HTTP 403"));
	ck_assert(h_contains(r.err, "org_admin"));
	h_result_free(&r);
}
END_TEST

START_TEST(bogus_token_unauthorized)
{
	const char *f = h_path(false, "bogus.token");
	_cleanup_secret_ md_secret *b = md_secret_new(64);
	md_secret_append(b, "not-a-real-admin-token\n", 23);
	ck_assert_int_eq(md_file_write_atomic(f, b, 0600, NULL), 0);
	char kv[1300];
	snprintf(kv, sizeof kv, "MOTHERDUCK_ADMIN_TOKEN_FILE=%s", f);
	const char *env[] = {kv, NULL};
	h_result r;
	h_run(&r, H_NO_AUTH, NULL, env, "token", "list", "svc_whatever", NULL);
	ck_assert_exit(r, 3);
	ck_assert(h_contains(r.err, "HTTP 401"));
	ck_assert(!h_contains(r.err, "not-a-real-admin-token"));
	h_result_free(&r);
}
END_TEST

START_TEST(service_account_token_forbidden)
{
	h_make_account("svc_minted_auth");
	const char *f = h_path(true, "svc.token");
	h_result r;
	h_run(&r, 0, NULL, NULL, "token", "create", "svc_minted_auth", "--output", f, NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	char kv[1300];
	snprintf(kv, sizeof kv, "MOTHERDUCK_ADMIN_TOKEN_FILE=%s", f);
	const char *env[] = {kv, NULL};
	h_run(&r, H_NO_AUTH, NULL, env, "token", "list", "svc_minted_auth", NULL);
	ck_assert_exit(r, 3);
	h_result_free(&r);
}
END_TEST

Suite *suite_account(void)
{
	Suite *s = h_suite("account");
	TCase *tc = h_tcase("account");
	tcase_add_test(tc, create_and_delete);
	tcase_add_test(tc, active_accounts_preview);
	tcase_add_test(tc, admin_token_from_env);
	tcase_add_test(tc, admin_token_from_stdin);
	tcase_add_test(tc, no_admin_token_is_usage_error);
	tcase_add_test(tc, member_token_forbidden);
	tcase_add_test(tc, bogus_token_unauthorized);
	tcase_add_test(tc, service_account_token_forbidden);
	suite_add_tcase(s, tc);
	return s;
}
