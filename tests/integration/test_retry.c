/* test_retry.c - placeholder until written. */
#include "harness.h"

Suite *suite_retry(void)
{
	return suite_create("retry");
}
