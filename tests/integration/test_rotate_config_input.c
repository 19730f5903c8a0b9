/* test_rotate_config_input.c - `mdcred rotate --config`: config mistakes
 * (FILE:LINE:, exit 2, nothing contacted: the emulator's request count
 * stays 0), store URIs that do not open, and the progress line (on a
 * terminal only, never with --json). Shared pieces: rotcfg.[ch]. */
#define _GNU_SOURCE
#include "rotcfg.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/json.h"

/* ---- config mistakes: FILE:LINE:, exit 2, nothing contacted ---------------- */

static const struct {
	const char *what, *text;
	int line; /* 0: a mistake of the whole file, "FILE: ..." */
} bad_cfg[] = {
	{"unknown key", "[r]\nusername = svc_a\nstore = file://@D/a.json\ncolour = blue\n", 4},
	{"unknown key in the defaults", "ttl = 1h\nflavour = x\n[r]\nusername = svc_a\n"
					"store = file://@D/a.json\n", 2},
	{"no username", "ttl = 1h\n\n[r]\nstore = file://@D/a.json\n", 3},
	{"no store", "[ok]\nusername = svc_a\nstore = file://@D/a.json\n[r]\nusername = svc_b\n",
	 4},
	{"ttl too short", "[r]\nusername = svc_a\nttl = 5s\nstore = file://@D/a.json\n", 3},
	{"ttl not a duration", "[r]\nusername = svc_a\nstore = file://@D/a.json\nttl = soon\n", 4},
	{"ttl with a trailing comment", "ttl = 1h # hourly\n[r]\nusername = svc_a\n"
					"store = file://@D/a.json\n", 1},
	{"bad default every", "every = 1w\n[r]\nusername = svc_a\nstore = file://@D/a.json\n", 1},
	{"keep 0", "[r]\nusername = svc_a\nkeep = 0\nstore = file://@D/a.json\n", 3},
	{"bad token_type", "[r]\nusername = svc_a\ntoken_type = admin\nstore = file://@D/a.json\n", 3},
	{"bad username", "[r]\nusername = svc-a\nstore = file://@D/a.json\n", 2},
	{"key given twice", "[r]\nusername = svc_a\nusername = svc_b\nstore = file://@D/a.json\n",
	 3},
	{"default given twice", "ttl = 1h\nttl = 2h\n[r]\nusername = svc_a\n"
				"store = file://@D/a.json\n", 2},
	{"duplicate role", "[r]\nusername = svc_a\nstore = file://@D/a.json\n\n[r]\n"
			   "username = svc_b\nstore = file://@D/b.json\n", 5},
	{"same store in two roles", "[r1]\nusername = svc_a\nstore = file://@D/a.json\n[r2]\n"
				    "username = svc_b\nstore = file://@D/a.json\n", 6},
	/* One file however it is spelled: both roles would write it. */
	{"same file store, default format spelled out",
	 "[r1]\nusername = svc_a\nstore = file://@D/a.json\n[r2]\n"
	 "username = svc_b\nstore = file://@D/a.json?format=json\n", 6},
	{"same file store, another path spelling",
	 "[r1]\nusername = svc_a\nstore = file://@D/a.json\n[r2]\n"
	 "username = svc_b\nstore = file://@D/./a.json\n", 6},
	{"store in the defaults", "ttl = 1h\nstore = file://@D/a.json\n[r]\nusername = svc_a\n"
				  "store = file://@D/b.json\n", 2},
	{"username in the defaults", "username = svc_a\n[r]\nstore = file://@D/a.json\n", 1},
	{"bad role name", "[r]\nusername = svc_a\nstore = file://@D/a.json\n[bad role]\n"
			  "username = svc_b\nstore = file://@D/b.json\n", 4},
	{"role name too long", "[r12345678901234567890123456789012345678901234567890123456789012345]"
			       "\nusername = svc_a\nstore = file://@D/a.json\n", 1},
	{"not key = value", "[r]\nusername = svc_a\nstore = file://@D/a.json\njust words\n", 4},
	{"unclosed section", "[r\nusername = svc_a\nstore = file://@D/a.json\n", 1},
	{"no role at all", "", 0},
	{"only defaults", "ttl = 1h\n# no role\n", 0},
};
#define NBAD ((int)(sizeof bad_cfg / sizeof bad_cfg[0]))

