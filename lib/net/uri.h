/* uri.h - the one parser of URIs that name a place: store URIs
 * (file://, vault://, k8s://), `--from`, `--cache file://`.
 *
 * Owns: splitting a URI into scheme, host, port, path and query with
 * libcurl's URL API (the parser that also judges every URL the transport
 * uses), so every store reads authority, path, query and percent-encoding
 * the same way, and refusing what a store URI never means: credentials in
 * the authority (user@host), a fragment, a control character anywhere
 * after decoding, a scheme without "//". The path comes out percent-decoded;
 * query keys and values are decoded one by one (md_uri_query_each), so an
 * encoded '&' or '=' stays data.
 *
 * RFC 3986 reads "scheme:///path" as an empty authority; libcurl, lenient
 * like browsers, skips the extra slash for schemes it does not know and
 * would take the first path segment as a host. That one case is decided
 * here from the text, before libcurl sees it: "vault:///secret/app" has no
 * host and the path /secret/app.
 */
#ifndef MD_URI_H
#define MD_URI_H

#include <limits.h>

#include "base/error.h"

typedef struct {
	char scheme[16];    /* lower case */
	char host[256];     /* "" when the authority is empty; IPv6 in brackets */
	char port[8];       /* "" when none */
	char path[PATH_MAX]; /* percent-decoded; starts with '/' unless "" */
	char query[1024];   /* as written (still encoded); "" when none */
} md_uri;

/* MD_OK, or MD_EUSAGE with a message that names what is wrong. Loads
 * libcurl (not its TLS set-up) on first use. */
int md_uri_parse(const char *text, md_uri *out, md_error *err);

/* Calls fn(ud, key, value, err) for each key=value of a raw query, both
 * percent-decoded; a part without '=' is an error, as is a control
 * character after decoding. Stops at the first non-MD_OK. */
typedef int (*md_uri_param_fn)(void *ud, const char *key, const char *val, md_error *err);
int md_uri_query_each(const char *query, md_uri_param_fn fn, void *ud, md_error *err);

#endif
