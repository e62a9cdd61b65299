/* api/http/feed_hub.c — how commits reach the change feed's streams
 * without a thread per stream.
 *
 * One hub per store: the list of its open streams, those parked (caught
 * up, their connection suspended), and a notifier thread. While any stream
 * is parked the notifier waits in cj_journal_wait (a commit of this
 * process wakes it at once, another process's within
 * CJ_JOURNAL_FOLLOW_POLL_MS); then it takes every parked stream the
 * journal has moved past off the list and queues its fill on a worker,
 * which resumes the connection. With no stream parked it sleeps on its
 * condition variable and costs nothing.
 *
 * The sweeper (conn.c, every 100 ms) also comes here: a parked stream whose
 * keep-alive is due is woken the same way; a stream in SEND that has
 * handed nothing to its socket for http.stream_stall_ms is flagged slow
 * (its reader ends it with a resume frame); while stopping, every parked
 * stream is woken to end. The hub also keeps the frames of recent events
 * (cjh_hub_frame), so that streams following together write each once. Locks: hub->mu, then the pool's or the
 * connections' (never the other way); MHD_resume_connection is never
 * called holding hub->mu. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "feed.h"

/* The longest cj_journal_wait: how late the notifier notices a stop. */
#define NOTIFY_WAIT_MS 250
/* After a failed look at the journal, the notifier waits this long. */
#define RETRY_MS 100

/* hub->mu held: take st off the parked list. */
static void unpark_locked(cjh_hub *h, cjh_stream *st)
{
	if (st->pprev)
		st->pprev->pnext = st->pnext;
	else
		h->parked = st->pnext;
	if (st->pnext)
		st->pnext->pprev = st->pprev;
	st->pnext = st->pprev = NULL;
	st->in_parked = 0;
}

