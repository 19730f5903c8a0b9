/* test_grpc_frame.c - unit tests for lib/grpc_frame.[ch]: the 5-byte prefix
 * and the incremental decoder under every chunking. */
#include <check.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/grpc_frame.h"

/* ---- helpers ---- */

#define MAX_GOT 16

typedef struct {
	size_t n;
	uint8_t *msg[MAX_GOT];
	size_t len[MAX_GOT];
	int fail_at; /* on_msg answers -7 for message number fail_at (1-based) */
} got;

static int collect(void *ud, uint8_t *msg, size_t len)
{
	got *g = ud;
	ck_assert_ptr_nonnull(msg);
	ck_assert_uint_lt(g->n, MAX_GOT);
	g->msg[g->n] = msg;
	g->len[g->n] = len;
	g->n++;
	if (g->fail_at && (int)g->n == g->fail_at)
		return -7;
	return 0;
}

static void got_free(got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->msg[i]);
	memset(g, 0, sizeof *g);
}

/* Appends one framed message to buf (at *off). */
static void frame(uint8_t *buf, size_t *off, const char *payload, size_t len)
{
	md_grpc_frame_prefix(buf + *off, len);
	memcpy(buf + *off + 5, payload, len);
	*off += 5 + len;
}

static const char *const payloads[] = {"hello", "", "a somewhat longer message body", "x"};
#define NPAY (sizeof payloads / sizeof payloads[0])

static size_t stream_of_all(uint8_t *buf)
{
	size_t off = 0;
	for (size_t i = 0; i < NPAY; i++)
		frame(buf, &off, payloads[i], strlen(payloads[i]));
	return off;
}

static void expect_all(got *g)
{
	ck_assert_uint_eq(g->n, NPAY);
	for (size_t i = 0; i < NPAY; i++) {
		ck_assert_uint_eq(g->len[i], strlen(payloads[i]));
		ck_assert(memcmp(g->msg[i], payloads[i], g->len[i]) == 0);
	}
}

/* ---- prefix ---- */

START_TEST(prefix_encoding)
{
	uint8_t p[5];
	md_grpc_frame_prefix(p, 0);
	ck_assert(memcmp(p, "\0\0\0\0\0", 5) == 0);
	md_grpc_frame_prefix(p, 5);
	ck_assert(memcmp(p, "\0\0\0\0\x05", 5) == 0);
	md_grpc_frame_prefix(p, 0x01020304);
	ck_assert(memcmp(p, "\0\x01\x02\x03\x04", 5) == 0);
	md_grpc_frame_prefix(p, 64u << 20);
	ck_assert(memcmp(p, "\0\x04\0\0\0", 5) == 0);
	md_grpc_frame_prefix(p, 0xffffffffu);
	ck_assert(memcmp(p, "\0\xff\xff\xff\xff", 5) == 0);
}
END_TEST

/* ---- chunkings ---- */

START_TEST(decode_all_at_once)
{
	uint8_t buf[256];
	size_t n = stream_of_all(buf);
	md_grpc_decoder d;
	md_grpc_decoder_init(&d, 1024);
	got g = {0};
	ck_assert_int_eq(md_grpc_decoder_feed(&d, buf, n, collect, &g), MD_GRPC_FRAME_OK);
	expect_all(&g);
	ck_assert(md_grpc_decoder_idle(&d));
	got_free(&g);
	md_grpc_decoder_free(&d);
}
END_TEST

START_TEST(decode_byte_by_byte)
{
	uint8_t buf[256];
	size_t n = stream_of_all(buf);
	md_grpc_decoder d;
	md_grpc_decoder_init(&d, 1024);
	got g = {0};
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(md_grpc_decoder_feed(&d, buf + i, 1, collect, &g), MD_GRPC_FRAME_OK);
	expect_all(&g);
	ck_assert(md_grpc_decoder_idle(&d));
	got_free(&g);
	md_grpc_decoder_free(&d);
}
END_TEST

/* Every way of cutting the stream in two and in three pieces (this covers
 * cuts inside each prefix and inside each body). */
START_TEST(decode_every_split)
{
	uint8_t buf[256];
	size_t n = stream_of_all(buf);
	for (size_t a = 0; a <= n; a++) {
		for (size_t b = a; b <= n; b++) {
			md_grpc_decoder d;
			md_grpc_decoder_init(&d, 1024);
			got g = {0};
			ck_assert_int_eq(md_grpc_decoder_feed(&d, buf, a, collect, &g), 0);
			ck_assert_int_eq(md_grpc_decoder_feed(&d, buf + a, b - a, collect, &g), 0);
			ck_assert_int_eq(md_grpc_decoder_feed(&d, buf + b, n - b, collect, &g), 0);
			expect_all(&g);
			ck_assert(md_grpc_decoder_idle(&d));
			got_free(&g);
			md_grpc_decoder_free(&d);
		}
	}
}
END_TEST

