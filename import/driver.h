/* import/driver.h — the driver's state, shared by its files (driver.c: the
 * passes; position.c: errors, skips, positions, progress; decide.c: each event's verdict; window.c:
 * the tickets in flight; sync.c: --sync) and by the recording of parsers'
 * calls on worker threads (log.c, replay.c). */
#ifndef CJ_IMPORT_DRIVER_H
#define CJ_IMPORT_DRIVER_H

#include "import_internal.h"
#include "idset.h"
#include "keep.h"
#include "par.h"
#include "rec.h"

#define BATCH_MAX 1024     /* events per ticket (a group is never split) */
#define INFLIGHT 4         /* tickets in flight */

enum phase { PLAN, APPEND };

typedef struct batch {
	cj_event **evs;
	long *file;
	unsigned char *kind;
	size_t n, cap;
	cj_ticket *t;
} batch;

typedef struct cover {
	char *thread, *prefix;
	int64_t lo, hi;
} cover;

struct imp {
	cj_store *s;
	const cj_import_options *o;
	const cj_limits *lim;
	enum phase phase;
	report rep;
	long file;                  /* current file in rep */
	uint64_t line, byte;        /* current item */
	idset seen;                 /* XXH64 of every id emitted this pass */
	cover *covers;
	size_t ncovers;
	batch cur, ring[INFLIGHT];
	uint64_t *seqs;             /* a ticket's sequence numbers and statuses */
	cj_append_status *status;
	size_t status_cap;
	size_t ring_head, ring_n;
	uint64_t last_seq;
	int64_t retention_cutoff;   /* messages older than this are dropped by retention (0: off) */
	uint64_t done_base, file_done, total_bytes;
	keep kept;                  /* the plan's accepted events, for the append */
	uint64_t elem_bytes;        /* the current element's size, not yet charged to kept */
	int group_start;            /* the next accepted event starts a group */
	int replay;                 /* appending kept events: the plan counted them */
	int store_empty;            /* the journal was empty when the plan began */
	int in_sync;                /* sync_deletes is running */
	int reads;                  /* times the source was read: 1, or 2 when not kept */
	rec *rec;                   /* non-NULL: the parser's calls are logged here (log.c) */
	int rec_failed, rec_rc;     /* a failure logged, not yet replayed */
	par *par;                   /* the worker threads (NULL: none yet, or none to be had) */
	int par_off;
	int failed;
	int rc;
	char err[1024];
};

/* The group evs[0..n) decided (imp_emit); why: NULL to validate here, else
 * per event NULL (valid) or the reason it is not (taken from a log). */
int imp_emit_group(imp *m, cj_event **evs, size_t n, const imp_edit *edit, char **why);
void imp_skip_text(imp *m, int kind, const char *why);
void imp_at_elem(imp *m, uint64_t line, uint64_t byte, uint64_t elem_bytes);

/* window.c */
int imp_batch_add(imp *m, batch *b, cj_event *ev, int kind);
void imp_batch_free(batch *b);
int imp_submit_cur(imp *m);     /* the current batch, as a ticket */
int imp_flush_all(imp *m);      /* submit and wait for every ticket */
/* decide.c */
int imp_accept(imp *m, cj_event *ev);   /* an accepted event: counted, kept or batched */
int imp_start_group(imp *m, size_t n);  /* the next n events stay in one ticket */
/* sync.c */
int imp_sync_deletes(imp *m);

/* log.c: the logged forms of the parser's calls (m->rec set). */
int rec_fail(imp *m, int rc, const char *msg);
int rec_file(imp *m, const char *name);
void rec_at(imp *m, uint64_t line, uint64_t byte, uint64_t elem_bytes);
void rec_skip(imp *m, int kind, const char *why);
void rec_progress(imp *m, uint64_t file_done);
int rec_cover(imp *m, const char *thread, const char *prefix, int64_t ts);
int rec_emit(imp *m, cj_event **evs, size_t n, const imp_edit *edit);
/* Replay the whole queue (the end of a parser's run) and stop recording. */
void imp_par_drain(imp *m);

#endif
