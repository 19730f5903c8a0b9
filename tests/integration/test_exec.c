/* test_exec.c - `mdcred exec` against the emulator: the child's environment,
 * exit codes and signals, --revoke-on-exit supervision, --from files.
 *
 * The commands run under exec are small /bin/sh scripts that write what they
 * see into files under requested/ (they hold the token); token values are
 * only ever compared with memcmp, never printed. */
#define _GNU_SOURCE
#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"

#define USER "svc_exec_test"

static void setup_account(void)
{
	/* Deterministic child environment: nothing inherited under the default name. */
	unsetenv("MOTHERDUCK_TOKEN");
	h_make_account(USER);
}

/* A fresh path under requested/: files of earlier tests share the run dir. */
static const char *req(const char *name)
{
	const char *p = h_path(true, name);
	unlink(p);
	return p;
}

/* Reads a file under requested/ (NULL if it cannot be read). */
static md_secret *read_req(const char *name)
{
	md_secret *s = NULL;
	if (md_file_read_secret(h_path(true, name), 1 << 20, &s, NULL) != MD_OK)
		return NULL;
	return s;
}

/* The admin token value (the file's content minus trailing whitespace). */
static md_secret *admin_token(void)
{
	md_secret *s = NULL;
	ck_assert_int_eq(md_file_read_secret(h_admin_token_file(), 65536, &s, NULL), MD_OK);
	size_t n = md_secret_len(s);
	const char *p = md_secret_str(s);
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	md_secret_truncate(s, n);
	ck_assert_msg(n > 0, "admin token file is empty");
	return s;
}

static bool same_secret(const md_secret *a, const md_secret *b)
{
	return md_secret_len(a) == md_secret_len(b) &&
	       memcmp(md_secret_str(a), md_secret_str(b), md_secret_len(a)) == 0;
}

/* Does the `env` dump have a line starting with NAME= ? */
static bool env_has_var(const md_secret *env, const char *name)
{
	const char *s = md_secret_str(env);
	size_t nl = strlen(name);
	for (const char *p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, nl) == 0 && p[nl] == '=')
			return true;
	return false;
}

static bool secret_contains(const md_secret *hay, const md_secret *needle)
{
	return md_secret_len(needle) > 0 &&
	       memmem(md_secret_str(hay), md_secret_len(hay), md_secret_str(needle),
		      md_secret_len(needle)) != NULL;
}

static void assert_issued_non_admin(const md_secret *tok)
{
	ck_assert_msg(tok != NULL, "the child wrote no token file");
	ck_assert_msg(md_secret_len(tok) > 0, "the child saw an empty token");
	ck_assert_msg(h_is_issued_token(md_secret_str(tok), md_secret_len(tok)),
		      "the child's token is not one the emulator issued");
	_cleanup_secret_ md_secret *adm = admin_token();
	ck_assert_msg(!same_secret(tok, adm), "the child was given the admin token");
}

/* ---- the child's environment ---- */

