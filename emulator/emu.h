/* emu.h - shared types of mdcred-emulator, the MotherDuck admin API stand-in.
 *
 * Owns: the in-memory org model (users, tokens, Duckling configs), the call
 * record a request handler fills in, and the prototypes that tie the modules
 * together:
 *   main.c     options, start-up, token files, TLS material, signals
 *   http.c     libmicrohttpd glue: bodies, paths, faults, replies, logging
 *   state.c    the org, the clock, run-time config, the global lock
 *   token.c    token values (JWT-shaped), ids, digests, --record-tokens
 *   api.c      /v1/ routes: auth, users, tokens, active_accounts
 *   ducks.c    /v1/users/{u}/instances and Duckling config validation
 *   faults.c   fault rules, the request log and in-flight count of the
 *              control plane
 *   control.c  /_emulator/ routes and the state read-out
 *
 * Every piece of shared state is guarded by one mutex (emu_lock()). The
 * emulator never keeps a token value: a token is remembered by its SHA-256
 * digest, and the value lives only in the md_secret of the answer that
 * carries it.
 */
#ifndef EMU_H
#define EMU_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/json.h"
#include "base/secret.h"

struct sockaddr;

#define EMU_PROG "mdcred-emulator"
#define EMU_BODY_MAX (1u << 20)    /* larger request bodies: 413 */
#define EMU_NAME_MAX 255           /* usernames and token names, characters */
#define EMU_DESC_MAX 1000          /* token descriptions, characters */
#define EMU_TTL_MIN 300LL
#define EMU_TTL_MAX 31536000LL
#define EMU_FLOCK_MAX 64
#define EMU_MAX_SEGS 8             /* path segments a route can have */
#define EMU_MAX_ISSUES 16
#define EMU_ID_LEN 36              /* UUID text */
#define EMU_DIGEST_LEN 32

/* ---- the org ---- */

enum emu_kind { EMU_ADMIN, EMU_MEMBER, EMU_SERVICE };
enum emu_ttype { EMU_READ_WRITE, EMU_READ_SCALING };

struct emu_block {
	char size[16];       /* pulse | standard | jumbo | mega | giga */
	long long cooldown;  /* 0: not set */
	long long flock;     /* read_scaling only */
};

struct emu_ducks {
	struct emu_block rw;
	struct emu_block rs;
};

struct emu_token {
	char id[EMU_ID_LEN + 1];
	char *name;
	char *desc;          /* NULL: none */
	enum emu_ttype type;
	long long created;   /* emulator clock, seconds */
	long long expire;    /* 0: never */
	bool revoked;
	unsigned char digest[EMU_DIGEST_LEN];
	struct emu_token *next;
};

struct emu_user {
	char name[EMU_NAME_MAX + 1];
	enum emu_kind kind;
	struct emu_ducks ducks;
	struct emu_token *tokens;   /* oldest first */
	struct emu_user *next;
};

/* Run-time settings: command line values, changed by /_emulator/config. */
struct emu_cfg {
	int delete_status;   /* 200 or 204 */
	int flock_limit;     /* plan limit on read_scaling.flock_size */
};

/* ---- one request ---- */

struct emu_reply {
	unsigned status;
	const char *ctype;   /* NULL: no body */
	md_secret *body;
	char retry_after[64];
};

struct emu_issues {
	int n;
	char msg[EMU_MAX_ISSUES][160];
};

struct emu_call {
	const char *method;
	const char *path;               /* raw, query removed */
	int nseg;                       /* -1: too many segments */
	char *seg[EMU_MAX_SEGS];        /* percent-decoded */
	bool seg_bad[EMU_MAX_SEGS];     /* bad escape, '/', or NUL after decoding */
	const char *auth;               /* Authorization header, may be NULL */
	const char *ctype;              /* Content-Type header, may be NULL */
	const char *body;
	size_t body_len;
	bool body_too_big;
	struct emu_reply rep;
	/* for the -v log: who called (never a token value) */
	char who[EMU_NAME_MAX + 1];
	char tid[EMU_ID_LEN + 1];
};

