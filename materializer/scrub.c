/* materializer/scrub.c — a scrubbed copy of the projection, and the swap.
 *
 * FTS5 (3.40: no secure-delete) keeps the terms of deleted rows in its older
 * segments until they are merged: 'optimize' merges every segment into one.
 * Deleted rows and the old segments sit in free pages and freeblocks of the
 * live file and its WAL; VACUUM INTO writes a new file from the live rows
 * only, once (an in-place VACUUM in WAL mode writes the whole file into the
 * WAL and a checkpoint copies it back: about three times the writes).
 *
 * The two run side by side: while the writer connection optimizes, a
 * thread copies the file as it is (VACUUM INTO through a read-only
 * connection: the materializer applies nothing meanwhile, so every table
 * but the FTS5 segments is what it will be). The copy's segments, those of
 * before the optimize, are then replaced by the optimized ones: each
 * segment table is cleared whole under secure_delete (a cleared b-tree
 * frees every page it had, its root is emptied, and secure_delete writes
 * zeros over each: nothing is moved, so nothing is left behind), then
 * filled from the live file.
 *
 * The old file is unlinked after the swap: its bytes are no longer in any
 * file of the store, though the blocks keep them until the file system
 * reuses them (as the journal's old data.mdb after its compacting copy),
 * and a reader that still has it open reads it until it lets go. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "materializer/scrub.h"
#include "materializer/db.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

static int create_empty(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cji_err_errno(errno, "scrub: cannot create %s", path);
	int rc = fchmod(fd, 0600) != 0 ? cji_err_errno(errno, "scrub: cannot set mode of %s", path) : 0;
	close(fd);
	return rc;
}

static int int_pragma(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc ? cji_err_sqlite(rc, sqlite3_errmsg(db), "scrub: %s", sql) : 0;
}

static int vacuum_into(sqlite3 *db, const char *tmp)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	int code = rc ? cji_err_sqlite(rc, sqlite3_errmsg(db), "scrub: VACUUM INTO %s", tmp) : 0;
	sqlite3_finalize(st);
	return code;
}

/* VACUUM INTO writes a rollback-journal file: make it a WAL one, as the live
 * file is, while no one else has it open. */
static int to_wal(const char *tmp)
{
	sqlite3 *db;
	int rc = cji_sqlite_open(tmp, &db, SQLITE_OPEN_READWRITE);
	sqlite3_stmt *st = NULL;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		rc = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0 ? SQLITE_OK : SQLITE_ERROR;
	int code = rc ? cji_err_sqlite(rc, db ? sqlite3_errmsg(db) : NULL,
	                               "scrub: cannot put %s in WAL mode", tmp) : 0;
	sqlite3_finalize(st);
	sqlite3_close(db); /* the last connection: it removes tmp-wal and tmp-shm */
	return code;
}

/* ---- the copy, beside the optimize --------------------------------------- */

typedef struct copier {
	const char *from, *to;
	int rc;
	char err[512];
} copier;

static void *copy_main(void *arg)
{
	copier *c = arg;
	sqlite3 *db = NULL;
	/* read-only, without query_only (which VACUUM INTO refuses) */
	int rc = cji_sqlite_open(c->from, &db, SQLITE_OPEN_READONLY);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		c->rc = vacuum_into(db, c->to);
	} else {
		c->rc = cji_err_sqlite(rc, db ? sqlite3_errmsg(db) : NULL, "scrub: cannot open %s", c->from);
	}
	if (c->rc)
		snprintf(c->err, sizeof c->err, "%s", cj_error_last());
	sqlite3_close(db);
	return NULL;
}

/* ---- the optimized segments into the copy -------------------------------- */

/* The FTS5 tables of the schema, whatever migrations add ("" ends). */
#define MAX_FTS 8
typedef struct fts_list { char name[MAX_FTS][64]; } fts_list;