/* rotate --config fails with code, says where (or where2, if not NULL) on
 * stderr, prints nothing on stdout and sends no request. */
static void expect_nothing_sent(const char *what, int code, const char *where, const char *where2)
{
	h_result r;
	ROTCFG(&r, NULL, "--json");
	ck_assert_msg(r.status == code, "%s: exit %d, expected %d; stderr: %s", what, r.status,
		      code, md_secret_str(r.err));
	ck_assert_msg(h_contains(r.err, where) || (where2 && h_contains(r.err, where2)),
		      "%s: stderr does not say %s: %s", what, where, md_secret_str(r.err));
	ck_assert_msg(md_secret_len(r.out) == 0, "%s: stdout: %s", what, md_secret_str(r.out));
	h_result_free(&r);
	ck_assert_int_eq(h_request_count(), 0);
}

START_TEST(config_error)
{
	char name[32], where[1400];
	snprintf(name, sizeof name, "bad-%02d", _i);
	ws(name);
	write_cfg(bad_cfg[_i].text);
	if (bad_cfg[_i].line)
		snprintf(where, sizeof where, "%s:%d:", cfg, bad_cfg[_i].line);
	else
		snprintf(where, sizeof where, "%s: ", cfg);
	expect_nothing_sent(bad_cfg[_i].what, 2, where, NULL);
}
END_TEST

/* A store URI that does not open: exit 2 before any role starts, the
 * message saying FILE:LINE. */
static const char *const bad_store[] = {
	"file://@D/b.json?mode=0644",
	"file://@D/b.json?format=yaml",
	"file://relative/b.json",
	"vault://127.0.0.1:1/secret/b?colour=blue",
	"s3://bucket/b",
};
#define NBADSTORE ((int)(sizeof bad_store / sizeof bad_store[0]))

START_TEST(bad_store_uri)
{
	char name[32], text[512], where[1400];
	snprintf(name, sizeof name, "badstore-%02d", _i);
	ws(name);
	snprintf(text, sizeof text,
		 "[first]\nusername = svc_a\nstore = file://@D/a.json\n"
		 "[second]\nusername = svc_b\nstore = %s\n", bad_store[_i]);
	write_cfg(text);
	snprintf(where, sizeof where, "%s:6:", cfg);
	expect_nothing_sent(bad_store[_i], 2, where, NULL);
	ck_assert(access(spath("a.json"), F_OK) != 0);
}
END_TEST

START_TEST(missing_config_file)
{
	ws("missing");
	expect_nothing_sent("no config file", 4, cfg, NULL);
}
END_TEST

/* ---- progress ---------------------------------------------------------------- */

START_TEST(no_progress_off_a_terminal)
{
	basic_setup("notty");
	h_result r;
	ROTCFG(&r, NULL, NULL);
	ck_assert_exit(r, 0);
	/* stderr keeps to warnings and errors: there are none. */
	ck_assert_msg(md_secret_len(r.err) == 0, "stderr that is no terminal: %s",
		      md_secret_str(r.err));
	ck_assert_msg(!h_contains(r.out, "\r"), "a carriage return on stdout");
	h_result_free(&r);
}
END_TEST

static void read_all(int fd, md_secret *into)
{
	char buf[1024];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			md_secret_append(into, buf, (size_t)n);
}

/* Runs mdcred --api-url URL ARGS... as h_run does, but with stderr on a
 * pseudo-terminal (output post-processing off, so every '\r' is mdcred's
 * own) and stdout in a file. What the terminal showed goes to r->err and to
 * a file of the run dir, for the leak scan. */
