/* test_engine.c - the secrets engine's router and config path, on memory storage. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/engine.h"
#include "base/json.h"

#define FAKE_ADMIN "fake-admin-token-for-engine-tests-0123456789"

/* One-key-per-slot memory storage. */
struct mem {
	char keys[8][64];
	md_secret *vals[8];
	int puts;
	bool fail;
};

static int mem_find(struct mem *m, const char *key)
{
	for (int i = 0; i < 8; i++)
		if (m->vals[i] && strcmp(m->keys[i], key) == 0)
			return i;
	return -1;
}

static int mem_get(void *ud, const char *key, md_secret **v, md_error *err)
{
	struct mem *m = ud;
	*v = NULL;
	if (m->fail)
		return md_err_set(err, MD_EFAIL, "storage down");
	int i = mem_find(m, key);
	if (i >= 0) {
		*v = md_secret_new(0);
		md_secret_set(*v, md_secret_str(m->vals[i]), md_secret_len(m->vals[i]));
	}
	return MD_OK;
}

static int mem_put(void *ud, const char *key, const md_secret *v, md_error *err)
{
	struct mem *m = ud;
	if (m->fail)
		return md_err_set(err, MD_EFAIL, "storage down");
	int i = mem_find(m, key);
	for (int k = 0; i < 0 && k < 8; k++)
		if (!m->vals[k])
			i = k;
	snprintf(m->keys[i], sizeof m->keys[i], "%s", key);
	if (!m->vals[i])
		m->vals[i] = md_secret_new(0);
	md_secret_set(m->vals[i], md_secret_str(v), md_secret_len(v));
	m->puts++;
	return MD_OK;
}

static int mem_del(void *ud, const char *key, md_error *err)
{
	(void)err;
	struct mem *m = ud;
	int i = mem_find(m, key);
	if (i >= 0) {
		md_secret_free(m->vals[i]);
		m->vals[i] = NULL;
	}
	return MD_OK;
}

static struct mem store;
static md_eng_storage st = {mem_get, mem_put, mem_del, &store};

static void reset(void)
{
	for (int i = 0; i < 8; i++)
		md_secret_free(store.vals[i]);
	memset(&store, 0, sizeof store);
}

static void run(const char *op, const char *path, const char *data, md_eng_response *rs)
{
	md_eng_request rq = {op, path, data, data ? strlen(data) : 0};
	md_eng_handle(&st, &rq, rs);
}

static bool data_has(const md_eng_response *rs, const char *needle)
{
	return strstr(md_secret_str(rs->data), needle) != NULL;
}

START_TEST(config_write_read_never_returns_token)
{
	md_eng_response rs;
	run("create", "config", "{\"admin_token\":\"" FAKE_ADMIN "\",\"timeout\":\"15\"}", &rs);
	ck_assert_int_eq(rs.err_type, 0);
	ck_assert_msg(!data_has(&rs, "error"), "write failed: %s", md_secret_str(rs.data));
	md_eng_response_free(&rs);
	run("read", "config", NULL, &rs);
	ck_assert_int_eq(rs.err_type, 0);
	ck_assert(data_has(&rs, "\"admin_token_set\":true"));
	ck_assert(data_has(&rs, "\"timeout\":15"));
	ck_assert(data_has(&rs, "\"api_url\":\"https://api.motherduck.com\""));
	ck_assert_msg(!data_has(&rs, FAKE_ADMIN), "read returned the admin token");
	md_eng_response_free(&rs);
}
END_TEST

START_TEST(config_update_keeps_other_fields)
{
	md_eng_response rs;
	run("create", "config", "{\"admin_token\":\"" FAKE_ADMIN "\",\"retries\":5}", &rs);
	md_eng_response_free(&rs);
	run("update", "config", "{\"api_url\":\"http://127.0.0.1:9999\"}", &rs);
	ck_assert_msg(!data_has(&rs, "error"), "%s", md_secret_str(rs.data));
	md_eng_response_free(&rs);
	run("read", "config", NULL, &rs);
	ck_assert(data_has(&rs, "\"retries\":5"));
	ck_assert(data_has(&rs, "127.0.0.1:9999"));
	ck_assert(data_has(&rs, "\"admin_token_set\":true"));
	md_eng_response_free(&rs);
}
END_TEST

