/* chatjournal/chatjournal.h — umbrella header of the chatjournal library.
 *
 * chatjournal is a persistence engine for chat bots: events are validated,
 * encoded with msgpack, checksummed with XXH3 and appended durably to an LMDB
 * journal (group commit); see docs/architecture.md.
 *
 * Caveats
 * =======
 * - A sequence number is returned only once its event is durable (fsync'd).
 *   Do not cache "probably written" state on the caller's side.
 * - cj_store_close() waits for every submitted append; do not call it from a
 *   thread that still holds an unwaited ticket it expects to cancel: tickets
 *   cannot be cancelled.
 * - The library never prints and never exits; it reports through return codes
 *   and cj_error_last(), which is per thread.
 * - Do not open one store twice in one process: LMDB forbids two environments
 *   on the same files in one process (locks would be lost). Share the handle.
 * - Readers never block writers; keep iterators short-lived anyway: each call
 *   uses its own short read transaction, so a forgotten iterator costs nothing,
 *   but a forgotten ticket leaks memory.
 * - Blob bytes and strings returned to the caller are freed with cj_free().
 * - A compaction (cj_compact, any process) swaps the journal's folder; every
 *   process follows on its next transaction. Processes of builds older than
 *   journal format 3 do not: stop them before upgrading.
 */
#ifndef CHATJOURNAL_H
#define CHATJOURNAL_H

#include "error.h"
#include "event.h"
#include "store.h"
#include "journal.h"
#include "query.h"
#include "token.h"
#include "retention.h"
#include "compact.h"
#include "backup.h"
#include "maintenance.h"

#define CJ_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The library version, e.g. "0.1.0". */
CJ_API const char *cj_version(void);

#ifdef __cplusplus
}
#endif
#endif
