/* bench/cj_sync.c — chatjournal synchronous writers: each thread calls
 * cj_journal_append in a loop and waits for durability every time, the way a
 * bot handler thread writes one message. With N threads, group commit should
 * serve all N in one transaction. */
#include "measure.h"
#include "store_fixture.h"

#define POOL 64

typedef struct sync_ctx {
	cj_store *s;
	cjb_pools pools;
} sync_ctx;

static int sync_work(cjb_worker *w)
{
	sync_ctx *c = w->ctx;
	cj_event **pool = c->pools.pool[w->index];
	for (uint64_t i = 0; cjb_claim(w, 1); i++) {
		uint64_t seq = 0, t = cjb_now_ns();
		int rc = cj_journal_append(&seq, c->s, pool[i % POOL]);
		uint64_t dt = cjb_now_ns() - t;
		if (rc != 0)
			return cjb_fail(w, "cj_journal_append: %s (%s)", cj_strerror(rc), cj_error_last());
		if (seq == 0)
			return cjb_fail(w, "cj_journal_append returned sequence number 0");
		if (cjb_done(w, 1, dt) != 0)
			return -1;
	}
	return 0;
}

int cjb_measure_cj_sync(const char *dir, unsigned threads, int journal_only, const cjb_bounds *b,
                        cjb_result *res)
{
	sync_ctx c = { 0 };
	if (cjb_pools_new(&c.pools, threads, POOL, res) != 0)
		return -1;
	int ret = cjb_store_fresh(&c.s, dir, journal_only, res);
	if (ret == 0)
		ret = cjb_run_workers(threads, sync_work, &c, b, res);
	cjb_store_finish(c.s, res);
	cjb_pools_free(&c.pools);
	return res->failed ? -1 : ret;
}
