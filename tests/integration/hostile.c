/* hostile.c - see hostile.h. */
#define _GNU_SOURCE
#include "hostile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/text.h"

static pid_t hx_pid;
static char url[128];
static char admin_file[1200];
static char admin[160]; /* the admin token, for the searches */
static char out_file[1200], store_file[1200], store_uri[1300], state_dir[1200], cfg_file[1200];
static const char *const *extra;

#define MINT_ANSWERS (A_MINT | A_MUT)
const hx_cmd hx_cmds[] = {
	{"token create", {"token", "create", HX_USER, "--ttl", "1h"}, MINT_ANSWERS | C_PRINTS},
	{"token create --format env", {"token", "create", HX_USER, "--ttl", "1h", "--format", "env"},
	 MINT_ANSWERS | C_PRINTS},
	{"token create --format dotenv",
	 {"token", "create", HX_USER, "--ttl", "1h", "--format", "dotenv"}, MINT_ANSWERS | C_PRINTS},
	{"token create --format json",
	 {"token", "create", HX_USER, "--ttl", "1h", "--format", "json"}, MINT_ANSWERS | C_PRINTS},
	{"token create --output", {"token", "create", HX_USER, "--ttl", "1h", "--output", "@OUT"},
	 MINT_ANSWERS | C_WRITES},
	{"token list", {"token", "list", HX_USER}, A_LIST},
	{"token list --json", {"token", "list", HX_USER, "--json"}, A_LIST},
	{"token revoke", {"token", "revoke", HX_USER, HX_SEED_ID}, A_REVOKE | A_MUT},
	{"account create", {"account", "create", HX_NEW_USER}, A_USER | A_MUT},
	{"account delete", {"account", "delete", HX_OLD_USER}, A_USER | A_MUT},
	{"account active", {"account", "active"}, A_ACCTS},
	{"account active --json", {"account", "active", "--json"}, A_ACCTS},
	{"ducklings get", {"ducklings", "get", HX_USER}, A_DUCKS},
	{"ducklings get --json", {"ducklings", "get", HX_USER, "--json"}, A_DUCKS},
	{"ducklings set", {"ducklings", "set", HX_USER, "--rw-size", "jumbo"}, A_DUCKS | A_MUT},
	{"push file://", {"push", HX_USER, "--ttl", "1h", "--store", "@STORE"},
	 MINT_ANSWERS | C_WRITES},
	{"rotate", {"rotate", HX_USER, "--ttl", "1h", "--store", "@STORE", "--state-dir", "@STATE"},
	 A_LIST | MINT_ANSWERS | C_WRITES | C_REPORT},
	{"rotate --config --json", {"rotate", "--config", "@CFG", "--state-dir", "@STATE", "--json"},
	 A_LIST | MINT_ANSWERS | C_WRITES | C_REPORT},
	{"get --cache none", {"get", HX_USER, "--cache", "none", "--ttl", "1h"},
	 MINT_ANSWERS | C_PRINTS},
	{"exec", {"exec", "--ttl", "1h", HX_USER, "--", "/bin/true"}, MINT_ANSWERS},
};
const int hx_ncmds = (int)(sizeof hx_cmds / sizeof hx_cmds[0]);

const hx_cmd *hx_cmd_named(const char *name)
{
	for (int i = 0; i < hx_ncmds; i++)
		if (strcmp(hx_cmds[i].name, name) == 0)
			return &hx_cmds[i];
	ck_abort_msg("no command '%s' in hx_cmds", name);
	return NULL;
}

void hx_fail(hx_verdict *v, const char *fmt, ...)
{
	size_t len = strlen(v->msg);
	v->n++;
	if (len + 8 >= sizeof v->msg)
		return;
	v->msg[len++] = '\n';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->msg + len, sizeof v->msg - len, fmt, ap);
	va_end(ap);
}

/* --- the server ------------------------------------------------------------ */

