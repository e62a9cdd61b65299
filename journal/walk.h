/* journal/walk.h — one table of the journal walked in key order in short
 * read transactions (verify's checks of the blobs and of the idempotency
 * entries): each chunk resumes after the last key seen, so a long check
 * never holds one snapshot (and the pages it pins) for its whole run; a key
 * that does not sort after the one before it (a damaged page) ends the
 * walk, so it always ends. */
#ifndef CJ_JOURNAL_WALK_H
#define CJ_JOURNAL_WALK_H

#include <lmdb.h>
#include "journal/journal_internal.h"
#include "journal/keys.h"

typedef struct cji_walk {
	/* set by the caller */
	MDB_dbi dbi;
	const char *what;         /* "the blobs": for LMDB errors */
	unsigned chunk_items;     /* at most this many entries per transaction */
	size_t chunk_bytes;       /* and about this many value bytes (0: no bound) */
	/* Each entry in key order: 0 to go on, 1 to end the walk. */
	int (*visit)(void *arg, MDB_txn *txn, const MDB_val *k, const MDB_val *v);
	/* Key k does not sort after the previous one, last: the walk ends. */
	void (*disorder)(void *arg, const MDB_val *k, const uint8_t *last, size_t last_len);
	void *arg;
	/* the walk's own */
	uint8_t last[CJI_ID_MAX];
	size_t last_len;
	int started, done;
} cji_walk;

/* Walk every entry: 0 (the visitor's verdicts are its own), or an error
 * reading the journal. Keys longer than CJI_ID_MAX end the walk after
 * their visit (the visitor says why). */
int cji_walk_run(cji_walk *w, cji_journal *j);

#endif
