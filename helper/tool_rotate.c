/* tool_rotate.c - `mdcred rotate USERNAME --store URI... [options]` (one role). */
#include "tool.h"
#include "base/json.h"
#include "base/log.h"
#include "deliver/rotate.h"
#include "base/validate.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define ROTATE_MAX_STORES 32

int tool_rotate_print(const char *role, const md_rot_result *r, bool json, const md_error *e,
		      md_error *err)
{
	_cleanup_secret_ md_secret *out = md_secret_new(512);
	if (!out)
		return md_err_set(err, MD_EFAIL, "out of memory");
	if (json) {
		md_jw w;
		md_jw_init(&w, out);
		md_jw_obj_begin(&w);
		md_jw_key(&w, "role");
		md_jw_str(&w, role);
		md_jw_key(&w, "action");
		md_jw_str(&w, md_rot_action_name(r->action));
		md_jw_key(&w, "token_id");
		md_jw_str(&w, r->meta.id[0] ? r->meta.id : NULL);
		md_jw_key(&w, "expire_at");
		md_jw_str(&w, r->meta.expire_at[0] ? r->meta.expire_at : NULL);
		md_jw_key(&w, "stores");
		md_jw_int(&w, r->stores_ok);
		md_jw_key(&w, "revoked");
		md_jw_int(&w, r->revoked);
		md_jw_key(&w, "error");
		md_jw_str(&w, e && e->code != MD_OK ? e->msg : NULL);
		md_jw_obj_end(&w);
		md_secret_append(out, "\n", 1);
	} else {
		md_secret_appendf(out, "%s %s %s %s\n", md_rot_action_name(r->action), role,
				  r->meta.id[0] ? r->meta.id : "-",
				  r->meta.expire_at[0] ? r->meta.expire_at : "-");
	}
	return tool_print(out, err);
}

int tool_cmd_rotate(int argc, char **argv, md_error *err)
{
	static const struct option opts[] = {
		TOOL_MINT_LONGOPTS,
		{"store", required_argument, NULL, OPT_STORE},
		{"every", required_argument, NULL, OPT_EVERY},
		{"grace", required_argument, NULL, OPT_GRACE},
		{"keep", required_argument, NULL, OPT_KEEP},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"role", required_argument, NULL, OPT_ROLE},
		{"force", no_argument, NULL, OPT_FORCE},
		{"json", no_argument, NULL, OPT_JSON},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"parallel", required_argument, NULL, OPT_PARALLEL},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	tool_mint_opts m = {0};
	const char *uris[ROTATE_MAX_STORES], *every = NULL, *grace = "1h", *keep = "2";
	const char *state_dir = NULL, *role = NULL, *config = NULL, *parallel = NULL;
	bool one_role_opt = false;
	size_t n = 0;
	bool force = false, json = false;
	int c, rc;
	optind = 0;
	while ((c = tool_getopt(argc, argv, "", opts)) != -1) {
		if (tool_mint_opt(c, optarg, &m))
			continue;
		one_role_opt |= c == OPT_STORE || c == OPT_EVERY || c == OPT_GRACE || c == OPT_KEEP ||
				c == OPT_ROLE;
		switch (c) {
		case OPT_STORE:
			if (n == ROTATE_MAX_STORES)
				return tool_usage(err, "rotate", "at most %d --store", ROTATE_MAX_STORES);
			uris[n++] = optarg;
			break;
		case OPT_EVERY: every = optarg; break;
		case OPT_GRACE: grace = optarg; break;
		case OPT_KEEP: keep = optarg; break;
		case OPT_STATE_DIR: state_dir = optarg; break;
		case OPT_ROLE: role = optarg; break;
		case OPT_FORCE: force = true; break;
		case OPT_JSON: json = true; break;
		case OPT_CONFIG: config = optarg; break;
		case OPT_PARALLEL: parallel = optarg; break;
		case OPT_HELP: return tool_help_print("rotate");
		default: return tool_bad_option(argv, "rotate", err);
		}
	}
	if (config) {
		if (optind < argc || one_role_opt || m.any)
			return tool_usage(err, "rotate", "--config takes the roles from FILE: give no "
					  "USERNAME, --store, --role, --type, --ttl, --name, --every, "
					  "--grace or --keep with it");
		return tool_rotate_config(config, parallel, state_dir, force, json, err);
	}
	if (parallel)
		return tool_usage(err, "rotate", "--parallel goes with --config");
	if ((rc = tool_want_args(argc - optind, 1, 1, "rotate", err)))
		return rc;
	if (n == 0)
		return tool_usage(err, "rotate", "give at least one --store URI");
	md_rot_req rq = {.username = argv[optind], .token_type = m.type, .force = force,
			 .attempts = tool_g.retries + 1};
	rq.role = role ? role : rq.username;
	long long k;
	char dir[PATH_MAX];
	if ((rc = tool_mint_prepare(&m, rq.username, &rq.ttl, err)) ||
	    (rc = md_rot_valid_role(rq.role, err)) ||
	    (rc = md_valid_duration("--grace", grace, false, &rq.grace, err)) ||
	    (rc = md_valid_int("--keep", keep, 1, 100, &k, err)))
		return rc;
	rq.keep = (int)k;
	rq.every = md_rot_default_every(rq.ttl);
	if (every && (rc = md_valid_duration("--every", every, false, &rq.every, err)))
		return rc;
	if (!state_dir && md_rot_default_state_dir(dir, sizeof dir) < 0)
		return tool_usage(err, "rotate", "no state dir: give --state-dir");
	rq.state_dir = state_dir ? state_dir : dir;

	md_store *stores[ROTATE_MAX_STORES] = {0};
	rc = tool_stores_open(uris, n, stores, err);
	_cleanup_http_ md_http *h = NULL;
	if (!rc)
		rc = tool_client(&h, err);
	if (!rc) {
		md_rot_result res;
		md_log_set_role(rq.role);
		rc = md_rotate(h, &rq, stores, n, &res, err);
		md_log_set_role(NULL);
		int prc = tool_rotate_print(rq.role, &res, json, rc ? err : NULL, err);
		if (!rc)
			rc = prc;
	}
	tool_stores_free(stores, n);
	return rc;
}
