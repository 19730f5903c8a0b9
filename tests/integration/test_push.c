/* test_push.c - `mdcred push` to file stores, and `exec --from` reading them. */
#include "harness.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"

#define USER "svc_push_test"

static const char *store(const char *name, const char *query, char *buf, size_t sz)
{
	snprintf(buf, sz, "file://%s%s", h_path(true, name), query ? query : "");
	unlink(h_path(true, name));
	return buf;
}

static md_secret *read_req(const char *name)
{
	md_secret *s = NULL;
	md_file_read_secret(h_path(true, name), 1 << 16, &s, NULL);
	return s;
}

START_TEST(push_to_two_stores_and_read_back)
{
	h_make_account(USER);
	char a[1400], b[1400];
	h_result r;
	h_run(&r, 0, NULL, NULL, "push", USER, "--ttl", "1h", "--store", store("p.json", NULL, a, sizeof a),
	      "--store", store("p.env", "?format=env&mode=0640", b, sizeof b), NULL);
	ck_assert_exit(r, 0);
	ck_assert_uint_eq(md_secret_len(r.out), 0);
	ck_assert(h_contains(r.err, "pushed token"));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 1);

	struct stat st;
	ck_assert_int_eq(stat(h_path(true, "p.env"), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	_cleanup_secret_ md_secret *env = read_req("p.env");
	ck_assert(env && strncmp(md_secret_str(env), "# mdcred: id=", 13) == 0);

	/* Both stores hand the same token to a command. */
	char script[3000];
	for (int i = 0; i < 2; i++) {
		snprintf(script, sizeof script, "printf %%s \"$MOTHERDUCK_TOKEN\" > '%s'",
			 h_path(true, i ? "from-env" : "from-json"));
		h_run(&r, H_NO_AUTH, NULL, NULL, "exec", "--from", i ? b : a, USER, "--", "sh", "-c",
		      script, NULL);
		ck_assert_exit(r, 0);
		h_result_free(&r);
	}
	_cleanup_secret_ md_secret *t1 = read_req("from-json");
	_cleanup_secret_ md_secret *t2 = read_req("from-env");
	ck_assert(t1 && t2 && md_secret_len(t1) > 0);
	ck_assert_msg(md_secret_eq(t1, t2), "the two stores hold different tokens");
	ck_assert(h_is_issued_token(md_secret_str(t1), md_secret_len(t1)));
}
END_TEST

START_TEST(token_format_keeps_metadata_beside)
{
	h_make_account(USER);
	char a[1400];
	h_result r;
	h_run(&r, 0, NULL, NULL, "push", USER, "--name", "sidecar-test", "--store",
	      store("bare.tok", "?format=token", a, sizeof a), NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	_cleanup_secret_ md_secret *meta = read_req("bare.tok.meta.json");
	ck_assert_ptr_nonnull(meta);
	ck_assert(strstr(md_secret_str(meta), "\"name\":\"sidecar-test\"") != NULL);
	ck_assert(strstr(md_secret_str(meta), "\"token\"") == NULL);
}
END_TEST

/* A Vault nobody answers: the store cannot be read, so no write is sent;
 * nothing holds the token, which must not stay alive. */
#define DEAD_VAULT "vault://127.0.0.1:1/secret/md"
static const char *const dead_vault_env[] = {"VAULT_TOKEN=not-a-real-vault-token", NULL};

START_TEST(no_store_took_it_revokes)
{
	h_make_account(USER);
	h_result r;
	h_run(&r, 0, NULL, dead_vault_env, "--retries", "0", "push", USER, "--store", DEAD_VAULT,
	      NULL);
	ck_assert_exit(r, 7);
	ck_assert(h_contains(r.err, "no store took the new token"));
	ck_assert(h_contains(r.err, "revoked the undelivered token"));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

START_TEST(partial_push_keeps_token_live)
{
	h_make_account(USER);
	char a[1400];
	h_result r;
	h_run(&r, 0, NULL, dead_vault_env, "--retries", "0", "push", USER, "--store",
	      store("ok.json", NULL, a, sizeof a), "--store", DEAD_VAULT, NULL);
	ck_assert_exit(r, 8);
	ck_assert(h_contains(r.err, "1 of 2 stores hold the new token"));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(bad_store_uris_send_nothing)
{
	static const char *const bad[][2] = {
		{"file:///tmp/x?mode=0644", "every user on the machine"},
		{"file://relative/x", "localhost"},
		{"file:relative/x", "not a URI"},
		{"file:///tmp/x#frag", "fragment"},
		{"file:///tmp/a%0ab", "control character"},
		{"vault://user@127.0.0.1:8200/secret/x", "no credentials"},
		{"vault://user:pw@127.0.0.1:8200/secret/x", "no credentials"},
		{"vault://secret/app", "without a port"},
		{"vault://127.0.0.1:8200/secret/../x", "not a plain name"},
		{"k8s://someone@team-a/x", "no credentials"},
		{"k8s://team-a:6443/x", "expected k8s://"},
		{"file:///tmp/x?format=yaml", "not token, env, dotenv or json"},
		{"file:///tmp/x?colour=blue", "unknown option"},
		{"s3://bucket/key", "expected file:///path"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		h_result r;
		h_run(&r, 0, NULL, NULL, "push", "svc_any_user", "--store", bad[i][0], NULL);
		ck_assert_msg(r.status == 2, "case %zu: exit %d", i, r.status);
		ck_assert_msg(h_contains(r.err, bad[i][1]), "case %zu: %s", i, md_secret_str(r.err));
		h_result_free(&r);
	}
	h_result r;
	h_run(&r, 0, NULL, NULL, "push", "svc_any_user", NULL);
	ck_assert_exit(r, 2);
	h_result_free(&r);
	/* One file under two spellings: the second write would replace the
	 * first, and its read-back would fail. */
	h_run(&r, 0, NULL, NULL, "push", "svc_any_user", "--store", "file:///tmp/mdcred-twin.env",
	      "--store", "file:///tmp/./mdcred-twin.env?format=env", NULL);
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "writes the same place"));
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), 0);
}
END_TEST

Suite *suite_push(void)
{
	Suite *s = h_suite("push");
	TCase *tc = h_tcase("push");
	tcase_add_test(tc, push_to_two_stores_and_read_back);
	tcase_add_test(tc, token_format_keeps_metadata_beside);
	tcase_add_test(tc, no_store_took_it_revokes);
	tcase_add_test(tc, partial_push_keeps_token_live);
	tcase_add_test(tc, bad_store_uris_send_nothing);
	suite_add_tcase(s, tc);
	return s;
}
