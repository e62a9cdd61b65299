/* journal/check_ids.c — verify's check of the idempotency entries: each
 * entry (id -> sequence number + fingerprint, docs/format.md) must name a
 * record that passes its checksum, whose body has that fingerprint and
 * carries that id. A damaged entry would make a retry either store an event
 * twice or answer with the wrong sequence number, and nothing else reads
 * these entries back. Entries are walked in short read transactions
 * (walk.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/event_internal.h"
#include "journal/keys.h"
#include "journal/walk.h"
#include "journal/record.h"
#include "common/err.h"

#define CHUNK_ENTRIES 256

typedef struct id_state {
	cji_journal *j;
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

static void disorder(void *arg, const MDB_val *k, const uint8_t *last, size_t last_len)
{
	(void)k;
	note_bad(arg, CJ_ECORRUPT, "idempotency entries out of order after '%.*s' (a damaged page)",
	         (int)last_len, (const char *)last);
}

static int visit(void *arg, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
	id_state *st = arg;
	if (k->mv_size == 0 || k->mv_size > CJI_ID_MAX) {
		note_bad(st, CJ_ECORRUPT, "an idempotency id of %zu bytes (a damaged page)", k->mv_size);
		return 1;
	}
	st->checked++;
	check_entry(txn, st->j, st, k, v);
	return 0;
}

int cji_journal_check_ids(uint64_t *checked, uint64_t *bad, cji_journal *j)
{
	*checked = 0;
	*bad = 0;
	id_state st;
	memset(&st, 0, sizeof st);
	st.j = j;
	cji_walk w = { .dbi = j->env.idem, .what = "the idempotency entries",
	               .chunk_items = CHUNK_ENTRIES, .visit = visit, .disorder = disorder, .arg = &st };
	int rc = cji_walk_run(&w, j);
	*checked = st.checked;
	*bad = st.bad;
	if (rc)
		return rc;
	if (st.bad)
		return cji_err(st.first_rc, "%s%s", st.first_msg, st.bad > 1 ? " (and more)" : "");
	return 0;
}