static int fts_tables(fts_list *out, sqlite3 *db)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE " CJI_FTS5_TABLE_WHERE " ORDER BY name",
	                            -1, &st, NULL);
	if (rc) {
		sqlite3_finalize(st);
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "scrub: the FTS5 tables");
	}
	int n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (n == MAX_FTS || strlen(name) >= sizeof out->name[0] - 5) {
			sqlite3_finalize(st);
			return cji_err(CJ_EINVAL, "scrub: FTS5 table %s: too many or too long a name", name);
		}
		snprintf(out->name[n++], sizeof out->name[0], "%s", name);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cji_err_sqlite(rc, sqlite3_errmsg(db), "scrub: the FTS5 tables");
}

static int optimize(sqlite3 *db, const fts_list *fts)
{
	int rc = 0;
	for (int i = 0; !rc && i < MAX_FTS && fts->name[i][0]; i++) {
		char sql[200];
		snprintf(sql, sizeof sql, "INSERT INTO \"%s\" (\"%s\") VALUES ('optimize')", fts->name[i],
		         fts->name[i]);
		rc = cji_db_exec(db, sql, "scrub: FTS5 optimize");
	}
	return rc;
}

/* Every row of table from live into to (same schema). */
static int copy_rows(sqlite3 *to, sqlite3 *live, const char *table)
{
	char sql[200];
	snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", table);
	sqlite3_stmt *sel = NULL, *ins = NULL;
	int rc = sqlite3_prepare_v2(live, sql, -1, &sel, NULL);
	if (rc) {
		rc = cji_err_sqlite(rc, sqlite3_errmsg(live), "scrub: %s", sql);
		goto out;
	}
	int n = sqlite3_column_count(sel);
	int len = snprintf(sql, sizeof sql, "INSERT INTO \"%s\" VALUES (?", table);
	for (int i = 1; i < n && len < (int)sizeof sql - 4; i++)
		len += snprintf(sql + len, sizeof sql - (size_t)len, ",?");
	snprintf(sql + len, sizeof sql - (size_t)len, ")");
	if ((rc = sqlite3_prepare_v2(to, sql, -1, &ins, NULL))) {
		rc = cji_err_sqlite(rc, sqlite3_errmsg(to), "scrub: %s", sql);
		goto out;
	}
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++)
			sqlite3_bind_value(ins, i + 1, sqlite3_column_value(sel, i));
		if ((rc = sqlite3_step(ins)) != SQLITE_DONE) {
			rc = cji_err_sqlite(rc, sqlite3_errmsg(to), "scrub: into %s", table);
			goto out;
		}
		sqlite3_reset(ins);
	}
	rc = rc == SQLITE_DONE ? 0 : cji_err_sqlite(rc, sqlite3_errmsg(live), "scrub: from %s", table);
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	return rc;
}

/* The copy's FTS5 segments (of before the optimize) replaced by the live
 * file's (optimized). The copy is a private file until the swap: no
 * rollback journal, no sync (cji_scrub_build fsyncs it after). */
static int replace_segments(const char *tmp, sqlite3 *live, const fts_list *fts)
{
	sqlite3 *db;
	int rc = cji_sqlite_open(tmp, &db, SQLITE_OPEN_READWRITE);
	if (rc) {
		rc = cji_err_sqlite(rc, db ? sqlite3_errmsg(db) : NULL, "scrub: cannot open %s", tmp);
		sqlite3_close(db);
		return rc;
	}
	rc = cji_db_exec(db, "PRAGMA secure_delete=ON; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
	                 "PRAGMA cache_size=-65536; BEGIN", "scrub: the copy");
	/* An FTS5 table's segments: its _data (leaves, structure) and _idx
	 * (each leaf's first term) shadow tables. */
	static const char *const shadows[] = { "_data", "_idx" };
	for (int i = 0; !rc && i < MAX_FTS && fts->name[i][0]; i++)
		for (int k = 0; !rc && k < 2; k++) {
			char table[80], sql[120];
			snprintf(table, sizeof table, "%s%s", fts->name[i], shadows[k]);
			/* no WHERE, no trigger: the b-tree is cleared whole, not row by row */
			snprintf(sql, sizeof sql, "DELETE FROM \"%s\"", table);
			if (!(rc = cji_db_exec(db, sql, "scrub: clearing the copy's segments")))
				rc = copy_rows(db, live, table);
		}
	/* the copy holds no deleted byte and its writers run with FAST: later
	 * compactions scrub it in place */
	if (!rc)
		rc = cji_db_exec(db, "UPDATE scrub_state SET zeroed = 1; COMMIT", "scrub: the copy's segments");
	sqlite3_close(db);
	return rc;
}

