/* materializer/fts_side.h — replay's full-text indexes built on a thread of
 * their own, in a side file, then copied into the projection.
 *
 * In a replay, FTS5 is about 40% of the work (tokenizing, building
 * segments) and the rest of the projection the other 60%: with the FTS
 * rows handed to a second connection on a second thread, the two overlap.
 * The applier queues every FTS operation in journal order (an insert with
 * the row's texts, or a 'delete' with the exact texts read from the content
 * row before it goes: writebehind.c, apply_delete.c); at the end of a batch
 * the queue is handed to the thread, which runs the hand-offs in order, each
 * in one transaction on the side file, while the applier goes on. At the
 * end the side file's FTS5 shadow tables (segments, their index, the
 * document sizes, the configuration) replace the projection's, which were
 * never written.
 *
 * Only replay uses it: the live materializer's readers need the index in
 * the projection itself, commit by commit. */
#ifndef CJ_MATERIALIZER_FTS_SIDE_H
#define CJ_MATERIALIZER_FTS_SIDE_H

#include <sqlite3.h>

typedef struct cji_apply cji_apply;
typedef struct cji_fts_side cji_fts_side;

/* A side file at path (replaced if there), holding the FTS5 tables of
 * main's schema, and its thread. */
int cji_fts_side_open(cji_fts_side **out, sqlite3 *main_db, const char *path);

/* Hand a's queued FTS operations to the thread (waiting only while four
 * earlier hand-offs still wait or run); a gets an empty queue. The
 * thread's first error, if any. */
int cji_fts_side_hand(cji_fts_side *s, cji_apply *a);

/* Wait for the thread, then put the side file's FTS5 shadow tables in
 * place of main's (main's were never written). The first error. */
int cji_fts_side_finish(cji_fts_side *s, sqlite3 *main_db);

/* Stop the thread (what it runs is finished), close and remove the side
 * file, free s. Accepts NULL. */
void cji_fts_side_close(cji_fts_side *s);

#endif
