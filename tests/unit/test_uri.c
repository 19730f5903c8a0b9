/* test_uri.c - unit tests for lib/net/uri.c: store URIs split by libcurl's URL
 * API, the empty authority of "scheme:///path", and what is refused
 * (credentials, fragments, control characters, no "//"). */
#include <check.h>

#include <stdio.h>
#include <string.h>

#include "net/uri.h"

static void parses(const char *text, const char *scheme, const char *host, const char *port,
		   const char *path, const char *query)
{
	md_uri u;
	md_error err = {0};
	ck_assert_msg(md_uri_parse(text, &u, &err) == MD_OK, "%s: %s", text, err.msg);
	ck_assert_str_eq(u.scheme, scheme);
	ck_assert_str_eq(u.host, host);
	ck_assert_str_eq(u.port, port);
	ck_assert_str_eq(u.path, path);
	ck_assert_str_eq(u.query, query);
}

static void refused(const char *text, const char *why)
{
	md_uri u;
	md_error err = {0};
	ck_assert_msg(md_uri_parse(text, &u, &err) == MD_EUSAGE, "%s accepted", text);
	ck_assert_msg(strstr(err.msg, why) != NULL, "%s: '%s' lacks '%s'", text, err.msg, why);
	ck_assert_str_eq(u.host, "");
}

START_TEST(store_uris_split)
{
	parses("file:///run/md.json?format=env&mode=0640", "file", "", "", "/run/md.json",
	       "format=env&mode=0640");
	parses("file://localhost/run/x", "file", "", "", "/run/x", "");
	parses("FILE:///run/a%20b", "file", "", "", "/run/a b", "");
	parses("vault:///secret/app", "vault", "", "", "/secret/app", "");
	parses("vault://127.0.0.1:8200/secret/app?field=t", "vault", "127.0.0.1", "8200",
	       "/secret/app", "field=t");
	parses("vault://[::1]:8200/kv/x", "vault", "[::1]", "8200", "/kv/x", "");
	parses("vault://secret/app", "vault", "secret", "", "/app", "");
	parses("k8s://team-a/md-token?key=K", "k8s", "team-a", "", "/md-token", "key=K");
	parses("vault:////x", "vault", "", "", "//x", "");
}
END_TEST

START_TEST(what_a_store_uri_never_means)
{
	refused("vault://user@host:8200/secret/x", "credentials");
	refused("vault://user:pw@host/x", "credentials");
	refused("k8s://u@team-a/x", "credentials");
	refused("file:///tmp/x#frag", "fragment");
	refused("file://evil/tmp/x", "localhost");
	refused("vault://h:99999/x", "port");
	refused("vault://h:8200/a b", "not a valid URI");
	refused("file:///tmp/%00x", "control");
	refused("file:///tmp/%0ax", "control");
	refused("file:///tmp/\x1bx", "control");
	refused("vault://%7f:8200/secret/x", "host"); /* decodes to DEL */
	refused("k8s://te%0am/x", "URI");
	refused("vault://h\xc3\xa9:8200/x", "host");
	refused("file:relative/x", "not a URI");
	refused("k8s:team/x", "not a URI");
	refused("", "not a URI");
	refused("://x", "not a URI");
}
END_TEST

static int collect(void *ud, const char *k, const char *v, md_error *err)
{
	(void)err;
	char *out = ud;
	size_t n = strlen(out);
	snprintf(out + n, 256 - n, "[%s=%s]", k, v);
	return MD_OK;
}

START_TEST(query_pairs_decoded_one_by_one)
{
	char got[256] = "";
	md_error err = {0};
	ck_assert_int_eq(md_uri_query_each("a=1&b=x%26y%3Dz&&c=", collect, got, &err), MD_OK);
	ck_assert_str_eq(got, "[a=1][b=x&y=z][c=]");
	got[0] = '\0';
	ck_assert_int_eq(md_uri_query_each("", collect, got, &err), MD_OK);
	ck_assert_int_eq(md_uri_query_each("novalue", collect, got, &err), MD_EUSAGE);
	ck_assert_int_eq(md_uri_query_each("a=%0a", collect, got, &err), MD_EUSAGE);
	ck_assert_int_eq(md_uri_query_each("a=%00", collect, got, &err), MD_EUSAGE);
}
END_TEST

static Suite *uri_suite(void)
{
	Suite *s = suite_create("uri");
	TCase *tc = tcase_create("uri");
	tcase_add_test(tc, store_uris_split);
	tcase_add_test(tc, what_a_store_uri_never_means);
	tcase_add_test(tc, query_pairs_decoded_one_by_one);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(uri_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