START_TEST(child_gets_token_not_admin)
{
	setup_account();
	char script[4096];
	snprintf(script, sizeof script, "printf %%s \"$MOTHERDUCK_TOKEN\" > '%s'; env > '%s'",
		 req("tok"), req("env"));
	h_result r;
	h_run(&r, 0, NULL, NULL, "exec", USER, "--", "sh", "-c", script, NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);

	_cleanup_secret_ md_secret *tok = read_req("tok");
	_cleanup_secret_ md_secret *env = read_req("env");
	assert_issued_non_admin(tok);
	ck_assert_msg(env != NULL, "the child wrote no env dump");
	ck_assert_msg(!env_has_var(env, "MOTHERDUCK_ADMIN_TOKEN"),
		      "MOTHERDUCK_ADMIN_TOKEN reached the child");
	ck_assert_msg(!env_has_var(env, "MOTHERDUCK_ADMIN_TOKEN_FILE"),
		      "MOTHERDUCK_ADMIN_TOKEN_FILE reached the child");
	ck_assert_msg(env_has_var(env, "MOTHERDUCK_TOKEN"), "MOTHERDUCK_TOKEN not set");
	_cleanup_secret_ md_secret *adm = admin_token();
	ck_assert_msg(!secret_contains(env, adm), "the admin token value is in the child's env");
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(admin_token_from_env_not_passed_on)
{
	setup_account();
	_cleanup_secret_ md_secret *adm = admin_token();
	/* putenv (in the run's child) keeps the pointer: a buffer that outlives
	 * the run, wiped right after it. */
	static char envbuf[16384];
	ck_assert_uint_lt(md_secret_len(adm) + 32, sizeof envbuf);
	snprintf(envbuf, sizeof envbuf, "MOTHERDUCK_ADMIN_TOKEN=%s", md_secret_str(adm));
	const char *env_list[] = {envbuf, NULL};

	char script[4096];
	snprintf(script, sizeof script, "printf %%s \"$MOTHERDUCK_TOKEN\" > '%s'; env > '%s'",
		 req("tok"), req("env"));
	h_result r;
	h_run(&r, H_NO_AUTH, NULL, env_list, "exec", USER, "--", "sh", "-c", script, NULL);
	explicit_bzero(envbuf, sizeof envbuf);
	ck_assert_exit(r, 0);
	h_result_free(&r);

	_cleanup_secret_ md_secret *tok = read_req("tok");
	_cleanup_secret_ md_secret *env = read_req("env");
	assert_issued_non_admin(tok);
	ck_assert_msg(env != NULL, "the child wrote no env dump");
	ck_assert_msg(!env_has_var(env, "MOTHERDUCK_ADMIN_TOKEN"),
		      "MOTHERDUCK_ADMIN_TOKEN reached the child");
	ck_assert_msg(!env_has_var(env, "MOTHERDUCK_ADMIN_TOKEN_FILE"),
		      "MOTHERDUCK_ADMIN_TOKEN_FILE reached the child");
	ck_assert_msg(!secret_contains(env, adm), "the admin token value is in the child's env");
}
END_TEST

START_TEST(env_names_repeated)
{
	setup_account();
	char script[4096];
	snprintf(script, sizeof script,
		 "printf %%s \"$DB_TOKEN\" > '%s'; printf %%s \"$OTHER_TOKEN\" > '%s'; env > '%s'",
		 req("a"), req("b"), req("env"));
	h_result r;
	h_run(&r, 0, NULL, NULL, "exec", "--env", "DB_TOKEN", "--env", "OTHER_TOKEN", USER, "--",
	      "sh", "-c", script, NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	{
		_cleanup_secret_ md_secret *a = read_req("a");
		_cleanup_secret_ md_secret *b = read_req("b");
		_cleanup_secret_ md_secret *env = read_req("env");
		assert_issued_non_admin(a);
		ck_assert_msg(b && same_secret(a, b), "DB_TOKEN and OTHER_TOKEN differ");
		ck_assert_msg(env && !env_has_var(env, "MOTHERDUCK_TOKEN"),
			      "MOTHERDUCK_TOKEN is set though not named");
		ck_assert_msg(env_has_var(env, "DB_TOKEN") && env_has_var(env, "OTHER_TOKEN"),
			      "a named variable is missing");
	}

	/* Naming MOTHERDUCK_TOKEN explicitly keeps it. */
	snprintf(script, sizeof script,
		 "printf %%s \"$MOTHERDUCK_TOKEN\" > '%s'; printf %%s \"$X_TOKEN\" > '%s'",
		 req("c"), req("d"));
	h_run(&r, 0, NULL, NULL, "exec", "--env", "MOTHERDUCK_TOKEN", "--env", "X_TOKEN", USER,
	      "--", "sh", "-c", script, NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	_cleanup_secret_ md_secret *c = read_req("c");
	_cleanup_secret_ md_secret *d = read_req("d");
	assert_issued_non_admin(c);
	ck_assert_msg(d && same_secret(c, d), "MOTHERDUCK_TOKEN and X_TOKEN differ");
	ck_assert_int_eq(h_live_tokens(USER), 2);
}
END_TEST

/* ---- exit codes and signals without supervision ---- */

START_TEST(exit_code_passthrough_replaces_process)
{
	setup_account();
	h_result r;
	h_run(&r, 0, NULL, NULL, "exec", USER, "--", "sh", "-c", "exit 7", NULL);
	ck_assert_exit(r, 7);
	ck_assert_msg(!h_contains(r.err, "revoked"), "stderr: %s", md_secret_str(r.err));
	h_result_free(&r);
	/* The process was replaced: nobody was left to revoke the token. */
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(signal_death_without_supervision)
{
	setup_account();
	h_result r;
	h_run(&r, 0, NULL, NULL, "exec", USER, "--", "sh", "-c", "kill -TERM $$", NULL);
	ck_assert_exit(r, 128 + SIGTERM);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

/* ---- --revoke-on-exit ---- */

START_TEST(revoke_on_exit_code_and_revocation)
{
	setup_account();
	char script[4096];
	snprintf(script, sizeof script, "printf %%s \"$MOTHERDUCK_TOKEN\" > '%s'; exit 3",
		 req("tok"));
	h_result r;
	h_run(&r, 0, NULL, NULL, "exec", "--revoke-on-exit", USER, "--", "sh", "-c", script, NULL);
	ck_assert_exit(r, 3);
	ck_assert_msg(h_contains(r.err, "revoked token"), "stderr: %s", md_secret_str(r.err));
	h_result_free(&r);
	_cleanup_secret_ md_secret *tok = read_req("tok");
	assert_issued_non_admin(tok);
	ck_assert_int_eq(h_live_tokens(USER), 0);

	/* Exit 0 too. */
	h_run(&r, 0, NULL, NULL, "exec", "--revoke-on-exit", USER, "--", "true", NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

START_TEST(revoke_on_exit_signal_death)
{
	setup_account();
	h_result r;
	h_run(&r, 0, NULL, NULL, "exec", "--revoke-on-exit", USER, "--", "sh", "-c",
	      "kill -TERM $$", NULL);
	ck_assert_exit(r, 128 + SIGTERM);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);

	h_run(&r, 0, NULL, NULL, "exec", "--revoke-on-exit", USER, "--", "sh", "-c",
	      "kill -KILL $$", NULL);
	ck_assert_exit(r, 128 + SIGKILL);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

/* Starts `mdcred exec --revoke-on-exit USER -- /bin/sh -c script` in the
 * background (h_spawn_mdcred). */
static pid_t spawn_supervised(const char *script, const char *tag)
{
	const char *args[] = {"exec", "--revoke-on-exit", USER, "--", "/bin/sh", "-c", script,
			      NULL};
	return h_spawn_mdcred(tag, NULL, args);
}

struct file_wait {
	const char *name;
	pid_t still_running;
	bool ended;
};

static bool file_or_end(void *arg)
{
	struct file_wait *w = arg;
	if (access(h_path(true, w->name), F_OK) == 0)
		return true;
	w->ended = w->still_running > 0 &&
		   waitpid(w->still_running, NULL, WNOHANG) == w->still_running;
	return w->ended;
}

/* Waits (at most 30 s) for a file under requested/ to exist; false if
 * still_running ended first. */
static bool wait_for_file(const char *name, pid_t still_running)
{
	struct file_wait w = {name, still_running, false};
	return h_wait_for(file_or_end, &w, 30000) && !w.ended;
}

static int wait_status(pid_t pid)
{
	int st = 0;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void read_bg_stderr(const char *tag, char *out, size_t outsz)
{
	char name[64];
	snprintf(name, sizeof name, "bg-%s.stderr", tag);
	_cleanup_secret_ md_secret *s = NULL;
	out[0] = '\0';
	if (md_file_read_secret(h_path(false, name), 1 << 16, &s, NULL) == MD_OK)
		snprintf(out, outsz, "%s", md_secret_str(s));
}

START_TEST(revoke_on_exit_forwards_sigterm)
{
	setup_account();
	char script[4096];
	snprintf(script, sizeof script,
		 "trap 'echo got-term > \"%s\"; exit 42' TERM; echo ready > '%s'; "
		 "while :; do sleep 0.1; done",
		 req("sig"), req("ready"));
	pid_t pid = spawn_supervised(script, "term");
	bool ready = wait_for_file("ready", pid);
	char err[4096];
	if (!ready) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		read_bg_stderr("term", err, sizeof err);
		ck_abort_msg("the command never got ready; stderr: %s", err);
	}
	ck_assert_int_eq(h_live_tokens(USER), 1);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	int status = wait_status(pid);
	read_bg_stderr("term", err, sizeof err);
	ck_assert_msg(status == 42, "exit %d, expected 42; stderr: %s", status, err);
	_cleanup_secret_ md_secret *sig = read_req("sig");
	ck_assert_msg(sig && strcmp(md_secret_str(sig), "got-term\n") == 0,
		      "the command did not get SIGTERM");
	ck_assert_msg(strstr(err, "revoked token") != NULL, "stderr: %s", err);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

START_TEST(revoke_on_exit_forwards_sigusr1)
{
	setup_account();
	char script[4096];
	snprintf(script, sizeof script,
		 "trap 'echo got-usr1 > \"%s\"' USR1; trap 'exit 43' TERM; echo ready > '%s'; "
		 "while :; do sleep 0.1; done",
		 req("usr1"), req("ready"));
	pid_t pid = spawn_supervised(script, "usr1");
	bool ready = wait_for_file("ready", pid);
	char err[4096];
	if (!ready) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		read_bg_stderr("usr1", err, sizeof err);
		ck_abort_msg("the command never got ready; stderr: %s", err);
	}
	ck_assert_int_eq(kill(pid, SIGUSR1), 0);
	bool got = wait_for_file("usr1", pid);
	/* mdcred itself must still be running: USR1 was forwarded, not fatal. */
	ck_assert_msg(got, "the command did not get SIGUSR1");
	ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
	ck_assert_int_eq(h_live_tokens(USER), 1);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	int status = wait_status(pid);
	read_bg_stderr("usr1", err, sizeof err);
	ck_assert_msg(status == 43, "exit %d, expected 43; stderr: %s", status, err);
	_cleanup_secret_ md_secret *u = read_req("usr1");
	ck_assert_msg(u && strcmp(md_secret_str(u), "got-usr1\n") == 0, "usr1 file content");
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

/* ---- --from ---- */

static const char *const formats[] = {"token", "env", "dotenv", "json"};

/* The token inside a file written by `token create --format F`. */
static md_secret *token_from_file(const char *fmt, const md_secret *c)
{
	md_secret *t = md_secret_new(1024);
	const char *s = md_secret_str(c);
	if (strcmp(fmt, "json") == 0) {
		md_json d;
		ck_assert_int_eq(md_json_parse(&d, s, md_secret_len(c), NULL), 0);
		ck_assert_int_eq(md_json_str_secret(&d, md_json_get(&d, 0, "token"), t), 0);
		md_json_free(&d);
		return t;
	}
	const char *p = s;
	size_t n;
	if (strcmp(fmt, "env") == 0) {
		static const char pre[] = "export MOTHERDUCK_TOKEN='";
		ck_assert_msg(strncmp(s, pre, sizeof pre - 1) == 0, "env file shape");
		p = s + sizeof pre - 1;
		n = strcspn(p, "'");
	} else if (strcmp(fmt, "dotenv") == 0) {
		static const char pre[] = "MOTHERDUCK_TOKEN=";
		ck_assert_msg(strncmp(s, pre, sizeof pre - 1) == 0, "dotenv file shape");
		p = s + sizeof pre - 1;
		n = strcspn(p, "\r\n");
	} else {
		n = strcspn(p, "\r\n");
	}
	md_secret_set(t, p, n);
	return t;
}

START_TEST(from_file_each_format)
{
	const char *fmt = formats[_i];
	setup_account();
	char fname[64];
	snprintf(fname, sizeof fname, "from.%s", fmt);
	char file[1300];
	snprintf(file, sizeof file, "%s", req(fname));
	h_result r;
	h_run(&r, 0, NULL, NULL, "token", "create", USER, "--format", fmt, "--output", file, NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	_cleanup_secret_ md_secret *content = read_req(fname);
	ck_assert_msg(content != NULL, "no %s file", fmt);
	_cleanup_secret_ md_secret *want = token_from_file(fmt, content);
	ck_assert_msg(h_is_issued_token(md_secret_str(want), md_secret_len(want)),
		      "%s file: not an issued token", fmt);

	int before = h_request_count();
	char uri[1400], script[4096];
	snprintf(uri, sizeof uri, "file://%s", file);
	snprintf(script, sizeof script, "printf %%s \"$MOTHERDUCK_TOKEN\" > '%s'",
		 req("tok"));
	/* No admin token at all: --from needs none. */
	h_run(&r, H_NO_AUTH, NULL, NULL, "exec", "--from", uri, USER, "--", "sh", "-c", script,
	      NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	_cleanup_secret_ md_secret *got = read_req("tok");
	ck_assert_msg(got != NULL, "the child wrote no token file");
	ck_assert_msg(same_secret(got, want), "%s: the child's token differs from the file's", fmt);
	ck_assert_int_eq(h_request_count(), before); /* nothing sent */
	ck_assert_int_eq(h_live_tokens(USER), 1);
}
END_TEST

START_TEST(from_missing_file)
{
	char uri[1400];
	snprintf(uri, sizeof uri, "file://%s", h_path(true, "no-such-token-file"));
	h_result r;
	h_run(&r, H_NO_AUTH, NULL, NULL, "exec", "--from", uri, USER, "--", "true", NULL);
	ck_assert_exit(r, 4);
	ck_assert_msg(h_contains(r.err, "no-such-token-file"), "stderr: %s", md_secret_str(r.err));
	ck_assert_msg(h_contains(r.err, "no such file"), "stderr: %s",
		      md_secret_str(r.err));
	ck_assert_uint_eq(md_secret_len(r.out), 0);
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), 0);
}
END_TEST

START_TEST(from_empty_file)
{
	const char *p = req("empty-token-file");
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	char uri[1400], script[4096];
	snprintf(uri, sizeof uri, "file://%s", p);
	snprintf(script, sizeof script, "echo ran > '%s'", req("ran"));
	h_result r;
	h_run(&r, H_NO_AUTH, NULL, NULL, "exec", "--from", uri, USER, "--", "sh", "-c", script,
	      NULL);
	ck_assert_exit(r, 2);
	ck_assert_msg(h_contains(r.err, "holds no token"), "stderr: %s", md_secret_str(r.err));
	h_result_free(&r);
	ck_assert_msg(access(h_path(true, "ran"), F_OK) != 0, "the command ran without a token");
	ck_assert_int_eq(h_request_count(), 0);
}
END_TEST


/* ---- execve failing after the mint: the token must not be orphaned ---- */

/* An executable script whose interpreter does not exist: the PATH lookup
 * accepts it, execve then fails with ENOENT (127). */
static const char *bad_interpreter_script(void)
{
	const char *p = h_path(false, "bad-interp.sh");
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("#!/nonexistent/interpreter/for/mdcred\necho never\n", f);
	fclose(f);
	chmod(p, 0755);
	return p;
}

/* An executable file execve cannot run at all (ENOEXEC: 126). */
static const char *not_a_program(void)
{
	const char *p = h_path(false, "not-a-program");
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("\x7f" "ELF garbage, not a program\n", f);
	fclose(f);
	chmod(p, 0755);
	return p;
}

START_TEST(exec_failure_after_mint_revokes)
{
	setup_account();
	char cmd[1300];
	snprintf(cmd, sizeof cmd, "%s", bad_interpreter_script());
	h_result r;
	h_run(&r, 0, NULL, NULL, "exec", USER, "--", cmd, NULL);
	ck_assert_exit(r, 127);
	ck_assert_msg(h_contains(r.err, "revoked token"), "stderr: %s", md_secret_str(r.err));
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);

	snprintf(cmd, sizeof cmd, "%s", not_a_program());
	h_run(&r, 0, NULL, NULL, "exec", USER, "--", cmd, NULL);
	ck_assert_exit(r, 126);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

START_TEST(exec_failure_after_mint_revokes_supervised)
{
	setup_account();
	char cmd[1300];
	snprintf(cmd, sizeof cmd, "%s", bad_interpreter_script());
	h_result r;
	h_run(&r, 0, NULL, NULL, "exec", "--revoke-on-exit", USER, "--", cmd, NULL);
	ck_assert_exit(r, 127);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);

	snprintf(cmd, sizeof cmd, "%s", not_a_program());
	h_run(&r, 0, NULL, NULL, "exec", "--revoke-on-exit", USER, "--", cmd, NULL);
	ck_assert_exit(r, 126);
	h_result_free(&r);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

START_TEST(exec_failure_after_mint_revokes_env_admin)
{
	/* Regression: with the admin token from MOTHERDUCK_ADMIN_TOKEN, a failed
	 * execve after a mint could not revoke (the token had been consumed by
	 * the first client): exit 127 and a live orphan. */
	setup_account();
	_cleanup_secret_ md_secret *adm = admin_token();
	static char envbuf[16384];
	ck_assert_uint_lt(md_secret_len(adm) + 32, sizeof envbuf);
	snprintf(envbuf, sizeof envbuf, "MOTHERDUCK_ADMIN_TOKEN=%s", md_secret_str(adm));
	const char *env_list[] = {envbuf, NULL};
	char cmd[1300];
	snprintf(cmd, sizeof cmd, "%s", bad_interpreter_script());
	h_result r;
	h_run(&r, H_NO_AUTH, NULL, env_list, "exec", USER, "--", cmd, NULL);
	explicit_bzero(envbuf, sizeof envbuf);
	ck_assert_exit(r, 127);
	h_result_free(&r);
	ck_assert_msg(h_live_tokens(USER) == 0,
		      "exec failed after minting but the token stays live (%d live)",
		      h_live_tokens(USER));
}
END_TEST

/* Number of socket descriptors the command had open (it writes the count). */
static int child_socket_count(bool supervised)
{
	char script[4096];
	snprintf(script, sizeof script,
		 "n=0; for f in /proc/$$/fd/*; do case \"$(readlink \"$f\")\" in socket:*) "
		 "n=$((n+1));; esac; done; echo $n > '%s'",
		 req("socks"));
	h_result r;
	if (supervised)
		h_run(&r, 0, NULL, NULL, "exec", "--revoke-on-exit", USER, "--", "sh", "-c", script,
		      NULL);
	else
		h_run(&r, 0, NULL, NULL, "exec", USER, "--", "sh", "-c", script, NULL);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	_cleanup_secret_ md_secret *n = read_req("socks");
	ck_assert_ptr_nonnull(n);
	return atoi(md_secret_str(n));
}

START_TEST(supervised_child_inherits_no_api_socket)
{
	/* Regression: the supervised command inherited libcurl's sockets (the
	 * live API connection). It must get only what mdcred itself inherited. */
	setup_account();
	int plain = child_socket_count(false);
	int supervised = child_socket_count(true);
	ck_assert_msg(supervised == plain,
		      "the supervised command inherited %d socket(s) of mdcred's",
		      supervised - plain);
}
END_TEST

/* ---- command lookup ---- */

START_TEST(command_not_found_mints_nothing)
{
	setup_account();
	int before = h_request_count();
	h_result r;
	h_run(&r, 0, NULL, NULL, "exec", USER, "--", "no-such-command-for-mdcred", NULL);
	ck_assert_exit(r, 127);
	ck_assert(h_contains(r.err, "command not found"));
	h_result_free(&r);
	h_run(&r, 0, NULL, NULL, "exec", "--revoke-on-exit", USER, "--",
	      "/nonexistent/dir/cmd", NULL);
	ck_assert_exit(r, 127);
	h_result_free(&r);
	ck_assert_int_eq(h_request_count() - before, 0);
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

/* As PID 1 (a container's init) mdcred must reap orphans re-parented to it.
 * Runs mdcred as PID 1 of a new PID namespace (needs root, as CI is). */
START_TEST(revoke_on_exit_reaps_orphans_as_pid1)
{
	if (geteuid() != 0) {
		h_skip("exec: revoke_on_exit_reaps_orphans_as_pid1: needs root (a PID namespace)");
		return;
	}
	setup_account();
	char cmd[6000];
	snprintf(cmd, sizeof cmd,
		 "unshare --pid --fork --mount-proc env MOTHERDUCK_ADMIN_TOKEN_FILE='%s' '%s' "
		 "--api-url '%s' exec --revoke-on-exit " USER " -- sh -c '"
		 "echo $PPID > %s; (sleep 0.2 & echo $! > %s); o=$(cat %s); i=0; "
		 "while [ -e /proc/$o ] && [ $i -lt 1500 ]; do sleep 0.02; i=$((i + 1)); done; "
		 "s=$(cut -d\" \" -f3 /proc/$o/stat 2>/dev/null); echo state:${s:-gone} > %s' "
		 ">'%s' 2>'%s'",
		 h_admin_token_file(), getenv("MDCRED_BIN") ? getenv("MDCRED_BIN") : "build/mdcred",
		 h_base_url(), req("pid1-ppid"), req("pid1-orphan"), h_path(true, "pid1-orphan"),
		 req("pid1-state"), h_path(false, "pid1.stdout"), h_path(false, "pid1.stderr"));
	int st = system(cmd);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unshare run failed: %d", st);
	_cleanup_secret_ md_secret *ppid = read_req("pid1-ppid");
	_cleanup_secret_ md_secret *state = read_req("pid1-state");
	ck_assert_ptr_nonnull(ppid);
	ck_assert_ptr_nonnull(state);
	ck_assert_msg(strcmp(md_secret_str(ppid), "1\n") == 0, "mdcred was not PID 1");
	ck_assert_msg(strcmp(md_secret_str(state), "state:gone\n") == 0, "orphan not reaped: %s",
		      md_secret_str(state));
	ck_assert_int_eq(h_live_tokens(USER), 0);
}
END_TEST

/* mdcred wipes MOTHERDUCK_ADMIN_TOKEN in its own environment block at start:
 * its /proc/<pid>/environ (read here by the supervised child, as root may
 * even for a non-dumpable process) no longer holds the value. */
START_TEST(admin_token_scrubbed_from_proc_environ)
{
	if (geteuid() != 0) {
		h_skip("exec: admin_token_scrubbed_from_proc_environ: needs root (reads a "
		       "non-dumpable process's environ)");
		return;
	}
	setup_account();
	_cleanup_secret_ md_secret *adm = admin_token();
	static char envbuf[16384];
	snprintf(envbuf, sizeof envbuf, "MOTHERDUCK_ADMIN_TOKEN=%s", md_secret_str(adm));
	const char *env_list[] = {envbuf, NULL};
	char script[4096];
	snprintf(script, sizeof script, "tr '\\0' '\\n' < /proc/$PPID/environ > '%s'",
		 req("parent-environ"));
	h_result r;
	h_run(&r, H_NO_AUTH, NULL, env_list, "exec", "--revoke-on-exit", USER, "--", "sh", "-c",
	      script, NULL);
	explicit_bzero(envbuf, sizeof envbuf);
	ck_assert_exit(r, 0);
	h_result_free(&r);
	_cleanup_secret_ md_secret *penv = read_req("parent-environ");
	ck_assert_msg(penv != NULL && md_secret_len(penv) > 0, "could not read the parent's environ");
	ck_assert_msg(!secret_contains(penv, adm), "the admin token is in mdcred's /proc environ");
}
END_TEST

Suite *suite_exec(void)
{
	Suite *s = h_suite("exec");
	TCase *tc = h_tcase("exec");
	tcase_add_test(tc, child_gets_token_not_admin);
	tcase_add_test(tc, admin_token_from_env_not_passed_on);
	tcase_add_test(tc, env_names_repeated);
	tcase_add_test(tc, exit_code_passthrough_replaces_process);
	tcase_add_test(tc, signal_death_without_supervision);
	tcase_add_test(tc, revoke_on_exit_code_and_revocation);
	tcase_add_test(tc, revoke_on_exit_signal_death);
	tcase_add_test(tc, revoke_on_exit_forwards_sigterm);
	tcase_add_test(tc, revoke_on_exit_forwards_sigusr1);
	tcase_add_loop_test(tc, from_file_each_format, 0, (int)(sizeof formats / sizeof *formats));
	tcase_add_test(tc, from_missing_file);
	tcase_add_test(tc, from_empty_file);
	tcase_add_test(tc, command_not_found_mints_nothing);
	tcase_add_test(tc, exec_failure_after_mint_revokes);
	tcase_add_test(tc, exec_failure_after_mint_revokes_supervised);
	tcase_add_test(tc, exec_failure_after_mint_revokes_env_admin);
	tcase_add_test(tc, supervised_child_inherits_no_api_socket);
	tcase_add_test(tc, revoke_on_exit_reaps_orphans_as_pid1);
	tcase_add_test(tc, admin_token_scrubbed_from_proc_environ);
	suite_add_tcase(s, tc);
	return s;
}
