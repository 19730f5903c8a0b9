/* plugin_rpc.c - protobuf messages in and out of gRPC calls. */
#include "plugin.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/secret.h"

ProtobufCMessage *plugin_recv(md_grpc_call *c, const ProtobufCMessageDescriptor *d)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	if (md_grpc_call_recv(c, &msg, &len) != 1) {
		md_grpc_call_finish(c, MD_GRPC_INVALID_ARGUMENT, "expected one request message");
		return NULL;
	}
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, msg);
	/* Request bytes may carry an admin token (config writes). */
	md_secret_wipe(msg, len);
	free(msg);
	if (!m)
		md_grpc_call_finish(c, MD_GRPC_INVALID_ARGUMENT, "malformed request message");
	return m;
}

void plugin_free(ProtobufCMessage *m)
{
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
}

struct secret_sink {
	ProtobufCBuffer base;
	md_secret *out;
	bool failed;
};

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
	struct secret_sink *s = (struct secret_sink *)b;
	if (md_secret_append(s->out, data, len) < 0)
		s->failed = true;
}

/* Packs m into secret memory. */
static md_secret *pack_secret(const ProtobufCMessage *m)
{
	md_secret *out = md_secret_new(protobuf_c_message_get_packed_size(m));
	if (!out)
		return NULL;
	struct secret_sink s = {{sink_append}, out, false};
	protobuf_c_message_pack_to_buffer(m, &s.base);
	if (s.failed) {
		md_secret_free(out);
		return NULL;
	}
	return out;
}

void plugin_reply(md_grpc_call *c, const ProtobufCMessage *reply)
{
	_cleanup_secret_ md_secret *b = pack_secret(reply);
	if (!b) {
		md_grpc_call_finish(c, MD_GRPC_INTERNAL, "out of memory");
		return;
	}
	if (md_grpc_call_send(c, (const uint8_t *)md_secret_str(b), md_secret_len(b)) < 0)
		return; /* the call is gone */
	md_grpc_call_finish(c, MD_GRPC_OK, NULL);
}

int plugin_call(md_grpc_client *cl, const char *path, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *d, ProtobufCMessage **reply, md_error *err)
{
	*reply = NULL;
	if (!cl)
		return md_err_set(err, MD_EFAIL, "no storage connection (Setup has not run)");
	_cleanup_secret_ md_secret *b = pack_secret(req);
	if (!b)
		return md_err_set(err, MD_EFAIL, "out of memory");
	uint8_t *resp = NULL;
	size_t rlen = 0;
	int status = 0;
	char smsg[256] = "";
	int rc = md_grpc_client_unary(cl, path, (const uint8_t *)md_secret_str(b), md_secret_len(b),
				      10000, &resp, &rlen, &status, smsg, sizeof smsg, err);
	if (rc)
		return rc;
	if (status != MD_GRPC_OK) {
		free(resp);
		return md_err_set(err, MD_EFAIL, "%s: gRPC status %d: %s", path, status, smsg);
	}
	*reply = protobuf_c_message_unpack(d, NULL, rlen, resp);
	/* Storage answers may carry the stored admin token. */
	md_secret_wipe(resp, rlen);
	free(resp);
	if (!*reply)
		return md_err_set(err, MD_EFAIL, "%s: malformed reply", path);
	return MD_OK;
}
