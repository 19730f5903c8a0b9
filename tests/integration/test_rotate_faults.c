/* test_rotate_faults.c - the rotation fault matrix (issue 4, "Tests: a fault
 * matrix").
 *
 * One data-driven loop test: every scenario names a step of `mdcred rotate`
 * (mint, list, revoke, each store write, each store read-back, the retire
 * phase's read of the stores) and a fault (503, 429 with Retry-After 1, a dropped
 * connection, an answer lost after processing, a timeout, a CAS /
 * resourceVersion conflict, kill -9 of mdcred mid-step). Each scenario:
 *
 *   1. a role already rotated once: a file:// store (json, under requested/),
 *      a vault:// store (tests/fakes/fake_vault.py) and a k8s:// store
 *      (tests/fakes/fake_k8s.py) hold one live token;
 *   2. the fault is injected, `rotate --force --grace 0` runs (--timeout 1
 *      --retries 1 --ttl 1h; its retry waits on a virtual clock, so a
 *      Retry-After costs no time) and its exit code is recorded;
 *   3. faults are cleared, the invariants are checked, `rotate --grace 0`
 *      runs again, and the invariants are checked once more:
 *      (1) every store holds a token, and it is live (not revoked, not
 *          expired) in the emulator;
 *      (2) the rerun converged: exit 0, action rotated or fresh, every store
 *          holds the same token;
 *      (3) no token leaks (the suite-wide leak scan: every credential the
 *          fakes accept is in tokens.record);
 *      (4) at most --keep + 1 live role tokens after the rerun.
 *
 * Faults that must hit a later request of a kind (the read-back GET after
 * the pre-write read, the retire phase's store read after the read-back)
 * are armed by a "gate": a hold fault on the request just before; once the
 * gate is taken (the request is held on the server), the real fault is
 * added and the held request released. A timeout is a request held past
 * --timeout 1; kill -9 scenarios hold the step and kill mdcred once the
 * hold has been taken. Before judging, held requests are released and the
 * test waits until no server is still handling one (in_flight 0): nothing
 * lands after the check.
 *
 * Each scenario prints "scenario NN: step=... fault=... result=..." to
 * stdout, so the matrix is listed in the test output.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/json.h"
#include "base/rand.h"

#define USER "svc_rotfault"
#define KEEP 2

/* Request paths on each server. */
#define P_TOK "/v1/users/" USER "/tokens"
#define P_REVOKE "/v1/users/" USER "/tokens/"
#define P_VAULT "/v1/secret/data/rotfault"
#define P_K8S "/api/v1/namespaces/team-a/secrets/md-token"

/* Fault rule texts (the same JSON shape on all three servers). */
#define FAULT(m, p, rest) "{\"method\":\"" m "\",\"path\":\"" p "\"," rest "}"
#define S503(n) "\"status\":503,\"count\":" #n
#define S429(n) "\"status\":429,\"retry_after\":1,\"count\":" #n
#define DROP(n) "\"action\":\"drop\",\"count\":" #n
#define DROPA(n) "\"action\":\"drop_after\",\"count\":" #n
#define HOLD(n) "\"action\":\"hold\",\"count\":" #n
#define BUMP "\"action\":\"bump\",\"count\":1"

enum srv { EMU, VLT, K8S };

/* Scenario flags. */
#define NO_FILE 0x1  /* stores: vault + k8s only */
#define BUMPED_V 0x2 /* another writer replaced the vault secret: it may hold no token */

typedef struct {
	const char *step, *fault;
	int gsrv;          /* the gate's server */
	const char *gate;  /* a hold fault to be taken before the faults below are added */
	int srv;
	const char *f1;    /* the fault */
	int srv2;
	const char *f2;    /* a second fault, added with the first (or NULL) */
	bool kill;         /* kill -9 mdcred once f1 has been taken */
	unsigned flags;
} scenario;

