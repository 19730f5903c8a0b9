/* plugin_backend.c - pb.Backend: Setup dials the host's broker and publishes
 * the storage client; HandleRequest and HandleExistenceCheck translate to
 * lib/vault/engine.h, each holding a reference to the storage client it
 * started with (a later Setup replaces the client, never under a request);
 * the rest are the lifecycle answers Vault expects. */
#include "plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.pb-c.h"
#include "base/log.h"
#include "base/secret.h"

#define BROKER_WAIT_MS 5000

/* The storage client (md_grpc_client) of the latest Setup. */
static struct plugin_slot storage_slot = PLUGIN_SLOT_INIT;

/* ---- storage over the broker (md_eng_storage; ud: the md_grpc_client) ---- */

static int st_get(void *ud, const char *key, md_secret **value, md_error *err)
{
	*value = NULL;
	Pb__StorageGetArgs rq = PB__STORAGE_GET_ARGS__INIT;
	rq.key = (char *)key;
	Pb__StorageGetReply *rs = NULL;
	int rc = plugin_call(ud, "/pb.Storage/Get", &rq.base,
			     &pb__storage_get_reply__descriptor, (ProtobufCMessage **)&rs, err);
	if (rc)
		return rc;
	if (rs->err && rs->err[0]) {
		rc = md_err_set(err, MD_EFAIL, "storage get %s: %s", key, rs->err);
	} else if (rs->entry) {
		*value = md_secret_new(rs->entry->value.len);
		if (!*value || md_secret_append(*value, rs->entry->value.data, rs->entry->value.len))
			rc = md_err_set(err, MD_EFAIL, "out of memory");
		md_secret_wipe(rs->entry->value.data, rs->entry->value.len);
	}
	plugin_free(&rs->base);
	return rc;
}

static int st_put(void *ud, const char *key, const md_secret *value, md_error *err)
{
	Pb__StorageEntry e = PB__STORAGE_ENTRY__INIT;
	e.key = (char *)key;
	e.value.data = (uint8_t *)md_secret_str(value);
	e.value.len = md_secret_len(value);
	Pb__StoragePutArgs rq = PB__STORAGE_PUT_ARGS__INIT;
	rq.entry = &e;
	Pb__StoragePutReply *rs = NULL;
	int rc = plugin_call(ud, "/pb.Storage/Put", &rq.base,
			     &pb__storage_put_reply__descriptor, (ProtobufCMessage **)&rs, err);
	if (!rc && rs->err && rs->err[0])
		rc = md_err_set(err, MD_EFAIL, "storage put %s: %s", key, rs->err);
	if (rs)
		plugin_free(&rs->base);
	return rc;
}

static int st_del(void *ud, const char *key, md_error *err)
{
	Pb__StorageDeleteArgs rq = PB__STORAGE_DELETE_ARGS__INIT;
	rq.key = (char *)key;
	Pb__StorageDeleteReply *rs = NULL;
	int rc = plugin_call(ud, "/pb.Storage/Delete", &rq.base,
			     &pb__storage_delete_reply__descriptor, (ProtobufCMessage **)&rs, err);
	if (!rc && rs->err && rs->err[0])
		rc = md_err_set(err, MD_EFAIL, "storage delete %s: %s", key, rs->err);
	if (rs)
		plugin_free(&rs->base);
	return rc;
}

/* The storage of one request, on the client h holds (none before Setup). */
static md_eng_storage storage_of(const struct plugin_shared *h)
{
	return (md_eng_storage){st_get, st_put, st_del, h ? h->obj : NULL};
}

static void client_destroy(void *cl)
{
	md_grpc_client_free(cl);
}

/* ---- pb.Backend ---- */

static void backend_setup(md_grpc_call *c, void *ud)
{
	(void)ud;
	Pb__SetupArgs *rq = (Pb__SetupArgs *)plugin_recv(c, &pb__setup_args__descriptor);
	if (!rq)
		return;
	uint32_t id = rq->broker_id;
	plugin_free(&rq->base);
	md_error err = {0};
	char network[16], address[256];
	md_grpc_client *cl = NULL;
	int rc = plugin_broker_wait(id, BROKER_WAIT_MS, network, sizeof network, address,
				    sizeof address, &err);
	if (!rc)
		rc = md_grpc_client_dial(network, address, plugin_env.client_ctx, "localhost",
					 BROKER_WAIT_MS, &cl, &err);
	struct plugin_shared *h = NULL;
	if (!rc && !(h = plugin_shared_new(cl, client_destroy))) {
		md_grpc_client_free(cl);
		rc = md_err_set(&err, MD_EFAIL, "out of memory");
	}
	Pb__SetupReply rs = PB__SETUP_REPLY__INIT;
	char msg[MD_ERR_MSG_MAX + 32];
	if (rc) {
		snprintf(msg, sizeof msg, "setup: %s", err.msg);
		md_log_error("%s", msg);
		rs.err = msg;
	} else {
		/* Requests already running keep the client they took. */
		plugin_slot_set(&storage_slot, h);
		md_log_info("setup: storage connected through broker id %u", id);
	}
	plugin_reply(c, &rs.base);
}

static void fill_error(Pb__ProtoError *pe, const md_eng_response *r)
{
	pe->err_type = (uint32_t)r->err_type;
	pe->err_msg = (char *)r->err_msg;
}

static void request_of(const Pb__Request *pr, md_eng_request *out)
{
	memset(out, 0, sizeof *out);
	if (!pr)
		return;
	out->operation = pr->operation;
	out->path = pr->path;
	out->data = pr->data;
	out->data_len = pr->data ? strlen(pr->data) : 0;
}

