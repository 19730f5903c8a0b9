/* tool_push.c - `mdcred push USERNAME --store URI... [token create options]`. */
#include "tool.h"
#include "deliver/push.h"
#include "base/validate.h"

#include <stdlib.h>
#include <string.h>

#define PUSH_MAX_STORES 32

int tool_cmd_push(int argc, char **argv, md_error *err)
{
	static const struct option opts[] = {
		TOOL_MINT_LONGOPTS,
		{"store", required_argument, NULL, OPT_STORE},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	tool_mint_opts m = {0};
	const char *uris[PUSH_MAX_STORES];
	size_t n = 0;
	int c;
	optind = 0;
	while ((c = tool_getopt(argc, argv, "", opts)) != -1) {
		if (tool_mint_opt(c, optarg, &m))
			continue;
		if (c == OPT_HELP)
			return tool_help_print("push");
		if (c != OPT_STORE)
			return tool_bad_option(argv, "push", err);
		if (n == PUSH_MAX_STORES)
			return tool_usage(err, "push", "at most %d --store", PUSH_MAX_STORES);
		uris[n++] = optarg;
	}
	int rc = tool_want_args(argc - optind, 1, 1, "push", err);
	if (rc)
		return rc;
	if (n == 0)
		return tool_usage(err, "push", "give at least one --store URI");
	const char *user = argv[optind];
	long long ttl;
	if ((rc = tool_mint_prepare(&m, user, &ttl, err)))
		return rc;
	md_store *stores[PUSH_MAX_STORES] = {0};
	rc = tool_stores_open(uris, n, stores, err);
	_cleanup_http_ md_http *h = NULL;
	if (!rc)
		rc = tool_client(&h, err);
	if (!rc) {
		md_mint_req q = {
			.username = user,
			.name = m.name,
			.token_type = m.type ? m.type : "read_write",
			.ttl = ttl,
			.attempts = tool_g.retries + 1,
		};
		md_push_result res;
		rc = md_push(h, &q, stores, n, &res, err);
	}
	tool_stores_free(stores, n);
	return rc;
}
