/* h2stream.c - see h2stream.h. Everything here runs on the loop thread
 * except md_h2stream_recv, _send, _post_locked and _release, which any
 * thread calls (they take loop->mu). */
#include "vault/h2stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/secret.h"
#include "base/text.h"

/* ---- buffers: messages may carry tokens (replies, config writes) ---- */

static void buf_free(md_h2buf *b)
{
	md_secret_wipe(b->data, b->len);
	free(b);
}

/* Frees every buffer of q (and leaves it empty). */
static void bufs_free(struct md_h2buf_q *q)
{
	md_h2buf *b;
	while ((b = STAILQ_FIRST(q))) {
		STAILQ_REMOVE_HEAD(q, link);
		buf_free(b);
	}
}

static void msgs_free(struct md_h2msg_q *q)
{
	md_h2msg *m;
	while ((m = STAILQ_FIRST(q))) {
		STAILQ_REMOVE_HEAD(q, link);
		md_secret_wipe(m->p, m->len);
		free(m->p);
		free(m);
	}
}

/* ---- lifetime ---- */

void md_h2stream_init(md_h2stream *st, md_h2loop *l, int refs)
{
	memset(st, 0, sizeof *st);
	st->loop = l;
	st->refs = refs;
	STAILQ_INIT(&st->in);
	STAILQ_INIT(&st->pend);
	STAILQ_INIT(&st->out);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* for a caller's timed wait */
	pthread_cond_init(&st->cv, &ca);
	pthread_condattr_destroy(&ca);
	md_grpc_decoder_init(&st->dec, MD_GRPC_MAX_MESSAGE);
}

void md_h2stream_cleanup(md_h2stream *st)
{
	msgs_free(&st->in);
	bufs_free(&st->pend);
	bufs_free(&st->out);
	md_grpc_decoder_free(&st->dec);
	pthread_cond_destroy(&st->cv);
}

int md_h2stream_unref_locked(md_h2stream *st)
{
	return --st->refs == 0;
}

void md_h2stream_release(md_h2stream *st)
{
	md_h2loop *l = st->loop;
	pthread_mutex_lock(&l->mu);
	int last = md_h2stream_unref_locked(st);
	pthread_mutex_unlock(&l->mu);
	if (last) {
		md_h2stream_cleanup(st);
		l->role->free(st);
	}
}

void md_h2stream_attach(md_h2stream *st, md_h2conn *c, int32_t id)
{
	st->conn = c;
	st->id = id;
	LIST_INSERT_HEAD(&c->streams, st, conn_link);
	nghttp2_session_set_stream_user_data(c->h2, id, st);
	pthread_mutex_lock(&st->loop->mu);
	st->refs++;
	pthread_mutex_unlock(&st->loop->mu);
}

void md_h2stream_detach(md_h2stream *st, uint32_t code, const char *why)
{
	md_h2loop *l = st->loop;
	md_h2conn *c = st->conn;
	if (c && l->role->closed)
		l->role->closed(st, code, why);
	pthread_mutex_lock(&l->mu);
	st->detached = 1;
	st->cancelled = 1;
	struct md_h2buf_q pend = STAILQ_HEAD_INITIALIZER(pend);
	STAILQ_CONCAT(&pend, &st->pend);
	st->queued = 0;
	pthread_mutex_unlock(&l->mu);
	/* After the unlock, so a waiter does not wake into a held mu; the
	 * loop's (or the dirty list's) reference keeps st alive. */
	pthread_cond_broadcast(&st->cv);
	bufs_free(&pend);
	bufs_free(&st->out);
	md_grpc_decoder_free(&st->dec);
	if (!c)
		return;
	LIST_REMOVE(st, conn_link);
	if (c->h2 && st->id > 0)
		nghttp2_session_set_stream_user_data(c->h2, st->id, NULL);
	st->conn = NULL;
	md_h2stream_release(st);
}

/* ---- hand-over between threads and the loop ---- */

int md_h2stream_post_locked(md_h2stream *st)
{
	md_h2loop *l = st->loop;
	/* Already posted: whoever did it woke the loop if it slept. */
	if (st->in_dirty || st->detached)
		return 0;
	st->in_dirty = 1;
	st->refs++;
	STAILQ_INSERT_TAIL(&l->dirty, st, dirty);
	return l->sleeping;
}

void md_h2stream_process_dirty(md_h2loop *l)
{
	STAILQ_HEAD(, md_h2stream) batch = STAILQ_HEAD_INITIALIZER(batch);
	pthread_mutex_lock(&l->mu);
	STAILQ_CONCAT(&batch, &l->dirty);
	pthread_mutex_unlock(&l->mu);
	md_h2stream *st = STAILQ_FIRST(&batch);
	while (st) {
		/* While in_dirty is set no thread links st again, so its link
		 * stays ours until read here. */
		pthread_mutex_lock(&l->mu);
		md_h2stream *next = STAILQ_NEXT(st, dirty);
		st->in_dirty = 0;
		pthread_mutex_unlock(&l->mu);
		md_h2stream_process(st);
		md_h2stream_release(st);
		st = next;
	}
}

