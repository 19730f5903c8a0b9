/* tool_get.c - `mdcred get`: a token for a credential process, from a cache.
 *
 * Returns the cached token while it has at least --min-remaining left;
 * otherwise takes the cache's lock, looks again (another caller may have
 * minted meanwhile), mints, caches and prints. A cache hit sends nothing and
 * needs no admin token. */
#include "tool.h"
#include "deliver/cache.h"
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

/* A cached entry good enough to hand out: prints it and returns true. */
static bool try_cached(md_cache *c, long long min_remaining, const char *user, md_fmt fmt,
		       int *rc, md_error *err)
{
	md_cache_entry e;
	md_cache_load(c, &e);
	bool hit = e.tok.secret &&
		   md_cache_fresh(e.exp_kind, e.expire_at, time(NULL), min_remaining);
	if (hit) {
		md_log_debug("using the cached token %s (%s%s)", e.tok.meta.id,
			     e.exp_kind == MD_EXP_NEVER ? "never expires" : "expires ",
			     e.tok.meta.expire_at);
		*rc = get_print(&e.tok, user, fmt, err);
	} else if (e.tok.secret) {
		md_log_debug("the cached token %s is stale", e.tok.meta.id);
	}
	md_cache_entry_clear(&e);
	return hit;
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

	if (try_cached(&cache, min_remaining, user, fmt, &rc, err))
		return rc;

	int lock = -1;
	if (cache.kind != MD_CACHE_NONE) {
		/* Bounded: a holder that never lets go must not hang a
		 * credential process forever. */
		long wait_ms = tool_g.timeout * 1000L * (tool_g.retries + 1);
		if ((lock = md_cache_lock(&cache, wait_ms, err)) < 0)
			return err->code;
		/* Whoever held the lock may have just minted one. */
		if (cache.kind != MD_CACHE_NONE &&
		    try_cached(&cache, min_remaining, user, fmt, &rc, err)) {
			md_cache_unlock(lock);
			return rc;
		}
	}
	md_http *h = NULL;
	md_token t = {0};
	if (!(rc = tool_client(&h, err)))
		rc = tool_mint(h, &m, user, ttl, &t, err);
	if (!rc)
		md_cache_store(&cache, &t, time(NULL));
	md_cache_unlock(lock);
	if (!rc)
		rc = get_print(&t, user, fmt, err);
	if (rc && t.secret) {
		/* Minted but not delivered (stdout closed). A cached copy stays
		 * usable by the next caller; an uncached one would be orphaned. */
		if (cache.kind == MD_CACHE_NONE)
			md_mint_revoke_undelivered(h, user, &t.meta);
	}
	md_token_clear(&t);
	md_http_free(h);
	return rc;
}
