/* test_ducklings.c - `mdcred ducklings get|set` against the emulator. */
#include "harness.h"

#include <string.h>

#define USER "svc_ducks"

static void get_json(md_json *d, h_result *r)
{
	h_run(r, 0, NULL, NULL, "ducklings", "get", USER, "--json", NULL);
	ck_assert_exit(*r, 0);
	ck_assert_int_eq(md_json_parse(d, md_secret_str(r->out), md_secret_len(r->out), NULL), 0);
}

static void assert_block(md_json *d, const char *block, const char *size, long long flock,
			 long long cooldown)
{
	int b = md_json_get(d, 0, block);
	char s[32];
	long long v = -1;
	md_json_str(d, md_json_get(d, b, "instance_size"), s, sizeof s);
	ck_assert_str_eq(s, size);
	if (flock >= 0) {
		ck_assert_int_eq(md_json_int(d, md_json_get(d, b, "flock_size"), &v), 0);
		ck_assert_int_eq(v, flock);
	}
	v = -1;
	md_json_int(d, md_json_get(d, b, "cooldown_seconds"), &v);
	ck_assert_int_eq(v, cooldown);
}

START_TEST(seed_flow_set_and_get)
{
	h_make_account(USER);
	h_result r;
	h_run(&r, 0, NULL, NULL, "ducklings", "set", USER, "--rw-size", "standard", "--rs-size",
	      "pulse", "--flock-size", "4", NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "read_write:   instance_size=standard"));
	ck_assert(h_contains(r.out, "flock_size=4"));
	h_result_free(&r);

	md_json d;
	get_json(&d, &r);
	assert_block(&d, "read_write", "standard", -1, -1);
	assert_block(&d, "read_scaling", "pulse", 4, -1);
	md_json_free(&d);
	h_result_free(&r);
}
END_TEST

START_TEST(set_changes_only_named_fields)
{
	h_make_account(USER);
	h_result r;
	h_run(&r, 0, NULL, NULL, "ducklings", "set", USER, "--rw-size", "jumbo", "--rw-cooldown",
	      "600", "--rs-size", "standard", "--flock-size", "8", "--rs-cooldown", "120", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	h_run(&r, 0, NULL, NULL, "ducklings", "set", USER, "--flock-size", "2", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	md_json d;
	get_json(&d, &r);
	assert_block(&d, "read_write", "jumbo", -1, 600);
	assert_block(&d, "read_scaling", "standard", 2, 120);
	md_json_free(&d);
	h_result_free(&r);

	/* Becoming pulse drops the inherited cooldown instead of failing. */
	h_run(&r, 0, NULL, NULL, "ducklings", "set", USER, "--rw-size", "pulse", NULL);
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.err, "dropping its cooldown_seconds"));
	h_result_free(&r);
	get_json(&d, &r);
	assert_block(&d, "read_write", "pulse", -1, -1);
	md_json_free(&d);
	h_result_free(&r);
}
END_TEST

START_TEST(set_validation_sends_nothing)
{
	static const char *const bad[][3] = {
		{"--rw-size", "huge", "not one of pulse"},
		{"--flock-size", "65", "out of range 0..64"},
		{"--flock-size", "-1", "not a whole number"},
		{"--rw-cooldown", "59", "out of range 60..86400"},
		{"--rs-cooldown", "86401", "out of range 60..86400"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		h_result r;
		h_run(&r, 0, NULL, NULL, "ducklings", "set", USER, bad[i][0], bad[i][1], NULL);
		ck_assert_exit(r, 2);
		ck_assert_msg(h_contains(r.err, bad[i][2]), "%s %s: %s", bad[i][0], bad[i][1],
			      md_secret_str(r.err));
		h_result_free(&r);
	}
	h_result r;
	h_run(&r, 0, NULL, NULL, "ducklings", "set", USER, "--rs-size", "pulse", "--rs-cooldown",
	      "600", NULL);
	ck_assert_exit(r, 2);
	h_result_free(&r);
	h_run(&r, 0, NULL, NULL, "ducklings", "set", USER, NULL);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "nothing to change"));
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), 0);
}
END_TEST

START_TEST(tier_limit_is_api_error)
{
	h_make_account(USER);
	h_result r;
	h_run(&r, 0, NULL, NULL, "ducklings", "set", USER, "--flock-size", "64", NULL);
	ck_assert_exit(r, 1);
	ck_assert(h_contains(r.err, "HTTP 400"));
	ck_assert(h_contains(r.err, "Invalid config for tier"));
	h_result_free(&r);
}
END_TEST

START_TEST(unknown_account)
{
	h_result r;
	h_run(&r, 0, NULL, NULL, "ducklings", "get", "svc_nobody", NULL);
	ck_assert_exit(r, 4);
	h_result_free(&r);
	h_run(&r, 0, NULL, NULL, "ducklings", "set", "svc_nobody", "--flock-size", "1", NULL);
	ck_assert_exit(r, 4);
	h_result_free(&r);
}
END_TEST

Suite *suite_ducklings(void)
{
	Suite *s = h_suite("ducklings");
	TCase *tc = h_tcase("ducklings");
	tcase_add_test(tc, seed_flow_set_and_get);
	tcase_add_test(tc, set_changes_only_named_fields);
	tcase_add_test(tc, set_validation_sends_nothing);
	tcase_add_test(tc, tier_limit_is_api_error);
	tcase_add_test(tc, unknown_account);
	suite_add_tcase(s, tc);
	return s;
}
