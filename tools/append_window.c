/* tools/append_window.c — the ordered ticket window (append_window.h).
 * Events go in batches (one ticket each, at most BATCH_EVENTS events or
 * BATCH_BYTES of input) with up to WINDOW tickets waiting at once, so the
 * journal's writer can join them into one commit and one fsync. A failed
 * ticket is retried alone, halving, until the failing event is found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "append_window.h"
#include "cli.h"

#define BATCH_EVENTS 1000
#define BATCH_BYTES  ((size_t)4 << 20)
#define WINDOW       4

typedef struct batch {
	cj_event **evs;
	unsigned *owners;  /* who made each event (aw_add), for the release */
	size_t *lines;     /* input line number of each event */
	uint64_t *seqs;
	size_t n;
	size_t bytes;
	cj_ticket *ticket;
	int rc;            /* outcome once waited */
	int has_id;        /* some event carries an idempotency id */
} batch;

struct append_window {
	cj_store *s;
	batch build;              /* filling up, not submitted */
	batch ring[WINDOW];       /* submitted, in input order from head */
	size_t head, count;
	uint64_t appended;
	uint64_t max_seq;
	uint64_t dups, dups_deleted;      /* among appended (cj_ticket_status) */
	int failed;               /* err holds the one-line error */
	int halted;               /* a commit failed: submit nothing more */
	aw_release_fn release;    /* NULL: cj_event_free */
	void *release_arg;
	char err[2048];
};

static int batch_alloc(batch *b)
{
	memset(b, 0, sizeof *b);
	b->evs = calloc(BATCH_EVENTS, sizeof *b->evs);
	b->lines = calloc(BATCH_EVENTS, sizeof *b->lines);
	b->seqs = calloc(BATCH_EVENTS, sizeof *b->seqs);
	b->owners = calloc(BATCH_EVENTS, sizeof *b->owners);
	return b->evs && b->lines && b->seqs && b->owners ? 0 : -1;
}

static void batch_clear(append_window *w, batch *b)
{
	if (w->release && b->n)
		w->release(w->release_arg, b->evs, b->owners, b->n);
	else
		for (size_t i = 0; i < b->n; i++)
			cj_event_free(b->evs[i]);
	cj_ticket_free(b->ticket);
	b->ticket = NULL;
	b->n = 0;
	b->bytes = 0;
	b->rc = 0;
	b->has_id = 0;
}

static void batch_release(append_window *w, batch *b)
{
	batch_clear(w, b);
	free(b->evs);
	free(b->owners);
	free(b->lines);
	free(b->seqs);
}

static void fail_line(append_window *c, size_t line, int rc)
{
	cli_line_error(c->err, sizeof c->err, line, rc);
	c->failed = 1;
}

static void account(append_window *c, const uint64_t *seqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (seqs[i] > c->max_seq)
			c->max_seq = seqs[i];
	c->appended += n;
}

/* What became of each event of a done ticket: new, repeat, repeat of a
 * deleted event (only ids can repeat, so batches without one are all new). */
static void count_status(append_window *c, cj_ticket *t, size_t n, int has_id)
{
	if (!has_id || n == 0)
		return;
	cj_append_status st[BATCH_EVENTS];
	if (cj_ticket_status(st, c->s, t) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		c->dups += st[i] != CJ_APPEND_NEW;
		c->dups_deleted += st[i] == CJ_APPEND_DUPLICATE_DELETED;
	}
}

/* cj_journal_append_batch, through a ticket so that its statuses count. */
static int append_now(append_window *c, uint64_t *seqs, cj_event **evs, size_t n, int has_id)
{
	cj_ticket *t;
	int rc = cj_journal_submit(&t, c->s, (const cj_event *const *)evs, n);
	if (rc)
		return rc;
	rc = cj_ticket_wait(seqs, t);
	if (rc == 0)
		count_status(c, t, n, has_id);
	cj_ticket_free(t);
	return rc;
}

/* Append evs[0..n) synchronously, halving on failure, so that everything
 * before the first failing event is stored and the error names its line. */
static int append_bisect(append_window *c, batch *b, size_t from, size_t n)
{
	if (n == 0)
		return 0;
	int rc = append_now(c, b->seqs + from, b->evs + from, n, b->has_id);
	if (rc == 0) {
		account(c, b->seqs + from, n);
		return 0;
	}
	if (n == 1) {
		fail_line(c, b->lines[from], rc);
		c->halted = 1;
		return rc;
	}
	size_t half = n / 2;
	rc = append_bisect(c, b, from, half);
	if (rc != 0)
		return rc;
	return append_bisect(c, b, from + half, n - half);
}

static batch *ring_at(append_window *c, size_t i)
{
	return &c->ring[(c->head + i) % WINDOW];
}

static void ring_clear(append_window *c)
{
	for (size_t i = 0; i < c->count; i++)
		batch_clear(c, ring_at(c, i));
	c->head = 0;
	c->count = 0;
}

/* The oldest ticket failed. Later tickets may already be committed; if none
 * is, retry the failed ones in order, synchronously, which either succeeds
 * (a passing condition) or pins the error to one line. Otherwise the order is
 * already broken and the error can only name the range. */
