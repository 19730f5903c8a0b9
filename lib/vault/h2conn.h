/* h2conn.h - the one connection layer under both gRPC roles (grpc_server,
 * grpc_client): TLS connections carrying HTTP/2 sessions, the event loop that
 * drives them, and the gRPC streams on them.
 *
 * Owns:
 * - a connection: a non-blocking socket with OpenSSL on it (either side of
 *   the handshake; ALPN h2 required, and a client also requires a verified
 *   server certificate), its nghttp2 session, reading into the session and
 *   writing what the session has to send (gathered, one SSL_write per
 *   batch; a blocked socket is polled for POLLOUT), a deadline until the
 *   peer's SETTINGS arrive, and the reason it failed;
 * - the loop: poll over a wake-up eventfd, an optional stop fd and
 *   listening socket (accepted connections are TLS servers on the loop's
 *   SSL_CTX), and every connection; work handed over by other threads
 *   (the dirty list), which wake the loop only when it said it sleeps;
 *   stopping (GOAWAY, open streams cancelled, a grace period, close);
 * - a stream: one gRPC call, seen from either side as two queues. Messages
 *   received are framed by grpc_frame's decoder and wait for a thread's
 *   md_h2stream_recv; messages a thread sends wait, with their prefix, for
 *   the session's data provider, and a sender is held back while more than
 *   MD_H2_SEND_HIGH_WATER bytes wait (flow control reaches threads). The
 *   sending side ends with END_STREAM, or with the role's trailers;
 * - the gRPC glue both roles share: header fields, content-type,
 *   grpc-message's percent-encoding.
 *
 * A role (md_h2role: grpc_server.c, grpc_client.c) says what kind of
 * session to make and what headers and the ends of streams and
 * connections mean. Its call and its loop embed md_h2stream and md_h2loop.
 * This header has the types, the loop and connections (h2conn.c);
 * h2stream.h the streams, the session's callbacks and the glue.
 *
 * Threads and ownership:
 * - The loop thread (the caller of md_h2loop_run) owns every socket, SSL,
 *   nghttp2 session and connection, and the stream fields marked "loop".
 * - Other threads touch a stream only through its "shared" fields, under
 *   loop->mu, and hand it to the loop with md_h2stream_post_locked.
 * - A stream is reference counted (refs, under loop->mu): its creator's
 *   (a handler, a caller), the loop's while it is attached to a
 *   connection, and one while it is on the dirty list. The last release
 *   frees it (role->free).
 */
#ifndef MD_H2CONN_H
#define MD_H2CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <sys/queue.h>

#include "base/error.h"
#include "vault/grpc_frame.h"

#define MD_H2_MAX_HEADER_BYTES (64 << 10) /* one header block */
/* A sender blocks while this many bytes of earlier messages still wait
 * for the peer's flow-control window. */
#define MD_H2_SEND_HIGH_WATER ((size_t)8 << 20)
/* bad_message's code for a stream that ended inside a message. */
#define MD_H2_TRUNCATED (-100)

