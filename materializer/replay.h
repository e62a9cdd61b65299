/* materializer/replay.h — a projection built from the journal alone. */
#ifndef CJ_MATERIALIZER_REPLAY_H
#define CJ_MATERIALIZER_REPLAY_H

#include <stdint.h>
#include "chatjournal/query.h"
#include "journal/journal_internal.h"

/* Build a new projection of records 1..last at path (any old file there and
 * its -wal/-shm/-journal are removed first), fsync'd, in WAL mode, ready to
 * be renamed into place. progress (may be NULL) is called after each chunk.
 * skip_damaged: a record that cannot be read is noted in damaged_records and
 * skipped instead of failing. On failure nothing is left at path. Errors:
 * CJ_ECORRUPT (a bad record or a journal shorter than last, the message
 * names the sequence number), CJ_EIO/CJ_ENOSPC, CJ_EDB. */
int cji_replay_build(cji_journal *j, const char *path, uint64_t last, int skip_damaged,
                     cj_progress_fn progress, void *arg);

/* Suffix of the file a replay in place builds before renaming it into
 * place ("chat.sqlite.replay-tmp": cj_projection_replay in api/projection.c,
 * and the materializer's bulk catch-up from an empty projection). */
#define CJI_REPLAY_TMP_SUFFIX ".replay-tmp"

/* cji_replay_build, stopping between chunks (of 200,000 records) when stop
 * (may be NULL) returns non-zero: then CJ_ECLOSED and nothing at path. */
int cji_replay_build_until(cji_journal *j, const char *path, uint64_t last, int skip_damaged,
                           int (*stop)(void *arg), void *arg);

/* The FTS5 side file of a replay into path is path CJI_REPLAY_FTS_SUFFIX
 * (fts_side.h); removed when the replay ends, either way. */
#define CJI_REPLAY_FTS_SUFFIX ".fts"

#endif
