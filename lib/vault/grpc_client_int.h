/* grpc_client_int.h - internals shared by grpc_client.c (dialing, calls)
 * and grpc_client_loop.c (the loop thread). Not a public interface.
 */
#ifndef MD_GRPC_CLIENT_INT_H
#define MD_GRPC_CLIENT_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "base/error.h"
#include "vault/grpc_client.h"
#include "vault/grpc_frame.h"

#define GC_DEFAULT_DIAL_MS 30000
#define GC_CONN_WINDOW (1 << 30)      /* connection receive window */
#define GC_STREAM_WINDOW (16 << 20)   /* per-stream receive window */
#define GC_READ_BUF (64 * 1024)
#define GC_OUT_HIGH (256 * 1024)      /* stop pulling frames above this */
#define GC_READS_PER_TURN 64

/* gRPC codes reported in *status when the call fails in transport. */
#define GC_DEADLINE_EXCEEDED 4
#define GC_INTERNAL 13
#define GC_UNAVAILABLE 14

enum { CALL_QUEUED = 0, CALL_ACTIVE };

struct gcall {
	/* Request: the caller's memory, read by the loop until released. */
	const char *path;
	const uint8_t *req;
	size_t req_len;
	uint8_t prefix[5];
	size_t sent; /* bytes of prefix + req handed to nghttp2 */
	int32_t stream_id;

	/* Response: written by the loop only, read by the caller once released
	 * by a finish. */
	int http_status;
	int grpc_status; /* -1 until seen */
	char grpc_msg[512];
	int bad_ctype;
	md_grpc_decoder dec;
	uint8_t *resp;
	size_t resp_len;
	int nmsg;
	md_code fail_code; /* MD_OK unless the call failed in transport */
	char fail_msg[400];
	int cancel_seen; /* loop-only: the caller gave up, ignore the stream */

	/* Under c->mu. */
	int state;
	int released;
	int cancel;
	int refs;
	pthread_cond_t cv;
	struct gcall *next, *prev; /* submit queue, then active list */
};

struct md_grpc_client {
	char target[256]; /* "unix:/path" or "tcp:host:port", for messages */
	char *authority;
	int fd;
	SSL *ssl;
	nghttp2_session *h2;
	int wake[2];
	pthread_t thread;
	int thread_started;
	int64_t hs_deadline_ms; /* dial's deadline: handshake and SETTINGS */

	/* Under io_mu (the loop's, or a caller's sending its own request).
	 * Lock order: io_mu before mu. The loop holds io_mu for its whole turn
	 * except while blocked in poll(), so a caller that finds it free may
	 * submit and write its request itself (see md_gc_send_direct). */
	pthread_mutex_t io_mu;
	struct gcall *active; /* doubly linked via next/prev */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	int want_pollout;     /* SSL_write is waiting for the socket */
	int read_wants_write; /* SSL_read is waiting for the socket */
	int read_more; /* stopped reading with bytes possibly left in SSL */
	int got_settings; /* the server's SETTINGS arrived */
	int ready;        /* dial was told the outcome */
	uint8_t *rbuf;
	int io_err;        /* a caller's write failed: the loop kills the conn */
	char io_why[200];

	/* Under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* handshake done; inflight back to 0 */
	struct gcall *q_head, *q_tail;
	int cancel_pending;
	int stop;
	int dead;
	char dead_msg[300];
	int hs_done;
	int hs_rc;
	md_error hs_err;
	int inflight;
	int sleeping; /* the loop is in (or about to enter) poll: wake it */
};

int64_t md_gc_now_ms(void);
/* An adaptive mutex where available: callers and the loop hold c->mu and
 * c->io_mu for a few instructions, and spinning briefly beats sleeping in
 * the kernel (a context switch each way). */
void md_gc_mutex_init(pthread_mutex_t *m);
/* Wakes the loop thread (async-signal-safe: one write to the wake pipe). */
void md_gc_wake(md_grpc_client *c);
void md_gc_call_free(struct gcall *call);
/* Caller thread: if io_mu is free, checks the connection, opens the call's
 * stream and writes what the socket takes, without waking the loop.
 * Returns 1 when the call was taken (queued in nghttp2 or failed and
 * released), 0 when io_mu was busy (queue it for the loop instead), or -1
 * with c->mu held when the connection is dead or stopping (the call was not
 * taken; the caller reports it). */
int md_gc_send_direct(md_grpc_client *c, struct gcall *call);
/* The loop thread: TLS handshake, then HTTP/2 until stopped or dead.
 * Reports the setup's outcome through hs_done/hs_rc/hs_err. */
void *md_gc_loop_main(void *arg);

#endif
