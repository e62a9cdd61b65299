/* materializer/apply_sql.h — what the files of the applier share: the
 * prepared statements, the cji_apply state, and small binding helpers.
 *   apply.c         the per-event dispatch and the batch's position
 *   apply_rows.c    message, image, user, thread_config, setting, metric
 *   apply_delete.c  delete_thread, clear_history, purge
 *   writebehind.c   FTS rows and row aggregates held until the batch ends
 *   apply_sql.c     statements, lifecycle, binding helpers, shared row makers
 * Calls go down that list: none from a lower file back to a higher one. */
#ifndef CJ_MATERIALIZER_APPLY_SQL_H
#define CJ_MATERIALIZER_APPLY_SQL_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>
#include "materializer/apply.h"
#include "materializer/rowcache.h"
#include "materializer/fts_side.h"
#include "common/buf.h"

enum {
	S_THREAD_INSERT, S_THREAD_TOUCH, S_THREAD_GET, S_THREAD_CONFIG_SET, S_USER_INSERT, S_USER_TOUCH,
	S_USER_SET, S_USER_GET,
	S_USER_THREAD, S_MSG_INSERT, S_MSG_INSERT_X, S_MSG_FTS, S_COST, S_BLOB, S_IMG_INSERT, S_IMG_FTS,
	S_SETTING_GET, S_SETTING_PUT, S_AUDIT, S_METRIC, S_POSITION,
	S_THREAD_FLUSH, S_USER_FLUSH, S_UT_FLUSH,
	S_MSG_BY_ID, S_MSG_EDIT, S_EDIT_INSERT, S_REACT_ADD, S_REACT_DEL, S_REACT_MARK,
	S_REACT_UNMARK, S_ATTACH, S_THREAD_SET, S_FTS_DELETE, S_COUNT
};

/* An FTS row waiting for the end of the batch (writebehind.c). */
typedef struct cji_fts_row {
	int64_t seq;
	int images;
	int del;            /* a 'delete' with the texts it was indexed with (fts_side.h) */
	size_t off[2];      /* text offsets in fts_text */
	unsigned char has[2]; /* 0: the column is NULL */
} cji_fts_row;

struct cji_apply {
	sqlite3 *db;
	cji_journal *journal;     /* blob sizes and types */
	sqlite3_stmt *st[S_COUNT];
	cji_fts_row *fts;
	size_t nfts, capfts;
	cji_buf fts_text;
	cji_fts_side *side;       /* replay: FTS operations run there (fts_side.h) */
	/* replay: called once, before the first deletion (it puts back the
	 * secondary indexes a deletion looks rows up by: replay.c) */
	int (*before_delete)(void *arg);
	void *before_delete_arg;
	cji_rowcache threads, users, user_threads;  /* see rowcache.h */
};

/* ---- helpers (apply_sql.c) ---- */

