/* grpc_client.h - a gRPC client, the client role on the connection layer
 * (h2conn.h: TLS, HTTP/2, the loop, streams).
 *
 * Owns: dialing a server on a Unix socket (TLS with ALPN h2), the
 * one connection's loop on a thread of its own, and unary calls that any
 * number of threads may make at once (each is one stream on the shared
 * connection). Used by the plugin to reach the host's Storage and
 * SystemView over the go-plugin broker.
 */
#ifndef MD_GRPC_CLIENT_H
#define MD_GRPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "base/error.h"

typedef struct md_grpc_client md_grpc_client;

/* network: "unix" (go-plugin's broker uses TCP only on Windows); address:
 * the socket's path.
 * ssl_ctx: client context (own certificate, trust, ALPN h2), caller-owned,
 * kept alive while the client lives. server_name: SNI and the name the
 * certificate is checked against ("localhost" for go-plugin). */
int md_grpc_client_dial(const char *network, const char *address, SSL_CTX *ssl_ctx,
			const char *server_name, int timeout_ms, md_grpc_client **out,
			md_error *err);
/* One unary call. On return MD_OK: *status is the gRPC status; on OK
 * *resp (malloc) and *resp_len hold the reply. Errors of transport (the
 * connection is gone, timeout) are md_error MD_ETRANSIENT/MD_EFAIL. */
int md_grpc_client_unary(md_grpc_client *c, const char *path, const uint8_t *req, size_t req_len,
			 int timeout_ms, uint8_t **resp, size_t *resp_len, int *status,
			 char *status_msg, size_t status_msg_sz, md_error *err);
/* Fails calls still in flight, waits for them to return, and closes. */
void md_grpc_client_free(md_grpc_client *c);

#endif
