/* api/http/pool.c — the workers: a fixed number of threads run the blocking
 * part of requests (SQLite reads, parsing and validating events, blob
 * writes) while their connections are suspended. The event loop only
 * pushes; a slow or waiting client never holds a worker (waits and commits
 * are parked, see wait.c and routes.c). */
#include <stdlib.h>
#include "service.h"

/* A decided ticket to free. cj_ticket_free waits until the journal's writer
 * has finished telling the whole commit's tickets (their callbacks resume
 * our connections): an event loop must not wait for that, a worker may. */
typedef struct ticket_node {
	cj_ticket *t;
	struct ticket_node *next;
} ticket_node;

struct cjh_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	cjh_request *head, *tail;
	ticket_node *tickets;
	int stop;
	unsigned n;
	pthread_t *th;
};

static void *worker_main(void *arg)
{
	cjh_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->tickets && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->tickets) {
			/* All of them: a commit's tickets come together. */
			ticket_node *n = p->tickets;
			p->tickets = NULL;
			pthread_mutex_unlock(&p->mu);
			while (n) {
				ticket_node *next = n->next;
				cj_ticket_free(n->t);
				free(n);
				n = next;
			}
			pthread_mutex_lock(&p->mu);
			continue;
		}
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
	if (!p->tickets)
		pthread_cond_signal(&p->cv); /* one wake-up frees what gathers meanwhile */
	p->tickets = n;
	pthread_mutex_unlock(&p->mu);
}

/* Runs what is queued (requests and tickets), then joins. */
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
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->th);
	free(p);
}
