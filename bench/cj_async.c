/* bench/cj_async.c — chatjournal asynchronous appends: each thread keeps up to
 * in_flight one-event tickets outstanding (cj_journal_submit), waiting for the
 * oldest when its window is full, as a pipelining bot or the HTTP service
 * would. Only acknowledged events are counted; the final drain is timed. */
#include <stdlib.h>
#include "measure.h"
#include "store_fixture.h"

#define POOL 64

typedef struct async_ctx {
	cj_store *s;
	cjb_pools pools;
	unsigned in_flight;
} async_ctx;

/* The worker's window of tickets, oldest at head. */
typedef struct window {
	cj_ticket **t;
	unsigned cap, head, count;
} window;

/* Wait for the oldest ticket and free it; 0 or the ticket's error code. */
static int wait_oldest(window *win, cjb_worker *w)
{
	cj_ticket *t = win->t[win->head];
	uint64_t seq = 0;
	int rc = cj_ticket_wait(&seq, t);
	cj_ticket_free(t);
	win->head = (win->head + 1) % win->cap;
	win->count--;
	if (rc == 0 && !w->failed)
		cjb_count(w, 1);
	else if (rc != 0 && !w->failed)
		cjb_fail(w, "cj_ticket_wait: %s (%s)", cj_strerror(rc), cj_error_last());
	return rc;
}

static int submit_one(window *win, cjb_worker *w, async_ctx *c, const cj_event *ev)
{
	if (win->count == win->cap && wait_oldest(win, w) != 0)
		return -1;
	cj_ticket **slot = &win->t[(win->head + win->count) % win->cap];
	int rc = cj_journal_submit(slot, c->s, &ev, 1);
	if (rc != 0)
		return cjb_fail(w, "cj_journal_submit: %s (%s)", cj_strerror(rc), cj_error_last());
	win->count++;
	return 0;
}

static int async_work(cjb_worker *w)
{
	async_ctx *c = w->ctx;
	cj_event **pool = c->pools.pool[w->index];
	window win = { .cap = c->in_flight };
	win.t = calloc(win.cap, sizeof(*win.t));
	if (!win.t)
		return cjb_fail(w, "out of memory for %u tickets", win.cap);
	for (uint64_t i = 0; cjb_claim(w, 1); i++)
		if (submit_one(&win, w, c, pool[i % POOL]) != 0)
			break;
	while (win.count)   /* every submitted ticket is waited for, even after a failure */
		wait_oldest(&win, w);
	free(win.t);
	return w->failed ? -1 : 0;
}

int cjb_measure_cj_async(const char *dir, unsigned threads, unsigned in_flight,
                         int journal_only, const cjb_bounds *b, cjb_result *res)
{
	async_ctx c = { .in_flight = in_flight };
	if (cjb_pools_new(&c.pools, threads, POOL, res) != 0)
		return -1;
	int ret = cjb_store_fresh(&c.s, dir, journal_only, res);
	if (ret == 0)
		ret = cjb_run_workers(threads, async_work, &c, b, res);
	cjb_store_finish(c.s, res);
	cjb_pools_free(&c.pools);
	return res->failed ? -1 : ret;
}
