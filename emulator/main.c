/* main.c - mdcred-emulator: a local stand-in for the MotherDuck admin API.
 *
 * Owns: the command line (one-line errors, exit 2), the listen address
 * (loopback unless --listen-any), TLS material (read and checked with
 * OpenSSL before the server starts), the initial org and the admin and
 * member token files (mode 0600, created fresh with O_EXCL), the single
 * ready line on stdout (the base URL), and the orderly stop on SIGTERM or
 * SIGINT (exit 0). See README.md beside this file.
 */
#include "emu.h"
#include "base/file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/log.h"
#include "base/proc.h"

#define PEM_MAX (1u << 20)
#ifdef __SANITIZE_ADDRESS__
#define EMU_HARDEN 0 /* LeakSanitizer cannot work without ptrace */
#else
#define EMU_HARDEN MD_PROC_HARDEN
#endif

struct emu_opts {
	const char *listen;
	bool listen_any;
	long port;
	const char *admin_file;
	const char *member_file;
	const char *record;
	const char *cert;
	const char *key;
	struct emu_cfg cfg;
	int verbose;
};

struct emu_listen {
	struct sockaddr_storage ss;
	char host[64]; /* as printed in the base URL */
};

static const char usage_text[] =
	"usage: mdcred-emulator [options]\n"
	"A local emulator of the MotherDuck admin REST API, for tests and demos.\n"
	"\n"
	"  --listen ADDR            address to listen on: 127.0.0.1 (default), ::1,\n"
	"                           localhost; others need --listen-any\n"
	"  --listen-any             allow a non-loopback --listen address\n"
	"  --port N                 TCP port, 0 = any free port (default 0)\n"
	"  --admin-token-file FILE  write the org admin's token to FILE (mode 0600)\n"
	"  --member-token-file FILE write the member's token to FILE (mode 0600)\n"
	"  --record-tokens FILE     append every token value issued to FILE (tests)\n"
	"  --tls-cert PEM           serve HTTPS with this certificate (needs --tls-key)\n"
	"  --tls-key PEM            private key of --tls-cert\n"
	"  --delete-status 200|204  status of a successful token revocation (200)\n"
	"  --flock-limit N          plan limit on read_scaling.flock_size (16)\n"
	"  -v, --verbose            log each request to stderr (-vv: more)\n"
	"  -h, --help               show this help\n"
	"\n"
	"When ready it prints its base URL on stdout, then serves until SIGTERM or\n"
	"SIGINT. The control plane (/_emulator/...) is described in emulator/README.md.\n";

enum { OPT_LISTEN = 256, OPT_LISTEN_ANY, OPT_PORT, OPT_ADMIN, OPT_MEMBER, OPT_RECORD,
       OPT_CERT, OPT_KEY, OPT_DELETE, OPT_FLOCK };

static const struct option long_opts[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"listen-any", no_argument, NULL, OPT_LISTEN_ANY},
	{"port", required_argument, NULL, OPT_PORT},
	{"admin-token-file", required_argument, NULL, OPT_ADMIN},
	{"member-token-file", required_argument, NULL, OPT_MEMBER},
	{"record-tokens", required_argument, NULL, OPT_RECORD},
	{"tls-cert", required_argument, NULL, OPT_CERT},
	{"tls-key", required_argument, NULL, OPT_KEY},
	{"delete-status", required_argument, NULL, OPT_DELETE},
	{"flock-limit", required_argument, NULL, OPT_FLOCK},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* ---- options ---- */

