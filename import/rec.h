/* import/rec.h — a log of a parser's calls (imp_file, imp_at, imp_skip,
 * imp_emit, imp_cover, imp_progress, imp_fail) made on a worker thread, to
 * be replayed on the driver's thread in source order (par.h). The log owns
 * the events it holds until they are replayed. */
#ifndef CJ_IMPORT_REC_H
#define CJ_IMPORT_REC_H

#include <stddef.h>
#include <stdint.h>
#include "chatjournal/event.h"

enum rec_type { REC_FILE, REC_AT, REC_SKIP, REC_EMIT, REC_COVER, REC_PROGRESS, REC_FAIL };

typedef struct rec_op {
	unsigned char type;
	unsigned char has_edit;
	int num;                 /* SKIP: kind; FAIL: error code */
	uint64_t a, b, c;        /* AT: line, byte, element bytes; COVER, EMIT (edit): ts;
	                          * PROGRESS: bytes */
	char *s1, *s2;           /* FILE: name; SKIP, FAIL: text; COVER: thread, prefix;
	                          * EMIT: the edit's stamp, editor */
	cj_event **evs;          /* EMIT: the group */
	char **why;              /* EMIT: per event, NULL or why it failed validation */
	size_t n;
} rec_op;

typedef struct rec {
	rec_op *ops;
	size_t n, cap;
	int oom;                 /* an op could not be logged */
} rec;

void rec_init(rec *r);
/* The next op slot (zeroed), or NULL (out of memory: r->oom set). */
rec_op *rec_push(rec *r);
/* A copy of s (NULL stays NULL; out of memory sets r->oom). */
char *rec_strdup(rec *r, const char *s);
/* Free the ops, with the events not taken from them. */
void rec_free(rec *r);

#endif