void hx_start(void)
{
	snprintf(admin_file, sizeof admin_file, "%s", h_path(true, "hostile-admin.token"));
	snprintf(out_file, sizeof out_file, "%s", h_path(true, "hostile-out.tok"));
	snprintf(store_file, sizeof store_file, "%s", h_path(true, "hostile-store.json"));
	snprintf(store_uri, sizeof store_uri, "file://%s", store_file);
	snprintf(state_dir, sizeof state_dir, "%s", h_path(false, "hostile-state"));
	snprintf(cfg_file, sizeof cfg_file, "%s", h_path(false, "hostile-rotate.ini"));
	mkdir(state_dir, 0700);
	FILE *f = fopen(cfg_file, "w");
	if (!f || h_make_credential(admin_file, "hadm-hostile-", admin, sizeof admin) != 0) {
		fprintf(stderr, "test_hostile: cannot make the admin token or the config\n");
		exit(1);
	}
	fprintf(f, "[hostile]\nusername = %s\nstore = %s\nttl = 1h\n", HX_USER, store_uri);
	fclose(f);
	const char *api = getenv("HOSTILE_API");
	const char *argv[] = {h_python(), api && *api ? api : "tests/fakes/hostile_api.py",
			      "--admin-token-file", admin_file, "--record-tokens", h_record_file(),
			      NULL};
	hx_pid = h_spawn_server(argv, "hostile_api.log", url, sizeof url);
	if (hx_pid < 0) {
		fprintf(stderr, "test_hostile: hostile_api.py did not start (see hostile_api.log)\n");
		exit(1);
	}
}

void hx_stop(void)
{
	h_stop_server(&hx_pid);
	explicit_bzero(admin, sizeof admin);
}

static long ctl(const char *method, const char *path, const char *body, md_secret *out)
{
	h_http_target t = {url, NULL, NULL, NULL};
	return h_http(&t, method, path, body, out);
}

void hx_reset(const char *mode_json)
{
	char body[2048];
	snprintf(body, sizeof body, "{\"mode\":%s}", mode_json ? mode_json : "{\"mode\":\"normal\"}");
	_cleanup_secret_ md_secret *b = md_secret_new(256);
	ck_assert_msg(ctl("POST", "/_hostile/reset", body, b) == 200,
		      "the server refused the reset to mode %s", mode_json);
}

static bool in_list(const md_json *d, int arr, const char *id)
{
	char s[80];
	for (int i = 0; i < md_json_count(d, arr); i++)
		if (md_json_str(d, md_json_at(d, arr, i), s, sizeof s) > 0 && strcmp(s, id) == 0)
			return true;
	return false;
}

void hx_state_get(hx_state *s)
{
	memset(s, 0, sizeof *s);
	_cleanup_secret_ md_secret *b = md_secret_new(1 << 16);
	ck_assert_int_eq(ctl("GET", "/_hostile/state", NULL, b), 200);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(b), md_secret_len(b), NULL), 0);
	long long n = 0;
	md_json_int(&d, md_json_get(&d, 0, "request_count"), &n);
	s->requests = (int)n;
	int st = md_json_get(&d, 0, "stolen");
	md_json_int(&d, md_json_get(&d, st, "hits"), &n);
	s->stolen_hits = (int)n;
	md_json_int(&d, md_json_get(&d, st, "with_credential"), &n);
	s->stolen_cred = (int)n;
	int iss = md_json_get(&d, 0, "issued"), del = md_json_get(&d, 0, "deleted");
	for (int i = 0; i < md_json_count(&d, iss) && s->nissued < 16; i++) {
		int e = md_json_at(&d, iss, i);
		hx_issued *t = &s->issued[s->nissued++];
		md_json_str(&d, md_json_get(&d, e, "id"), t->id, sizeof t->id);
		md_json_str(&d, md_json_get(&d, e, "variant"), t->variant, sizeof t->variant);
		md_json_bool(&d, md_json_get(&d, e, "live"), &t->live);
		t->deleted = in_list(&d, del, t->id);
	}
	md_json_free(&d);
}

/* The values the server issued since the reset, into vals (caller frees). */
static int issued_values(md_secret **vals, int max)
{
	_cleanup_secret_ md_secret *b = md_secret_new(1 << 16);
	ck_assert_int_eq(ctl("GET", "/_hostile/issued", NULL, b), 200);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(b), md_secret_len(b), NULL), 0);
	int arr = md_json_get(&d, 0, "tokens"), n = 0;
	for (int i = 0; i < md_json_count(&d, arr) && n < max; i++) {
		size_t hl = 0;
		const char *hex = md_json_raw(&d, md_json_get(&d, md_json_at(&d, arr, i), "value_hex"),
					      &hl);
		md_secret *v = md_secret_new(hl / 2 + 1);
		for (size_t k = 0; hex && k + 1 < hl; k += 2) {
			char c = (char)(md_text_hexval(hex[k]) << 4 | md_text_hexval(hex[k + 1]));
			md_secret_append(v, &c, 1);
		}
		vals[n++] = v;
	}
	md_json_free(&d);
	return n;
}

void hx_set_extra_secrets(const char *const *values) { extra = values; }

/* --- the output checks ----------------------------------------------------- */

/* NULL when s[0..n) is valid UTF-8 without control characters other than
 * '\n' (C0, DEL, C1) and without bidirectional controls; else what is
 * wrong (and its offset in *at). */
