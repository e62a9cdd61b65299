/* journal/env.h — the LMDB environment wrapper: open with safe flags, the
 * transaction gate that makes map growth safe, growth up to a ceiling,
 * reopen after MDB_PANIC, stale reader cleanup.
 *
 * Invariant: every transaction of this process is opened through
 * cji_env_*_begin, which holds the gate shared; growth and reopen hold it
 * exclusive, so no transaction is open while the map changes. */
#ifndef CJ_JOURNAL_ENV_H
#define CJ_JOURNAL_ENV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <lmdb.h>

typedef struct cji_env {
	MDB_env *env;
	MDB_dbi events, idem, blobs, meta;
	MDB_dbi commits;          /* valid when has_commits (format 2; a v1 journal opened
	                             read-only has none until a read-write open upgrades it) */
	int has_commits;
	pthread_rwlock_t gate;
	uint64_t map_ceiling;
	_Atomic uint64_t map_size;
	_Atomic uint64_t growths;
	int read_only;            /* CJI_ENV_RO or CJI_ENV_SNAPSHOT: no writes */
	char dir[4096];
	/* Which journal folder this environment opened: compaction swaps the
	 * whole folder (docs/format.md, "Compaction and the swap"), and a
	 * process whose folder is no longer STORE/journal must reopen before it
	 * reads or writes again. Checked after every transaction begins. */
	dev_t dir_dev;
	ino_t dir_ino;
	_Atomic uint64_t swaps;    /* swaps this process followed */
	void (*on_swap)(void *arg); /* told after a swap was followed (no lock held) */
	void *on_swap_arg;
} cji_env;

#define CJI_MAP_DEFAULT_INITIAL ((uint64_t)64 << 20)
#define CJI_MAP_DEFAULT_CEILING ((uint64_t)64 << 30)
#define CJI_MAP_MAX_STEP        ((uint64_t)1 << 30)

/* Modes of cji_env_open (its read_only argument). A snapshot is a copy
 * nobody writes (a backup's journal): read-only and without LMDB's lock
 * file (MDB_NOLOCK), so opening it never writes into the backup. */
enum { CJI_ENV_RW = 0, CJI_ENV_RO = 1, CJI_ENV_SNAPSHOT = 2 };

/* Open (create = make data files and databases if missing) the environment
 * in dir. Files get mode 0600. Checks the format version in meta; a
 * read-write open upgrades an older format. */
int cji_env_open(cji_env *e, const char *dir, uint64_t map_initial, uint64_t map_ceiling,
                 int read_only, int create);
void cji_env_close(cji_env *e);

/* Read transaction; cji_env_read_end aborts it and releases the gate. */
int cji_env_read_begin(cji_env *e, MDB_txn **txn);
void cji_env_read_end(cji_env *e, MDB_txn *txn);

/* Write transaction (blocks on LMDB's writer lock). commit/abort release the
 * gate; commit returns the raw LMDB code (the caller maps it). */
int cji_env_write_begin(cji_env *e, MDB_txn **txn);
int cji_env_write_commit(cji_env *e, MDB_txn *txn);
/* After a commit that deleted (compaction's tombstones and blob deletions):
 * make data.mdb at least as long as its newer meta page counts. LMDB never
 * writes a page freed in the transaction that allocated it ("loose"), so a
 * deleting commit could leave the file shorter than its meta page says, which
 * the check at open takes for truncation (docs/reliability.md, L15).
 * Extends it (posix_fallocate, which never shrinks) and fdatasyncs; 0 or an error (the commit stands either way). */
int cji_env_fill_tail(cji_env *e);
void cji_env_write_abort(cji_env *e, MDB_txn *txn);

/* Grow the map (double, at most CJI_MAP_MAX_STEP more, never past the
 * ceiling). No transaction of this thread may be open. CJ_EFULL at the ceiling. */
int cji_env_grow(cji_env *e);

/* Close and reopen after MDB_PANIC (no transaction may be open in this thread). */
int cji_env_reopen(cji_env *e);

/* TEST HOOK, never called by the library: turn on MDB_NOSYNC and/or
 * MDB_NOMETASYNC (nothing else) for this open environment, so that the
 * power-loss test's negative controls (tests/crash/test_crash_power.c) can
 * show that their checker catches acknowledged appends lost on power loss
 * (docs/reliability.md, L3; docs/testing.md, crash/power). Call it before the
 * first append; a reopen after MDB_PANIC drops the flags again. */
int cji_env_test_weaken_sync(cji_env *e, unsigned mdb_flags);

/* The folder at e->dir is no longer the one this environment opened (a
 * compaction swapped it): 1, else 0. */
int cji_env_stale(cji_env *e);
/* Tests only: never see a swap (the negative control of compact/two_process:
 * without the check, a process loses the appends it makes after a swap). */
void cji_env_test_disable_swap_check(int off);
/* Reopen on the folder now at e->dir if stale (no transaction of this
 * thread may be open); 1 if it reopened, 0 if nothing to do, or an error. */
int cji_env_follow(cji_env *e);

/* One compacted copy of the environment (MDB_CP_COMPACT: one read
 * transaction, free pages left out, written strictly in order) into fd,
 * holding the gate shared for the whole copy: LMDB's own read transaction
 * inside the copy must not see the map resized under it (docs/reliability.md,
 * L5). This process's map growth waits meanwhile. fd may be a pipe (LMDB's
 * copy thread blocks SIGPIPE itself). Returns the raw LMDB code: after
 * MDB_MAP_RESIZED (another process grew the map) call cji_env_adopt_resize
 * and copy again. LMDB does not fsync (L11): the caller does. */
int cji_env_copy_once(cji_env *e, int fd);

/* Adopt the map size another process set (no transaction of this thread
 * may be open). */
void cji_env_adopt_resize(cji_env *e);

/* mdb_reader_check; returns the number of stale slots cleared or an error. */
int cji_env_reader_check(cji_env *e);

#endif
