/* rotcfg.h - what the rotate --config suites share (test_rotate_config.c,
 * test_rotate_config_input.c): each test's config, state dir and store dir,
 * running `rotate --config`, reading its output lines, and checking what
 * the stores hold. */
#ifndef ROTCFG_H
#define ROTCFG_H

#include "harness.h"

/* base64url of the emulator's JWT header: every token it issues starts so. */
#define JWT_HEAD "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
#define MAX_LINES 64

extern char cfg[1300];   /* the config file (no secret in it) */
extern char state[1300]; /* --state-dir */
extern char sdir[1300];  /* the stores' directory, under requested/ */
extern h_fakes fakes;    /* the Vault and Kubernetes fakes, when started */

/* Names this test's config, state dir and store dir after it. */
void ws(const char *name);
/* Writes the config; "@D" stands for the store dir, "@V" for the fake
 * Vault's HOST:PORT. */
void write_cfg(const char *text);
/* A path in the store dir (static buffer rotation of 4). */
const char *spath(const char *name);
void no_token_shown(const h_result *r);

/* rotate --config with this test's config and state dir, then ARGS...
 * (NULL for none); env as for h_run. */
#define ROTCFG(r, env, ...)                                                                   \
	do {                                                                                  \
		h_run(r, 0, NULL, env, "rotate", "--config", cfg, "--state-dir", state,       \
		      __VA_ARGS__, NULL);                                                     \
		no_token_shown(r);                                                            \
	} while (0)

typedef struct {
	char role[72], action[16], id[80], expire[40], error[600];
	long long stores, revoked;
} line_t;

typedef struct {
	line_t l[MAX_LINES];
	int n;
} lines_t;

void parse_text(const h_result *r, lines_t *ls);
void parse_json(const h_result *r, lines_t *ls);
/* rotate --config --json [a [b]] with env: exit code, the lines into ls.
 * The result is freed unless keep is given (then the caller frees it). */
void run_json(lines_t *ls, const char *const *env, int code, const char *a, const char *b,
	      h_result *keep);
/* The one line of role (fails when there is none or more than one). */
const line_t *line_of(const lines_t *ls, const char *role);
const line_t *expect(const lines_t *ls, const char *role, const char *action);
/* The failed role's error is on stderr too, after its role on that line. */
void expect_error_on_stderr(const h_result *r, const line_t *l);
/* A number at the top of /_emulator/state. */
long long state_int(const char *key);
/* The id a file store records beside its token, any format ("" if none). */
void file_id(const char *path, char *id, size_t sz);
/* The store (what) holds id held; want (if not NULL) is the id it should
 * hold; the token is a live one of user. */
void assert_holds(const char *what, const char *user, const char *held, const char *want);
void assert_file_holds(const char *name, const char *user, const char *want);
long long ts_secs(const char *s);

/* The three-role config: defaults (ttl 2h, grace 0) from the top block;
 * beta overrides both; gamma mints read_scaling. */
struct basic_role {
	const char *role, *user, *type;
	long long ttl;
	int nstores;
	const char *stores[2];
	int revoked_on_force; /* grace 0: the replaced token; grace 1h: none */
};
#define NBASIC 3
extern const char basic_cfg[];
extern const struct basic_role basic[NBASIC];
/* ws(name), the config written, its accounts made. */
void basic_setup(const char *name);
/* Every basic role has action; its stores hold the printed live token, of
 * the role's type, expiring after the role's ttl, named after the role.
 * The ids go to ids. */
void basic_check(const lines_t *ls, const char *action, char ids[][80]);

#endif
