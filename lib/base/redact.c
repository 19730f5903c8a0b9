/* redact.c - see redact.h. */
#include "base/redact.h"
#include "base/rand.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FP_MAX (1u << 18) /* fingerprints kept: 8 MiB at most */
#define FP_MIN_CAP 64u

/* ---- SipHash-2-4 (Aumasson and Bernstein, 2012) ---- */

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define SIPROUND                                                                             \
	do {                                                                                 \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);                     \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                                         \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                                         \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);                     \
	} while (0)

uint64_t md_siphash24(const unsigned char key[16], const void *in, size_t n)
{
	const unsigned char *p = in;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
	size_t full = n - n % 8;
	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = load_le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)n << 56;
	for (size_t i = 0; i < n % 8; i++)
		b |= (uint64_t)p[full + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the registry ----
 *
 * A ring of fingerprints in insertion order (once FP_MAX are kept, the
 * oldest that no live buffer holds gives way: a value a buffer still holds
 * is never forgotten, however many others a server makes us see) with a
 * hash index on the hash of each value's last 8
 * bytes: chains of entry numbers + 1 (0 ends a chain), one bucket per entry
 * slot. The last bytes, not the first: tokens share their beginnings (every
 * JWT starts with the same encoded header) and end in random signatures, so
 * chains stay short. Text is scanned for where a value could end. */

struct fp {
	uint64_t head;  /* hash of the last MD_REDACT_MIN bytes */
	uint64_t whole; /* hash of the value */
	size_t len;
	uint32_t next;  /* next entry + 1 in the bucket's chain, 0: end */
	uint32_t live;  /* buffers holding the value now (md_redact_pin) */
};

static pthread_rwlock_t fp_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct fp *fp_tab;
static uint32_t *fp_bucket;
static uint32_t fp_n, fp_cap, fp_oldest;
static unsigned char fp_key[16];
static bool fp_keyed;

static uint32_t *bucket_of(uint64_t head)
{
	return &fp_bucket[head & (fp_cap - 1)];
}

static void fp_link(uint32_t i)
{
	uint32_t *b = bucket_of(fp_tab[i].head);
	fp_tab[i].next = *b;
	*b = i + 1;
}

static void fp_unlink(uint32_t i)
{
	uint32_t *link = bucket_of(fp_tab[i].head);
	while (*link && *link != i + 1)
		link = &fp_tab[*link - 1].next;
	if (*link)
		*link = fp_tab[i].next;
}

/* Doubles the table (fp_lock held for writing); false when out of memory. */
static bool fp_grow(void)
{
	uint32_t cap = fp_cap ? fp_cap * 2 : FP_MIN_CAP;
	struct fp *t = realloc(fp_tab, cap * sizeof *t);
	if (!t)
		return false;
	fp_tab = t;
	uint32_t *b = calloc(cap, sizeof *b);
	if (!b)
		return false;
	free(fp_bucket);
	fp_bucket = b;
	fp_cap = cap;
	for (uint32_t i = 0; i < fp_n; i++)
		fp_link(i);
	return true;
}

/* The entry holding this fingerprint, or UINT32_MAX. */
static uint32_t fp_find(uint64_t head, uint64_t whole, size_t len)
{
	for (uint32_t e = fp_cap ? *bucket_of(head) : 0; e; e = fp_tab[e - 1].next)
		if (fp_tab[e - 1].head == head && fp_tab[e - 1].whole == whole &&
		    fp_tab[e - 1].len == len)
			return e - 1;
	return UINT32_MAX;
}

/* A slot for a new entry: a fresh one, or the oldest no buffer holds;
 * UINT32_MAX when there is none (out of memory). fp_lock held. */
static uint32_t fp_slot(void)
{
	if (fp_n < FP_MAX && (fp_n < fp_cap || fp_grow()))
		return fp_n++;
	for (uint32_t k = 0; k < fp_n; k++) {
		uint32_t i = (fp_oldest + k) % fp_n;
		if (fp_tab[i].live)
			continue;
		fp_unlink(i);
		fp_oldest = (i + 1) % fp_n;
		return i;
	}
	/* Every value is held by a live buffer: keep them all. */
	return fp_n < fp_cap || fp_grow() ? fp_n++ : UINT32_MAX;
}

/* Registers p[0..n) (fp_lock held); its entry, or UINT32_MAX. */
static uint32_t fp_add(const void *p, size_t n)
{
	if (!fp_keyed && md_rand_bytes(fp_key, sizeof fp_key) == 0)
		fp_keyed = true;
	/* Without randomness the key stays zero: still a correct registry. */
	uint64_t head = md_siphash24(fp_key, (const char *)p + n - MD_REDACT_MIN, MD_REDACT_MIN);
	uint64_t whole = md_siphash24(fp_key, p, n);
	uint32_t i = fp_find(head, whole, n);
	if (i != UINT32_MAX || (i = fp_slot()) == UINT32_MAX)
		return i;
	fp_tab[i] = (struct fp){head, whole, n, 0, 0};
	fp_link(i);
	return i;
}

void md_redact_add(const void *p, size_t n)
{
	if (!p || n < MD_REDACT_MIN)
		return;
	pthread_rwlock_wrlock(&fp_lock);
	fp_add(p, n);
	pthread_rwlock_unlock(&fp_lock);
}

uint32_t md_redact_pin(const void *p, size_t n)
{
	if (!p || n < MD_REDACT_MIN)
		return 0;
	pthread_rwlock_wrlock(&fp_lock);
	uint32_t i = fp_add(p, n);
	if (i != UINT32_MAX)
		fp_tab[i].live++;
	pthread_rwlock_unlock(&fp_lock);
	return i == UINT32_MAX ? 0 : i + 1;
}

void md_redact_unpin(uint32_t pin)
{
	if (!pin)
		return;
	pthread_rwlock_wrlock(&fp_lock);
	if (pin <= fp_n && fp_tab[pin - 1].live)
		fp_tab[pin - 1].live--;
	pthread_rwlock_unlock(&fp_lock);
}

/* Where a registered value was found: p[start .. start + len). */
struct hit {
	size_t start, len;
};

struct hits {
	struct hit *v;
	size_t n, cap;
	bool lost; /* out of memory: some hits could not be kept */
};

static void hit_add(struct hits *h, size_t start, size_t len)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 8;
		struct hit *v = realloc(h->v, cap * sizeof *v);
		if (!v) {
			h->lost = true;
			return;
		}
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = (struct hit){start, len};
}

