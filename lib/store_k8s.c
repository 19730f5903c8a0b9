/* store_k8s.c - placeholder until the module is written. */
#include "store_int.h"

int md_store_k8s_open(const char *rest, md_store *st, md_error *err)
{
	(void)rest;
	(void)st;
	return md_err_set(err, MD_EUSAGE, "k8s stores are not available yet");
}