static int recover(append_window *c, const char *first_msg)
{
	batch *first = ring_at(c, 0);
	uint64_t late = 0;
	for (size_t i = 1; i < c->count; i++) {
		batch *b = ring_at(c, i);
		b->rc = cj_ticket_wait(b->seqs, b->ticket);
		if (b->rc == 0) {
			account(c, b->seqs, b->n);
			count_status(c, b->ticket, b->n, b->has_id);
			late += b->n;
		}
	}
	if (late > 0) {
		snprintf(c->err, sizeof c->err, "lines %zu-%zu: %s (%llu events from later lines, "
		         "already submitted, were appended)", first->lines[0], first->lines[first->n - 1],
		         first_msg, (unsigned long long)late);
		c->failed = 1;
		c->halted = 1;
		ring_clear(c);
		return -1;
	}
	for (size_t i = 0; i < c->count; i++) {
		if (append_bisect(c, ring_at(c, i), 0, ring_at(c, i)->n) != 0) {
			ring_clear(c);
			return -1;
		}
	}
	ring_clear(c);
	return 0;
}

static int wait_oldest(append_window *c)
{
	batch *b = ring_at(c, 0);
	b->rc = cj_ticket_wait(b->seqs, b->ticket);
	if (b->rc != 0) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", cli_error_text(b->rc));
		return recover(c, msg);
	}
	account(c, b->seqs, b->n);
	count_status(c, b->ticket, b->n, b->has_id);
	batch_clear(c, b);
	c->head = (c->head + 1) % WINDOW;
	c->count--;
	return 0;
}

static int drain(append_window *c)
{
	while (c->count > 0)
		if (wait_oldest(c) != 0)
			return -1;
	return 0;
}

/* Queue the building batch as a ticket; its arrays swap with an empty slot. */
static int submit(append_window *c)
{
	if (c->build.n == 0)
		return 0;
	if (c->count == WINDOW && wait_oldest(c) != 0)
		return -1;
	/* Only a batch with ids can fail on a conflict while its neighbours
	 * commit, so it flies alone: no later line is ever committed ahead of
	 * it, and a failure can always be pinned to one line. */
	if (c->count > 0 && (c->build.has_id || ring_at(c, c->count - 1)->has_id) &&
	    drain(c) != 0)
		return -1;
	cj_ticket *t = NULL;
	int rc;
	for (;;) {
		rc = cj_journal_submit(&t, c->s, (const cj_event *const *)c->build.evs, c->build.n);
		/* A full queue stores nothing: make room with our own tickets. */
		if (rc != CJ_EBUSY || c->count == 0)
			break;
		if (wait_oldest(c) != 0)
			return -1;
	}
	if (rc != 0) {
		/* Nothing of it was queued: earlier tickets first, then line by line. */
		if (drain(c) != 0)
			return -1;
		if (append_bisect(c, &c->build, 0, c->build.n) != 0)
			return -1;
		batch_clear(c, &c->build);
		return 0;
	}
	batch *slot = ring_at(c, c->count);
	batch tmp = *slot;
	*slot = c->build;
	slot->ticket = t;
	c->build = tmp;
	c->count++;
	return 0;
}

/* ---- the window's face --------------------------------------------------- */

int aw_open(append_window **out, cj_store *s)
{
	*out = NULL;
	append_window *w = calloc(1, sizeof *w);
	if (!w)
		return -1;
	w->s = s;
	int ok = batch_alloc(&w->build) == 0;
	for (size_t i = 0; i < WINDOW; i++)
		ok = batch_alloc(&w->ring[i]) == 0 && ok;
	if (!ok) {
		aw_close(w);
		return -1;
	}
	*out = w;
	return 0;
}

void aw_close(append_window *w)
{
	if (!w)
		return;
	batch_release(w, &w->build);
	for (size_t i = 0; i < WINDOW; i++)
		batch_release(w, &w->ring[i]);
	free(w);
}

void aw_set_release(append_window *w, aw_release_fn fn, void *arg)
{
	w->release = fn;
	w->release_arg = arg;
}

int aw_add(append_window *w, cj_event *ev, unsigned owner, size_t line, size_t bytes)
{
	batch *b = &w->build;
	b->evs[b->n] = ev;
	b->owners[b->n] = owner;
	b->lines[b->n] = line;
	b->has_id |= cj_event_get_string(ev, "id") != NULL;
	b->n++;
	b->bytes += bytes;
	if (b->n == BATCH_EVENTS || b->bytes >= BATCH_BYTES)
		return submit(w);
	return 0;
}

int aw_finish(append_window *w)
{
	if (!w->halted && submit(w) == 0)
		drain(w);
	return w->failed ? -1 : 0;
}

const char *aw_error(const append_window *w) { return w->err; }
uint64_t aw_appended(const append_window *w) { return w->appended; }
uint64_t aw_max_seq(const append_window *w) { return w->max_seq; }
uint64_t aw_duplicates(const append_window *w) { return w->dups; }
uint64_t aw_deleted_duplicates(const append_window *w) { return w->dups_deleted; }
