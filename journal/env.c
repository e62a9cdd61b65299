/* journal/env.c — LMDB environment lifecycle and map growth. Never
 * MDB_WRITEMAP (a full disk would SIGBUS) and never MDB_NOSYNC (acknowledged
 * appends must survive power loss): docs/reliability.md, L3 and L4. Before
 * LMDB maps data.mdb, metapage.c checks that the file holds every page its
 * meta pages count (L9, L15); before LMDB reads a page, pages.c walks the
 * ones every open reads (L16). The one exception to the flags is
 * cji_env_test_weaken_sync, a test hook no library code calls: the
 * power-loss test's negative controls use it (docs/testing.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "journal/env.h"
#include "journal/keys.h"
#include "journal/metapage.h"
#include "journal/pages.h"
#include "common/err.h"
#include "common/timeutil.h"

static int last_seq_of(cji_env *e, MDB_txn *txn, uint64_t *last)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(txn, e->events, &c);
	if (rc)
		return cji_err_mdb(rc, "journal %s: cannot open a cursor", e->dir);
	MDB_val k, v;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return cji_err_mdb(rc, "journal %s: cannot read the last sequence number", e->dir);
	*last = cji_key_seq_get(&k);
	return 0;
}

/* Bring a journal of format ver (0: new) to CJI_FORMAT_VERSION inside txn,
 * and open the tables that version has. Forward only, one transaction: a
 * crash leaves the old version whole. Read-only: nothing is written; a v1
 * journal then simply has no commits table. */
static int upgrade(cji_env *e, MDB_txn *txn, uint32_t ver)
{
	int rc = 0;
	if (ver >= 2 || !e->read_only)
		rc = mdb_dbi_open(txn, CJI_DB_COMMITS, ver >= 2 ? 0 : MDB_CREATE, &e->commits);
	if (rc == MDB_NOTFOUND)
		return cji_err(CJ_ECORRUPT, "journal %s: format %u without its commits table", e->dir, ver);
	if (rc)
		return cji_err_mdb(rc, "journal %s: cannot open the commits table", e->dir);
	e->has_commits = ver >= 2 || !e->read_only;
	if (ver < CJI_FORMAT_VERSION && !e->read_only) {
		cji_meta_kv fv, from;
		cji_meta_u32(&fv, CJI_META_FORMAT, CJI_FORMAT_VERSION);
		if ((rc = mdb_put(txn, e->meta, &fv.key, &fv.val, 0)))
			return cji_err_mdb(rc, "journal %s: cannot write the format version", e->dir);
		/* Which events have a recorded commit time: all of a new journal,
		 * none of those an older journal held without saying so. A
		 * point-in-time restore must know, to never invent a time
		 * (docs/format.md). A version-2 journal normally says so already. */
		MDB_val fk, fv2;
		cji_meta_name(&fk, CJI_META_COMMITS_FROM);
		if (mdb_get(txn, e->meta, &fk, &fv2) == MDB_NOTFOUND) {
			uint64_t last = 0;
			if (ver >= 1 && (rc = last_seq_of(e, txn, &last)))
				return rc;
			cji_meta_u64(&from, CJI_META_COMMITS_FROM, last + 1);
			if ((rc = mdb_put(txn, e->meta, &from.key, &from.val, 0)))
				return cji_err_mdb(rc, "journal %s: cannot write commits_from", e->dir);
		}
	}
	return 0;
}

