/* journal/check_ids.c — verify's check of the idempotency entries: each
 * entry (id -> sequence number + fingerprint, docs/format.md) must name a
 * record that passes its checksum, whose body has that fingerprint and
 * carries that id. A damaged entry would make a retry either store an event
 * twice or answer with the wrong sequence number, and nothing else reads
 * these entries back. Entries are read in short read transactions, each
 * resuming after the last id seen; an id that does not sort after the one
 * before it (a damaged page) ends the check, so it always ends. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/event_internal.h"
#include "journal/keys.h"
#include "journal/record.h"
#include "common/err.h"

#define CHUNK_ENTRIES 256

typedef struct id_state {
	uint8_t last[CJI_ID_MAX];
	size_t last_len;
	int started, done;
	uint64_t checked, bad;
	int first_rc;
	char first_msg[512];
} id_state;

static void note_bad(id_state *st, int rc, const char *fmt, ...) CJI_PRINTF(3, 4);
static void note_bad(id_state *st, int rc, const char *fmt, ...)
{
	if (st->bad++)
		return;
	st->first_rc = rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->first_msg, sizeof st->first_msg, fmt, ap);
	va_end(ap);
}

/* A problem with the entry for id, which names sequence seq. */
#define ENTRY_BAD(st, rc, id, idlen, seq, detail) \
	note_bad(st, rc, "idempotency entry '%.*s' names sequence %llu: %s", (int)(idlen), id, \
	         (unsigned long long)(seq), detail)

/* The record an entry names: its checksum, fingerprint and id. */
static void check_entry(MDB_txn *txn, cji_journal *j, id_state *st, const MDB_val *k,
                        const MDB_val *v)
{
	const char *id = k->mv_data;
	size_t idlen = k->mv_size;
	uint64_t seq = 0;
	uint8_t fp[16], want[16];
	if (cji_idem_val_get(v, &seq, fp) != 0) {
		note_bad(st, CJ_ECORRUPT, "idempotency entry '%.*s': malformed value", (int)idlen, id);
		return;
	}
	uint8_t kb[CJI_SEQ_KEY_LEN];
	cji_key_seq(kb, seq);
	MDB_val rk = { sizeof kb, kb }, rv;
	int rc = mdb_get(txn, j->env.events, &rk, &rv);
	if (rc == MDB_NOTFOUND) {
		ENTRY_BAD(st, CJ_ECORRUPT, id, idlen, seq, "no such record");
		return;
	}
	if (rc) {
		int code = cji_err_mdb(rc, "cannot read it");
		ENTRY_BAD(st, code, id, idlen, seq, cj_error_last());
		return;
	}
	cji_record_hdr h;
	const uint8_t *body;
	if ((rc = cji_record_parse(rv.mv_data, rv.mv_size, seq, &h, &body))) {
		ENTRY_BAD(st, rc, id, idlen, seq, cj_error_last());
		return;
	}
	/* A tombstone (compaction) keeps its id but not the payload the entry's
	 * fingerprint was taken of: retries of it are told apart by the flag. */
	cji_idem_fingerprint(want, body, h.body_len);
	if (!(h.flags & CJI_RECORD_REDACTED) && memcmp(want, fp, sizeof fp) != 0) {
		ENTRY_BAD(st, CJ_ECORRUPT, id, idlen, seq, "its record has another fingerprint");
		return;
	}
	cj_event *ev = NULL;
	if ((rc = cji_event_decode(&ev, body, h.body_len, h.ts_ms))) {
		ENTRY_BAD(st, rc, id, idlen, seq, cj_error_last());
		return;
	}
	const char *rid = cji_event_id(ev);
	if (!rid || strlen(rid) != idlen || memcmp(rid, id, idlen) != 0)
		ENTRY_BAD(st, CJ_ECORRUPT, id, idlen, seq, "its record has another id");
	cj_event_free(ev);
}

/* One read transaction: up to CHUNK_ENTRIES entries after st->last. */
static int check_chunk(cji_journal *j, id_state *st)
{
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(txn, j->env.idem, &c))) {
		cji_env_read_end(&j->env, txn);
		return cji_err_mdb(rc, "journal: cannot open a cursor on the idempotency entries");
	}
	MDB_val k = { st->last_len, st->last }, v;
	rc = mdb_cursor_get(c, &k, &v, st->started ? MDB_SET_RANGE : MDB_FIRST);
	if (rc == 0 && st->started && k.mv_size == st->last_len &&
	    memcmp(k.mv_data, st->last, st->last_len) == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	unsigned n = 0;
	for (; rc == 0 && n < CHUNK_ENTRIES; n++) {
		size_t m = k.mv_size < st->last_len ? k.mv_size : st->last_len;
		int cmp = m ? memcmp(k.mv_data, st->last, m) : 0;
		if (st->started && (cmp < 0 || (cmp == 0 && k.mv_size <= st->last_len))) {
			note_bad(st, CJ_ECORRUPT, "idempotency entries out of order after '%.*s' (a "
			         "damaged page)", (int)st->last_len, (const char *)st->last);
			st->done = 1;
			break;
		}
		if (k.mv_size == 0 || k.mv_size > CJI_ID_MAX) {
			note_bad(st, CJ_ECORRUPT, "an idempotency id of %zu bytes (a damaged page)",
			         k.mv_size);
			st->done = 1;
			break;
		}
		memcpy(st->last, k.mv_data, k.mv_size);
		st->last_len = k.mv_size;
		st->started = 1;
		st->checked++;
		check_entry(txn, j, st, &k, &v);
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	cji_env_read_end(&j->env, txn);
	if (rc == MDB_NOTFOUND)
		st->done = 1;
	else if (rc)
		return cji_err_mdb(rc, "journal: cannot read the idempotency entries");
	return 0;
}

int cji_journal_check_ids(uint64_t *checked, uint64_t *bad, cji_journal *j)
{
	*checked = 0;
	*bad = 0;
	id_state st;
	memset(&st, 0, sizeof st);
	int rc = 0;
	while (!st.done && !(rc = check_chunk(j, &st)))
		;
	*checked = st.checked;
	*bad = st.bad;
	if (rc)
		return rc;
	if (st.bad)
		return cji_err(st.first_rc, "%s%s", st.first_msg, st.bad > 1 ? " (and more)" : "");
	return 0;
}
