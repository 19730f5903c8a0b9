/* fuzz_grpc_frame.c - libFuzzer target for lib/vault/grpc_frame.c: arbitrary
 * bytes fed to md_grpc_decoder in arbitrary chunkings.
 *
 * Input layout: byte 0 picks the limit (small limits reach TOO_BIG often);
 * byte 1 seeds the chunk sizes; the rest is the stream. The same stream is
 * also fed whole, and both runs must agree on every message and on the
 * outcome (the decoder's answer must not depend on the chunking).
 *
 *   clang -fsanitize=fuzzer,address -Ilib tests/fuzz/fuzz_grpc_frame.c \
 *     lib/vault/grpc_frame.c -o /tmp/fuzz && /tmp/fuzz -max_total_time=10
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/grpc_frame.h"

typedef struct {
	uint64_t hash; /* of all message lengths and bytes, in order */
	size_t count;
	size_t stop_after; /* on_msg fails at this message (0: never) */
} run;

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

static int on_msg(void *ud, uint8_t *msg, size_t len)
{
	run *r = ud;
	r->hash = mix(r->hash, len);
	for (size_t i = 0; i < len; i++)
		r->hash = mix(r->hash, msg[i]);
	free(msg);
	r->count++;
	if (r->stop_after && r->count == r->stop_after)
		return -100;
	return 0;
}

/* Feeds until the first error; returns it (or OK). */
static int feed_chunked(md_grpc_decoder *d, const uint8_t *p, size_t n, uint32_t seed, run *r)
{
	while (n > 0) {
		seed = seed * 1103515245u + 12345u;
		size_t k = 1 + (seed >> 16) % 37;
		if (seed & 0x80000000u)
			k = 1 + (seed >> 8) % 4096; /* sometimes large chunks */
		if (k > n)
			k = n;
		int rc = md_grpc_decoder_feed(d, p, k, on_msg, r);
		if (rc != MD_GRPC_FRAME_OK)
			return rc;
		p += k;
		n -= k;
	}
	return MD_GRPC_FRAME_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static const size_t limits[] = {0, 1, 5, 64, 1024, 1u << 16, MD_GRPC_MAX_MESSAGE};
	size_t limit = limits[data[0] % (sizeof limits / sizeof limits[0])];
	uint32_t seed = data[1];
	size_t stop_after = (data[0] >> 4) & 3; /* 0..3 */
	const uint8_t *p = data + 2;
	size_t n = size - 2;

	md_grpc_decoder a, b;
	run ra = {.stop_after = stop_after}, rb = {.stop_after = stop_after};
	md_grpc_decoder_init(&a, limit);
	md_grpc_decoder_init(&b, limit);

	int rca = md_grpc_decoder_feed(&a, p, n, on_msg, &ra);
	int rcb = feed_chunked(&b, p, n, seed, &rb);
	if (rca != rcb || ra.count != rb.count || ra.hash != rb.hash)
		abort();
	/* Errors are sticky (a callback error is not: it ends one message). */
	if (rca == MD_GRPC_FRAME_TOO_BIG || rca == MD_GRPC_FRAME_COMPRESSED) {
		if (md_grpc_decoder_feed(&a, p, n, on_msg, &ra) != rca || md_grpc_decoder_idle(&a))
			abort();
	}
	if (rca == MD_GRPC_FRAME_OK && md_grpc_decoder_idle(&a) != md_grpc_decoder_idle(&b))
		abort();
	md_grpc_decoder_free(&a);
	md_grpc_decoder_free(&b);
	return 0;
}
