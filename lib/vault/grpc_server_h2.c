/* grpc_server_h2.c - the gRPC server's streams on the loop thread: the
 * nghttp2 server callbacks (request headers, routing, DATA into the
 * decoder, stream close), and moving what worker threads queued (response
 * messages, statuses) into nghttp2 through a data provider and trailers.
 * Everything here runs on the loop thread; see grpc_server_int.h. */
#include "vault/grpc_server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

/* ---- calls on the loop side ---- */

static void link_call(md_grpc_conn *conn, md_grpc_call *c)
{
	c->conn = conn;
	c->conn_prev = NULL;
	c->conn_next = conn->calls;
	if (conn->calls)
		conn->calls->conn_prev = c;
	conn->calls = c;
}

/* The stream is gone (closed, reset, or its connection closed): the worker
 * sees -1 from now on, the loop drops its reference. */
void md_grpc_detach_call(md_grpc_call *c)
{
	md_grpc_server *s = c->s;
	md_grpc_conn *conn = c->conn;
	pthread_mutex_lock(&s->mu);
	c->detached = 1;
	c->cancelled = 1;
	md_grpc_buf *pend = c->pend_head;
	c->pend_head = c->pend_tail = NULL;
	c->queued = 0;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&s->mu);
	md_grpc_free_bufs(pend);
	md_grpc_free_bufs(c->out_head);
	c->out_head = c->out_tail = NULL;
	md_grpc_decoder_free(&c->dec);
	if (conn) {
		if (c->conn_prev)
			c->conn_prev->conn_next = c->conn_next;
		else
			conn->calls = c->conn_next;
		if (c->conn_next)
			c->conn_next->conn_prev = c->conn_prev;
		if (conn->h2 && c->stream_id > 0)
			nghttp2_session_set_stream_user_data(conn->h2, c->stream_id, NULL);
	}
	c->conn = NULL;
	c->conn_prev = c->conn_next = NULL;
	md_grpc_call_release(c);
}

#define NV(n, v)                                                                              \
	{                                                                                     \
		(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE    \
	}

/* grpc-status and grpc-message: as trailers, or (head != 0) as a whole
 * trailers-only response with :status. */
static int submit_status(nghttp2_session *h2, int32_t id, int head, const char *http_status,
			 int status, const char *message)
{
	char st[16];
	snprintf(st, sizeof st, "%d", status);
	char *enc = message && message[0] ? md_grpc_percent_encode(message) : NULL;
	nghttp2_nv nva[5] = {
		NV(":status", http_status ? http_status : "200"),
		NV("content-type", "application/grpc"),
		NV("grpc-status", st),
		NV("grpc-message", enc ? enc : ""),
	};
	size_t first = head ? 0 : 2;
	size_t n = (enc ? 4 : 3) - first;
	int rc = head ? nghttp2_submit_response(h2, id, nva + first, n, NULL)
		      : nghttp2_submit_trailer(h2, id, nva + first, n);
	free(enc);
	return rc;
}

static ssize_t read_data(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)ud;
	md_grpc_call *c = src->ptr;
	size_t n = 0, done = 0;
	while (n < length && c->out_head) {
		md_grpc_buf *b = c->out_head;
		size_t take = b->len - b->off;
		if (take > length - n)
			take = length - n;
		memcpy(buf + n, b->data + b->off, take);
		b->off += take;
		n += take;
		if (b->off == b->len) {
			c->out_head = b->next;
			if (!c->out_head)
				c->out_tail = NULL;
			done += b->len;
			md_grpc_buf_free(b);
		}
	}
	if (done) {
		pthread_mutex_lock(&c->s->mu);
		c->queued = c->queued > done ? c->queued - done : 0;
		if (c->queued <= MD_GRPC_SEND_HIGH_WATER)
			pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->s->mu);
	}
	if (!c->out_head && c->fin_taken) {
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (submit_status(h2, id, 0, NULL, c->fin_status, c->fin_message) != 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		c->trailers_sent = 1;
		return (ssize_t)n;
	}
	if (n == 0) {
		c->deferred = 1;
		return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)n;
}

