/* integration_main.c - the integration suites. Every test case can run in a
 * process of its own, with its own emulator and fakes (ports chosen by the
 * OS), so tests/run_all.sh runs them side by side:
 *   test_integration --list            "SUITE CASE" per test case
 *   CK_RUN_SUITE=S CK_RUN_CASE=C test_integration    one case
 *   test_integration                   every suite, one after another */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

Suite *suite_token(void);
Suite *suite_account(void);
Suite *suite_ducklings(void);
Suite *suite_exec(void);
Suite *suite_errors(void);
Suite *suite_retry(void);
Suite *suite_tls(void);
Suite *suite_plugin(void);
Suite *suite_push(void);
Suite *suite_rotate(void);
Suite *suite_rotate_config(void);
Suite *suite_rotate_config_input(void);
Suite *suite_store_vault(void);
Suite *suite_store_k8s(void);
Suite *suite_get(void);
Suite *suite_rotate_faults(void);
Suite *suite_packaging(void);
Suite *suite_planted(void);
Suite *suite_hardening(void);
Suite *suite_hostile(void);

int main(int argc, char **argv)
{
	Suite *(*const suites[])(void) = {
		suite_token, suite_account, suite_ducklings, suite_exec, suite_errors,
		suite_retry, suite_tls, suite_plugin, suite_push, suite_rotate,
		suite_rotate_config, suite_rotate_config_input, suite_store_vault,
		suite_store_k8s, suite_get, suite_rotate_faults, suite_packaging,
		suite_planted, suite_hardening, suite_hostile,
	};
	SRunner *sr = srunner_create(NULL);
	for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
		srunner_add_suite(sr, suites[i]());
	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		h_list(stdout);
		srunner_free(sr);
		return EXIT_SUCCESS;
	}
	h_start();
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	h_emulator_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
