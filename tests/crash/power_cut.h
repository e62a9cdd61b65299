/* tests/crash/power_cut.h — the parent's side of the power-loss simulation:
 * keep a copy of a folder's files, then, from the log the shim
 * (power_shim.c) wrote while a child used them, rebuild them as a power loss
 * at the moment of the child's death would leave them.
 *
 * The model (docs/testing.md, crash/power): a file's content after the power
 * loss is its content at the start (the copy), plus every write and size
 * change that was durable, in log order. A write is durable when it was
 * confirmed before a sync of its file (fsync or fdatasync, or sync/syncfs)
 * began and that sync was confirmed, or when it was made through an O_DSYNC
 * or O_SYNC descriptor and confirmed. A file created during the cycle
 * survives only if its folder was synced after its creation (POSIX: a new
 * name is durable once its directory is). Mappings are not seen: a file
 * written only through a shared mapping (LMDB's lock file, SQLite's -shm)
 * comes back as it was at the start, as after a real power loss in which
 * those pages never reached the disk.
 *
 * The torn variant adds what might have reached the disk anyway: for each
 * 4096-byte page that writes not yet durable touched, the page holds the
 * durable content plus the first c of those writes (in log order), c drawn
 * from 0..count (the page was written back last at some moment, with what the
 * page cache held then); a size change not yet durable happens or not (1/2);
 * a new file whose folder was not synced exists or not (1/2).
 * Not modelled: tearing inside a 4096-byte page, and the reordering of a
 * page's versions (a page never goes back to an older unsynced version).
 *
 * Plain C; no cmocka. */
#ifndef CJ_TESTS_CRASH_POWER_CUT_H
#define CJ_TESTS_CRASH_POWER_CUT_H

#include <stddef.h>
#include <stdint.h>

#define PW_PAGE 4096u

#define PW_MAX_FILES 16

/* What happened to one file (of the first PW_MAX_FILES files rebuilt). */
typedef struct pw_file_stat {
	char rel[64];                 /* relative to the watched folder */
	uint64_t writes, write_bytes; /* PW_WRITE records and their bytes */
	uint64_t durable_writes;
	uint64_t syncs;               /* confirmed fsync/fdatasync of this file */
	int created, dropped;         /* created in the cycle; removed again by the cut */
} pw_file_stat;

typedef struct pw_stats {
	uint64_t log_bytes, records;
	int cut_record;               /* the log's last record was cut short by the kill */
	uint64_t writes;              /* PW_WRITE records */
	uint64_t durable_writes;      /* ... that survive */
	uint64_t dsync_writes;        /* ... made through an O_DSYNC/O_SYNC descriptor */
	uint64_t unsynced_writes;     /* ... not durable at the kill */
	uint64_t syncs;               /* PW_SYNC records confirmed (weak ones excluded) */
	uint64_t torn_pages;          /* torn variant: pages holding some unsynced write */
	uint64_t torn_pieces;         /* torn variant: unsynced page pieces applied */
	uint64_t files, created, dropped; /* files rebuilt; created in the cycle; removed again */
	pw_file_stat file[PW_MAX_FILES];
	unsigned nfiles;
} pw_stats;

/* Copy every folder and regular file under dir (recursively) to the same
 * relative path under snap, which is emptied first: the copy a cycle starts
 * from, or (the other way round) the store put back as the cycle found it.
 * 0, or -1 with a message in why. */
int pw_copy(const char *dir, const char *snap, char *why, size_t whyn);

/* Rebuild every file under dir from its copy under snap and the log, as a
 * power loss at the log's end would leave it (torn: the torn variant, drawing
 * from *rng). dir must be the folder the shim watched (the same absolute
 * path). Refuses (-1 and why) a log that holds a call the model does not
 * cover, a file that appeared or vanished outside the shim's sight, or a
 * damaged log. 0 on success. */
int pw_cut(const char *dir, const char *snap, const char *log, int torn, uint64_t *rng,
           pw_stats *st, char *why, size_t whyn);

/* The statistics of the file rel in st, or NULL. */
const pw_file_stat *pw_file(const pw_stats *st, const char *rel);

#endif
