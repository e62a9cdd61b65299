/* api/http/pool.c — the workers: a fixed number of threads run the blocking
 * part of requests (SQLite reads, parsing and validating events, blob
 * writes) while their connections are suspended. The event loop only
 * pushes; a slow or waiting client never holds a worker (waits and commits
 * are parked, see wait.c and routes.c). */
#include <stdlib.h>
#include "service.h"

/* A decided ticket to free. cj_ticket_free waits until the journal's writer
 * has finished telling the whole commit's tickets (their callbacks resume
 * our connections): an event loop must not wait for that. A reaper thread
 * of the pool frees them in bunches: woken when REAP_AT gather, else every
 * REAP_MS (a wake-up per commit cost the loops a futex call per request in
 * bench http's single events, docs/performance.md). */
#define REAP_AT 256
#define REAP_MS 20
typedef struct ticket_node {
	cj_ticket *t;
	struct ticket_node *next;
} ticket_node;

struct cjh_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	cjh_request *head, *tail;
	ticket_node *tickets;
	size_t ntickets;
	pthread_cond_t reap_cv;
	int reaper_started;
	pthread_t reaper;
	int stop;
	unsigned n;
	pthread_t *th;
};

static void free_tickets(ticket_node *n)
{
	while (n) {
		ticket_node *next = n->next;
		cj_ticket_free(n->t);
		free(n);
		n = next;
	}
}

static void *reaper_main(void *arg)
{
	cjh_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (!p->tickets && !p->stop) {
			pthread_cond_wait(&p->reap_cv, &p->mu);
			continue; /* the first of a bunch: wait for the rest */
		}
		if (p->ntickets < REAP_AT && !p->stop) {
			struct timespec ts;
			cjh_deadline_ns(&ts, REAP_MS * 1000000L);
			if (pthread_cond_timedwait(&p->reap_cv, &p->mu, &ts) == 0)
				continue; /* woken: look again */
		}
		ticket_node *n = p->tickets;
		p->tickets = NULL;
		p->ntickets = 0;
		if (!n && p->stop)
			break;
		pthread_mutex_unlock(&p->mu);
		free_tickets(n);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void *worker_main(void *arg)
{
	cjh_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->head)
			break; /* stopping, and nothing left */
		cjh_request *r = p->head;
		p->head = r->qnext;
		if (!p->head)
			p->tail = NULL;
		r->qnext = NULL;
		pthread_mutex_unlock(&p->mu);
		r->step(r);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int cjh_pool_start(cjh_pool **out, unsigned n)
{
	*out = NULL;
	cjh_pool *p = calloc(1, sizeof *p);
	if (!p || !(p->th = calloc(n, sizeof *p->th))) {
		free(p);
		return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_cond_init(&p->reap_cv, NULL);
	if (pthread_create(&p->reaper, NULL, reaper_main, p) != 0) {
		cjh_pool_stop(p);
		return cj_error_set(CJ_ENOMEM, NULL, "serve: cannot start worker threads");
	}
	p->reaper_started = 1;
	for (; p->n < n; p->n++) {
		if (pthread_create(&p->th[p->n], NULL, worker_main, p) != 0) {
			cjh_pool_stop(p);
			return cj_error_set(CJ_ENOMEM, NULL, "serve: cannot start worker threads");
		}
	}
	*out = p;
	return 0;
}

/* FIFO: a request waits behind those pushed before it, never behind a
 * connection that sends slowly (those are not here until their body is in). */
void cjh_pool_push(cjh_pool *p, cjh_request *r)
{
	pthread_mutex_lock(&p->mu);
	r->qnext = NULL;
	if (p->tail)
		p->tail->qnext = r;
	else
		p->head = r;
	p->tail = r;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void cjh_pool_free_ticket(cjh_pool *p, cj_ticket *t)
{
	ticket_node *n = malloc(sizeof *n);
	if (!n) {
		cj_ticket_free(t); /* out of memory: wait here rather than leak */
		return;
	}
	n->t = t;
	pthread_mutex_lock(&p->mu);
	n->next = p->tickets;
	p->ntickets = p->tickets ? p->ntickets + 1 : 1;
	p->tickets = n;
	/* The first of a bunch starts the reaper's timer, the REAP_AT-th wakes
	 * it at once. */
	if (p->ntickets == 1 || p->ntickets == REAP_AT)
		pthread_cond_signal(&p->reap_cv);
	pthread_mutex_unlock(&p->mu);
}

/* Runs what is queued (requests, then tickets), then joins. */
void cjh_pool_stop(cjh_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->n; i++)
		pthread_join(p->th[i], NULL);
	/* The requests run above may have left tickets: the reaper frees
	 * every one before it ends. */
	pthread_mutex_lock(&p->mu);
	pthread_cond_signal(&p->reap_cv);
	pthread_mutex_unlock(&p->mu);
	if (p->reaper_started)
		pthread_join(p->reaper, NULL);
	free_tickets(p->tickets); /* none, unless the reaper never started */
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	pthread_cond_destroy(&p->reap_cv);
	free(p->th);
	free(p);
}