static int open_dbs(cji_env *e, int create)
{
	MDB_txn *txn;
	unsigned flags = e->read_only ? MDB_RDONLY : 0;
	int rc = mdb_txn_begin(e->env, NULL, flags, &txn);
	if (rc)
		return cji_err_mdb(rc, "journal %s: cannot begin transaction", e->dir);
	unsigned dbf = create ? MDB_CREATE : 0;
	if ((rc = mdb_dbi_open(txn, CJI_DB_EVENTS, dbf, &e->events)) ||
	    (rc = mdb_dbi_open(txn, CJI_DB_IDEM, dbf, &e->idem)) ||
	    (rc = mdb_dbi_open(txn, CJI_DB_BLOBS, dbf, &e->blobs)) ||
	    (rc = mdb_dbi_open(txn, CJI_DB_META, dbf, &e->meta))) {
		mdb_txn_abort(txn);
		if (rc == MDB_NOTFOUND)
			return cji_err(CJ_ENOTFOUND, "journal %s: not a chatjournal journal (missing tables)", e->dir);
		return cji_err_mdb(rc, "journal %s: cannot open tables", e->dir);
	}
	MDB_val k, v;
	cji_meta_name(&k, CJI_META_FORMAT);
	rc = mdb_get(txn, e->meta, &k, &v);
	uint32_t ver = 0;
	if (rc == MDB_NOTFOUND && create && !e->read_only) {
		cji_meta_kv created;
		cji_meta_u64(&created, CJI_META_CREATED, (uint64_t)cji_now_ms());
		if ((rc = mdb_put(txn, e->meta, &created.key, &created.val, 0))) {
			mdb_txn_abort(txn);
			return cji_err_mdb(rc, "journal %s: cannot write its creation time", e->dir);
		}
		ver = 0; /* a new journal: "upgraded" from nothing to the current version */
	} else if (rc) {
		mdb_txn_abort(txn);
		return cji_err(CJ_ECORRUPT, "journal %s: no format version in meta", e->dir);
	} else if (cji_meta_u32_get(&v, &ver) != 0 || ver == 0) {
		mdb_txn_abort(txn);
		return cji_err(CJ_ECORRUPT, "journal %s: malformed format version in meta", e->dir);
	}
	if (ver > CJI_FORMAT_VERSION) {
		mdb_txn_abort(txn);
		return cji_err(CJ_EVERSION, "journal %s: format version %u, this build knows up to %u",
		               e->dir, ver, CJI_FORMAT_VERSION);
	}
	if ((rc = upgrade(e, txn, ver))) {
		mdb_txn_abort(txn);
		return rc;
	}
	/* Commit even when read-only: that is what keeps the table handles open. */
	if ((rc = mdb_txn_commit(txn)))
		return cji_err_mdb(rc, "journal %s: cannot commit", e->dir);
	return 0;
}

/* The pages opening and the common paths read through LMDB (and a
 * writer's free list), walked with bounds of our own before LMDB follows
 * them: a damaged one is CJ_ECORRUPT here instead of a crash or an endless
 * loop later (pages.c). The read transaction pins the snapshot against a
 * writer in another process. No transaction of this process is open: this
 * runs at open, or at reopen under the exclusive gate. */
static int check_edges(cji_env *e)
{
	if (!cji_lmdb_layout_known())
		return 0;
	char path[4200];
	if (snprintf(path, sizeof path, "%s/data.mdb", e->dir) >= (int)sizeof path)
		return cji_err(CJ_ETOOBIG, "path too long: %s", e->dir);
	MDB_txn *txn;
	int rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
	if (rc == MDB_MAP_RESIZED && (rc = mdb_env_set_mapsize(e->env, 0)) == 0)
		rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return cji_err_mdb(rc, "journal %s: cannot begin a read transaction", e->dir);
	uint64_t pages, bad;
	rc = cji_pages_walk(&pages, &bad, path, (uint64_t)mdb_txn_id(txn),
	                    e->read_only ? CJI_PAGES_EDGES : CJI_PAGES_EDGES_AND_FREE);
	mdb_txn_abort(txn);
	return rc;
}

