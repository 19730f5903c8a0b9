/* h2stream.h - the streams of the connection layer (h2conn.h, which has the
 * types and the threading rules): a gRPC call's two message queues and
 * their hand-over between threads and the loop, the nghttp2 session's
 * callbacks (framing of received DATA, stream ends, SETTINGS), the data
 * provider that sends queued messages, and the gRPC glue both roles share.
 */
#ifndef MD_H2STREAM_H
#define MD_H2STREAM_H

#include "vault/h2conn.h"

/* refs: the creator's references (0 when the loop makes it for itself). */
void md_h2stream_init(md_h2stream *st, md_h2loop *l, int refs);
/* Loop: st is stream id on conn; takes the loop's reference. */
void md_h2stream_attach(md_h2stream *st, md_h2conn *conn, int32_t id);
/* Loop: st is gone (role->closed first, if it was attached): receivers and
 * senders see -1, queued output is dropped, the loop's reference too. */
void md_h2stream_detach(md_h2stream *st, uint32_t code, const char *why);
/* Loop: hands what threads queued to nghttp2 (start, resume, reset). */
void md_h2stream_process(md_h2stream *st);
nghttp2_data_provider md_h2stream_provider(md_h2stream *st);
/* loop->mu held: puts st on the dirty list (taking a reference) unless it
 * is there, or detached. Returns 1 when it put it there and the loop
 * sleeps: the caller must md_h2loop_wake after unlocking (an awake loop
 * looks at the list before it sleeps, so it needs no wake-up). */
int md_h2stream_post_locked(md_h2stream *st);
/* loop->mu held: drops a reference; 1 when it was the last (then free it
 * with md_h2stream_cleanup and the role's own free, after unlocking). */
int md_h2stream_unref_locked(md_h2stream *st);
void md_h2stream_release(md_h2stream *st);
/* What a stream holds of the layer (queues, decoder); not the struct. */
void md_h2stream_cleanup(md_h2stream *st);

/* Next received message: 1 with *msg (malloc, the caller frees) and *len;
 * 0 once the peer ended its side; -1 when cancelled or gone. Blocks. */
int md_h2stream_recv(md_h2stream *st, uint8_t **msg, size_t *len);
/* Queues one message (copied; end: and ends the sending side). 0, or -1
 * when the stream is gone, ended, or the loop is. Blocks above the
 * high-water mark. */
int md_h2stream_send(md_h2stream *st, const uint8_t *msg, size_t len, int end);

/* application/grpc, or application/grpc+... or ;... */
int md_h2_is_grpc_type(const uint8_t *v, size_t n);
/* grpc-message's percent-encoding (gRPC over HTTP/2); encode returns malloc. */
char *md_h2_percent_encode(const char *msg);
void md_h2_percent_decode(const uint8_t *v, size_t n, char *out, size_t outsz);

/* For h2conn.c: the session of a connection whose TLS is up (the role's
 * kind and settings, the connection's receive window). 0 or -1. */
int md_h2stream_session_new(md_h2conn *c, int32_t conn_window);
/* For h2conn.c: processes (and releases) every stream on the dirty list. */
void md_h2stream_process_dirty(md_h2loop *l);

#endif
