/* test_hostile_tokens.c - the hostile server's answers that look like
 * success: mint answers whose value is not a usable token (the token, with a
 * real id, must be revoked and nothing delivered), control characters and
 * terminal escapes in the data mdcred prints, duplicate keys; and the Vault
 * and Kubernetes fakes answering errors that echo their credentials and the
 * pushed token (tests/fakes/fake_vault.py and fake_k8s.py, fault action
 * "reflect"). The runs and their checks are hostile.h's. */
#include "hostile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

/* --- mint answers that are not a usable token -------------------------------- */

static const char *const variants[] = {
	"newline", "esc",   "nonutf8", "not_jwt",   "two_parts", "four_parts",        "bad_chars",
	"empty_part", "empty", "huge", "dup_token", "dup_id",    "dup_id_real_first", "no_id",
};

/* Can a client read the token's id from the answer? (Not from a body that
 * is not JSON, nor from two ids, nor from none: it must look it up by name.) */
static bool id_readable(const char *variant)
{
	return strcmp(variant, "nonutf8") != 0 && strncmp(variant, "dup_id", 6) != 0 &&
	       strcmp(variant, "no_id") != 0;
}

START_TEST(unusable_token_answers)
{
	const char *var = variants[_i];
	char label[48], mode[96];
	snprintf(label, sizeof label, "token %s", var);
	snprintf(mode, sizeof mode, "{\"mode\":\"bad_token\",\"variant\":\"%s\"}", var);
	hx_mode_case m = {label, mode, A_MINT, 1, NULL, true, true};
	hx_verdict v = {0};
	for (int i = 0; i < hx_ncmds; i++) {
		if (!(hx_cmds[i].answers & A_MINT))
			continue;
		hx_state s;
		hx_run(&v, &m, &hx_cmds[i], NULL, NULL, &s);
		hx_check(&v, s.nissued > 0, "[%s] %s: minted nothing", label, hx_cmds[i].name);
		for (int k = 0; k < s.nissued; k++) {
			const hx_issued *t = &s.issued[k];
			hx_check(&v, !t->live, "[%s] %s: the token %s stays live (an orphan)", label,
				 hx_cmds[i].name, t->id);
			hx_check(&v, !id_readable(var) || t->deleted,
				 "[%s] %s: no DELETE of the id %s the answer gave", label,
				 hx_cmds[i].name, t->id);
		}
	}
	hx_done(&v);
}
END_TEST

/* --- control characters, duplicate keys -------------------------------------- */

static const struct {
	const char *where;
	unsigned touches;
	int code;
} ctl_cases[] = {
	{"error", A_ALL, 1},	      {"list", A_LIST, X_ANY}, {"ducklings", A_DUCKS, X_ANY},
	{"accounts", A_ACCTS, X_ANY}, {"user", A_USER, X_ANY}, {"mint", A_MINT, X_ANY},
};

START_TEST(control_characters_in_answers)
{
	char label[48], mode[96];
	snprintf(label, sizeof label, "control characters in %s", ctl_cases[_i].where);
	snprintf(mode, sizeof mode, "{\"mode\":\"ctl\",\"where\":\"%s\"}", ctl_cases[_i].where);
	hx_mode_case m = {label, mode, ctl_cases[_i].touches, ctl_cases[_i].code, NULL, true, false};
	hx_verdict v = {0};
	hx_run_all(&v, &m);
	hx_done(&v);
}
END_TEST

static const struct {
	const char *where;
	unsigned touches;
} dup_cases[] = {
	{"list", A_LIST},     {"list_entry", A_LIST}, {"ducklings", A_DUCKS},
	{"ducklings_size", A_DUCKS}, {"accounts", A_ACCTS}, {"user", A_USER},
	{"error", A_ALL},
};

