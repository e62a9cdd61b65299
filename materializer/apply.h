/* materializer/apply.h — projecting one journal event into SQL rows (and FTS
 * rows) inside the caller's open transaction. Deterministic: everything
 * written derives from the event and the journal (never the wall clock), so
 * a replay produces the same rows. */
#ifndef CJ_MATERIALIZER_APPLY_H
#define CJ_MATERIALIZER_APPLY_H

#include <sqlite3.h>
#include <stdint.h>
#include "journal/journal_internal.h"
#include "journal/event_internal.h"

typedef struct cji_apply cji_apply;

/* Prepare statements on db (the writer connection). j gives blob sizes. */
int cji_apply_new(cji_apply **out, sqlite3 *db, cji_journal *j);
void cji_apply_free(cji_apply *a);

/* Apply event seq. Errors are SQLite errors mapped (the batch must roll back). */
int cji_apply_event(cji_apply *a, uint64_t seq, const cj_event *ev, int64_t ts_ms);

/* Apply message event seq from its fields alone (cji_message_fields_read
 * read them from the record body): the rows cji_apply_event writes for the
 * decoded event. */
int cji_apply_message_fields(cji_apply *a, uint64_t seq, const cji_message_fields *m, int64_t ts_ms);

/* Write the FTS rows queued so far (cji_apply_position does it too). On a
 * rolled-back batch call cji_apply_discard. */
int cji_apply_flush(cji_apply *a);
void cji_apply_discard(cji_apply *a);

/* Note journal record seq as damaged (skipped by replay --skip-damaged),
 * with the reason, in damaged_records. */
int cji_apply_damaged(cji_apply *a, uint64_t seq, const char *why);

/* Record the position (same transaction as the rows); flushes FTS rows first. */
int cji_apply_position(cji_apply *a, uint64_t seq, int64_t now_ms);

#endif