#define NOGATE 0, NULL
#define NOF2 0, NULL

static const scenario matrix[] = {
	/* mint: POST .../tokens on the emulator */
	{"mint", "503 once", NOGATE, EMU, FAULT("POST", P_TOK, S503(1)), NOF2, false, 0},
	{"mint", "503 every attempt", NOGATE, EMU, FAULT("POST", P_TOK, S503(4)), NOF2, false, 0},
	{"mint", "429 Retry-After 1", NOGATE, EMU, FAULT("POST", P_TOK, S429(1)), NOF2, false, 0},
	{"mint", "429 Retry-After 1 every attempt", NOGATE, EMU, FAULT("POST", P_TOK, S429(4)), NOF2,
	 false, 0},
	{"mint", "drop", NOGATE, EMU, FAULT("POST", P_TOK, DROP(2)), NOF2, false, 0},
	{"mint", "drop_after", NOGATE, EMU, FAULT("POST", P_TOK, DROPA(1)), NOF2, false, 0},
	{"mint", "drop_after every attempt", NOGATE, EMU, FAULT("POST", P_TOK, DROPA(4)), NOF2,
	 false, 0},
	{"mint", "timeout", NOGATE, EMU, FAULT("POST", P_TOK, HOLD(1)), NOF2, false, 0},
	/* list: the first GET .../tokens */
	{"list", "503", NOGATE, EMU, FAULT("GET", P_TOK, S503(2)), NOF2, false, 0},
	{"list", "429 Retry-After 1", NOGATE, EMU, FAULT("GET", P_TOK, S429(1)), NOF2, false, 0},
	{"list", "drop", NOGATE, EMU, FAULT("GET", P_TOK, DROP(3)), NOF2, false, 0},
	{"list", "drop_after", NOGATE, EMU, FAULT("GET", P_TOK, DROPA(2)), NOF2, false, 0},
	{"list", "timeout", NOGATE, EMU, FAULT("GET", P_TOK, HOLD(2)), NOF2, false, 0},
	/* the retire phase's read of the stores (it reuses the first token
	 * list): the vault GET after the k8s write, gated on that write */
	{"retire store read", "503", K8S, FAULT("PATCH", P_K8S, HOLD(1)), VLT,
	 FAULT("GET", P_VAULT, S503(2)), NOF2, false, 0},
	{"retire store read", "timeout", K8S, FAULT("PATCH", P_K8S, HOLD(1)), VLT,
	 FAULT("GET", P_VAULT, HOLD(2)), NOF2, false, 0},
	/* revoke: DELETE .../tokens/ID in the retire phase */
	{"revoke", "503", NOGATE, EMU, FAULT("DELETE", P_REVOKE, S503(2)), NOF2, false, 0},
	{"revoke", "429 Retry-After 1", NOGATE, EMU, FAULT("DELETE", P_REVOKE, S429(1)), NOF2, false,
	 0},
	{"revoke", "drop", NOGATE, EMU, FAULT("DELETE", P_REVOKE, DROP(3)), NOF2, false, 0},
	{"revoke", "drop_after", NOGATE, EMU, FAULT("DELETE", P_REVOKE, DROPA(1)), NOF2, false, 0},
	{"revoke", "timeout", NOGATE, EMU, FAULT("DELETE", P_REVOKE, HOLD(2)), NOF2, false,
	 0},
	/* vault store write: POST /v1/secret/data/rotfault (cas) */
	{"vault write", "503", NOGATE, VLT, FAULT("POST", P_VAULT, S503(1)), NOF2, false, 0},
	{"vault write", "429 Retry-After 1", NOGATE, VLT, FAULT("POST", P_VAULT, S429(1)), NOF2,
	 false, 0},
	{"vault write", "drop", NOGATE, VLT, FAULT("POST", P_VAULT, DROP(2)), NOF2, false, 0},
	{"vault write", "drop_after", NOGATE, VLT, FAULT("POST", P_VAULT, DROPA(1)), NOF2, false, 0},
	{"vault write", "timeout", NOGATE, VLT, FAULT("POST", P_VAULT, HOLD(1)), NOF2, false,
	 0},
	{"vault write", "cas conflict", NOGATE, VLT, FAULT("POST", P_VAULT, BUMP), NOF2, false, BUMPED_V},
	/* k8s store write: PATCH the Secret (resourceVersion) */
	{"k8s write", "503", NOGATE, K8S, FAULT("PATCH", P_K8S, S503(1)), NOF2, false, 0},
	{"k8s write", "429 Retry-After 1", NOGATE, K8S, FAULT("PATCH", P_K8S, S429(1)), NOF2, false,
	 0},
	{"k8s write", "drop", NOGATE, K8S, FAULT("PATCH", P_K8S, DROP(2)), NOF2, false, 0},
	{"k8s write", "drop_after", NOGATE, K8S, FAULT("PATCH", P_K8S, DROPA(1)), NOF2, false, 0},
	{"k8s write", "timeout", NOGATE, K8S, FAULT("PATCH", P_K8S, HOLD(1)), NOF2, false,
	 0},
	{"k8s write", "resourceVersion conflict", NOGATE, K8S, FAULT("PATCH", P_K8S, BUMP), NOF2,
	 false, 0},
	/* store read-back: the GET after the write (gated on the write) */
	{"vault read-back", "503", VLT, FAULT("POST", P_VAULT, HOLD(1)), VLT,
	 FAULT("GET", P_VAULT, S503(2)), NOF2, false, 0},
	{"vault read-back", "drop", VLT, FAULT("POST", P_VAULT, HOLD(1)), VLT,
	 FAULT("GET", P_VAULT, DROP(3)), NOF2, false, 0},
	{"vault read-back", "timeout", VLT, FAULT("POST", P_VAULT, HOLD(1)), VLT,
	 FAULT("GET", P_VAULT, HOLD(2)), NOF2, false, 0},
	{"k8s read-back", "503", K8S, FAULT("PATCH", P_K8S, HOLD(1)), K8S,
	 FAULT("GET", P_K8S, S503(2)), NOF2, false, 0},
	{"k8s read-back", "drop_after", K8S, FAULT("PATCH", P_K8S, HOLD(1)), K8S,
	 FAULT("GET", P_K8S, DROPA(3)), NOF2, false, 0},
	{"k8s read-back", "timeout", K8S, FAULT("PATCH", P_K8S, HOLD(1)), K8S,
	 FAULT("GET", P_K8S, HOLD(2)), NOF2, false, 0},
	/* Both read-backs fail with no file store: no store is known to hold
	 * the new token, though both do. Regression: push revoked it then,
	 * leaving both stores on a revoked token; it is now kept (exit 8). */
	{"vault+k8s read-back, no file store", "503", VLT, FAULT("POST", P_VAULT, HOLD(1)),
	 VLT, FAULT("GET", P_VAULT, S503(2)), K8S, FAULT("GET", P_K8S, S503(2)), false, NO_FILE},
	/* Store reads down for the whole run (pre-read, write, read-back,
	 * retire), the write itself refused. Regression: an unreadable store
	 * counted as empty and retirement revoked the token it still holds;
	 * retirement now waits until every store can be read. */
	{"vault read + write", "503 on every request", NOGATE, VLT,
	 FAULT("GET", P_VAULT, S503(20)), VLT, FAULT("POST", P_VAULT, S503(20)), false, 0},
	{"k8s read + write", "503 on every request", NOGATE, K8S, FAULT("GET", P_K8S, S503(20)), K8S,
	 FAULT("PATCH", P_K8S, S503(20)), false, 0},
	/* kill -9 of mdcred while the step is in flight (held on the server) */
	{"mint", "kill -9", NOGATE, EMU, FAULT("POST", P_TOK, HOLD(1)), NOF2, true, 0},
	{"list", "kill -9", NOGATE, EMU, FAULT("GET", P_TOK, HOLD(1)), NOF2, true, 0},
	{"vault write", "kill -9", NOGATE, VLT, FAULT("POST", P_VAULT, HOLD(1)), NOF2, true,
	 0},
	{"k8s write", "kill -9", NOGATE, K8S, FAULT("PATCH", P_K8S, HOLD(1)), NOF2, true,
	 0},
	{"vault read-back", "kill -9", VLT, FAULT("POST", P_VAULT, HOLD(1)), VLT,
	 FAULT("GET", P_VAULT, HOLD(1)), NOF2, true, 0},
	{"revoke", "kill -9", NOGATE, EMU, FAULT("DELETE", P_REVOKE, HOLD(1)), NOF2, true,
	 0},
};