/* Every registered value in p[0..n), by where it ends (fp_lock held). */
static void find_hits(const char *p, size_t n, struct hits *h)
{
	for (size_t end = MD_REDACT_MIN; end <= n; end++) {
		uint64_t tail = md_siphash24(fp_key, p + end - MD_REDACT_MIN, MD_REDACT_MIN);
		for (uint32_t e = *bucket_of(tail); e; e = fp_tab[e - 1].next) {
			const struct fp *f = &fp_tab[e - 1];
			if (f->head == tail && f->len <= end &&
			    md_siphash24(fp_key, p + end - f->len, f->len) == f->whole)
				hit_add(h, end - f->len, f->len);
		}
	}
}

/* First the earliest, and of those the longest. */
static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->len < y->len) - (x->len > y->len);
}

void md_redact_buf(char *p, size_t *n)
{
	static const char repl[] = "[redacted]";
	const size_t rl = sizeof repl - 1;
	struct hits h = {0};
	if (!p)
		return;
	pthread_rwlock_rdlock(&fp_lock);
	if (fp_n > 0)
		find_hits(p, *n, &h);
	pthread_rwlock_unlock(&fp_lock);
	if (h.lost) {
		/* Rather nothing than a line that may hold a secret. */
		memset(p, '*', *n);
		free(h.v);
		return;
	}
	if (h.n == 0)
		return; /* the common case: nothing to replace */
	qsort(h.v, h.n, sizeof *h.v, hit_cmp);
	size_t r = 0, w = 0;
	for (size_t i = 0; i < h.n; i++) {
		if (h.v[i].start < r)
			continue; /* inside a value already replaced */
		memmove(p + w, p + r, h.v[i].start - r);
		w += h.v[i].start - r;
		/* The text never grows: w <= start, and what replaces a value is
		 * never longer than it. */
		if (h.v[i].len >= rl) {
			memcpy(p + w, repl, rl);
			w += rl;
		} else {
			memset(p + w, '*', h.v[i].len);
			w += h.v[i].len;
		}
		r = h.v[i].start + h.v[i].len;
	}
	memmove(p + w, p + r, *n - r);
	*n = w + (*n - r);
	free(h.v);
}

void md_redact_str(char *s)
{
	if (!s)
		return;
	size_t n = strlen(s);
	md_redact_buf(s, &n);
	s[n] = '\0';
}

size_t md_redact_count(void)
{
	pthread_rwlock_rdlock(&fp_lock);
	size_t n = fp_n;
	pthread_rwlock_unlock(&fp_lock);
	return n;
}
