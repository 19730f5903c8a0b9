/* dupset.h - the one duplicate finder.
 *
 * Owns: telling whether an item's key was seen before, in the order items
 * come (so an error names the first repeat, where a person reads it): a
 * hash set of item numbers whose keys the caller supplies. Used for roles
 * and store URIs in a config file, stores that write the same place, and
 * JSON objects that repeat a key. Keys are hashed with SipHash under a
 * per-process random key (redact.h): a server choosing colliding keys
 * cannot make a parse slow.
 */
#ifndef MD_DUPSET_H
#define MD_DUPSET_H

#include <stddef.h>

#include "base/secret.h"

/* Item i's key: its bytes (len in *len), valid until the next call with
 * the same scratch; scratch (secret memory) is there for keys that must
 * be computed (a JSON key unescaped). NULL: the key cannot be read, and
 * the item counts as a repeat of nothing (it is never added). */
typedef const char *(*md_dupset_key_fn)(const void *ud, size_t item, md_secret *scratch,
					 size_t *len);

typedef struct {
	size_t *slot; /* item + 1; 0 is empty */
	size_t cap, n;
	md_dupset_key_fn key;
	const void *ud;
	md_secret *scratch[2];
} md_dupset;

void md_dupset_init(md_dupset *s, md_dupset_key_fn key, const void *ud);
/* 0: added; 1: its key was there, *first is the earlier item; -1: out of
 * memory (or an unreadable key). */
int md_dupset_add(md_dupset *s, size_t item, size_t *first);
void md_dupset_free(md_dupset *s);

#endif
