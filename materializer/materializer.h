/* materializer/materializer.h — the thread that projects the journal into
 * SQLite, in order and exactly once: the rows of a batch and the position
 * they reach commit in one SQLite transaction. */
#ifndef CJ_MATERIALIZER_H
#define CJ_MATERIALIZER_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include "journal/journal_internal.h"

typedef struct cji_materializer cji_materializer;

/* Allocate (not started): its notify hook can then be given to the journal.
 * j is read (iterated) only; it must outlive the materializer. */
int cji_mat_new(cji_materializer **out, cji_journal *j, const char *sqlite_path);
/* Open the writer connection, check the position against the journal
 * (CJ_EAHEAD if ahead), start the thread. */
int cji_mat_start(cji_materializer *m);
/* The journal's on_commit hook. */
void cji_mat_notify(void *m);
/* Stop the thread (finishing the batch in hand) and close; accepts NULL. */
void cji_mat_free(cji_materializer *m);

uint64_t cji_mat_position(cji_materializer *m);
/* Block until the position reaches seq: 0, CJ_ETIMEOUT, CJ_ECLOSED. */
int cji_mat_wait(cji_materializer *m, uint64_t seq, int timeout_ms);

/* Call fn(arg) once the position reaches seq, or the store closes. fn runs on
 * the materializer's thread with its lock held: it may only wake someone up
 * (signal, write an eventfd, resume a connection), never call the library.
 * Returns 1 (already reached: no watch, fn never called), 0 (*out armed) or
 * an error (CJ_ECLOSED, CJ_ENOMEM). */
typedef struct cj_watch cji_watch;
int cji_mat_watch(cji_watch **out, cji_materializer *m, uint64_t seq, void (*fn)(void *arg),
                  void *arg);
/* Disarm (if not fired yet) and free; after it returns fn is not running and
 * will not run. Accepts NULL. */
void cji_mat_unwatch(cji_materializer *m, cji_watch *w);

/* What health reports are made of. */
typedef struct cji_mat_state {
	uint64_t position;
	int active;            /* this process materializes */
	uint64_t still_ms;     /* since the position last moved */
	char error[512];       /* what stopped progress ("" if nothing) */
} cji_mat_state;
void cji_mat_status(cji_mat_state *out, cji_materializer *m);
/* Last error that stopped progress ("" if none). Copies into buf. */
void cji_mat_error(cji_materializer *m, char *buf, size_t n);

/* How much one batch applies, and how (batch.c). */
typedef struct cji_batch_limits {
	unsigned max;          /* events */
	unsigned max_ms;       /* 0: no time bound */
	int split_position;    /* tests only: rows and position in two transactions */
	int skip_damaged;      /* a record that fails its checksum or decode is noted
	                          in damaged_records and skipped, not an error */
} cji_batch_limits;

/* Apply journal records (from+1 .. up to lim->max events) into db, in one
 * transaction with the position (batch.c). Shared by the thread and replay.
 * *applied gets the count (skipped damaged records included). A damaged
 * record without skip_damaged fails the batch: CJ_ECORRUPT naming it. */
struct cji_apply;
int cji_mat_apply_batch(uint64_t *applied, sqlite3 *db, struct cji_apply *a, cji_journal *j,
                        uint64_t from, const cji_batch_limits *lim);

/* The position stored in db's journal_position (must_exist: a missing row
 * is an error, else position 0). */
int cji_mat_stored_position(uint64_t *pos, sqlite3 *db, int must_exist);

/* Tests: commit rows and position in separate transactions (the negative
 * control of the crash test: it must lose exactly-once). */
void cji_mat_set_split_position(cji_materializer *m, int on);

/* 1 if another process holds the store's materializer lock (this one follows
 * the position and takes over when that process stops). */
int cji_mat_is_passive(cji_materializer *m);

/* 1 unless paused or stopping: the position can move (this process
 * materializes, or follows another that does). */
int cji_mat_is_progressing(cji_materializer *m);

/* A compaction swapped the journal (the journal's on_swap hook, in every
 * process): the materializing thread scrubs the projection of deleted bytes
 * (FTS5 optimize, VACUUM INTO a new file that replaces it: scrub.h) before
 * its next batch, unless a compaction of this process asked for it already
 * (cji_mat_scrub_start). */
void cji_mat_request_scrub(void *m);
/* Ask for a scrub (the projection's state now, or a later one) without
 * waiting: 0 (*ticket for cji_mat_scrub_wait), or 1 not this process's job
 * (it is passive: the materializing process scrubs when it sees the swap).
 * Until the wait, the on_swap hook asks for no other one. */
int cji_mat_scrub_start(uint64_t *ticket, cji_materializer *m);
/* Wait for it: 0 done (*ms: how long the scrub itself took), 1 the process
 * became passive meanwhile, or an error (the scrub's, CJ_ETIMEOUT,
 * CJ_ECLOSED). Call it once after every start that returned 0. */
int cji_mat_scrub_wait(uint64_t *ms, cji_materializer *m, uint64_t ticket, int timeout_ms);
/* Called (from the materializer's thread, no lock held) when the file at
 * the projection's path was replaced: by this process's scrub, or, seen by
 * a passive thread, another's. Set before cji_mat_start. */
void cji_mat_set_on_replace(cji_materializer *m, void (*fn)(void *arg), void *arg);

/* Hold applying (on = 1) without closing anything, or let it go on (0): a
 * bulk appender leaves both CPUs to the append and lets the projection
 * catch up after. Independent of pause/resume. The batch in progress ends
 * first; waiters wait (or time out) meanwhile. */
void cji_mat_defer(cji_materializer *m, int on);

/* Pause/resume the thread (replay in place); pause waits for the batch. */
void cji_mat_pause(cji_materializer *m);
int cji_mat_resume(cji_materializer *m);

#endif
