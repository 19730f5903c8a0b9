/* store.h - where a minted token is pushed to, behind one small interface.
 *
 * Owns: parsing store URIs and dispatching to the store modules
 * (store_file.c, store_vault.c, store_k8s.c). A store is written (push),
 * read back (verification, `exec --from`) and described (for messages: the
 * URI without anything secret). Beside the token every store records the
 * token's id, name, token_type and expire_at, so a reader can tell which
 * token it holds without asking the API.
 *
 * URIs:
 *   file:///path[?format=token|env|dotenv|json&mode=0600&owner=UID:GID]
 *   vault://[HOST:PORT]/MOUNT/PATH[?field=token]     (KV v2)
 *   k8s://NAMESPACE/SECRET[?key=MOTHERDUCK_TOKEN]
 */
#ifndef MD_STORE_H
#define MD_STORE_H

#include <stdbool.h>

#include "motherduck/api.h"
#include "base/error.h"
#include "base/secret.h"

typedef struct md_store md_store;

/* What a store holds: the token and what is recorded beside it. */
typedef struct {
	md_secret *token;   /* NULL when the store holds nothing */
	md_token_meta meta; /* id, name, token_type, expire_at ("" if unknown) */
	long long version;  /* store's own version (KV v2 version, k8s resourceVersion), or -1 */
} md_store_value;

/* How a store's HTTP client talks, given at open (there is no global
 * state): the timeout per attempt and the retries (normally the tool's
 * --timeout and --retries; out of range, or no options at all: 30 s and
 * 3), and a shared multi handle (http_multi.h) to send over, or NULL for
 * blocking transfers. */
struct md_http_multi;
typedef struct {
	long timeout_secs;
	int retries;
	struct md_http_multi *multi;
} md_store_opts;

/* Parses and validates a URI; nothing is contacted. MD_EUSAGE on a bad
 * URI. o may be NULL (the defaults). */
int md_store_open(const char *uri, const md_store_opts *o, md_store **out, md_error *err);
void md_store_free(md_store *st);
static inline void md_store_freep(md_store **st)
{
	md_store_free(*st);
	*st = NULL;
}
#define _cleanup_store_ __attribute__((cleanup(md_store_freep)))
/* The URI for messages (never holds a secret). */
const char *md_store_describe(const md_store *st);
/* The place a store writes, whatever the URI's spelling or options: two
 * stores with the same identity overwrite each other (the file's resolved
 * path; Vault address, namespace, mount and path; Kubernetes server,
 * namespace and Secret). */
const char *md_store_identity(const md_store *st);
/* Finds two of stores that name the same place (the first store, in
 * order, to have an earlier twin: *second, and that twin: *first); false
 * if none. */
bool md_store_find_twins(md_store *const *stores, size_t n, size_t *first, size_t *second);

/* Writes t (its secret and meta) for username. Stores with versions write
 * only over the version they last read (cas / resourceVersion), so two
 * writers cannot overwrite each other silently: MD_ECONFLICT then. On
 * failure *maybe_written tells whether the write may have landed anyway
 * (it was sent and no clear refusal came back): false means the store
 * still holds what it held (nothing was sent, or it said no). */
int md_store_write(md_store *st, const md_token *t, const char *username, bool *maybe_written,
		   md_error *err);
/* What can be known without sending anything, checked before a token is
 * minted for the store (a file store's target: file.h). MD_EUSAGE. */
int md_store_check(md_store *st, md_error *err);
/* Reads what the store holds; v->token NULL and MD_OK when it holds nothing. */
int md_store_read(md_store *st, md_store_value *v, md_error *err);
void md_store_value_clear(md_store_value *v);
#define _cleanup_store_value_ __attribute__((cleanup(md_store_value_clear)))

#endif
