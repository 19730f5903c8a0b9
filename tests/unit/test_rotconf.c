/* test_rotconf.c - unit tests for lib/rotconf.[ch]: the role file format of
 * mdcred(1), ROTATE CONFIG FILE. Every mistake must be MD_EUSAGE with a
 * one-line "FILE:LINE: what" message and leave the conf empty. */
#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "deliver/rotconf.h"
#include "base/validate.h"

static md_rotconf parse_ok(const char *text)
{
	md_rotconf c;
	md_error err = {0};
	int rc = md_rotconf_parse("t.conf", text, strlen(text), &c, &err);
	ck_assert_msg(rc == MD_OK, "rejected: %s", err.msg);
	ck_assert_uint_gt(c.n, 0);
	return c;
}

/* want: the start of the message, "t.conf:LINE: ..." */
static void parse_bad_len(const char *text, size_t len, const char *want)
{
	md_rotconf c = {.n = 99};
	md_error err = {0};
	int rc = md_rotconf_parse("t.conf", text, len, &c, &err);
	ck_assert_msg(rc == MD_EUSAGE, "want '%s', got rc %d (%s)", want, rc, err.msg);
	ck_assert_int_eq(err.code, MD_EUSAGE);
	ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "want '%s...', got '%s'", want,
		      err.msg);
	ck_assert_ptr_null(strchr(err.msg, '\n'));
	ck_assert_uint_eq(c.n, 0);
	ck_assert_ptr_null(c.roles);
}

static void parse_bad(const char *text, const char *want)
{
	parse_bad_len(text, strlen(text), want);
}

static const md_rotconf_role *find_role(const md_rotconf *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->roles[i].role, name) == 0)
			return &c->roles[i];
	ck_abort_msg("no role %s", name);
	return NULL;
}

/* ---- good files ---- */

static const char full[] =
	"# rotation roles\n"                                       /* 1 */
	"ttl = 7d\n"                                               /* 2 */
	"grace = 2h\n"                                             /* 3 */
	"\n"                                                       /* 4 */
	"[analytics]\n"                                            /* 5 */
	"username = analytics_service_account\n"                   /* 6 */
	"store = file:///run/secrets/analytics.env?format=env\n"   /* 7 */
	"store = vault:///secret/motherduck/analytics\n"           /* 8 */
	"\n"                                                       /* 9 */
	"[bi-read]\n"                                              /* 10 */
	"username = bi_service_account\n"                          /* 11 */
	"token_type = read_scaling\n"                              /* 12 */
	"ttl = 12h\n"                                              /* 13 */
	"every = 1h\n"                                             /* 14 */
	"grace = 0\n"                                              /* 15 */
	"keep = 5\n"                                               /* 16 */
	"store = k8s://bi/motherduck-token\n";                     /* 17 */

START_TEST(full_file_every_field)
{
	md_rotconf c = parse_ok(full);
	ck_assert_uint_eq(c.n, 2);
	const md_rotconf_role *a = &c.roles[0], *b = &c.roles[1];
	ck_assert_str_eq(a->role, "analytics");
	ck_assert_str_eq(a->username, "analytics_service_account");
	ck_assert_str_eq(a->token_type, "read_write");
	ck_assert_int_eq(a->ttl, 7 * 86400);
	ck_assert_int_eq(a->every, 7 * 86400 / 2);
	ck_assert_int_eq(a->grace, 7200);
	ck_assert_int_eq(a->keep, 2);
	ck_assert_int_eq(a->line, 5);
	ck_assert_uint_eq(a->nstores, 2);
	ck_assert_str_eq(a->stores[0], "file:///run/secrets/analytics.env?format=env");
	ck_assert_str_eq(a->stores[1], "vault:///secret/motherduck/analytics");

	ck_assert_str_eq(b->role, "bi-read");
	ck_assert_str_eq(b->username, "bi_service_account");
	ck_assert_str_eq(b->token_type, "read_scaling");
	ck_assert_int_eq(b->ttl, 43200);
	ck_assert_int_eq(b->every, 3600);
	ck_assert_int_eq(b->grace, 0);
	ck_assert_int_eq(b->keep, 5);
	ck_assert_int_eq(b->line, 10);
	ck_assert_uint_eq(b->nstores, 1);
	ck_assert_str_eq(b->stores[0], "k8s://bi/motherduck-token");
	md_rotconf_free(&c);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_ptr_null(c.roles);
}
END_TEST