START_TEST(config_validation_errors)
{
	static const char *const bad[][2] = {
		{"{\"api_url\":\"http://example.com\"}", "refusing plain http"},
		{"{\"admin_token\":\"\"}", "admin_token"},
		{"{\"timeout\":0,\"admin_token\":\"x1234567\"}", "out of range"},
		{"{\"retries\":\"many\",\"admin_token\":\"x1234567\"}", "not a whole number"},
		{"{\"admin_tokn\":\"x\"}", "unknown field 'admin_tokn'"},
		{"{}", "admin_token is required"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		md_eng_response rs;
		run("create", "config", bad[i][0], &rs);
		ck_assert_int_eq(rs.err_type, 0);
		ck_assert_msg(data_has(&rs, bad[i][1]), "case %zu: %s", i, md_secret_str(rs.data));
		md_eng_response_free(&rs);
	}
	ck_assert_int_eq(store.puts, 0);
	md_eng_response rs;
	run("create", "config", "[1,2]", &rs);
	ck_assert_int_eq(rs.err_type, MD_ENG_ERR_BAD_REQUEST);
	md_eng_response_free(&rs);
}
END_TEST

START_TEST(config_delete_and_existence)
{
	md_eng_response rs;
	md_eng_request rq = {"create", "config", NULL, 0};
	bool found, exists;
	ck_assert_int_eq(md_eng_exists(&st, &rq, &found, &exists, NULL), 0);
	ck_assert(found && !exists);
	run("create", "config", "{\"admin_token\":\"" FAKE_ADMIN "\"}", &rs);
	md_eng_response_free(&rs);
	ck_assert_int_eq(md_eng_exists(&st, &rq, &found, &exists, NULL), 0);
	ck_assert(found && exists);
	run("delete", "config", NULL, &rs);
	ck_assert_int_eq(rs.err_type, 0);
	md_eng_response_free(&rs);
	run("read", "config", NULL, &rs);
	ck_assert_str_eq(md_secret_str(rs.data), "{}");
	md_eng_response_free(&rs);
}
END_TEST

START_TEST(unsupported_path_and_operation)
{
	md_eng_response rs;
	run("read", "nope", NULL, &rs);
	ck_assert_int_eq(rs.err_type, MD_ENG_ERR_UNSUPPORTED_PATH);
	md_eng_response_free(&rs);
	run("list", "config", NULL, &rs);
	ck_assert_int_eq(rs.err_type, MD_ENG_ERR_UNSUPPORTED_OPERATION);
	md_eng_response_free(&rs);
	md_eng_request rq = {"read", "nope", NULL, 0};
	bool found = true, exists = true;
	ck_assert_int_eq(md_eng_exists(&st, &rq, &found, &exists, NULL), 0);
	ck_assert(!found);
}
END_TEST

START_TEST(rollback_is_a_no_op)
{
	md_eng_response rs;
	run("rollback", "", NULL, &rs);
	ck_assert_int_eq(rs.err_type, 0);
	ck_assert_str_eq(md_secret_str(rs.data), "{}");
	md_eng_response_free(&rs);
}
END_TEST

START_TEST(help_texts)
{
	md_eng_response rs;
	run("help", "config", NULL, &rs);
	ck_assert_int_eq(rs.err_type, 0);
	ck_assert(data_has(&rs, "admin_token"));
	md_eng_response_free(&rs);
	run("help", "", NULL, &rs);
	ck_assert(data_has(&rs, "config"));
	md_eng_response_free(&rs);
}
END_TEST

START_TEST(storage_failure_is_internal)
{
	store.fail = true;
	md_eng_response rs;
	run("read", "config", NULL, &rs);
	ck_assert_int_eq(rs.err_type, MD_ENG_ERR_INTERNAL);
	ck_assert(strstr(rs.err_msg, "storage down") != NULL);
	md_eng_response_free(&rs);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, reset, reset);
	tcase_add_test(tc, config_write_read_never_returns_token);
	tcase_add_test(tc, config_update_keeps_other_fields);
	tcase_add_test(tc, config_validation_errors);
	tcase_add_test(tc, config_delete_and_existence);
	tcase_add_test(tc, unsupported_path_and_operation);
	tcase_add_test(tc, help_texts);
	tcase_add_test(tc, rollback_is_a_no_op);
	tcase_add_test(tc, storage_failure_is_internal);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
