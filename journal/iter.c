/* journal/iter.c — reading the journal in order. Each refill copies up to a
 * chunk of raw records in one short read transaction and ends it at once, so
 * an iterator never pins old pages (a long read transaction makes LMDB's file
 * grow) and never blocks map growth. Checksums are verified per record.
 * Keys must come in increasing order: a damaged page that sends the cursor
 * back (docs/reliability.md, L16) ends the iteration with CJ_ECORRUPT
 * instead of reading the same records forever. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/event_internal.h"
#include "journal/keys.h"
#include "journal/lmdb_layout.h"
#include "journal/record.h"
#include "common/err.h"

#define CHUNK_RECORDS 256
#define CHUNK_BYTES   ((size_t)4 << 20)
/* The journal's map is opened for random reads (MDB_NORDAHEAD, env.c): a
 * page not in the page cache is read alone, one fault each. A reader in
 * order asks the kernel for the file ahead of it instead, this far past
 * the page it reads (a cold 1M-event replay: 83,622 faults, 23.8 s,
 * without; docs/performance.md). */
#define AHEAD_BYTES   ((uint64_t)16 << 20)

struct cj_journal_iter {
	cji_journal *j;
	uint64_t next_seq;      /* first seq not yet copied */
	cji_buf raw;            /* copied records */
	uint64_t seqs[CHUNK_RECORDS];
	uint32_t offs[CHUNK_RECORDS], lens[CHUNK_RECORDS];
	size_t count, pos;
	int out_of_order;       /* the last refill met a key not after the one before */
	int ended;              /* reported that: the iteration is over */
	uint64_t advised;       /* file offset up to which the file was asked for */
	cj_event *cur;
};

/* Ask the kernel for the file from the page holding `at` (a value in the
 * map, inside a read transaction) to AHEAD_BYTES past it, once the last
 * request is half used up. The page's file offset is its own page number
 * (the first field of its header) times the page size. Advice only. The
 * page size and descriptor are asked at every refill, not kept in the
 * iterator: a compaction swaps the journal's file and environment between
 * two refills (test compact/two_process failed when they were kept). */
static void read_ahead(cj_journal_iter *it, const void *at)
{
	MDB_stat st;
	int fd;
	if (!cji_lmdb_layout_known() || mdb_env_stat(it->j->env.env, &st) != 0 || st.ms_psize == 0 ||
	    mdb_env_get_fd(it->j->env.env, &fd) != 0)
		return;
	uintptr_t page = (uintptr_t)at - (uintptr_t)at % st.ms_psize;
	uint64_t pgno;
	memcpy(&pgno, (const void *)page, sizeof pgno);
	if (pgno > (UINT64_MAX >> 20))
		return;
	uint64_t off = pgno * st.ms_psize;
	if (off + AHEAD_BYTES / 2 < it->advised && off + AHEAD_BYTES > it->advised)
		return;
	if (posix_fadvise(fd, (off_t)off, (off_t)AHEAD_BYTES, POSIX_FADV_WILLNEED) == 0)
		it->advised = off + AHEAD_BYTES;
}

int cji_journal_iter_new(cj_journal_iter **out, cji_journal *j, uint64_t from_seq)
{
	*out = NULL;
	cj_journal_iter *it = calloc(1, sizeof *it);
	if (!it)
		return cji_err(CJ_ENOMEM, "out of memory");
	it->j = j;
	it->next_seq = from_seq ? from_seq : 1;
	*out = it;
	return 0;
}

static int refill(cj_journal_iter *it)
{
	cji_journal *j = it->j;
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(txn, j->env.events, &c))) {
		cji_env_read_end(&j->env, txn);
		return cji_err_mdb(rc, "journal: cannot open cursor");
	}
	uint8_t kb[CJI_SEQ_KEY_LEN];
	cji_key_seq(kb, it->next_seq);
	MDB_val k = { sizeof kb, kb }, v;
	cji_buf_reset(&it->raw);
	it->count = it->pos = 0;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0)
		read_ahead(it, v.mv_data);
	while (rc == 0 && it->count < CHUNK_RECORDS) {
		if (it->count > 0 && it->raw.len + v.mv_size > CHUNK_BYTES)
			break;
		uint64_t seq = cji_key_seq_get(&k);
		/* seq is 0 for a key that is not 8 bytes; the last number would
		 * wrap next_seq around to the start. */
		if (seq < it->next_seq || seq == UINT64_MAX) {
			it->out_of_order = 1;
			rc = 0;
			break;
		}
		size_t off = it->raw.len;
		if (cji_buf_append(&it->raw, v.mv_data, v.mv_size)) {
			rc = ENOMEM;
			break;
		}
		it->seqs[it->count] = seq;
		it->offs[it->count] = (uint32_t)off;
		it->lens[it->count] = (uint32_t)v.mv_size;
		it->count++;
		it->next_seq = seq + 1;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	cji_env_read_end(&j->env, txn);
	if (rc && rc != MDB_NOTFOUND)
		return cji_err_mdb(rc, "journal: read failed near sequence %llu",
		                   (unsigned long long)it->next_seq);
	return 0;
}