static const char *unclean(const char *s, size_t n, size_t *at)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i], cp, min;
		size_t len;
		*at = i;
		if (c < 0x80) {
			if ((c < 0x20 && c != '\n') || c == 0x7f)
				return "a raw control byte";
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07, min = 0x10000;
		else
			return "invalid UTF-8";
		if (i + len > n)
			return "truncated UTF-8";
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return "invalid UTF-8";
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return "invalid UTF-8";
		if (cp <= 0x9f)
			return "a C1 control character";
		if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
		    cp == 0x200e || cp == 0x200f)
			return "a bidirectional control character";
		i += len;
	}
	return NULL;
}

static bool has(const md_secret *hay, const char *v, size_t n)
{
	return n > 0 && memmem(md_secret_str(hay), md_secret_len(hay), v, n) != NULL;
}

/* Does hay show v[0..n): all of it, a printable piece of it (20 bytes or
 * more), or 16 bytes running anywhere in a piece's last 40 (the random part
 * of a credential or a JWT's signature: what a cut line would leave)? */
static bool shows(const md_secret *hay, const char *v, size_t n)
{
	if (n >= 8 && has(hay, v, n))
		return true;
	for (size_t i = 0, j; i < n; i = j + 1) {
		for (j = i; j < n && (unsigned char)v[j] > 0x20 && (unsigned char)v[j] < 0x7f; j++)
			;
		if (j - i < 20)
			continue;
		if (has(hay, v + i, j - i))
			return true;
		for (size_t k = j - i > 40 ? j - 40 : i; k + 16 <= j; k++)
			if (has(hay, v + k, 16))
				return true;
	}
	return false;
}

/* v in standard base64 (what a Kubernetes Secret's data holds). */
static md_secret *base64(const char *v, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	md_secret *o = md_secret_new(n / 3 * 4 + 8);
	const unsigned char *p = (const unsigned char *)v;
	for (size_t i = 0; i < n; i += 3) {
		unsigned x = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		char q[4] = {al[x >> 18 & 63], al[x >> 12 & 63], i + 1 < n ? al[x >> 6 & 63] : '=',
			     i + 2 < n ? al[x & 63] : '='};
		md_secret_append(o, q, 4);
	}
	return o;
}

static void no_secret(hx_verdict *v, const char *label, const h_result *r, const char *what,
		      const char *val, size_t n, bool check_stdout)
{
	if (n == 0)
		return;
	_cleanup_secret_ md_secret *b64 = base64(val, n);
	hx_check(v, !shows(r->err, val, n) && !has(r->err, md_secret_str(b64), md_secret_len(b64)),
		 "%s: stderr shows %s", label, what);
	hx_check(v, !check_stdout || (!shows(r->out, val, n) &&
				      !has(r->out, md_secret_str(b64), md_secret_len(b64))),
		 "%s: stdout shows %s", label, what);
}

/* No secret (vals[0..nv) are the values the server issued; allowed_on_stdout,
 * if not NULL, is the one value stdout may hold), no raw control byte,
 * valid UTF-8. */
static void check_outputs(hx_verdict *v, const char *label, const h_result *r,
			  md_secret *const *vals, int nv, const md_secret *allowed_on_stdout)
{
	no_secret(v, label, r, "the admin token", admin, strlen(admin), true);
	for (size_t i = 0; extra && extra[i]; i++)
		no_secret(v, label, r, "a store credential", extra[i], strlen(extra[i]), true);
	for (int i = 0; i < nv; i++) {
		bool ok_out = allowed_on_stdout && md_secret_eq(vals[i], allowed_on_stdout);
		no_secret(v, label, r, "a token value the server issued", md_secret_str(vals[i]),
			  md_secret_len(vals[i]), !ok_out);
	}
	const md_secret *streams[2] = {r->out, r->err};
	for (int i = 0; i < 2; i++) {
		size_t at = 0;
		const char *bad = unclean(md_secret_str(streams[i]), md_secret_len(streams[i]), &at);
		hx_check(v, !bad, "%s: %s holds %s at byte %zu", label, i ? "stderr" : "stdout", bad,
			 at);
	}
}

/* --- running commands ------------------------------------------------------ */

/* The expected exit code in words, for messages. */
static const char *want_str(int want)
{
	static char b[16];
	if (want == X_ANY)
		return "anything but a crash";
	if (want == X_NONZERO)
		return "non-zero";
	snprintf(b, sizeof b, "%d", want);
	return b;
}

static bool exit_ok(int got, int want)
{
	if (want == X_ANY)
		return got < 128;
	if (want == X_NONZERO)
		return got != 0 && got < 128;
	return got == want;
}

