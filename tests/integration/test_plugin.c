/* test_plugin.c - vault-plugin-secrets-motherduck through the Go host, which
 * launches it exactly as Vault does (go-plugin's client, AutoMTLS, broker). */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *host(void)
{
	const char *v = getenv("VAULT_HOST_BIN");
	return v ? v : "build/vault-host";
}

static const char *plugin(void)
{
	const char *v = getenv("PLUGIN_BIN");
	return v ? v : "build/vault-plugin-secrets-motherduck";
}

/* Per-test storage (holds the admin token: a requested output), plugin log
 * (searched by the leak scan) and socket directory. */
static char storage[1300], plog[1300], sockdir[1300], tmpenv[1400];

static void plugin_setup(void)
{
	static int n;
	char name[64];
	snprintf(name, sizeof name, "plugin-storage-%d.json", ++n);
	snprintf(storage, sizeof storage, "%s", h_path(true, name));
	snprintf(name, sizeof name, "plugin-%d.log", n);
	snprintf(plog, sizeof plog, "%s", h_path(false, name));
	snprintf(name, sizeof name, "plugin-sock-%d", n);
	snprintf(sockdir, sizeof sockdir, "%s", h_path(false, name));
	mkdir(sockdir, 0700);
	snprintf(tmpenv, sizeof tmpenv, "TMPDIR=%s", sockdir);
}

/* vault-host -plugin P -storage S -log L -env TMPDIR=D ARGS... */
#define HOST(r, stdin_data, ...)                                                            \
	h_run_prog(r, 0, host(), stdin_data, NULL, "-plugin", plugin(), "-storage", storage,  \
		   "-log", plog, "-env", tmpenv, __VA_ARGS__, NULL)

static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	if (d)
		closedir(d);
	return n;
}

START_TEST(mount_sequence_and_shutdown)
{
	plugin_setup();
	h_result r;
	HOST(&r, NULL, "mount");
	ck_assert_exit(r, 0);
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(r.out), md_secret_len(r.out), NULL), 0);
	long long type = 0;
	char version[32], mux[32];
	bool graceful = false;
	md_json_int(&d, md_json_get(&d, 0, "type"), &type);
	md_json_str(&d, md_json_get(&d, 0, "version"), version, sizeof version);
	md_json_str(&d, md_json_get(&d, 0, "multiplexing"), mux, sizeof mux);
	md_json_bool(&d, md_json_get(&d, md_json_get(&d, 0, "shutdown"), "graceful"), &graceful);
	ck_assert_int_eq(type, 1);
	ck_assert_str_eq(version, "v0.1.0");
	ck_assert_str_eq(mux, "unsupported");
	ck_assert_msg(graceful, "the plugin did not exit cleanly on Shutdown");
	md_json_free(&d);
	h_result_free(&r);
	ck_assert_int_eq(dir_entries(sockdir), 0); /* socket removed */
}
END_TEST

START_TEST(config_round_trip_through_brokered_storage)
{
	plugin_setup();
	char tokarg[1400], url[400];
	snprintf(tokarg, sizeof tokarg, "admin_token=@%s", h_admin_token_file());
	snprintf(url, sizeof url, "api_url=%s", h_base_url());
	h_result r;
	HOST(&r, NULL, "write", "config", tokarg, url, "timeout=10");
	ck_assert_exit(r, 0);
	h_result_free(&r);
	HOST(&r, NULL, "read", "config");
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "\"admin_token_set\": true"));
	ck_assert(h_contains(r.out, "\"timeout\": 10"));
	ck_assert(h_contains(r.out, h_base_url()));
	h_result_free(&r);
	/* An update keeps the token; a delete removes the entry. */
	HOST(&r, NULL, "write", "config", "retries=5");
	ck_assert_exit(r, 0);
	h_result_free(&r);
	HOST(&r, NULL, "read", "config");
	ck_assert(h_contains(r.out, "\"retries\": 5"));
	ck_assert(h_contains(r.out, "\"admin_token_set\": true"));
	h_result_free(&r);
	HOST(&r, NULL, "delete", "config");
	ck_assert_exit(r, 0);
	h_result_free(&r);
	HOST(&r, NULL, "read", "config");
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "No value found"));
	h_result_free(&r);
}
END_TEST

