/* tool_get.c - `mdcred get`: parses, and prints what lib/deliver/get.h
 * decides (the cache, the lock, minting, revoking what could not be
 * printed). */
#include "tool.h"
#include "deliver/cache.h"
#include "deliver/get.h"
#include "motherduck/format.h"
#include "base/log.h"
#include "motherduck/mint.h"
#include "base/validate.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MIN_REMAINING_DEFAULT 300LL

static int get_print(const md_token *t, const char *user, md_fmt fmt, md_error *err)
{
	_cleanup_secret_ md_secret *out = md_secret_new(2048);
	if (!out || md_fmt_token(out, fmt, t, user, NULL) < 0)
		return md_err_set(err, MD_EFAIL, "out of memory");
	return tool_stdout(out, err);
}

/* What md_get calls back for: the tool's client, mint and printing. */
struct get_ctx {
	tool_mint_opts *m;
	const char *user;
	long long ttl;
	md_fmt fmt;
};

static int get_client(void *ud, md_http **h, md_error *err)
{
	(void)ud;
	return tool_client(h, err);
}

static int get_mint(void *ud, md_http *h, md_token *out, md_error *err)
{
	struct get_ctx *g = ud;
	return tool_mint(h, g->m, g->user, g->ttl, out, err);
}

static int get_deliver(void *ud, const md_token *t, md_error *err)
{
	struct get_ctx *g = ud;
	return get_print(t, g->user, g->fmt, err);
}

int tool_cmd_get(int argc, char **argv, md_error *err)
{
	static const struct option opts[] = {
		TOOL_MINT_LONGOPTS,
		{"format", required_argument, NULL, OPT_FORMAT},
		{"min-remaining", required_argument, NULL, OPT_MIN_REMAINING},
		{"cache", required_argument, NULL, OPT_CACHE},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	tool_mint_opts m = {0};
	const char *min_s = NULL, *cache_s = NULL;
	int c;
	optind = 0;
	while ((c = tool_getopt(argc, argv, "", opts)) != -1) {
		if (tool_mint_opt(c, optarg, &m))
			continue;
		if (c == OPT_FORMAT)
			m.format = optarg;
		else if (c == OPT_MIN_REMAINING)
			min_s = optarg;
		else if (c == OPT_CACHE)
			cache_s = optarg;
		else if (c == OPT_HELP)
			return tool_help_print("get");
		else
			return tool_bad_option(argv, "get", err);
	}
	int rc = tool_want_args(argc - optind, 1, 1, "get", err);
	if (rc)
		return rc;
	const char *user = argv[optind];
	const char *type = m.type ? m.type : "read_write";
	long long ttl, min_remaining = MIN_REMAINING_DEFAULT;
	md_fmt fmt = MD_FMT_TOKEN;
	if ((rc = tool_mint_prepare(&m, user, &ttl, err)) ||
	    (m.format && (rc = md_fmt_parse(m.format, &fmt, err))) ||
	    (min_s && (rc = md_valid_duration("--min-remaining", min_s, false, &min_remaining,
					      err))))
		return rc;
	if (min_remaining > MD_TTL_MAX)
		return tool_usage(err, "get", "--min-remaining: at most 365d");
	/* A token must be able to satisfy the caller at least once, or every
	 * get would mint. */
	if (ttl != MD_TTL_NONE && min_remaining > ttl)
		return tool_usage(err, "get", "--min-remaining (%llds) is longer than --ttl (%llds)",
				  min_remaining, ttl);
	if ((rc = tool_stdout_usable("get", NULL, err)))
		return rc;
	md_cache cache;
	if ((rc = md_cache_init(&cache, cache_s, tool_g.api_url, user, type, err)))
		return rc;

	struct get_ctx g = {&m, user, ttl, fmt};
	md_get_req rq = {
		.username = user,
		.cache = &cache,
		.min_remaining = min_remaining,
		/* Bounded: a holder that never lets go must not hang a
		 * credential process forever. */
		.lock_wait_ms = tool_g.timeout * 1000L * (tool_g.retries + 1),
		.client = get_client,
		.mint = get_mint,
		.deliver = get_deliver,
		.ud = &g,
	};
	return md_get(&rq, err);
}
