/* test_rotate.c - `mdcred rotate` for one role, against the emulator, with
 * file stores. Invariant checked after each scenario: the store holds a
 * live token. */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/file.h"
#include "base/json.h"

#define USER "svc_rotate_test"

static char state[1300], good[1400];

static void rot_setup(void)
{
	static int n;
	char name[64];
	h_make_account(USER);
	snprintf(name, sizeof name, "rot-state-%d", ++n);
	snprintf(state, sizeof state, "%s", h_path(false, name));
	snprintf(name, sizeof name, "rot-%d.json", n);
	snprintf(good, sizeof good, "file://%s", h_path(true, name));
}

/* rotate ARGS... with the state dir and the good store, --json output. */
#define ROTATE(r, ...)                                                                        \
	h_run(r, 0, NULL, NULL, "rotate", USER, "--state-dir", state, "--json", "--store", good, \
	      __VA_ARGS__, NULL)

static void expect_action(const h_result *r, const char *action)
{
	char want[64];
	snprintf(want, sizeof want, "\"action\":\"%s\"", action);
	ck_assert_msg(h_contains(r->out, want), "wanted %s: %s / %s", action, md_secret_str(r->out),
		      md_secret_str(r->err));
}

/* The id the good store holds, and that it is a live token. */
static void assert_store_live(char *id, size_t idsz)
{
	_cleanup_secret_ md_secret *c = NULL;
	ck_assert_int_eq(md_file_read_secret(good + 7, 1 << 16, &c, NULL), MD_OK);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(c), md_secret_len(c), NULL), 0);
	ck_assert_int_gt(md_json_str(&d, md_json_get(&d, 0, "id"), id, idsz), 0);
	md_json_free(&d);
	h_result r;
	h_run(&r, 0, NULL, NULL, "token", "list", USER, NULL);
	ck_assert_msg(h_contains(r.out, id), "the store points to a token that is not live");
	h_result_free(&r);
}

START_TEST(first_rotated_then_fresh)
{
	rot_setup();
	h_result r;
	ROTATE(&r, "--ttl", "1h");
	ck_assert_exit(r, 0);
	expect_action(&r, "rotated");
	h_result_free(&r);
	char id1[80], id2[80];
	assert_store_live(id1, sizeof id1);
	ROTATE(&r, "--ttl", "1h");
	ck_assert_exit(r, 0);
	expect_action(&r, "fresh");
	h_result_free(&r);
	assert_store_live(id2, sizeof id2);
	ck_assert_str_eq(id1, id2);
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(force_grace_and_keep)
{
	rot_setup();
	h_result r;
	ROTATE(&r, "--ttl", "1h");
	h_result_free(&r);
	/* Within grace the old token stays live for slow consumers. */
	ROTATE(&r, "--ttl", "1h", "--force", "--grace", "1h");
	ck_assert_exit(r, 0);
	expect_action(&r, "rotated");
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 2);
	/* Past grace (0), tokens no store holds are retired. */
	ROTATE(&r, "--ttl", "1h", "--force", "--grace", "0");
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "\"revoked\":2"));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 1);
	/* keep bounds live tokens even within grace. */
	ROTATE(&r, "--ttl", "1h", "--force", "--grace", "1h", "--keep", "1");
	ck_assert_exit(r, 0);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 1);
	char id[80];
	assert_store_live(id, sizeof id);
}
END_TEST

START_TEST(lock_held_skips)
{
	rot_setup();
	h_result r;
	ROTATE(&r, "--ttl", "1h");
	h_result_free(&r);
	char lock[1400];
	snprintf(lock, sizeof lock, "%s/%s.lock", state, USER);
	int fd = open(lock, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	ROTATE(&r, "--ttl", "1h", "--force");
	ck_assert_exit(r, 0);
	expect_action(&r, "skipped");
	h_result_free(&r);
	close(fd);
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(store_failures_keep_invariants)
{
	rot_setup();
	/* A Vault nobody answers: nothing is ever written to it. */
	const char *bad = "vault://127.0.0.1:1/secret/rot";
	static const char *const env[] = {"VAULT_TOKEN=not-a-real-vault-token", NULL};
	h_result r;
	ROTATE(&r, "--ttl", "1h");
	h_result_free(&r);
	char before[80], after[80];
	assert_store_live(before, sizeof before);
	/* Partial: the good store moves on, the bad one keeps nothing alive. */
	h_run(&r, 0, NULL, env, "--retries", "0", "rotate", USER, "--state-dir", state, "--store",
	      good, "--ttl", "1h", "--force", "--grace", "0", "--store", bad, NULL);
	ck_assert_exit(r, 8);
	h_result_free(&r);
	assert_store_live(after, sizeof after);
	ck_assert_str_ne(before, after);
	/* No store takes it: the new token is revoked, the store still holds
	 * its live token. */
	h_run(&r, 0, NULL, env, "--retries", "0", "rotate", USER, "--state-dir", state, "--force",
	      "--store", bad, NULL);
	ck_assert_exit(r, 7);
	h_result_free(&r);
	assert_store_live(before, sizeof before);
	ck_assert_str_eq(before, after);
}
END_TEST

START_TEST(expired_token_is_replaced)
{
	rot_setup();
	h_result r;
	ROTATE(&r, "--ttl", "5m", "--every", "7d");
	h_result_free(&r);
	ck_assert_int_eq(h_ctl("POST", "/_emulator/clock", "{\"advance_seconds\":301}"), 200);
	ROTATE(&r, "--ttl", "5m", "--every", "7d");
	ck_assert_exit(r, 0);
	expect_action(&r, "rotated");
	h_result_free(&r);
	char id[80];
	assert_store_live(id, sizeof id);
}
END_TEST

Suite *suite_rotate(void)
{
	Suite *s = h_suite("rotate");
	TCase *tc = h_tcase("rotate");
	tcase_add_test(tc, first_rotated_then_fresh);
	tcase_add_test(tc, force_grace_and_keep);
	tcase_add_test(tc, lock_held_skips);
	tcase_add_test(tc, store_failures_keep_invariants);
	tcase_add_test(tc, expired_token_is_replaced);
	suite_add_tcase(s, tc);
	return s;
}