/* hub->mu held: take st off the parked list and queue its fill. */
static void wake_locked(cjh_hub *h, cjh_stream *st)
{
	unpark_locked(h, st);
	atomic_store(&st->state, CJH_ST_FILL);
	cjh_pool_push(h->sv->pool, st->r);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void *notifier_main(void *arg)
{
	cjh_hub *h = arg;
	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		if (!h->parked) {
			pthread_cond_wait(&h->cv, &h->mu);
			continue;
		}
		uint64_t seen = h->last, last = 0;
		pthread_mutex_unlock(&h->mu);
		int rc = cj_journal_wait(&last, h->st->s, seen, NOTIFY_WAIT_MS);
		if (rc < 0) {
			cj_error_clear(); /* the fills meet the error themselves and say it */
			sleep_ms(RETRY_MS);
		}
		pthread_mutex_lock(&h->mu);
		if (rc == 1 && last > h->last)
			h->last = last;
		for (cjh_stream *st = h->parked, *next; st; st = next) {
			next = st->pnext;
			if (st->pos < h->last)
				wake_locked(h, st);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

void cjh_hub_add(cjh_hub *h, cjh_stream *st)
{
	pthread_mutex_lock(&h->mu);
	st->aprev = NULL;
	st->anext = h->all;
	if (h->all)
		h->all->aprev = st;
	h->all = st;
	pthread_mutex_unlock(&h->mu);
}

void cjh_hub_remove(cjh_hub *h, cjh_stream *st)
{
	pthread_mutex_lock(&h->mu);
	if (st->in_parked) /* not expected: a parked stream's connection is suspended */
		unpark_locked(h, st);
	if (st->aprev)
		st->aprev->anext = st->anext;
	else
		h->all = st->anext;
	if (st->anext)
		st->anext->aprev = st->aprev;
	pthread_mutex_unlock(&h->mu);
}

int cjh_hub_park(cjh_hub *h, cjh_stream *st)
{
	pthread_mutex_lock(&h->mu);
	if (h->last > st->pos) {
		pthread_mutex_unlock(&h->mu);
		return 0;
	}
	atomic_store(&st->state, CJH_ST_PARKED);
	st->in_parked = 1;
	st->pprev = NULL;
	st->pnext = h->parked;
	if (h->parked)
		h->parked->pprev = st;
	else
		pthread_cond_signal(&h->cv); /* the notifier starts waiting on the journal */
	h->parked = st;
	pthread_mutex_unlock(&h->mu);
	return 1;
}

int cjh_hub_frame(cjh_hub *h, cjh_buf *out, const cj_record *rec)
{
	cjh_frame *f = &h->cache[rec->seq & (CJH_FRAME_CACHE - 1)];
	pthread_mutex_lock(&h->cache_mu);
	if (f->seq == rec->seq && f->flags == rec->flags && f->body_len == rec->body_len) {
		cjh_buf_add(out, f->p, f->len);
		pthread_mutex_unlock(&h->cache_mu);
		return 0;
	}
	pthread_mutex_unlock(&h->cache_mu);
	size_t at = out->len;
	int rc = cjh_sse_event(out, rec);
	size_t len = out->len - at;
	if (rc || out->oom || len > CJH_FRAME_CACHE_MAX)
		return rc;
	char *copy = malloc(len);
	if (!copy)
		return 0; /* not kept: the frame itself is fine */
	memcpy(copy, out->p + at, len);
	pthread_mutex_lock(&h->cache_mu);
	free(f->p);
	*f = (cjh_frame){ rec->seq, rec->flags, rec->body_len, copy, len };
	pthread_mutex_unlock(&h->cache_mu);
	return 0;
}

/* A line for the operator: which stream was dropped, never its data. */
static void log_slow(cjh_server *sv, const cjh_stream *st, uint64_t stalled_ns)
{
	const cjh_request *r = st->r;
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:f}", "event", "slow_consumer", "request_id",
	                      r->request_id, "store", sv->stores[r->auth.store].name, "client",
	                      r->client, "stalled_ms", (double)stalled_ns / 1e6);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(o);
	if (text)
		cjh_log_line(sv, text);
	free(text);
}

void cjh_feed_sweep(cjh_server *sv, uint64_t now, int stopping)
{
	uint64_t ping_ns = (uint64_t)sv->set.ping_ms * 1000000u;
	uint64_t stall_ns = (uint64_t)sv->set.stall_ms * 1000000u;
	for (size_t i = 0; i < sv->nstores; i++) {
		cjh_hub *h = sv->stores[i].hub;
		if (!h)
			continue;
		pthread_mutex_lock(&h->mu);
		for (cjh_stream *st = h->parked, *next; st; st = next) {
			next = st->pnext;
			if (stopping || now >= atomic_load(&st->frame_ns) + ping_ns)
				wake_locked(h, st);
		}
		for (cjh_stream *st = h->all; st; st = st->anext) {
			uint64_t p = atomic_load(&st->progress_ns);
			if (atomic_load(&st->state) != CJH_ST_SEND || atomic_load(&st->slow) || now < p + stall_ns)
				continue;
			atomic_store(&st->slow, 1);
			atomic_fetch_add(&sv->stores[i].m.slow_consumers, 1);
			log_slow(sv, st, now - p);
		}
		pthread_mutex_unlock(&h->mu);
	}
}

void cjh_feed_kill(cjh_server *sv)
{
	for (size_t i = 0; i < sv->nstores; i++) {
		cjh_hub *h = sv->stores[i].hub;
		if (!h)
			continue;
		pthread_mutex_lock(&h->mu);
		for (cjh_stream *st = h->all; st; st = st->anext) {
			if (!st->killed)
				cjh_conn_shutdown(sv, st->r->conn);
			st->killed = 1;
		}
		pthread_mutex_unlock(&h->mu);
	}
}

int cjh_feed_start(cjh_server *sv)
{
	for (size_t i = 0; i < sv->nstores; i++) {
		cjh_hub *h = calloc(1, sizeof *h);
		if (!h)
			return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
		h->sv = sv;
		h->st = &sv->stores[i];
		pthread_mutex_init(&h->mu, NULL);
		pthread_mutex_init(&h->cache_mu, NULL);
		pthread_cond_init(&h->cv, NULL);
		sv->stores[i].hub = h;
		if (pthread_create(&h->th, NULL, notifier_main, h) != 0)
			return cj_error_set(CJ_ENOMEM, NULL, "serve: cannot start the change feed's thread");
		h->started = 1;
	}
	return 0;
}

/* After the daemon stopped: no stream is left. */
void cjh_feed_stop(cjh_server *sv)
{
	for (size_t i = 0; i < sv->nstores; i++) {
		cjh_hub *h = sv->stores[i].hub;
		if (!h)
			continue;
		if (h->started) {
			pthread_mutex_lock(&h->mu);
			h->stop = 1;
			pthread_cond_signal(&h->cv);
			pthread_mutex_unlock(&h->mu);
			pthread_join(h->th, NULL);
		}
		pthread_mutex_destroy(&h->mu);
		pthread_mutex_destroy(&h->cache_mu);
		pthread_cond_destroy(&h->cv);
		for (size_t k = 0; k < CJH_FRAME_CACHE; k++)
			free(h->cache[k].p);
		free(h);
		sv->stores[i].hub = NULL;
	}
}
