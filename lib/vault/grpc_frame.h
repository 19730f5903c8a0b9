/* grpc_frame.h - gRPC message framing (length-prefixed messages), and the
 * status codes.
 *
 * Owns: the 5-byte prefix (1 byte compressed flag, 4 bytes big-endian
 * length), an incremental decoder that takes DATA bytes in any chunking
 * and yields whole messages, refusing compressed messages and messages over
 * a limit, and the gRPC status codes used here. Pure code, no I/O: a fuzz
 * target drives it directly.
 */
#ifndef MD_GRPC_FRAME_H
#define MD_GRPC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MD_GRPC_MAX_MESSAGE (64u << 20) /* 64 MiB, as the issue asks at least */

/* gRPC status codes used here. */
enum {
	MD_GRPC_OK = 0,
	MD_GRPC_CANCELLED = 1,
	MD_GRPC_UNKNOWN = 2,
	MD_GRPC_INVALID_ARGUMENT = 3,
	MD_GRPC_DEADLINE_EXCEEDED = 4,
	MD_GRPC_NOT_FOUND = 5,
	MD_GRPC_RESOURCE_EXHAUSTED = 8,
	MD_GRPC_FAILED_PRECONDITION = 9,
	MD_GRPC_UNIMPLEMENTED = 12,
	MD_GRPC_INTERNAL = 13,
	MD_GRPC_UNAVAILABLE = 14,
};

typedef struct {
	uint8_t hdr[5];
	size_t hdr_len;   /* prefix bytes gathered so far */
	uint8_t *msg;     /* message being gathered (malloc) */
	size_t msg_len;   /* its declared length */
	size_t msg_have;  /* bytes gathered */
	size_t limit;     /* largest accepted message */
} md_grpc_decoder;

enum {
	MD_GRPC_FRAME_OK = 0,          /* consumed all input; maybe more to come */
	MD_GRPC_FRAME_TOO_BIG = -1,    /* declared length over limit */
	MD_GRPC_FRAME_COMPRESSED = -2, /* compressed flag set: we offer no encoding */
	MD_GRPC_FRAME_NOMEM = -3,
};

void md_grpc_decoder_init(md_grpc_decoder *d, size_t limit);
void md_grpc_decoder_free(md_grpc_decoder *d);
/* Feeds len bytes; on_msg is called for each complete message (it takes
 * ownership of msg, to free()). Returns MD_GRPC_FRAME_* or on_msg's
 * negative return, which stops decoding. */
int md_grpc_decoder_feed(md_grpc_decoder *d, const uint8_t *p, size_t len,
			 int (*on_msg)(void *ud, uint8_t *msg, size_t len), void *ud);
/* True when no partial message is pending (a stream may end here). */
int md_grpc_decoder_idle(const md_grpc_decoder *d);
/* Writes the 5-byte prefix for a message of len bytes. */
void md_grpc_frame_prefix(uint8_t out[5], size_t len);

#endif
