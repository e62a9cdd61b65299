/* import/par.c — jobs on worker threads, replayed in order (par.h).
 *
 * The queue is a list of segments in source order: a job (a file a worker
 * reads, logging its calls) or an inline log (the parser's own calls on the
 * driver's thread between two jobs). Workers take the oldest queued job;
 * the driver's thread replays from the head as segments finish. The last
 * inline log is open (still being written) until the next job or the drain. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "par.h"

enum { SEG_QUEUED, SEG_RUNNING, SEG_DONE };

typedef struct seg {
	rec log;
	par_fn fn;              /* NULL: an inline log */
	void *arg;
	void (*free_arg)(void *);
	imp *wm;                /* the job's recording imp */
	int state;
	struct seg *next;
} seg;

struct par {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	pthread_t th[PAR_MAX];
	unsigned nth;
	seg *head, *tail;
	size_t jobs;            /* job segments not yet replayed */
	seg *loose;             /* jobs nobody replays (par_detach) */
	int stop;
	par_ops ops;
};

static void seg_free(par *p, seg *s)
{
	if (s->free_arg)
		s->free_arg(s->arg);
	if (s->wm)
		p->ops.worker_free(s->wm);
	rec_free(&s->log);
	free(s);
}

static void *worker(void *arg)
{
	par *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->loose) {
			seg *l = p->loose;
			p->loose = l->next;
			pthread_mutex_unlock(&p->mu);
			l->fn(NULL, l->arg);
			free(l);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		seg *s = p->head;
		while (s && !(s->fn && s->state == SEG_QUEUED))
			s = s->next;
		if (!s) {
			if (p->stop)
				break;
			pthread_cond_wait(&p->work, &p->mu);
			continue;
		}
		s->state = SEG_RUNNING;
		pthread_mutex_unlock(&p->mu);
		s->fn(s->wm, s->arg);
		s->free_arg(s->arg);
		s->free_arg = NULL;
		p->ops.worker_free(s->wm);
		s->wm = NULL;
		pthread_mutex_lock(&p->mu);
		s->state = SEG_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

par *par_new(const par_ops *ops)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	const char *env = getenv("CHATJOURNAL_IMPORT_THREADS");
	if (env && *env)
		cpus = strtol(env, NULL, 10);
	if (cpus < 2)
		return NULL;
	par *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->ops = *ops;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	unsigned want = cpus > PAR_MAX ? PAR_MAX : (unsigned)cpus;
	for (; p->nth < want; p->nth++)
		if (pthread_create(&p->th[p->nth], NULL, worker, p) != 0)
			break;
	if (p->nth == 0) {
		par_free(p);
		return NULL;
	}
	return p;
}

static seg *seg_new(void)
{
	seg *s = calloc(1, sizeof *s);
	if (s)
		rec_init(&s->log);
	return s;
}

rec *par_queue(par *p, imp *m, par_fn fn, void *arg, void (*free_arg)(void *))
{
	seg *job = seg_new(), *open = seg_new();
	imp *wm = job ? p->ops.worker_new(m, &job->log) : NULL;
	if (!job || !open || !wm) {
		if (wm)
			p->ops.worker_free(wm);
		free(job);
		free(open);
		free_arg(arg);
		return NULL;
	}
	job->fn = fn;
	job->arg = arg;
	job->free_arg = free_arg;
	job->wm = wm;
	open->state = SEG_DONE;
	pthread_mutex_lock(&p->mu);
	job->next = open;
	if (p->tail)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = open;
	p->jobs++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return &open->log;
}

/* Replay from the head: finished segments, waiting for jobs while more
 * than `ahead` are left; the open log only when `all`. */
static void replay(par *p, imp *m, size_t ahead, int all)
{
	pthread_mutex_lock(&p->mu);
	while (p->head) {
		seg *s = p->head;
		if (s == p->tail && !all)
			break;
		if (s->state != SEG_DONE) {
			if (!all && p->jobs <= ahead)
				break;
			pthread_cond_wait(&p->done, &p->mu);
			continue;
		}
		p->head = s->next;
		if (!p->head)
			p->tail = NULL;
		if (s->fn)
			p->jobs--;
		pthread_mutex_unlock(&p->mu);
		p->ops.replay(m, &s->log);
		seg_free(p, s);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
}

int par_detach(par *p, par_fn fn, void *arg)
{
	seg *l = calloc(1, sizeof *l);
	if (!l)
		return -1;
	l->fn = fn;
	l->arg = arg;
	pthread_mutex_lock(&p->mu);
	l->next = p->loose;
	p->loose = l;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void par_replay(par *p, imp *m, size_t ahead) { replay(p, m, ahead, 0); }

void par_drain(par *p, imp *m) { replay(p, m, 0, 1); }

void par_free(par *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	while (p->head) {
		seg *s = p->head;
		p->head = s->next;
		seg_free(p, s);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p);
}