START_TEST(idle_tracks_partial_messages)
{
	uint8_t buf[64];
	size_t n = 0;
	frame(buf, &n, "abc", 3);
	md_grpc_decoder d;
	md_grpc_decoder_init(&d, 1024);
	got g = {0};
	ck_assert(md_grpc_decoder_idle(&d));
	for (size_t i = 0; i < n; i++) {
		md_grpc_decoder_feed(&d, buf + i, 1, collect, &g);
		/* not idle inside the prefix or the body; idle right after */
		ck_assert_int_eq(md_grpc_decoder_idle(&d), i == n - 1);
	}
	ck_assert_uint_eq(g.n, 1);
	/* a zero-length feed changes nothing */
	ck_assert_int_eq(md_grpc_decoder_feed(&d, buf, 0, collect, &g), MD_GRPC_FRAME_OK);
	ck_assert(md_grpc_decoder_idle(&d));
	/* a lone prefix of an empty message completes it: idle again */
	uint8_t empty[5];
	md_grpc_frame_prefix(empty, 0);
	md_grpc_decoder_feed(&d, empty, 4, collect, &g);
	ck_assert(!md_grpc_decoder_idle(&d));
	md_grpc_decoder_feed(&d, empty + 4, 1, collect, &g);
	ck_assert(md_grpc_decoder_idle(&d));
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.len[1], 0);
	got_free(&g);
	md_grpc_decoder_free(&d);
}
END_TEST