static void run_on_pty(h_result *r, ...)
{
	static int seq;
	const char *argv[32];
	int n = 0;
	argv[n++] = "mdcred";
	argv[n++] = "--api-url";
	argv[n++] = h_base_url();
	va_list ap;
	va_start(ap, r);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 31)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;

	int m, s;
	ck_assert_int_eq(openpty(&m, &s, NULL, NULL, NULL), 0);
	struct termios t;
	ck_assert_int_eq(tcgetattr(s, &t), 0);
	t.c_oflag &= ~(tcflag_t)OPOST;
	ck_assert_int_eq(tcsetattr(s, TCSANOW, &t), 0);
	char name[96];
	snprintf(name, sizeof name, "rotcfg-pty-%d-%d.stdout", (int)getpid(), ++seq);
	int ofd = open(h_path(false, name), O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(ofd, 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		dup2(in, 0);
		dup2(ofd, 1);
		dup2(s, 2);
		close(m);
		setenv("MOTHERDUCK_ADMIN_TOKEN_FILE", h_admin_token_file(), 1);
		const char *bin = getenv("MDCRED_BIN");
		execv(bin && *bin ? bin : "build/mdcred", (char *const *)argv);
		_exit(127);
	}
	close(s);
	r->err = md_secret_new(4096);
	r->out = md_secret_new(4096);
	read_all(m, r->err); /* until EIO: mdcred closed the terminal */
	close(m);
	int st = 0;
	waitpid(pid, &st, 0);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	lseek(ofd, 0, SEEK_SET);
	read_all(ofd, r->out);
	close(ofd);
	snprintf(name, sizeof name, "rotcfg-pty-%d-%d.tty", (int)getpid(), seq);
	int tfd = open(h_path(false, name), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert(tfd >= 0 && md_file_write_fd(tfd, md_secret_str(r->err),
					       md_secret_len(r->err)) == 0);
	close(tfd);
	no_token_shown(r);
}

/* stderr on a terminal: progress with '\r' (_i 0), none with --json (_i 1);
 * the results on stdout either way. A second run with beta failing: the
 * failure is counted, and its error is on the terminal. */
START_TEST(progress_on_a_terminal)
{
	bool json = _i == 1;
	basic_setup(json ? "ptyjson" : "pty");
	const char *fmt = json ? "--json" : NULL;
	h_result r;
	lines_t ls;
	char ids[NBASIC][80];
	run_on_pty(&r, "rotate", "--config", cfg, "--state-dir", state, fmt, NULL);
	ck_assert_exit(r, 0);
	if (json)
		ck_assert_msg(!h_contains(r.err, "\r") && !h_contains(r.err, "done"),
			      "progress with --json: %s", md_secret_str(r.err));
	else
		ck_assert_msg(h_contains(r.err, "\r") && h_contains(r.err, "3/3 roles done"),
			      "no progress line (done of 3 roles) on the terminal: %s",
			      md_secret_str(r.err));
	(json ? parse_json : parse_text)(&r, &ls);
	h_result_free(&r);
	basic_check(&ls, "rotated", ids);

	h_fault("{\"path\":\"/v1/users/svc_beta/\",\"status\":500,\"count\":100000}");
	run_on_pty(&r, "rotate", "--config", cfg, "--state-dir", state, "--force", fmt, NULL);
	ck_assert_exit(r, 6);
	ck_assert_msg(h_contains(r.err, "beta"), "beta's error is not on the terminal: %s",
		      md_secret_str(r.err));
	ck_assert_msg(json != h_contains(r.err, "1 failed"), "failures %s counted: %s",
		      json ? "are" : "are not", md_secret_str(r.err));
	ck_assert(json != h_contains(r.err, "\r"));
	(json ? parse_json : parse_text)(&r, &ls);
	h_result_free(&r);
	ck_assert_int_eq(ls.n, NBASIC);
	ck_assert_str_eq(line_of(&ls, "beta")->action, "failed");
	assert_file_holds("beta.env", "svc_beta", ids[1]);
}
END_TEST

Suite *suite_rotate_config_input(void)
{
	Suite *s = h_suite("rotate_config_input");
	TCase *tc = h_tcase("rotate_config_input");
	tcase_add_loop_test(tc, config_error, 0, NBAD);
	tcase_add_loop_test(tc, bad_store_uri, 0, NBADSTORE);
	tcase_add_test(tc, missing_config_file);
	tcase_add_test(tc, no_progress_off_a_terminal);
	tcase_add_loop_test(tc, progress_on_a_terminal, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
