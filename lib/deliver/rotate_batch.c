/* rotate_batch.c - see rotate_batch.h. */
#include "deliver/rotate_batch.h"
#include "base/cleanup.h"
#include "net/http_multi.h"
#include "base/log.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct batch {
	const md_rotb_req *rq;
	md_store ***stores;      /* stores[i][k]: role i's k-th store */
	atomic_size_t next;      /* the next role to start */
	pthread_mutex_t done_mx; /* serialises on_done and the summary */
	md_rotb_summary *sum;
	int first_code;          /* the first failed role's code */
	bool codes_differ;
};

struct worker {
	struct batch *b;
	md_http *api;
	pthread_t thread;
	bool started;
};

static void batch_stores_free(struct batch *b, size_t nroles)
{
	if (!b->stores)
		return;
	for (size_t i = 0; i < nroles; i++) {
		if (!b->stores[i])
			continue;
		for (size_t k = 0; k < b->rq->conf->roles[i].nstores; k++)
			md_store_free(b->stores[i][k]);
		free(b->stores[i]);
	}
	free(b->stores);
	b->stores = NULL;
}

/* No two stores of the batch may write the same place: two roles would
 * overwrite each other's token on every run. */
static int batch_stores_distinct(struct batch *b, md_error *err)
{
	const md_rotconf *c = b->rq->conf;
	size_t total = 0, at = 0, first, second;
	for (size_t i = 0; i < c->n; i++)
		total += c->roles[i].nstores;
	_cleanup_free_ md_store **flat = calloc(total ? total : 1, sizeof *flat);
	_cleanup_free_ struct { size_t role; int line; } *where =
		calloc(total ? total : 1, sizeof *where);
	if (!flat || !where)
		return md_err_set(err, MD_EFAIL, "out of memory");
	for (size_t i = 0; i < c->n; i++)
		for (size_t k = 0; k < c->roles[i].nstores; k++, at++) {
			flat[at] = b->stores[i][k];
			where[at].role = i;
			where[at].line = c->roles[i].store_line[k];
		}
	if (md_store_find_twins(flat, total, &first, &second))
		return md_err_set(err, MD_EUSAGE, "%s:%d: store '%.200s' of [%s] writes the same "
				  "place as '%.200s' of [%s]", c->name, where[second].line,
				  md_store_describe(flat[second]), c->roles[where[second].role].role,
				  md_store_describe(flat[first]), c->roles[where[first].role].role);
	return MD_OK;
}

/* Every store of every role, parsed before anything is contacted (and
 * environment credentials taken here, in one thread). */
static int batch_stores_open(struct batch *b, md_http_multi *m, md_error *err)
{
	const md_rotconf *c = b->rq->conf;
	md_store_opts o = b->rq->stores ? *b->rq->stores : (md_store_opts){.retries = -1};
	o.multi = m; /* every store's requests over the batch's one handle */
	if (!(b->stores = calloc(c->n, sizeof *b->stores)))
		return md_err_set(err, MD_EFAIL, "out of memory");
	int rc = MD_OK;
	for (size_t i = 0; i < c->n && rc == MD_OK; i++) {
		const md_rotconf_role *r = &c->roles[i];
		if (!(b->stores[i] = calloc(r->nstores, sizeof **b->stores))) {
			rc = md_err_set(err, MD_EFAIL, "out of memory");
			break;
		}
		for (size_t k = 0; k < r->nstores && rc == MD_OK; k++)
			if ((rc = md_store_open(r->stores[k], &o, &b->stores[i][k], err)))
				md_err_prefix(err, "%s:%d: [%s]", c->name, r->store_line[k], r->role);
	}
	if (rc == MD_OK)
		rc = batch_stores_distinct(b, err);
	if (rc)
		batch_stores_free(b, c->n);
	return rc;
}

static void batch_count(struct batch *b, const md_rot_result *res, int rc)
{
	md_rotb_summary *s = b->sum;
	switch (rc != MD_OK ? MD_ROT_FAILED : res->action) {
	case MD_ROT_ROTATED: s->rotated++; return;
	case MD_ROT_FRESH: s->fresh++; return;
	case MD_ROT_SKIPPED: s->skipped++; return;
	case MD_ROT_FAILED: break;
	}
	int code = rc != MD_OK ? rc : MD_EFAIL;
	if (s->failed++ == 0)
		b->first_code = code;
	else if (code != b->first_code)
		b->codes_differ = true;
}