static inline const char *cji_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static inline void cji_bind_str(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* A row id, or NULL for 0 (no such row). */
static inline void cji_bind_rowid(sqlite3_stmt *st, int i, int64_t id)
{
	if (id)
		sqlite3_bind_int64(st, i, id);
	else
		sqlite3_bind_null(st, i);
}

/* JSON value as canonical text (sorted keys), or NULL; caller frees. */
char *cji_json_text(const json_t *v);
/* Bind text the statement then owns (freed by SQLite), or NULL. */
void cji_bind_owned(sqlite3_stmt *st, int i, char *s);
void cji_bind_int_or_null(sqlite3_stmt *st, int i, const json_t *v);

/* Step a statement to its end, reset it; errors name what and the record. */
int cji_step_done(cji_apply *a, sqlite3_stmt *st, const char *what, uint64_t seq);
/* Step a RETURNING/SELECT statement: *id gets column 0 (0 if no row), *text
 * (if asked) a copy of column 1. */
int cji_step_row(cji_apply *a, sqlite3_stmt *st, int64_t *id, char **text, const char *what,
                 uint64_t seq);

/* A one-off statement with bound values: 'i' int64, 's' text, 'n' null. */
typedef struct cji_arg { char t; int64_t i; const char *s; } cji_arg;
int cji_run(cji_apply *a, const char *sql, uint64_t seq, int n, const cji_arg *args);
/* Bind args as cji_run does (?1 .. ?n). */
void cji_bind_args(sqlite3_stmt *st, int n, const cji_arg *args);

/* ---- per event type ---- */

int cji_apply_message(cji_apply *a, const cji_message_fields *m, uint64_t seq, int64_t ts,
                      const char *tstext);
int cji_apply_image(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext);
int cji_apply_user(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext);
int cji_apply_thread_config(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts,
                            const char *tstext);
int cji_apply_setting(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext);
int cji_apply_metric(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext);
int cji_apply_delete_thread(cji_apply *a, const json_t *o, uint64_t seq);
int cji_apply_clear_history(cji_apply *a, const json_t *o, uint64_t seq);
int cji_apply_purge(cji_apply *a, const json_t *o, uint64_t seq);
int cji_apply_edit_message(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts,
                           const char *tstext);
int cji_apply_reaction(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext);
int cji_apply_thread(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext);
int cji_apply_delete_message(cji_apply *a, const json_t *o, uint64_t seq);
int cji_apply_redact_edits(cji_apply *a, const json_t *o, uint64_t seq);

/* ---- write-behind (writebehind.c) ---- */

/* Queue the FTS row of a message (images: prompt and analysis). */
int cji_wb_fts(cji_apply *a, uint64_t seq, int images, const char *t0, const char *t1);
/* Queue the removal of one (the texts it was indexed with); with a side
 * file only (fts_side.h): otherwise deletions run in place. */
int cji_wb_fts_del(cji_apply *a, uint64_t seq, int images, const char *t0, const char *t1);
/* Aggregate a message into its thread's row: the row is inserted at first
 * sight (*tid set), later messages only update the cached aggregate. */
int cji_wb_message_thread(cji_apply *a, const cji_message_fields *m, uint64_t seq, int64_t ts,
                          const char *tstext, int64_t *tid);
/* Same for the message's user and (user, thread) rows. */
int cji_wb_message_user(cji_apply *a, const char *user, int64_t tid, uint64_t seq, int64_t ts,
                        const char *tstext, int64_t *uid);
/* Write what is held back, at one of three points:
 *   CJI_WB_ROWS    before any event but a message (it reads or changes the
 *                  rows messages aggregate into): aggregates written, caches
 *                  forgotten if they passed their bound;
 *   CJI_WB_DELETE  before a deletion: also the FTS rows (FTS5 'delete' needs
 *                  them in the index), and every cached row forgotten;
 *   CJI_WB_END     at the end of a batch: aggregates and FTS rows written. */
enum cji_wb_point { CJI_WB_ROWS, CJI_WB_DELETE, CJI_WB_END };
int cji_wb_settle(cji_apply *a, enum cji_wb_point at);

/* ---- shared row makers (apply_sql.c) ---- */

/* The thread's row, inserted or touched; thread, server, channel from the
 * event (NULL when absent). */
int cji_row_thread_upsert(cji_apply *a, const char *thread, const char *server, const char *channel,
                          uint64_t seq, int64_t ts, const char *tstext, int count, int activity,
                          int64_t *tid, char **config);
/* The same with the three read from event o. */
int cji_row_thread_upsert_of(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts,
                             const char *tstext, int count, int activity, int64_t *tid, char **config);
int cji_row_user_touch(cji_apply *a, const char *user, uint64_t seq, int64_t ts,
                       const char *tstext, int64_t *uid, char **config);
/* The message an edit_message, delete_message or reaction names: its seq in
 * *mseq (0: no such message in that thread any more: the event changes
 * nothing), and a copy of its content in *content if asked (NULL if none). */
int cji_row_target(cji_apply *a, const json_t *o, uint64_t seq, int64_t *mseq, char **content);

#endif
