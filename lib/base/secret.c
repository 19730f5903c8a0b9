/* secret.c - see secret.h. */
#define _GNU_SOURCE
#include "base/secret.h"
#include "base/redact.h"
#include "base/text.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>


struct md_secret {
	char *data;
	size_t len;
	size_t cap; /* bytes mapped */
	bool locked;
	bool watched; /* every value it holds is registered (redact.h) */
	uint32_t pin; /* the registry entry of what it holds now, pinned */
};

void md_secret_wipe(void *p, size_t n)
{
	/* explicit_bzero is glibc's non-elidable wipe: the guarantee of
	 * OPENSSL_cleanse without loading libcrypto at every start. */
	explicit_bzero(p, n);
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	if (n == 0)
		n = 1;
	return (n + pg - 1) / pg * pg;
}

static char *region_map(size_t cap, bool *locked)
{
	void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, cap, MADV_DONTDUMP);
	/* mlock can fail under RLIMIT_MEMLOCK; the buffer is still wiped and
	 * kept out of dumps, so this is "locked where allowed". */
	*locked = mlock(p, cap) == 0;
	return p;
}

static void region_unmap(char *p, size_t cap, bool locked)
{
	if (!p)
		return;
	md_secret_wipe(p, cap);
	if (locked)
		munlock(p, cap);
	munmap(p, cap);
}

/* The arena: buffers up to ARENA_MAX come from locked, non-dumpable chunks
 * in power-of-two size classes and go back to a free list, wiped. A mapping
 * per buffer meant mmap/mlock/munmap on every request, and munmap in a
 * threaded process stalls every thread (mm lock, TLB shootdown). */
#define ARENA_MIN 256u
#define ARENA_MAX (64u * 1024)
#define ARENA_CLASSES 9 /* 256 B .. 64 KiB */

struct arena_blk {
	struct arena_blk *next;
	bool locked;
};

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena_blk *arena_free[ARENA_CLASSES];

static size_t secret_cap(size_t n)
{
	if (n > ARENA_MAX)
		return page_round(n);
	size_t c = ARENA_MIN;
	while (c < n)
		c <<= 1;
	return c;
}

static int arena_class(size_t cap)
{
	int k = 0;
	for (size_t c = ARENA_MIN; c < cap; c <<= 1)
		k++;
	return k;
}

/* Carves a new chunk into free blocks of one class; arena_lock held. */
static int arena_grow(int k, size_t cap)
{
	size_t chunk = cap * 4 > 16384 ? cap * 4 : 16384;
	bool locked;
	char *p = region_map(chunk, &locked);
	if (!p)
		return -1;
	for (size_t off = 0; off + cap <= chunk; off += cap) {
		struct arena_blk *b = (struct arena_blk *)(p + off);
		b->locked = locked;
		b->next = arena_free[k];
		arena_free[k] = b;
	}
	return 0;
}

static char *block_alloc(size_t cap, bool *locked)
{
	if (cap > ARENA_MAX)
		return region_map(cap, locked);
	int k = arena_class(cap);
	pthread_mutex_lock(&arena_lock);
	if (!arena_free[k] && arena_grow(k, cap) < 0) {
		pthread_mutex_unlock(&arena_lock);
		return NULL;
	}
	struct arena_blk *b = arena_free[k];
	arena_free[k] = b->next;
	pthread_mutex_unlock(&arena_lock);
	*locked = b->locked;
	memset(b, 0, sizeof *b);
	return (char *)b;
}

static void block_free(char *p, size_t cap, bool locked)
{
	if (!p)
		return;
	if (cap > ARENA_MAX) {
		region_unmap(p, cap, locked);
		return;
	}
	md_secret_wipe(p, cap);
	struct arena_blk *b = (struct arena_blk *)p;
	b->locked = locked;
	int k = arena_class(cap);
	pthread_mutex_lock(&arena_lock);
	b->next = arena_free[k];
	arena_free[k] = b;
	pthread_mutex_unlock(&arena_lock);
}

md_secret *md_secret_new(size_t cap_hint)
{
	md_secret *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->cap = secret_cap(cap_hint + 1);
	s->data = block_alloc(s->cap, &s->locked);
	if (!s->data) {
		free(s);
		return NULL;
	}
	return s;
}

void md_secret_free(md_secret *s)
{
	if (!s)
		return;
	md_redact_unpin(s->pin);
	block_free(s->data, s->cap, s->locked);
	free(s);
}

static int secret_reserve(md_secret *s, size_t need)
{
	if (need + 1 <= s->cap)
		return 0;
	size_t ncap = s->cap;
	while (ncap < need + 1) {
		if (ncap > SIZE_MAX / 2)
			return -1;
		ncap *= 2;
	}
	bool nlocked;
	char *n = block_alloc(ncap, &nlocked);
	if (!n)
		return -1;
	memcpy(n, s->data, s->len + 1);
	block_free(s->data, s->cap, s->locked);
	s->data = n;
	s->cap = ncap;
	s->locked = nlocked;
	return 0;
}

/* Registers what s holds now and keeps it pinned while s holds it (the
 * value it held before stays registered, unpinned). */
static void secret_repin(md_secret *s)
{
	uint32_t pin = md_redact_pin(s->data, s->len);
	md_redact_unpin(s->pin);
	s->pin = pin;
}

/* A watched buffer's every value is registered, whatever it becomes. */
static void secret_changed(md_secret *s)
{
	if (s->watched)
		secret_repin(s);
}

int md_secret_append(md_secret *s, const void *p, size_t n)
{
	if (n > SIZE_MAX - s->len - 1 || secret_reserve(s, s->len + n) < 0)
		return -1;
	memcpy(s->data + s->len, p, n);
	s->len += n;
	s->data[s->len] = '\0';
	secret_changed(s);
	return 0;
}