START_TEST(builtin_defaults)
{
	md_rotconf c = parse_ok("[r]\nusername = svc_one\nstore = file:///tmp/a\n");
	const md_rotconf_role *r = &c.roles[0];
	ck_assert_str_eq(r->token_type, "read_write");
	ck_assert_int_eq(r->ttl, MD_TTL_DEFAULT);
	ck_assert_int_eq(r->every, MD_TTL_DEFAULT / 2);
	ck_assert_int_eq(r->grace, 3600);
	ck_assert_int_eq(r->keep, 2);
	ck_assert_int_eq(r->line, 1);
	md_rotconf_free(&c);
}
END_TEST

/* every defaults to half of the ttl the role ends up with, wherever it came
 * from; an explicit every (section or default block) wins. */
START_TEST(every_follows_effective_ttl)
{
	md_rotconf c = parse_ok("ttl = 2d\ntoken_type = read_scaling\nkeep = 3\n"
				"[a]\nusername = svc_a\nstore = file:///a\nttl = 2h\n"
				"[b]\nusername = svc_b\nstore = file:///b\n"
				"[c]\nusername = svc_c\nstore = file:///c\nttl = none\n"
				"[d]\nusername = svc_d\nstore = file:///d\ntoken_type = read_write\n");
	ck_assert_int_eq(find_role(&c, "a")->every, 3600);
	ck_assert_int_eq(find_role(&c, "b")->every, 86400);
	ck_assert_int_eq(find_role(&c, "c")->ttl, MD_TTL_NONE);
	ck_assert_int_eq(find_role(&c, "c")->every, MD_TTL_DEFAULT);
	ck_assert_str_eq(find_role(&c, "c")->token_type, "read_scaling");
	ck_assert_str_eq(find_role(&c, "d")->token_type, "read_write");
	ck_assert_int_eq(find_role(&c, "d")->keep, 3);
	md_rotconf_free(&c);

	c = parse_ok("every = 10m\n[a]\nusername = svc_a\nstore = file:///a\nttl = 2h\n");
	ck_assert_int_eq(c.roles[0].every, 600);
	md_rotconf_free(&c);
}
END_TEST

START_TEST(comments_blank_lines_whitespace)
{
	md_rotconf c = parse_ok("\n   \n# comment\n  ; another = one\n\t# tab comment\n"
				"  [ws]   \t\n"
				"\tusername\t=\tsvc_ws  \n"
				"store=file:///tmp/ws\n"
				"  keep   =   7   \n"
				"; [not-a-section]\n");
	ck_assert_uint_eq(c.n, 1);
	ck_assert_str_eq(c.roles[0].role, "ws");
	ck_assert_str_eq(c.roles[0].username, "svc_ws");
	ck_assert_str_eq(c.roles[0].stores[0], "file:///tmp/ws");
	ck_assert_int_eq(c.roles[0].keep, 7);
	ck_assert_int_eq(c.roles[0].line, 6);
	md_rotconf_free(&c);
}
END_TEST

START_TEST(crlf_line_endings)
{
	md_rotconf c = parse_ok("ttl = 1h\r\n\r\n# c\r\n[r]\r\nusername = svc_r\r\n"
				"store = file:///tmp/r \r\n");
	ck_assert_str_eq(c.roles[0].username, "svc_r");
	ck_assert_str_eq(c.roles[0].stores[0], "file:///tmp/r");
	ck_assert_int_eq(c.roles[0].ttl, 3600);
	ck_assert_int_eq(c.roles[0].line, 4);
	md_rotconf_free(&c);
	parse_bad("[r]\r\nusername = svc_r\r\nbogus\r\n", "t.conf:3: expected");
}
END_TEST