#define NSCEN ((int)(sizeof matrix / sizeof matrix[0]))

/* ---- the fakes --------------------------------------------------------- */

static h_fakes fakes;
static char env_admin[1400];

/* Unchecked fixture: both fakes, once per test process. */
static void fakes_start(void)
{
	h_fakes_start(&fakes, "rotfault");
	snprintf(env_admin, sizeof env_admin, "MOTHERDUCK_ADMIN_TOKEN_FILE=%s",
		 h_admin_token_file());
}

static void fakes_stop(void) { h_fakes_stop(&fakes); }

/* ---- talking to the servers directly ------------------------------------ */

/* method path on a server; with_auth sends the server's credential. The
 * answer (which may hold a token) stays in memory. Returns the status. */
static long srv_call(int srv, const char *method, const char *path, const char *body,
		     bool with_auth, md_secret *out)
{
	_cleanup_secret_ md_secret *auth = NULL;
	if (with_auth && srv == VLT) {
		auth = md_secret_new(256);
		md_secret_appendf(auth, "X-Vault-Token: %s",
				  fakes.env_vault_token + strlen("VAULT_TOKEN="));
	} else if (with_auth && srv == K8S) {
		_cleanup_secret_ md_secret *tok = NULL;
		ck_assert(md_secret_read_file(fakes.k8s_sa, 4096, &tok, NULL) == MD_OK);
		auth = md_secret_new(256);
		md_secret_appendf(auth, "Authorization: Bearer %s", md_secret_str(tok));
	}
	h_http_target t = {srv == EMU ? h_base_url() : srv == VLT ? fakes.vault_url : fakes.k8s_url,
			   srv == K8S ? fakes.k8s_cert : NULL, NULL, auth};
	return h_http(&t, method, path, body, out);
}

