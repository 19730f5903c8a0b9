/* tool_main.c - mdcred's entry: start-up (lib/base/proc.h), global options, dispatch. */
#include "tool.h"
#include "base/env.h"
#include "base/log.h"
#include "base/proc.h"
#include "base/validate.h"
#include "base/secret.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

tool_global tool_g;


static int parse_globals(int argc, char **argv, md_error *err)
{
	static const struct option opts[] = {
		{"api-url", required_argument, NULL, 'u'},
		{"admin-token-file", required_argument, NULL, 'f'},
		{"cacert", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{"retries", required_argument, NULL, 'r'},
		{"verbose", no_argument, NULL, 'v'},
		{"log-format", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	tool_g.api_url = md_env("MOTHERDUCK_API_BASE_URL", "https://api.motherduck.com");
	tool_g.admin_token_file = md_env("MOTHERDUCK_ADMIN_TOKEN_FILE", NULL);
	tool_g.cacert = md_env("MDCRED_CACERT", NULL);
	const char *timeout = md_env("MDCRED_TIMEOUT", "30");
	const char *retries = md_env("MDCRED_RETRIES", "3");
	const char *logfmt = md_env("MDCRED_LOG_FORMAT", "text");
	bool verbose = md_env("MDCRED_VERBOSE", NULL) != NULL;
	int c;
	/* '+': stop at the command name; its own options follow it. */
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'u': tool_g.api_url = optarg; break;
		case 'f': tool_g.admin_token_file = optarg; break;
		case 'c': tool_g.cacert = optarg; break;
		case 't': timeout = optarg; break;
		case 'r': retries = optarg; break;
		case 'v': verbose = true; break;
		case 'l': logfmt = optarg; break;
		case 'h': return -'h';
		case 'V': return -'V';
		default: return tool_usage(err, NULL, "unknown global option (see 'mdcred help')");
		}
	}
	long long v;
	int fmt = md_log_format_parse(logfmt);
	if (fmt < 0)
		return md_err_set(err, MD_EUSAGE, "--log-format: '%.32s' is not text or json", logfmt);
	md_log_set_format((md_log_format)fmt);
	if (verbose)
		md_log_set_level(MD_LOG_DEBUG);
	int rc = md_valid_int("--timeout", timeout, 1, 3600, &v, err);
	if (rc)
		return rc;
	tool_g.timeout = (long)v;
	rc = md_valid_int("--retries", retries, 0, 10, &v, err);
	if (rc)
		return rc;
	tool_g.retries = (int)v;
	/* --api-url is checked when a client is made (tool_client): commands
	 * that never talk to the API must not load the HTTP stack. */
	return MD_OK;
}

struct tool_cmd {
	const char *name;
	int (*run)(int argc, char **argv, md_error *err);
};

static const struct tool_cmd commands[] = {
	{"account", tool_cmd_account},
	{"ducklings", tool_cmd_ducklings},
	{"token", tool_cmd_token},
	{"push", tool_cmd_push},
	{"rotate", tool_cmd_rotate},
	{"get", tool_cmd_get},
	{"help", tool_cmd_help},
	{"version", tool_cmd_version},
};

static int tool_run(int argc, char **argv, int *exit_code, md_error *err)
{
	int rc = parse_globals(argc, argv, err);
	if (rc == -'h')
		return tool_help_print(NULL);
	if (rc == -'V')
		return tool_cmd_version(0, NULL, err);
	if (rc)
		return rc;
	if (optind >= argc)
		return tool_usage(err, NULL, "no command given (see 'mdcred help')");
	char **cargv = argv + optind;
	int cargc = argc - optind;
	if (strcmp(cargv[0], "exec") == 0)
		return tool_cmd_exec(cargc, cargv, exit_code, err);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(cargv[0], commands[i].name) == 0)
			return commands[i].run(cargc, cargv, err);
	return tool_usage(err, NULL, "unknown command '%.64s' (see 'mdcred help')", cargv[0]);
}

int main(int argc, char **argv)
{
	/* Before anything opens a descriptor: a closed stdout must not become
	 * a socket the token is printed into. */
	if (md_proc_start(MD_PROC_HARDEN) < 0)
		return 1;
	/* A reader gone from stdout must be an error we handle (revoking what
	 * we minted), not a silent death; exec gives the command the caller's
	 * disposition back. */
	signal(SIGPIPE, SIG_IGN);
	md_log_init("mdcred", MD_LOG_INFO, MD_LOG_TEXT);
	md_error err = {0};
	/* Take the admin token out of the environment before anything else:
	 * no child, and no /proc/<pid>/environ reader, may see it. */
	if (md_secret_take_env("MOTHERDUCK_ADMIN_TOKEN", &tool_g.admin_env_token, &err)) {
		md_log_error("%s", err.msg);
		return md_err_exit_code(&err);
	}
	int exit_code = -1;
	int rc = tool_run(argc, argv, &exit_code, &err);
	md_secret_free(tool_g.admin_env_token);
	if (rc != MD_OK && err.msg[0])
		md_log_error("%s", err.msg);
	if (exit_code >= 0)
		return exit_code; /* exec: the command's own code, or 126/127 */
	return rc == MD_OK ? 0 : md_err_exit_code(&err);
}
