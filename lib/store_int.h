/* store_int.h - what store.c and the store modules share (internal). */
#ifndef MD_STORE_INT_H
#define MD_STORE_INT_H

#include <limits.h>

#include "store.h"

struct md_store_ops {
	int (*write)(md_store *st, const md_token *t, const char *username, md_error *err);
	int (*read)(md_store *st, md_store_value *v, md_error *err);
	void (*free)(md_store *st);
};

struct md_store {
	const struct md_store_ops *ops;
	char describe[512]; /* the URI as given: stores take no secret in it */
	char ident[PATH_MAX + 64]; /* the place written, set by the module's open */
	void *impl;
};

/* Each module parses the rest of its URI (after "scheme://") into st. */
int md_store_file_open(const char *rest, md_store *st, md_error *err);
int md_store_vault_open(const char *rest, md_store *st, md_error *err);
int md_store_k8s_open(const char *rest, md_store *st, md_error *err);

/* "?a=b&c=d" query parsing shared by the modules: calls fn per pair
 * (values are not percent-decoded: store options are plain words). */
int md_store_query_each(const char *query, int (*fn)(void *ud, const char *key, const char *val,
						     md_error *err),
			void *ud, md_error *err);

#endif
