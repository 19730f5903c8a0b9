/* integration_main.c - runs every integration suite against one emulator. */
#include "harness.h"

#include <curl/curl.h>
#include <stdlib.h>

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

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_emulator_start();
	SRunner *sr = srunner_create(suite_token());
	srunner_add_suite(sr, suite_account());
	srunner_add_suite(sr, suite_ducklings());
	srunner_add_suite(sr, suite_exec());
	srunner_add_suite(sr, suite_errors());
	srunner_add_suite(sr, suite_retry());
	srunner_add_suite(sr, suite_tls());
	srunner_add_suite(sr, suite_plugin());
	srunner_add_suite(sr, suite_push());
	srunner_add_suite(sr, suite_rotate());
	srunner_add_suite(sr, suite_rotate_config());
	srunner_add_suite(sr, suite_rotate_config_input());
	srunner_add_suite(sr, suite_store_vault());
	srunner_add_suite(sr, suite_store_k8s());
	srunner_add_suite(sr, suite_get());
	srunner_add_suite(sr, suite_rotate_faults());
	srunner_add_suite(sr, suite_packaging());
	srunner_add_suite(sr, suite_planted());
	srunner_add_suite(sr, suite_hardening());
	srunner_add_suite(sr, suite_hostile());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	h_emulator_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