static int dir_id(const char *dir, dev_t *dev, ino_t *ino)
{
	struct stat st;
	if (stat(dir, &st) != 0)
		return -1;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

static int env_start_once(cji_env *e, int create);

/* LMDB opens lock.mdb and data.mdb by path, one after the other: a swap in
 * between would pair the new data file with the old lock file (whose last
 * transaction id and writer mutex belong to the old one). Stat the folder
 * before and after: if it changed, open again. */
static int env_start(cji_env *e, int create)
{
	for (int tries = 0;; tries++) {
		dev_t d0, d1;
		ino_t i0, i1;
		if (dir_id(e->dir, &d0, &i0) != 0) {
			if (errno == ENOENT)
				return cji_err(CJ_ENOTFOUND, "journal %s: not found", e->dir);
			return cji_err_errno(errno, "journal %s: cannot stat", e->dir);
		}
		int rc = env_start_once(e, create);
		if (rc)
			return rc;
		if (dir_id(e->dir, &d1, &i1) == 0 && d0 == d1 && i0 == i1) {
			e->dir_dev = d0;
			e->dir_ino = i0;
			return 0;
		}
		mdb_env_close(e->env);
		e->env = NULL;
		if (tries == 10)
			return cji_err(CJ_EBUSY, "journal %s: the folder keeps changing while it is opened", e->dir);
	}
}

static _Atomic int swap_check_off; /* tests only: the negative control */

void cji_env_test_disable_swap_check(int off) { atomic_store(&swap_check_off, off); }

int cji_env_stale(cji_env *e)
{
	if (atomic_load(&swap_check_off))
		return 0;
	dev_t d;
	ino_t i;
	/* A folder that cannot be seen is not evidence of a swap (the exchange
	 * is atomic: the path always names one of the two folders). */
	if (dir_id(e->dir, &d, &i) != 0)
		return 0;
	return d != e->dir_dev || i != e->dir_ino;
}

int cji_env_follow(cji_env *e)
{
	pthread_rwlock_wrlock(&e->gate);
	int rc = 0;
	if (e->env && cji_env_stale(e)) {
		mdb_env_close(e->env);
		e->env = NULL;
		rc = env_start(e, 0);
		if (rc == 0) {
			atomic_fetch_add(&e->swaps, 1);
			rc = 1;
		}
	}
	pthread_rwlock_unlock(&e->gate);
	if (rc == 1 && e->on_swap)
		e->on_swap(e->on_swap_arg);
	return rc;
}

static int env_start_once(cji_env *e, int create)
{
	/* A file shorter than its meta pages say would be a SIGBUS on the
	 * first read past its end: refuse it with a message instead. */
	int rc = cji_metapage_check(e->dir);
	if (rc)
		return rc;
	rc = mdb_env_create(&e->env);
	if (rc)
		return cji_err_mdb(rc, "journal %s: cannot create environment", e->dir);
	mdb_env_set_maxdbs(e->env, 8);
	mdb_env_set_maxreaders(e->env, 510);
	mdb_env_set_mapsize(e->env, (size_t)atomic_load(&e->map_size));
	unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
	if (e->read_only)
		flags |= MDB_RDONLY;
	if (e->read_only == CJI_ENV_SNAPSHOT)
		flags |= MDB_NOLOCK;
	rc = mdb_env_open(e->env, e->dir, flags, 0600);
	if (rc) {
		mdb_env_close(e->env);
		e->env = NULL;
		if (rc == ENOENT)
			return cji_err(CJ_ENOTFOUND, "journal %s: not found", e->dir);
		return cji_err_mdb(rc, "journal %s: cannot open", e->dir);
	}
	/* Adopt a larger map written by another process or an earlier run. */
	MDB_envinfo info;
	mdb_env_info(e->env, &info);
	if (info.me_mapsize > atomic_load(&e->map_size))
		atomic_store(&e->map_size, info.me_mapsize);
	mdb_reader_check(e->env, NULL);
	rc = check_edges(e);
	if (rc == 0)
		rc = open_dbs(e, create);
	if (rc) {
		mdb_env_close(e->env);
		e->env = NULL;
	}
	return rc;
}

int cji_env_open(cji_env *e, const char *dir, uint64_t map_initial, uint64_t map_ceiling,
                 int read_only, int create)
{
	memset(e, 0, sizeof *e);
	if (strlen(dir) >= sizeof e->dir)
		return cji_err(CJ_ETOOBIG, "path too long: %s", dir);
	strcpy(e->dir, dir);
	e->read_only = read_only;
	e->map_ceiling = map_ceiling ? map_ceiling : CJI_MAP_DEFAULT_CEILING;
	uint64_t initial = map_initial ? map_initial : CJI_MAP_DEFAULT_INITIAL;
	if (initial > e->map_ceiling)
		initial = e->map_ceiling;
	atomic_store(&e->map_size, initial);
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&e->gate, &attr);
	pthread_rwlockattr_destroy(&attr);
	int rc = env_start(e, create);
	if (rc)
		pthread_rwlock_destroy(&e->gate);
	return rc;
}

