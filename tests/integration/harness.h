/* harness.h - integration-test harness: the emulator, mdcred runs, the run dir.
 *
 * Owns: the process's start (h_start: mdcred's retry waits on a virtual
 * clock, the emulator), the list of suites and test cases (h_suite,
 * h_tcase; `test_integration --list`: the runner starts each case in a
 * process of its own, with its own emulator and fakes, side by side),
 * bounded waits for a state (h_wait_for), SKIPPED lines, starting one
 * mdcred-emulator per test process (admin and member
 * token files and the record of every issued token under the run dir's
 * requested/ folder), resetting it before each test, running build/mdcred
 * with captured stdout/stderr, the emulator's control plane and its view of
 * a user's tokens, and the Vault and Kubernetes fakes started together.
 * Files that may legitimately hold a token (the outputs a test asked for)
 * live under requested/; everything else under the run dir is searched by
 * the leak scan.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/json.h"
#include "base/secret.h"

typedef struct {
	int status;      /* exit code, or 128+signal */
	md_secret *out;  /* stdout */
	md_secret *err;  /* stderr */
} h_result;

/* Run flags. */
#define H_NO_AUTH 0x1       /* do not set MOTHERDUCK_ADMIN_TOKEN_FILE */
#define H_SECRET_STDOUT 0x2 /* stdout holds a requested token: keep it under requested/ */
#define H_NO_URL 0x4        /* do not pass --api-url */

/* Once per test process, before any test: libcurl, then
 * MDCRED_TEST_VIRTUAL_TIME=1 in the environment every mdcred child inherits
 * (lib/net/http.h: its retry waits, backoff and Retry-After, are not slept
 * but logged at debug level, so tests assert on the wait meant, never on
 * wall time), then the emulator. */
void h_start(void);
void h_emulator_start(void);
/* Starts another emulator with extra arguments (stderr to the run dir's
 * log); its base URL goes to url. Returns its pid, or -1. */
pid_t h_emulator_spawn(const char *const *args, const char *log, char *url, size_t urlsz);
/* Starts any test server (argv[0] looked up in PATH) whose first stdout line
 * is its base URL (into url); stderr goes to log under the run dir. Returns
 * its pid, or -1 if it printed no URL. */
pid_t h_spawn_server(const char *const *argv, const char *log, char *url, size_t urlsz);
/* SIGTERM, wait, *pid = 0 (nothing if *pid <= 0). */
void h_stop_server(pid_t *pid);

/* The run's record of every token value a fake issued or accepts: the leak
 * scan searches for each. */
const char *h_record_file(void);
/* A random test credential (prefix + 48 hex digits) written to path (0600)
 * and to the record; its value also goes to out if out is non-NULL. 0 or -1. */
int h_make_credential(const char *path, const char *prefix, char *out, size_t outsz);
/* A self-signed certificate for localhost and 127.0.0.1 (openssl CLI). 0 or -1. */
int h_make_cert(const char *cert, const char *key);

/* The Vault fake (tests/fakes/fake_vault.py, or $FAKE_VAULT: KV v2 mount
 * "secret", plain HTTP, its tokens recorded) and the Kubernetes fake
 * (tests/fakes/fake_k8s.py, or $FAKE_K8S: TLS, namespace team-a) started
 * together, each with a fresh credential, for a test process. */
typedef struct {
	pid_t vault_pid, k8s_pid;
	char vault_url[128]; /* http://127.0.0.1:PORT */
	char vault_host[64]; /* 127.0.0.1:PORT, for vault:// URIs */
	char k8s_url[256];
	char k8s_cert[1200]; /* the fake's certificate: the CA file for clients */
	char k8s_sa[1200];   /* the service-account token file, under requested/ */
	/* mdcred's environment for both fakes: VAULT_TOKEN (the root token),
	 * HOME (a directory that does not exist), MDCRED_K8S_API_URL,
	 * MDCRED_K8S_TOKEN_FILE, MDCRED_K8S_CA_FILE; env lists them,
	 * NULL-terminated, for h_run. */
	char env_vault_token[200], env_home[1300], env_k8s_url[1400], env_k8s_tok[1400],
		env_k8s_ca[1400];
	const char *env[6];
} h_fakes;
/* Starts both fakes into f (meant for an unchecked fixture: exits the
 * process if they do not start). tag names their files: credentials and the
 * key under requested/TAG-fakes/, TAG-k8s-cert.pem, TAG-vault.log,
 * TAG-k8s.log, TAG-no-home. */
void h_fakes_start(h_fakes *f, const char *tag);
/* Stops both and wipes the root token from f's environment. */
void h_fakes_stop(h_fakes *f);

/* One HTTP call to a test server: the answer into out (may hold a token: it
 * stays in secret memory), the status returned (0: no answer). */
