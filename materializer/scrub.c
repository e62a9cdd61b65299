/* materializer/scrub.c — a scrubbed copy of the projection, and the swap.
 *
 * FTS5 (3.40: no secure-delete) keeps the terms of deleted rows in its older
 * segments until they are merged: 'optimize' merges every segment into one.
 * Deleted rows and the old segments then sit in free pages and freeblocks of
 * the live file and its WAL; VACUUM INTO writes a new file from the live
 * rows only, once (an in-place VACUUM in WAL mode writes the whole file into
 * the WAL and a checkpoint copies it back: about three times the writes).
 * The old file is unlinked after the swap: its bytes are no longer in any
 * file of the store, though the blocks keep them until the file system
 * reuses them (as the journal's old data.mdb after its compacting copy),
 * and a reader that still has it open reads it until it lets go. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "materializer/scrub.h"
#include "materializer/db.h"
#include "materializer/replay.h"
#include "common/err.h"
#include "common/fsutil.h"

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
	int rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
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

int cji_scrub_build(sqlite3 *db, const char *tmp)
{
	unlink(tmp);
	cji_replay_unlink_sidecars(tmp);
	int ckpt = 0;
	int rc = int_pragma(db, "PRAGMA wal_autocheckpoint", &ckpt);
	if (rc)
		return rc;
	sqlite3_wal_autocheckpoint(db, 0);
	rc = cji_db_exec(db, "INSERT INTO messages_fts (messages_fts) VALUES ('optimize');"
	                 "INSERT INTO images_fts (images_fts) VALUES ('optimize');",
	                 "scrub: FTS5 optimize");
	if (!rc)
		rc = create_empty(tmp);
	if (!rc)
		rc = vacuum_into(db, tmp);
	sqlite3_wal_autocheckpoint(db, ckpt);
	if (!rc)
		rc = to_wal(tmp);
	if (!rc)
		rc = cji_fsync_path(tmp);
	if (rc) {
		unlink(tmp);
		cji_replay_unlink_sidecars(tmp);
	}
	return rc;
}

int cji_scrub_put_in_place(const char *tmp, const char *path)
{
	cji_replay_unlink_sidecars(path);
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
