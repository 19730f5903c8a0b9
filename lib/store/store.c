/* store.c - see store.h: URI dispatch and what all stores share. */
#include "store/store_int.h"
#include "base/text.h"
#include "base/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *scheme;
	int (*open)(const md_uri *u, md_store *st, md_error *err);
} schemes[] = {
	{"file", md_store_file_open},
	{"vault", md_store_vault_open},
	{"k8s", md_store_k8s_open},
};

static long store_timeout = 30;
static int store_retries = 3;
static struct md_http_multi *store_multi;

void md_store_set_multi(struct md_http_multi *m)
{
	store_multi = m;
}

struct md_http_multi *md_store_multi(void)
{
	return store_multi;
}

void md_store_set_transport(long timeout_secs, int retries)
{
	if (timeout_secs >= 1 && timeout_secs <= 3600)
		store_timeout = timeout_secs;
	if (retries >= 0 && retries <= 10)
		store_retries = retries;
}

long md_store_timeout(void)
{
	return store_timeout;
}

int md_store_retries(void)
{
	return store_retries;
}

int md_store_open(const char *uri, md_store **out, md_error *err)
{
	*out = NULL;
	md_uri u;
	int rc = md_uri_parse(uri, &u, err);
	for (size_t i = 0; rc == MD_OK && i < sizeof schemes / sizeof schemes[0]; i++) {
		if (strcmp(u.scheme, schemes[i].scheme) != 0)
			continue;
		md_store *st = calloc(1, sizeof *st);
		if (!st)
			return md_err_set(err, MD_EFAIL, "out of memory");
		snprintf(st->describe, sizeof st->describe, "%s", uri);
		if ((rc = schemes[i].open(&u, st, err))) {
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

struct twin_key {
	const char *ident;
	size_t i;
};

static int twin_cmp(const void *a, const void *b)
{
	const struct twin_key *x = a, *y = b;
	int c = strcmp(x->ident, y->ident);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

bool md_store_find_twins(md_store *const *stores, size_t n, size_t *first, size_t *second)
{
	struct twin_key *k = n > 1 ? calloc(n, sizeof *k) : NULL;
	if (!k)
		return false;
	for (size_t i = 0; i < n; i++)
		k[i] = (struct twin_key){stores[i]->ident, i};
	qsort(k, n, sizeof *k, twin_cmp);
	bool found = false;
	for (size_t j = 1; j < n; j++) {
		/* Within a run of equal identities k[j-1] and k[j] are the
		 * first two; report the pair whose second comes earliest. */
		if (strcmp(k[j - 1].ident, k[j].ident) != 0 ||
		    (j >= 2 && strcmp(k[j - 2].ident, k[j].ident) == 0) ||
		    (found && k[j].i >= *second))
			continue;
		*first = k[j - 1].i;
		*second = k[j].i;
		found = true;
	}
	free(k);
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
