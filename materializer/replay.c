/* materializer/replay.c — rebuild a projection from the journal alone into a
 * fresh file: no WAL, synchronous=OFF, exclusive lock, big transactions
 * (PERFORMANCE.md), then one fsync and an atomic rename. In place (out_path
 * NULL) the store's materializer is paused while the file is swapped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include "chatjournal/query.h"
#include "chatjournal/journal.h"
#include "api/store_internal.h"
#include "api/readers.h"
#include "materializer/apply.h"
#include "materializer/db.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/buf.h"

#define REPLAY_CHUNK 200000

static void unlink_sidecars(const char *path)
{
	static const char *const ext[] = { "-wal", "-shm", "-journal" };
	char p[4400];
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", path, ext[i]);
		unlink(p);
	}
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cji_err_errno(errno, "cannot open %s", path);
	int rc = fsync(fd) == 0 ? 0 : cji_err_errno(errno, "cannot fsync %s", path);
	close(fd);
	return rc;
}

/* Append "CREATE INDEX ...;" of every explicit index to out, then drop them. */
static int save_and_drop_indexes(sqlite3 *db, cji_buf *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
	                            " AND sql IS NOT NULL", -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "replay: cannot list indexes");
	cji_buf drop = CJI_BUF_INIT;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *sql = (const char *)sqlite3_column_text(st, 1);
		char *d = sqlite3_mprintf("DROP INDEX \"%w\";", name);
		if (!d || cji_buf_append(&drop, d, strlen(d)) || cji_buf_append(out, sql, strlen(sql)) ||
		    cji_buf_append(out, ";", 1)) {
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
		rc = cji_db_exec(db, (const char *)drop.data, "replay: drop indexes");
	cji_buf_free(&drop);
	if (out->len == 1)
		out->len = 0;
	return rc;
}

static int build(cj_store *s, const char *tmp, uint64_t last, cj_progress_fn progress, void *arg)
{
	sqlite3 *db;
	int rc = cji_db_open_bulk(&db, tmp);
	if (rc)
		return rc;
	/* Secondary indexes are dropped during the load and built at the end:
	 * one sort per index instead of a random B-tree insert per row. */
	cji_buf idx = CJI_BUF_INIT;
	if ((rc = save_and_drop_indexes(db, &idx))) {
		cji_buf_free(&idx);
		sqlite3_close(db);
		return rc;
	}
	cji_apply *a;
	if ((rc = cji_apply_new(&a, db, s))) {
		cji_buf_free(&idx);
		sqlite3_close(db);
		return rc;
	}
	uint64_t pos = 0;
	while (pos < last) {
		uint64_t want = last - pos, n = 0;
		unsigned max = want > REPLAY_CHUNK ? REPLAY_CHUNK : (unsigned)want;
		if ((rc = cji_mat_apply_batch(db, a, s, pos, max, 0, 0, &n)))
			break;
		if (n == 0) {
			rc = cji_err(CJ_ECORRUPT, "replay: the journal ends at %llu, expected %llu",
			             (unsigned long long)pos, (unsigned long long)last);
			break;
		}
		pos += n;
		if (progress)
			progress(pos, last, arg);
	}
	cji_apply_free(a);
	if (!rc && idx.len)
		rc = cji_db_exec(db, (const char *)idx.data, "replay: build indexes");
	cji_buf_free(&idx);
	if (!rc)
		rc = cji_db_exec(db, "PRAGMA journal_mode=WAL", "replay: set WAL mode");
	sqlite3_close(db);
	return rc;
}

int cj_projection_replay(cj_store *s, const char *out_path, uint64_t up_to,
                         cj_progress_fn progress, void *arg)
{
	if (!s)
		return cji_err(CJ_EINVAL, "replay: no store");
	const char *target = out_path ? out_path : s->sqlite_path;
	if (!out_path && s->mat && cji_mat_is_passive(s->mat))
		return cji_err(CJ_EBUSY, "replay: another process (chatjournal serve?) is materializing "
		               "this store; stop it first");
	if (!out_path && !s->mat)
		return cji_err(CJ_EPERM, "replay in place needs the store opened read-write");
	char tmp[4400];
	snprintf(tmp, sizeof tmp, "%s.replay-tmp", target);
	unlink(tmp);
	unlink_sidecars(tmp);
	uint64_t last = up_to;
	int rc = 0;
	if (!last && (rc = cj_journal_last_seq(s, &last)))
		return rc;
	if ((rc = build(s, tmp, last, progress, arg)) || (rc = fsync_path(tmp)))
		goto fail;
	if (s->mat && !out_path)
		cji_mat_pause(s->mat);
	unlink_sidecars(target);
	if (rename(tmp, target) != 0)
		rc = cji_err_errno(errno, "replay: cannot rename %s to %s", tmp, target);
	char dir[4400];
	snprintf(dir, sizeof dir, "%s", target);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (!rc)
		rc = cji_fsync_dir(slash ? dir : ".");
	if (!out_path) {
		/* Readers of the old file finish there; new queries open the new one. */
		cji_readers_reset(s->readers);
		int r3 = s->mat ? cji_mat_resume(s->mat) : 0;
		if (!rc)
			rc = r3;
	}
	if (rc)
		goto fail;
	return 0;
fail:
	unlink(tmp);
	unlink_sidecars(tmp);
	return rc;
}