static const char *const ctl_faults[] = {"/_emulator/faults", "/_fake/faults", "/_fake/faults"};

static void add_fault(int srv, const char *json)
{
	_cleanup_secret_ md_secret *b = md_secret_new(1024);
	long st = srv_call(srv, "POST", ctl_faults[srv], json, false, b);
	ck_assert_msg(st == 200, "adding fault %s: HTTP %ld", json, st);
}

static void clear_faults(void)
{
	for (int s = EMU; s <= K8S; s++) {
		_cleanup_secret_ md_secret *b = md_secret_new(1024);
		ck_assert_int_eq(srv_call(s, "DELETE", ctl_faults[s], NULL, false, b), 200);
	}
}

static void fakes_reset(void)
{
	for (int s = VLT; s <= K8S; s++) {
		_cleanup_secret_ md_secret *b = md_secret_new(256);
		ck_assert_int_eq(srv_call(s, "POST", "/_fake/reset", "{}", false, b), 200);
	}
}

/* Fault rules on srv that can still fire. */
static int faults_pending(int srv)
{
	_cleanup_secret_ md_secret *b = md_secret_new(1 << 16);
	const char *path = srv == EMU ? "/_emulator/faults" : "/_fake/state";
	ck_assert_int_eq(srv_call(srv, "GET", path, NULL, false, b), 200);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(b), md_secret_len(b), NULL), 0);
	int arr = md_json_get(&d, 0, "faults"), n = 0;
	for (int i = 0; i < md_json_count(&d, arr); i++) {
		long long c = 1;
		int ct = md_json_get(&d, md_json_at(&d, arr, i), "count");
		if (srv == EMU || ct < 0 || md_json_int(&d, ct, &c) < 0)
			c = 1; /* the emulator drops a rule once it is used up */
		n += c != 0;
	}
	md_json_free(&d);
	return n;
}

