/* grpc_server.h - a gRPC server, the server role on the connection layer
 * (h2conn.h: TLS, HTTP/2, the loop, streams).
 *
 * Owns: the listening socket's connections (TLS with a caller-made SSL_CTX,
 * which must select ALPN "h2"; a peer without h2 is refused), routing by
 * :path to registered handlers, the request checks (POST,
 * application/grpc), UNIMPLEMENTED for unknown methods, responses with
 * trailers (grpc-status, grpc-message) or trailers-only, and the handler
 * pool: one loop thread (the caller of md_grpc_server_run) does all
 * network I/O; every call's handler runs on a pool thread and may block
 * (on the network, on storage) without stalling other streams. Many
 * concurrent streams per connection; messages up to MD_GRPC_MAX_MESSAGE.
 */
#ifndef MD_GRPC_SERVER_H
#define MD_GRPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "base/error.h"
#include "vault/grpc_frame.h"

typedef struct md_grpc_server md_grpc_server;
typedef struct md_grpc_call md_grpc_call;

/* Runs on a worker thread, once per call. It reads request messages with
 * md_grpc_call_recv, writes responses with md_grpc_call_send, and ends with
 * md_grpc_call_finish (if it returns without finishing, the call ends with
 * INTERNAL). The call object is freed by the server after the handler
 * returns. */
typedef void (*md_grpc_handler)(md_grpc_call *call, void *ud);

/* ssl_ctx: server context (certificate, client-certificate verification,
 * ALPN h2) owned by the caller and kept alive while the server runs.
 * listen_fd: a listening SOCK_STREAM socket (Unix or TCP), nonblocking or
 * not; the server takes ownership. */
int md_grpc_server_new(SSL_CTX *ssl_ctx, int listen_fd, md_grpc_server **out, md_error *err);
/* path: "/package.Service/Method". Register before md_grpc_server_run. */
int md_grpc_server_handle(md_grpc_server *s, const char *path, md_grpc_handler h, void *ud);
/* Serves until md_grpc_server_stop; returns 0 after a clean stop. */
int md_grpc_server_run(md_grpc_server *s, md_error *err);
/* Thread-safe and async-signal-safe: asks the loop to stop (after sending
 * what is queued, e.g. the reply to Shutdown). */
void md_grpc_server_stop(md_grpc_server *s);
/* The loop also stops once fd is readable: a self-pipe that a signal
 * handler writes, so that the handler needs no pointer to a server that
 * may not exist yet, or no longer. The server neither reads nor closes fd;
 * it may outlive the server. Set before md_grpc_server_run. */
void md_grpc_server_watch_stop(md_grpc_server *s, int fd);
/* Number of connections accepted and still open (for "host went away"). */
int md_grpc_server_connections(md_grpc_server *s);
/* Called (on the loop thread) when the last connection closes, after at
 * least one was accepted: the host went away. */
void md_grpc_server_on_idle(md_grpc_server *s, void (*fn)(void *ud), void *ud);
void md_grpc_server_free(md_grpc_server *s);

/* Next request message: 1 with *msg (malloc, caller frees) and *len; 0 when
 * the client has half-closed (no more messages); -1 when the call was
 * cancelled or the connection is gone. Blocks. */
int md_grpc_call_recv(md_grpc_call *c, uint8_t **msg, size_t *len);
/* Queues one response message (copied). 0, or -1 if the call is gone. */
int md_grpc_call_send(md_grpc_call *c, const uint8_t *msg, size_t len);
/* Ends the call: trailers grpc-status and (if message) grpc-message. */
void md_grpc_call_finish(md_grpc_call *c, int status, const char *message);
const char *md_grpc_call_path(const md_grpc_call *c);

#endif
