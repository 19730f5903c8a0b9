/* plugin_shared.c - reference-counted shared handles: an object that handler
 * threads use while another thread may replace it (the storage client, which
 * every Setup replaces). A slot holds one reference to its current object;
 * a user takes its own reference for the length of one use (a request), so
 * a replacement never frees what a request still uses: the last release
 * frees the object. */
#include "plugin.h"

#include <stdlib.h>

struct plugin_shared *plugin_shared_new(void *obj, void (*destroy)(void *obj))
{
	struct plugin_shared *h = malloc(sizeof *h);
	if (!h)
		return NULL;
	atomic_init(&h->refs, 1);
	h->obj = obj;
	h->destroy = destroy;
	return h;
}

void plugin_shared_release(struct plugin_shared *h)
{
	if (!h || atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
		return;
	h->destroy(h->obj);
	free(h);
}

void plugin_shared_releasep(struct plugin_shared **h)
{
	plugin_shared_release(*h);
}

/* Under the slot's lock, so a concurrent set cannot drop the last
 * reference between reading cur and counting ours. */
struct plugin_shared *plugin_slot_get(struct plugin_slot *s)
{
	pthread_mutex_lock(&s->mu);
	struct plugin_shared *h = s->cur;
	if (h)
		atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&s->mu);
	return h;
}

void plugin_slot_set(struct plugin_slot *s, struct plugin_shared *h)
{
	pthread_mutex_lock(&s->mu);
	struct plugin_shared *old = s->cur;
	s->cur = h;
	pthread_mutex_unlock(&s->mu);
	plugin_shared_release(old);
}
