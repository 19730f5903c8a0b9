/* tool_token.c - `mdcred token create|list|revoke`. */
#include "tool.h"
#include "base/file.h"
#include "motherduck/format.h"
#include "base/json.h"
#include "base/log.h"
#include "motherduck/mint.h"
#include "base/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int token_create(int argc, char **argv, md_error *err)
{
	static const struct option opts[] = {
		TOOL_MINT_LONGOPTS,
		{"format", required_argument, NULL, OPT_FORMAT},
		{"output", required_argument, NULL, OPT_OUTPUT},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	tool_mint_opts m = {0};
	int c;
	optind = 0;
	while ((c = tool_getopt(argc, argv, "o:", opts)) != -1) {
		if (tool_mint_opt(c, optarg, &m))
			continue;
		if (c == OPT_FORMAT)
			m.format = optarg;
		else if (c == OPT_OUTPUT || c == 'o')
			m.output = optarg;
		else if (c == OPT_HELP)
			return tool_help_print("token");
		else
			return tool_bad_option(argv, "token create", err);
	}
	int rc = tool_want_args(argc - optind, 1, 1, "token create", err);
	if (rc)
		return rc;
	const char *user = argv[optind];
	long long ttl;
	md_fmt fmt = MD_FMT_TOKEN;
	if ((rc = tool_mint_prepare(&m, user, &ttl, err)) ||
	    (m.format && (rc = md_fmt_parse(m.format, &fmt, err))))
		return rc;
	if (m.output && !m.output[0])
		return tool_usage(err, "token create", "--output needs a file name");
	if (!m.output && (rc = tool_stdout_usable("token create", " (use --output FILE)", err)))
		return rc;
	/* Before a token exists: a directory or a device orphans nothing. */
	if (m.output && (rc = md_file_check_target(m.output, err)))
		return rc;
	_cleanup_http_ md_http *h = NULL;
	if ((rc = tool_client(&h, err)))
		return rc;
	_cleanup_token_ md_token t = {0};
	rc = tool_mint(h, &m, user, ttl, &t, err);
	_cleanup_secret_ md_secret *out = md_secret_new(2048);
	if (!rc && (!out || md_fmt_token(out, fmt, &t, user, NULL) < 0))
		rc = md_err_set(err, MD_EFAIL, "out of memory");
	if (!rc && m.output) {
		rc = md_file_write_atomic(m.output, out, 0600, err);
		if (!rc)
			md_log_info("wrote token %s to %s (mode 0600)", t.meta.id, m.output);
	} else if (!rc) {
		rc = tool_stdout(out, err);
	}
	if (rc && t.secret)
		md_mint_revoke_undelivered(h, user, &t.meta);
	return rc;
}

static int token_list_print(const char *user, const md_token_meta *l, size_t n, bool json,
			    md_error *err)
{
	_cleanup_secret_ md_secret *out = md_secret_new(256 + n * 256);
	if (!out)
		return md_err_set(err, MD_EFAIL, "out of memory");
	if (json) {
		md_jw w;
		md_jw_init(&w, out);
		md_jw_obj_begin(&w);
		md_jw_key(&w, "username");
		md_jw_str(&w, user);
		md_jw_key(&w, "tokens");
		md_jw_arr_begin(&w);
		for (size_t i = 0; i < n; i++) {
			md_jw_obj_begin(&w);
			md_fmt_meta_json(&w, &l[i]);
			md_jw_obj_end(&w);
		}
		md_jw_arr_end(&w);
		md_jw_obj_end(&w);
		if (!md_jw_ok(&w) || md_secret_append(out, "\n", 1))
			return md_err_set(err, MD_EFAIL, "out of memory");
	} else {
		md_secret_appendf(out, "%-36s  %-12s  %-20s  %-20s  %s\n", "ID", "TYPE", "EXPIRES",
				  "CREATED", "NAME");
		for (size_t i = 0; i < n; i++)
			md_secret_appendf(out, "%-36s  %-12s  %-20s  %-20s  %s\n", l[i].id,
					  l[i].token_type, l[i].expire_at[0] ? l[i].expire_at : "never",
					  l[i].created_ts, l[i].name);
	}
	return tool_print(out, err);
}

static int token_list(int argc, char **argv, md_error *err)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	int c;
	optind = 0;
	while ((c = tool_getopt(argc, argv, "", opts)) != -1) {
		if (c == OPT_JSON)
			json = true;
		else if (c == OPT_HELP)
			return tool_help_print("token");
		else
			return tool_bad_option(argv, "token list", err);
	}
	int rc = tool_want_args(argc - optind, 1, 1, "token list", err);
	const char *user = argv[optind];
	if (rc || (rc = md_valid_username(user, err)))
		return rc;
	_cleanup_http_ md_http *h = NULL;
	if ((rc = tool_client(&h, err)))
		return rc;
	md_token_meta *l = NULL;
	size_t n = 0;
	rc = md_api_token_list(h, user, &l, &n, err);
	if (!rc)
		rc = token_list_print(user, l, n, json, err);
	free(l);
	return rc;
}

static int token_revoke(int argc, char **argv, md_error *err)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 0;
	while ((c = tool_getopt(argc, argv, "", opts)) != -1) {
		if (c == OPT_HELP)
			return tool_help_print("token");
		return tool_bad_option(argv, "token revoke", err);
	}
	int rc = tool_want_args(argc - optind, 2, 1000, "token revoke", err);
	const char *user = argv[optind];
	if (rc || (rc = md_valid_username(user, err)))
		return rc;
	for (int i = optind + 1; i < argc; i++)
		if ((rc = md_valid_token_id(argv[i], err)))
			return rc;
	_cleanup_http_ md_http *h = NULL;
	if ((rc = tool_client(&h, err)))
		return rc;
	/* Revoke every id; report each failure; exit with the first one. */
	int first = MD_OK;
	for (int i = optind + 1; i < argc; i++) {
		md_error e = {0};
		rc = md_api_token_revoke(h, user, argv[i], &e);
		if (rc == MD_OK) {
			md_log_info("revoked token %s of %s", argv[i], user);
		} else if (first == MD_OK) {
			first = rc;
			*err = e;
		} else {
			md_log_error("%s", e.msg);
		}
	}
	return first;
}

int tool_cmd_token(int argc, char **argv, md_error *err)
{
	if (argc < 2)
		return tool_usage(err, "token", "expected create, list or revoke");
	if (strcmp(argv[1], "create") == 0)
		return token_create(argc - 1, argv + 1, err);
	if (strcmp(argv[1], "list") == 0)
		return token_list(argc - 1, argv + 1, err);
	if (strcmp(argv[1], "revoke") == 0)
		return token_revoke(argc - 1, argv + 1, err);
	return tool_usage(err, "token", "unknown subcommand '%.32s'", argv[1]);
}
