/* grpc_frame.c - gRPC message framing: the 5-byte prefix and an incremental
 * decoder. See grpc_frame.h. */
#include "vault/grpc_frame.h"

#include <stdlib.h>
#include <string.h>

void md_grpc_decoder_init(md_grpc_decoder *d, size_t limit)
{
	memset(d, 0, sizeof *d);
	d->limit = limit;
}

void md_grpc_decoder_free(md_grpc_decoder *d)
{
	if (d->msg)
		explicit_bzero(d->msg, d->msg_have);
	free(d->msg);
	d->msg = NULL;
	d->hdr_len = 0;
	d->msg_len = 0;
	d->msg_have = 0;
}

void md_grpc_frame_prefix(uint8_t out[5], size_t len)
{
	uint32_t n = (uint32_t)len;
	out[0] = 0;
	out[1] = (uint8_t)(n >> 24);
	out[2] = (uint8_t)(n >> 16);
	out[3] = (uint8_t)(n >> 8);
	out[4] = (uint8_t)n;
}

int md_grpc_decoder_idle(const md_grpc_decoder *d)
{
	return d->hdr_len == 0;
}

/* Hands the gathered message to on_msg and resets for the next prefix. */
static int deliver(md_grpc_decoder *d, int (*on_msg)(void *, uint8_t *, size_t), void *ud)
{
	uint8_t *m = d->msg;
	size_t n = d->msg_len;
	d->msg = NULL;
	d->hdr_len = 0;
	d->msg_len = 0;
	d->msg_have = 0;
	if (!m) {
		/* Empty message: give the callback a real (1-byte) allocation so it
		 * can always free() it and tell it from "no message". */
		m = malloc(1);
		if (!m)
			return MD_GRPC_FRAME_NOMEM;
	}
	int rc = on_msg ? on_msg(ud, m, n) : (free(m), 0);
	return rc < 0 ? rc : MD_GRPC_FRAME_OK;
}

/* Judges a complete prefix. Also used to make errors sticky: after a refusal
 * the prefix stays in place, so every later feed fails the same way. */
static int check_prefix(const md_grpc_decoder *d, size_t *n)
{
	if (d->hdr[0] != 0)
		return MD_GRPC_FRAME_COMPRESSED;
	*n = ((size_t)d->hdr[1] << 24) | ((size_t)d->hdr[2] << 16) | ((size_t)d->hdr[3] << 8) |
	     (size_t)d->hdr[4];
	if (*n > d->limit)
		return MD_GRPC_FRAME_TOO_BIG;
	return MD_GRPC_FRAME_OK;
}

int md_grpc_decoder_feed(md_grpc_decoder *d, const uint8_t *p, size_t len,
			 int (*on_msg)(void *ud, uint8_t *msg, size_t len), void *ud)
{
	if (d->hdr_len == 5) {
		size_t n = 0;
		int rc = check_prefix(d, &n);
		if (rc != MD_GRPC_FRAME_OK)
			return rc;
		if (d->msg_len > 0 && !d->msg)
			return MD_GRPC_FRAME_NOMEM;
	}
	while (len > 0) {
		if (d->hdr_len < 5) {
			size_t take = 5 - d->hdr_len;
			if (take > len)
				take = len;
			memcpy(d->hdr + d->hdr_len, p, take);
			d->hdr_len += take;
			p += take;
			len -= take;
			if (d->hdr_len < 5)
				break;
			size_t n = 0;
			int crc = check_prefix(d, &n);
			if (crc != MD_GRPC_FRAME_OK)
				return crc;
			d->msg_len = n;
			d->msg_have = 0;
			if (n > 0) {
				d->msg = malloc(n);
				if (!d->msg)
					return MD_GRPC_FRAME_NOMEM;
			}
			if (n == 0) {
				int rc = deliver(d, on_msg, ud);
				if (rc != MD_GRPC_FRAME_OK)
					return rc;
			}
			continue;
		}
		size_t take = d->msg_len - d->msg_have;
		if (take > len)
			take = len;
		memcpy(d->msg + d->msg_have, p, take);
		d->msg_have += take;
		p += take;
		len -= take;
		if (d->msg_have == d->msg_len) {
			int rc = deliver(d, on_msg, ud);
			if (rc != MD_GRPC_FRAME_OK)
				return rc;
		}
	}
	return MD_GRPC_FRAME_OK;
}
