/* import/record.c — a parser's calls logged on a worker thread and replayed
 * in order on the driver's (par.h, rec.h). While jobs are queued, the
 * parser's own calls on the driver's thread are logged too (into the open
 * log after the last job), so that everything is decided in source order.
 * Validation, the costly part of a call that needs nothing but the event,
 * is done when logging; what depends on the store or on earlier events
 * (the decision, the counts) when replaying. */
#include <stdlib.h>
#include <string.h>
#include "driver.h"

/* ---- logging --------------------------------------------------------------- */

int rec_fail(imp *m, int rc, const char *msg)
{
	rec_op *op = rec_push(m->rec);
	if (op) {
		op->type = REC_FAIL;
		op->num = rc ? rc : CJ_EINVAL;
		op->s1 = rec_strdup(m->rec, msg);
	}
	m->rec_failed = 1;
	m->rec_rc = rc ? rc : CJ_EINVAL;
	return m->rec_rc;
}

static int oom(imp *m) { return rec_fail(m, CJ_ENOMEM, "out of memory"); }

int rec_file(imp *m, const char *name)
{
	rec_op *op = rec_push(m->rec);
	if (!op)
		return oom(m);
	op->type = REC_FILE;
	op->s1 = rec_strdup(m->rec, name);
	return m->rec->oom ? oom(m) : 0;
}

void rec_at(imp *m, uint64_t line, uint64_t byte, uint64_t elem_bytes)
{
	rec_op *op = rec_push(m->rec);
	if (!op)
		return;
	op->type = REC_AT;
	op->a = line;
	op->b = byte;
	op->c = elem_bytes;
}

void rec_skip(imp *m, int kind, const char *why)
{
	rec_op *op = rec_push(m->rec);
	if (!op)
		return;
	op->type = REC_SKIP;
	op->num = kind;
	op->s1 = rec_strdup(m->rec, why);
}

void rec_progress(imp *m, uint64_t file_done)
{
	rec_op *op = rec_push(m->rec);
	if (!op)
		return;
	op->type = REC_PROGRESS;
	op->a = file_done;
}

int rec_cover(imp *m, const char *thread, const char *prefix, int64_t ts)
{
	rec_op *op = rec_push(m->rec);
	if (!op)
		return oom(m);
	op->type = REC_COVER;
	op->s1 = rec_strdup(m->rec, thread);
	op->s2 = rec_strdup(m->rec, prefix);
	op->a = (uint64_t)ts;
	return m->rec->oom ? oom(m) : 0;
}

int rec_emit(imp *m, cj_event **evs, size_t n, const imp_edit *edit)
{
	rec_op *op = rec_push(m->rec);
	cj_event **copy = op ? malloc((n ? n : 1) * sizeof *copy) : NULL;
	char **why = copy ? calloc(n ? n : 1, sizeof *why) : NULL;
	if (!why) {
		free(copy);
		if (op)
			m->rec->n--;
		for (size_t i = 0; i < n; i++)
			cj_event_free(evs[i]);
		return oom(m);
	}
	op->type = REC_EMIT;
	op->evs = copy;
	op->why = why;
	op->n = n;
	for (size_t i = 0; i < n; i++) {
		copy[i] = evs[i];
		evs[i] = NULL;
		/* The plan validates (the append's submit validates anew). */
		if (m->phase == PLAN && cj_event_validate(copy[i], m->lim) != 0) {
			const char *e = cj_error_last();
			why[i] = rec_strdup(m->rec, e && *e ? e : "invalid");
		}
	}
	if (edit) {
		op->has_edit = 1;
		op->s1 = rec_strdup(m->rec, edit->stamp);
		op->s2 = rec_strdup(m->rec, edit->editor);
		op->a = (uint64_t)edit->ts_ms;
	}
	return m->rec->oom ? oom(m) : 0;
}

/* ---- workers and replay ---------------------------------------------------- */

imp *imp_worker_new(imp *m, rec *log)
{
	imp *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->s = m->s;
	w->o = m->o;
	w->lim = m->lim;
	w->phase = m->phase;
	w->total_bytes = m->total_bytes;
	w->file = -1;
	w->rec = log;
	return w;
}

void imp_worker_free(imp *w) { free(w); }

void imp_replay(imp *m, rec *log)
{
	rec *save = m->rec;
	m->rec = NULL;
	if (log->oom)
		imp_fail(m, CJ_ENOMEM, "out of memory");
	for (size_t i = 0; i < log->n && !m->failed; i++) {
		rec_op *op = &log->ops[i];
		switch (op->type) {
		case REC_FILE:
			imp_file(m, op->s1);
			break;
		case REC_AT:
			imp_at_elem(m, op->a, op->b, op->c);
			break;
		case REC_SKIP:
			imp_skip_text(m, op->num, op->s1 ? op->s1 : "");
			break;
		case REC_PROGRESS:
			imp_progress(m, op->a);
			break;
		case REC_COVER:
			imp_cover(m, op->s1, op->s2, (int64_t)op->a);
			break;
		case REC_FAIL:
			imp_fail(m, op->num, "%s", op->s1 ? op->s1 : "out of memory");
			break;
		case REC_EMIT: {
			imp_edit ed = { op->s1, (int64_t)op->a, op->s2 };
			imp_emit_group(m, op->evs, op->n, op->has_edit ? &ed : NULL, op->why);
			for (size_t k = 0; k < op->n; k++)
				free(op->why[k]);
			free(op->why);
			free(op->evs);
			op->why = NULL;
			op->evs = NULL;
			op->n = 0;
			break;
		}
		default:
			break;
		}
	}
	m->rec = save;
}

/* ---- for parsers ----------------------------------------------------------- */

int imp_par(imp *m, int (*fn)(imp *wm, void *arg), void *arg, void (*free_arg)(void *))
{
	if (m->failed || (m->rec && m->rec_failed)) {
		free_arg(arg);
		return m->failed ? m->rc : m->rec_rc;
	}
	if (!m->par && !m->par_off && !(m->par = par_new()))
		m->par_off = 1;
	if (!m->par) {
		int rc = fn(m, arg);
		free_arg(arg);
		return rc;
	}
	rec *open = par_queue(m->par, m, fn, arg, free_arg);
	if (!open)
		return imp_fail(m, CJ_ENOMEM, "out of memory");
	m->rec = open;
	par_replay(m->par, m, PAR_AHEAD);
	return m->failed ? m->rc : 0;
}

int imp_par_wait(imp *m)
{
	imp_par_drain(m);
	return m->failed ? m->rc : 0;
}

void imp_par_drain(imp *m)
{
	if (!m->par)
		return;
	par_drain(m->par, m);
	m->rec = NULL;
	m->rec_failed = 0;
	m->rec_rc = 0;
}
