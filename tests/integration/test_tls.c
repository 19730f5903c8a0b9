/* test_tls.c - real TLS: an HTTPS emulator with a certificate made here. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static pid_t tls_pid;
static char tls_url[256];
static char cert[1200], key[1200], admin[1200];

static void tls_start(void)
{
	snprintf(cert, sizeof cert, "%s", h_path(false, "tls-cert.pem"));
	snprintf(key, sizeof key, "%s", h_path(true, "tls-key.pem"));
	snprintf(admin, sizeof admin, "%s", h_path(true, "tls-admin.token"));
	ck_assert_msg(h_make_cert(cert, key) == 0, "openssl could not make a certificate");
	const char *args[] = {"--tls-cert", cert, "--tls-key", key, "--admin-token-file", admin,
			      NULL};
	tls_pid = h_emulator_spawn(args, "emulator-tls.log", tls_url, sizeof tls_url);
	ck_assert_msg(tls_pid > 0, "TLS emulator did not start");
	ck_assert(strncmp(tls_url, "https://", 8) == 0);
}

static void tls_stop(void)
{
	if (tls_pid > 0) {
		kill(tls_pid, SIGTERM);
		waitpid(tls_pid, NULL, 0);
	}
}

static void run_tls(h_result *r, const char *cacert, const char *user)
{
	char kv[1300];
	snprintf(kv, sizeof kv, "MOTHERDUCK_ADMIN_TOKEN_FILE=%s", admin);
	const char *env[] = {kv, NULL};
	if (cacert)
		h_run(r, H_NO_AUTH | H_NO_URL, NULL, env, "--api-url", tls_url, "--cacert", cacert,
		      "account", "create", user, NULL);
	else
		h_run(r, H_NO_AUTH | H_NO_URL, NULL, env, "--api-url", tls_url, "account", "create",
		      user, NULL);
}

START_TEST(https_with_cacert)
{
	h_result r;
	run_tls(&r, cert, "svc_over_tls");
	ck_assert_exit(r, 0);
	h_result_free(&r);
}
END_TEST

START_TEST(https_unknown_ca_refused)
{
	h_result r;
	run_tls(&r, NULL, "svc_untrusted");
	ck_assert_exit(r, 1);
	ck_assert(h_contains(r.err, "TLS verification failed"));
	h_result_free(&r);
}
END_TEST

Suite *suite_tls(void)
{
	Suite *s = h_suite("tls");
	TCase *tc = h_tcase("tls");
	tcase_add_unchecked_fixture(tc, tls_start, tls_stop);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, https_with_cacert);
	tcase_add_test(tc, https_unknown_ca_refused);
	suite_add_tcase(s, tc);
	return s;
}