void cji_env_close(cji_env *e)
{
	if (!e->env)
		return;
	mdb_env_close(e->env);
	e->env = NULL;
	pthread_rwlock_destroy(&e->gate);
}

/* Another process grew the map: adopt its size (no txn may be open here). */
static void adopt_resize(cji_env *e)
{
	pthread_rwlock_wrlock(&e->gate);
	mdb_env_set_mapsize(e->env, 0);
	MDB_envinfo info;
	mdb_env_info(e->env, &info);
	atomic_store(&e->map_size, info.me_mapsize);
	pthread_rwlock_unlock(&e->gate);
}

/* Every transaction begins here. The folder check comes AFTER the
 * transaction began: for a writer that means under LMDB's writer lock, which
 * the compactor holds across its copy and the swap, so a writer of the old
 * folder either committed before the copy (and is in it) or sees the swap
 * here and reopens; it never commits to a file nobody reads again. */
static int begin(cji_env *e, unsigned flags, MDB_txn **txn)
{
	int rc = MDB_MAP_RESIZED;
	for (int tries = 0; tries < 8; tries++) {
		pthread_rwlock_rdlock(&e->gate);
		if (!e->env) { /* a reopen after MDB_PANIC failed */
			pthread_rwlock_unlock(&e->gate);
			return MDB_PANIC;
		}
		rc = mdb_txn_begin(e->env, NULL, flags, txn);
		if (rc == 0 && !cji_env_stale(e))
			return 0;
		if (rc == 0) {
			mdb_txn_abort(*txn);
			*txn = NULL;
			pthread_rwlock_unlock(&e->gate);
			int f = cji_env_follow(e);
			if (f < 0)
				return MDB_PANIC;
			continue;
		}
		pthread_rwlock_unlock(&e->gate);
		if (rc != MDB_MAP_RESIZED)
			return rc;
		adopt_resize(e);
	}
	return rc;
}

int cji_env_read_begin(cji_env *e, MDB_txn **txn)
{
	int rc = begin(e, MDB_RDONLY, txn);
	if (rc)
		return cji_err_mdb(rc, "journal %s: cannot begin read transaction", e->dir);
	return 0;
}

void cji_env_read_end(cji_env *e, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&e->gate);
}

int cji_env_write_begin(cji_env *e, MDB_txn **txn)
{
	if (e->read_only)
		return cji_err(CJ_EPERM, "journal %s: opened read-only", e->dir);
	return begin(e, 0, txn);
}

int cji_env_write_commit(cji_env *e, MDB_txn *txn)
{
	int rc = mdb_txn_commit(txn);
	pthread_rwlock_unlock(&e->gate);
	return rc;
}

void cji_env_write_abort(cji_env *e, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&e->gate);
}

