/* store_int.h - what store.c and the store modules share (internal). */
#ifndef MD_STORE_INT_H
#define MD_STORE_INT_H

#include <limits.h>

#include "store/store.h"
#include "net/uri.h"

struct md_store_ops {
	/* *maybe_written: set when a request that writes was sent and its
	 * outcome is not a clear refusal (it may have landed). */
	int (*write)(md_store *st, const md_token *t, const char *username, bool *maybe_written,
		     md_error *err);
	int (*read)(md_store *st, md_store_value *v, md_error *err);
	/* What can be known locally before a token is minted; NULL: nothing. */
	int (*check)(md_store *st, md_error *err);
	void (*free)(md_store *st);
};

struct md_store {
	const struct md_store_ops *ops;
	char describe[512]; /* the URI as given: stores take no secret in it */
	char ident[PATH_MAX + 64]; /* the place written, set by the module's open */
	void *impl;
};

/* Each module checks the parts of its URI (parsed once, uri.h: host, port,
 * decoded path, query) and fills st. */
int md_store_file_open(const md_uri *u, const md_store_opts *o, md_store *st, md_error *err);
int md_store_vault_open(const md_uri *u, const md_store_opts *o, md_store *st, md_error *err);
int md_store_k8s_open(const md_uri *u, const md_store_opts *o, md_store *st, md_error *err);

#endif
