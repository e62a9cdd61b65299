/* journal/check_blobs.c — verify's check of every blob against its hash
 * (the key is the XXH3-128 of the bytes, docs/format.md). A read re-hashes
 * the blob it returns (blob.c), but nothing else reads a blob nobody asks
 * for: a flipped byte stays unseen until a client gets a 500. Blobs are
 * hashed in place, walked in short read transactions (at most CHUNK_BLOBS
 * blobs or CHUNK_BYTES bytes each; walk.h). */
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/keys.h"
#include "journal/walk.h"
#include "common/err.h"

#define CHUNK_BLOBS 256
#define CHUNK_BYTES ((size_t)64 << 20)

typedef struct blob_state {
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

#define DAMAGED_KEYS "blob keys out of order or of the wrong size (a damaged page)"

static void disorder(void *arg, const MDB_val *k, const uint8_t *last, size_t last_len)
{
	(void)last;
	(void)last_len;
	note_bad(arg, k, DAMAGED_KEYS);
}

static int visit(void *arg, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
	(void)txn;
	blob_state *st = arg;
	if (k->mv_size != CJI_BLOB_KEY_LEN) {
		note_bad(st, k, DAMAGED_KEYS);
		return 1;
	}
	st->checked++;
	uint8_t h[CJI_BLOB_KEY_LEN];
	cji_blob_key(h, v->mv_data, v->mv_size);
	if (memcmp(h, k->mv_data, sizeof h) != 0)
		note_bad(st, k, "stored bytes do not match their hash");
	return 0;
}

int cji_blob_check(uint64_t *checked, char first_bad[CJ_BLOB_HASH_LEN + 1], cji_journal *j)
{
	*checked = 0;
	first_bad[0] = '\0';
	blob_state st;
	memset(&st, 0, sizeof st);
	cji_walk w = { .dbi = j->env.blobs, .what = "the blobs", .chunk_items = CHUNK_BLOBS,
	               .chunk_bytes = CHUNK_BYTES, .visit = visit, .disorder = disorder, .arg = &st };
	int rc = cji_walk_run(&w, j);
	*checked = st.checked;
	if (rc)
		return rc;
	if (!st.bad)
		return 0;
	memcpy(first_bad, st.first_bad, sizeof st.first_bad);
	return cji_err(CJ_ECORRUPT, "blob %s: %s%s", st.first_bad, st.why,
	               st.bad > 1 ? " (and more blobs)" : "");
}
