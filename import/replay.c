/* import/replay.c — a parser's files read in parallel (imp_par,
 * import_internal.h): a job's recording imp (its calls are logged: log.c),
 * the replay of its log on the driver's thread, in order, and the pool that
 * runs the jobs (par.h), given these three. */
#include <stdlib.h>
#include <string.h>
#include "driver.h"

static imp *worker_new(imp *m, rec *log)
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

static void worker_free(imp *w) { free(w); }

static void replay_log(imp *m, rec *log)
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

static const par_ops OPS = { worker_new, worker_free, replay_log };

/* ---- for parsers --------------------------------------------------------- */

int imp_par(imp *m, int (*fn)(imp *wm, void *arg), void *arg, void (*free_arg)(void *))
{
	if (m->failed || (m->rec && m->rec_failed)) {
		free_arg(arg);
		return m->failed ? m->rc : m->rec_rc;
	}
	if (!m->par && !m->par_off && !(m->par = par_new(&OPS)))
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
