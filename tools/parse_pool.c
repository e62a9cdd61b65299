/* tools/parse_pool.c — lines parsed on worker threads, consumed in order
 * (parse_pool.h).
 *
 * Chunks of lines sit in a ring of slots, in input order from `head`. The
 * caller fills the slot after the last queued one; a full chunk is queued
 * for the workers (any worker takes any queued chunk); the caller consumes
 * the oldest chunk once it is parsed, before it needs its slot again. A
 * worker stops a chunk at its first bad line: the events before it are
 * consumed, then the error is reported and no later chunk is consumed.
 *
 * Events come back through pp_release and are freed by the worker that
 * made them, before it parses its next chunk: glibc's malloc keeps a small
 * cache per thread, and memory freed by another thread bypasses it (freed
 * on the caller's thread, malloc and free were ~40% of `chatjournal
 * append`'s CPU; docs/performance.md). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "parse_pool.h"
#include "cli.h"

#define CHUNK_LINES 256
#define CHUNK_BYTES ((size_t)1 << 20)
#define MAX_WORKERS 4

enum { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_PARSING, SLOT_PARSED };

typedef struct slot {
	int state;
	char *text;
	size_t len, cap;
	size_t n;                     /* lines in the chunk */
	size_t off[CHUNK_LINES], size[CHUNK_LINES], line[CHUNK_LINES];
	cj_event *evs[CHUNK_LINES];   /* parsed, in order: nev of them */
	size_t ev_line[CHUNK_LINES], ev_bytes[CHUNK_LINES];
	size_t nev;
	unsigned owner;               /* the worker that parsed it, or PP_CALLER */
	int failed;
	char err[2048];
} slot;

#define PP_CALLER ((unsigned)-1)

typedef struct ev_list {
	cj_event **v;
	size_t n, cap;
} ev_list;

typedef struct worker {
	parse_pool *p;
	unsigned idx;
	ev_list spare;                /* swapped with its garbage list, then freed */
} worker;

struct parse_pool {
	const cj_limits *lim;
	pp_consume_fn consume;
	void *arg;
	unsigned nworkers, nslots;
	pthread_t workers[MAX_WORKERS];
	worker w[MAX_WORKERS];
	ev_list garbage[MAX_WORKERS]; /* released events, by the worker that made them (mu) */
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	int stopping;
	slot *slots;
	size_t head;                  /* oldest slot not yet consumed */
	size_t fill;                  /* the slot being filled */
	size_t used;                  /* slots from head on that hold a chunk */
	int stopped;                  /* a bad line or the consumer stopped */
	char err[2048];
};

/* ---- one line -------------------------------------------------------------- */

static int is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

static void fail_text(slot *s, const char *fmt, ...) CLI_PRINTF(2, 3);
static void fail_text(slot *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	s->failed = 1;
}

/* One event checked against the store's limits (cj_event_parse would apply
 * the built-in ones, refusing what a store with larger limits accepts). */
static cj_event *parse_line(slot *s, const cj_limits *lim, size_t lineno, const char *line,
                            size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	size_t bad = cj_utf8_check(line, len);
	if (bad < len) {
		fail_text(s, "line %zu: invalid UTF-8 (byte 0x%02x at offset %zu)", lineno,
		          (unsigned)(unsigned char)line[bad], bad);
		return NULL;
	}
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	/* The parser would take an array as a batch: JSONL has one per line. */
	if (i < len && line[i] == '[') {
		fail_text(s, "line %zu: expected one JSON object, got an array", lineno);
		return NULL;
	}
	cj_event **evs = NULL;
	size_t n = 0;
	int is_array = 0;
	long badi = -1;
	int rc = cj_event_parse_many(&evs, &n, &is_array, &badi, line, len, lim, 1);
	if (rc != 0) {
		cli_line_error(s->err, sizeof s->err, lineno, rc);
		s->failed = 1;
		return NULL;
	}
	if (is_array || n != 1) {
		cj_events_free(evs, n);
		fail_text(s, "line %zu: expected one JSON object, got an array", lineno);
		return NULL;
	}
	cj_event *ev = evs[0];
	evs[0] = NULL;
	cj_events_free(evs, n);
	return ev;
}

static void parse_chunk(slot *s, const cj_limits *lim)
{
	s->nev = 0;
	for (size_t i = 0; i < s->n && !s->failed; i++) {
		cj_event *ev = parse_line(s, lim, s->line[i], s->text + s->off[i], s->size[i]);
		if (!ev)
			break;
		s->evs[s->nev] = ev;
		s->ev_line[s->nev] = s->line[i];
		s->ev_bytes[s->nev] = s->size[i];
		s->nev++;
	}
}

/* ---- the workers ----------------------------------------------------------- */

static void free_list(ev_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		cj_event_free(l->v[i]);
	l->n = 0;
}

static void *worker_main(void *arg)
{
	worker *me = arg;
	parse_pool *p = me->p;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		slot *s = NULL;
		for (size_t k = 0; k < p->used && !s; k++) {
			slot *c = &p->slots[(p->head + k) % p->nslots];
			if (c->state == SLOT_QUEUED)
				s = c;
		}
		if (!s) {
			if (p->stopping)
				break;
			pthread_cond_wait(&p->work, &p->mu);
			continue;
		}
		s->state = SLOT_PARSING;
		s->owner = me->idx;
		ev_list mine = p->garbage[me->idx];
		p->garbage[me->idx] = me->spare;
		pthread_mutex_unlock(&p->mu);
		free_list(&mine);
		me->spare = mine;
		parse_chunk(s, p->lim);
		pthread_mutex_lock(&p->mu);
		s->state = SLOT_PARSED;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

unsigned pp_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 1)
		return 0;
	return n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

