/* tool_setup.c - what every mdcred command shares: the admin token and API
 * client, stdout, option parsing helpers, and the mint options. */
#include "tool.h"
#include "base/file.h"
#include "base/log.h"
#include "motherduck/mint.h"
#include "base/redact.h"
#include "base/proc.h"
#include "store/store.h"
#include "base/validate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_TOKEN_MAX 16384

int tool_api_opts(md_http_opts *o, md_secret **tok, md_error *err)
{
	*tok = NULL;
	if (tool_g.admin_token_file) {
		int rc = md_secret_read_file(tool_g.admin_token_file, ADMIN_TOKEN_MAX, tok, err);
		if (rc) {
			md_err_prefix(err, "admin token");
			return rc;
		}
	} else if (tool_g.admin_env_token) {
		*tok = tool_g.admin_env_token;
		tool_g.admin_env_token = NULL;
	} else {
		return md_err_set(err, MD_EUSAGE,
				  "no admin token: set MOTHERDUCK_ADMIN_TOKEN, or give "
				  "--admin-token-file FILE (or - for stdin)");
	}
	*o = (md_http_opts){
		.base_url = tool_g.api_url,
		.cacert = tool_g.cacert,
		.timeout_secs = tool_g.timeout,
		.retries = tool_g.retries,
		.bearer = *tok,
	};
	return MD_OK;
}

int tool_client(md_http **out, md_error *err)
{
	_cleanup_secret_ md_secret *tok = NULL;
	md_http_opts o;
	int rc = tool_api_opts(&o, &tok, err);
	return rc ? rc : md_http_new(&o, out, err);
}

md_store_opts tool_store_opts(void)
{
	return (md_store_opts){.timeout_secs = tool_g.timeout, .retries = tool_g.retries};
}

int tool_store_open(const char *uri, md_store **out, md_error *err)
{
	md_store_opts o = tool_store_opts();
	return md_store_open(uri, &o, out, err);
}

int tool_stores_open(const char *const *uris, size_t n, struct md_store **stores, md_error *err)
{
	size_t a, b;
	for (size_t i = 0; i < n; i++) {
		int rc = tool_store_open(uris[i], &stores[i], err);
		if (rc) {
			tool_stores_free(stores, i);
			return rc;
		}
	}
	if (md_store_find_twins(stores, n, &a, &b)) {
		tool_stores_free(stores, n);
		return md_err_set(err, MD_EUSAGE, "--store '%.200s' writes the same place as --store "
				  "'%.200s'", uris[b], uris[a]);
	}
	return MD_OK;
}

void tool_stores_free(struct md_store **stores, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		md_store_free(stores[i]);
		stores[i] = NULL;
	}
}

int tool_stdout(const md_secret *s, md_error *err)
{
	/* /dev/null since start (lib/base/proc.h): writing would "succeed". */
	if (md_proc_fd_was_closed(STDOUT_FILENO))
		return md_err_set(err, MD_EFAIL, "cannot write to stdout: it was closed when mdcred "
				  "started");
	if (md_file_write_fd(STDOUT_FILENO, md_secret_str(s), md_secret_len(s)) < 0)
		return md_err_set(err, MD_EFAIL, "cannot write to stdout: %s", strerror(errno));
	return MD_OK;
}

int tool_print(md_secret *s, md_error *err)
{
	/* A server may repeat a credential in anything it sends (a name, an
	 * error, a field of active accounts): data passes redaction. */
	size_t n = md_secret_len(s);
	md_redact_buf((char *)md_secret_str(s), &n);
	md_secret_truncate(s, n);
	return tool_stdout(s, err);
}

int tool_stdout_usable(const char *cmd, const char *hint, md_error *err)
{
	if (!md_proc_fd_was_closed(STDOUT_FILENO))
		return MD_OK;
	return md_err_set(err, MD_EUSAGE, "%s: stdout is closed: there is nowhere to print the "
			  "token%s", cmd, hint ? hint : "");
}

int tool_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	opterr = 0;
	return getopt_long(argc, argv, shortopts, longopts, NULL);
}

int tool_usage(md_error *err, const char *cmd, const char *fmt, ...)
{
	char msg[MD_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (cmd)
		return md_err_set(err, MD_EUSAGE, "%s: %s (see 'mdcred help %.*s')", cmd, msg,
				  (int)strcspn(cmd, " "), cmd);
	return md_err_set(err, MD_EUSAGE, "%s", msg);
}

int tool_bad_option(char **sub_argv, const char *cmd, md_error *err)
{
	const char *o = optind > 0 ? sub_argv[optind - 1] : "?";
	return tool_usage(err, cmd, "unknown option or missing value: '%.64s'", o ? o : "?");
}

int tool_want_args(int argc, int lo, int hi, const char *cmd, md_error *err)
{
	if (argc < lo)
		return tool_usage(err, cmd, "missing argument");
	if (argc > hi)
		return tool_usage(err, cmd, "too many arguments");
	return MD_OK;
}

bool tool_mint_opt(int c, const char *arg, tool_mint_opts *m)
{
	switch (c) {
	case OPT_TYPE: m->type = arg; break;
	case OPT_TTL: m->ttl = arg; break;
	case OPT_NAME: m->name = arg; break;
	default: return false;
	}
	m->any = true;
	return true;
}

int tool_mint_prepare(const tool_mint_opts *m, const char *username, long long *ttl,
		      md_error *err)
{
	int rc = md_valid_username(username, err);
	if (!rc && m->type)
		rc = md_valid_token_type(m->type, err);
	if (!rc && m->name)
		rc = md_valid_token_name(m->name, err);
	*ttl = MD_TTL_DEFAULT;
	if (!rc && m->ttl)
		rc = md_valid_ttl(m->ttl, ttl, err);
	if (!rc && *ttl == MD_TTL_NONE)
		md_log_warn("--ttl none: this token never expires; revoke it when it is no longer "
			    "needed");
	return rc;
}

int tool_mint(md_http *h, const tool_mint_opts *m, const char *username, long long ttl,
	      md_token *out, md_error *err)
{
	md_mint_req q = {
		.username = username,
		.name = m->name,
		.token_type = m->type ? m->type : "read_write",
		.ttl = ttl,
		.attempts = tool_g.retries + 1,
	};
	int rc = md_mint(h, &q, out, err);
	/* The expiry as the API reported it; none reported is not "never"
	 * unless none was asked for. */
	const char *exp = out->meta.expire_at[0] ? "expires " : ttl == MD_TTL_NONE
									? "never expires"
									: "expiry not reported";
	if (rc == MD_OK)
		md_log_info("minted %s token '%s' for %s (id %s, %s%s)", out->meta.token_type,
			    out->meta.name, username, out->meta.id, exp, out->meta.expire_at);
	return rc;
}