int cji_scrub_build(sqlite3 *db, const char *path, const char *tmp)
{
	unlink(tmp);
	cji_db_unlink_sidecars(tmp);
	int ckpt = 0;
	fts_list fts;
	int rc = int_pragma(db, "PRAGMA wal_autocheckpoint", &ckpt);
	if (!rc)
		rc = fts_tables(&fts, db);
	if (!rc)
		rc = create_empty(tmp);
	if (rc)
		return rc;
	copier c = { path, tmp, 0, "" };
	pthread_t th;
	if (pthread_create(&th, NULL, copy_main, &c) != 0) {
		unlink(tmp);
		return cji_err(CJ_ENOMEM, "scrub: cannot start the copy's thread");
	}
	sqlite3_wal_autocheckpoint(db, 0);
	rc = optimize(db, &fts);
	pthread_join(th, NULL);
	if (!rc && c.rc)
		rc = cji_err(c.rc, "%s", c.err);
	if (!rc)
		rc = replace_segments(tmp, db, &fts);
	sqlite3_wal_autocheckpoint(db, ckpt);
	if (!rc)
		rc = to_wal(tmp);
	if (!rc)
		rc = cji_fsync_path(tmp);
	if (rc) {
		unlink(tmp);
		cji_db_unlink_sidecars(tmp);
	}
	return rc;
}

/* ---- in place ------------------------------------------------------------ */

int cji_scrub_zeroed(int *zeroed, sqlite3 *db)
{
	*zeroed = 0;
	return int_pragma(db, "SELECT zeroed FROM scrub_state WHERE id = 1", zeroed);
}

/* Every page of the free list overwritten with zeros, in one transaction no
 * reader sees: a blob of zeros as large as the free list takes its pages
 * (SQLite allocates from the free list before it grows the file), and is
 * dropped again. */
static int zero_free_pages(sqlite3 *db)
{
	int page = 0, reserved = 0, free_pages = 0;
	int rc = int_pragma(db, "PRAGMA page_size", &page);
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserved) != SQLITE_OK)
		reserved = 0;
	if (!rc)
		rc = int_pragma(db, "PRAGMA freelist_count", &free_pages);
	if (rc || free_pages == 0)
		return rc;
	if ((rc = cji_db_exec(db, "BEGIN IMMEDIATE; CREATE TABLE cj_scrub_fill (b BLOB)", "scrub: zeroing free pages")))
		return rc;
	sqlite3_stmt *ins = NULL;
	if ((rc = cji_db_prepare(db, "INSERT INTO cj_scrub_fill (b) VALUES (zeroblob(?1))", &ins)))
		goto out;
	/* an overflow page holds page - 4 bytes; a few pages over is harmless
	 * (the file grows by them), a few under takes another round */
	for (int round = 0; free_pages > 0 && round < 64; round++) {
		sqlite3_int64 n = free_pages < 65536 ? free_pages : 65536;
		sqlite3_bind_int64(ins, 1, n * (page - reserved - 4));
		if ((rc = sqlite3_step(ins)) != SQLITE_DONE) {
			rc = cji_err_sqlite(rc, sqlite3_errmsg(db), "scrub: zeroing free pages");
			goto out;
		}
		sqlite3_reset(ins);
		if ((rc = int_pragma(db, "PRAGMA freelist_count", &free_pages)))
			goto out;
	}
	/* dropped under ON: each page it frees is zeroed whole (the same pages
	 * as the blob's, dirty in this transaction already: no more writes) */
	if (free_pages > 0)
		rc = cji_err(CJ_EIO, "scrub: %d free pages are left after zeroing", free_pages);
	else
		rc = cji_db_exec(db, "PRAGMA secure_delete=ON; DROP TABLE cj_scrub_fill; COMMIT;"
		                 "PRAGMA secure_delete=FAST", "scrub: zeroing free pages");