/* Moves what the worker queued to the loop side and tells nghttp2. */
static void process_call(md_grpc_call *c)
{
	md_grpc_server *s = c->s;
	if (!c->conn)
		return;
	pthread_mutex_lock(&s->mu);
	if (c->pend_head) {
		if (c->out_tail)
			c->out_tail->next = c->pend_head;
		else
			c->out_head = c->pend_head;
		c->out_tail = c->pend_tail;
		c->pend_head = c->pend_tail = NULL;
	}
	if (c->finished && !c->fin_taken) {
		c->fin_taken = 1;
		c->fin_status = c->status;
		c->fin_message = c->message;
		c->message = NULL;
	}
	pthread_mutex_unlock(&s->mu);

	nghttp2_session *h2 = c->conn->h2;
	int rc = 0;
	if (c->trailers_sent) {
		md_grpc_free_bufs(c->out_head); /* a late send: dropped */
		c->out_head = c->out_tail = NULL;
	} else if (!c->headers_sent) {
		if (!c->out_head && c->fin_taken) {
			c->headers_sent = c->trailers_sent = 1;
			rc = submit_status(h2, c->stream_id, 1, "200", c->fin_status, c->fin_message);
		} else if (c->out_head || c->fin_taken) {
			nghttp2_nv nva[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
			nghttp2_data_provider dp = {.source.ptr = c, .read_callback = read_data};
			c->headers_sent = 1;
			rc = nghttp2_submit_response(h2, c->stream_id, nva, 2, &dp);
		}
	} else if (c->deferred) {
		c->deferred = 0;
		rc = nghttp2_session_resume_data(h2, c->stream_id);
	}
	if (rc != 0)
		md_log_debug("grpc: stream %d: %s", (int)c->stream_id, nghttp2_strerror(rc));
}

/* The loop ends a call itself (bad request data): the worker's recv sees
 * -1 and whatever it sends or finishes later is dropped. */
static void fail_call(md_grpc_call *c, int status, const char *message)
{
	md_grpc_server *s = c->s;
	c->in_closed = 1;
	md_grpc_decoder_free(&c->dec);
	char *m = strdup(message);
	pthread_mutex_lock(&s->mu);
	if (!c->finished) {
		c->finished = 1;
		c->status = status;
		free(c->message);
		c->message = m;
		m = NULL;
	}
	c->cancelled = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&s->mu);
	free(m);
	process_call(c);
}

void md_grpc_process_dirty(md_grpc_server *s)
{
	pthread_mutex_lock(&s->mu);
	md_grpc_call *c = s->dirty_head;
	s->dirty_head = s->dirty_tail = NULL;
	pthread_mutex_unlock(&s->mu);
	while (c) {
		/* While in_dirty is set no worker links the call again, so its
		 * dirty_next stays ours until read here. */
		pthread_mutex_lock(&s->mu);
		md_grpc_call *next = c->dirty_next;
		c->dirty_next = NULL;
		c->in_dirty = 0;
		pthread_mutex_unlock(&s->mu);
		process_call(c);
		md_grpc_call_release(c);
		c = next;
	}
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	md_grpc_conn *conn = ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	md_grpc_call *c = md_grpc_call_new(conn->s);
	if (!c)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	c->stream_id = f->hd.stream_id;
	link_call(conn, c);
	nghttp2_session_set_stream_user_data(h2, c->stream_id, c);
	return 0;
}

static char *memdup0(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	(void)flags;
	(void)ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	md_grpc_call *c = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
	if (!c || c->dispatched)
		return 0;
	c->hdr_bytes += namelen + valuelen + 32;
	if (c->hdr_bytes > MD_GRPC_MAX_HEADER_BYTES)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
	char **slot = NULL;
	if (namelen == 5 && memcmp(name, ":path", 5) == 0)
		slot = &c->path;
	else if (namelen == 7 && memcmp(name, ":method", 7) == 0)
		slot = &c->method;
	else if (namelen == 12 && memcmp(name, "content-type", 12) == 0)
		slot = &c->ctype;
	if (slot && !*slot) {
		*slot = memdup0(value, valuelen);
		if (!*slot)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return 0;
}

/* Answers with a status and no message, and forgets the stream. */
static void refuse(md_grpc_call *c, const char *http_status, int status, const char *message)
{
	int rc = submit_status(c->conn->h2, c->stream_id, 1, http_status, status, message);
	if (rc != 0)
		md_log_debug("grpc: stream %d: %s", (int)c->stream_id, nghttp2_strerror(rc));
	md_grpc_detach_call(c);
}

static int is_grpc_content_type(const char *ct)
{
	static const char base[] = "application/grpc";
	size_t n = sizeof base - 1;
	return ct && strncmp(ct, base, n) == 0 && (ct[n] == '\0' || ct[n] == '+' || ct[n] == ';');
}

static void dispatch(md_grpc_call *c)
{
	md_grpc_server *s = c->s;
	char msg[320];
	c->dispatched = 1;
	if (s->stopping) {
		refuse(c, "200", MD_GRPC_UNAVAILABLE, "server is stopping");
		return;
	}
	if (!c->method || strcmp(c->method, "POST") != 0) {
		snprintf(msg, sizeof msg, "HTTP method %.32s is not allowed: gRPC uses POST",
			 c->method ? c->method : "?");
		refuse(c, "405", MD_GRPC_INTERNAL, msg);
		return;
	}
	if (!is_grpc_content_type(c->ctype)) {
		snprintf(msg, sizeof msg, "content-type %.64s is not application/grpc",
			 c->ctype ? c->ctype : "(none)");
		refuse(c, "415", MD_GRPC_INTERNAL, msg);
		return;
	}
	const md_grpc_route *r = c->path ? md_grpc_route_find(s, c->path) : NULL;
	if (!r) {
		snprintf(msg, sizeof msg, "unknown method %.256s", c->path ? c->path : "");
		refuse(c, "200", MD_GRPC_UNIMPLEMENTED, msg);
		return;
	}
	if (md_grpc_call_start(c, r) != 0)
		refuse(c, "200", MD_GRPC_RESOURCE_EXHAUSTED, "cannot start a handler thread");
}

/* END_STREAM from the client. */
static void remote_eof(md_grpc_call *c)
{
	if (c->in_closed)
		return;
	c->in_closed = 1;
	if (!md_grpc_decoder_idle(&c->dec)) {
		fail_call(c, MD_GRPC_INTERNAL, "request stream ended inside a message");
		return;
	}
	pthread_mutex_lock(&c->s->mu);
	c->in_eof = 1;
	pthread_mutex_unlock(&c->s->mu);
	/* After the unlock (the worker must not wake into a held s->mu); the
	 * loop's reference keeps c alive. */
	pthread_cond_broadcast(&c->cv);
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	(void)ud;
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	md_grpc_call *c = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
	if (!c)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST &&
	    !c->dispatched) {
		dispatch(c);
		/* a refused stream is detached: its user data is gone */
		c = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
		if (!c)
			return 0;
	}
	if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
		remote_eof(c);
	return 0;
}

