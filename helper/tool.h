/* tool.h - the mdcred command-line tool: shared declarations.
 *
 * The tool only parses input and calls lib/; each tool_<command>.c owns one
 * command group's argument parsing and output. Exit codes are md_code values
 * (see lib/base/error.h); 126/127 come from exec.
 */
#ifndef TOOL_H
#define TOOL_H

#include <getopt.h>
#include <stdbool.h>

#include "motherduck/api.h"
#include "base/error.h"
#include "net/http.h"
#include "deliver/rotate.h"
#include "store/store.h"
#include "base/secret.h"

typedef struct {
	const char *api_url;
	const char *admin_token_file;
	const char *cacert;
	long timeout;
	int retries;
	md_secret *admin_env_token; /* taken from MOTHERDUCK_ADMIN_TOKEN at start */
} tool_global;

extern tool_global tool_g;

/* Reads the admin token and opens the API client. */
int tool_client(md_http **out, md_error *err);
/* The API client's options with the admin token (*tok, the caller frees it
 * with md_secret_free) as bearer. */
int tool_api_opts(md_http_opts *o, md_secret **tok, md_error *err);
/* The stores' transport: the tool's --timeout and --retries. */
md_store_opts tool_store_opts(void);
/* Opens a store URI with the tool's --timeout and --retries. */
struct md_store;
int tool_store_open(const char *uri, struct md_store **out, md_error *err);
/* Opens n store URIs (all, or none: MD_OK or the first error). */
int tool_stores_open(const char *const *uris, size_t n, struct md_store **stores, md_error *err);
void tool_stores_free(struct md_store **stores, size_t n);
/* Writes a secret buffer to stdout in full: delivers a token asked for;
 * fails if stdout was closed at start (it is /dev/null since, lib/base/proc.h). */
int tool_stdout(const md_secret *s, md_error *err);
/* Writes data (never a token asked for) to stdout, watched values redacted
 * (in s). Server-supplied fields in it are escaped already (api.h). */
int tool_print(md_secret *s, md_error *err);
/* Before minting a token for stdout: MD_EUSAGE, "CMD: stdout is closed: ...
 * token" and hint (or ""), if stdout was closed at start. */
int tool_stdout_usable(const char *cmd, const char *hint, md_error *err);
/* Parses a subcommand's options (GNU permuting getopt), reset for reuse. */
int tool_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
/* Usage error helper: fills err and returns MD_EUSAGE. */
int tool_usage(md_error *err, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Usage error for the option getopt just refused in sub_argv. */
int tool_bad_option(char **sub_argv, const char *cmd, md_error *err);
/* The positional argument count must be in [lo, hi]. */
int tool_want_args(int argc, int lo, int hi, const char *cmd, md_error *err);

/* Options shared by `token create` and `exec`. */
typedef struct {
	const char *type;
	const char *ttl;
	const char *name;
	const char *format;
	const char *output;
	bool any; /* some mint option was given */
} tool_mint_opts;

enum { OPT_TYPE = 1000, OPT_TTL, OPT_NAME, OPT_FORMAT, OPT_OUTPUT, OPT_JSON, OPT_FROM, OPT_ENV,
       OPT_REVOKE, OPT_RW_SIZE, OPT_RW_COOLDOWN, OPT_RS_SIZE, OPT_FLOCK, OPT_RS_COOLDOWN,
       OPT_HELP, OPT_STORE, OPT_EVERY, OPT_GRACE, OPT_KEEP, OPT_STATE_DIR, OPT_ROLE,
       OPT_FORCE, OPT_MIN_REMAINING, OPT_CACHE, OPT_CONFIG, OPT_PARALLEL };
#define TOOL_MINT_LONGOPTS                                              \
	{"type", required_argument, NULL, OPT_TYPE},                    \
	{"ttl", required_argument, NULL, OPT_TTL},                      \
	{"name", required_argument, NULL, OPT_NAME}
/* Returns true if c was a mint option (and stores it). */
bool tool_mint_opt(int c, const char *arg, tool_mint_opts *m);
/* Validates mint options into a request (nothing is sent). */
int tool_mint_prepare(const tool_mint_opts *m, const char *username, long long *ttl,
		      md_error *err);
/* Mints per the options (ttl already validated). */
int tool_mint(md_http *h, const tool_mint_opts *m, const char *username, long long ttl,
	      md_token *out, md_error *err);

int tool_cmd_account(int argc, char **argv, md_error *err);
int tool_cmd_ducklings(int argc, char **argv, md_error *err);
int tool_cmd_token(int argc, char **argv, md_error *err);
int tool_cmd_exec(int argc, char **argv, int *exit_code, md_error *err);
int tool_cmd_push(int argc, char **argv, md_error *err);
int tool_cmd_rotate(int argc, char **argv, md_error *err);
/* rotate's output: one line, or one JSON object, for a role's outcome. */
int tool_rotate_print(const char *role, const md_rot_result *res, bool json, const md_error *e,
		      md_error *err);
int tool_rotate_config(const char *path, const char *parallel, const char *state_dir, bool force,
		       bool json, md_error *err);
int tool_cmd_get(int argc, char **argv, md_error *err);
int tool_cmd_help(int argc, char **argv, md_error *err);
int tool_cmd_version(int argc, char **argv, md_error *err);
/* Prints one command's help (or the overview for NULL) to stdout. */
int tool_help_print(const char *cmd);

#endif
