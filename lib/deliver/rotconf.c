/* rotconf.c - see rotconf.h. */
#include "deliver/rotconf.h"
#include "base/dupset.h"
#include "base/log.h"
#include "deliver/rotate.h"
#include "base/validate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RC_MAX_LINE 4096
#define RC_MAX_FILE (16u * 1024 * 1024)

enum { RC_USERNAME, RC_STORE, RC_TYPE, RC_TTL, RC_EVERY, RC_GRACE, RC_KEEP, RC_NKEYS };

static const char *const rc_keys[RC_NKEYS] = {
	"username", "store", "token_type", "ttl", "every", "grace", "keep",
};

/* The keys one block (the defaults, or the open section) has given. */
typedef struct {
	unsigned set;          /* 1u << key for each key given */
	int first[RC_NKEYS];   /* the line it was given on, to point at it */
	char token_type[16];
	long long ttl, every, grace;
	int keep;
} rc_opts;

/* Role names and store URIs go into open-addressed hash sets so that a
 * 10000-role file is checked in linear time. Slots hold item numbers, not
 * pointers, because the roles array moves as it grows: a role's item is its
 * index, a store's is role * MD_ROTCONF_MAX_STORES + its index. */

typedef struct {
	const char *name;
	md_rotconf *conf;
	size_t cap;
	bool in_section;
	rc_opts defaults, cur;
	md_dupset roles, stores; /* items: role i; store i * MAX_STORES + k */
	int line;
	md_error *err;
} rc_parser;

static int rc_at(const rc_parser *p, int line, int rc)
{
	md_err_prefix(p->err, "%s:%d", p->name, line);
	return rc;
}

