/* journal/check_blobs.c — verify's check of every blob against its hash
 * (the key is the XXH3-128 of the bytes, docs/format.md). A read re-hashes
 * the blob it returns (blob.c), but nothing else reads a blob nobody asks
 * for: a flipped byte stays unseen until a client gets a 500. Blobs are
 * hashed in place inside short read transactions (at most CHUNK_BLOBS blobs
 * or CHUNK_BYTES bytes each), each resuming after the last key seen; a key
 * that does not sort after the one before it (a damaged page) ends the
 * check, so it always ends. */
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/keys.h"
#include "common/err.h"

#define CHUNK_BLOBS 256
#define CHUNK_BYTES ((size_t)64 << 20)

typedef struct blob_state {
	uint8_t last[CJI_BLOB_KEY_LEN];
	int started, done;
	uint64_t checked, bad;
	char first_bad[CJ_BLOB_HASH_LEN + 1];
	char why[200];
} blob_state;

static void note_bad(blob_state *st, const MDB_val *k, const char *why)
{
	if (st->bad++)
		return;
	if (k->mv_size == CJI_BLOB_KEY_LEN)
		cji_blob_hex(k->mv_data, st->first_bad);
	else
		strcpy(st->first_bad, "?");
	strncpy(st->why, why, sizeof st->why - 1);
}

static int check_chunk(cji_journal *j, blob_state *st)
{
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(txn, j->env.blobs, &c))) {
		cji_env_read_end(&j->env, txn);
		return cji_err_mdb(rc, "journal: cannot open a cursor on the blobs");
	}
	MDB_val k = { sizeof st->last, st->last }, v;
	rc = mdb_cursor_get(c, &k, &v, st->started ? MDB_SET_RANGE : MDB_FIRST);
	if (rc == 0 && st->started && k.mv_size == sizeof st->last &&
	    memcmp(k.mv_data, st->last, sizeof st->last) == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	size_t bytes = 0;
	for (unsigned n = 0; rc == 0 && n < CHUNK_BLOBS && bytes < CHUNK_BYTES; n++) {
		if (k.mv_size != CJI_BLOB_KEY_LEN ||
		    (st->started && memcmp(k.mv_data, st->last, sizeof st->last) <= 0)) {
			note_bad(st, &k, "blob keys out of order or of the wrong size (a damaged page)");
			st->done = 1;
			break;
		}
		memcpy(st->last, k.mv_data, sizeof st->last);
		st->started = 1;
		st->checked++;
		uint8_t h[CJI_BLOB_KEY_LEN];
		cji_blob_key(h, v.mv_data, v.mv_size);
		if (memcmp(h, k.mv_data, sizeof h) != 0)
			note_bad(st, &k, "stored bytes do not match their hash");
		bytes += v.mv_size;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	cji_env_read_end(&j->env, txn);
	if (rc == MDB_NOTFOUND)
		st->done = 1;
	else if (rc)
		return cji_err_mdb(rc, "journal: cannot read the blobs");
	return 0;
}

int cji_blob_check(uint64_t *checked, char first_bad[CJ_BLOB_HASH_LEN + 1], cji_journal *j)
{
	*checked = 0;
	first_bad[0] = '\0';
	blob_state st;
	memset(&st, 0, sizeof st);
	int rc = 0;
	while (!st.done && !(rc = check_chunk(j, &st)))
		;
	*checked = st.checked;
	if (rc)
		return rc;
	if (!st.bad)
		return 0;
	memcpy(first_bad, st.first_bad, sizeof st.first_bad);
	return cji_err(CJ_ECORRUPT, "blob %s: %s%s", st.first_bad, st.why,
	               st.bad > 1 ? " (and more blobs)" : "");
}
