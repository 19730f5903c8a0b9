/* tool_rotate_config.c - `mdcred rotate --config FILE [--parallel N]`: the
 * roles of a file, side by side (lib/deliver/rotate_batch.h does the work). */
#include "tool.h"
#include "base/log.h"
#include "deliver/rotate_batch.h"
#include "deliver/rotconf.h"
#include "base/validate.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

struct rc_out {
	bool json;
	bool progress;  /* a status line on the terminal */
	size_t done, failed, total;
	bool stdout_failed;
};

/* Called by the batch once per finished role, one call at a time. */
static void rc_on_done(void *ud, const md_rotconf_role *role, const md_rot_result *res,
		       const md_error *e)
{
	struct rc_out *o = ud;
	md_error perr = {0};
	o->done++;
	if (e->code != MD_OK) {
		o->failed++;
		/* The role's tag is on this thread's log lines already. */
		md_log_error("%s", e->msg);
	}
	if (!o->stdout_failed &&
	    tool_rotate_print(role->role, res, o->json, e->code != MD_OK ? e : NULL, &perr))
		o->stdout_failed = true;
	if (o->progress) {
		char line[128];
		snprintf(line, sizeof line, "mdcred: rotate: %zu/%zu roles done, %zu failed", o->done,
			 o->total, o->failed);
		md_log_status(line);
	}
}

int tool_rotate_config(const char *path, const char *parallel, const char *state_dir, bool force,
		       bool json, md_error *err)
{
	long long par = MD_ROTB_PARALLEL_DEFAULT;
	char dir[PATH_MAX];
	int rc;
	if (parallel && (rc = md_valid_int("--parallel", parallel, 1, MD_ROTB_PARALLEL_MAX, &par, err)))
		return rc;
	if (!state_dir && md_rot_default_state_dir(dir, sizeof dir) < 0)
		return tool_usage(err, "rotate", "no state dir: give --state-dir");
	md_rotconf conf = {0};
	if ((rc = md_rotconf_load(path, &conf, err)))
		return rc;
	_cleanup_secret_ md_secret *tok = NULL;
	md_http_opts api;
	if ((rc = tool_api_opts(&api, &tok, err))) {
		md_rotconf_free(&conf);
		return rc;
	}
	md_store_opts stores = tool_store_opts();
	struct rc_out out = {
		.json = json,
		.progress = !json && md_log_get_format() == MD_LOG_TEXT && isatty(STDERR_FILENO),
		.total = conf.n,
	};
	md_rotb_req rq = {
		.conf = &conf,
		.api = &api,
		.stores = &stores,
		.state_dir = state_dir ? state_dir : dir,
		.force = force,
		.parallel = (int)par,
		.on_done = rc_on_done,
		.ud = &out,
	};
	/* Hundreds of roles: stdout has a line for each, so stderr keeps to
	 * warnings and errors unless --verbose asks for more. */
	if (!md_log_enabled(MD_LOG_DEBUG))
		md_log_set_level(MD_LOG_WARN);
	md_rotb_summary sum;
	rc = md_rotb_run(&rq, &sum, err);
	md_rotconf_free(&conf);
	char summary[128], line[160];
	snprintf(summary, sizeof summary, "rotate: %zu roles: %zu rotated, %zu fresh, %zu skipped, "
		 "%zu failed", sum.total, sum.rotated, sum.fresh, sum.skipped, sum.failed);
	if (out.progress && rc == MD_OK) {
		snprintf(line, sizeof line, "mdcred: %s", summary);
		md_log_status(line);
		md_log_status_keep();
	} else if (out.progress) {
		md_log_status(NULL);
	}
	if (rc)
		return rc;
	md_log_debug("%s", summary);
	if (sum.failed > 0)
		return md_err_set(err, (md_code)sum.exit_code, "rotate: %zu of %zu roles failed",
				  sum.failed, sum.total);
	if (out.stdout_failed)
		return md_err_set(err, MD_EFAIL, "rotate: cannot write the results to stdout");
	return MD_OK;
}
