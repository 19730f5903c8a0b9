/* harness.h - integration-test harness: the emulator, mdcred runs, the run dir.
 *
 * Owns: starting one mdcred-emulator per test process (admin and member
 * token files and the record of every issued token under the run dir's
 * requested/ folder), resetting it before each test, running build/mdcred
 * with captured stdout/stderr, and the emulator's control plane. Files that
 * may legitimately hold a token (the outputs a test asked for) live under
 * requested/; everything else under the run dir is searched by the leak scan.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "json.h"
#include "secret.h"

typedef struct {
	int status;      /* exit code, or 128+signal */
	md_secret *out;  /* stdout */
	md_secret *err;  /* stderr */
} h_result;

/* Run flags. */
#define H_NO_AUTH 0x1       /* do not set MOTHERDUCK_ADMIN_TOKEN_FILE */
#define H_SECRET_STDOUT 0x2 /* stdout holds a requested token: keep it under requested/ */
#define H_NO_URL 0x4        /* do not pass --api-url */

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
void h_result_free(h_result *r);
bool h_contains(const md_secret *s, const char *needle);

/* Control plane: returns the HTTP status; body may be NULL. */
long h_ctl(const char *method, const char *path, const char *json_body);
/* Adds a fault rule (JSON object text). */
void h_fault(const char *json);
/* GET /_emulator/state parsed into doc (backed by *buf). */
void h_state(md_json *doc, md_secret **buf);
/* Number of /v1/ requests the emulator has seen since the last reset. */
int h_request_count(void);
/* Live token count for username (from the state read-out). */
int h_live_tokens(const char *username);
/* True if value is one of the tokens the emulator ever issued. */
bool h_is_issued_token(const char *value, size_t len);

/* Creates a service account directly (fails the test on error). */
void h_make_account(const char *username);

/* Check boilerplate for each integration file's suite. */
TCase *h_tcase(const char *name);

#define ck_assert_exit(r, code)                                                              \
	ck_assert_msg((r).status == (code), "exit %d, expected %d; stderr: %s", (r).status,    \
		      (code), md_secret_str((r).err))

#endif