/* ---- what the stores hold and which tokens are live ---------------------- */

static int cur; /* the running scenario, for messages */
static char state_dir[1300], file_path[1300], file_uri[1400], vault_uri[256];

/* The token id the store holds ("" when it holds no token). */
static void file_id(char *id, size_t idsz)
{
	id[0] = '\0';
	_cleanup_secret_ md_secret *raw = NULL;
	if (md_file_read_secret(file_path, 1 << 16, &raw, NULL) != MD_OK)
		return;
	md_json d;
	ck_assert_msg(md_json_parse(&d, md_secret_str(raw), md_secret_len(raw), NULL) == 0,
		      "scenario %02d: the file store holds no JSON", cur);
	if (md_json_get(&d, 0, "token") >= 0)
		md_json_str(&d, md_json_get(&d, 0, "id"), id, idsz);
	md_json_free(&d);
}

static void vault_id(char *id, size_t idsz)
{
	id[0] = '\0';
	_cleanup_secret_ md_secret *b = md_secret_new(4096);
	long st = srv_call(VLT, "GET", P_VAULT, NULL, true, b);
	if (st == 404)
		return;
	ck_assert_msg(st == 200, "scenario %02d: reading the vault secret: HTTP %ld", cur, st);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(b), md_secret_len(b), NULL), 0);
	int kv = md_json_get(&d, md_json_get(&d, 0, "data"), "data");
	if (md_json_get(&d, kv, "token") >= 0)
		md_json_str(&d, md_json_get(&d, kv, "id"), id, idsz);
	md_json_free(&d);
}

static void k8s_id(char *id, size_t idsz)
{
	id[0] = '\0';
	_cleanup_secret_ md_secret *b = md_secret_new(4096);
	long st = srv_call(K8S, "GET", P_K8S, NULL, true, b);
	if (st == 404)
		return;
	ck_assert_msg(st == 200, "scenario %02d: reading the k8s secret: HTTP %ld", cur, st);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(b), md_secret_len(b), NULL), 0);
	int meta = md_json_get(&d, 0, "metadata");
	if (md_json_get(&d, md_json_get(&d, 0, "data"), "MOTHERDUCK_TOKEN") >= 0)
		md_json_str(&d, md_json_get(&d, md_json_get(&d, meta, "annotations"),
					    "mdcred.motherduck.com/token-id"),
			    id, idsz);
	md_json_free(&d);
}

