/* materializer/snapshot.c — the projection of a backup. SQLite's backup
 * API copies pages, which is close to a file copy in speed (VACUUM INTO
 * rebuilds every b-tree and cannot report progress). It runs in steps, all
 * inside one read transaction the source connection opened first: a step
 * never starts a transaction of its own then, so every page comes from the
 * same snapshot, the one whose journal_position was read. The source
 * connection is read-only: it never writes or checkpoints the live file
 * (docs/reliability.md, S1). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "materializer/snapshot.h"
#include "materializer/schema.h"
#include "materializer/materializer.h"
#include "materializer/db.h"
#include "common/err.h"
#include "common/fsutil.h"

#define STEP_PAGES 1024
#define BUSY_TRIES 500         /* 10 ms apart: what a 5 s busy timeout allows */

static int create_new(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? cji_err(CJ_EEXIST, "%s already exists", path)
		                       : cji_err_errno(errno, "cannot create %s", path);
	int rc = fchmod(fd, 0600) != 0 ? cji_err_errno(errno, "cannot set mode of %s", path) : 0;
	close(fd);
	return rc;
}

/* The read transaction that pins the snapshot, and what it says. */
static int begin_snapshot(sqlite3 *db, uint64_t *pos, int *schema)
{
	int rc = cji_db_exec(db, "BEGIN", "snapshot: begin");
	if (rc)
		return rc;
	if ((rc = cji_schema_version(db, schema)))
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "snapshot: schema version");
	return cji_mat_stored_position(pos, db, 0);
}

static void nap(void)
{
	struct timespec ts = { 0, 10000000L };
	nanosleep(&ts, NULL);
}

static int copy_pages(sqlite3 *to, sqlite3 *from, int dst_fd, cj_progress_fn progress, void *arg)
{
	uint64_t flushed = 0;
	sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
	if (!b)
		return cji_err_sqlite(sqlite3_errcode(to), sqlite3_errmsg(to), "snapshot: backup");
	int rc, busy = 0;
	sqlite3_stmt *st;
	uint64_t page_size = 4096;
	if (sqlite3_prepare_v2(from, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			page_size = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	for (;;) {
		rc = sqlite3_backup_step(b, STEP_PAGES);
		if (rc == SQLITE_OK || rc == SQLITE_DONE) {
			uint64_t all = (uint64_t)sqlite3_backup_pagecount(b);
			uint64_t done = (all - (uint64_t)sqlite3_backup_remaining(b)) * page_size;
			/* Flush-behind (common/fsutil.h): no long backlog for appends'
			 * fsyncs to wait behind. */
			if (dst_fd >= 0)
				cji_flush_behind(dst_fd, &flushed, done);
			if (progress)
				progress(done, all * page_size, arg);
		}
		if (rc == SQLITE_OK)
			continue;
		if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && ++busy < BUSY_TRIES) {
			nap();
			continue;
		}
		break;
	}
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		return cji_err_sqlite(rc, sqlite3_errmsg(to), "snapshot: copying pages");
	return 0;
}

/* One file, no WAL: the backup API copied the source's header, which says
 * WAL; switch the copy to a rollback journal. */
static int settle(sqlite3 *db)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=DELETE", -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "snapshot: journal mode");
	rc = sqlite3_step(st);
	const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	int ok = mode && strcmp(mode, "delete") == 0;
	sqlite3_finalize(st);
	if (!ok)
		return cji_err(CJ_EDB, "snapshot: cannot leave WAL mode (%s)", sqlite3_errmsg(db));
	return 0;
}

int cji_projection_snapshot(uint64_t *position_out, int *schema_out, const char *src,
                            const char *dst, cj_progress_fn progress, void *arg)
{
	*position_out = 0;
	*schema_out = 0;
	int rc = create_new(dst);
	if (rc)
		return rc;
	sqlite3 *from = NULL, *to = NULL;
	if ((rc = cji_db_open_ro(&from, src)) || (rc = begin_snapshot(from, position_out, schema_out)))
		goto out;
	if ((rc = cji_sqlite_open(dst, &to, SQLITE_OPEN_READWRITE))) {
		rc = cji_err_sqlite(rc, to ? sqlite3_errmsg(to) : NULL, "cannot open %s", dst);
		goto out;
	}
	int fd = open(dst, O_RDONLY | O_CLOEXEC); /* for flush-behind only */
	if ((rc = cji_db_exec(to, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF", dst)) == 0)
		rc = copy_pages(to, from, fd, progress, arg);
	if (fd >= 0)
		close(fd);
	if (rc)
		goto out;
	sqlite3_exec(from, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(from);
	from = NULL;
	if ((rc = settle(to)))
		goto out;
	if ((rc = sqlite3_close(to))) {
		rc = cji_err_sqlite(rc, sqlite3_errmsg(to), "cannot close %s", dst);
		to = NULL;
		goto out;
	}
	to = NULL;
	rc = cji_fsync_path(dst);
out:
	if (from) {
		sqlite3_exec(from, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(from);
	}
	if (to)
		sqlite3_close(to);
	if (rc) {
		unlink(dst);
		char side[4400];
		static const char *const ext[] = { "-wal", "-shm", "-journal" };
		for (int i = 0; i < 3; i++) {
			snprintf(side, sizeof side, "%s%s", dst, ext[i]);
			unlink(side);
		}
	}
	return rc;
}
