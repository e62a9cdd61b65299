/* materializer/replay.c — build a projection from the journal alone into a
 * fresh file: no WAL, synchronous=OFF, exclusive lock, big transactions and
 * secondary indexes and triggers put back at the end (docs/performance.md),
 * then fsync'd.
 * Putting the file in place (pausing a live materializer, the rename, the
 * readers) is the store's business: api/projection.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include "materializer/replay.h"
#include "materializer/materializer.h"
#include "materializer/apply.h"
#include "materializer/apply_sql.h"
#include "materializer/fts_side.h"
#include "materializer/db.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/buf.h"

#define REPLAY_CHUNK 200000

/* Derived tables refilled from the views that state their rule, between
 * the indexes (the views read through them) and the triggers that keep the
 * tables from there on (009_messages_tail.sql). */
#define REFILL_DERIVED \
	"DELETE FROM messages_tail; INSERT INTO messages_tail SELECT * FROM messages_tail_newest;"

/* Append "CREATE INDEX ...;" of every explicit index, then REFILL_DERIVED,
 * then "CREATE TRIGGER ...;" of every trigger, to out; then drop them all. */
static int save_and_drop_indexes(sqlite3 *db, cji_buf *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT type, name, sql FROM sqlite_master"
	                            " WHERE type IN ('index', 'trigger') AND sql IS NOT NULL"
	                            " ORDER BY type = 'trigger'", -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "replay: cannot list indexes");
	cji_buf drop = CJI_BUF_INIT;
	int refill = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int trigger = strcmp((const char *)sqlite3_column_text(st, 0), "trigger") == 0;
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *sql = (const char *)sqlite3_column_text(st, 2);
		char *d = sqlite3_mprintf("DROP %s \"%w\";", trigger ? "TRIGGER" : "INDEX", name);
		if (!d || (trigger && !refill++ && cji_buf_append(out, REFILL_DERIVED, strlen(REFILL_DERIVED))) ||
		    cji_buf_append(&drop, d, strlen(d)) ||
		    cji_buf_append(out, sql, strlen(sql)) || cji_buf_append(out, ";", 1)) {
			sqlite3_free(d);
			rc = SQLITE_NOMEM;
			break;
		}
		sqlite3_free(d);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cji_buf_free(&drop);
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "replay: cannot list indexes");
	}
	rc = cji_buf_append(out, "", 1) || cji_buf_append(&drop, "", 1) ? CJ_ENOMEM : 0;
	if (!rc && drop.len > 1)
		rc = cji_db_exec(db, (const char *)drop.data, "replay: drop indexes and triggers");
	cji_buf_free(&drop);
	if (out->len == 1)
		out->len = 0;
	return rc;
}

/* Before the first deletion: the secondary indexes back (a deletion finds
 * its rows through them: without, each one scanned every message, 300 full
 * scans for 100 delete_thread events at 1M messages), then messages_tail
 * filled and its triggers back, all kept up from there; and foreign keys
 * enforced again: a deletion's ON DELETE CASCADE needs them. Until then the
 * load inserts rows only, each after its parents (the applier makes a
 * message's thread and user rows first), and skips the parent lookups of
 * every insert (0.85 s of CPU per 1M messages; docs/performance.md);
 * verify's foreign_key_check (hash.c) proves no row lost its parent. SQLite
 * changes foreign_keys only outside a transaction: inside a batch, the
 * rows so far are committed first (the file is not in place before the
 * end, and is removed on failure). */
typedef struct index_ctx {
	sqlite3 *db;
	cji_buf *idx;
	int fk_off;
} index_ctx;

static int indexes_back(void *arg)
{
	index_ctx *c = arg;
	int rc = 0;
	if (c->idx->len)
		rc = cji_db_exec(c->db, (const char *)c->idx->data, "replay: build indexes");
	c->idx->len = 0;
	if (!rc && c->fk_off) {
		rc = cji_db_exec(c->db, sqlite3_get_autocommit(c->db) ? "PRAGMA foreign_keys=ON" :
		                 "COMMIT; PRAGMA foreign_keys=ON; BEGIN IMMEDIATE",
		                 "replay: enforce foreign keys");
		c->fk_off = 0;
	}
	return rc;
}