/* ---- state.c ---- */
void emu_lock(void);
void emu_unlock(void);
long long emu_now(void);
long long emu_clock_offset(void);
int emu_clock_advance(long long seconds);
void emu_time_fmt(long long t, char out[32]);
struct emu_cfg *emu_cfg(void);
void emu_cfg_set_start(const struct emu_cfg *cfg);
struct emu_user *emu_users(void);
struct emu_user *emu_user_find(const char *name);
struct emu_user *emu_user_add(const char *name, enum emu_kind kind);
void emu_user_remove(struct emu_user *u);
void emu_token_attach(struct emu_user *u, struct emu_token *t);
void emu_token_free(struct emu_token *t);
bool emu_token_live(const struct emu_token *t, long long now);
struct emu_token *emu_token_by_digest(const unsigned char *d, struct emu_user **owner);
struct emu_token *emu_token_by_id(struct emu_user *u, const char *id, long long now);
struct emu_token *emu_token_by_name(struct emu_user *u, const char *name, long long now);
int emu_org_init(md_secret *admin_value, md_secret *member_value, md_error *err);
void emu_org_reset(void);
void emu_org_free(void);
const char *emu_kind_name(enum emu_kind k);
const char *emu_ttype_name(enum emu_ttype t);

/* ---- token.c ---- */
int emu_uuid4(char out[EMU_ID_LEN + 1]);
void emu_digest(const char *s, size_t n, unsigned char out[EMU_DIGEST_LEN]);
struct emu_token *emu_token_mint(struct emu_user *u, const char *name, const char *desc,
				 enum emu_ttype type, long long ttl, md_secret *value);
int emu_record_open(const char *path, md_error *err);
void emu_record_close(void);
/* The metadata members of a token, written into an open JSON object. */
void emu_token_meta(md_jw *w, const struct emu_token *t);

/* ---- http.c ---- */
int emu_http_start(const struct sockaddr *sa, bool tls, const char *cert,
		   const char *key, unsigned *port, md_error *err);
void emu_http_stop(void);
/* Lets every request a "hold" fault holds go on (POST /_emulator/release,
 * and a reset). */
void emu_http_release(void);
void emu_reply_json(struct emu_call *c, unsigned status, md_secret *body, md_jw *w);
void emu_reply_error(struct emu_call *c, unsigned status, const char *message,
		     const struct emu_issues *iss);
void emu_reply_error1(struct emu_call *c, unsigned status, const char *message,
		      const char *issue);
void emu_reply_empty(struct emu_call *c, unsigned status);
void emu_reply_not_found_text(struct emu_call *c);
int emu_body_json(struct emu_call *c, md_json *doc, bool strict_ctype);
const char *emu_status_code(unsigned status);
void emu_issue(struct emu_issues *iss, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
long emu_utf8_chars(const char *s);

/* ---- api.c ---- */
bool emu_api(struct emu_call *c);

/* ---- ducks.c ---- */
void emu_ducks_default(struct emu_ducks *d);
void emu_ducks_write(md_jw *w, const struct emu_ducks *d);
void emu_api_instances_get(struct emu_call *c, struct emu_user *u);
void emu_api_instances_put(struct emu_call *c, const char *username);

/* ---- faults.c ---- */
enum emu_action {
	EMU_F_NONE = 0, EMU_F_STATUS, EMU_F_DROP, EMU_F_DROP_AFTER, EMU_F_DELAY, EMU_F_HOLD
};
struct emu_fault_hit {
	enum emu_action action;
	unsigned status;
	long delay_ms;
	char retry_after[64];
};
int emu_fault_add(const md_json *doc, struct emu_issues *iss);
bool emu_fault_take(const char *method, const char *path, struct emu_fault_hit *hit);
void emu_faults_clear(void);
void emu_faults_write(md_jw *w);
size_t emu_faults_pending(void);
const char *emu_action_name(enum emu_action a);
void emu_reqlog_add(const char *method, const char *path, unsigned status,
		    enum emu_action fault);
void emu_reqlog_begin(void);
void emu_reqlog_end(void);
void emu_reqlog_write(md_jw *w);
void emu_reqlog_clear(void);

/* ---- control.c ---- */
bool emu_control(struct emu_call *c);

#endif
