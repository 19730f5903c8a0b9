/* test_exec.c - placeholder until written. */
#include "harness.h"

Suite *suite_exec(void)
{
	return suite_create("exec");
}
