/* bench/cj_batch.c — chatjournal batch appends: each thread calls
 * cj_journal_append_batch with per_call events (an importer, or a bot that
 * buffers), waiting for each batch to be durable. Latency is per call. */
#include "measure.h"
#include "store_fixture.h"

typedef struct batch_ctx {
	cj_store *s;
	cjb_pools pools;
} batch_ctx;

static int batch_work(cjb_worker *w)
{
	batch_ctx *c = w->ctx;
	const cj_event *const *evs = (const cj_event *const *)c->pools.pool[w->index];
	uint64_t n;
	while ((n = cjb_claim(w, c->pools.n)) > 0) {
		uint64_t t = cjb_now_ns();
		int rc = cj_journal_append_batch(NULL, c->s, evs, (size_t)n);
		uint64_t dt = cjb_now_ns() - t;
		if (rc != 0)
			return cjb_fail(w, "cj_journal_append_batch: %s (%s)", cj_strerror(rc), cj_error_last());
		if (cjb_done(w, n, dt) != 0)
			return -1;
	}
	return 0;
}

int cjb_measure_cj_batch(const char *dir, unsigned threads, unsigned per_call,
                         int journal_only, const cjb_bounds *b, cjb_result *res)
{
	batch_ctx c = { 0 };
	if (cjb_pools_new(&c.pools, threads, per_call, res) != 0)
		return -1;
	int ret = cjb_store_fresh(&c.s, dir, journal_only, res);
	if (ret == 0)
		ret = cjb_run_workers(threads, batch_work, &c, b, res);
	cjb_store_finish(c.s, res);
	cjb_pools_free(&c.pools);
	return res->failed ? -1 : ret;
}
