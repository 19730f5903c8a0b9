/* grpc_client.h - a gRPC client on HTTP/2 (nghttp2) over TLS (OpenSSL).
 *
 * Owns: one TLS connection (ALPN h2) to a server on a Unix or TCP socket,
 * its HTTP/2 session driven by a thread of its own, and unary calls that any
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

/* network: "unix" or "tcp"; address: a socket path or host:port.
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
void md_grpc_client_free(md_grpc_client *c);

#endif