static int build(cji_journal *j, const char *tmp, uint64_t last, int skip_damaged,
                 cj_progress_fn progress, int (*stop)(void *), void *arg)
{
	sqlite3 *db;
	int rc = cji_db_open_bulk(&db, tmp);
	if (rc)
		return rc;
	/* Secondary indexes are dropped during the load and built at the end:
	 * one sort per index instead of a random B-tree insert per row; the
	 * triggers too, and messages_tail filled once from its rule. */
	cji_buf idx = CJI_BUF_INIT;
	cji_apply *a = NULL;
	cji_fts_side *side = NULL;
	index_ctx ic = { db, &idx, 1 };
	if ((rc = cji_db_exec(db, "PRAGMA foreign_keys=OFF", "replay: load without foreign keys")) ||
	    (rc = save_and_drop_indexes(db, &idx)) || (rc = cji_apply_new(&a, db, j)))
		goto done;
	/* The FTS5 indexes are built beside, on a thread of their own */
	char side_path[4400];
	snprintf(side_path, sizeof side_path, "%s%s", tmp, CJI_REPLAY_FTS_SUFFIX);
	if ((rc = cji_fts_side_open(&side, db, side_path)))
		goto done;
	a->side = side;
	a->before_delete = indexes_back;
	a->before_delete_arg = &ic;
	uint64_t pos = 0;
	while (pos < last) {
		uint64_t want = last - pos, n = 0;
		cji_batch_limits lim = { want > REPLAY_CHUNK ? REPLAY_CHUNK : (unsigned)want, 0, 0,
		                         skip_damaged };
		if ((rc = cji_mat_apply_batch(&n, db, a, j, pos, &lim)))
			break;
		if (n == 0) {
			rc = cji_err(CJ_ECORRUPT, "replay: the journal ends at %llu, expected %llu",
			             (unsigned long long)pos, (unsigned long long)last);
			break;
		}
		pos += n;
		if (progress)
			progress(pos, last, arg);
		if (stop && pos < last && stop(arg)) {
			rc = cji_err(CJ_ECLOSED, "replay: stopped at %llu of %llu", (unsigned long long)pos,
			             (unsigned long long)last);
			break;
		}
	}
	/* the last FTS hand-off runs while the indexes are built */
	if (!rc)
		rc = indexes_back(&ic);
	if (!rc)
		rc = cji_fts_side_finish(side, db);
done:
	cji_fts_side_close(side);
	cji_apply_free(a); /* its statements finalized before the journal mode changes */
	cji_buf_free(&idx);
	if (!rc)
		rc = cji_db_exec(db, "PRAGMA journal_mode=WAL", "replay: set WAL mode");
	sqlite3_close(db);
	return rc;
}

/* build into a clean path, fsynced; nothing left there on failure */
static int build_at(cji_journal *j, const char *path, uint64_t last, int skip_damaged,
                    cj_progress_fn progress, int (*stop)(void *), void *arg)
{
	unlink(path);
	cji_db_unlink_sidecars(path);
	int rc = build(j, path, last, skip_damaged, progress, stop, arg);
	if (!rc)
		rc = cji_fsync_path(path);
	if (rc) {
		unlink(path);
		cji_db_unlink_sidecars(path);
	}
	return rc;
}

int cji_replay_build_until(cji_journal *j, const char *path, uint64_t last, int skip_damaged,
                           int (*stop)(void *arg), void *arg)
{
	return build_at(j, path, last, skip_damaged, NULL, stop, arg);
}

int cji_replay_build(cji_journal *j, const char *path, uint64_t last, int skip_damaged,
                     cj_progress_fn progress, void *arg)
{
	return build_at(j, path, last, skip_damaged, progress, NULL, arg);
}