#define MD_H2_NV(n, v)                                                                        \
	{                                                                                     \
		(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE    \
	}
#define md_h2_container(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

typedef struct md_h2loop md_h2loop;
typedef struct md_h2conn md_h2conn;
typedef struct md_h2stream md_h2stream;

/* A message to send, with its 5-byte prefix. */
typedef struct md_h2buf {
	STAILQ_ENTRY(md_h2buf) link;
	size_t len; /* bytes in data, prefix included */
	size_t off; /* bytes already handed to nghttp2 */
	uint8_t data[];
} md_h2buf;

/* A message received, waiting for md_h2stream_recv. */
typedef struct md_h2msg {
	STAILQ_ENTRY(md_h2msg) link;
	uint8_t *p; /* malloc, handed to the receiver */
	size_t len;
} md_h2msg;
STAILQ_HEAD(md_h2buf_q, md_h2buf);
STAILQ_HEAD(md_h2msg_q, md_h2msg);

struct md_h2stream {
	md_h2loop *loop;
	pthread_cond_t cv; /* with loop->mu: receivers, blocked senders, waiters for the end */

	/* shared (loop->mu) */
	int refs;
	int blocked;                     /* threads waiting in recv or send */
	struct md_h2msg_q in;            /* received */
	int in_eof;                      /* the peer ended its side */
	int cancelled;                   /* recv answers -1 */
	int detached;                    /* the stream is gone: send answers -1 */
	struct md_h2buf_q pend;          /* sent, not yet taken by the loop */
	size_t queued;                   /* bytes sent, not yet given to nghttp2 */
	int out_end;                     /* nothing more to send after what is queued */
	int cancel_req;                  /* reset it (the caller gave up) */
	int in_dirty;
	STAILQ_ENTRY(md_h2stream) dirty; /* in loop->dirty while in_dirty */

	/* loop */
	md_h2conn *conn; /* NULL until attached, and once detached */
	int32_t id;
	LIST_ENTRY(md_h2stream) conn_link; /* in conn->streams */
	md_grpc_decoder dec;
	int in_closed; /* further DATA is ignored */
	struct md_h2buf_q out;
	int out_end_taken;
	int started;  /* role->start ran */
	int deferred; /* the data provider waits for more */
	int reset;    /* RST_STREAM submitted */
};

struct md_h2conn {
	md_h2loop *loop;
	LIST_ENTRY(md_h2conn) link; /* in loop->conns */
	unsigned id;
	int fd;
	SSL *ssl;
	nghttp2_session *h2; /* once TLS is up and ALPN h2 checked */
	int ready;           /* the peer's SETTINGS arrived */
	int want_write;      /* TLS waits for POLLOUT (handshake or read) */
	int wr_blocked;      /* SSL_write waits for POLLOUT */
	int more;            /* stopped reading with input left: serve again at once */
	int64_t deadline;    /* for the handshake and SETTINGS; 0 once ready */
	uint8_t *wbuf;
	size_t wcap, wlen, woff;
	LIST_HEAD(, md_h2stream) streams;
	char why[240]; /* why it failed, for the role */
};

typedef struct {
	int server; /* nghttp2 server session, else client */
	const nghttp2_settings_entry *settings;
	size_t nsettings;
	int grace_ms; /* how long a stop lets open streams finish */
	/* Server: a request begins on stream id: make the stream and attach it
	 * (NULL: out of memory). */
	md_h2stream *(*begin)(md_h2conn *conn, int32_t id);
	/* A header field of st (request, response or trailers); 0, or an
	 * nghttp2 error, which resets the stream. */
	int (*header)(md_h2stream *st, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		      const uint8_t *value, size_t vlen);
	/* A whole HEADERS frame on st, before its END_STREAM is seen. */
	void (*headers)(md_h2stream *st, const nghttp2_frame *f);
	/* First posted with something to send: submit its headers, with
	 * md_h2stream_provider for the body (and attach it, if a client). */
	int (*start)(md_h2stream *st);
	/* After the last message (NULL: END_STREAM on the last DATA). */
	int (*trailers)(md_h2stream *st);
	/* A received message is refused: MD_GRPC_FRAME_* or MD_H2_TRUNCATED. */
	void (*bad_message)(md_h2stream *st, int rc);
	/* st is gone: nghttp2 closed it (why NULL; code: its error code), or
	 * its connection went (why). Called before it is detached. */
	void (*closed)(md_h2stream *st, uint32_t code, const char *why);
	void (*conn_ready)(md_h2conn *conn);  /* the peer's SETTINGS */
	void (*conn_closed)(md_h2conn *conn); /* conn->why says why */
	void (*free)(md_h2stream *st);        /* the last reference went */
} md_h2role;

struct md_h2loop {
	const md_h2role *role;
	SSL_CTX *ctx;  /* for accepted connections */
	int listen_fd; /* owned; -1 if none */
	int stop_fd;   /* not owned: readable means stop; -1 if none */
	int wake_fd;   /* eventfd */
	pthread_mutex_t mu;

	/* shared (mu) */
	STAILQ_HEAD(, md_h2stream) dirty; /* streams with news for the loop */
	int sleeping; /* the loop is in (or entering) poll with no news: wake it */
	int closed;   /* the loop is gone: nothing posted would be seen */
	atomic_int stop_req;
	atomic_int nconns; /* connections open */

	/* loop */
	LIST_HEAD(, md_h2conn) conns;
	unsigned next_id;
	int stopping;
	int64_t stop_deadline;
	int64_t listen_pause_until;
};

/* ctx: for connections accepted on listen_fd (which the loop then owns);
 * NULL and -1 for a loop that only dials. */
int md_h2loop_init(md_h2loop *l, const md_h2role *role, SSL_CTX *ctx, int listen_fd,
		   md_error *err);
/* Serves until a stop (md_h2loop_stop, or stop_fd readable) and the grace
 * that follows; then closes every connection. */
int md_h2loop_run(md_h2loop *l, md_error *err);
/* Any thread, async-signal-safe. */
void md_h2loop_stop(md_h2loop *l);
void md_h2loop_wake(md_h2loop *l);
/* Closes what run left (or what was made without running). Idempotent. */
void md_h2loop_close_all(md_h2loop *l);
/* close_all, then the loop's own descriptors and lock. */
void md_h2loop_destroy(md_h2loop *l);

/* A connection on fd (taken: closed on failure), TLS on ctx: a server when
 * server_name is NULL, else a client checking that name. Loop thread, or
 * before the loop runs. NULL when out of resources. */
md_h2conn *md_h2conn_new(md_h2loop *l, int fd, SSL_CTX *ctx, const char *server_name,
			 int timeout_ms);

#endif