static int on_msg(void *ud, uint8_t *msg, size_t len)
{
	md_grpc_call *c = ud;
	md_grpc_msg *m = malloc(sizeof *m);
	if (!m) {
		free(msg);
		return MD_GRPC_FRAME_NOMEM;
	}
	m->next = NULL;
	m->p = msg;
	m->len = len;
	pthread_mutex_lock(&c->s->mu);
	if (c->in_tail)
		c->in_tail->next = m;
	else
		c->in_head = m;
	c->in_tail = m;
	pthread_mutex_unlock(&c->s->mu);
	pthread_cond_broadcast(&c->cv); /* after the unlock: see remote_eof */
	return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *ud)
{
	(void)flags;
	(void)ud;
	md_grpc_call *c = nghttp2_session_get_stream_user_data(h2, id);
	if (!c || c->in_closed)
		return 0;
	int rc = md_grpc_decoder_feed(&c->dec, data, len, on_msg, c);
	char msg[128];
	switch (rc) {
	case MD_GRPC_FRAME_OK:
		break;
	case MD_GRPC_FRAME_TOO_BIG:
		snprintf(msg, sizeof msg, "request message larger than the limit of %zu bytes",
			 c->dec.limit);
		fail_call(c, MD_GRPC_RESOURCE_EXHAUSTED, msg);
		break;
	case MD_GRPC_FRAME_COMPRESSED:
		fail_call(c, MD_GRPC_UNIMPLEMENTED,
			  "compressed messages are not supported (grpc-encoding identity only)");
		break;
	default:
		fail_call(c, MD_GRPC_RESOURCE_EXHAUSTED, "out of memory for a request message");
		break;
	}
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code, void *ud)
{
	(void)code;
	(void)ud;
	md_grpc_call *c = nghttp2_session_get_stream_user_data(h2, id);
	if (c)
		md_grpc_detach_call(c);
	return 0;
}

/* After our END_STREAM, a client still sending is told to stop (as
 * grpc-go does): RST_STREAM NO_ERROR. */
static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	(void)ud;
	if (f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    nghttp2_session_get_stream_remote_close(h2, f->hd.stream_id) == 0)
		nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
	return 0;
}

int md_grpc_h2_start(md_grpc_conn *conn)
{
	nghttp2_session_callbacks *cb;
	if (nghttp2_session_callbacks_new(&cb) != 0)
		return -1;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	int rc = nghttp2_session_server_new(&conn->h2, cb, conn);
	nghttp2_session_callbacks_del(cb);
	if (rc != 0) {
		conn->h2 = NULL;
		return -1;
	}
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16u << 20},
		{NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 1u << 20},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MD_GRPC_MAX_HEADER_BYTES},
	};
	if (nghttp2_submit_settings(conn->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
	    nghttp2_session_set_local_window_size(conn->h2, NGHTTP2_FLAG_NONE, 0, 64 << 20) != 0)
		return -1;
	return 0;
}