int cji_env_grow(cji_env *e)
{
	pthread_rwlock_wrlock(&e->gate);
	uint64_t cur = atomic_load(&e->map_size);
	int rc = 0;
	if (cur >= e->map_ceiling) {
		rc = cji_err(CJ_EFULL, "journal full: the map reached its ceiling of %llu bytes "
		             "(raise map_ceiling in chatjournal.conf)", (unsigned long long)e->map_ceiling);
		goto out;
	}
	uint64_t step = cur < CJI_MAP_MAX_STEP ? cur : CJI_MAP_MAX_STEP;
	uint64_t next = cur + step;
	if (next > e->map_ceiling)
		next = e->map_ceiling;
	int mrc = mdb_env_set_mapsize(e->env, (size_t)next);
	if (mrc) {
		rc = cji_err_mdb(mrc, "journal %s: cannot grow map to %llu bytes", e->dir,
		                 (unsigned long long)next);
		goto out;
	}
	MDB_envinfo info;
	mdb_env_info(e->env, &info);
	atomic_store(&e->map_size, info.me_mapsize);
	atomic_fetch_add(&e->growths, 1);
out:
	pthread_rwlock_unlock(&e->gate);
	return rc;
}

int cji_env_reopen(cji_env *e)
{
	pthread_rwlock_wrlock(&e->gate);
	mdb_env_close(e->env);
	e->env = NULL;
	int rc = env_start(e, 0);
	pthread_rwlock_unlock(&e->gate);
	return rc;
}

int cji_env_test_weaken_sync(cji_env *e, unsigned mdb_flags)
{
	unsigned allowed = MDB_NOSYNC | MDB_NOMETASYNC;
	if (!e->env || e->read_only || !mdb_flags || (mdb_flags & ~allowed))
		return cji_err(CJ_EINVAL, "journal %s: test hook: only MDB_NOSYNC or MDB_NOMETASYNC",
		               e->dir);
	/* Exclusive: no transaction of this process is open while the flags change
	 * (a write transaction copies them when it begins). */
	pthread_rwlock_wrlock(&e->gate);
	int rc = mdb_env_set_flags(e->env, mdb_flags, 1);
	pthread_rwlock_unlock(&e->gate);
	if (rc)
		return cji_err_mdb(rc, "journal %s: test hook: cannot set sync flags", e->dir);
	return 0;
}

int cji_env_copy_once(cji_env *e, int fd)
{
	pthread_rwlock_rdlock(&e->gate);
	int rc = e->env ? mdb_env_copyfd2(e->env, fd, MDB_CP_COMPACT) : MDB_PANIC;
	pthread_rwlock_unlock(&e->gate);
	return rc;
}

void cji_env_adopt_resize(cji_env *e)
{
	adopt_resize(e);
}

int cji_env_reader_check(cji_env *e)
{
	int dead = 0;
	/* Under the gate: another thread may be reopening after a swap. */
	pthread_rwlock_rdlock(&e->gate);
	int rc = e->env ? mdb_reader_check(e->env, &dead) : 0;
	pthread_rwlock_unlock(&e->gate);
	if (rc)
		return cji_err_mdb(rc, "journal %s: reader check failed", e->dir);
	return dead;
}

int cji_env_fill_tail(cji_env *e)
{
	MDB_envinfo info;
	MDB_stat st;
	int fd;
	int rc = mdb_env_info(e->env, &info);
	if (!rc)
		rc = mdb_env_stat(e->env, &st);
	if (!rc)
		rc = mdb_env_get_fd(e->env, &fd);
	if (rc)
		return cji_err_mdb(rc, "journal %s: cannot read its size", e->dir);
	off_t need = (off_t)(info.me_last_pgno + 1) * st.ms_psize;
	struct stat fs;
	if (fstat(fd, &fs) != 0)
		return cji_err_errno(errno, "journal %s: cannot stat data.mdb", e->dir);
	if (fs.st_size >= need)
		return 0;
	/* posix_fallocate never shrinks: another process's writer may already
	 * have written past `need` (ftruncate could cut its pages off). */
	int err = posix_fallocate(fd, fs.st_size, need - fs.st_size);
	if (err == 0 && fdatasync(fd) != 0)
		err = errno;
	if (err)
		return cji_err_write(err, e->dir, "journal %s: cannot extend data.mdb to %lld bytes",
		                     e->dir, (long long)need);
	return 0;
}