/* Request data may carry secrets (config writes): wipe before freeing. */
static void free_request_args(ProtobufCMessage *m, Pb__Request *pr)
{
	if (pr && pr->data)
		md_secret_wipe(pr->data, strlen(pr->data));
	plugin_free(m);
}

static void backend_handle_request(md_grpc_call *c, void *ud)
{
	(void)ud;
	Pb__HandleRequestArgs *rq =
		(Pb__HandleRequestArgs *)plugin_recv(c, &pb__handle_request_args__descriptor);
	if (!rq)
		return;
	md_eng_request er;
	request_of(rq->request, &er);
	md_eng_response r;
	_cleanup_shared_ struct plugin_shared *h = plugin_slot_get(&storage_slot);
	md_eng_storage st = storage_of(h);
	md_eng_handle(&st, &er, &r);
	free_request_args(&rq->base, rq->request);

	Pb__Response resp = PB__RESPONSE__INIT;
	resp.data = (char *)(r.data ? md_secret_str(r.data) : "{}");
	char *warnings[MD_ENG_MAX_WARNINGS];
	for (int i = 0; i < r.nwarnings; i++)
		warnings[i] = r.warnings[i];
	resp.n_warnings = (size_t)r.nwarnings;
	resp.warnings = warnings;
	Pb__ProtoError pe = PB__PROTO_ERROR__INIT;
	Pb__HandleRequestReply rs = PB__HANDLE_REQUEST_REPLY__INIT;
	rs.response = &resp;
	if (r.err_type) {
		fill_error(&pe, &r);
		rs.err = &pe;
	}
	plugin_reply(c, &rs.base);
	md_eng_response_free(&r);
}

static void backend_existence(md_grpc_call *c, void *ud)
{
	(void)ud;
	Pb__HandleExistenceCheckArgs *rq = (Pb__HandleExistenceCheckArgs *)plugin_recv(
		c, &pb__handle_existence_check_args__descriptor);
	if (!rq)
		return;
	md_eng_request er;
	request_of(rq->request, &er);
	bool found = false, exists = false;
	md_error err = {0};
	_cleanup_shared_ struct plugin_shared *h = plugin_slot_get(&storage_slot);
	md_eng_storage st = storage_of(h);
	int rc = md_eng_exists(&st, &er, &found, &exists, &err);
	free_request_args(&rq->base, rq->request);
	Pb__HandleExistenceCheckReply rs = PB__HANDLE_EXISTENCE_CHECK_REPLY__INIT;
	Pb__ProtoError pe = PB__PROTO_ERROR__INIT;
	rs.check_found = found;
	rs.exists = exists;
	if (rc) {
		pe.err_type = MD_ENG_ERR_INTERNAL;
		pe.err_msg = err.msg;
		rs.err = &pe;
	}
	plugin_reply(c, &rs.base);
}

static void backend_type(md_grpc_call *c, void *ud)
{
	(void)ud;
	ProtobufCMessage *rq = plugin_recv(c, &pb__empty__descriptor);
	if (!rq)
		return;
	plugin_free(rq);
	Pb__TypeReply rs = PB__TYPE_REPLY__INIT;
	rs.type = 1; /* logical: a secrets engine */
	plugin_reply(c, &rs.base);
}

static void backend_special_paths(md_grpc_call *c, void *ud)
{
	(void)ud;
	ProtobufCMessage *rq = plugin_recv(c, &pb__empty__descriptor);
	if (!rq)
		return;
	plugin_free(rq);
	Pb__Paths p = PB__PATHS__INIT;
	Pb__SpecialPathsReply rs = PB__SPECIAL_PATHS_REPLY__INIT;
	rs.paths = &p;
	plugin_reply(c, &rs.base);
}

static void backend_initialize(md_grpc_call *c, void *ud)
{
	(void)ud;
	ProtobufCMessage *rq = plugin_recv(c, &pb__initialize_args__descriptor);
	if (!rq)
		return;
	plugin_free(rq);
	Pb__InitializeReply rs = PB__INITIALIZE_REPLY__INIT;
	plugin_reply(c, &rs.base);
}

/* Cleanup and InvalidateKey: nothing is cached yet, so nothing to drop. */
static void backend_empty_reply(md_grpc_call *c, void *ud)
{
	const ProtobufCMessageDescriptor *d = ud;
	ProtobufCMessage *rq = plugin_recv(c, d);
	if (!rq)
		return;
	plugin_free(rq);
	Pb__Empty rs = PB__EMPTY__INIT;
	plugin_reply(c, &rs.base);
}

void plugin_backend_register(md_grpc_server *s)
{
	md_grpc_server_handle(s, "/pb.Backend/Setup", backend_setup, NULL);
	md_grpc_server_handle(s, "/pb.Backend/HandleRequest", backend_handle_request, NULL);
	md_grpc_server_handle(s, "/pb.Backend/HandleExistenceCheck", backend_existence, NULL);
	md_grpc_server_handle(s, "/pb.Backend/Type", backend_type, NULL);
	md_grpc_server_handle(s, "/pb.Backend/SpecialPaths", backend_special_paths, NULL);
	md_grpc_server_handle(s, "/pb.Backend/Initialize", backend_initialize, NULL);
	md_grpc_server_handle(s, "/pb.Backend/Cleanup", backend_empty_reply,
			      (void *)&pb__empty__descriptor);
	md_grpc_server_handle(s, "/pb.Backend/InvalidateKey", backend_empty_reply,
			      (void *)&pb__invalidate_key_args__descriptor);
}

void plugin_backend_cleanup(void)
{
	plugin_slot_set(&storage_slot, NULL);
}
