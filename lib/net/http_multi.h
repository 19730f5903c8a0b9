/* http_multi.h - many HTTP clients over one libcurl multi handle.
 *
 * Owns: one curl multi handle and the one thread that drives it (adding
 * transfers, curl_multi_perform, completing them, curl_multi_poll). An
 * md_http created with opts.multi hands each attempt's transfer to this
 * thread and waits for its own result, so any number of callers share one
 * connection cache and one I/O loop instead of a connection and a blocking
 * curl_easy_perform each. Retry, backoff and the URL policy stay in http.c:
 * this module only moves bytes.
 */
#ifndef MD_HTTP_MULTI_H
#define MD_HTTP_MULTI_H

#include "net/curl_dl.h"
#include "base/error.h"

typedef struct md_http_multi md_http_multi;

/* Starts the driver thread. max_conns bounds the connection cache (0: libcurl's default). */
int md_http_multi_new(long max_conns, md_http_multi **out, md_error *err);
/* Stops the driver once no transfer is pending; callers must have returned. */
void md_http_multi_free(md_http_multi *m);
/* Runs one prepared easy handle to completion on the driver thread and
 * returns its result, as curl_easy_perform would. */
CURLcode md_http_multi_perform(md_http_multi *m, CURL *easy);

#endif
