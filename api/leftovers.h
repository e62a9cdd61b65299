/* api/leftovers.h — temporary files a killed replay or verify leaves in a
 * store's folder, removed at the next read-write open (leftovers.c). */
#ifndef CJ_API_LEFTOVERS_H
#define CJ_API_LEFTOVERS_H

#include "api/store_internal.h"

/* CJI_REPLAY_TMP_SUFFIX: materializer/replay.h. */
#include "materializer/replay.h"

/* Best effort, for a store opened read-write (s->mat set); never fails the
 * open. Removes the projection's replay file and its -wal/-shm/-journal
 * when this process holds the materializer lock (no other process can then
 * be replaying in place), and verify's files of processes that are gone. */
void cji_leftovers_remove(cj_store *s);

#endif