/* Invariant (1) (and, after the rerun, (2)'s "same token" and (4)). */
static void check_invariants(const scenario *sc, bool rerun)
{
	const char *phase = rerun ? "after the rerun" : "after the faulty run";
	h_tokens toks;
	h_user_tokens(USER, &toks);
	char ids[3][80];
	const char *names[3] = {"file", "vault", "k8s"};
	file_id(ids[0], sizeof ids[0]);
	vault_id(ids[1], sizeof ids[1]);
	k8s_id(ids[2], sizeof ids[2]);
	for (int s = 0; s < 3; s++) {
		if (s == 0 && (sc->flags & NO_FILE))
			continue;
		/* Another writer replaced the vault secret (the cas conflict's
		 * cause): holding no token is that writer's doing, not ours. */
		if (s == 1 && !rerun && (sc->flags & BUMPED_V) && !ids[s][0])
			continue;
		ck_assert_msg(ids[s][0], "scenario %02d (%s / %s) %s: the %s store holds no token",
			      cur, sc->step, sc->fault, phase, names[s]);
		const h_token *t = h_find_token(&toks, ids[s]);
		ck_assert_msg(t && t->live,
			      "scenario %02d (%s / %s) %s: the %s store holds token %s, which is "
			      "revoked or expired",
			      cur, sc->step, sc->fault, phase, names[s], ids[s]);
	}
	if (!rerun)
		return;
	for (int s = 1; s < 3; s++)
		ck_assert_msg(strcmp(ids[s], ids[(sc->flags & NO_FILE) ? 1 : 0]) == 0,
			      "scenario %02d (%s / %s): not converged: the %s store holds %s, "
			      "the %s store %s",
			      cur, sc->step, sc->fault, names[s], ids[s],
			      names[(sc->flags & NO_FILE) ? 1 : 0], ids[(sc->flags & NO_FILE) ? 1 : 0]);
	int live = 0;
	for (int i = 0; i < toks.n; i++)
		live += toks.t[i].live && strncmp(toks.t[i].name, "mdcred-" USER "-",
						  strlen("mdcred-" USER "-")) == 0;
	ck_assert_msg(live <= KEEP + 1,
		      "scenario %02d (%s / %s): %d live role tokens after the rerun (keep %d): "
		      "orphans were left",
		      cur, sc->step, sc->fault, live, KEEP);
}

/* ---- running mdcred rotate ---------------------------------------------- */

typedef struct {
	pid_t pid;
	char out[1300], err[1300];
} run;

/* Starts `mdcred rotate` (stdout/stderr to files in the run dir, which the
 * leak scan searches). */
static void rotate_start(run *r, const scenario *sc, const char *tag, bool force)
{
	char name[96];
	snprintf(name, sizeof name, "rotfault-%d-%02d-%s.stdout", (int)getpid(), cur, tag);
	snprintf(r->out, sizeof r->out, "%s", h_path(false, name));
	snprintf(name, sizeof name, "rotfault-%d-%02d-%s.stderr", (int)getpid(), cur, tag);
	snprintf(r->err, sizeof r->err, "%s", h_path(false, name));
	const char *argv[40];
	int n = 0;
	argv[n++] = "mdcred";
	argv[n++] = "--api-url";
	argv[n++] = h_base_url();
	argv[n++] = "--timeout";
	argv[n++] = "1";
	argv[n++] = "--retries";
	argv[n++] = "1";
	argv[n++] = "rotate";
	argv[n++] = USER;
	argv[n++] = "--state-dir";
	argv[n++] = state_dir;
	argv[n++] = "--ttl";
	argv[n++] = "1h";
	argv[n++] = "--grace";
	argv[n++] = "0";
	argv[n++] = "--keep";
	argv[n++] = "2";
	argv[n++] = "--json";
	if (force)
		argv[n++] = "--force";
	if (!(sc->flags & NO_FILE)) {
		argv[n++] = "--store";
		argv[n++] = file_uri;
	}
	argv[n++] = "--store";
	argv[n++] = vault_uri;
	argv[n++] = "--store";
	argv[n++] = "k8s://team-a/md-token";
	argv[n] = NULL;
	int ofd = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int efd = open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert(ofd >= 0 && efd >= 0);
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		dup2(in, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		putenv(env_admin);
		for (size_t i = 0; fakes.env[i]; i++)
			putenv((char *)fakes.env[i]);
		const char *bin = getenv("MDCRED_BIN");
		execv(bin && *bin ? bin : "build/mdcred", (char *const *)argv);
		_exit(127);
	}
	close(ofd);
	close(efd);
}

