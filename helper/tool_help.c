/* tool_help.c - `mdcred help [COMMAND]` and `mdcred version`: the texts as data.
 * Keep in step with doc/mdcred.1 and README.md. */
#include "tool.h"
#include "net/http.h"
#include "base/version.h"

#include <stdio.h>
#include <string.h>


static const char overview[] =
"usage: mdcred [global options] COMMAND ...\n"
"\n"
"Mint, hand out and revoke MotherDuck service-account tokens without ever\n"
"printing a token anywhere you did not ask for it.\n"
"\n"
"commands:\n"
"  account create USERNAME            create a service account\n"
"  account delete USERNAME            delete a service account\n"
"  account active [--json]            list active accounts (preview API)\n"
"  ducklings get USERNAME [--json]    show the Duckling configuration\n"
"  ducklings set USERNAME [--rw-size S] [--rw-cooldown SECS] [--rs-size S]\n"
"                [--flock-size N] [--rs-cooldown SECS]\n"
"  token create USERNAME [--type read_write|read_scaling] [--ttl DURATION|none]\n"
"                [--name NAME] [--format token|env|dotenv|json] [--output FILE]\n"
"  token list USERNAME [--json]\n"
"  token revoke USERNAME TOKEN_ID...\n"
"  exec [token create options] [--from URI] [--env NAME]... [--revoke-on-exit]\n"
"                USERNAME -- COMMAND [ARG...]\n"
"  push USERNAME --store URI... [--type T] [--ttl D] [--name N]\n"
"  rotate USERNAME --store URI... [--type T] [--ttl D] [--every D] [--grace D]\n"
"                [--keep N] [--role NAME] [--state-dir DIR] [--force] [--json]\n"
"  rotate --config FILE [--parallel N] [--state-dir DIR] [--force] [--json]\n"
"  get USERNAME [--min-remaining D] [--cache keyring|file:///path|none]\n"
"                [--format token|env|dotenv|json] [--type T] [--ttl D] [--name N]\n"
"  version | help [COMMAND]\n"
"\n"
"global options (environment twin in brackets):\n"
"  --api-url URL            [MOTHERDUCK_API_BASE_URL] default https://api.motherduck.com\n"
"  --admin-token-file FILE  [MOTHERDUCK_ADMIN_TOKEN_FILE] '-' reads stdin;\n"
"                           otherwise the token is read from MOTHERDUCK_ADMIN_TOKEN\n"
"  --cacert FILE            [MDCRED_CACERT] CA bundle for TLS verification\n"
"  --timeout SECS           [MDCRED_TIMEOUT] per attempt, 1..3600, default 30\n"
"  --retries N              [MDCRED_RETRIES] 0..10, default 3\n"
"  -v, --verbose            [MDCRED_VERBOSE] requests and timings (never secrets)\n"
"  --log-format text|json   [MDCRED_LOG_FORMAT] format of stderr lines\n"
"\n"
"DURATION: 300, 300s, 5m, 12h, 7d (300 to 31536000 seconds), or none.\n"
"\n"
"exit codes: 0 success; 1 other error; 2 usage or validation error (nothing\n"
"was sent); 3 authentication or permission (401/403); 4 not found; 5 conflict,\n"
"already exists; 6 transient failure after retries (network, timeout, 429,\n"
"5xx); 7 push: no store took the new token (it was revoked); 8 push: some\n"
"stores took it, others did not; 9 rotate: another run has held the role's\n"
"lock for longer than --every. exec: the command's own code; 126 not\n"
"executable, 127 not found; with --revoke-on-exit 128+N when the command\n"
"died of signal N.\n";

static const char help_account[] =
"usage: mdcred account create USERNAME\n"
"       mdcred account delete USERNAME\n"
"       mdcred account active [--json]\n"
"\n"
"create makes a service account (POST /v1/users) and prints its username on\n"
"stdout. USERNAME: 3 to 255 letters, digits or '_', starting with a letter.\n"
"An existing name exits 5. delete removes the account and all its tokens.\n"
"active prints the API's active-accounts preview as JSON.\n"
"\n"
"  mdcred account create analytics_service_account\n";

static const char help_ducklings[] =
"usage: mdcred ducklings get USERNAME [--json]\n"
"       mdcred ducklings set USERNAME [--rw-size S] [--rw-cooldown SECS]\n"
"                 [--rs-size S] [--flock-size N] [--rs-cooldown SECS]\n"
"\n"
"get prints the read/write Duckling and the read-scaling pool. set reads the\n"
"current configuration, changes only what the flags name and writes both\n"
"blocks back, then prints the result. Sizes: pulse, standard, jumbo, mega,\n"
"giga. --flock-size 0..64. Cooldowns 60..86400 seconds, not with pulse (a\n"
"block that becomes pulse drops its old cooldown). Every value is checked\n"
"before anything is sent.\n"
"\n"
"  mdcred ducklings set analytics_service_account --rw-size standard \\\n"
"      --rs-size pulse --flock-size 4\n";