int cji_journal_iter_next_body(cj_record *rec, const uint8_t **body, cj_journal_iter *it)
{
	cj_event_free(it->cur);
	it->cur = NULL;
	*body = NULL;
	if (it->ended)
		return 0;
	if (it->pos == it->count && !it->out_of_order) {
		int rc = refill(it);
		if (rc)
			return rc;
	}
	if (it->pos == it->count) {
		if (!it->out_of_order)
			return 0;
		it->ended = 1;
		memset(rec, 0, sizeof *rec);
		rec->seq = it->next_seq;
		return cji_err(CJ_ECORRUPT, "journal: the key after sequence %llu is out of order "
		               "(a damaged page); the records after it cannot be read in order",
		               (unsigned long long)(it->next_seq - 1));
	}
	size_t i = it->pos++;
	memset(rec, 0, sizeof *rec);
	rec->seq = it->seqs[i]; /* names the record on error too */
	const uint8_t *raw = it->raw.data + it->offs[i];
	cji_record_hdr h;
	int rc = cji_record_parse(raw, it->lens[i], it->seqs[i], &h, body);
	if (rc)
		return rc;
	rec->type = (cj_event_type)h.type;
	rec->ts_ms = h.ts_ms;
	rec->flags = h.flags;
	rec->body_len = h.body_len;
	return 1;
}

int cji_journal_iter_decode(cj_record *rec, cj_journal_iter *it, const uint8_t *body)
{
	int rc = cji_event_decode(&it->cur, body, rec->body_len, rec->ts_ms);
	if (rc) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", cj_error_last());
		return cji_err(rc, "journal record %llu: %s", (unsigned long long)rec->seq, msg);
	}
	rec->event = it->cur;
	return 1;
}

int cji_journal_iter_next(cj_record *rec, cj_journal_iter *it)
{
	const uint8_t *body;
	int rc = cji_journal_iter_next_body(rec, &body, it);
	return rc == 1 ? cji_journal_iter_decode(rec, it, body) : rc;
}

int cji_journal_iter_ready(cj_journal_iter *it)
{
	if (it->pos < it->count)
		return 1;
	int rc = refill(it);
	return rc ? rc : it->count > 0;
}

uint64_t cji_journal_iter_next_seq(const cj_journal_iter *it)
{
	return it->pos < it->count ? it->seqs[it->pos] : it->next_seq;
}

cji_journal *cji_journal_iter_journal(const cj_journal_iter *it) { return it->j; }

void cji_journal_iter_free(cj_journal_iter *it)
{
	if (!it)
		return;
	cj_event_free(it->cur);
	cji_buf_free(&it->raw);
	free(it);
}

int cji_journal_get(cj_event **ev_out, cj_record *rec_out, cji_journal *j, uint64_t seq)
{
	*ev_out = NULL;
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	uint8_t kb[CJI_SEQ_KEY_LEN];
	cji_key_seq(kb, seq);
	MDB_val k = { sizeof kb, kb }, v;
	rc = mdb_get(txn, j->env.events, &k, &v);
	if (rc) {
		cji_env_read_end(&j->env, txn);
		if (rc == MDB_NOTFOUND)
			return cji_err(CJ_ENOTFOUND, "journal record %llu: not found", (unsigned long long)seq);
		return cji_err_mdb(rc, "journal record %llu: read failed", (unsigned long long)seq);
	}
	cji_record_hdr h;
	const uint8_t *body;
	rc = cji_record_parse(v.mv_data, v.mv_size, seq, &h, &body);
	if (rc == 0) {
		rc = cji_event_decode(ev_out, body, h.body_len, h.ts_ms);
		if (rc) {
			char msg[512];
			snprintf(msg, sizeof msg, "%s", cj_error_last());
			rc = cji_err(rc, "journal record %llu: %s", (unsigned long long)seq, msg);
		}
	}
	cji_env_read_end(&j->env, txn);
	if (rc == 0 && rec_out) {
		rec_out->seq = seq;
		rec_out->type = (cj_event_type)h.type;
		rec_out->ts_ms = h.ts_ms;
		rec_out->flags = h.flags;
		rec_out->body_len = h.body_len;
		rec_out->event = *ev_out;
	}
	return rc;
}

int cji_journal_last_seq(uint64_t *out, cji_journal *j)
{
	*out = 0;
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(txn, j->env.events, &c)) == 0) {
		MDB_val k, v;
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
		if (rc == 0)
			*out = cji_key_seq_get(&k);
		mdb_cursor_close(c);
	}
	cji_env_read_end(&j->env, txn);
	if (rc && rc != MDB_NOTFOUND)
		return cji_err_mdb(rc, "journal: cannot read the last sequence number");
	return 0;
}