START_TEST(duplicate_keys_refused)
{
	char label[48], mode[96];
	snprintf(label, sizeof label, "duplicate keys in %s", dup_cases[_i].where);
	snprintf(mode, sizeof mode, "{\"mode\":\"dup\",\"where\":\"%s\"}", dup_cases[_i].where);
	hx_mode_case m = {label, mode, dup_cases[_i].touches, X_NONZERO, NULL, true, true};
	hx_verdict v = {0};
	hx_run_all(&v, &m);
	hx_done(&v);
}
END_TEST

/* --- Vault and Kubernetes answering with what they were sent ----------------- */

static h_fakes fk;
static char k8s_sa[200];
static char vault_uri[200], vault_cfg[1300], k8s_cfg[1300];
#define K8S_URI "k8s://team-a/hostile-token"

static void write_cfg(char *path, size_t sz, const char *name, const char *uri)
{
	snprintf(path, sz, "%s", h_path(false, name));
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[hostile]\nusername = %s\nstore = %s\nttl = 1h\n", HX_USER, uri);
	fclose(f);
}

static void stores_start(void)
{
	hx_start();
	h_fakes_start(&fk, "hostile");
	_cleanup_secret_ md_secret *sa = NULL;
	if (md_file_read_secret(fk.k8s_sa, 4096, &sa, NULL) != MD_OK) {
		fprintf(stderr, "test_hostile_tokens: cannot read %s\n", fk.k8s_sa);
		exit(1);
	}
	snprintf(k8s_sa, sizeof k8s_sa, "%.*s", (int)strcspn(md_secret_str(sa), "\r\n"),
		 md_secret_str(sa));
	static const char *secrets[3];
	secrets[0] = fk.env_vault_token + strlen("VAULT_TOKEN=");
	secrets[1] = k8s_sa;
	hx_set_extra_secrets(secrets);
	snprintf(vault_uri, sizeof vault_uri, "vault://%s/secret/hostile/app", fk.vault_host);
	write_cfg(vault_cfg, sizeof vault_cfg, "hostile-vault.ini", vault_uri);
	write_cfg(k8s_cfg, sizeof k8s_cfg, "hostile-k8s.ini", K8S_URI);
}

static void stores_stop(void)
{
	hx_set_extra_secrets(NULL);
	explicit_bzero(k8s_sa, sizeof k8s_sa);
	h_fakes_stop(&fk);
	hx_stop();
}

/* POST to a fake's control plane (k8s: over its TLS). */
static void fake_ctl(bool k8s, const char *path, const char *json)
{
	h_http_target t = {k8s ? fk.k8s_url : fk.vault_url, k8s ? fk.k8s_cert : NULL, NULL, NULL};
	_cleanup_secret_ md_secret *b = md_secret_new(256);
	ck_assert_int_eq(h_http(&t, "POST", path, json, b), 200);
}

static const char *const vault_echo[] = {"auth", "body", "values", "straddle", "all"};
static const char *const k8s_echo[] = {"auth", "reason", "body", "values", "base64", "all"};
/* Reads (every GET: the store's read, its read-back, exec --from) or writes.
 * A store that cannot be read before its write is never written (nothing
 * was sent), and a write refused is a definite no: either way no store took
 * the token, which is revoked (exit 7). */
static const struct {
	const char *method;
	int status, read_exit, push_exit;
} reflect_at[] = {
	{"GET", 403, 3, 7}, {"GET", 500, 6, 7}, {"POST", 400, 0, 7}, {"POST", 403, 0, 7}};
#define NAT (int)(sizeof reflect_at / sizeof reflect_at[0])

/* push, rotate --config --json and (when reads fail) exec --from against a
 * store whose server reflects. */
