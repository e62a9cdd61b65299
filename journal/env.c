/* journal/env.c — LMDB environment lifecycle and map growth. Never
 * MDB_WRITEMAP (a full disk would SIGBUS) and never MDB_NOSYNC (acknowledged
 * appends must survive power loss): docs/reliability.md, L3 and L4. Before
 * LMDB maps data.mdb, metapage.c checks that the file holds every page its
 * meta pages count (L9, L12); before LMDB reads a page, pages.c walks the
 * ones every open reads (L13). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "journal/env.h"
#include "journal/keys.h"
#include "journal/metapage.h"
#include "journal/pages.h"
#include "common/err.h"
#include "common/timeutil.h"

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
	if (rc == MDB_NOTFOUND && create && !e->read_only) {
		cji_meta_kv ver, created;
		cji_meta_u32(&ver, CJI_META_FORMAT, CJI_FORMAT_VERSION);
		cji_meta_u64(&created, CJI_META_CREATED, (uint64_t)cji_now_ms());
		if ((rc = mdb_put(txn, e->meta, &ver.key, &ver.val, 0)) ||
		    (rc = mdb_put(txn, e->meta, &created.key, &created.val, 0))) {
			mdb_txn_abort(txn);
			return cji_err_mdb(rc, "journal %s: cannot write format version", e->dir);
		}
		rc = mdb_txn_commit(txn);
		if (rc)
			return cji_err_mdb(rc, "journal %s: cannot commit format version", e->dir);
		return 0;
	}
	if (rc) {
		mdb_txn_abort(txn);
		return cji_err(CJ_ECORRUPT, "journal %s: no format version in meta", e->dir);
	}
	uint32_t ver = 0;
	cji_meta_u32_get(&v, &ver); /* a malformed value stays 0: refused below */
	/* Commit even when read-only: that is what keeps the table handles open. */
	if ((rc = mdb_txn_commit(txn)))
		return cji_err_mdb(rc, "journal %s: cannot commit", e->dir);
	if (ver != CJI_FORMAT_VERSION)
		return cji_err(CJ_EVERSION, "journal %s: format version %u, this build knows %u",
		               e->dir, ver, CJI_FORMAT_VERSION);
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

static int env_start(cji_env *e, int create)
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

static int begin(cji_env *e, unsigned flags, MDB_txn **txn)
{
	for (int tries = 0; tries < 3; tries++) {
		pthread_rwlock_rdlock(&e->gate);
		if (!e->env) { /* a reopen after MDB_PANIC failed */
			pthread_rwlock_unlock(&e->gate);
			return MDB_PANIC;
		}
		int rc = mdb_txn_begin(e->env, NULL, flags, txn);
		if (rc == 0)
			return 0;
		pthread_rwlock_unlock(&e->gate);
		if (rc != MDB_MAP_RESIZED)
			return rc;
		adopt_resize(e);
	}
	return MDB_MAP_RESIZED;
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

int cji_env_reader_check(cji_env *e)
{
	int dead = 0;
	int rc = mdb_reader_check(e->env, &dead);
	if (rc)
		return cji_err_mdb(rc, "journal %s: reader check failed", e->dir);
	return dead;
}
