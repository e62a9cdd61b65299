/* journal/swap.c — the compacting copy and the store-wide swap protocol
 * (docs/format.md, "Compaction and the swap").
 *
 * LMDB's freed pages keep their old bytes (docs/reliability.md, L10): only a
 * compacting copy (mdb_env_copyfd2 with MDB_CP_COMPACT) leaves them behind.
 * The copy must replace the live file without losing an acknowledged append
 * of any process, and LMDB itself gives two constraints:
 *   - the copy's meta pages carry transaction id 1, while lock.mdb (shared
 *     by every process that has the environment open) remembers the last
 *     transaction id of the old file and picks meta pages by its parity: the
 *     new data file may only ever be used with a NEW lock file. So the whole
 *     folder is swapped (data.mdb alone would pair with the stale lock.mdb);
 *   - a process that still has the old folder open keeps writing to the old
 *     inode: every transaction of every process checks, right after it
 *     began (for writers: under LMDB's writer lock), that its folder is
 *     still the one at STORE/journal, else reopens (env.c).
 * The copy and the exchange happen while this process holds the old
 * folder's writer lock (a write transaction it never commits), so no one can
 * commit to the old folder after the copy was taken: a writer blocked on the
 * lock gets it after the exchange, sees the new folder and reopens.
 * mdb_env_copyfd1 (the compacting copy) only begins a read transaction,
 * which MDB_NOTLS allows beside this thread's write transaction (the plain
 * copy, mdb_env_copyfd0, would take the writer lock and deadlock). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "journal/journal_internal.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

static int side_dir(char *out, size_t n, const cji_env *e)
{
	if ((size_t)snprintf(out, n, "%s.compact", e->dir) >= n)
		return cji_err(CJ_ETOOBIG, "path too long: %s", e->dir);
	return 0;
}

/* rm DIR/data.mdb DIR/lock.mdb, rmdir DIR; a missing DIR is fine. */
static int remove_folder(const char *dir)
{
	static const char *const names[] = { "data.mdb", "lock.mdb" };
	char p[4300];
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		if (unlink(p) != 0 && errno != ENOENT)
			return cji_err_errno(errno, "cannot remove %s", p);
	}
	if (rmdir(dir) != 0 && errno != ENOENT)
		return cji_err_errno(errno, "cannot remove %s", dir);
	return 0;
}

int cji_journal_swap_cleanup(cji_journal *j)
{
	char side[4200];
	int rc = side_dir(side, sizeof side, &j->env);
	return rc ? rc : remove_folder(side);
}

static uint64_t file_size(const char *dir)
{
	char p[4300];
	struct stat st;
	snprintf(p, sizeof p, "%s/data.mdb", dir);
	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* The compacting copy into side/data.mdb, made durable. */
static int copy_into(cji_env *e, const char *side)
{
	char p[4300];
	snprintf(p, sizeof p, "%s/data.mdb", side);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cji_err_errno(errno, "cannot create %s", p);
	int rc = 0;
	if (fchmod(fd, 0600) != 0)
		rc = cji_err_errno(errno, "cannot set the mode of %s", p);
	int mrc = rc ? 0 : mdb_env_copyfd2(e->env, fd, MDB_CP_COMPACT);
	if (mrc)
		rc = cji_err_write(mrc, side, "journal %s: compacting copy failed", e->dir);
	if (!rc && fsync(fd) != 0)
		rc = cji_err_write(errno, side, "cannot fsync %s", p);
	if (close(fd) != 0 && !rc)
		rc = cji_err_errno(errno, "cannot close %s", p);
	if (!rc)
		rc = cji_fsync_dir(side);
	return rc;
}

int cji_journal_swap(cji_swap_report *out, cji_journal *j)
{
	memset(out, 0, sizeof *out);
	cji_env *e = &j->env;
	if (e->read_only)
		return cji_err(CJ_EPERM, "journal %s: opened read-only", e->dir);
	char side[4200];
	int rc = side_dir(side, sizeof side, e);
	if (rc || (rc = remove_folder(side)))
		return rc;
	if ((rc = cji_mkdir_private(side)))
		return rc;
	out->size_before = file_size(e->dir);
	MDB_txn *txn;
	/* The old folder's writer lock: from here until the abort below nobody
	 * commits to it. begin() has checked it is the current folder. */
	if ((rc = cji_env_write_begin(e, &txn))) {
		remove_folder(side);
		return cji_err_mdb(rc, "journal %s: cannot take the writer lock", e->dir);
	}
	uint64_t t0 = cji_mono_ns();
	rc = copy_into(e, side);
	if (!rc && renameat2(AT_FDCWD, side, AT_FDCWD, e->dir, RENAME_EXCHANGE) != 0)
		rc = cji_err_errno(errno, "cannot exchange %s with %s (the file system must support "
		                   "renameat2 RENAME_EXCHANGE)", side, e->dir);
	/* Durable before anyone may append to the new folder: a machine crash
	 * must not bring the old folder back after acknowledged appends. */
	if (!rc)
		rc = cji_fsync_parent(e->dir);
	cji_env_write_abort(e, txn);
	out->pause_ns = cji_mono_ns() - t0;
	if (rc) {
		/* Before the exchange: the live folder is untouched. After it (only
		 * the fsync failed): the exchange happened; the old folder stays at
		 * side until the next compaction removes it. */
		pthread_rwlock_rdlock(&e->gate);
		int swapped = cji_env_stale(e);
		pthread_rwlock_unlock(&e->gate);
		if (!swapped)
			remove_folder(side);
		cji_env_follow(e);
		return rc;
	}
	int f = cji_env_follow(e);
	if (f < 0)
		return f;
	out->size_after = file_size(e->dir);
	/* Other processes may still have the old files open: unlinking keeps
	 * their inodes alive until they follow the swap. */
	return remove_folder(side);
}
