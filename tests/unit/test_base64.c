/* test_base64.c - unit tests for lib/base/base64.c against the RFC 4648
 * section 10 vectors, unpadded output, and strict decoding. */
#include <check.h>

#include <string.h>

#include "base/base64.h"

static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const padded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const raw[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

START_TEST(rfc4648_vectors)
{
	md_secret *s = md_secret_new(16);
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		ck_assert_int_eq(md_b64_encode(s, plain[i], strlen(plain[i]), true), 0);
		ck_assert_str_eq(md_secret_str(s), padded[i]);
		ck_assert_int_eq(md_b64_encode(s, plain[i], strlen(plain[i]), false), 0);
		ck_assert_str_eq(md_secret_str(s), raw[i]);
		ck_assert_int_eq(md_b64_decode(s, padded[i], strlen(padded[i])), 0);
		ck_assert_str_eq(md_secret_str(s), plain[i]);
	}
	md_secret_free(s);
}
END_TEST

START_TEST(decoding_is_strict)
{
	static const char *const bad[] = {"Zg", "Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "=Zg=",
					  "Zm-v", "Zm_v"};
	md_secret *s = md_secret_new(16);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(md_b64_decode(s, bad[i], strlen(bad[i])) < 0, "'%s' accepted", bad[i]);
	ck_assert_int_eq(md_b64_decode(s, "AP8=", 4), 0);
	ck_assert_uint_eq(md_secret_len(s), 2);
	ck_assert_int_eq((unsigned char)md_secret_str(s)[1], 0xff);
	md_secret_free(s);
}
END_TEST

static Suite *base64_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("base64");
	tcase_add_test(tc, rfc4648_vectors);
	tcase_add_test(tc, decoding_is_strict);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(base64_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
