/* bench/harness.c — thread start gate, shared stop conditions and the
 * reduction of per-worker figures. The timed window runs from the moment all
 * workers are released to the moment the last one has finished, so the drain
 * of in-flight work is counted and setup/teardown is not. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

struct cjb_run {
	pthread_mutex_t mu;            /* with cv and go: the start gate */
	pthread_cond_t cv;
	int go;
	uint64_t deadline_ns;          /* 0: no time bound */
	int budgeted;
	_Atomic int64_t budget;        /* events left when budgeted */
	atomic_int stop;               /* a worker failed */
	cjb_work_fn fn;
};

uint64_t cjb_claim(cjb_worker *w, uint64_t want)
{
	cjb_run *r = w->run;
	if (atomic_load_explicit(&r->stop, memory_order_relaxed))
		return 0;
	if (r->deadline_ns && cjb_now_ns() >= r->deadline_ns)
		return 0;
	if (!r->budgeted)
		return want;
	int64_t before = atomic_fetch_sub(&r->budget, (int64_t)want);
	if (before <= 0)
		return 0;
	return before < (int64_t)want ? (uint64_t)before : want;
}

int cjb_fail(cjb_worker *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	w->failed = 1;
	atomic_store(&w->run->stop, 1);
	return -1;
}

int cjb_done(cjb_worker *w, uint64_t n, uint64_t ns)
{
	w->events += n;
	w->ops++;
	if (cjb_samples_add(&w->lat, ns) != 0)
		return cjb_fail(w, "out of memory for latency samples");
	return 0;
}

void cjb_count(cjb_worker *w, uint64_t n)
{
	w->events += n;
	w->ops++;
}

int cjb_result_fail(cjb_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	res->failed = 1;
	return -1;
}

static void *worker_main(void *arg)
{
	cjb_worker *w = arg;
	cjb_run *r = w->run;
	pthread_mutex_lock(&r->mu);
	while (!r->go)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	if (!atomic_load(&r->stop))
		r->fn(w);
	w->end_ns = cjb_now_ns();
	return NULL;
}

/* Sum the workers' counts and merge their samples into res. */
static void reduce(cjb_worker *ws, unsigned n, uint64_t t0, uint64_t cpu0, cjb_result *res)
{
	cjb_samples all = CJB_SAMPLES_INIT;
	uint64_t end = t0;
	for (unsigned i = 0; i < n; i++) {
		res->events += ws[i].events;
		res->ops += ws[i].ops;
		if (ws[i].end_ns > end)
			end = ws[i].end_ns;
		if (ws[i].failed && !res->failed)
			cjb_result_fail(res, "%s", ws[i].error);
		if (cjb_samples_merge(&all, &ws[i].lat) != 0 && !res->failed)
			cjb_result_fail(res, "out of memory merging latency samples");
	}
	res->seconds = (double)(end - t0) / 1e9;
	res->events_per_s = res->seconds > 0 ? (double)res->events / res->seconds : 0;
	if (res->events)
		res->cpu_us_per_event = (double)(cjb_cpu_ns() - cpu0) / 1e3 / (double)res->events;
	if (all.n) {
		res->has_latency = 1;
		res->p50_us = (double)cjb_samples_percentile(&all, 0.50) / 1e3;
		res->p99_us = (double)cjb_samples_percentile(&all, 0.99) / 1e3;
	}
	cjb_samples_free(&all);
}

/* Open the gate; deadline and stop are written under the mutex, so every
 * worker sees them once released. */
static void release(cjb_run *r, uint64_t deadline_ns, int stop)
{
	pthread_mutex_lock(&r->mu);
	r->deadline_ns = deadline_ns;
	if (stop)
		atomic_store(&r->stop, 1);
	r->go = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static unsigned start_threads(pthread_t *tids, cjb_worker *ws, unsigned n)
{
	unsigned i = 0;
	while (i < n && pthread_create(&tids[i], NULL, worker_main, &ws[i]) == 0)
		i++;
	return i;
}

int cjb_run_workers(unsigned threads, cjb_work_fn fn, void *ctx,
                    const cjb_bounds *b, cjb_result *res)
{
	cjb_run run = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
	                .fn = fn, .budgeted = b->events > 0 };
	atomic_init(&run.budget, (int64_t)b->events);
	atomic_init(&run.stop, 0);
	cjb_worker *ws = calloc(threads, sizeof(*ws));
	pthread_t *tids = calloc(threads, sizeof(*tids));
	if (!ws || !tids) {
		free(ws);
		free(tids);
		return cjb_result_fail(res, "out of memory for %u workers", threads);
	}
	for (unsigned i = 0; i < threads; i++) {
		ws[i] = (cjb_worker){ .index = i, .ctx = ctx, .run = &run };
		/* Room for ~64k operations each, so the timed loop rarely reallocates. */
		cjb_samples_reserve(&ws[i].lat, 65536);
	}
	unsigned started = start_threads(tids, ws, threads);
	uint64_t cpu0 = cjb_cpu_ns();
	uint64_t t0 = cjb_now_ns();
	release(&run, b->seconds > 0 ? t0 + (uint64_t)(b->seconds * 1e9) : 0, started < threads);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	reduce(ws, started, t0, cpu0, res);
	if (started < threads)
		cjb_result_fail(res, "cannot start worker thread %u of %u", started + 1, threads);
	for (unsigned i = 0; i < threads; i++)
		cjb_samples_free(&ws[i].lat);
	free(ws);
	free(tids);
	return res->failed ? -1 : 0;
}
