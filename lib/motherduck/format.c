/* format.c - see format.h. */
#include "motherduck/format.h"
#include "base/json.h"

#include <string.h>

int md_fmt_parse(const char *s, md_fmt *out, md_error *err)
{
	static const char *const names[] = {"token", "env", "dotenv", "json"};
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (md_fmt)i;
			return MD_OK;
		}
	}
	return md_err_set(err, MD_EUSAGE, "--format: '%.32s' is not token, env, dotenv or json", s);
}

void md_fmt_meta_json(md_jw *w, const md_token_meta *m)
{
	md_jw_key(w, "id");
	md_jw_str(w, m->id);
	md_jw_key(w, "name");
	md_jw_str(w, m->name);
	md_jw_key(w, "token_type");
	md_jw_str(w, m->token_type);
	md_jw_key(w, "expire_at");
	md_jw_str(w, m->expire_at[0] ? m->expire_at : NULL);
	if (m->created_ts[0]) {
		md_jw_key(w, "created_ts");
		md_jw_str(w, m->created_ts);
	}
	md_jw_key(w, "read_only");
	md_jw_bool(w, m->read_only);
}

/* Shell single-quoting: ' becomes '\'' */
static int append_shell_quoted(md_secret *out, const char *s, size_t n)
{
	int rc = md_secret_append(out, "'", 1);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = s[i] == '\'' ? md_secret_append(out, "'\\''", 4) : md_secret_append(out, s + i, 1);
	return rc ? rc : md_secret_append(out, "'", 1);
}

int md_fmt_token(md_secret *out, md_fmt f, const md_token *t, const char *username,
		 const char *var)
{
	const char *v = md_secret_str(t->secret);
	size_t vn = md_secret_len(t->secret);
	var = var ? var : "MOTHERDUCK_TOKEN";
	switch (f) {
	case MD_FMT_TOKEN:
		return md_secret_append(out, v, vn) || md_secret_append(out, "\n", 1) ? -1 : 0;
	case MD_FMT_ENV:
		if (md_secret_appendf(out, "export %s=", var) || append_shell_quoted(out, v, vn))
			return -1;
		return md_secret_append(out, "\n", 1);
	case MD_FMT_DOTENV:
		if (md_secret_appendf(out, "%s=", var) || md_secret_append(out, v, vn))
			return -1;
		return md_secret_append(out, "\n", 1);
	case MD_FMT_JSON: {
		md_jw w;
		md_jw_init(&w, out);
		md_jw_obj_begin(&w);
		md_jw_key(&w, "token");
		md_jw_strn(&w, v, vn);
		md_jw_key(&w, "username");
		md_jw_str(&w, username);
		md_fmt_meta_json(&w, &t->meta);
		md_jw_obj_end(&w);
		return md_jw_ok(&w) ? md_secret_append(out, "\n", 1) : -1;
	}
	}
	return -1;
}

static int read_json(const md_secret *c, md_secret *token, md_token_meta *meta, md_error *err)
{
	_cleanup_json_ md_json d = {0};
	if (md_json_parse(&d, md_secret_str(c), md_secret_len(c), NULL))
		return md_err_set(err, MD_EUSAGE, "token file is not valid JSON");
	int rc = md_json_str_secret(&d, md_json_get(&d, 0, "token"), token) < 0
			 ? md_err_set(err, MD_EUSAGE, "token file has no \"token\" string")
			 : MD_OK;
	if (meta) {
		md_json_str(&d, md_json_get(&d, 0, "id"), meta->id, sizeof meta->id);
		md_json_str(&d, md_json_get(&d, 0, "name"), meta->name, sizeof meta->name);
		md_json_str(&d, md_json_get(&d, 0, "token_type"), meta->token_type,
			    sizeof meta->token_type);
		md_json_str(&d, md_json_get(&d, 0, "expire_at"), meta->expire_at,
			    sizeof meta->expire_at);
	}
	return rc;
}

/* NAME=value or export NAME='value' on the first line that has a '='. */
static int read_assignment(const char *s, size_t n, md_secret *token)
{
	const char *eq = memchr(s, '=', n);
	if (!eq)
		return -1;
	const char *v = eq + 1, *end = memchr(v, '\n', (size_t)(s + n - v));
	if (!end)
		end = s + n;
	md_secret_truncate(token, 0);
	if (v < end && *v == '\'') {
		/* Undo append_shell_quoted: '...' with '\'' for each quote. */
		for (v++; v < end; v++) {
			if (*v == '\'' && end - v >= 4 && memcmp(v, "'\\''", 4) == 0) {
				md_secret_append(token, "'", 1);
				v += 3;
			} else if (*v == '\'') {
				return 0;
			} else {
				md_secret_append(token, v, 1);
			}
		}
		return -1;
	}
	return md_secret_append(token, v, (size_t)(end - v));
}

int md_fmt_read_token(const md_secret *c, md_secret *token, md_token_meta *meta, md_error *err)
{
	const char *s = md_secret_str(c);
	size_t n = md_secret_len(c);
	/* Blank lines and "# ..." comment lines (mdcred's own metadata line in
	 * env and dotenv files) come before the value. */
	for (;;) {
		while (n > 0 && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r'))
			s++, n--;
		if (n == 0 || *s != '#')
			break;
		const char *nl = memchr(s, '\n', n);
		if (!nl) {
			n = 0;
			break;
		}
		n -= (size_t)(nl + 1 - s);
		s = nl + 1;
	}
	int rc;
	if (meta)
		memset(meta, 0, sizeof *meta);
	if (n > 0 && s[0] == '{') {
		rc = read_json(c, token, meta, err);
	} else if (memchr(s, '=', n) && !memchr(s, '.', (size_t)((char *)memchr(s, '=', n) - s))) {
		/* A '=' before any '.' is an assignment; JWTs have '.' first. */
		rc = read_assignment(s, n, token) ? md_err_set(err, MD_EUSAGE,
							     "token file: malformed assignment")
						  : MD_OK;
	} else {
		const char *nl = memchr(s, '\n', n);
		size_t len = nl ? (size_t)(nl - s) : n;
		while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == ' '))
			len--;
		rc = md_secret_set(token, s, len) ? md_err_set(err, MD_EFAIL, "out of memory") : MD_OK;
	}
	if (rc == MD_OK && md_secret_len(token) == 0)
		rc = md_err_set(err, MD_EUSAGE, "token file holds no token");
	if (rc == MD_OK)
		md_secret_watch(token);
	return rc;
}