START_TEST(no_newline_at_eof)
{
	md_rotconf c = parse_ok("[r]\nusername = svc_r\nstore = file:///tmp/last");
	ck_assert_str_eq(c.roles[0].stores[0], "file:///tmp/last");
	md_rotconf_free(&c);
	c = parse_ok("[r]\nstore = file:///tmp/last\nusername = svc_r");
	ck_assert_str_eq(c.roles[0].username, "svc_r");
	md_rotconf_free(&c);
}
END_TEST

START_TEST(value_taken_as_written)
{
	md_rotconf c = parse_ok("[r]\nusername = svc_r\n"
				"store = file:///tmp/a b?format=env&mode=0600 # not a comment ; = x\n");
	ck_assert_str_eq(c.roles[0].stores[0],
			 "file:///tmp/a b?format=env&mode=0600 # not a comment ; = x");
	md_rotconf_free(&c);
}
END_TEST

START_TEST(stores_up_to_the_limit)
{
	char text[4096];
	size_t off = (size_t)snprintf(text, sizeof text, "[many]\nusername = svc_many\n");
	for (int i = 0; i < MD_ROTCONF_MAX_STORES; i++)
		off += (size_t)snprintf(text + off, sizeof text - off, "store = file:///s/%d\n", i);
	md_rotconf c = parse_ok(text);
	ck_assert_uint_eq(c.roles[0].nstores, MD_ROTCONF_MAX_STORES);
	ck_assert_str_eq(c.roles[0].stores[31], "file:///s/31");
	md_rotconf_free(&c);
	snprintf(text + off, sizeof text - off, "store = file:///s/x\n");
	parse_bad(text, "t.conf:35: [many] has more than 32 stores");
}
END_TEST

START_TEST(long_username_kept_whole)
{
	char text[1024], user[256];
	memset(user, 'u', 255);
	user[255] = '\0';
	snprintf(text, sizeof text, "[r]\nusername = %s\nstore = file:///x\n", user);
	md_rotconf c = parse_ok(text);
	ck_assert_str_eq(c.roles[0].username, user);
	md_rotconf_free(&c);
}
END_TEST

START_TEST(line_of_exactly_4096_bytes)
{
	char *text = malloc(8192);
	ck_assert_ptr_nonnull(text);
	int off = snprintf(text, 8192, "[r]\nusername = svc_r\n");
	int start = off;
	off += snprintf(text + off, 8192 - (size_t)off, "store = file:///");
	while (off - start < 4096)
		text[off++] = 'p';
	text[off++] = '\n';
	text[off] = '\0';
	md_rotconf c = parse_ok(text);
	ck_assert_uint_eq(strlen(c.roles[0].stores[0]), 4096 - strlen("store = "));
	md_rotconf_free(&c);
	/* One more byte, with CRLF the same */
	memcpy(text + off - 1, "p\r\n", 4);
	parse_bad(text, "t.conf:3: line is longer than 4096 bytes");
	free(text);
}
END_TEST

/* Also: linear-time duplicate checks keep this fast. */
START_TEST(ten_thousand_roles)
{
	size_t cap = (size_t)MD_ROTCONF_MAX_ROLES * 160 + 256, off = 0;
	char *text = malloc(cap);
	ck_assert_ptr_nonnull(text);
	for (int i = 0; i < MD_ROTCONF_MAX_ROLES; i++)
		off += (size_t)snprintf(text + off, cap - off,
					"[role-%d]\nusername = svc_%d\nstore = file:///s/%d.json\n"
					"store = vault:///kv/r%d\nstore = k8s://ns/s%d\n",
					i, i, i, i, i);
	md_rotconf c = parse_ok(text);
	ck_assert_uint_eq(c.n, MD_ROTCONF_MAX_ROLES);
	ck_assert_str_eq(c.roles[9999].role, "role-9999");
	ck_assert_str_eq(c.roles[9999].stores[2], "k8s://ns/s9999");
	ck_assert_int_eq(c.roles[9999].line, 9999 * 5 + 1);
	md_rotconf_free(&c);

	/* one role too many */
	snprintf(text + off, cap - off, "[extra]\nusername = svc_x\nstore = file:///x\n");
	parse_bad(text, "t.conf:50001: more than 10000 roles");
	/* a store repeated at the very end names its first owner */
	text[off] = '\0';
	char *last = strrchr(text, '[');
	ck_assert_ptr_nonnull(last);
	strcpy(last, "[last]\nusername = svc_l\nstore = vault:///kv/r17\n");
	parse_bad(text, "t.conf:49998: store 'vault:///kv/r17' is already used by [role-17] "
		  "(line 86)");
	free(text);
}
END_TEST

