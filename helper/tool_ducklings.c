/* tool_ducklings.c - `mdcred ducklings get|set`. */
#include "tool.h"
#include "motherduck/ducklings.h"
#include "base/json.h"
#include "base/log.h"
#include "base/validate.h"

#include <string.h>

static int ducklings_print(const md_ducklings *d, bool json, md_error *err)
{
	_cleanup_secret_ md_secret *out = md_secret_new(512);
	if (!out)
		return md_err_set(err, MD_EFAIL, "out of memory");
	int bad;
	if (json) {
		md_jw w;
		md_jw_init(&w, out);
		md_api_ducklings_write(&w, d);
		bad = !md_jw_ok(&w) || md_secret_append(out, "\n", 1);
	} else {
		bad = md_dk_text(out, d);
	}
	return bad ? md_err_set(err, MD_EFAIL, "out of memory") : tool_print(out, err);
}

int tool_cmd_ducklings(int argc, char **argv, md_error *err)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"rw-size", required_argument, NULL, OPT_RW_SIZE},
		{"rw-cooldown", required_argument, NULL, OPT_RW_COOLDOWN},
		{"rs-size", required_argument, NULL, OPT_RS_SIZE},
		{"flock-size", required_argument, NULL, OPT_FLOCK},
		{"rs-cooldown", required_argument, NULL, OPT_RS_COOLDOWN},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	if (argc < 2)
		return tool_usage(err, "ducklings", "expected get or set");
	bool set = strcmp(argv[1], "set") == 0, json = false;
	if (!set && strcmp(argv[1], "get") != 0)
		return tool_usage(err, "ducklings", "unknown subcommand '%.32s'", argv[1]);
	md_dk_flags f = {0};
	int c;
	optind = 0;
	while ((c = tool_getopt(argc - 1, argv + 1, "", opts)) != -1) {
		switch (c) {
		case OPT_JSON: json = true; break;
		case OPT_RW_SIZE: f.rw_size = optarg; break;
		case OPT_RW_COOLDOWN: f.rw_cooldown = optarg; break;
		case OPT_RS_SIZE: f.rs_size = optarg; break;
		case OPT_FLOCK: f.flock_size = optarg; break;
		case OPT_RS_COOLDOWN: f.rs_cooldown = optarg; break;
		case OPT_HELP: return tool_help_print("ducklings");
		default:
			return tool_bad_option(argv + 1, "ducklings", err);
		}
		if (c != OPT_JSON && !set)
			return tool_usage(err, "ducklings", "'ducklings get' takes only --json");
	}
	int rc = tool_want_args(argc - 1 - optind, 1, 1, "ducklings", err);
	const char *user = argv[1 + optind];
	md_dk_changes chg;
	if (!rc)
		rc = md_valid_username(user, err);
	if (!rc && set)
		rc = md_dk_parse(&f, &chg, err);
	if (rc)
		return rc;
	_cleanup_http_ md_http *h = NULL;
	if ((rc = tool_client(&h, err)))
		return rc;
	md_ducklings cur, next;
	rc = md_api_ducklings_get(h, user, &cur, err);
	if (!rc && set) {
		rc = md_dk_apply(&cur, &chg, &next, err);
		if (!rc)
			rc = md_api_ducklings_put(h, user, &next, &cur, err);
		if (!rc)
			md_log_info("updated the Ducklings of '%s'", user);
	}
	return rc ? rc : ducklings_print(&cur, json, err);
}
