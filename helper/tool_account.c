/* tool_account.c - `mdcred account create|delete|active`. */
#include "tool.h"
#include "base/log.h"
#include "base/validate.h"

#include <string.h>

static int account_opts(int argc, char **argv, bool *json, const char *cmd, md_error *err)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 0;
	while ((c = tool_getopt(argc, argv, "", opts)) != -1) {
		if (c == OPT_JSON && json)
			*json = true;
		else if (c == OPT_HELP)
			return -OPT_HELP;
		else
			return tool_bad_option(argv, cmd, err);
	}
	return MD_OK;
}

int tool_cmd_account(int argc, char **argv, md_error *err)
{
	if (argc < 2)
		return tool_usage(err, "account", "expected create, delete or active");
	const char *sub = argv[1];
	bool json = false, active = strcmp(sub, "active") == 0;
	if (strcmp(sub, "create") && strcmp(sub, "delete") && !active)
		return tool_usage(err, "account", "unknown subcommand '%.32s'", sub);
	int rc = account_opts(argc - 1, argv + 1, active ? &json : NULL, "account", err);
	if (rc == -OPT_HELP)
		return tool_help_print("account");
	if (!rc)
		rc = tool_want_args(argc - 1 - optind, active ? 0 : 1, active ? 0 : 1, "account", err);
	if (rc)
		return rc;
	const char *user = active ? NULL : argv[1 + optind];
	if (user && (rc = md_valid_username(user, err)))
		return rc;
	_cleanup_http_ md_http *h = NULL;
	if ((rc = tool_client(&h, err)))
		return rc;
	if (active) {
		_cleanup_secret_ md_secret *body = NULL;
		rc = md_api_active_accounts(h, &body, err);
		if (!rc && md_secret_append(body, "\n", 1) == 0)
			rc = tool_print(body, err);
	} else if (strcmp(sub, "create") == 0) {
		rc = md_api_user_create(h, user, err);
		if (!rc) {
			md_log_info("created service account '%s'", user);
			_cleanup_secret_ md_secret *out = md_secret_new(64);
			md_secret_appendf(out, "%s\n", user);
			rc = tool_print(out, err);
		}
	} else {
		rc = md_api_user_delete(h, user, err);
		if (!rc)
			md_log_info("deleted service account '%s'", user);
	}
	return rc;
}