START_TEST(config_validation_and_help)
{
	plugin_setup();
	h_result r;
	HOST(&r, "not-a-real-token-value\n", "write", "config", "api_url=http://example.com",
	     "admin_token=-");
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "refusing plain http://"));
	h_result_free(&r);
	HOST(&r, NULL, "write", "config", "admin_tokn=x");
	ck_assert_exit(r, 2);
	ck_assert(h_contains(r.err, "unknown field 'admin_tokn'"));
	h_result_free(&r);
	HOST(&r, NULL, "help", "config");
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "write-only"));
	h_result_free(&r);
}
END_TEST

START_TEST(unsupported_paths_and_operations)
{
	plugin_setup();
	h_result r;
	HOST(&r, NULL, "read", "roles/nope");
	ck_assert_exit(r, 4);
	ck_assert(h_contains(r.err, "unsupported path"));
	h_result_free(&r);
	HOST(&r, NULL, "list", "config");
	ck_assert_exit(r, 4);
	h_result_free(&r);
	HOST(&r, NULL, "op", "revoke", "config");
	ck_assert_exit(r, 4);
	ck_assert(h_contains(r.err, "unsupported operation"));
	h_result_free(&r);
	HOST(&r, NULL, "op", "rollback", "");
	ck_assert_exit(r, 0);
	h_result_free(&r);
}
END_TEST

START_TEST(hundred_concurrent_requests)
{
	plugin_setup();
	h_result r;
	HOST(&r, NULL, "concurrent", "100", "config");
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "\"succeeded\": 100"));
	h_result_free(&r);
}
END_TEST

/* Has pid exited (gone, or a zombie waiting for a reaper)? */
static bool exited(void *arg)
{
	pid_t pid = *(pid_t *)arg;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	char stat[64], buf[256] = "";
	snprintf(stat, sizeof stat, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(stat, "r");
	if (f) {
		if (!fgets(buf, sizeof buf, f))
			buf[0] = '\0';
		fclose(f);
	}
	char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] == 'Z';
}

START_TEST(host_dies_plugin_exits)
{
	plugin_setup();
	h_result r;
	HOST(&r, NULL, "die-after-mount");
	ck_assert_exit(r, 0);
	pid_t pid = (pid_t)atoi(md_secret_str(r.out));
	h_result_free(&r);
	ck_assert_int_gt(pid, 1);
	ck_assert_msg(h_wait_for(exited, &pid, 30000), "plugin %d still running after its host died",
		      (int)pid);
	ck_assert_msg(dir_entries(sockdir) == 0, "socket left behind");
}
END_TEST

START_TEST(wrong_cookie_and_protocol)
{
	h_result r;
	h_run_prog(&r, 0, plugin(), NULL, NULL, NULL);
	ck_assert_exit(r, 1);
	ck_assert(h_contains(r.err, "not meant to be run directly"));
	ck_assert_uint_eq(md_secret_len(r.out), 0);
	h_result_free(&r);
	const char *env[] = {"VAULT_BACKEND_PLUGIN=6669da05-b1c8-4f49-97d9-c8e5bed98e20",
			     "PLUGIN_PROTOCOL_VERSIONS=3,4", "PLUGIN_CLIENT_CERT=x", NULL};
	h_run_prog(&r, 0, plugin(), NULL, env, NULL);
	ck_assert_exit(r, 1);
	ck_assert(h_contains(r.err, "speaks 5"));
	ck_assert_uint_eq(md_secret_len(r.out), 0);
	h_result_free(&r);
}
END_TEST

