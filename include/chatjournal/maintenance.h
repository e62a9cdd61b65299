/* chatjournal/maintenance.h — the store's housekeeping on a schedule:
 * retention rules (at start and daily), compaction (every
 * compaction.interval_seconds, and whenever the redactable bytes pass
 * compaction.threshold_bytes) and backups (every backup_every_ms, each
 * followed by a prune to retention.backup_keep_days). This is what
 * `chatjournal serve` runs; embedded users may run it too, or call
 * cj_retention_apply, cj_compact and cj_backup themselves.
 *
 * When several processes open one store, only the one that holds the
 * materializer lock (cj_health.materializing) does anything: the others'
 * passes find nothing due. When each task last ran is kept in the store's
 * folder (maintenance.json, mode 0600), so a restarted server does not
 * compact or back up again at once, nor postpone a daily task for ever.
 * See docs/operations.md, "Scheduled maintenance". */
#ifndef CHATJOURNAL_MAINTENANCE_H
#define CHATJOURNAL_MAINTENANCE_H

#include <stdint.h>
#include "error.h"
#include "store.h"
#include "retention.h"
#include "compact.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CJ_MAINTENANCE_OPTIONS_VERSION 1
typedef struct cj_maintenance_options {
	unsigned version;          /* CJ_MAINTENANCE_OPTIONS_VERSION */
	int64_t backup_every_ms;   /* take a backup this often (0: no scheduled backups) */
	const char *backup_dir;    /* where (NULL: STORE/backups) */
	int no_retention;          /* 1: never apply the retention rules */
	int no_compaction;         /* 1: never compact */
	unsigned tick_ms;          /* cj_maintenance_start's thread looks this often
	                              (default 30000) */
	unsigned pending_every_ms; /* how often to measure the redactable bytes
	                              (cj_compact_pending; default 300000) */
	/* A line for the operator about each task done or failed ("retention: ...",
	 * "compaction: ...", "backup: ..."); may be NULL. Called on the thread that
	 * runs the pass; never holds a lock of the store. */
	void (*log)(void *arg, const char *line);
	void *log_arg;
} cj_maintenance_options;
#define CJ_MAINTENANCE_OPTIONS_INIT \
	{ CJ_MAINTENANCE_OPTIONS_VERSION, 0, NULL, 0, 0, 0, 0, NULL, NULL }

typedef struct cj_maintenance cj_maintenance;

/* What one pass did. */
typedef struct cj_maintenance_report {
	int holder;                /* 1: this process holds the materializer lock */
	int retention_ran;         /* 1: the retention rules were applied (retention) */
	cj_retention_report retention;
	int pending_measured;      /* 1: pending_bytes was measured in this pass */
	uint64_t pending_bytes;    /* redactable bytes, when measured */
	int compaction_ran;        /* 1: compacted (compaction) */
	cj_compact_report compaction;
	int backup_ran;            /* 1: a backup was taken (backup_path) and pruned */
	char backup_path[1024];
	unsigned backups_pruned;
	unsigned errors;           /* tasks that failed in this pass (each logged; they are tried
	                              again at the next pass that finds them due) */
} cj_maintenance_report;

/* A maintenance schedule for s (opened read-write; CJ_EPERM otherwise).
 * Nothing runs until cj_maintenance_run or cj_maintenance_start. opts may be
 * NULL (no backups; retention and compaction on). backup_dir is copied. */
CJ_API int cj_maintenance_new(cj_maintenance **out, cj_store *s,
                              const cj_maintenance_options *opts);

/* One pass at time now_ms (ms since the epoch; the caller's clock, so tests
 * can move it): does every task that is due, in the order retention,
 * compaction, backup, and records when each ran. The first pass of a
 * schedule applies retention whatever the time (the rules may have changed
 * while nothing ran). A failed task does not stop the others; the pass
 * returns 0 unless the schedule itself failed (its state file), and
 * out->errors counts the tasks that failed. out may be NULL. Not
 * thread-safe against another pass of the same schedule. */
CJ_API int cj_maintenance_run(cj_maintenance_report *out, cj_maintenance *m, int64_t now_ms);

/* A thread that runs a pass every tick_ms with the wall clock, the first at
 * once. Errors: CJ_EBUSY (already started), CJ_ENOMEM. */
CJ_API int cj_maintenance_start(cj_maintenance *m);

/* Stop the thread (waiting for a pass in progress: a compaction or backup
 * may take a while) and free. Accepts NULL. Call before cj_store_close. */
CJ_API void cj_maintenance_free(cj_maintenance *m);

#ifdef __cplusplus
}
#endif
#endif
