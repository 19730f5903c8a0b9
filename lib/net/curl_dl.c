/* curl_dl.c - see curl_dl.h. */
#define MD_CURL_DL_IMPL
#include "net/curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct md_curl_fns md_curl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT, init_once = PTHREAD_ONCE_INIT;
static char load_error[256], init_error[64];

#define SYM(field, name)                                                        \
	do {                                                                    \
		*(void **)&md_curl.field = dlsym(h, name);                      \
		if (!md_curl.field) {                                           \
			snprintf(load_error, sizeof load_error,                 \
				 "libcurl.so.4 lacks %s: libcurl 7.80 or newer is " \
				 "needed", name);                               \
			return;                                                 \
		}                                                               \
	} while (0)

static void curl_dl_load_once(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(load_error, sizeof load_error,
			 "cannot load libcurl.so.4 (Debian package libcurl4): %s", dlerror());
		return;
	}
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(easy_escape, "curl_easy_escape");
	SYM(easy_unescape, "curl_easy_unescape");
	SYM(free, "curl_free");
	SYM(getdate, "curl_getdate");
	SYM(version, "curl_version");
	SYM(url, "curl_url");
	SYM(url_set, "curl_url_set");
	SYM(url_get, "curl_url_get");
	SYM(url_cleanup, "curl_url_cleanup");
	SYM(multi_init, "curl_multi_init");
	SYM(multi_setopt, "curl_multi_setopt");
	SYM(multi_add_handle, "curl_multi_add_handle");
	SYM(multi_remove_handle, "curl_multi_remove_handle");
	SYM(multi_perform, "curl_multi_perform");
	SYM(multi_poll, "curl_multi_poll");
	SYM(multi_wakeup, "curl_multi_wakeup");
	SYM(multi_info_read, "curl_multi_info_read");
	SYM(multi_cleanup, "curl_multi_cleanup");
	SYM(multi_strerror, "curl_multi_strerror");
}

static void curl_dl_init_once(void)
{
	if (md_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		snprintf(init_error, sizeof init_error, "curl_global_init failed");
}

int md_curl_dl_open(md_error *err)
{
	pthread_once(&load_once, curl_dl_load_once);
	if (load_error[0])
		return md_err_set(err, MD_EFAIL, "%s", load_error);
	return MD_OK;
}

int md_curl_dl_load(md_error *err)
{
	int rc = md_curl_dl_open(err);
	if (rc)
		return rc;
	pthread_once(&init_once, curl_dl_init_once);
	if (init_error[0])
		return md_err_set(err, MD_EFAIL, "%s", init_error);
	return MD_OK;
}