/* ---- mistakes ---- */

START_TEST(keys_only_in_sections)
{
	parse_bad("ttl = 1h\nusername = svc_a\n[a]\n", "t.conf:2: username belongs in a [role]");
	parse_bad("store = file:///x\n", "t.conf:1: store belongs in a [role]");
}
END_TEST

START_TEST(unknown_key)
{
	parse_bad("[a]\nusername = svc_a\nstore = file:///a\nkeeep = 3\n",
		  "t.conf:4: unknown key 'keeep'");
	parse_bad("ttll = 3h\n", "t.conf:1: unknown key 'ttll'");
	parse_bad("[a]\n= x\n", "t.conf:2: unknown key ''");
}
END_TEST

START_TEST(key_given_twice)
{
	parse_bad("[a]\nusername = svc_a\nstore = file:///a\nusername = svc_b\n",
		  "t.conf:4: username is already set at line 2");
	parse_bad("ttl = 1h\n\nttl = 2h\n", "t.conf:3: ttl is already set at line 1");
	parse_bad("[a]\nkeep = 2\nkeep = 2\n", "t.conf:3: keep is already set at line 2");
	/* the same key in the defaults and a section is an override, not a repeat */
	md_rotconf c = parse_ok("keep = 4\n[a]\nkeep = 5\nusername = svc_a\nstore = file:///a\n");
	ck_assert_int_eq(c.roles[0].keep, 5);
	md_rotconf_free(&c);
}
END_TEST

START_TEST(empty_value)
{
	parse_bad("[a]\nusername =\n", "t.conf:2: username has no value");
	parse_bad("[a]\nusername = svc_a\nstore =   \n", "t.conf:3: store has no value");
	parse_bad("grace=\n", "t.conf:1: grace has no value");
}
END_TEST

/* Each key's value goes through the same check as its command-line twin. */
static const struct {
	const char *line;
	const char *want;
} bad_values[] = {
	{"username = 1abc", "t.conf:3: invalid username '1abc'"},
	{"username = ab", "t.conf:3: invalid username"},
	{"token_type = admin", "t.conf:3: --type: 'admin' is not read_write or read_scaling"},
	{"ttl = 5", "t.conf:3: --ttl: 5 is 5 seconds"},
	{"ttl = soon", "t.conf:3: --ttl: 'soon' is not a duration"},
	{"every = none", "t.conf:3: every: 'none' is not a duration"},
	{"every = -1h", "t.conf:3: every: '-1h' is not a duration"},
	{"grace = 1w", "t.conf:3: grace: '1w' is not a duration"},
	{"keep = 0", "t.conf:3: keep: 0 is out of range 1..100"},
	{"keep = 101", "t.conf:3: keep: 101 is out of range 1..100"},
	{"keep = two", "t.conf:3: keep: 'two' is not a whole number"},
	{"store = https://x/y", "t.conf:3: store 'https://x/y': expected a file://, vault://"},
	{"store = file:/x", "t.conf:3: store 'file:/x': expected"},
};

START_TEST(bad_value)
{
	char text[256];
	snprintf(text, sizeof text, "[a]\n# x\n%s\nusername = svc_a\nstore = file:///z\n",
		 bad_values[_i].line);
	if (strncmp(bad_values[_i].line, "username", 8) == 0)
		snprintf(text, sizeof text, "[a]\n# x\n%s\nstore = file:///z\n", bad_values[_i].line);
	parse_bad(text, bad_values[_i].want);
}
END_TEST

START_TEST(bad_value_in_defaults)
{
	parse_bad("keep = 1000\n[a]\n", "t.conf:1: keep: 1000 is out of range");
	parse_bad("\ntoken_type = rw\n", "t.conf:2: --type: 'rw'");
}
END_TEST