/* The caller gave up: RST_STREAM CANCEL, or (never started) just gone. */
static void cancel(md_h2stream *st)
{
	if (!st->conn) {
		md_h2stream_detach(st, NGHTTP2_CANCEL, NULL);
	} else if (!st->reset) {
		st->reset = 1;
		nghttp2_submit_rst_stream(st->conn->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
	}
}

void md_h2stream_process(md_h2stream *st)
{
	md_h2loop *l = st->loop;
	pthread_mutex_lock(&l->mu);
	STAILQ_CONCAT(&st->out, &st->pend);
	st->out_end_taken |= st->out_end;
	int cancel_req = st->cancel_req, detached = st->detached;
	pthread_mutex_unlock(&l->mu);
	if (detached)
		return;
	if (cancel_req) {
		cancel(st);
		return;
	}
	int rc = 0;
	if (!st->started) {
		if (STAILQ_EMPTY(&st->out) && !st->out_end_taken)
			return;
		st->started = 1;
		rc = l->role->start(st);
	} else if (st->deferred) {
		st->deferred = 0;
		rc = nghttp2_session_resume_data(st->conn->h2, st->id);
	}
	if (rc != 0)
		md_log_debug("grpc: stream %d: %s", (int)st->id, nghttp2_strerror(rc));
}

/* nghttp2 pulls the body from the out queue: DEFERRED while it is empty
 * and the sending side still open (process resumes it). */
static ssize_t provide(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
		       uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)h2, (void)id, (void)ud;
	md_h2stream *st = src->ptr;
	size_t n = 0, done = 0;
	md_h2buf *b;
	while (n < length && (b = STAILQ_FIRST(&st->out))) {
		size_t take = b->len - b->off;
		if (take > length - n)
			take = length - n;
		memcpy(buf + n, b->data + b->off, take);
		b->off += take;
		n += take;
		if (b->off == b->len) {
			STAILQ_REMOVE_HEAD(&st->out, link);
			done += b->len;
			buf_free(b);
		}
	}
	if (done) {
		pthread_mutex_lock(&st->loop->mu);
		st->queued = st->queued > done ? st->queued - done : 0;
		int wake = st->blocked && st->queued <= MD_H2_SEND_HIGH_WATER;
		pthread_mutex_unlock(&st->loop->mu);
		if (wake)
			pthread_cond_broadcast(&st->cv);
	}
	if (STAILQ_EMPTY(&st->out) && st->out_end_taken) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (st->loop->role->trailers) {
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			if (st->loop->role->trailers(st) != 0)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		}
		return (ssize_t)n;
	}
	if (n == 0) {
		st->deferred = 1;
		return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)n;
}

nghttp2_data_provider md_h2stream_provider(md_h2stream *st)
{
	return (nghttp2_data_provider){.source.ptr = st, .read_callback = provide};
}

