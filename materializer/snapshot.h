/* materializer/snapshot.h — a consistent copy of a live projection (the
 * projection of a backup). */
#ifndef CJ_MATERIALIZER_SNAPSHOT_H
#define CJ_MATERIALIZER_SNAPSHOT_H

#include <stdint.h>
#include "chatjournal/query.h"

/* Copy the projection at src into the new file dst (created 0600; it must
 * not exist) from ONE read transaction of src, with SQLite's online backup
 * API: writers go on meanwhile (WAL), and the copy holds exactly the rows
 * of its *position_out. The copy is a single rollback-journal file (no
 * -wal to go with it, and a read-only open of it writes nothing beside it),
 * fsynced. *schema_out gets its PRAGMA user_version. progress (may be
 * NULL): (bytes copied, bytes in all). On failure dst is removed. Errors:
 * CJ_EEXIST (dst exists), CJ_EDB, CJ_EIO, CJ_ENOSPC. */
int cji_projection_snapshot(uint64_t *position_out, int *schema_out, const char *src,
                            const char *dst, cj_progress_fn progress, void *arg);

#endif