START_TEST(bad_section_header)
{
	parse_bad("[a b]\n", "t.conf:1: role 'a b': use 1 to 64");
	parse_bad("\n[]\n", "t.conf:2: role '': use 1 to 64");
	parse_bad("[ a]\n", "t.conf:1: role ' a'");
	parse_bad("[a] # comment\n", "t.conf:1: a section header is [ROLE]");
	parse_bad("[a\n", "t.conf:1: a section header is [ROLE]");
	parse_bad("[a.b]\n", "t.conf:1: role 'a.b'");
	parse_bad("[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
		  "t.conf:1: role 'aaaa");
	md_rotconf c = parse_ok("[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n"
				"username = svc_a\nstore = file:///a\n");
	ck_assert_uint_eq(strlen(c.roles[0].role), 64);
	md_rotconf_free(&c);
}
END_TEST

START_TEST(repeated_role)
{
	parse_bad("[a]\nusername = svc_a\nstore = file:///a\n\n"
		  "[b]\nusername = svc_b\nstore = file:///b\n"
		  "[a]\nusername = svc_a\nstore = file:///c\n",
		  "t.conf:8: [a] is already defined at line 1");
}
END_TEST

START_TEST(role_without_username_or_store)
{
	parse_bad("ttl = 1h\n[a]\nstore = file:///a\n[b]\nusername = svc_b\nstore = file:///b\n",
		  "t.conf:2: [a] has no username");
	parse_bad("[a]\nusername = svc_a\nstore = file:///a\n\n[b]\nusername = svc_b\n",
		  "t.conf:5: [b] has no store");
	parse_bad("[a]\n", "t.conf:1: [a] has no username");
}
END_TEST

START_TEST(store_used_twice)
{
	parse_bad("[a]\nusername = svc_a\nstore = file:///a\nstore = vault:///kv/x\n"
		  "[b]\nusername = svc_b\nstore = file:///b\nstore = vault:///kv/x\n",
		  "t.conf:8: store 'vault:///kv/x' is already used by [a] (line 1)");
	parse_bad("[a]\nusername = svc_a\nstore = file:///a\nstore = file:///a\n",
		  "t.conf:4: store 'file:///a' is already used by [a] (line 1)");
	/* exact string compare: these differ */
	md_rotconf c = parse_ok("[a]\nusername = svc_a\nstore = file:///a\n"
				"[b]\nusername = svc_b\nstore = file:///a?format=env\n");
	ck_assert_uint_eq(c.n, 2);
	md_rotconf_free(&c);
}
END_TEST

START_TEST(no_roles)
{
	parse_bad("", "t.conf: no [role] sections");
	parse_bad("# only comments\n\n", "t.conf: no [role] sections");
	parse_bad("ttl = 1h\nkeep = 3\n", "t.conf: no [role] sections");
	md_rotconf c = {.n = 5};
	md_error err = {0};
	ck_assert_int_eq(md_rotconf_parse("t.conf", NULL, 0, &c, &err), MD_EUSAGE);
	ck_assert_uint_eq(c.n, 0);
}
END_TEST

START_TEST(garbage_line)
{
	parse_bad("[a]\nusername = svc_a\nstore file:///a\n", "t.conf:3: expected 'key = value'");
	parse_bad("ttl: 1h\n", "t.conf:1: expected 'key = value'");
}
END_TEST

START_TEST(nul_byte)
{
	static const char text[] = "[a]\nusername = svc_a\nstore = file:///a\0b\n";
	parse_bad_len(text, sizeof text - 1, "t.conf:3: NUL byte");
}
END_TEST

START_TEST(file_too_big)
{
	size_t len = 16u * 1024 * 1024 + 1;
	char *text = malloc(len);
	ck_assert_ptr_nonnull(text);
	memset(text, '\n', len);
	parse_bad_len(text, len, "t.conf: larger than 16 MiB");
	md_rotconf c;
	md_error err = {0};
	/* exactly 16 MiB is read (and here finds no role) */
	ck_assert_int_eq(md_rotconf_parse("t.conf", text, len - 1, &c, &err), MD_EUSAGE);
	ck_assert_str_eq(err.msg, "t.conf: no [role] sections");
	free(text);
}
END_TEST