static int rc_fail(const rc_parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rc_fail(const rc_parser *p, int line, const char *fmt, ...)
{
	char msg[MD_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	md_err_set(p->err, MD_EUSAGE, "%s", msg);
	return rc_at(p, line, MD_EUSAGE);
}

static const char *role_key(const void *ud, size_t item, md_secret *scratch, size_t *len)
{
	(void)scratch;
	const md_rotconf *c = ud;
	*len = strlen(c->roles[item].role);
	return c->roles[item].role;
}

static const char *store_key(const void *ud, size_t item, md_secret *scratch, size_t *len)
{
	(void)scratch;
	const md_rotconf *c = ud;
	const char *uri = c->roles[item / MD_ROTCONF_MAX_STORES].stores[item % MD_ROTCONF_MAX_STORES];
	*len = strlen(uri);
	return uri;
}

static md_rotconf_role *rc_cur(const rc_parser *p)
{
	return &p->conf->roles[p->conf->n - 1];
}

static char *rc_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* The section's own value for key k, else the default block's, else NULL. */
static const rc_opts *rc_pick(const rc_parser *p, int k)
{
	if (p->cur.set & 1u << k)
		return &p->cur;
	return p->defaults.set & 1u << k ? &p->defaults : NULL;
}

static int rc_close_section(rc_parser *p)
{
	if (!p->in_section)
		return MD_OK;
	md_rotconf_role *r = rc_cur(p);
	if (!(p->cur.set & 1u << RC_USERNAME))
		return rc_fail(p, r->line, "[%s] has no username", r->role);
	if (r->nstores == 0)
		return rc_fail(p, r->line, "[%s] has no store", r->role);
	const rc_opts *o = rc_pick(p, RC_TYPE);
	snprintf(r->token_type, sizeof r->token_type, "%s", o ? o->token_type : "read_write");
	o = rc_pick(p, RC_TTL);
	r->ttl = o ? o->ttl : MD_TTL_DEFAULT;
	/* As for one-role rotate: replace a token halfway through its own life. */
	o = rc_pick(p, RC_EVERY);
	r->every = o ? o->every : md_rot_default_every(r->ttl);
	o = rc_pick(p, RC_GRACE);
	r->grace = o ? o->grace : 3600;
	o = rc_pick(p, RC_KEEP);
	r->keep = o ? o->keep : 2;
	p->in_section = false;
	return MD_OK;
}

static int rc_new_role(rc_parser *p, const char *name)
{
	md_rotconf *c = p->conf;
	if (c->n == MD_ROTCONF_MAX_ROLES)
		return rc_fail(p, p->line, "more than %d roles", MD_ROTCONF_MAX_ROLES);
	if (c->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 16;
		md_rotconf_role *nr = realloc(c->roles, ncap * sizeof *nr);
		if (!nr)
			return md_err_set(p->err, MD_EFAIL, "out of memory");
		c->roles = nr;
		p->cap = ncap;
	}
	md_rotconf_role *r = &c->roles[c->n++];
	memset(r, 0, sizeof *r);
	snprintf(r->role, sizeof r->role, "%s", name);
	r->line = p->line;
	size_t first;
	int dup = md_dupset_add(&p->roles, c->n - 1, &first);
	if (dup < 0)
		return md_err_set(p->err, MD_EFAIL, "out of memory");
	if (dup)
		return rc_fail(p, p->line, "[%s] is already defined at line %d", name,
			       c->roles[first].line);
	memset(&p->cur, 0, sizeof p->cur);
	p->in_section = true;
	return MD_OK;
}

/* s is the trimmed line, starting with '['. */
static int rc_section(rc_parser *p, char *s)
{
	int rc = rc_close_section(p);
	if (rc)
		return rc;
	size_t n = strlen(s);
	if (s[n - 1] != ']')
		return rc_fail(p, p->line, "a section header is [ROLE], with nothing after ']'");
	s[n - 1] = '\0';
	if ((rc = md_rot_valid_role(s + 1, p->err)))
		return rc_at(p, p->line, rc);
	return rc_new_role(p, s + 1);
}

/* Errors here are left unprefixed: the caller adds FILE:LINE. */
static int rc_add_store(rc_parser *p, md_rotconf_role *r, const char *uri)
{
	if (strncmp(uri, "file://", 7) != 0 && strncmp(uri, "vault://", 8) != 0 &&
	    strncmp(uri, "k8s://", 6) != 0)
		return md_err_set(p->err, MD_EUSAGE,
				  "store '%.64s': expected a file://, vault:// or k8s:// URI", uri);
	if (r->nstores == MD_ROTCONF_MAX_STORES)
		return md_err_set(p->err, MD_EUSAGE, "[%s] has more than %d stores", r->role,
				  MD_ROTCONF_MAX_STORES);
	char *dup = strdup(uri);
	if (!dup)
		return md_err_set(p->err, MD_EFAIL, "out of memory");
	size_t ri = p->conf->n - 1, first;
	r->store_line[r->nstores] = p->line;
	r->stores[r->nstores++] = dup;
	int seen = md_dupset_add(&p->stores, ri * MD_ROTCONF_MAX_STORES + r->nstores - 1,
			      &first);
	if (seen < 0)
		return md_err_set(p->err, MD_EFAIL, "out of memory");
	if (seen) {
		const md_rotconf_role *owner = &p->conf->roles[first / MD_ROTCONF_MAX_STORES];
		return md_err_set(p->err, MD_EUSAGE, "store '%.64s' is already used by [%s] (line %d)",
				  uri, owner->role, owner->line);
	}
	return MD_OK;
}

/* Checks val for key k and keeps it in o (or in the open role). Errors are
 * left unprefixed: the caller adds FILE:LINE. */
static int rc_apply(rc_parser *p, rc_opts *o, int k, const char *val)
{
	long long v;
	int rc;
	switch (k) {
	case RC_USERNAME:
		if ((rc = md_valid_username(val, p->err)))
			return rc;
		snprintf(rc_cur(p)->username, sizeof rc_cur(p)->username, "%s", val);
		return MD_OK;
	case RC_STORE:
		return rc_add_store(p, rc_cur(p), val);
	case RC_TYPE:
		if ((rc = md_valid_token_type(val, p->err)))
			return rc;
		snprintf(o->token_type, sizeof o->token_type, "%s", val);
		return MD_OK;
	case RC_TTL:
		if ((rc = md_valid_ttl(val, &o->ttl, p->err)))
			return rc;
		if (o->ttl == MD_TTL_NONE)
			md_log_warn("%s:%d: ttl = none: a token minted with it never expires; revoke "
				    "it when it is no longer needed", p->name, p->line);
		return MD_OK;
	case RC_EVERY:
		return md_valid_duration("every", val, false, &o->every, p->err);
	case RC_GRACE:
		return md_valid_duration("grace", val, false, &o->grace, p->err);
	default: /* RC_KEEP */
		if ((rc = md_valid_int("keep", val, 1, 100, &v, p->err)))
			return rc;
		o->keep = (int)v;
		return MD_OK;
	}
}

static int rc_key_value(rc_parser *p, const char *key, const char *val)
{
	int k = 0;
	while (k < RC_NKEYS && strcmp(rc_keys[k], key) != 0)
		k++;
	if (k == RC_NKEYS)
		return rc_fail(p, p->line, "unknown key '%.64s'", key);
	if (!p->in_section && (k == RC_USERNAME || k == RC_STORE))
		return rc_fail(p, p->line, "%s belongs in a [role] section", key);
	if (!*val)
		return rc_fail(p, p->line, "%s has no value", key);
	rc_opts *o = p->in_section ? &p->cur : &p->defaults;
	if (k != RC_STORE && (o->set & 1u << k))
		return rc_fail(p, p->line, "%s is already set at line %d", key, o->first[k]);
	int rc = rc_apply(p, o, k, val);
	if (rc)
		return rc_at(p, p->line, rc);
	o->set |= 1u << k;
	o->first[k] = p->line;
	return MD_OK;
}

/* One line without its "\n" (a "\r" before it is dropped too). */
static int rc_line(rc_parser *p, const char *text, size_t n)
{
	if (n && text[n - 1] == '\r')
		n--;
	if (n > RC_MAX_LINE)
		return rc_fail(p, p->line, "line is longer than %d bytes", RC_MAX_LINE);
	if (memchr(text, '\0', n))
		return rc_fail(p, p->line, "NUL byte");
	char buf[RC_MAX_LINE + 1];
	memcpy(buf, text, n);
	buf[n] = '\0';
	char *s = rc_trim(buf);
	if (!*s || *s == '#' || *s == ';')
		return MD_OK;
	if (*s == '[')
		return rc_section(p, s);
	char *eq = strchr(s, '=');
	if (!eq)
		return rc_fail(p, p->line,
			       "expected 'key = value', '[role]', a comment or a blank line");
	*eq = '\0';
	return rc_key_value(p, rc_trim(s), rc_trim(eq + 1));
}

int md_rotconf_parse(const char *name, const char *text, size_t len, md_rotconf *conf,
		     md_error *err)
{
	memset(conf, 0, sizeof *conf);
	if (len > RC_MAX_FILE)
		return md_err_set(err, MD_EUSAGE, "%s: larger than 16 MiB", name);
	rc_parser p = {.name = name, .conf = conf, .err = err};
	md_dupset_init(&p.roles, role_key, conf);
	md_dupset_init(&p.stores, store_key, conf);
	int rc = MD_OK;
	for (size_t off = 0; rc == MD_OK && off < len;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		p.line++;
		rc = rc_line(&p, text + off, n);
		off += n + 1;
	}
	if (!rc)
		rc = rc_close_section(&p);
	if (!rc && conf->n == 0)
		rc = md_err_set(err, MD_EUSAGE, "%s: no [role] sections", name);
	if (!rc && !(conf->name = strdup(name)))
		rc = md_err_set(err, MD_EFAIL, "out of memory");
	md_dupset_free(&p.roles);
	md_dupset_free(&p.stores);
	if (rc)
		md_rotconf_free(conf);
	return rc;
}

/* Reads at most one byte past the size limit: enough for the parser to say
 * the file is too big without holding all of a huge one. */
static int rc_read(const char *path, char **out, size_t *outlen, md_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return md_err_set(err, errno == ENOENT ? MD_ENOTFOUND : MD_EFAIL, "config %s: %s",
				  path, strerror(errno));
	size_t cap = 0, len = 0, want = (size_t)RC_MAX_FILE + 1;
	char *buf = NULL;
	int rc = MD_OK;
	while (rc == MD_OK && len < want) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			if (ncap > want)
				ncap = want;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				rc = md_err_set(err, MD_EFAIL, "config %s: out of memory", path);
				break;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r == 0)
			break;
		if (r > 0)
			len += (size_t)r;
		else if (errno != EINTR)
			rc = md_err_set(err, MD_EFAIL, "config %s: %s", path, strerror(errno));
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = len;
	return MD_OK;
}

int md_rotconf_load(const char *path, md_rotconf *conf, md_error *err)
{
	memset(conf, 0, sizeof *conf);
	char *text = NULL;
	size_t len = 0;
	int rc = rc_read(path, &text, &len, err);
	if (rc)
		return rc;
	rc = md_rotconf_parse(path, text, len, conf, err);
	free(text);
	return rc;
}

void md_rotconf_free(md_rotconf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->n; i++)
		for (size_t k = 0; k < conf->roles[i].nstores; k++)
			free(conf->roles[i].stores[k]);
	free(conf->roles);
	free(conf->name);
	memset(conf, 0, sizeof *conf);
}