int md_h2stream_recv(md_h2stream *st, uint8_t **msg, size_t *len)
{
	md_h2loop *l = st->loop;
	*msg = NULL;
	*len = 0;
	pthread_mutex_lock(&l->mu);
	st->blocked++;
	while (STAILQ_EMPTY(&st->in) && !st->in_eof && !st->cancelled)
		pthread_cond_wait(&st->cv, &l->mu);
	st->blocked--;
	int rc = 0;
	if (st->cancelled) {
		rc = -1;
	} else if (!STAILQ_EMPTY(&st->in)) {
		md_h2msg *m = STAILQ_FIRST(&st->in);
		STAILQ_REMOVE_HEAD(&st->in, link);
		*msg = m->p;
		*len = m->len;
		free(m);
		rc = 1;
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int md_h2stream_send(md_h2stream *st, const uint8_t *msg, size_t len, int end)
{
	md_h2loop *l = st->loop;
	if (len > UINT32_MAX || (len > 0 && !msg))
		return -1;
	md_h2buf *b = malloc(sizeof *b + 5 + len);
	if (!b)
		return -1;
	b->len = 5 + len;
	b->off = 0;
	md_grpc_frame_prefix(b->data, len);
	if (len > 0)
		memcpy(b->data + 5, msg, len);

	pthread_mutex_lock(&l->mu);
	/* Back-pressure: wait while earlier messages still wait for the peer. */
	st->blocked++;
	while (st->queued > MD_H2_SEND_HIGH_WATER && !st->detached && !st->out_end)
		pthread_cond_wait(&st->cv, &l->mu);
	st->blocked--;
	if (st->detached || st->out_end || l->closed) {
		pthread_mutex_unlock(&l->mu);
		buf_free(b);
		return -1;
	}
	STAILQ_INSERT_TAIL(&st->pend, b, link);
	st->queued += b->len;
	st->out_end = end;
	int wake = md_h2stream_post_locked(st);
	pthread_mutex_unlock(&l->mu);
	if (wake)
		md_h2loop_wake(l);
	return 0;
}

/* ---- the session's callbacks ---- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	(void)h2;
	md_h2conn *c = ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST ||
	    !c->loop->role->begin)
		return 0;
	return c->loop->role->begin(c, f->hd.stream_id) ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	(void)flags;
	md_h2conn *c = ud;
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	md_h2stream *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
	if (!st || st->reset)
		return 0;
	return c->loop->role->header(st, f, name, nlen, value, vlen);
}

static int on_msg(void *ud, uint8_t *msg, size_t len)
{
	md_h2stream *st = ud;
	md_h2msg *m = malloc(sizeof *m);
	if (!m) {
		free(msg);
		return MD_GRPC_FRAME_NOMEM;
	}
	m->p = msg;
	m->len = len;
	pthread_mutex_lock(&st->loop->mu);
	STAILQ_INSERT_TAIL(&st->in, m, link);
	int wake = st->blocked;
	pthread_mutex_unlock(&st->loop->mu);
	if (wake)
		pthread_cond_broadcast(&st->cv); /* after the unlock: see detach */
	return 0;
}

static void refuse_message(md_h2stream *st, int rc)
{
	st->in_closed = 1;
	md_grpc_decoder_free(&st->dec);
	st->loop->role->bad_message(st, rc);
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *ud)
{
	(void)flags, (void)ud;
	md_h2stream *st = nghttp2_session_get_stream_user_data(h2, id);
	if (!st || st->in_closed || st->reset)
		return 0;
	int rc = md_grpc_decoder_feed(&st->dec, data, len, on_msg, st);
	if (rc != MD_GRPC_FRAME_OK)
		refuse_message(st, rc);
	return 0;
}

/* END_STREAM from the peer. */
static void remote_eof(md_h2stream *st)
{
	if (st->in_closed)
		return;
	if (!md_grpc_decoder_idle(&st->dec)) {
		refuse_message(st, MD_H2_TRUNCATED);
		return;
	}
	st->in_closed = 1;
	pthread_mutex_lock(&st->loop->mu);
	st->in_eof = 1;
	int wake = st->blocked;
	pthread_mutex_unlock(&st->loop->mu);
	if (wake)
		pthread_cond_broadcast(&st->cv);
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	md_h2conn *c = ud;
	const md_h2role *r = c->loop->role;
	if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK) && !c->ready) {
		c->ready = 1;
		c->deadline = 0;
		if (r->conn_ready)
			r->conn_ready(c);
		return 0;
	}
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	md_h2stream *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
	if (st && f->hd.type == NGHTTP2_HEADERS && r->headers) {
		r->headers(st, f);
		/* a refused stream is detached: its user data is gone */
		st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
	}
	if (st && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		remote_eof(st);
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code, void *ud)
{
	(void)ud;
	md_h2stream *st = nghttp2_session_get_stream_user_data(h2, id);
	if (st)
		md_h2stream_detach(st, code, NULL);
	return 0;
}

/* After our END_STREAM on HEADERS (trailers), a peer still sending is told
 * to stop (as grpc-go does): RST_STREAM NO_ERROR. */
static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	(void)ud;
	if (f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    nghttp2_session_get_stream_remote_close(h2, f->hd.stream_id) == 0)
		nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
	return 0;
}

static int on_error(nghttp2_session *h2, int code, const char *msg, size_t len, void *ud)
{
	(void)h2;
	md_h2conn *c = ud;
	md_log_debug("grpc: connection %u: HTTP/2: %.*s (%d)", c->id, (int)len, msg, code);
	return 0;
}

int md_h2stream_session_new(md_h2conn *c, int32_t conn_window)
{
	const md_h2role *r = c->loop->role;
	nghttp2_session_callbacks *cb;
	if (nghttp2_session_callbacks_new(&cb) != 0)
		return -1;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	nghttp2_session_callbacks_set_error_callback2(cb, on_error);
	int rc = r->server ? nghttp2_session_server_new(&c->h2, cb, c)
			   : nghttp2_session_client_new(&c->h2, cb, c);
	nghttp2_session_callbacks_del(cb);
	if (rc != 0) {
		c->h2 = NULL;
		return -1;
	}
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, r->settings, r->nsettings) != 0 ||
	    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, conn_window) != 0)
		return -1;
	return 0;
}

/* ---- gRPC glue ---- */

int md_h2_is_grpc_type(const uint8_t *v, size_t n)
{
	static const char base[] = "application/grpc";
	size_t k = sizeof base - 1;
	return v && n >= k && memcmp(v, base, k) == 0 && (n == k || v[k] == '+' || v[k] == ';');
}

char *md_h2_percent_encode(const char *msg)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(msg);
	if (n > 4096)
		n = 4096; /* a status line, not a document */
	char *out = malloc(3 * n + 1);
	if (!out)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)msg[i];
		if (ch < 0x20 || ch > 0x7e || ch == '%') {
			out[j++] = '%';
			out[j++] = hex[ch >> 4];
			out[j++] = hex[ch & 15];
		} else {
			out[j++] = (char)ch;
		}
	}
	out[j] = '\0';
	return out;
}

void md_h2_percent_decode(const uint8_t *v, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < outsz; i++) {
		int hi, lo;
		if (v[i] == '%' && i + 2 < n && (hi = md_text_hexval(v[i + 1])) >= 0 &&
		    (lo = md_text_hexval(v[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = (char)v[i];
		}
	}
	out[o] = '\0';
}
