/* dupset.c - see dupset.h. */
#include "base/dupset.h"
#include "base/rand.h"
#include "base/redact.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static unsigned char hash_key[16];
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;

static void hash_key_init(void)
{
	/* Without randomness the key stays zero: still a correct set. */
	(void)md_rand_bytes(hash_key, sizeof hash_key);
}

void md_dupset_init(md_dupset *s, md_dupset_key_fn key, const void *ud)
{
	memset(s, 0, sizeof *s);
	s->key = key;
	s->ud = ud;
	pthread_once(&hash_once, hash_key_init);
}

static bool same_key(md_dupset *s, size_t a, const char *kb, size_t lb)
{
	size_t la;
	const char *ka = s->key(s->ud, a, s->scratch[1], &la);
	return ka && la == lb && memcmp(ka, kb, la) == 0;
}

/* The slot holding item's key, or the empty slot it would take. */
static size_t *slot_of(md_dupset *s, const char *k, size_t len)
{
	size_t mask = s->cap - 1;
	for (size_t i = (size_t)md_siphash24(hash_key, k, len) & mask;; i = (i + 1) & mask)
		if (!s->slot[i] || same_key(s, s->slot[i] - 1, k, len))
			return &s->slot[i];
}

static int grow(md_dupset *s)
{
	size_t *old = s->slot, ocap = s->cap;
	size_t ncap = ocap ? ocap * 2 : 64;
	if (!(s->slot = calloc(ncap, sizeof *s->slot))) {
		s->slot = old;
		return -1;
	}
	s->cap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		size_t len;
		const char *k = old[i] ? s->key(s->ud, old[i] - 1, s->scratch[0], &len) : NULL;
		if (k)
			*slot_of(s, k, len) = old[i];
	}
	free(old);
	return 0;
}

int md_dupset_add(md_dupset *s, size_t item, size_t *first)
{
	for (int i = 0; i < 2; i++)
		if (!s->scratch[i] && !(s->scratch[i] = md_secret_new(64)))
			return -1;
	if ((s->n + 1) * 2 > s->cap && grow(s) < 0)
		return -1;
	size_t len;
	const char *k = s->key(s->ud, item, s->scratch[0], &len);
	if (!k)
		return -1;
	size_t *slot = slot_of(s, k, len);
	if (*slot) {
		*first = *slot - 1;
		return 1;
	}
	*slot = item + 1;
	s->n++;
	return 0;
}

void md_dupset_free(md_dupset *s)
{
	free(s->slot);
	md_secret_free(s->scratch[0]);
	md_secret_free(s->scratch[1]);
	memset(s, 0, sizeof *s);
}
