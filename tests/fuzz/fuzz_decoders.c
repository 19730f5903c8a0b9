/* fuzz_decoders.c - libFuzzer target: every message the plugin decodes from
 * the host (first byte picks which), and HandleRequest's path through the
 * engine with an in-memory storage, on arbitrary bytes. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backend.pb-c.h"
#include "vault/engine.h"
#include "goplugin.pb-c.h"
#include "health.pb-c.h"

static const ProtobufCMessageDescriptor *const descs[] = {
	&pb__handle_request_args__descriptor,
	&pb__handle_existence_check_args__descriptor,
	&pb__setup_args__descriptor,
	&pb__invalidate_key_args__descriptor,
	&pb__storage_get_reply__descriptor,
	&pb__storage_list_reply__descriptor,
	&plugin__conn_info__descriptor,
	&grpc__health__v1__health_check_request__descriptor,
};

static md_secret *slot;

static int mem_get(void *ud, const char *key, md_secret **v, md_error *err)
{
	(void)ud, (void)key, (void)err;
	*v = NULL;
	if (slot) {
		*v = md_secret_new(0);
		md_secret_set(*v, md_secret_str(slot), md_secret_len(slot));
	}
	return MD_OK;
}

static int mem_put(void *ud, const char *key, const md_secret *v, md_error *err)
{
	(void)ud, (void)key, (void)err;
	if (!slot)
		slot = md_secret_new(0);
	return md_secret_set(slot, md_secret_str(v), md_secret_len(v));
}

static int mem_del(void *ud, const char *key, md_error *err)
{
	(void)ud, (void)key, (void)err;
	md_secret_free(slot);
	slot = NULL;
	return MD_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *d = descs[data[0] % (sizeof descs / sizeof descs[0])];
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
	if (!m)
		return 0;
	if (d == &pb__handle_request_args__descriptor) {
		Pb__HandleRequestArgs *a = (Pb__HandleRequestArgs *)m;
		if (a->request) {
			md_eng_storage st = {mem_get, mem_put, mem_del, NULL};
			md_eng_request rq = {a->request->operation, a->request->path, a->request->data,
					     a->request->data ? strlen(a->request->data) : 0};
			md_eng_response rs;
			md_eng_handle(&st, &rq, &rs);
			md_eng_response_free(&rs);
		}
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