int pp_open(parse_pool **out, const cj_limits *lim, unsigned workers, pp_consume_fn consume,
            void *arg)
{
	*out = NULL;
	parse_pool *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	p->lim = lim;
	p->consume = consume;
	p->arg = arg;
	p->nworkers = workers > MAX_WORKERS ? MAX_WORKERS : workers;
	p->nslots = p->nworkers * 2 + 1;
	p->slots = calloc(p->nslots, sizeof *p->slots);
	if (!p->slots || pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p->slots);
		free(p);
		return -1;
	}
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	for (unsigned i = 0; i < p->nworkers; i++) {
		p->w[i].p = p;
		p->w[i].idx = i;
	}
	for (unsigned i = 0; i < p->nworkers; i++)
		if (pthread_create(&p->workers[i], NULL, worker_main, &p->w[i]) != 0) {
			p->nworkers = i;
			pp_close(p);
			return -1;
		}
	*out = p;
	return 0;
}

static void slot_reset(slot *s)
{
	for (size_t i = 0; i < s->nev; i++)
		cj_event_free(s->evs[i]);
	s->nev = 0;
	s->n = 0;
	s->len = 0;
	s->failed = 0;
	s->err[0] = '\0';
	s->state = SLOT_FREE;
}

/* Wait for the oldest chunk, hand its events to the consumer, free its slot.
 * Called with nothing locked. */
static int consume_oldest(parse_pool *p)
{
	slot *s = &p->slots[p->head];
	pthread_mutex_lock(&p->mu);
	while (s->state != SLOT_PARSED)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	int rc = 0;
	size_t i = 0;
	for (; i < s->nev && rc == 0; i++) {
		cj_event *ev = s->evs[i];
		s->evs[i] = NULL;
		rc = p->consume(p->arg, ev, s->owner, s->ev_line[i], s->ev_bytes[i]);
	}
	if (rc != 0) {
		p->stopped = 1;
	} else if (s->failed) {
		snprintf(p->err, sizeof p->err, "%s", s->err);
		p->stopped = 1;
	}
	pthread_mutex_lock(&p->mu);
	slot_reset(s);
	p->head = (p->head + 1) % p->nslots;
	p->used--;
	pthread_mutex_unlock(&p->mu);
	return p->stopped ? -1 : 0;
}

/* The filling chunk goes to a worker (or is parsed here without workers). */
static void queue_fill(parse_pool *p)
{
	slot *s = &p->slots[p->fill];
	if (!p->nworkers) {
		s->owner = PP_CALLER;
		parse_chunk(s, p->lim);
		s->state = SLOT_PARSED;
	} else {
		pthread_mutex_lock(&p->mu);
		s->state = SLOT_QUEUED;
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->mu);
	}
	p->fill = (p->fill + 1) % p->nslots;
}

int pp_add(parse_pool *p, size_t line, const char *text, size_t len)
{
	if (p->stopped)
		return -1;
	if (is_blank(text, len))
		return 0;
	slot *s = &p->slots[p->fill];
	if (s->state == SLOT_FREE) {
		/* Its slot must be free: consume the oldest chunk while all are taken. */
		s->state = SLOT_FILLING;
		pthread_mutex_lock(&p->mu);
		p->used++;
		pthread_mutex_unlock(&p->mu);
	}
	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : 64 * 1024;
		while (cap < s->len + len)
			cap *= 2;
		char *t = realloc(s->text, cap);
		if (!t) {
			snprintf(p->err, sizeof p->err, "line %zu: out of memory", line);
			p->stopped = 1;
			return -1;
		}
		s->text = t;
		s->cap = cap;
	}
	memcpy(s->text + s->len, text, len);
	s->off[s->n] = s->len;
	s->size[s->n] = len;
	s->line[s->n] = line;
	s->n++;
	s->len += len;
	if (s->n < CHUNK_LINES && s->len < CHUNK_BYTES)
		return 0;
	queue_fill(p);
	/* The next chunk needs a free slot: the ring is full when every slot
	 * holds a chunk not yet consumed. */
	while (p->used == p->nslots)
		if (consume_oldest(p) != 0)
			return -1;
	return 0;
}

int pp_finish(parse_pool *p)
{
	if (p->stopped)
		return -1;
	if (p->slots[p->fill].state == SLOT_FILLING)
		queue_fill(p);
	while (p->used > 0)
		if (consume_oldest(p) != 0)
			return -1;
	return 0;
}

void pp_release(void *pool, cj_event **evs, const unsigned *owners, size_t n)
{
	parse_pool *p = pool;
	size_t kept = 0;
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < n; i++) {
		ev_list *l = owners[i] < p->nworkers ? &p->garbage[owners[i]] : NULL;
		if (l && l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 4096;
			cj_event **v = realloc(l->v, cap * sizeof *v);
			if (v) {
				l->v = v;
				l->cap = cap;
			}
		}
		if (l && l->n < l->cap) {
			l->v[l->n++] = evs[i];
			evs[i] = NULL;
			kept++;
		}
	}
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; kept < n && i < n; i++)
		if (evs[i]) {
			cj_event_free(evs[i]); /* made here, or no room to hand it back */
			evs[i] = NULL;
		}
}

const char *pp_error(const parse_pool *p) { return p->err; }

void pp_close(parse_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i], NULL);
	for (unsigned i = 0; i < MAX_WORKERS; i++) {
		free_list(&p->garbage[i]);
		free(p->garbage[i].v);
		free(p->w[i].spare.v);
	}
	for (unsigned i = 0; i < p->nslots; i++) {
		slot_reset(&p->slots[i]);
		free(p->slots[i].text);
	}
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p->slots);
	free(p);
}