static const char help_token[] =
"usage: mdcred token create USERNAME [--type read_write|read_scaling]\n"
"                 [--ttl DURATION|none] [--name NAME]\n"
"                 [--format token|env|dotenv|json] [--output FILE]\n"
"       mdcred token list USERNAME [--json]\n"
"       mdcred token revoke USERNAME TOKEN_ID...\n"
"\n"
"create mints a token (default: read_write, --ttl 1d, a unique name\n"
"mdcred-<UTC yyyymmddThhmmssZ>-<6 hex>) and prints only the token on\n"
"stdout. --format env prints export MOTHERDUCK_TOKEN='...', dotenv\n"
"MOTHERDUCK_TOKEN=..., json {token, id, name, username, token_type,\n"
"expire_at}. --output FILE writes that instead to FILE atomically with mode\n"
"0600 and prints nothing secret. A name that is already live exits 5. If the\n"
"mint's answer is lost, mdcred finds the token by name, revokes it and mints\n"
"again under a new name. --ttl none never expires (with a warning). With\n"
"stdout closed and no --output, nothing is minted (exit 2); a token that\n"
"cannot be written to stdout (e.g. ENOSPC) is revoked.\n"
"list shows token metadata (never values). revoke takes token ids.\n"
"\n"
"  mdcred token create analytics_service_account --type read_scaling --ttl 12h \\\n"
"      --output /run/secrets/motherduck_token\n";

static const char help_exec[] =
"usage: mdcred exec [--type T] [--ttl D] [--name N] [--from URI] [--env NAME]...\n"
"                   [--revoke-on-exit] USERNAME -- COMMAND [ARG...]\n"
"\n"
"Runs COMMAND with a token in its environment as MOTHERDUCK_TOKEN (or as each\n"
"--env NAME given). The token is minted as 'token create' would, or read from\n"
"--from URI (any store 'push' writes; file:// in any 'token create' format).\n"
"MOTHERDUCK_ADMIN_TOKEN and\n"
"MOTHERDUCK_ADMIN_TOKEN_FILE are removed from the command's environment.\n"
"Without --revoke-on-exit mdcred replaces itself with COMMAND (its exit code\n"
"and signals are the command's own) and the token lives until its TTL. With\n"
"--revoke-on-exit mdcred stays as the parent: it forwards every signal, reaps\n"
"children when it is PID 1, revokes the token when COMMAND ends, and exits\n"
"with COMMAND's code or 128+signal. If mdcred itself is killed (even by\n"
"SIGKILL) the kernel kills COMMAND too; the token is then not revoked and\n"
"lives until its TTL (as do processes COMMAND started). COMMAND gets the\n"
"caller's core-dump limit, signal dispositions and signal mask, not mdcred's.\n"
"127: COMMAND not found, 126: not executable (checked before any token is\n"
"minted).\n"
"\n"
"  mdcred exec --ttl 1h --revoke-on-exit analytics_service_account -- python3 job.py\n"
"  mdcred exec --from file:///run/secrets/md.json svc -- duckdb\n";

static const char help_push[] =
"usage: mdcred push USERNAME --store URI... [--type T] [--ttl D] [--name N]\n"
"\n"
"Mints a token (as 'token create' would) and writes it to every store, then\n"
"reads each back and checks it holds the new token. Every URI is checked\n"
"before anything is minted. Stores record the token's id, name, type and\n"
"expiry beside it. Exit 0: every store holds it; 7: none does, and the token\n"
"was revoked; 8: some do (they hold a live token), the others failed and\n"
"still hold what they held.\n"
"\n"
"  file:///path[?format=token|env|dotenv|json&mode=0600&owner=UID:GID]\n"
"      atomic, 0600 by default (0640 allowed; world-readable modes refused);\n"
"      default format json; env/dotenv carry a '# mdcred:' line, token a\n"
"      PATH.meta.json beside it\n"
"  vault://[HOST:PORT]/MOUNT/PATH[?field=token]   Vault/OpenBao KV v2\n"
"  k8s://NAMESPACE/SECRET[?key=MOTHERDUCK_TOKEN]  a Kubernetes Secret\n"
"\n"
"  mdcred push analytics_service_account --ttl 7d \\\n"
"      --store file:///run/secrets/md.env?format=env --store vault:///secret/md\n";

