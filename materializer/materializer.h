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
int cji_mat_wait(cji_materializer *m, uint64_t seq, int timeout_ms);
/* Last error that stopped progress ("" if none). Copies into buf. */
void cji_mat_error(cji_materializer *m, char *buf, size_t n);

/* Apply journal records (from+1 .. up to max events) into db, in one
 * transaction with the position. Shared by the thread and replay.
 * *applied gets the count; *position the new position. */
struct cji_apply;
int cji_mat_apply_batch(uint64_t *applied, sqlite3 *db, struct cji_apply *a, cji_journal *j,
                        uint64_t from, unsigned max, unsigned max_ms, int split_position);

/* Tests: commit rows and position in separate transactions (the negative
 * control of the crash test: it must lose exactly-once). */
void cji_mat_set_split_position(cji_materializer *m, int on);

/* 1 if another process holds the store's materializer lock. */
int cji_mat_is_passive(cji_materializer *m);

/* Pause/resume the thread (replay in place); pause waits for the batch. */
void cji_mat_pause(cji_materializer *m);
int cji_mat_resume(cji_materializer *m);

#endif
