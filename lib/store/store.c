/* store.c - see store.h: URI dispatch and what all stores share. */
#include "store/store_int.h"
#include "base/dupset.h"
#include "base/text.h"
#include "base/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *scheme;
	int (*open)(const md_uri *u, const md_store_opts *o, md_store *st, md_error *err);
} schemes[] = {
	{"file", md_store_file_open},
	{"vault", md_store_vault_open},
	{"k8s", md_store_k8s_open},
};

int md_store_open(const char *uri, const md_store_opts *opts, md_store **out, md_error *err)
{
	*out = NULL;
	md_store_opts o = opts ? *opts : (md_store_opts){.retries = -1};
	if (o.timeout_secs < 1 || o.timeout_secs > 3600)
		o.timeout_secs = 30;
	if (o.retries < 0 || o.retries > 10)
		o.retries = 3;
	md_uri u;
	int rc = md_uri_parse(uri, &u, err);
	for (size_t i = 0; rc == MD_OK && i < sizeof schemes / sizeof schemes[0]; i++) {
		if (strcmp(u.scheme, schemes[i].scheme) != 0)
			continue;
		md_store *st = calloc(1, sizeof *st);
		if (!st)
			return md_err_set(err, MD_EFAIL, "out of memory");
		snprintf(st->describe, sizeof st->describe, "%s", uri);
		if ((rc = schemes[i].open(&u, &o, st, err))) {
			md_err_prefix(err, "store %.200s", uri);
			free(st);
			return rc;
		}
		*out = st;
		return MD_OK;
	}
	if (rc) {
		md_err_prefix(err, "store");
		return rc;
	}
	return md_err_set(err, MD_EUSAGE,
			  "store '%.200s': expected file:///path, vault://[HOST:PORT]/MOUNT/PATH or "
			  "k8s://NAMESPACE/SECRET", uri);
}

const char *md_store_identity(const md_store *st)
{
	return st->ident;
}

static const char *ident_key(const void *ud, size_t i, md_secret *scratch, size_t *len)
{
	(void)scratch;
	md_store *const *stores = ud;
	*len = strlen(stores[i]->ident);
	return stores[i]->ident;
}

bool md_store_find_twins(md_store *const *stores, size_t n, size_t *first, size_t *second)
{
	md_dupset set;
	md_dupset_init(&set, ident_key, stores);
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		if (md_dupset_add(&set, i, first) == 1) {
			*second = i;
			found = true;
		}
	md_dupset_free(&set);
	return found;
}

void md_store_free(md_store *st)
{
	if (!st)
		return;
	if (st->ops && st->ops->free)
		st->ops->free(st);
	free(st);
}

const char *md_store_describe(const md_store *st)
{
	return st->describe;
}

int md_store_write(md_store *st, const md_token *t, const char *username, bool *maybe_written,
		   md_error *err)
{
	*maybe_written = false;
	int rc = st->ops->write(st, t, username, maybe_written, err);
	if (rc == MD_OK)
		*maybe_written = true;
	if (rc)
		md_err_prefix(err, "store %.200s", st->describe);
	return rc;
}

int md_store_check(md_store *st, md_error *err)
{
	int rc = st->ops->check ? st->ops->check(st, err) : MD_OK;
	if (rc)
		md_err_prefix(err, "store %.200s", st->describe);
	return rc;
}

/* What a store records beside the token is anyone's writing: escaped
 * (text.h) before it can reach a message or an output line. */
static void escape_field(char *f, size_t sz)
{
	char tmp[256];
	md_text_escape(tmp, sizeof tmp < sz ? sizeof tmp : sz, f, strlen(f), false);
	memcpy(f, tmp, strlen(tmp) + 1);
}

int md_store_read(md_store *st, md_store_value *v, md_error *err)
{
	memset(v, 0, sizeof *v);
	v->version = -1;
	int rc = st->ops->read(st, v, err);
	/* A store is as untrusted as a server: what it holds goes into
	 * environments and files, so it must be a token and nothing else. */
	if (!rc && v->token &&
	    (rc = md_valid_token_value(md_secret_str(v->token), md_secret_len(v->token), err)))
		md_store_value_clear(v);
	escape_field(v->meta.id, sizeof v->meta.id);
	escape_field(v->meta.name, sizeof v->meta.name);
	escape_field(v->meta.token_type, sizeof v->meta.token_type);
	escape_field(v->meta.expire_at, sizeof v->meta.expire_at);
	if (rc)
		md_err_prefix(err, "store %.200s", st->describe);
	return rc;
}

void md_store_value_clear(md_store_value *v)
{
	md_secret_free(v->token);
	memset(v, 0, sizeof *v);
	v->version = -1;
}