START_TEST(free_is_safe_on_empty)
{
	md_rotconf c = {0};
	md_rotconf_free(&c);
	md_rotconf_free(&c);
	md_rotconf_free(NULL);
	ck_assert_uint_eq(c.n, 0);
}
END_TEST

/* ---- loading files ---- */

START_TEST(load_missing_file)
{
	md_rotconf c = {.n = 3};
	md_error err = {0};
	ck_assert_int_eq(md_rotconf_load("/nonexistent/mdcred/rot.conf", &c, &err), MD_ENOTFOUND);
	ck_assert_int_eq(err.code, MD_ENOTFOUND);
	ck_assert_str_eq(err.msg, "config /nonexistent/mdcred/rot.conf: No such file or directory");
	ck_assert_uint_eq(c.n, 0);
	ck_assert_ptr_null(c.roles);
}
END_TEST

START_TEST(load_directory_fails)
{
	md_rotconf c;
	md_error err = {0};
	ck_assert_int_eq(md_rotconf_load("/", &c, &err), MD_EFAIL);
	ck_assert_str_eq(err.msg, "config /: Is a directory");
	ck_assert_uint_eq(c.n, 0);
}
END_TEST

static char *temp_file(const char *content)
{
	char *path = strdup("/tmp/test_rotconf.XXXXXX");
	ck_assert_ptr_nonnull(path);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	size_t n = strlen(content);
	ck_assert_int_eq(write(fd, content, n), (ssize_t)n);
	close(fd);
	return path;
}

START_TEST(load_real_file)
{
	char *path = temp_file(full);
	md_rotconf c;
	md_error err = {0};
	ck_assert_int_eq(md_rotconf_load(path, &c, &err), MD_OK);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(c.roles[1].stores[0], "k8s://bi/motherduck-token");
	md_rotconf_free(&c);
	unlink(path);
	free(path);

	/* messages name the file as given */
	path = temp_file("[a]\nusername = svc_a\nstore = file:///a\nbogus = 1\n");
	char want[128];
	snprintf(want, sizeof want, "%s:4: unknown key 'bogus'", path);
	ck_assert_int_eq(md_rotconf_load(path, &c, &err), MD_EUSAGE);
	ck_assert_str_eq(err.msg, want);
	ck_assert_uint_eq(c.n, 0);
	unlink(path);
	free(path);
}
END_TEST

static Suite *rotconf_suite(void)
{
	Suite *s = suite_create("rotconf");
	TCase *tc = tcase_create("good");
	tcase_add_test(tc, full_file_every_field);
	tcase_add_test(tc, builtin_defaults);
	tcase_add_test(tc, every_follows_effective_ttl);
	tcase_add_test(tc, comments_blank_lines_whitespace);
	tcase_add_test(tc, crlf_line_endings);
	tcase_add_test(tc, no_newline_at_eof);
	tcase_add_test(tc, value_taken_as_written);
	tcase_add_test(tc, stores_up_to_the_limit);
	tcase_add_test(tc, long_username_kept_whole);
	tcase_add_test(tc, line_of_exactly_4096_bytes);
	tcase_add_test(tc, ten_thousand_roles);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("mistakes");
	tcase_add_test(tc, keys_only_in_sections);
	tcase_add_test(tc, unknown_key);
	tcase_add_test(tc, key_given_twice);
	tcase_add_test(tc, empty_value);
	tcase_add_loop_test(tc, bad_value, 0, (int)(sizeof bad_values / sizeof bad_values[0]));
	tcase_add_test(tc, bad_value_in_defaults);
	tcase_add_test(tc, bad_section_header);
	tcase_add_test(tc, repeated_role);
	tcase_add_test(tc, role_without_username_or_store);
	tcase_add_test(tc, store_used_twice);
	tcase_add_test(tc, no_roles);
	tcase_add_test(tc, garbage_line);
	tcase_add_test(tc, nul_byte);
	tcase_add_test(tc, file_too_big);
	tcase_add_test(tc, free_is_safe_on_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_test(tc, load_missing_file);
	tcase_add_test(tc, load_directory_fails);
	tcase_add_test(tc, load_real_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rotconf_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