static void batch_role(struct worker *w, size_t i)
{
	const md_rotb_req *rq = w->b->rq;
	const md_rotconf_role *r = &rq->conf->roles[i];
	md_rot_req q = {
		.role = r->role,
		.username = r->username,
		.token_type = r->token_type,
		.ttl = r->ttl,
		.every = r->every,
		.grace = r->grace,
		.keep = r->keep,
		.state_dir = rq->state_dir,
		.force = rq->force,
		.attempts = rq->api->retries + 1,
	};
	md_rot_result res;
	md_error e = {0};
	md_log_set_role(r->role);
	int rc = md_rotate(w->api, &q, w->b->stores[i], r->nstores, &res, &e);
	if (rc != MD_OK)
		res.action = MD_ROT_FAILED;
	e.code = rc;
	pthread_mutex_lock(&w->b->done_mx);
	batch_count(w->b, &res, rc);
	if (rq->on_done)
		rq->on_done(rq->ud, r, &res, &e);
	pthread_mutex_unlock(&w->b->done_mx);
	md_log_set_role(NULL);
}

static void *batch_worker(void *arg)
{
	struct worker *w = arg;
	size_t i;
	while ((i = atomic_fetch_add(&w->b->next, 1)) < w->b->rq->conf->n)
		batch_role(w, i);
	return NULL;
}

/* Starts the workers, each with its own API client over the shared multi
 * handle, and waits for them. */
static int batch_workers_run(struct batch *b, md_http_multi *m, md_error *err)
{
	size_t nw = (size_t)b->rq->parallel;
	if (nw > b->rq->conf->n)
		nw = b->rq->conf->n;
	struct worker *ws = calloc(nw, sizeof *ws);
	if (!ws)
		return md_err_set(err, MD_EFAIL, "out of memory");
	md_http_opts o = *b->rq->api;
	o.multi = m;
	int rc = MD_OK;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1 << 20);
	for (size_t k = 0; k < nw; k++) {
		ws[k].b = b;
		int e = 0;
		if ((rc = md_http_new(&o, &ws[k].api, err)) ||
		    (e = pthread_create(&ws[k].thread, &attr, batch_worker, &ws[k]))) {
			if (e)
				rc = md_err_set(err, MD_EFAIL, "cannot start a thread: %s", strerror(e));
			break;
		}
		ws[k].started = true;
	}
	/* Workers already running take on the rest; only none at all fails. */
	if (nw > 0 && ws[0].started)
		rc = MD_OK;
	pthread_attr_destroy(&attr);
	for (size_t k = 0; k < nw; k++) {
		if (ws[k].started)
			pthread_join(ws[k].thread, NULL);
		md_http_free(ws[k].api);
	}
	free(ws);
	return rc;
}

int md_rotb_run(const md_rotb_req *rq, md_rotb_summary *sum, md_error *err)
{
	memset(sum, 0, sizeof *sum);
	sum->total = rq->conf->n;
	if (rq->parallel < 1 || rq->parallel > MD_ROTB_PARALLEL_MAX)
		return md_err_set(err, MD_EUSAGE, "--parallel: give 1 to %d", MD_ROTB_PARALLEL_MAX);
	struct batch b = {.rq = rq, .sum = sum};
	atomic_init(&b.next, 0);
	md_http_multi *m = NULL;
	/* A few idle connections per worker: the API, and a store or two. */
	int rc = md_http_multi_new(rq->parallel * 3L + 4, &m, err);
	if (rc)
		return rc;
	if ((rc = batch_stores_open(&b, m, err)) == MD_OK) {
		pthread_mutex_init(&b.done_mx, NULL);
		rc = batch_workers_run(&b, m, err);
		pthread_mutex_destroy(&b.done_mx);
		batch_stores_free(&b, rq->conf->n);
	}
	md_http_multi_free(m);
	if (sum->failed > 0)
		sum->exit_code = b.codes_differ ? MD_EFAIL : b.first_code;
	return rc;
}
