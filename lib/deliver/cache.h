/* cache.h - the token cache behind `mdcred get`.
 *
 * Owns: the freshness decision (a pure function of expire_at, now and the
 * wanted remaining time; timestamps are read by base/time.h), the three caches
 * (the Linux kernel keyring, a file:/// JSON file written atomically 0600,
 * none), and the per-(username, token type) lock file under which a stale
 * cache is refilled, so concurrent callers mint once.
 *
 * Keyring: key type "user" in the user keyring (@u), description
 * "mdcred:<api host>:<username>:<token_type>", payload the JSON of
 * md_fmt_token(MD_FMT_JSON), timeout = seconds until expire_at. It talks to
 * the kernel through add_key(2)/keyctl(2) directly (syscall(2)), so mdcred
 * stays libc-only; no libkeyutils is needed. Payloads are only ever held in
 * md_secret buffers: the token never touches disk.
 */
#ifndef MD_CACHE_H
#define MD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "motherduck/api.h"
#include "base/error.h"
#include "base/secret.h"

/* ---- freshness (pure) ---- */

typedef enum {
	MD_EXP_UNKNOWN = 0, /* absent or unparsable: counts as stale */
	MD_EXP_AT,          /* expires at a known time */
	MD_EXP_NEVER,       /* --ttl none: never stale by time */
} md_exp_kind;

/* True when a token with this expiry still has at least min_remaining
 * seconds left at now. UNKNOWN is never fresh; NEVER always is. */
bool md_cache_fresh(md_exp_kind kind, time_t expire_at, time_t now, long long min_remaining);

/* ---- the kernel keyring (direct syscalls) ---- */

/* Result codes of the keyring calls besides MD_OK. */
#define MD_KEYRING_MISS 1        /* no such key (absent, expired, revoked) */
#define MD_KEYRING_UNAVAILABLE 2 /* ENOSYS/EPERM/EACCES/...: no keyring here */

/* "mdcred:<host[:port]>:<username>:<token_type>" from the API base URL. */
int md_keyring_desc(char *out, size_t sz, const char *api_url, const char *username,
		    const char *token_type);
/* Adds (or replaces) the key with payload; timeout_secs > 0 sets the key's
 * timeout, 0 leaves it permanent. MD_OK, MD_KEYRING_UNAVAILABLE (errno_out
 * set) or MD_EFAIL (err set). A key whose timeout cannot be set is removed. */
int md_keyring_put(const char *desc, const md_secret *payload, long long timeout_secs,
		   int *errno_out, md_error *err);
/* Reads the key's payload into out (secret memory). MD_OK, MD_KEYRING_MISS,
 * MD_KEYRING_UNAVAILABLE (errno_out set) or MD_EFAIL. */
int md_keyring_get(const char *desc, md_secret *out, int *errno_out, md_error *err);
/* Invalidates every key in @u whose description starts with prefix;
 * returns how many, or -1. */
int md_keyring_purge(const char *prefix);
/* True if this process can add, read and remove a user key. */
bool md_keyring_available(void);

/* ---- the cache a `get` uses ---- */

typedef enum { MD_CACHE_KEYRING, MD_CACHE_FILE, MD_CACHE_NONE } md_cache_kind;

typedef struct {
	md_cache_kind kind;
	char path[4096];       /* file cache */
	char desc[600];        /* keyring description */
	char lock_path[4200];
	const char *username;
	const char *token_type;
	bool warned;           /* the keyring fallback warning was printed */
} md_cache;

typedef struct {
	md_token tok;          /* tok.secret NULL: nothing cached */
	md_exp_kind exp_kind;
	time_t expire_at;
} md_cache_entry;

/* Parses --cache (NULL: keyring) and fills c; validation only (MD_EUSAGE). */
int md_cache_init(md_cache *c, const char *spec, const char *api_url, const char *username,
		  const char *token_type, md_error *err);
/* Parses a cached JSON document (md_fmt_token's json) for username and
 * token_type into e; MD_OK with e->tok.secret NULL when it does not fit. */
int md_cache_decode(const md_secret *doc, const char *username, const char *token_type,
		    md_cache_entry *e, md_error *err);
/* Loads what the cache holds (a miss, an unreadable or foreign entry, or an
 * unavailable keyring leave e->tok.secret NULL; the keyring falls back to
 * none with one warning). Never fails the command for a cache problem. */
void md_cache_load(md_cache *c, md_cache_entry *e);
/* Stores a freshly minted token (warns, never fails, on a cache problem). */
void md_cache_store(md_cache *c, const md_token *t, time_t now);
/* Takes the cache's exclusive lock, waiting at most wait_ms for another
 * caller to finish (then MD_ETRANSIENT, naming the holder); returns the
 * fd, or -1 with err set (MD_EUSAGE: a lock file or directory another
 * user could control, lock.h). The kernel drops it when the process ends. */
int md_cache_lock(md_cache *c, long wait_ms, md_error *err);
void md_cache_unlock(int fd);
void md_cache_entry_clear(md_cache_entry *e);

#endif