static const char help_rotate[] =
"usage: mdcred rotate USERNAME --store URI... [--type T] [--ttl D] [--every D]\n"
"                [--grace D] [--keep N] [--role NAME] [--state-dir DIR] [--force]\n"
"                [--json]\n"
"       mdcred rotate --config FILE [--parallel N] [--state-dir DIR] [--force]\n"
"                [--json]\n"
"\n"
"Keeps one role's token fresh in its stores (the role is USERNAME unless\n"
"--role names it). Takes the role's lock in the state dir (default\n"
"/var/lib/mdcred as root, else $XDG_STATE_HOME/mdcred); another run holding\n"
"it means 'skipped' (exit 9 once it has held it for longer than --every: a\n"
"stuck rotation); the state dir and the lock must be yours, writable by no\n"
"one else. If every store holds the same live token younger than\n"
"--every (default: half the TTL), 'fresh'. Otherwise mints a token named\n"
"mdcred-<role>-<time>-<rand>, writes every store, reads each back, then\n"
"revokes the role's tokens (found by name in the API's list) that no store\n"
"holds and that were replaced at least --grace ago (default 1h), keeping at\n"
"most --keep (default 2) live. Prints 'ACTION ROLE TOKEN_ID EXPIRE_AT' (or --json).\n"
"Exit 0 for rotated, fresh and skipped; 7 and 8 as for push.\n"
"\n"
"--config FILE rotates every role of FILE, at most --parallel (default 8) at\n"
"a time over one libcurl multi handle; one line (or --json object) per role\n"
"as it finishes. FILE has one [ROLE] section per role with 'username = ...',\n"
"one 'store = URI' line per store and optionally token_type, ttl, every,\n"
"grace, keep; those keys before the first section are defaults for every\n"
"role. '#' or ';' starts a comment line. A mistake is reported as FILE:LINE\n"
"with exit 2 before anything is contacted. stderr keeps to warnings and\n"
"errors (-v for more); on a terminal it also shows progress. Exit 0 when\n"
"no role failed; else the failed roles' code when they share it, else 1.\n"
"See mdcred(1), ROTATE CONFIG FILE.\n";

static const char help_get[] =
"usage: mdcred get USERNAME [--min-remaining D] [--cache keyring|file:///path|none]\n"
"                [--format token|env|dotenv|json] [--type T] [--ttl D] [--name N]\n"
"\n"
"Credential-process style: prints a token for USERNAME from the cache while it\n"
"has at least --min-remaining (default 5m) left before it expires; otherwise\n"
"mints one (as 'token create' would) under a lock, so concurrent callers mint\n"
"once, caches it and prints it. A cache hit sends nothing. Caches:\n"
"  keyring (default)  the Linux kernel user keyring, key 'mdcred:<api host>:\n"
"                     <username>:<type>', timing out when the token expires;\n"
"                     the token never touches disk. Without keyring support\n"
"                     (e.g. a sandbox) mdcred warns once and does not cache.\n"
"                     Lock: $XDG_RUNTIME_DIR/mdcred/get-<username>-<type>.lock\n"
"                     (else the state dir).\n"
"  file:///path       the json format, written atomically with mode 0600;\n"
"                     lock: PATH.lock\n"
"  none               always mints\n"
"A cached token whose expiry is unknown is stale; --ttl none tokens never are.\n"
"With stdout closed nothing is read or sent (exit 2).\n"
"\n"
"  eval \"$(mdcred get analytics_service_account --format env)\"\n";

static const struct {
	const char *name;
	const char *text;
} helps[] = {
	{"rotate", help_rotate},
	{"get", help_get},
	{"push", help_push},
	{"account", help_account},
	{"ducklings", help_ducklings},
	{"token", help_token},
	{"exec", help_exec},
};

int tool_help_print(const char *cmd)
{
	const char *text = cmd ? NULL : overview;
	for (size_t i = 0; cmd && i < sizeof helps / sizeof helps[0]; i++)
		if (strcmp(cmd, helps[i].name) == 0)
			text = helps[i].text;
	if (!text)
		return MD_EUSAGE;
	fputs(text, stdout);
	return fflush(stdout) == 0 ? MD_OK : MD_EFAIL;
}

int tool_cmd_help(int argc, char **argv, md_error *err)
{
	if (argc > 2)
		return tool_usage(err, "help", "too many arguments");
	const char *cmd = argc == 2 ? argv[1] : NULL;
	if (cmd && (strcmp(cmd, "help") == 0 || strcmp(cmd, "version") == 0))
		cmd = NULL;
	if (tool_help_print(cmd) != MD_OK)
		return tool_usage(err, NULL, "no help for '%.32s' (commands: account, ducklings, "
				  "token, exec, push, rotate, get, version, help)", cmd);
	return MD_OK;
}

int tool_cmd_version(int argc, char **argv, md_error *err)
{
	(void)argv;
	if (argc > 1)
		return tool_usage(err, "version", "takes no arguments");
	const char *lib = md_http_library_version(err);
	printf("mdcred %s (%s)\n", MD_VERSION, lib ? lib : "libcurl not loadable");
	return fflush(stdout) == 0 ? MD_OK : MD_EFAIL;
}
