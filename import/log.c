/* import/log.c — a parser's calls logged instead of done (rec.h), on a
 * worker thread, or on the driver's thread while jobs are queued, so that
 * everything is decided in source order when the log is replayed
 * (replay.c). Validation, the costly part of a call that needs nothing but
 * the event, is done when logging; what depends on the store or on earlier
 * events (the decision, the counts) when replaying. */
#include <stdlib.h>
#include <string.h>
#include "driver.h"

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