typedef struct {
	const char *base_url;
	const char *cacert;          /* NULL: no TLS trust anchor given */
	const char *content_type;    /* NULL: application/json */
	const md_secret *auth_line;  /* a whole "Name: value" header, or NULL */
} h_http_target;
long h_http(const h_http_target *t, const char *method, const char *path, const char *body,
	    md_secret *out);
void h_emulator_stop(void);
void h_reset(void); /* checked fixture: fresh org state before each test */

const char *h_base_url(void);
const char *h_admin_token_file(void);
const char *h_member_token_file(void);
/* A path under the run dir (requested: under requested/). Static buffer rotation of 8. */
const char *h_path(bool requested, const char *name);

/* Runs build/mdcred ARGS... (NULL-terminated) with stdin data (NULL: /dev/null)
 * and extra "NAME=value" environment entries (NULL-terminated list or NULL). */
void h_run(h_result *r, int flags, const char *stdin_data, const char *const *env, ...)
	__attribute__((sentinel));
/* Runs any program (prog is argv[0]) the same way; never adds the admin token. */
void h_run_prog(h_result *r, int flags, const char *prog, const char *stdin_data,
		const char *const *env, ...) __attribute__((sentinel));
/* Starts `mdcred --api-url URL ARGS...` (args NULL-terminated) in the
 * background with the admin token file: stdin /dev/null, stdout and stderr
 * to bg-TAG.stdout and bg-TAG.stderr under the run dir (not requested/: the
 * command must print no token). prepare, if not NULL, runs in the child
 * right before the exec (to give mdcred a caller's process state). */
pid_t h_spawn_mdcred(const char *tag, void (*prepare)(void), const char *const *args);
void h_result_free(h_result *r);
bool h_contains(const md_secret *s, const char *needle);
/* How many times needle occurs in s (not overlapping). */
int h_count(const md_secret *s, const char *needle);

/* Control plane: returns the HTTP status; body may be NULL. */
long h_ctl(const char *method, const char *path, const char *json_body);
/* Adds a fault rule (JSON object text). */
void h_fault(const char *json);
/* GET /_emulator/state parsed into doc (backed by *buf). */
void h_state(md_json *doc, md_secret **buf);
/* Number of /v1/ requests the emulator has seen since the last reset. */
int h_request_count(void);
/* One token of a user as the state read-out shows it: metadata only (the
 * state holds no token value). */
typedef struct {
	char id[80], name[256], type[32];
	bool revoked, expired;
	bool live; /* neither revoked nor expired */
} h_token;
#define H_MAX_TOKENS 128
typedef struct {
	bool found;        /* the emulator has the user */
	int n;             /* tokens in t, in the state's order */
	int live, revoked; /* how many of them are */
	h_token t[H_MAX_TOKENS];
} h_tokens;
/* The user's tokens from the state read-out (fails the test past
 * H_MAX_TOKENS). */
void h_user_tokens(const char *username, h_tokens *out);
/* The token of ts with this id, or NULL. */
const h_token *h_find_token(const h_tokens *ts, const char *id);
/* The user's token with this id; all zero (id "", live false) if there is
 * none. */
h_token h_token_of(const char *username, const char *id);
/* Live token count for username (-1: no such user). */
int h_live_tokens(const char *username);
/* True if value is one of the tokens the emulator ever issued. */
bool h_is_issued_token(const char *value, size_t len);

/* Creates a service account directly (fails the test on error). */
void h_make_account(const char *username);

/* Check boilerplate for each integration file's suite: h_suite creates a
 * suite and makes it the one h_tcase's cases are listed under; h_tcase
 * creates a case with the reset fixture and the harness's timeout. Every
 * case is one job of tests/run_all.sh (CK_RUN_SUITE=SUITE CK_RUN_CASE=CASE),
 * so a long loop test is split into parts, each a case (h_part). */
Suite *h_suite(const char *name);
TCase *h_tcase(const char *name);
/* Prints "SUITE CASE" for every case made so far, one a line. */
void h_list(FILE *f);
/* Part part (0-based) of parts of the loop range [0, n): [*lo, *hi). */
void h_part(int n, int part, int parts, int *lo, int *hi);

/* Polls cond(arg) until it is true, at most timeout_ms (a bound against a
 * hang, never a claim about speed: make it generous). Returns cond's last
 * answer. */
bool h_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* Prints "SKIPPED: " and the message on stdout: a check that could not run
 * here (no kernel keyring, not root) says so; run_all.sh counts these
 * lines and does not count the test as passed. */
void h_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The Python interpreter for the fakes: $PYTHON (run_all.sh resolves it
 * once), else python3 from PATH. */
const char *h_python(void);

#define ck_assert_exit(r, code)                                                              \
	ck_assert_msg((r).status == (code), "exit %d, expected %d; stderr: %s", (r).status,    \
		      (code), md_secret_str((r).err))

#endif
