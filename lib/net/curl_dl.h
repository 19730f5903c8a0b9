/* curl_dl.h - libcurl, loaded when first needed.
 *
 * Owns: loading libcurl.so.4 (the OpenSSL flavour whose headers we build
 * against) with dlopen on the first HTTP request, and the table of the
 * functions lib/ calls. Why: libcurl and its dependency tree cost ~20 ms of
 * every process start on a small VM (bench/RESULTS.md); `mdcred exec --from`
 * and every validation error never talk to the network and must not pay it.
 *
 * Include this instead of <curl/curl.h> in lib/ files that call libcurl:
 * the macros below route the usual names through the table.
 */
#ifndef MD_CURL_DL_H
#define MD_CURL_DL_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "base/error.h"

struct md_curl_fns {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	char *(*easy_unescape)(CURL *, const char *, int, int *);
	void (*free)(void *);
	time_t (*getdate)(const char *, const time_t *);
	char *(*version)(void);
	CURLU *(*url)(void);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
	CURLUcode (*url_get)(const CURLU *, CURLUPart, char **, unsigned int);
	void (*url_cleanup)(CURLU *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
	CURLMcode (*multi_wakeup)(CURLM *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
	const char *(*multi_strerror)(CURLMcode);
};

extern struct md_curl_fns md_curl;

/* Loads libcurl once (thread-safe) and runs curl_global_init. */
int md_curl_dl_load(md_error *err);
/* Loads libcurl without initialising it: enough for the URL API (uri.h),
 * which needs no global state, and 5 ms cheaper (no TLS library set-up). */
int md_curl_dl_open(md_error *err);

#ifndef MD_CURL_DL_IMPL
/* curl.h maps these two to themselves as macros; ours replace them. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init (*md_curl.global_init)
#define curl_easy_init (*md_curl.easy_init)
#define curl_easy_setopt (*md_curl.easy_setopt)
#define curl_easy_perform (*md_curl.easy_perform)
#define curl_easy_getinfo (*md_curl.easy_getinfo)
#define curl_easy_cleanup (*md_curl.easy_cleanup)
#define curl_easy_strerror (*md_curl.easy_strerror)
#define curl_easy_escape (*md_curl.easy_escape)
#define curl_easy_unescape (*md_curl.easy_unescape)
#define curl_free (*md_curl.free)
#define curl_getdate (*md_curl.getdate)
#define curl_version (*md_curl.version)
#define curl_url (*md_curl.url)
#define curl_url_set (*md_curl.url_set)
#define curl_url_get (*md_curl.url_get)
#define curl_url_cleanup (*md_curl.url_cleanup)
#undef curl_multi_setopt
#define curl_multi_init (*md_curl.multi_init)
#define curl_multi_setopt (*md_curl.multi_setopt)
#define curl_multi_add_handle (*md_curl.multi_add_handle)
#define curl_multi_remove_handle (*md_curl.multi_remove_handle)
#define curl_multi_perform (*md_curl.multi_perform)
#define curl_multi_poll (*md_curl.multi_poll)
#define curl_multi_wakeup (*md_curl.multi_wakeup)
#define curl_multi_info_read (*md_curl.multi_info_read)
#define curl_multi_cleanup (*md_curl.multi_cleanup)
#define curl_multi_strerror (*md_curl.multi_strerror)
#endif

#endif
