/* import/rec.c — the log of a parser's calls (rec.h). */
#include <stdlib.h>
#include <string.h>
#include "rec.h"

void rec_init(rec *r) { memset(r, 0, sizeof *r); }

rec_op *rec_push(rec *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		rec_op *o = realloc(r->ops, cap * sizeof *o);
		if (!o) {
			r->oom = 1;
			return NULL;
		}
		r->ops = o;
		r->cap = cap;
	}
	rec_op *op = &r->ops[r->n++];
	memset(op, 0, sizeof *op);
	return op;
}

char *rec_strdup(rec *r, const char *s)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		r->oom = 1;
	return d;
}

void rec_free(rec *r)
{
	for (size_t i = 0; i < r->n; i++) {
		rec_op *op = &r->ops[i];
		free(op->s1);
		free(op->s2);
		for (size_t k = 0; k < op->n; k++) {
			if (op->evs)
				cj_event_free(op->evs[k]);
			if (op->why)
				free(op->why[k]);
		}
		free(op->evs);
		free(op->why);
	}
	free(r->ops);
	memset(r, 0, sizeof *r);
}
