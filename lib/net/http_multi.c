/* http_multi.c - see http_multi.h. */
#include "net/http_multi.h"

#include <pthread.h>
#include <sys/queue.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One caller's transfer; it lives on the caller's stack until done. */
struct xfer {
	CURL *easy;
	CURLcode result;
	bool done;
	pthread_cond_t cv;
	SLIST_ENTRY(xfer) link;
};
SLIST_HEAD(xfer_list, xfer);

struct md_http_multi {
	CURLM *multi;
	pthread_t thread;
	pthread_mutex_t mx;
	struct xfer_list pending; /* submitted, not yet added to the multi handle */
	bool stop;
};

/* Moves submitted transfers into the multi handle; false when stopping
 * and nothing is left to add. A handle the multi refuses completes at once. */
static bool multi_take_pending(md_http_multi *m)
{
	pthread_mutex_lock(&m->mx);
	struct xfer_list list = m->pending;
	bool stop = m->stop;
	SLIST_INIT(&m->pending);
	pthread_mutex_unlock(&m->mx);
	bool any = !SLIST_EMPTY(&list);
	/* A transfer may complete (and its owner's stack frame go) as soon as
	 * it is in the multi handle or refused: read the link first. */
	for (struct xfer *x = SLIST_FIRST(&list), *next; x; x = next) {
		next = SLIST_NEXT(x, link);
		curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
		if (curl_multi_add_handle(m->multi, x->easy) != CURLM_OK) {
			pthread_mutex_lock(&m->mx);
			x->result = CURLE_OUT_OF_MEMORY;
			x->done = true;
			pthread_cond_signal(&x->cv);
			pthread_mutex_unlock(&m->mx);
		}
	}
	return !stop || any;
}

static void multi_complete(md_http_multi *m)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct xfer *x = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(m->multi, easy);
		pthread_mutex_lock(&m->mx);
		x->result = result;
		x->done = true;
		pthread_cond_signal(&x->cv);
		pthread_mutex_unlock(&m->mx);
	}
}

static void *multi_loop(void *arg)
{
	md_http_multi *m = arg;
	int running = 0;
	for (;;) {
		bool more = multi_take_pending(m);
		if (!more && running == 0)
			break;
		curl_multi_perform(m->multi, &running);
		multi_complete(m);
		/* Wakes on socket activity, curl's own timers, or a new
		 * submission (curl_multi_wakeup). */
		curl_multi_poll(m->multi, NULL, 0, 1000, NULL);
	}
	return NULL;
}

int md_http_multi_new(long max_conns, md_http_multi **out, md_error *err)
{
	*out = NULL;
	int rc = md_curl_dl_load(err);
	if (rc)
		return rc;
	md_http_multi *m = calloc(1, sizeof *m);
	if (!m || !(m->multi = curl_multi_init())) {
		free(m);
		return md_err_set(err, MD_EFAIL, "out of memory");
	}
	if (max_conns > 0)
		curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, max_conns);
	pthread_mutex_init(&m->mx, NULL);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1 << 20);
	int e = pthread_create(&m->thread, &attr, multi_loop, m);
	pthread_attr_destroy(&attr);
	if (e) {
		curl_multi_cleanup(m->multi);
		pthread_mutex_destroy(&m->mx);
		free(m);
		return md_err_set(err, MD_EFAIL, "cannot start the HTTP thread: %s", strerror(e));
	}
	*out = m;
	return MD_OK;
}

void md_http_multi_free(md_http_multi *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mx);
	m->stop = true;
	pthread_mutex_unlock(&m->mx);
	curl_multi_wakeup(m->multi);
	pthread_join(m->thread, NULL);
	curl_multi_cleanup(m->multi);
	pthread_mutex_destroy(&m->mx);
	free(m);
}

CURLcode md_http_multi_perform(md_http_multi *m, CURL *easy)
{
	struct xfer x = {.easy = easy};
	pthread_cond_init(&x.cv, NULL);
	pthread_mutex_lock(&m->mx);
	SLIST_INSERT_HEAD(&m->pending, &x, link);
	pthread_mutex_unlock(&m->mx);
	curl_multi_wakeup(m->multi);
	pthread_mutex_lock(&m->mx);
	while (!x.done)
		pthread_cond_wait(&x.cv, &m->mx);
	pthread_mutex_unlock(&m->mx);
	pthread_cond_destroy(&x.cv);
	return x.result;
}
