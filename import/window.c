/* import/window.c — the append's window of tickets: accepted events
 * gather in the current batch (a group is never split), a full batch is
 * submitted, and at most INFLIGHT tickets are in flight; a decided ticket's
 * statuses are counted into the report. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "driver.h"

static void batch_clear(batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		cj_event_free(b->evs[i]);
	b->n = 0;
	b->t = NULL;
}

void imp_batch_free(batch *b)
{
	if (b->t) {
		cj_ticket_wait(NULL, b->t);
		cj_ticket_free(b->t);
		b->t = NULL;
	}
	batch_clear(b);
	free(b->evs);
	free(b->file);
	free(b->kind);
	memset(b, 0, sizeof *b);
}

int imp_batch_add(imp *m, batch *b, cj_event *ev, int kind)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		cj_event **e = realloc(b->evs, cap * sizeof *e);
		if (e)
			b->evs = e;
		long *f = e ? realloc(b->file, cap * sizeof *f) : NULL;
		if (f)
			b->file = f;
		unsigned char *k = f ? realloc(b->kind, cap) : NULL;
		if (!k) {
			cj_event_free(ev);
			return imp_fail(m, CJ_ENOMEM, "out of memory");
		}
		b->kind = k;
		b->cap = cap;
	}
	b->evs[b->n] = ev;
	b->file[b->n] = m->file;
	b->kind[b->n++] = (unsigned char)kind;
	return 0;
}

static int free_events(imp *wm, void *arg)
{
	(void)wm;
	cj_event **evs = arg;
	for (size_t i = 0; evs[i]; i++)
		cj_event_free(evs[i]);
	free(evs);
	return 0;
}

/* Free a committed batch's events: on a worker when there are workers
 * (they are idle while the driver appends, and freeing a million jansson
 * trees is a good part of an append's time). */
static void batch_release(imp *m, batch *b)
{
	cj_event **evs = m->par && b->n ? malloc((b->n + 1) * sizeof *evs) : NULL;
	if (evs) {
		memcpy(evs, b->evs, b->n * sizeof *evs);
		evs[b->n] = NULL;
		if (par_detach(m->par, free_events, evs) == 0)
			b->n = 0;
		else
			free(evs);
	}
	batch_clear(b);
}

/* Wait for the oldest ticket and count what became of its events. */
static int ring_pop(imp *m)
{
	batch *b = &m->ring[m->ring_head];
	if (b->n > m->status_cap) {
		/* kept from ticket to ticket: a large malloc per ticket makes glibc
		 * consolidate its free lists each time */
		size_t cap = b->n > BATCH_MAX ? b->n : BATCH_MAX;
		uint64_t *q = realloc(m->seqs, cap * sizeof *q);
		if (q)
			m->seqs = q;
		cj_append_status *a = q ? realloc(m->status, cap * sizeof *a) : NULL;
		if (a) {
			m->status = a;
			m->status_cap = cap;
		}
	}
	uint64_t *seqs = m->seqs;
	cj_append_status *st = m->status;
	int rc = b->n <= m->status_cap ? cj_ticket_wait(seqs, b->t) : CJ_ENOMEM;
	if (rc == 0)
		rc = cj_ticket_status(st, m->s, b->t);
	if (rc == 0) {
		for (size_t i = 0; i < b->n; i++) {
			int present = st[i] != CJ_APPEND_NEW;
			if (!m->replay)
				rp_count(&m->rep, b->file[i], b->kind[i], present ? RP_PRESENT : RP_IMPORTED);
			else if (present)   /* the plan counted it imported; a writer was first */
				rp_move(&m->rep, b->file[i], b->kind[i], RP_IMPORTED, RP_PRESENT);
			if (!present && seqs[i] > m->last_seq)
				m->last_seq = seqs[i];
		}
	} else {
		const char *f = b->n && b->file[0] >= 0 ? m->rep.files[b->file[0]].name : "?";
		imp_fail(m, rc, "appending events read from %s: %s (the events before them are "
		         "durable, and maybe some after; a rerun appends what is missing)", f,
		         cj_error_last()[0] ? cj_error_last() : cj_strerror(rc));
	}
	cj_ticket_free(b->t);
	b->t = NULL;
	batch_release(m, b);
	m->ring_head = (m->ring_head + 1) % INFLIGHT;
	m->ring_n--;
	return rc;
}

int imp_submit_cur(imp *m)
{
	if (m->cur.n == 0 || m->failed)
		return m->failed ? m->rc : 0;
	if (m->ring_n == INFLIGHT && ring_pop(m) != 0)
		return m->rc;
	size_t slot = (m->ring_head + m->ring_n) % INFLIGHT;
	batch tmp = m->ring[slot];
	m->ring[slot] = m->cur;
	m->cur = tmp;
	m->cur.n = 0;
	batch *b = &m->ring[slot];
	int rc = cj_journal_submit(&b->t, m->s, (const cj_event *const *)b->evs, b->n);
	if (rc != 0) {
		const char *f = b->file[0] >= 0 ? m->rep.files[b->file[0]].name : "?";
		imp_fail(m, rc, "appending events read from %s: %s", f,
		         cj_error_last()[0] ? cj_error_last() : cj_strerror(rc));
		b->t = NULL;
		batch_clear(b);
		return rc;
	}
	m->ring_n++;
	return 0;
}

int imp_flush_all(imp *m)
{
	imp_submit_cur(m);
	while (m->ring_n > 0)
		ring_pop(m);
	return m->failed ? m->rc : 0;
}

