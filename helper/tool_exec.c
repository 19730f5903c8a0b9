/* tool_exec.c - `mdcred exec`: run a command with a token in its environment. */
#include "tool.h"
#include "deliver/exec.h"
#include "base/file.h"
#include "motherduck/format.h"
#include "store/store.h"
#include "base/log.h"
#include "base/validate.h"

#include <limits.h>
#include <string.h>

#define EXEC_MAX_VARS 64
#define TOKEN_FILE_MAX 65536

typedef struct {
	tool_mint_opts mint;
	const char *from;
	const char *vars[EXEC_MAX_VARS];
	size_t nvars;
	bool revoke_on_exit;
	const char *user;
	char **cmd;
	char path[PATH_MAX];
	long long ttl;
} exec_args;

static int exec_parse(int argc, char **argv, exec_args *a, int *exit_code, md_error *err)
{
	static const struct option opts[] = {
		TOOL_MINT_LONGOPTS,
		{"from", required_argument, NULL, OPT_FROM},
		{"env", required_argument, NULL, OPT_ENV},
		{"revoke-on-exit", no_argument, NULL, OPT_REVOKE},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	int c, rc;
	optind = 0;
	while ((c = tool_getopt(argc, argv, "+", opts)) != -1) {
		if (tool_mint_opt(c, optarg, &a->mint))
			continue;
		switch (c) {
		case OPT_FROM: a->from = optarg; break;
		case OPT_REVOKE: a->revoke_on_exit = true; break;
		case OPT_HELP: return -OPT_HELP;
		case OPT_ENV:
			if (a->nvars == EXEC_MAX_VARS)
				return tool_usage(err, "exec", "too many --env names");
			if ((rc = md_exec_check_var(optarg, err)))
				return rc;
			a->vars[a->nvars++] = optarg;
			break;
		default: return tool_bad_option(argv, "exec", err);
		}
	}
	/* "+" mode stopped at USERNAME: options come before it, the command
	 * after a mandatory "--", so the command's own flags are never ours. */
	if (optind >= argc || optind + 1 >= argc || strcmp(argv[optind + 1], "--") != 0)
		return tool_usage(err, "exec", "expected [options] USERNAME -- COMMAND [ARG...]");
	a->user = argv[optind];
	a->cmd = argv + optind + 2;
	if (!a->cmd[0])
		return tool_usage(err, "exec", "no command given after --");
	if (a->nvars == 0)
		a->vars[a->nvars++] = "MOTHERDUCK_TOKEN";
	if (a->from && a->mint.any)
		return tool_usage(err, "exec", "--from reads an existing token; --type, --ttl and "
				  "--name are for minting one");
	if (a->from && a->revoke_on_exit)
		return tool_usage(err, "exec", "--revoke-on-exit revokes the token mdcred mints; "
				  "it cannot be used with --from");
	if ((rc = md_valid_username(a->user, err)))
		return rc;
	if (!a->from && (rc = tool_mint_prepare(&a->mint, a->user, &a->ttl, err)))
		return rc;
	/* Decided before a token exists, so a typo orphans nothing. */
	return md_exec_resolve(a->cmd[0], a->path, sizeof a->path, exit_code, err);
}

/* --from any store URI (file://, vault://, k8s://). */
static int exec_from_store(const char *uri, md_secret **tok, md_error *err)
{
	md_store *st = NULL;
	md_store_value v;
	int rc = tool_store_open(uri, &st, err);
	if (!rc)
		rc = md_store_read(st, &v, err);
	if (!rc && !v.token)
		rc = md_err_set(err, MD_ENOTFOUND, "no token is stored at %s (no such file, or no "
				"such secret)", md_store_describe(st));
	if (!rc) {
		*tok = v.token;
		v.token = NULL;
	}
	if (st && !rc)
		md_store_value_clear(&v);
	md_store_free(st);
	if (rc)
		md_err_prefix(err, "--from");
	return rc;
}

static void exec_revoke(md_http *h, const char *user, const md_token *t)
{
	md_error e = {0};
	if (md_api_token_revoke(h, user, t->meta.id, &e) == MD_OK)
		md_log_info("revoked token %s", t->meta.id);
	else
		md_log_error("could not revoke token %s: %s", t->meta.id, e.msg);
}

int tool_cmd_exec(int argc, char **argv, int *exit_code, md_error *err)
{
	exec_args a = {0};
	int rc = exec_parse(argc, argv, &a, exit_code, err);
	if (rc == -OPT_HELP) {
		*exit_code = -1;
		return tool_help_print("exec");
	}
	if (rc)
		return rc; /* exit_code is 126/127 only when the command lookup failed */
	*exit_code = -1;
	_cleanup_http_ md_http *h = NULL;
	_cleanup_token_ md_token t = {0};
	_cleanup_exec_env_ md_exec_env env = {0};
	if (a.from) {
		rc = exec_from_store(a.from, &t.secret, err);
	} else if (!(rc = tool_client(&h, err))) {
		rc = tool_mint(h, &a.mint, a.user, a.ttl, &t, err);
	}
	if (!rc)
		rc = md_exec_env_build(t.secret, a.vars, a.nvars, &env, err);
	if (rc)
		return rc;
	if (a.revoke_on_exit) {
		rc = md_exec_supervise(a.path, a.cmd, &env, exit_code, err);
		exec_revoke(h, a.user, &t);
	} else {
		/* The client stays until execve succeeds (its descriptors are
		 * close-on-exec; the admin token dies with this image), so a
		 * failed exec can still revoke what it minted. */
		rc = md_exec_replace(a.path, a.cmd, &env, exit_code, err);
		md_log_error("%s", err->msg);
		err->msg[0] = '\0';
		if (h)
			exec_revoke(h, a.user, &t);
	}
	return rc;
}