static const char *subst(const char *a)
{
	if (strcmp(a, "@OUT") == 0)
		return out_file;
	if (strcmp(a, "@STORE") == 0)
		return store_uri;
	if (strcmp(a, "@STATE") == 0)
		return state_dir;
	if (strcmp(a, "@CFG") == 0)
		return cfg_file;
	return a;
}

/* mdcred with the server's global options, then args; flags for h_run. */
static void run(h_result *r, int flags, const char *timeout, const char *const *args,
		const char *const *env)
{
	const char *a[25] = {"--api-url", url, "--admin-token-file", admin_file, "--retries", "0",
			     "--timeout", timeout ? timeout : "10"};
	for (int i = 0, n = 8; args[i] && n < 24; i++)
		a[n++] = subst(args[i]);
	h_run(r, flags | H_NO_URL | H_NO_AUTH, NULL, env, a[0], a[1], a[2], a[3], a[4], a[5], a[6],
	      a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17], a[18],
	      a[19], a[20], a[21], a[22], a[23], NULL);
}

void hx_run_args(hx_verdict *v, const char *label, const char *const *args,
		 const char *const *env, int want, h_result *r)
{
	run(r, 0, NULL, args, env);
	hx_check(v, exit_ok(r->status, want), "%s: exit %d, expected %s", label, r->status,
		 want_str(want));
	md_secret *vals[16];
	int nv = issued_values(vals, 16);
	check_outputs(v, label, r, vals, nv, NULL);
	while (nv > 0)
		md_secret_free(vals[--nv]);
}

void hx_run(hx_verdict *v, const hx_mode_case *m, const hx_cmd *c, const char *const *env,
	    h_result *rout, hx_state *sout)
{
	char label[160];
	snprintf(label, sizeof label, "[%s] %s", m->label, c->name);
	bool affected = m->mode && (c->answers & m->touches);
	bool may_print = (c->answers & C_PRINTS) && !(affected && m->bad_answer);
	unlink(out_file);
	unlink(store_file);
	hx_reset(m->mode);
	h_result r;
	run(&r, may_print ? H_SECRET_STDOUT : 0, m->timeout, c->args, env);
	int want = affected ? m->code : 0;
	hx_check(v, exit_ok(r.status, want), "%s: exit %d, expected %s", label, r.status,
		 want_str(want));

	hx_state s;
	hx_state_get(&s);
	md_secret *vals[16];
	int nv = issued_values(vals, 16);
	bool printed = may_print && r.status == 0 && nv >= 1;
	check_outputs(v, label, &r, vals, nv, printed ? vals[0] : NULL);
	hx_check(v, s.stolen_hits == 0, "%s: a redirect was followed: /stolen saw %d request(s), "
		 "%d with a credential", label, s.stolen_hits, s.stolen_cred);
	if (!m->mode && r.status == 0) {
		/* The well-behaved server: the commands do their work. */
		bool shown = printed && has(r.out, md_secret_str(vals[0]), md_secret_len(vals[0]));
		bool wrote = access(store_file, F_OK) == 0 || access(out_file, F_OK) == 0;
		hx_check(v, !(c->answers & C_PRINTS) || shown, "%s: stdout lacks the minted token",
			 label);
		hx_check(v, !(c->answers & C_WRITES) || wrote, "%s: wrote no file", label);
	}
	while (nv > 0)
		md_secret_free(vals[--nv]);
	for (int i = 0; m->no_orphan && r.status != 0 && i < s.nissued; i++)
		hx_check(v, !s.issued[i].live, "%s: failed, yet the token %s it minted is still live "
			 "(an orphan)", label, s.issued[i].id);
	if (affected && m->bad_answer) {
		if ((c->answers & C_REPORT))
			hx_check(v, h_contains(r.out, "failed"), "%s: the report does not say failed",
				 label);
		else
			hx_check(v, md_secret_len(r.out) == 0, "%s: printed %zu byte(s) on stdout", label,
				 md_secret_len(r.out));
		hx_check(v, access(out_file, F_OK) != 0, "%s: created the --output file", label);
		hx_check(v, access(store_file, F_OK) != 0, "%s: wrote the store", label);
	}
	if (sout)
		*sout = s;
	if (rout)
		*rout = r;
	else
		h_result_free(&r);
}

void hx_run_all(hx_verdict *v, const hx_mode_case *m)
{
	for (int i = 0; i < hx_ncmds; i++)
		if (m->touches == A_ALL || (hx_cmds[i].answers & m->touches))
			hx_run(v, m, &hx_cmds[i], NULL, NULL, NULL);
}
