/* materializer/batch.c — one batch: journal records from+1.. applied in ONE
 * SQLite transaction together with the position they reach, so an event is
 * applied exactly once across crashes. Shared by the materializer thread
 * (small batches, bounded in time) and replay (huge ones). */
#include <stdio.h>
#include <time.h>
#include "materializer/materializer.h"
#include "materializer/apply.h"
#include "materializer/db.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/timeutil.h"

/* The position as stored. Read inside the batch's transaction, it makes a
 * second writer (which the lock file should prevent) unable to double-apply.
 * must_exist: a missing row is an error (else position 0). */
int cji_mat_stored_position(uint64_t *pos, sqlite3 *db, int must_exist)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT seq FROM journal_position WHERE id = 1", -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "cannot read journal_position");
	*pos = 0;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*pos = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW || (rc == SQLITE_DONE && !must_exist))
		return 0;
	return cji_err_sqlite(rc, sqlite3_errmsg(db), "journal_position has no row");
}

int cji_mat_apply_batch(uint64_t *applied, sqlite3 *db, cji_apply *a, cji_journal *j,
                        uint64_t from, const cji_batch_limits *lim)
{
	*applied = 0;
	cj_journal_iter *it;
	int rc = cji_journal_iter_new(&it, j, from + 1);
	if (rc)
		return rc;
	if ((rc = cji_db_exec(db, "BEGIN IMMEDIATE", "materializer: begin"))) {
		cji_journal_iter_free(it);
		return rc;
	}
	uint64_t stored;
	if ((rc = cji_mat_stored_position(&stored, db, 1)) || stored != from) {
		cji_journal_iter_free(it);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc ? rc : cji_err(CJ_EBUSY, "projection position is %llu, expected %llu: "
		                         "another writer changed it", (unsigned long long)stored,
		                         (unsigned long long)from);
	}
	uint64_t n = 0;
	uint64_t deadline = lim->max_ms ? cji_mono_ns() + (uint64_t)lim->max_ms * 1000000u : UINT64_MAX;
	cj_record rec;
	/* A plain message is read straight from its body (event_fields.c);
	 * any other record is decoded into an event. */
	cji_buf strings = CJI_BUF_INIT;
	cji_message_fields m;
	while (n < lim->max) {
		const uint8_t *body;
		int plain = 0;
		rc = cji_journal_iter_next_body(&rec, &body, it);
		if (rc == 1 && rec.type == CJ_EVENT_MESSAGE &&
		    (plain = cji_message_fields_read(&m, &strings, body, rec.body_len)) < 0)
			rc = plain;
		if (rc == 1 && !plain)
			rc = cji_journal_iter_decode(&rec, it, body);
		if ((rc == CJ_ECORRUPT || rc == CJ_EVERSION) && lim->skip_damaged &&
		    rec.seq == from + n + 1) {
			/* The iterator has moved past the damaged record: note it in the
			 * projection (the same transaction) and go on. */
			if ((rc = cji_apply_damaged(a, rec.seq, cj_error_last())))
				break;
			n++;
			continue;
		}
		if (rc <= 0)
			break;
		if (rec.seq != from + n + 1) {
			rc = cji_err(CJ_ECORRUPT, "journal gap: expected sequence %llu, found %llu",
			             (unsigned long long)(from + n + 1), (unsigned long long)rec.seq);
			break;
		}
		if (plain) {
			rc = cji_apply_message_fields(a, rec.seq, &m, rec.ts_ms);
			cji_message_fields_done(&m);
		} else {
			rc = cji_apply_event(a, rec.seq, rec.event, rec.ts_ms);
		}
		if (rc)
			break;
		n++;
		if ((n & 255) == 0 && cji_mono_ns() > deadline)
			break;
	}
	cji_journal_iter_free(it);
	cji_buf_free(&strings);
	if (rc < 0 || n == 0) {
		cji_apply_discard(a);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc < 0 ? rc : 0;
	}
	if (lim->split_position) {
		/* Negative control only: rows and position in two transactions. */
		if ((rc = cji_apply_flush(a)) || (rc = cji_db_exec(db, "COMMIT", "materializer: commit")))
			return rc;
		/* Widens the negative-control window (tests/crash/test_crash_materialize.c):
		 * a kill -9 in these 2 ms leaves committed rows beyond the position. */
		struct timespec gap = { 0, 2000000 };
		nanosleep(&gap, NULL);
		if ((rc = cji_db_exec(db, "BEGIN IMMEDIATE", "materializer: begin")))
			return rc;
	}
	if ((rc = cji_apply_position(a, from + n, cji_now_ms())) ||
	    (rc = cji_db_exec(db, "COMMIT", "materializer: commit"))) {
		cji_apply_discard(a);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	*applied = n;
	return 0;
}

