/* hostile.h - what the hostile-server suites share (test_hostile.c,
 * test_hostile_tokens.c).
 *
 * Owns: tests/fakes/hostile_api.py (or $HOSTILE_API) started once per test
 * process with an admin token of its own (a random credential under
 * requested/, in the run's token record), its control plane (reset, mode,
 * state, the values it issued), the table of every mdcred command that talks
 * to the API, running one against a mode, and the checks every run must
 * pass: neither stdout nor stderr shows a credential or a token value the
 * server issued (nor a piece of one), neither holds a raw control byte
 * other than '\n', both are valid UTF-8. Failures are collected per test
 * (hx_verdict) and reported together; a message never quotes an output,
 * since the outputs are what is under suspicion.
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include "harness.h"

#define HX_USER "svc_hostile"          /* an account the server starts with */
#define HX_OLD_USER "svc_hostile_old"  /* another, for account delete */
#define HX_NEW_USER "svc_hostile_new"  /* one account create makes */
#define HX_SEED_ID "00000000-0000-4000-8000-00000000beef" /* HX_USER's token */

/* The answers a command reads (and the requests it sends). */
#define A_MINT 0x01   /* POST /v1/users/U/tokens */
#define A_LIST 0x02   /* GET /v1/users/U/tokens */
#define A_REVOKE 0x04 /* DELETE /v1/users/U/tokens/ID */
#define A_USER 0x08   /* POST /v1/users, DELETE /v1/users/U */
#define A_DUCKS 0x10  /* GET (and PUT) /v1/users/U/instances */
#define A_ACCTS 0x20  /* GET /v1/active_accounts */
#define A_MUT 0x40    /* sends a POST, PUT or DELETE */
#define A_ALL 0xff

typedef struct {
	const char *name; /* for messages */
	/* Arguments after the global options: "@OUT" the output file, "@STORE"
	 * the file store's URI, "@STATE" the state dir, "@CFG" the rotate
	 * config. */
	const char *args[14];
	unsigned answers; /* A_* and C_* */
} hx_cmd;
#define C_PRINTS 0x100 /* success prints the token on stdout */
#define C_WRITES 0x200 /* success writes @OUT or @STORE */
#define C_REPORT 0x400 /* prints a report line ("failed ...") even when it fails */

extern const hx_cmd hx_cmds[];
extern const int hx_ncmds;
const hx_cmd *hx_cmd_named(const char *name);

/* Collected failures of one test. */
typedef struct {
	char msg[8000];
	int n;
} hx_verdict;
void hx_fail(hx_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define hx_check(v, cond, ...)                                                                \
	do {                                                                                  \
		if (!(cond))                                                                  \
			hx_fail(v, __VA_ARGS__);                                              \
	} while (0)
#define hx_done(v) ck_assert_msg((v)->n == 0, "%d problem(s):%s", (v)->n, (v)->msg)

/* Unchecked fixture: the server, its admin token, the rotate config. */
void hx_start(void);
void hx_stop(void);

/* Control plane. */
/* A freshly reset server in the mode this JSON object names (NULL:
 * normal), in one call. */
void hx_reset(const char *mode_json);

typedef struct {
	char id[80], variant[24];
	bool live, deleted; /* deleted: by a DELETE of its id */
} hx_issued;
typedef struct {
	int requests, stolen_hits, stolen_cred, nissued;
	hx_issued issued[16];
} hx_state;
void hx_state_get(hx_state *s);

/* Secrets the outputs are searched for besides the admin token and the
 * issued values (NULL-terminated; the strings stay the caller's). */
void hx_set_extra_secrets(const char *const *values);

/* Expected exit codes besides a number. */
#define X_NONZERO (-1) /* any failure */
#define X_ANY (-2)     /* anything but a crash */

typedef struct {
	const char *label;  /* for messages */
	const char *mode;   /* JSON of the rule, NULL: normal */
	unsigned touches;   /* A_* bits: the commands it affects */
	int code;           /* exit expected from an affected command */
	const char *timeout; /* --timeout (NULL: 10) */
	bool no_orphan;     /* a failed run leaves no token it minted live */
	bool bad_answer;    /* nothing on stdout, nothing written when affected */
} hx_mode_case;

/* Runs cmd against the mode on a freshly reset server (env: extra
 * environment, may be NULL) and checks what every run must hold: the exit
 * code (0 when the mode does not touch the command), no secret shown, no
 * raw control byte, valid UTF-8, and what m asks for. The result stays in r
 * and the state after the run in s (both may be NULL). */
void hx_run(hx_verdict *v, const hx_mode_case *m, const hx_cmd *cmd, const char *const *env,
	    h_result *r, hx_state *s);
/* Runs every command of hx_cmds that m touches (all if touches is A_ALL). */
void hx_run_all(hx_verdict *v, const hx_mode_case *m);

/* Runs mdcred with the hostile server's global options and then ARGS
 * (NULL-terminated array), checking its outputs like hx_run; for the store
 * tests. */
void hx_run_args(hx_verdict *v, const char *label, const char *const *args,
		 const char *const *env, int want, h_result *r);

/* Adds test_hostile_tokens.c's test cases to the hostile suite. */
void hostile_tokens_tcases(Suite *s);

#endif