/* Exit code (128+signal when killed). */
static int rotate_wait(run *r)
{
	int st = 0;
	ck_assert_int_eq(waitpid(r->pid, &st, 0), r->pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The "action" of the --json line ("-" when there is none). */
static void run_action(const run *r, char *action, size_t sz)
{
	snprintf(action, sz, "-");
	_cleanup_secret_ md_secret *o = NULL;
	if (md_file_read_secret(r->out, 1 << 16, &o, NULL) != MD_OK || md_secret_len(o) == 0)
		return;
	md_json d;
	if (md_json_parse(&d, md_secret_str(o), md_secret_len(o), NULL) != 0)
		return;
	md_json_str(&d, md_json_get(&d, 0, "action"), action, sz);
	md_json_free(&d);
}

/* Waiting for the fault: taken (the rule used up: a held request is held
 * now), or mdcred ended first. */
struct taken {
	const run *r;
	int srv;
	bool ended;
	int st;
};

static bool taken_or_ended(void *arg)
{
	struct taken *t = arg;
	if (faults_pending(t->srv) == 0)
		return true;
	t->ended = waitpid(t->r->pid, &t->st, WNOHANG) == t->r->pid;
	return t->ended;
}

static void wait_taken(const run *r, int srv)
{
	struct taken t = {r, srv, false, 0};
	bool done = h_wait_for(taken_or_ended, &t, 30000);
	ck_assert_msg(!t.ended, "scenario %02d: mdcred ended (status %d) before the fault was "
		      "reached; see %s", cur, t.st, r->err);
	ck_assert_msg(done, "scenario %02d: the fault was never reached; see %s", cur, r->err);
}

static void release(int srv)
{
	_cleanup_secret_ md_secret *b = md_secret_new(256);
	ck_assert_int_eq(srv_call(srv, "POST", srv == EMU ? "/_emulator/release" : "/_fake/release",
				  "{}", false, b), 200);
}

/* Requests a server is still handling (a held or delayed one). */
static long long in_flight(int srv)
{
	_cleanup_secret_ md_secret *b = md_secret_new(1 << 16);
	ck_assert_int_eq(srv_call(srv, "GET", srv == EMU ? "/_emulator/state" : "/_fake/state",
				  NULL, false, b), 200);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(b), md_secret_len(b), NULL), 0);
	long long n = -1;
	md_json_int(&d, md_json_get(&d, 0, "in_flight"), &n);
	md_json_free(&d);
	return n;
}

static bool servers_idle(void *arg)
{
	(void)arg;
	return in_flight(EMU) == 0 && in_flight(VLT) == 0 && in_flight(K8S) == 0;
}

static const char *const srv_names[] = {"emulator", "vault", "k8s"};

/* The matrix in parts, a test case each (rotate_faults_1 ...), each with its
 * own fakes: run_all.sh runs the parts side by side. Part p takes every
 * PARTS-th scenario from p (the slow kinds, timeouts and kills, are spread
 * over all parts); its loop index p * NSCEN + k is scenario p + k * PARTS. */
#define PARTS 6

static int scenario_of(int i)
{
	return i / NSCEN + i % NSCEN * PARTS;
}

