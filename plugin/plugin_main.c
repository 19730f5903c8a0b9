/* plugin_main.c - vault-plugin-secrets-motherduck's entry: go-plugin's
 * start-up contract (cookie, protocol version, AutoMTLS, the socket and
 * the one handshake line), then serving until Shutdown or the host leaves. */
#define _GNU_SOURCE
#include "plugin.h"
#include "base/cleanup.h"
#include "base/env.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/proc.h"
#include "base/rand.h"
#include "base/secret.h"

#define COOKIE_KEY "VAULT_BACKEND_PLUGIN"
#define COOKIE_VALUE "6669da05-b1c8-4f49-97d9-c8e5bed98e20"
#define APP_PROTOCOL "5"

struct plugin_env plugin_env;

static int fail(const char *fmt, const char *arg)
{
	md_log_error(fmt, arg);
	return 1;
}

static int check_start_env(void)
{
	const char *cookie = md_env(COOKIE_KEY, NULL);
	if (!cookie || strcmp(cookie, COOKIE_VALUE) != 0) {
		fprintf(stderr, "vault-plugin-secrets-motherduck: this binary is a Vault/OpenBao "
				"plugin and is not meant to be run directly; register it with "
				"`vault plugin register` and Vault starts it.\n");
		return 1;
	}
	const char *versions = md_env("PLUGIN_PROTOCOL_VERSIONS", NULL);
	char list[128], *save = NULL;
	bool offered = false;
	snprintf(list, sizeof list, "%s", versions ? versions : "");
	for (char *v = strtok_r(list, ", ", &save); v; v = strtok_r(NULL, ", ", &save))
		offered |= strcmp(v, APP_PROTOCOL) == 0;
	if (!offered)
		return fail("the host offers plugin protocol versions '%s'; this plugin speaks 5",
			    versions ? versions : "");
	if (!md_env("PLUGIN_CLIENT_CERT", NULL))
		return fail("%s", "PLUGIN_CLIENT_CERT is not set: this plugin requires AutoMTLS");
	return 0;
}

/* A Unix socket only the host's user can reach. */
static int listen_socket(char *path, size_t pathsz)
{
	const char *dir = md_env("PLUGIN_UNIX_SOCKET_DIR", md_env("TMPDIR", "/tmp"));
	unsigned r;
	if (md_rand_bytes(&r, sizeof r) < 0)
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(path, pathsz, "%s/plugin%u", dir, r % 1000000000u);
	if (n < 0 || (size_t)n >= pathsz || (size_t)n >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, path, (size_t)n + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	mode_t old = umask(0077);
	int b = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (b < 0 || listen(fd, 128) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Every request to stop (SIGTERM, Controller.Shutdown, the host going
 * away) is a byte on this pipe, which the server watches. It is made before
 * any of them can come and never closed: a signal handler may run before
 * the server exists or after it is freed, and must touch neither. */
static int stop_pipe[2] = {-1, -1};

void plugin_stop(void)
{
	int saved = errno;
	ssize_t n = write(stop_pipe[1], "", 1);
	(void)n; /* a full pipe: a stop is pending already */
	errno = saved;
}

static void on_sigterm(int sig)
{
	(void)sig;
	plugin_stop();
}

static void on_host_gone(void *ud)
{
	(void)ud;
	md_log_info("the host closed its connection; exiting");
	plugin_stop();
}

/* AutoMTLS, the socket and the server with every service; 0 or -1 (logged).
 * On success the server owns the socket. */
static int serve_setup(const char *client_pem, char *sock, size_t socksz, SSL_CTX **server_ctx,
		       md_grpc_server **server)
{
	md_error err = {0};
	if (md_mtls_identity_new(&plugin_env.identity, &err) ||
	    md_mtls_server_ctx(plugin_env.identity, client_pem, server_ctx, &err) ||
	    md_mtls_client_ctx(plugin_env.identity, client_pem, &plugin_env.client_ctx, &err)) {
		md_log_error("AutoMTLS: %s", err.msg);
		return -1;
	}
	_cleanup_fd_ int fd = listen_socket(sock, socksz);
	if (fd < 0) {
		md_log_error("cannot listen on a Unix socket in %s: %s", sock, strerror(errno));
		return -1;
	}
	if (md_grpc_server_new(*server_ctx, fd, server, &err)) {
		md_log_error("%s", err.msg);
		return -1;
	}
	fd = -1; /* the server's now */
	md_grpc_server_watch_stop(*server, stop_pipe[0]);
	plugin_services_register(*server);
	plugin_broker_register(*server);
	plugin_backend_register(*server);
	md_grpc_server_on_idle(*server, on_host_gone, NULL);
	return 0;
}

static int serve(const char *client_pem)
{
	md_error err = {0};
	md_grpc_server *server = NULL;
	SSL_CTX *server_ctx = NULL;
	char sock[256] = "";
	int rc = 1;
	/* The one line the host reads; nothing may precede it on stdout. */
	if (serve_setup(client_pem, sock, sizeof sock, &server_ctx, &server) == 0 &&
	    printf("1|%s|unix|%s|grpc|%s\n", APP_PROTOCOL, sock,
		   md_mtls_identity_cert_b64(plugin_env.identity)) > 0 &&
	    fflush(stdout) == 0) {
		rc = md_grpc_server_run(server, &err) ? 1 : 0;
		if (rc)
			md_log_error("%s", err.msg);
	}
	/* Handlers first (free waits for them): a Setup still running then
	 * cannot publish a client after the slot is emptied. */
	md_grpc_server_free(server);
	plugin_backend_cleanup();
	if (sock[0])
		unlink(sock);
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(plugin_env.client_ctx);
	md_mtls_identity_free(plugin_env.identity);
	return rc;
}

int main(void)
{
	if (md_proc_start(MD_PROC_HARDEN) < 0)
		return 1;
	md_log_init("vault-plugin-secrets-motherduck", MD_LOG_INFO, MD_LOG_HCLOG);
	if (check_start_env())
		return 1;
	/* The host handles ^C; it stops us with Shutdown. If it dies before
	 * that, the kernel tells us. */
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return fail("cannot make a pipe: %s", strerror(errno));
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_sigterm);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	return serve(md_env("PLUGIN_CLIENT_CERT", NULL));
}
