/* api/http/wait.c — min_seq (read-your-writes) without a thread per
 * waiting client. A min_seq past the journal's end can never be reached:
 * refused at once. Otherwise cj_projection_watch arms a wake-up and the
 * connection stays suspended; the request is parked in sv->waiters, where
 * the sweeper (conn.c) ends it at its deadline. Whichever of the watch and
 * the deadline comes first wins (a compare-and-swap on wait_state), and
 * r->gate makes the winner and the worker that parked the request both
 * arrive before a worker picks it up again: the watch may fire before
 * cj_projection_watch has even returned.
 *
 * Locks: the watch callback runs under the library's lock and takes the
 * pool's; the sweeper holds wait_mu and takes the pool's. cj_watch_free
 * (the library's lock) is called holding neither. */
#include <stdio.h>
#include <stdlib.h>
#include "service.h"

static cj_store *store_of(cjh_request *r) { return r->sv->stores[r->auth.store].s; }

/* A library thread: only a wake-up. */
static void watch_fired(void *arg)
{
	cjh_request *r = arg;
	int expected = CJH_WAITING;
	if (atomic_compare_exchange_strong(&r->wait_state, &expected, CJH_FIRED) && cjh_gate_pass(r))
		cjh_pool_push(r->sv->pool, r);
}

static void unpark(cjh_request *r)
{
	cjh_server *sv = r->sv;
	pthread_mutex_lock(&sv->wait_mu);
	if (r->in_waiters) {
		if (r->wprev)
			r->wprev->wnext = r->wnext;
		else
			sv->waiters = r->wnext;
		if (r->wnext)
			r->wnext->wprev = r->wprev;
		r->in_waiters = 0;
	}
	pthread_mutex_unlock(&sv->wait_mu);
}

/* Worker: the wait is over, one way or the other. */
static void waited(cjh_request *r)
{
	cj_store *s = store_of(r);
	cj_watch_free(s, r->watch); /* after it, the callback is not running and will not run */
	r->watch = NULL;
	unpark(r);
	uint64_t pos = 0;
	if (cj_projection_position(&pos, s) != 0 || pos < r->min_seq) {
		cj_error_clear();
		char msg[200];
		if (atomic_load(&r->sv->stopping))
			snprintf(msg, sizeof msg, "the server is stopping before min_seq %llu was applied",
			         (unsigned long long)r->min_seq);
		else
			snprintf(msg, sizeof msg, "min_seq %llu not applied within %u ms; retry",
			         (unsigned long long)r->min_seq, r->sv->o.read_wait_ms);
		cjh_set_error(r, 503, msg, NULL);
		cjh_finish(r);
		return;
	}
	cjh_route_query(r);
}

int cjh_wait_min_seq(cjh_request *r, int *parked)
{
	*parked = 0;
	uint64_t min_seq = 0;
	int a = cjh_arg_u64(r, "min_seq", INT64_MAX, &min_seq);
	if (a < 0)
		return 0;
	if (a == 0 || min_seq == 0)
		return 1;
	cj_store *s = store_of(r);
	uint64_t last = 0;
	int rc = cj_journal_last_seq(&last, s);
	if (rc) {
		cjh_set_cj(r, rc);
		return 0;
	}
	if (min_seq > last) {
		cjh_set_beyond_end(r, "min_seq", min_seq, last);
		return 0;
	}
	r->min_seq = min_seq;
	atomic_store(&r->wait_state, CJH_WAITING);
	atomic_store(&r->gate, 2);
	r->step = waited;
	r->phase = CJH_WAIT;
	cj_watch *w;
	rc = cj_projection_watch(&w, s, min_seq, watch_fired, r);
	if (rc == 1) {
		r->phase = CJH_WORK;
		return 1; /* applied already */
	}
	if (rc < 0) {
		r->phase = CJH_WORK;
		cjh_set_cj(r, rc);
		return 0;
	}
	r->watch = w;
	r->wait_deadline = cjh_now_ns() + (uint64_t)r->sv->o.read_wait_ms * 1000000u;
	cjh_server *sv = r->sv;
	pthread_mutex_lock(&sv->wait_mu);
	r->wprev = NULL;
	r->wnext = sv->waiters;
	if (sv->waiters)
		sv->waiters->wprev = r;
	sv->waiters = r;
	r->in_waiters = 1;
	pthread_mutex_unlock(&sv->wait_mu);
	*parked = 1;
	if (cjh_gate_pass(r))
		cjh_pool_push(sv->pool, r);
	return 0;
}

/* The sweeper: waits past their deadline (all of them when stopping). */
void cjh_wait_sweep(cjh_server *sv, uint64_t now, int all)
{
	pthread_mutex_lock(&sv->wait_mu);
	for (cjh_request *r = sv->waiters; r; r = r->wnext) {
		if (!all && now < r->wait_deadline)
			continue;
		int expected = CJH_WAITING;
		if (atomic_compare_exchange_strong(&r->wait_state, &expected, CJH_TIMED_OUT) &&
		    cjh_gate_pass(r))
			cjh_pool_push(sv->pool, r);
	}
	pthread_mutex_unlock(&sv->wait_mu);
}
