/* grpc_server_int.h - internals shared by grpc_server.c (the public API, the
 * call side used by worker threads) and grpc_server_loop.c (the event loop:
 * sockets, TLS, HTTP/2). Not a public interface.
 *
 * Threads and ownership:
 * - The loop thread (the caller of md_grpc_server_run) owns every socket,
 *   SSL and nghttp2 object, and the fields marked "loop only".
 * - A pool thread runs each call's handler. It touches only the fields
 *   marked "shared", under s->mu, and wakes the loop through s->wake_fd
 *   only when the loop said it sleeps (s->sleeping): an awake loop checks
 *   the dirty list before it sleeps, so a wake-up would be wasted.
 * - A call is reference counted (shared field refs, under s->mu): one
 *   reference for the loop (dropped when the stream is gone), one for the
 *   worker (dropped when the handler returned), one while the call is on
 *   the server's dirty list. The last one frees it.
 */
#ifndef MD_GRPC_SERVER_INT_H
#define MD_GRPC_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "vault/grpc_frame.h"
#include "vault/grpc_server.h"

/* A response message with its 5-byte prefix, queued for the data provider. */
typedef struct md_grpc_buf {
	struct md_grpc_buf *next;
	size_t len; /* bytes in data (prefix included) */
	size_t off; /* bytes already handed to nghttp2 */
	uint8_t data[];
} md_grpc_buf;

/* A request message waiting for md_grpc_call_recv. */
typedef struct md_grpc_msg {
	struct md_grpc_msg *next;
	uint8_t *p; /* malloc, handed to the caller */
	size_t len;
} md_grpc_msg;

typedef struct md_grpc_route {
	char *path;
	md_grpc_handler fn;
	void *ud;
} md_grpc_route;

typedef struct md_grpc_conn md_grpc_conn;

enum { MD_GRPC_CONN_HANDSHAKE, MD_GRPC_CONN_H2 };

/* One accepted connection (loop only). */
struct md_grpc_conn {
	md_grpc_server *s;
	md_grpc_conn *prev, *next;
	unsigned id;
	int fd;
	SSL *ssl;
	nghttp2_session *h2;
	int state;
	int want_write; /* SSL_accept or SSL_read asked to wait for POLLOUT */
	int wr_blocked; /* SSL_write asked to wait for POLLOUT */
	int more;       /* stopped reading with input left: serve again at once */
	int64_t deadline;
	uint8_t *wbuf;
	size_t wcap, wlen, woff;
	md_grpc_call *calls;
};

#define MD_GRPC_MAX_HEADER_BYTES (64 << 10) /* per request header block */

/* A worker blocks in md_grpc_call_send while this many bytes of earlier
 * messages are still waiting for the peer's flow-control window. */
#define MD_GRPC_SEND_HIGH_WATER ((size_t)8 << 20)

struct md_grpc_call {
	md_grpc_server *s;
	char *path;         /* set before the worker starts, then read-only */
	pthread_cond_t cv;  /* recv and send waiters; with s->mu */

	/* shared (s->mu) */
	int refs;
	md_grpc_msg *in_head, *in_tail;
	int in_eof;    /* the client half-closed */
	int cancelled; /* recv answers -1 */
	int detached;  /* the stream is gone: send answers -1 */
	md_grpc_buf *pend_head, *pend_tail; /* sent, not yet taken by the loop */
	size_t queued;                       /* bytes sent, not yet given to nghttp2 */
	int finished;                        /* status below is final */
	int status;
	char *message;
	int worker_done;
	int in_dirty;
	struct md_grpc_call *dirty_next;

	/* loop only */
	md_grpc_conn *conn; /* NULL once detached */
	int32_t stream_id;
	struct md_grpc_call *conn_prev, *conn_next;
	md_grpc_decoder dec;
	int in_closed; /* ignore further request DATA */
	int dispatched;
	char *method, *ctype;
	size_t hdr_bytes;
	md_grpc_buf *out_head, *out_tail;
	int fin_taken, fin_status;
	char *fin_message;
	int headers_sent, trailers_sent, deferred;
};

struct md_grpc_server {
	SSL_CTX *ctx;
	int listen_fd;
	int wake_fd; /* eventfd */
	int stop_fd; /* md_grpc_server_watch_stop's, or -1 */
	md_grpc_route *routes;
	size_t nroutes;

	pthread_mutex_t mu;
	pthread_cond_t workers_cv;
	int workers;                 /* shared: handlers still running */
	/* The handler pool: threads are reused, since creating one per call
	 * (stack mapping, clone, TLB shootdown on exit) cost more than the
	 * calls themselves. It grows when every thread is busy (the broker
	 * stream holds one for good) and shrinks after idling. */
	struct md_grpc_job *jobs_head, *jobs_tail;
	pthread_cond_t pool_cv;      /* a job is queued, or the pool stops */
	int pool_threads, pool_idle;
	int pool_stop;
	md_grpc_call *dirty_head;    /* shared: calls with news for the loop */
	md_grpc_call *dirty_tail;
	int sleeping;                /* shared: the loop is in (or entering) poll
				      * with an empty dirty list: wake it */
	atomic_int stop_req;         /* set by md_grpc_server_stop */
	atomic_int nconns;           /* accepted and open */

	/* loop only */
	md_grpc_conn *conns;
	int accepted_any; /* a connection completed its handshake */
	unsigned next_conn_id;
	void (*idle_fn)(void *ud);
	void *idle_ud;
	int stopping;
	int64_t stop_deadline;
	int64_t listen_pause_until;
	int ran;
};

/* grpc_server.c */
void md_grpc_wake(md_grpc_server *s);
/* Takes a reference for the dirty list (if not already there); s->mu held.
 * Returns 1 when the loop sleeps (s->sleeping): the caller must then wake
 * it (md_grpc_wake, after unlocking). An awake loop looks at the dirty
 * list under s->mu before it sleeps, so it needs no wake-up. */
int md_grpc_mark_dirty_locked(md_grpc_call *c);
/* Drops one reference; frees the call when it was the last. */
void md_grpc_call_release(md_grpc_call *c);
md_grpc_call *md_grpc_call_new(md_grpc_server *s);
/* Starts the handler of route on a worker thread; 0 or -1. */
int md_grpc_call_start(md_grpc_call *c, const md_grpc_route *r);
const md_grpc_route *md_grpc_route_find(const md_grpc_server *s, const char *path);
/* Percent-encodes a grpc-message value (gRPC spec); returns malloc. */
char *md_grpc_percent_encode(const char *msg);
int64_t md_grpc_now_ms(void);

void md_grpc_buf_free(md_grpc_buf *b);
void md_grpc_free_bufs(md_grpc_buf *b);

/* grpc_server_h2.c: streams and calls on the loop side */
int md_grpc_h2_start(md_grpc_conn *conn);
/* The stream is gone: the worker sees -1 from now on; drops the loop's ref. */
void md_grpc_detach_call(md_grpc_call *c);
/* Hands what workers queued (messages, statuses) to nghttp2. */
void md_grpc_process_dirty(md_grpc_server *s);

/* grpc_server_loop.c */
int md_grpc_loop_run(md_grpc_server *s, md_error *err);
/* Frees what the loop still holds (connections) after run returned. */
void md_grpc_loop_cleanup(md_grpc_server *s);

#endif