int md_secret_appendf(md_secret *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || secret_reserve(s, s->len + (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
	secret_changed(s);
	return 0;
}

int md_secret_set(md_secret *s, const void *p, size_t n)
{
	md_secret_truncate(s, 0);
	return md_secret_append(s, p, n);
}

void md_secret_truncate(md_secret *s, size_t n)
{
	if (n >= s->len)
		return;
	md_secret_wipe(s->data + n, s->len - n);
	s->len = n;
	s->data[n] = '\0';
	secret_changed(s);
}

const char *md_secret_str(const md_secret *s)
{
	return s ? s->data : "";
}

size_t md_secret_len(const md_secret *s)
{
	return s ? s->len : 0;
}

bool md_secret_locked(const md_secret *s)
{
	return s && s->locked;
}

bool md_secret_eq(const md_secret *a, const md_secret *b)
{
	if (!a || !b || a->len != b->len)
		return false;
	/* Constant time: every byte is compared whatever the first difference. */
	volatile unsigned char diff = 0;
	for (size_t i = 0; i < a->len; i++)
		diff |= (unsigned char)(a->data[i] ^ b->data[i]);
	return diff == 0;
}

void md_secret_watch(md_secret *s)
{
	if (!s)
		return;
	s->watched = true;
	secret_repin(s);
}

void md_secret_redact(char *msg)
{
	md_redact_str(msg);
}

void md_secret_format_line(char *dst, size_t dstsz, const char *fmt, va_list ap)
{
	if (dstsz == 0)
		return;
	dst[0] = '\0';
	/* Whole line first, in secret memory: redacting after truncation would
	 * leave the prefix of a secret that straddles the cut. Then escaped:
	 * arguments may be a server's words (text.h). */
	md_secret *full = md_secret_new(dstsz * 2);
	va_list cp;
	va_copy(cp, ap);
	int n = full ? vsnprintf(NULL, 0, fmt, cp) : -1;
	va_end(cp);
	if (n < 0 || secret_reserve(full, (size_t)n) < 0) {
		md_secret_free(full);
		snprintf(dst, dstsz, "(message lost: out of memory)");
		return;
	}
	vsnprintf(full->data, (size_t)n + 1, fmt, ap);
	full->len = strlen(full->data);
	md_redact_buf(full->data, &full->len);
	md_text_escape(dst, dstsz, full->data, full->len, true);
	md_secret_free(full);
}

static void secret_trim(md_secret *s)
{
	size_t n = s->len;
	while (n > 0 && (s->data[n - 1] == '\n' || s->data[n - 1] == '\r' ||
			 s->data[n - 1] == ' ' || s->data[n - 1] == '\t'))
		n--;
	md_secret_truncate(s, n);
}

int md_secret_read_fd(int fd, size_t max, md_secret **out, md_error *err)
{
	*out = NULL;
	md_secret *s = md_secret_new(4096);
	if (!s)
		return md_err_set(err, MD_EFAIL, "out of memory");
	for (;;) {
		/* Room for trailing white space; max applies to the trimmed value. */
		if (md_secret_len(s) > max + 64) {
			md_secret_free(s);
			return md_err_set(err, MD_EUSAGE, "secret is longer than %zu bytes", max);
		}
		if (secret_reserve(s, s->len + 4096) < 0) {
			md_secret_free(s);
			return md_err_set(err, MD_EFAIL, "out of memory");
		}
		ssize_t r = read(fd, s->data + s->len, 4096);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			md_secret_free(s);
			return md_err_set(err, MD_EUSAGE, "cannot read secret: %s", strerror(e));
		}
		if (r == 0)
			break;
		s->len += (size_t)r;
		s->data[s->len] = '\0';
	}
	secret_trim(s);
	if (s->len > max) {
		md_secret_free(s);
		return md_err_set(err, MD_EUSAGE, "secret is longer than %zu bytes", max);
	}
	bool printable = true;
	for (size_t i = 0; i < s->len; i++)
		printable &= (unsigned char)s->data[i] >= 0x20 && s->data[i] != 0x7f;
	if (s->len == 0 || !printable) {
		bool empty = s->len == 0;
		md_secret_free(s);
		return md_err_set(err, MD_EUSAGE, empty ? "secret is empty"
					: "secret must be a single line of printable text");
	}
	md_secret_watch(s);
	*out = s;
	return MD_OK;
}

int md_secret_read_file(const char *path, size_t max, md_secret **out, md_error *err)
{
	*out = NULL;
	if (strcmp(path, "-") == 0)
		return md_secret_read_fd(STDIN_FILENO, max, out, err);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return md_err_set(err, MD_EUSAGE, "cannot open %s: %s", path, strerror(errno));
	int rc = md_secret_read_fd(fd, max, out, err);
	close(fd);
	if (rc)
		md_err_prefix(err, "%s", path);
	return rc;
}

int md_secret_take_env(const char *name, md_secret **out, md_error *err)
{
	*out = NULL;
	char *v = getenv(name);
	if (!v)
		return MD_OK;
	size_t n = strlen(v);
	md_secret *s = md_secret_new(n);
	if (!s || md_secret_append(s, v, n) < 0) {
		md_secret_free(s);
		return md_err_set(err, MD_EFAIL, "out of memory");
	}
	/* getenv points into the live environment block: wipe it there first,
	 * so /proc/<pid>/environ (which reads the original block) shows none. */
	md_secret_wipe(v, n);
	unsetenv(name);
	secret_trim(s);
	if (s->len == 0) {
		md_secret_free(s);
		return MD_OK;
	}
	md_secret_watch(s);
	*out = s;
	return MD_OK;
}
