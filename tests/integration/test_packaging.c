/* test_packaging.c - the systemd unit's wrapper (packaging/systemd/
 * mdcred-rotate-unit) as the unit runs it: variables from the role's env
 * file, STATE_DIRECTORY from StateDirectory=, against the emulator. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRAPPER "packaging/systemd/mdcred-rotate-unit"
#define USER_A "svc_pkg_a"
#define USER_B "svc_pkg_b"

static char env_bin[1400], env_api[1400], env_admin[1400], env_state[1400], env_stores[3000], env_config[1400];

static void pkg_setup(const char *name)
{
	const char *bin = getenv("MDCRED_BIN");
	snprintf(env_bin, sizeof env_bin, "MDCRED=%s", bin ? bin : "build/mdcred");
	snprintf(env_api, sizeof env_api, "MOTHERDUCK_API_BASE_URL=%s", h_base_url());
	snprintf(env_admin, sizeof env_admin, "MOTHERDUCK_ADMIN_TOKEN_FILE=%s", h_admin_token_file());
	snprintf(env_state, sizeof env_state, "STATE_DIRECTORY=%s", h_path(false, name));
	h_make_account(USER_A);
	h_make_account(USER_B);
}

static void wrapper(h_result *r, const char *const *env)
{
	h_run_prog(r, H_NO_AUTH, "/bin/sh", NULL, env, WRAPPER, "pkgrole", NULL);
}

START_TEST(one_role_from_env_file_variables)
{
	pkg_setup("pkg-state-1");
	char a[1300], b[1300];
	snprintf(a, sizeof a, "%s", h_path(true, "pkg-a.json"));
	snprintf(b, sizeof b, "%s", h_path(true, "pkg-b.env"));
	snprintf(env_stores, sizeof env_stores, "MDCRED_STORES=file://%s file://%s?format=env", a, b);
	const char *env[] = {env_bin, env_api, env_admin, env_state, env_stores, "MDCRED_USERNAME=" USER_A,
			     "MDCRED_TTL=1h", "MDCRED_KEEP=1", NULL};
	h_result r;
	wrapper(&r, env);
	ck_assert_exit(r, 0);
	ck_assert_msg(strncmp(md_secret_str(r.out), "rotated pkgrole ", 16) == 0, "%s",
		      md_secret_str(r.out));
	h_result_free(&r);
	ck_assert(access(a, F_OK) == 0 && access(b, F_OK) == 0);
	wrapper(&r, env);
	ck_assert_exit(r, 0);
	ck_assert(strncmp(md_secret_str(r.out), "fresh pkgrole ", 14) == 0);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER_A), 1);
}
END_TEST

START_TEST(every_role_of_a_config)
{
	pkg_setup("pkg-state-2");
	char text[4000], cfg[1300];
	snprintf(cfg, sizeof cfg, "%s", h_path(false, "pkg-roles.conf"));
	snprintf(text, sizeof text, "ttl = 1h\n[pa]\nusername = %s\nstore = file://%s\n"
		 "[pb]\nusername = %s\nstore = file://%s\n", USER_A, h_path(true, "pkg-pa.json"),
		 USER_B, h_path(true, "pkg-pb.json"));
	FILE *f = fopen(cfg, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	snprintf(env_config, sizeof env_config, "MDCRED_CONFIG=%s", cfg);
	const char *env[] = {env_bin, env_api, env_admin, env_state, env_config, "MDCRED_PARALLEL=2", NULL};
	h_result r;
	wrapper(&r, env);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "rotated pa ") && h_contains(r.out, "rotated pb "));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER_A), 1);
	ck_assert_int_eq(h_live_tokens(USER_B), 1);
}
END_TEST

START_TEST(unclear_settings_refused)
{
	pkg_setup("pkg-state-3");
	const char *both[] = {env_bin, env_api, env_admin, env_state, "MDCRED_CONFIG=/nonexistent",
			      "MDCRED_USERNAME=" USER_A, NULL};
	const char *neither[] = {env_bin, env_api, env_admin, env_state, NULL};
	const char *no_store[] = {env_bin, env_api, env_admin, env_state, "MDCRED_USERNAME=" USER_A, NULL};
	int before = h_request_count();
	h_result r;
	wrapper(&r, both);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "not both"));
	h_result_free(&r);
	wrapper(&r, neither);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "MDCRED_USERNAME is not set (/etc/mdcred/pkgrole.env)"));
	h_result_free(&r);
	wrapper(&r, no_store);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "MDCRED_STORES is not set"));
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), before);
}
END_TEST

Suite *suite_packaging(void)
{
	Suite *s = h_suite("packaging");
	TCase *tc = h_tcase("wrapper");
	tcase_add_test(tc, one_role_from_env_file_variables);
	tcase_add_test(tc, every_role_of_a_config);
	tcase_add_test(tc, unclear_settings_refused);
	suite_add_tcase(s, tc);
	return s;
}