out:
	sqlite3_finalize(ins);
	if (rc) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_exec(db, "PRAGMA secure_delete=FAST", NULL, NULL, NULL);
	}
	return rc;
}

/* Everything committed copied into the file and the WAL cut to zero bytes
 * (its old frames hold pages as they were before the deletions). A reader
 * still using the WAL makes it wait (the busy timeout), then try again. */
static int truncate_wal(sqlite3 *db, int wait_ms)
{
	uint64_t until = cji_mono_ns() + (uint64_t)wait_ms * 1000000u;
	for (;;) {
		int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			return cji_err_sqlite(rc, sqlite3_errmsg(db), "scrub: checkpoint of the WAL");
		if (cji_mono_ns() >= until)
			return cji_err(CJ_EBUSY, "scrub: readers kept the projection's WAL busy for %d ms; "
			               "the compaction's scrub is not complete: run it again", wait_ms);
		usleep(10000);
	}
}

/* ---- a checkpoint beside the zeroing ---------------------------------- */

/* The optimize's frames copied into the file on a second connection while
 * the first writes the zeros (a checkpoint and a writer share the WAL: the
 * checkpoint takes only the frames committed when it starts): the last
 * checkpoint then has the zeros' frames left to copy, not the whole index
 * (-0.1 s of 0.57 s after the optimize, 1M store; docs/performance.md).
 * Best effort: what it leaves, truncate_wal copies. */
static void *passive_main(void *arg)
{
	sqlite3 *db = NULL;
	if (cji_sqlite_open(arg, &db, SQLITE_OPEN_READWRITE) == SQLITE_OK &&
	    sqlite3_exec(db, "PRAGMA user_version", NULL, NULL, NULL) == SQLITE_OK) /* opens the WAL */
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	sqlite3_close(db);
	return NULL;
}

int cji_scrub_in_place(sqlite3 *db, int wait_ms)
{
	fts_list fts;
	int ckpt = 0;
	int rc = int_pragma(db, "PRAGMA wal_autocheckpoint", &ckpt);
	if (!rc)
		rc = fts_tables(&fts, db);
	if (rc)
		return rc;
	/* one checkpoint at the end rather than one every few thousand pages
	 * while the index is rewritten (fewer syncs; measured in
	 * docs/performance.md, "bench compact") */
	sqlite3_wal_autocheckpoint(db, 0);
	rc = optimize(db, &fts);
	pthread_t th;
	int beside = !rc && pthread_create(&th, NULL, passive_main,
	                                   (void *)sqlite3_db_filename(db, "main")) == 0;
	if (!rc)
		rc = zero_free_pages(db);
	if (beside)
		pthread_join(th, NULL);
	if (!rc)
		rc = truncate_wal(db, wait_ms);
	sqlite3_wal_autocheckpoint(db, ckpt);
	return rc;
}

int cji_scrub_put_in_place(const char *tmp, const char *path)
{
	cji_db_unlink_sidecars(path);
	if (rename(tmp, path) != 0)
		return cji_err_errno(errno, "scrub: cannot rename %s to %s", tmp, path);
	return cji_fsync_parent(path);
}

cji_file_id cji_scrub_file_id(const char *path)
{
	struct stat st;
	cji_file_id id = { 0, 0 };
	if (stat(path, &st) == 0) {
		id.dev = (unsigned long long)st.st_dev;
		id.ino = (unsigned long long)st.st_ino;
	}
	return id;
}