static void reflect_case(bool k8s, const char *echo, int at)
{
	const char *uri = k8s ? K8S_URI : vault_uri;
	char fault[300], label[96];
	snprintf(fault, sizeof fault, "{\"method\":\"%s\",\"path\":\"%s\",\"action\":\"reflect\","
		 "\"echo\":\"%s\",\"status\":%d,\"count\":-1}", reflect_at[at].method,
		 k8s ? "/api/v1/namespaces/team-a/secrets" : "/v1/secret/", echo,
		 reflect_at[at].status);
	const char *push[] = {"push", HX_USER, "--ttl", "1h", "--store", uri, NULL};
	const char *rot[] = {"rotate", "--config", k8s ? k8s_cfg : vault_cfg, "--state-dir", "@STATE",
			     "--json", NULL};
	const char *from[] = {"exec", "--from", uri, HX_USER, "--", "/bin/true", NULL};
	const char *const *cmds[] = {push, rot, from};
	const int want[] = {reflect_at[at].push_exit, X_NONZERO, reflect_at[at].read_exit};
	hx_verdict v = {0};
	for (int c = 0; c < (want[2] ? 3 : 2); c++) {
		snprintf(label, sizeof label, "[%s reflects %s on %s %d] %s", k8s ? "k8s" : "vault",
			 echo, reflect_at[at].method, reflect_at[at].status, cmds[c][0]);
		hx_reset(NULL);
		fake_ctl(k8s, "/_fake/reset", "{}");
		fake_ctl(k8s, "/_fake/faults", fault);
		h_result r;
		hx_run_args(&v, label, cmds[c], fk.env, want[c], &r);
		hx_check(&v, c != 1 || h_contains(r.out, "\"action\":\"failed\""),
			 "%s: the --json line does not say failed", label);
		hx_state s;
		hx_state_get(&s);
		for (int k = 0; r.status == 7 && k < s.nissued; k++)
			hx_check(&v, !s.issued[k].live, "%s: no store took the token %s, yet it stays "
				 "live", label, s.issued[k].id);
		h_result_free(&r);
	}
	hx_done(&v);
}

START_TEST(vault_reflects_credentials)
{
	reflect_case(false, vault_echo[_i / NAT], _i % NAT);
}
END_TEST

START_TEST(k8s_reflects_credentials)
{
	reflect_case(true, k8s_echo[_i / NAT], _i % NAT);
}
END_TEST

/* In two parts each, a test case with its own servers per part. */
void hostile_tokens_tcases(Suite *s)
{
	static const char *const answers[2] = {"hostile_answers_1", "hostile_answers_2"};
	static const char *const stores[2] = {"hostile_stores_1", "hostile_stores_2"};
	int lo, hi;
	for (int p = 0; p < 2; p++) {
		TCase *tc = h_tcase(answers[p]);
		tcase_add_unchecked_fixture(tc, hx_start, hx_stop);
		h_part((int)(sizeof variants / sizeof variants[0]), p, 2, &lo, &hi);
		tcase_add_loop_test(tc, unusable_token_answers, lo, hi);
		h_part((int)(sizeof ctl_cases / sizeof ctl_cases[0]), p, 2, &lo, &hi);
		tcase_add_loop_test(tc, control_characters_in_answers, lo, hi);
		h_part((int)(sizeof dup_cases / sizeof dup_cases[0]), p, 2, &lo, &hi);
		tcase_add_loop_test(tc, duplicate_keys_refused, lo, hi);
		suite_add_tcase(s, tc);
	}
	for (int p = 0; p < 2; p++) {
		TCase *tc = h_tcase(stores[p]);
		tcase_add_unchecked_fixture(tc, stores_start, stores_stop);
		h_part((int)(sizeof vault_echo / sizeof vault_echo[0]) * NAT, p, 2, &lo, &hi);
		tcase_add_loop_test(tc, vault_reflects_credentials, lo, hi);
		h_part((int)(sizeof k8s_echo / sizeof k8s_echo[0]) * NAT, p, 2, &lo, &hi);
		tcase_add_loop_test(tc, k8s_reflects_credentials, lo, hi);
		suite_add_tcase(s, tc);
	}
}