START_TEST(fault_matrix)
{
	cur = scenario_of(_i);
	const scenario *sc = &matrix[cur];
	printf("scenario %02d: step=%s fault=%s at=%s%s%s\n", cur, sc->step, sc->fault,
	       srv_names[sc->srv], sc->gate ? " (gated)" : "",
	       (sc->flags & NO_FILE) ? " stores=vault,k8s" : " stores=file,vault,k8s");
	fflush(stdout);

	char name[64];
	snprintf(name, sizeof name, "rotfault-state-%02d", cur);
	snprintf(state_dir, sizeof state_dir, "%s", h_path(false, name));
	snprintf(name, sizeof name, "rotfault-%02d.json", cur);
	snprintf(file_path, sizeof file_path, "%s", h_path(true, name));
	unlink(file_path);
	snprintf(file_uri, sizeof file_uri, "file://%s?format=json", file_path);
	snprintf(vault_uri, sizeof vault_uri, "vault://%s/secret/rotfault", fakes.vault_host);
	h_make_account(USER);

	/* A role already rotated once: every store holds a live token. */
	run r;
	char act[32];
	rotate_start(&r, sc, "setup", false);
	int rc = rotate_wait(&r);
	run_action(&r, act, sizeof act);
	ck_assert_msg(rc == 0 && strcmp(act, "rotated") == 0,
		      "scenario %02d: the first rotation: exit %d, action %s (see %s)", cur, rc, act,
		      r.err);
	check_invariants(sc, false);

	/* The faulty run. */
	if (sc->gate)
		add_fault(sc->gsrv, sc->gate);
	else {
		add_fault(sc->srv, sc->f1);
		if (sc->f2)
			add_fault(sc->srv2, sc->f2);
	}
	rotate_start(&r, sc, "faulty", true);
	if (sc->gate) {
		/* The gate's request is held: arm the fault, then let it go on. */
		wait_taken(&r, sc->gsrv);
		add_fault(sc->srv, sc->f1);
		if (sc->f2)
			add_fault(sc->srv2, sc->f2);
		release(sc->gsrv);
	}
	if (sc->kill) {
		wait_taken(&r, sc->srv);
		kill(r.pid, SIGKILL);
	}
	int rc1 = rotate_wait(&r);
	char act1[32];
	run_action(&r, act1, sizeof act1);
	/* Held requests go on, and every server finishes what it is handling
	 * before the state is judged. */
	clear_faults();
	for (int srv = EMU; srv <= K8S; srv++)
		release(srv);
	ck_assert_msg(h_wait_for(servers_idle, NULL, 60000),
		      "scenario %02d: a server is still handling a request", cur);
	if (sc->kill)
		ck_assert_msg(rc1 == 128 + SIGKILL, "scenario %02d: mdcred was not killed (exit %d)",
			      cur, rc1);
	else
		ck_assert_msg(rc1 == 0 || (rc1 >= 5 && rc1 <= 8),
			      "scenario %02d: exit %d is not a documented outcome (see %s)", cur, rc1,
			      r.err);
	check_invariants(sc, false);

	/* The rerun converges. */
	rotate_start(&r, sc, "rerun", false);
	int rc2 = rotate_wait(&r);
	char act2[32];
	run_action(&r, act2, sizeof act2);
	ck_assert_msg(rc2 == 0 && (strcmp(act2, "rotated") == 0 || strcmp(act2, "fresh") == 0),
		      "scenario %02d (%s / %s): the rerun: exit %d, action %s (see %s)", cur, sc->step,
		      sc->fault, rc2, act2, r.err);
	check_invariants(sc, true);
	printf("scenario %02d: step=%s fault=%s result=ok (faulty run: exit %d, action %s; "
	       "rerun: exit %d, action %s)\n",
	       cur, sc->step, sc->fault, rc1, act1, rc2, act2);
	fflush(stdout);
}
END_TEST


Suite *suite_rotate_faults(void)
{
	static const char *const names[PARTS] = {"rotate_faults_1", "rotate_faults_2",
						 "rotate_faults_3", "rotate_faults_4",
						 "rotate_faults_5", "rotate_faults_6"};
	Suite *s = h_suite("rotate_faults");
	for (int p = 0; p < PARTS; p++) {
		TCase *tc = h_tcase(names[p]);
		tcase_add_unchecked_fixture(tc, fakes_start, fakes_stop);
		tcase_add_checked_fixture(tc, fakes_reset, NULL);
		tcase_set_timeout(tc, 60);
		tcase_add_loop_test(tc, fault_matrix, p * NSCEN,
				    p * NSCEN + (NSCEN - p + PARTS - 1) / PARTS);
		suite_add_tcase(s, tc);
	}
	return s;
}
