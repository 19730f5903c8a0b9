/* uri.c - see uri.h. */
#include "net/uri.h"
#include "net/curl_dl.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define URI_FLAGS (CURLU_NON_SUPPORT_SCHEME | CURLU_NO_AUTHORITY | CURLU_PATH_AS_IS)

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A host as a store may name one: visible ASCII (a name, an IPv4 address
 * or an IPv6 literal in brackets), or none. */
static bool host_ok(const char *h)
{
	for (; *h; h++)
		if ((unsigned char)*h <= 0x20 || (unsigned char)*h >= 0x7f)
			return false;
	return true;
}

/* One part into out ("" when absent); false when it does not fit or
 * cannot be decoded. */
static bool part(CURLU *u, CURLUPart what, unsigned flags, char *out, size_t outsz)
{
	char *v = NULL;
	CURLUcode rc = curl_url_get(u, what, &v, flags);
	out[0] = '\0';
	if (rc != CURLUE_OK) {
		curl_free(v);
		return rc == CURLUE_NO_HOST || rc == CURLUE_NO_PORT || rc == CURLUE_NO_QUERY ||
		       rc == CURLUE_NO_USER || rc == CURLUE_NO_PASSWORD || rc == CURLUE_NO_FRAGMENT;
	}
	bool fits = strlen(v) < outsz;
	if (fits)
		memcpy(out, v, strlen(v) + 1);
	curl_free(v);
	return fits;
}

static bool present(CURLU *u, CURLUPart what)
{
	char *v = NULL;
	bool yes = curl_url_get(u, what, &v, 0) == CURLUE_OK;
	curl_free(v);
	return yes;
}

static int uri_split(CURLU *u, const char *text, md_uri *out, md_error *err)
{
	const char *sep = strstr(text, "://");
	size_t sl = sep ? (size_t)(sep - text) : 0;
	if (!sep || sl == 0 || sl >= sizeof out->scheme || strcspn(text, "/?#") < sl)
		return md_err_set(err, MD_EUSAGE, "'%.200s' is not a URI (SCHEME://...)", text);
	/* The empty authority that libcurl would not see (uri.h): hand it a
	 * placeholder host, parse the rest as it would, and keep no host. */
	bool no_authority = sep[3] == '/';
	char buf[PATH_MAX + 1100];
	if (snprintf(buf, sizeof buf, "%.*s://%s%s", (int)sl, text, no_authority ? "localhost" : "",
		     sep + 3) >= (int)sizeof buf)
		return md_err_set(err, MD_EUSAGE, "'%.200s...' is too long", text);
	CURLUcode cc = curl_url_set(u, CURLUPART_URL, buf, URI_FLAGS);
	if (cc != CURLUE_OK)
		return md_err_set(err, MD_EUSAGE, "'%.200s' is not a valid URI (%s)", text,
				  cc == CURLUE_BAD_PORT_NUMBER ? "bad port"
				  : cc == CURLUE_BAD_FILE_URL  ? "a file:// URI names no host but localhost"
							       : "malformed");
	if (present(u, CURLUPART_USER) || present(u, CURLUPART_PASSWORD))
		return md_err_set(err, MD_EUSAGE, "'%.200s': a store URI carries no credentials "
				  "(user@host): they come from the environment", text);
	if (present(u, CURLUPART_FRAGMENT))
		return md_err_set(err, MD_EUSAGE, "'%.200s': a fragment (#...) means nothing here",
				  text);
	if (!part(u, CURLUPART_SCHEME, 0, out->scheme, sizeof out->scheme) ||
	    !part(u, CURLUPART_HOST, 0, out->host, sizeof out->host) ||
	    !part(u, CURLUPART_PORT, 0, out->port, sizeof out->port) ||
	    !part(u, CURLUPART_QUERY, 0, out->query, sizeof out->query))
		return md_err_set(err, MD_EUSAGE, "'%.200s': a part is too long", text);
	if (!part(u, CURLUPART_PATH, CURLU_URLDECODE, out->path, sizeof out->path) ||
	    has_control(out->path))
		return md_err_set(err, MD_EUSAGE, "'%.200s': the path is too long or holds an "
				  "encoded control character", text);
	/* libcurl decodes a percent-encoded host ("%7f"): what it gives back
	 * is checked, not only what was written. */
	if (!host_ok(out->host) || has_control(out->query))
		return md_err_set(err, MD_EUSAGE, "'%.200s': the host is not a plain host name or "
				  "address, or the query holds a control character", text);
	if (no_authority)
		out->host[0] = '\0';
	return MD_OK;
}

int md_uri_parse(const char *text, md_uri *out, md_error *err)
{
	memset(out, 0, sizeof *out);
	int rc = md_curl_dl_open(err);
	if (rc)
		return rc;
	if (has_control(text))
		return md_err_set(err, MD_EUSAGE, "a URI must not hold control characters");
	CURLU *u = curl_url();
	if (!u)
		return md_err_set(err, MD_EFAIL, "out of memory");
	rc = uri_split(u, text, out, err);
	curl_url_cleanup(u);
	if (rc)
		memset(out, 0, sizeof *out);
	return rc;
}

/* s[0..n) percent-decoded into out; false if it does not fit, decodes to a
 * control character or to nothing sensible. */
static bool decode(const char *s, size_t n, char *out, size_t outsz)
{
	int len = 0;
	char *v = curl_easy_unescape(NULL, s, (int)n, &len);
	bool ok = v && len >= 0 && (size_t)len < outsz && memchr(v, '\0', (size_t)len) == NULL;
	if (ok) {
		memcpy(out, v, (size_t)len);
		out[len] = '\0';
		ok = !has_control(out);
	}
	curl_free(v);
	return ok;
}

int md_uri_query_each(const char *q, md_uri_param_fn fn, void *ud, md_error *err)
{
	if (q && *q && md_curl_dl_open(err) != MD_OK)
		return err ? err->code : MD_EFAIL;
	while (q && *q) {
		size_t n = strcspn(q, "&"), kl = strcspn(q, "=");
		char key[128], val[512];
		if (n == 0) {
			q++;
			continue;
		}
		if (kl >= n)
			return md_err_set(err, MD_EUSAGE, "query part '%.*s' is not key=value",
					  (int)(n < 64 ? n : 64), q);
		if (!decode(q, kl, key, sizeof key) || !decode(q + kl + 1, n - kl - 1, val, sizeof val))
			return md_err_set(err, MD_EUSAGE, "query part '%.*s' is too long or holds an "
					  "encoded control character", (int)(n < 64 ? n : 64), q);
		int rc = fn(ud, key, val, err);
		if (rc)
			return rc;
		q += n + (q[n] == '&');
	}
	return MD_OK;
}