START_TEST(empty_messages)
{
	uint8_t buf[15];
	size_t n = 0;
	for (int i = 0; i < 3; i++)
		frame(buf, &n, "", 0);
	md_grpc_decoder d;
	md_grpc_decoder_init(&d, 0); /* limit 0 still admits empty messages */
	got g = {0};
	ck_assert_int_eq(md_grpc_decoder_feed(&d, buf, n, collect, &g), MD_GRPC_FRAME_OK);
	ck_assert_uint_eq(g.n, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(g.len[i], 0); /* msg is still a real allocation to free */
	got_free(&g);
	md_grpc_decoder_free(&d);
}
END_TEST

START_TEST(no_callback_discards)
{
	uint8_t buf[64];
	size_t n = 0;
	frame(buf, &n, "abc", 3);
	md_grpc_decoder d;
	md_grpc_decoder_init(&d, 1024);
	ck_assert_int_eq(md_grpc_decoder_feed(&d, buf, n, NULL, NULL), MD_GRPC_FRAME_OK);
	ck_assert(md_grpc_decoder_idle(&d));
	md_grpc_decoder_free(&d);
}
END_TEST

/* ---- refusals ---- */

START_TEST(limit_exceeded)
{
	md_grpc_decoder d;
	md_grpc_decoder_init(&d, 10);
	got g = {0};
	uint8_t buf[64];
	size_t n = 0;
	frame(buf, &n, "0123456789", 10); /* exactly at the limit: fine */
	frame(buf, &n, "0123456789A", 11);
	ck_assert_int_eq(md_grpc_decoder_feed(&d, buf, n, collect, &g), MD_GRPC_FRAME_TOO_BIG);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(g.len[0], 10);
	/* sticky: the stream is unusable from here */
	ck_assert_int_eq(md_grpc_decoder_feed(&d, buf, 5, collect, &g), MD_GRPC_FRAME_TOO_BIG);
	ck_assert(!md_grpc_decoder_idle(&d));
	got_free(&g);
	md_grpc_decoder_free(&d);
}
END_TEST

START_TEST(limit_checked_before_allocating)
{
	md_grpc_decoder d;
	md_grpc_decoder_init(&d, MD_GRPC_MAX_MESSAGE);
	uint8_t p[5];
	md_grpc_frame_prefix(p, (size_t)MD_GRPC_MAX_MESSAGE + 1);
	/* prefix split: the verdict comes with its last byte, nothing allocated */
	ck_assert_int_eq(md_grpc_decoder_feed(&d, p, 3, NULL, NULL), MD_GRPC_FRAME_OK);
	ck_assert_int_eq(md_grpc_decoder_feed(&d, p + 3, 2, NULL, NULL), MD_GRPC_FRAME_TOO_BIG);
	ck_assert_ptr_null(d.msg);
	md_grpc_decoder_free(&d);

	md_grpc_decoder_init(&d, MD_GRPC_MAX_MESSAGE);
	md_grpc_frame_prefix(p, 0xffffffffu);
	ck_assert_int_eq(md_grpc_decoder_feed(&d, p, 5, NULL, NULL), MD_GRPC_FRAME_TOO_BIG);
	md_grpc_decoder_free(&d);
}
END_TEST

START_TEST(compressed_flag_refused)
{
	md_grpc_decoder d;
	md_grpc_decoder_init(&d, 1024);
	got g = {0};
	uint8_t buf[16] = {1, 0, 0, 0, 3, 'a', 'b', 'c'};
	ck_assert_int_eq(md_grpc_decoder_feed(&d, buf, 8, collect, &g), MD_GRPC_FRAME_COMPRESSED);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_int_eq(md_grpc_decoder_feed(&d, buf + 5, 3, collect, &g), MD_GRPC_FRAME_COMPRESSED);
	md_grpc_decoder_free(&d);

	/* any non-zero flag byte, even with length 0 */
	md_grpc_decoder_init(&d, 1024);
	uint8_t z[5] = {0x80, 0, 0, 0, 0};
	ck_assert_int_eq(md_grpc_decoder_feed(&d, z, 5, collect, &g), MD_GRPC_FRAME_COMPRESSED);
	md_grpc_decoder_free(&d);
}
END_TEST

START_TEST(callback_error_stops_decoding)
{
	uint8_t buf[256];
	size_t n = stream_of_all(buf);
	md_grpc_decoder d;
	md_grpc_decoder_init(&d, 1024);
	got g = {.fail_at = 2};
	ck_assert_int_eq(md_grpc_decoder_feed(&d, buf, n, collect, &g), -7);
	ck_assert_uint_eq(g.n, 2);
	/* the failed message was handed over; decoding may resume after it */
	g.fail_at = 0;
	size_t used = 5 + strlen(payloads[0]) + 5 + strlen(payloads[1]);
	ck_assert_int_eq(md_grpc_decoder_feed(&d, buf + used, n - used, collect, &g), 0);
	ck_assert_uint_eq(g.n, NPAY);
	got_free(&g);
	md_grpc_decoder_free(&d);
}
END_TEST

START_TEST(free_mid_message)
{
	uint8_t buf[64];
	size_t n = 0;
	frame(buf, &n, "abcdef", 6);
	md_grpc_decoder d;
	md_grpc_decoder_init(&d, 1024);
	ck_assert_int_eq(md_grpc_decoder_feed(&d, buf, n - 2, NULL, NULL), MD_GRPC_FRAME_OK);
	ck_assert(!md_grpc_decoder_idle(&d));
	md_grpc_decoder_free(&d); /* LSan checks the partial body is freed */
	ck_assert(md_grpc_decoder_idle(&d));
	md_grpc_decoder_free(&d); /* twice is harmless */
}
END_TEST

START_TEST(large_message_in_chunks)
{
	size_t len = (size_t)3 << 20;
	uint8_t *buf = malloc(len + 5);
	ck_assert_ptr_nonnull(buf);
	md_grpc_frame_prefix(buf, len);
	for (size_t i = 0; i < len; i++)
		buf[5 + i] = (uint8_t)(i * 31 + 7);
	md_grpc_decoder d;
	md_grpc_decoder_init(&d, MD_GRPC_MAX_MESSAGE);
	got g = {0};
	for (size_t off = 0; off < len + 5; off += 16384) {
		size_t k = len + 5 - off < 16384 ? len + 5 - off : 16384;
		ck_assert_int_eq(md_grpc_decoder_feed(&d, buf + off, k, collect, &g), 0);
	}
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(g.len[0], len);
	ck_assert(memcmp(g.msg[0], buf + 5, len) == 0);
	got_free(&g);
	md_grpc_decoder_free(&d);
	free(buf);
}
END_TEST

static Suite *frame_suite(void)
{
	Suite *s = suite_create("grpc_frame");
	TCase *tc = tcase_create("prefix");
	tcase_add_test(tc, prefix_encoding);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, decode_all_at_once);
	tcase_add_test(tc, decode_byte_by_byte);
	tcase_add_test(tc, decode_every_split);
	tcase_add_test(tc, idle_tracks_partial_messages);
	tcase_add_test(tc, empty_messages);
	tcase_add_test(tc, no_callback_discards);
	tcase_add_test(tc, callback_error_stops_decoding);
	tcase_add_test(tc, free_mid_message);
	tcase_add_test(tc, large_message_in_chunks);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusals");
	tcase_add_test(tc, limit_exceeded);
	tcase_add_test(tc, limit_checked_before_allocating);
	tcase_add_test(tc, compressed_flag_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(frame_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