static int num_arg(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		md_log_error("%s: expected an integer from %ld to %ld, got '%s'", opt, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int opt_one(struct emu_opts *o, int ch, const char *arg)
{
	long v;
	switch (ch) {
	case OPT_LISTEN: o->listen = arg; return 0;
	case OPT_LISTEN_ANY: o->listen_any = true; return 0;
	case OPT_PORT: return num_arg("--port", arg, 0, 65535, &o->port);
	case OPT_ADMIN: o->admin_file = arg; return 0;
	case OPT_MEMBER: o->member_file = arg; return 0;
	case OPT_RECORD: o->record = arg; return 0;
	case OPT_CERT: o->cert = arg; return 0;
	case OPT_KEY: o->key = arg; return 0;
	case OPT_DELETE:
		if (num_arg("--delete-status", arg, 200, 204, &v) < 0)
			return -1;
		if (v != 200 && v != 204) {
			md_log_error("--delete-status: expected 200 or 204, got '%s'", arg);
			return -1;
		}
		o->cfg.delete_status = (int)v;
		return 0;
	case OPT_FLOCK:
		if (num_arg("--flock-limit", arg, 0, EMU_FLOCK_MAX, &v) < 0)
			return -1;
		o->cfg.flock_limit = (int)v;
		return 0;
	case 'v': o->verbose++; return 0;
	default: return -1;
	}
}

static int opts_parse(int argc, char **argv, struct emu_opts *o)
{
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":vh", long_opts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(usage_text, stdout);
			exit(0);
		}
		if (ch == '?' || ch == ':') {
			const char *bad = argv[optind - 1];
			md_log_error("%s option '%s' (try --help)",
				     ch == ':' ? "missing argument for" : "unknown", bad);
			return -1;
		}
		if (opt_one(o, ch, optarg) < 0)
			return -1;
	}
	if (optind < argc) {
		md_log_error("unexpected argument '%s' (try --help)", argv[optind]);
		return -1;
	}
	if (!o->cert != !o->key) {
		md_log_error("--tls-cert and --tls-key must be given together");
		return -1;
	}
	return 0;
}

/* ---- the listen address ---- */

static int listen_resolve(const struct emu_opts *o, struct emu_listen *l)
{
	const char *a = o->listen ? o->listen : "127.0.0.1";
	char buf[64];
	struct sockaddr_in *v4 = (struct sockaddr_in *)&l->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&l->ss;
	bool loopback;
	memset(l, 0, sizeof *l);
	size_t n = strlen(a);
	if (n >= 2 && a[0] == '[' && a[n - 1] == ']' && n - 2 < sizeof buf) {
		memcpy(buf, a + 1, n - 2);
		buf[n - 2] = '\0';
	} else {
		snprintf(buf, sizeof buf, "%s", strcmp(a, "localhost") == 0 ? "127.0.0.1" : a);
	}
	if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((unsigned short)o->port);
		loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
		snprintf(l->host, sizeof l->host, "%s", strcmp(a, "localhost") == 0 ? a : buf);
	} else if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((unsigned short)o->port);
		loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
		snprintf(l->host, sizeof l->host, "[%s]", buf);
	} else {
		md_log_error("--listen: '%s' is not an IP address or 'localhost'", a);
		return -1;
	}
	if (!loopback && !o->listen_any) {
		md_log_error("--listen: '%s' is not a loopback address (add --listen-any to "
			     "allow it)", a);
		return -1;
	}
	return 0;
}

/* ---- files ---- */

static int pem_read(const char *opt, const char *path, md_secret **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char buf[4096];
	ssize_t r;
	*out = NULL;
	if (fd < 0) {
		md_log_error("%s: cannot open %s: %s", opt, path, strerror(errno));
		return -1;
	}
	md_secret *s = md_secret_new(8192);
	while (s && (r = read(fd, buf, sizeof buf)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || md_secret_len(s) + (size_t)r > PEM_MAX ||
		    md_secret_append(s, buf, (size_t)r) < 0) {
			md_log_error("%s: cannot read %s: %s", opt, path,
				     r < 0 ? strerror(errno) : "too large");
			md_secret_freep(&s);
		}
	}
	close(fd);
	*out = s;
	return s ? 0 : -1;
}

/* Checks that cert and key are PEM and belong together, before GnuTLS sees them. */
static int tls_check(const md_secret *cert, const md_secret *key, const struct emu_opts *o)
{
	BIO *cb = BIO_new_mem_buf(md_secret_str(cert), (int)md_secret_len(cert));
	BIO *kb = BIO_new_mem_buf(md_secret_str(key), (int)md_secret_len(key));
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pk = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int rc = -1;
	if (!x)
		md_log_error("--tls-cert: no PEM certificate in %s", o->cert);
	else if (!pk)
		md_log_error("--tls-key: no unencrypted PEM private key in %s", o->key);
	else if (X509_check_private_key(x, pk) != 1)
		md_log_error("--tls-key: %s does not match the certificate in %s", o->key,
			     o->cert);
	else
		rc = 0;
	X509_free(x);
	EVP_PKEY_free(pk);
	BIO_free(cb);
	BIO_free(kb);
	return rc;
}

