/* engine.h - the MotherDuck secrets engine's request handling, without the
 * wire: Vault's operations on mount-relative paths in, responses out.
 *
 * Owns: the path router (which paths exist, which operations each takes,
 * their help), the `config` path (connection and admin credentials; secret
 * fields are write-only), validation of request data, and the storage
 * layout. Storage is reached through md_eng_storage, so the plugin plugs in
 * Vault's storage over gRPC and tests plug in memory. Vault's error types
 * are kept as they are on the wire (pb.ProtoError.err_type).
 */
#ifndef MD_ENGINE_H
#define MD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/secret.h"

/* pb.ProtoError err_type values. */
enum {
	MD_ENG_OK = 0,
	MD_ENG_ERR_INTERNAL = 2,
	MD_ENG_ERR_BAD_REQUEST = 4,
	MD_ENG_ERR_UNSUPPORTED_OPERATION = 5,
	MD_ENG_ERR_UNSUPPORTED_PATH = 6,
	MD_ENG_ERR_INVALID_REQUEST = 7,
};

typedef struct {
	/* *value is NULL (and MD_OK) when the key does not exist. */
	int (*get)(void *ud, const char *key, md_secret **value, md_error *err);
	int (*put)(void *ud, const char *key, const md_secret *value, md_error *err);
	int (*del)(void *ud, const char *key, md_error *err);
	void *ud;
} md_eng_storage;

typedef struct {
	const char *operation; /* create read update delete list help ... */
	const char *path;      /* mount-relative, no leading '/' */
	const char *data;      /* JSON object text, may be NULL or "" */
	size_t data_len;
} md_eng_request;

#define MD_ENG_MAX_WARNINGS 4

typedef struct {
	md_secret *data; /* JSON object text; "{}" at least */
	int err_type;    /* MD_ENG_* */
	char err_msg[512];
	int nwarnings;
	char warnings[MD_ENG_MAX_WARNINGS][256];
} md_eng_response;

/* Fills rs (caller frees with md_eng_response_free). Never fails to
 * produce a response: errors are in rs->err_type / rs->data "error". */
void md_eng_handle(const md_eng_storage *st, const md_eng_request *rq, md_eng_response *rs);
void md_eng_response_free(md_eng_response *rs);
/* Vault's existence check for create/update: *found says whether the path
 * supports the check, *exists whether the entry is there. */
int md_eng_exists(const md_eng_storage *st, const md_eng_request *rq, bool *found, bool *exists,
		  md_error *err);

#endif