START_TEST(tls_refuses_other_cert_and_no_alpn)
{
	static const char *const probes[] = {"wrong-cert", "no-alpn", "good"};
	for (size_t i = 0; i < 3; i++) {
		plugin_setup();
		h_result r;
		HOST(&r, NULL, "handshake-probe", probes[i]);
		ck_assert_msg(r.status == 0, "probe %s: %s %s", probes[i], md_secret_str(r.out),
			      md_secret_str(r.err));
		ck_assert(h_contains(r.out, i < 2 ? "refused" : "accepted"));
		h_result_free(&r);
	}
}
END_TEST

START_TEST(malformed_and_oversized_protobuf)
{
	plugin_setup();
	h_result r;
	HOST(&r, NULL, "raw", "/pb.Backend/HandleRequest", "ffffffff0f");
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "\"code_name\": \"InvalidArgument\""));
	ck_assert(h_contains(r.out, "\"plugin_alive\": true"));
	h_result_free(&r);

	/* InvalidateKeyArgs{key: N bytes}: tag 0x0a, varint length, bytes. */
	static const size_t sizes[] = {60u << 20, (64u << 20) + 16};
	static const char *const expect[] = {"\"code_name\": \"OK\"", "\"code_name\": \"ResourceExhausted\""};
	for (int k = 0; k < 2; k++) {
		const char *f = h_path(false, "big.pb");
		FILE *fp = fopen(f, "w");
		ck_assert_ptr_nonnull(fp);
		size_t n = sizes[k];
		fputc(0x0a, fp);
		for (size_t v = n; ; v >>= 7) {
			fputc((int)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)), fp);
			if (v < 0x80)
				break;
		}
		for (size_t i = 0; i < n; i++)
			fputc('k', fp);
		fclose(fp);
		char arg[1400];
		snprintf(arg, sizeof arg, "@%s", f);
		HOST(&r, NULL, "raw", "/pb.Backend/InvalidateKey", arg);
		ck_assert_exit(r, 0);
		ck_assert_msg(h_contains(r.out, expect[k]), "size %zu: %s", n, md_secret_str(r.out));
		ck_assert(h_contains(r.out, "\"plugin_alive\": true"));
		h_result_free(&r);
		unlink(f);
	}
}
END_TEST

START_TEST(broker_id_never_arrives)
{
	plugin_setup();
	h_result r;
	HOST(&r, NULL, "setup-no-broker");
	ck_assert_exit(r, 0);
	ck_assert(h_contains(r.out, "never announced broker id"));
	md_json d;
	ck_assert_int_eq(md_json_parse(&d, md_secret_str(r.out), md_secret_len(r.out), NULL), 0);
	const char *raw;
	size_t n;
	raw = md_json_raw(&d, md_json_get(&d, 0, "elapsed_ms"), &n);
	double ms = raw ? atof(raw) : 0;
	/* It waited for its deadline (about 5 s) before it gave up; how soon
	 * after is no claim a test makes (wall time belongs in bench/). */
	ck_assert_msg(ms >= 4000, "setup answered after %.0f ms", ms);
	md_json_free(&d);
	h_result_free(&r);
}
END_TEST

Suite *suite_plugin(void)
{
	Suite *s = h_suite("plugin");
	TCase *tc = h_tcase("plugin");
	tcase_add_test(tc, mount_sequence_and_shutdown);
	tcase_add_test(tc, config_round_trip_through_brokered_storage);
	tcase_add_test(tc, config_validation_and_help);
	tcase_add_test(tc, unsupported_paths_and_operations);
	tcase_add_test(tc, hundred_concurrent_requests);
	tcase_add_test(tc, host_dies_plugin_exits);
	tcase_add_test(tc, wrong_cookie_and_protocol);
	tcase_add_test(tc, tls_refuses_other_cert_and_no_alpn);
	tcase_add_test(tc, malformed_and_oversized_protobuf);
	tcase_add_test(tc, broker_id_never_arrives);
	suite_add_tcase(s, tc);
	return s;
}