/* Replaces path with a new file (0600, written atomically) holding the value and "\n". */
static int token_file_write(const char *opt, const char *path, const md_secret *v)
{
	md_error err = {0};
	_cleanup_secret_ md_secret *line = md_secret_new(md_secret_len(v) + 1);
	if (!line || md_secret_append(line, md_secret_str(v), md_secret_len(v)) < 0 ||
	    md_secret_append(line, "\n", 1) < 0 ||
	    md_file_write_atomic(path, line, 0600, &err) != MD_OK) {
		md_log_error("%s: %s", opt, err.msg[0] ? err.msg : "out of memory");
		return -1;
	}
	return 0;
}

/* ---- running ---- */

static int org_start(const struct emu_opts *o, md_secret *admin, md_secret *member)
{
	md_error err = {0};
	if (o->record && emu_record_open(o->record, &err) != MD_OK) {
		md_log_error("%s", err.msg);
		return 2;
	}
	if (emu_org_init(admin, member, &err) != MD_OK) {
		md_log_error("%s", err.msg);
		return 1;
	}
	return 0;
}

static int token_files_write(const struct emu_opts *o, const md_secret *admin,
			     const md_secret *member)
{
	if ((o->admin_file && token_file_write("--admin-token-file", o->admin_file, admin)) ||
	    (o->member_file && token_file_write("--member-token-file", o->member_file, member)))
		return 2;
	return 0;
}

/* SIGINT and SIGTERM are blocked from the start (and so in every thread),
 * so that only sigwait() in serve() sees them, even during start-up. */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int serve(const struct emu_opts *o, const struct emu_listen *l, md_secret *admin,
		 md_secret *member, const md_secret *cert, const md_secret *key)
{
	md_error err = {0};
	unsigned port = 0;
	sigset_t set;
	int sig, rc;
	stop_signals(&set);
	if (emu_http_start((const struct sockaddr *)&l->ss, cert != NULL, md_secret_str(cert),
			   md_secret_str(key), &port, &err) != MD_OK) {
		md_log_error("%s", err.msg);
		return 1;
	}
	/* Token files appear only once the server is up, and before the URL. */
	rc = token_files_write(o, admin, member);
	md_secret_truncate(admin, 0);
	md_secret_truncate(member, 0);
	if (rc == 0) {
		printf("%s://%s:%u\n", cert ? "https" : "http", l->host, port);
		fflush(stdout);
		md_log_info("listening on %s://%s:%u", cert ? "https" : "http", l->host, port);
		while (sigwait(&set, &sig) != 0)
			;
		md_log_info("stopping on signal %d", sig);
	}
	emu_http_stop();
	return rc;
}

int main(int argc, char **argv)
{
	struct emu_opts o = {.cfg = {200, 16}};
	struct emu_listen l;
	md_secret *cert = NULL, *key = NULL, *admin = NULL, *member = NULL;
	int rc;

	if (md_proc_start(EMU_HARDEN) < 0)
		return 1;
	sigset_t set;
	stop_signals(&set);
	md_log_init(EMU_PROG, MD_LOG_WARN, MD_LOG_TEXT);
	if (opts_parse(argc, argv, &o) < 0 || listen_resolve(&o, &l) < 0)
		return 2;
	md_log_set_level(o.verbose >= 2 ? MD_LOG_DEBUG : o.verbose ? MD_LOG_INFO : MD_LOG_WARN);
	emu_cfg_set_start(&o.cfg);
	if (o.cert && (pem_read("--tls-cert", o.cert, &cert) < 0 ||
		       pem_read("--tls-key", o.key, &key) < 0 || tls_check(cert, key, &o) < 0)) {
		rc = 2;
	} else if (!(admin = md_secret_new(512)) || !(member = md_secret_new(512))) {
		md_log_error("out of memory");
		rc = 1;
	} else if ((rc = org_start(&o, admin, member)) == 0) {
		rc = serve(&o, &l, admin, member, cert, key);
	}
	emu_lock();
	emu_org_free();
	emu_faults_clear();
	emu_reqlog_clear();
	emu_unlock();
	emu_record_close();
	md_secret_free(admin);
	md_secret_free(member);
	md_secret_free(cert);
	md_secret_free(key);
	return rc;
}
