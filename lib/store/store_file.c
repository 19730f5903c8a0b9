/* store_file.c - the file store: file:///path[?format=...&mode=...&owner=UID:GID].
 *
 * Written atomically (lib/base/file.c) in one of the `token create` formats.
 * What is recorded beside the token: json holds it in the object; env and
 * dotenv carry a "# mdcred: ..." comment line first (shells and dotenv
 * readers skip comments); the bare token format keeps it in a sidecar
 * PATH.meta.json (no secret in it). Modes that let other users read the
 * token are refused: least privilege, and no option weakens it silently. */
#include "store/store_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "motherduck/format.h"
#include "base/json.h"

#define FILE_MAX 65536

struct file_store {
	char path[PATH_MAX];
	md_fmt fmt;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

static int file_opt(void *ud, const char *k, const char *v, md_error *err)
{
	struct file_store *f = ud;
	if (strcmp(k, "format") == 0)
		return md_fmt_parse(v, &f->fmt, err);
	if (strcmp(k, "mode") == 0) {
		char *end;
		long m = strtol(v, &end, 8);
		if (*end || m < 0 || m > 0777 || !(m & 0400))
			return md_err_set(err, MD_EUSAGE, "mode '%.16s' is not an octal mode the "
					  "owner can read", v);
		if (m & 0007)
			return md_err_set(err, MD_EUSAGE, "mode %04lo would let every user on the "
					  "machine read the token; use 0600 or 0640", m);
		f->mode = (mode_t)m;
		return MD_OK;
	}
	if (strcmp(k, "owner") == 0) {
		unsigned long u, g;
		char *end;
		u = strtoul(v, &end, 10);
		if (end == v || *end != ':')
			return md_err_set(err, MD_EUSAGE, "owner '%.32s' is not UID:GID", v);
		const char *gs = end + 1;
		g = strtoul(gs, &end, 10);
		if (end == gs || *end || u > INT_MAX || g > INT_MAX)
			return md_err_set(err, MD_EUSAGE, "owner '%.32s' is not UID:GID", v);
		f->uid = (uid_t)u;
		f->gid = (gid_t)g;
		return MD_OK;
	}
	return md_err_set(err, MD_EUSAGE, "unknown option '%.32s' (format, mode, owner)", k);
}

static void meta_comment(md_secret *out, const md_token *t, const char *user)
{
	md_secret_appendf(out, "# mdcred: id=%s name=%s token_type=%s expire_at=%s username=%s\n",
			  t->meta.id, t->meta.name, t->meta.token_type,
			  t->meta.expire_at[0] ? t->meta.expire_at : "never", user);
}

static int sidecar_path(const struct file_store *f, char *out, size_t sz)
{
	return snprintf(out, sz, "%s.meta.json", f->path) < (int)sz ? 0 : -1;
}

static int file_write(md_store *st, const md_token *t, const char *user, bool *maybe_written,
		      md_error *err)
{
	(void)maybe_written; /* local: the rename happened (MD_OK) or did not */
	struct file_store *f = st->impl;
	_cleanup_secret_ md_secret *c = md_secret_new(2048);
	if (!c)
		return md_err_set(err, MD_EFAIL, "out of memory");
	if (f->fmt == MD_FMT_ENV || f->fmt == MD_FMT_DOTENV)
		meta_comment(c, t, user);
	if (md_fmt_token(c, f->fmt, t, user, NULL) < 0)
		return md_err_set(err, MD_EFAIL, "out of memory");
	if (f->fmt == MD_FMT_TOKEN) {
		char side[PATH_MAX + 16];
		_cleanup_secret_ md_secret *m = md_secret_new(512);
		md_jw w;
		md_jw_init(&w, m);
		md_jw_obj_begin(&w);
		md_jw_key(&w, "username");
		md_jw_str(&w, user);
		md_fmt_meta_json(&w, &t->meta);
		md_jw_obj_end(&w);
		if (sidecar_path(f, side, sizeof side) < 0 || !md_jw_ok(&w))
			return md_err_set(err, MD_EFAIL, "path too long");
		/* Sidecar first: a reader never sees a new token with old facts. */
		int rc = md_file_write_atomic_owned(side, m, f->mode, f->uid, f->gid, err);
		if (rc)
			return rc;
	}
	return md_file_write_atomic_owned(f->path, c, f->mode, f->uid, f->gid, err);
}

static void parse_meta_comment(const md_secret *c, md_token_meta *m)
{
	const char *s = md_secret_str(c), *p = strstr(s, "# mdcred: ");
	if (!p || (p != s && p[-1] != '\n'))
		return;
	char line[600];
	snprintf(line, sizeof line, "%.*s", (int)strcspn(p + 10, "\n"), p + 10);
	char *save = NULL;
	for (char *kv = strtok_r(line, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (strcmp(kv, "id") == 0)
			snprintf(m->id, sizeof m->id, "%s", eq);
		else if (strcmp(kv, "name") == 0)
			snprintf(m->name, sizeof m->name, "%s", eq);
		else if (strcmp(kv, "token_type") == 0)
			snprintf(m->token_type, sizeof m->token_type, "%s", eq);
		else if (strcmp(kv, "expire_at") == 0 && strcmp(eq, "never") != 0)
			snprintf(m->expire_at, sizeof m->expire_at, "%s", eq);
	}
}

static void read_sidecar(const struct file_store *f, md_token_meta *m)
{
	char side[PATH_MAX + 16];
	_cleanup_secret_ md_secret *c = NULL;
	if (sidecar_path(f, side, sizeof side) < 0 ||
	    md_file_read_secret(side, FILE_MAX, &c, NULL) != MD_OK)
		return;
	_cleanup_json_ md_json d = {0};
	if (md_json_parse(&d, md_secret_str(c), md_secret_len(c), NULL) != MD_OK)
		return;
	md_json_str(&d, md_json_get(&d, 0, "id"), m->id, sizeof m->id);
	md_json_str(&d, md_json_get(&d, 0, "name"), m->name, sizeof m->name);
	md_json_str(&d, md_json_get(&d, 0, "token_type"), m->token_type, sizeof m->token_type);
	md_json_str(&d, md_json_get(&d, 0, "expire_at"), m->expire_at, sizeof m->expire_at);
}

static int file_read(md_store *st, md_store_value *v, md_error *err)
{
	struct file_store *f = st->impl;
	_cleanup_secret_ md_secret *c = NULL;
	int rc = md_file_read_secret(f->path, FILE_MAX, &c, err);
	if (rc == MD_ENOTFOUND) {
		md_err_clear(err);
		return MD_OK; /* holds nothing yet */
	}
	if (rc)
		return rc;
	v->token = md_secret_new(1024);
	if (!v->token)
		return md_err_set(err, MD_EFAIL, "out of memory");
	rc = md_fmt_read_token(c, v->token, &v->meta, err);
	if (rc) {
		md_secret_free(v->token);
		v->token = NULL;
		return rc;
	}
	if (!v->meta.id[0])
		parse_meta_comment(c, &v->meta);
	if (!v->meta.id[0])
		read_sidecar(f, &v->meta);
	return MD_OK;
}

static int file_check(md_store *st, md_error *err)
{
	struct file_store *f = st->impl;
	char side[PATH_MAX + 16];
	int rc = md_file_check_target(f->path, err);
	if (!rc && f->fmt == MD_FMT_TOKEN && sidecar_path(f, side, sizeof side) == 0)
		rc = md_file_check_target(side, err);
	return rc;
}

static void file_free(md_store *st)
{
	free(st->impl);
}

static const struct md_store_ops file_ops = {file_write, file_read, file_check, file_free};

/* path with "//", "." and ".." taken out, as far as text can tell. */
static void path_lexical(const char *path, char *out, size_t sz)
{
	size_t n = 0;
	out[0] = '\0';
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		size_t l = strcspn(p, "/");
		if (l == 0)
			break;
		if (l == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			n = n > 0 ? n - 1 : 0;
		} else if (!(l == 1 && p[0] == '.') && n + l + 2 < sz) {
			out[n++] = '/';
			memcpy(out + n, p, l);
			n += l;
		}
		out[n] = '\0';
		p += l;
	}
	if (n == 0)
		snprintf(out, sz, "/");
}

/* The file's identity: its directory resolved (symlinks too) when it
 * exists, else the path as text says, and its name. */
static void file_ident(const char *path, char *out, size_t sz)
{
	char lex[PATH_MAX], real[PATH_MAX];
	path_lexical(path, lex, sizeof lex);
	char *slash = strrchr(lex, '/');
	*slash = '\0';
	if (realpath(lex[0] ? lex : "/", real))
		snprintf(out, sz, "file:%s/%s", strcmp(real, "/") ? real : "", slash + 1);
	else
		snprintf(out, sz, "file:%s/%s", lex, slash + 1);
}

int md_store_file_open(const md_uri *u, const md_store_opts *o, md_store *st, md_error *err)
{
	(void)o; /* local: no transport */
	/* libcurl takes no host but localhost (which it drops) for file://. */
	if (u->port[0] || u->path[0] != '/')
		return md_err_set(err, MD_EUSAGE, "expected file:///absolute/path");
	if (strlen(u->path) >= PATH_MAX - 16)
		return md_err_set(err, MD_EUSAGE, "path too long");
	struct file_store *f = calloc(1, sizeof *f);
	if (!f)
		return md_err_set(err, MD_EFAIL, "out of memory");
	f->fmt = MD_FMT_JSON;
	f->mode = 0600;
	f->uid = (uid_t)-1;
	f->gid = (gid_t)-1;
	snprintf(f->path, sizeof f->path, "%s", u->path);
	int rc = md_uri_query_each(u->query, file_opt, f, err);
	if (rc) {
		free(f);
		return rc;
	}
	file_ident(f->path, st->ident, sizeof st->ident);
	st->ops = &file_ops;
	st->impl = f;
	return MD_OK;
}
