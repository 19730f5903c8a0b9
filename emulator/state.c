/* state.c - the emulated org, its clock and its run-time settings.
 *
 * Owns: the user list (creation order), each user's tokens, the lookups by
 * name, id and digest, the emulator clock (real time plus an offset that
 * tests advance), the run-time config, the seed tokens that /_emulator/reset
 * restores, and the one mutex that guards all of it. Callers hold the lock
 * (emu_lock) around every function here except emu_lock/emu_unlock.
 */
#include "emu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Revoked or expired tokens kept per user for the state read-out. */
#define EMU_DEAD_KEEP 1000
/* The clock may be moved at most this far (about 200 years). */
#define EMU_OFFSET_MAX (200LL * 366 * 86400)

static pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;
static struct emu_user *st_users;
static long long st_offset;
static struct emu_cfg st_cfg = {200, 16};
static struct emu_cfg st_cfg_start = {200, 16};
static struct emu_token *st_seed_admin;
static struct emu_token *st_seed_member;

void emu_lock(void)
{
	pthread_mutex_lock(&st_lock);
}

void emu_unlock(void)
{
	pthread_mutex_unlock(&st_lock);
}

long long emu_now(void)
{
	return (long long)time(NULL) + st_offset;
}

long long emu_clock_offset(void)
{
	return st_offset;
}

int emu_clock_advance(long long seconds)
{
	if (seconds < 0 || seconds > EMU_OFFSET_MAX - st_offset)
		return -1;
	st_offset += seconds;
	return 0;
}

void emu_time_fmt(long long t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strcpy(out, "1970-01-01T00:00:00Z");
}

struct emu_cfg *emu_cfg(void)
{
	return &st_cfg;
}

void emu_cfg_set_start(const struct emu_cfg *cfg)
{
	st_cfg = *cfg;
	st_cfg_start = *cfg;
}

const char *emu_kind_name(enum emu_kind k)
{
	switch (k) {
	case EMU_ADMIN: return "admin";
	case EMU_MEMBER: return "member";
	default: return "service";
	}
}

const char *emu_ttype_name(enum emu_ttype t)
{
	return t == EMU_READ_SCALING ? "read_scaling" : "read_write";
}

/* ---- users ---- */

struct emu_user *emu_users(void)
{
	return st_users;
}

struct emu_user *emu_user_find(const char *name)
{
	for (struct emu_user *u = st_users; u; u = u->next)
		if (strcasecmp(u->name, name) == 0)
			return u;
	return NULL;
}

struct emu_user *emu_user_add(const char *name, enum emu_kind kind)
{
	size_t n = strlen(name);
	if (n == 0 || n > EMU_NAME_MAX)
		return NULL;
	struct emu_user *u = calloc(1, sizeof *u);
	if (!u)
		return NULL;
	memcpy(u->name, name, n + 1);
	u->kind = kind;
	emu_ducks_default(&u->ducks);
	struct emu_user **pp = &st_users;
	while (*pp)
		pp = &(*pp)->next;
	*pp = u;
	return u;
}

static void user_free(struct emu_user *u)
{
	struct emu_token *t = u->tokens;
	while (t) {
		struct emu_token *next = t->next;
		emu_token_free(t);
		t = next;
	}
	free(u);
}

void emu_user_remove(struct emu_user *u)
{
	for (struct emu_user **pp = &st_users; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			user_free(u);
			return;
		}
	}
}

/* ---- tokens ---- */

void emu_token_free(struct emu_token *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->desc);
	free(t);
}

bool emu_token_live(const struct emu_token *t, long long now)
{
	return !t->revoked && (t->expire == 0 || t->expire > now);
}

/* Drops the oldest dead token once a user holds too many of them. */
static void token_prune(struct emu_user *u)
{
	long long now = emu_now();
	size_t dead = 0;
	for (struct emu_token *t = u->tokens; t; t = t->next)
		dead += !emu_token_live(t, now);
	if (dead <= EMU_DEAD_KEEP)
		return;
	for (struct emu_token **pp = &u->tokens; *pp; pp = &(*pp)->next) {
		if (!emu_token_live(*pp, now)) {
			struct emu_token *t = *pp;
			*pp = t->next;
			emu_token_free(t);
			return;
		}
	}
}

void emu_token_attach(struct emu_user *u, struct emu_token *t)
{
	struct emu_token **pp = &u->tokens;
	while (*pp)
		pp = &(*pp)->next;
	t->next = NULL;
	*pp = t;
	token_prune(u);
}

struct emu_token *emu_token_by_digest(const unsigned char *d, struct emu_user **owner)
{
	for (struct emu_user *u = st_users; u; u = u->next) {
		for (struct emu_token *t = u->tokens; t; t = t->next) {
			if (memcmp(t->digest, d, EMU_DIGEST_LEN) == 0) {
				*owner = u;
				return t;
			}
		}
	}
	*owner = NULL;
	return NULL;
}

struct emu_token *emu_token_by_id(struct emu_user *u, const char *id, long long now)
{
	for (struct emu_token *t = u->tokens; t; t = t->next)
		if (emu_token_live(t, now) && strcasecmp(t->id, id) == 0)
			return t;
	return NULL;
}

struct emu_token *emu_token_by_name(struct emu_user *u, const char *name, long long now)
{
	for (struct emu_token *t = u->tokens; t; t = t->next)
		if (emu_token_live(t, now) && strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

/* ---- the org ---- */

static struct emu_token *token_clone(const struct emu_token *src)
{
	struct emu_token *t = malloc(sizeof *t);
	if (!t)
		return NULL;
	*t = *src;
	t->next = NULL;
	t->desc = NULL;
	t->name = strdup(src->name);
	if (!t->name) {
		free(t);
		return NULL;
	}
	return t;
}

/* Creates a human user holding one read_write token without expiry. */
static int org_human(const char *name, enum emu_kind kind, const char *tname,
		     md_secret *value, struct emu_token **seed)
{
	struct emu_user *u = emu_user_add(name, kind);
	if (!u)
		return -1;
	struct emu_token *t = emu_token_mint(u, tname, NULL, EMU_READ_WRITE, 0, value);
	if (!t)
		return -1;
	*seed = token_clone(t);
	return *seed ? 0 : -1;
}

int emu_org_init(md_secret *admin_value, md_secret *member_value, md_error *err)
{
	if (org_human("admin", EMU_ADMIN, "emulator-admin", admin_value, &st_seed_admin) < 0 ||
	    org_human("member", EMU_MEMBER, "emulator-member", member_value,
		      &st_seed_member) < 0) {
		emu_org_free();
		return md_err_set(err, MD_EFAIL, "cannot create the initial org (out of memory "
				  "or no randomness)");
	}
	return MD_OK;
}

static void org_clear_users(void)
{
	while (st_users) {
		struct emu_user *u = st_users;
		st_users = u->next;
		user_free(u);
	}
}

static void org_restore(const char *name, enum emu_kind kind, const struct emu_token *seed)
{
	struct emu_user *u = emu_user_add(name, kind);
	struct emu_token *t = seed ? token_clone(seed) : NULL;
	if (u && t)
		emu_token_attach(u, t);
	else
		emu_token_free(t);
}

void emu_org_reset(void)
{
	org_clear_users();
	st_offset = 0;
	st_cfg = st_cfg_start;
	org_restore("admin", EMU_ADMIN, st_seed_admin);
	org_restore("member", EMU_MEMBER, st_seed_member);
}

void emu_org_free(void)
{
	org_clear_users();
	emu_token_free(st_seed_admin);
	emu_token_free(st_seed_member);
	st_seed_admin = st_seed_member = NULL;
}
