/* materializer/scrub.h — the projection's scrub after a compaction: no byte
 * of what deletions removed left in its files. In place when the file's
 * writers zeroed deletions as they went; otherwise a new file built beside
 * the live one and renamed over it (docs/operations.md, "Compaction"). */
#ifndef CJ_MATERIALIZER_SCRUB_H
#define CJ_MATERIALIZER_SCRUB_H

#include <sqlite3.h>

/* The new file is built at PATH CJI_SCRUB_TMP_SUFFIX. */
#define CJI_SCRUB_TMP_SUFFIX ".scrub-tmp"

/* Through db (the projection's only read-write connection to path, idle):
 * FTS5 'optimize' of both indexes (written to the WAL only: the old file is
 * thrown away, so the automatic checkpoint is held meanwhile); beside it, a
 * thread copies path with VACUUM INTO tmp (created 0600); then the copy's
 * segments are replaced by the optimized ones, the copy is switched to WAL
 * mode and fsynced. On failure nothing is left at tmp. */
int cji_scrub_build(sqlite3 *db, const char *path, const char *tmp);

/* The in-place scrub (migration 006, docs/operations.md "Compaction"): the
 * file's writers have zeroed deleted bytes inside their pages all along
 * (secure_delete=FAST), so what is left to clear is the old FTS5 segments
 * ('optimize'), the free pages (overwritten with zeros) and the WAL
 * (checkpointed and truncated; readers still in it are waited for, up to
 * wait_ms, then CJ_EBUSY). db is the file's only read-write connection,
 * idle. *zeroed is migration 006's flag: 1 when the file qualifies. */
int cji_scrub_zeroed(int *zeroed, sqlite3 *db);
int cji_scrub_in_place(sqlite3 *db, int wait_ms);

/* Put tmp at path: path's -wal, -shm and -journal are removed FIRST (the
 * old WAL must never meet the new file), then the rename and an fsync of
 * the folder. Every connection to path must be closed before, without a
 * checkpoint (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE): its changes since the last
 * checkpoint are in tmp already. */
int cji_scrub_put_in_place(const char *tmp, const char *path);

/* The identity of the file at path (zeros if there is none): a connection
 * opened when it was different reads a replaced file. */
typedef struct cji_file_id { unsigned long long dev, ino; } cji_file_id;
cji_file_id cji_scrub_file_id(const char *path);
static inline int cji_file_id_eq(cji_file_id a, cji_file_id b) { return a.dev == b.dev && a.ino == b.ino; }

#endif
