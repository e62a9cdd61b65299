/* chatjournal/compact.h — deletions that delete: compaction.
 *
 * A deletion event (delete_thread, clear_history, purge) removes rows from
 * the projection at once, but the journal, SQLite's free pages and FTS5's
 * segments still hold the bytes. cj_compact makes them go:
 *   1. every journal record whose content a materialized deletion removed
 *      (messages, images) and every sensitive setting becomes a REDACTED
 *      tombstone (sequence, type, ids, time kept; content gone), committed
 *      through the writer in batches, between appends;
 *   2. blobs that only deleted images named are deleted;
 *   3. the journal is rewritten by a compacting copy and swapped in
 *      atomically; every process that has the store open follows the swap;
 *   4. the projection is scrubbed by the process that materializes it:
 *      FTS5 optimize, then VACUUM INTO a new file that replaces chat.sqlite
 *      (its old -wal and -shm removed); readers of the store's handles
 *      follow, a connection opened on the old file by hand keeps reading
 *      it. In the compacting process it runs beside steps 1-3.
 * docs/operations.md says what is erased, when, and what backups keep.
 */
#ifndef CHATJOURNAL_COMPACT_H
#define CHATJOURNAL_COMPACT_H

#include <stdint.h>
#include "error.h"
#include "store.h"
#include "query.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CJ_COMPACT_OPTIONS_VERSION 1
typedef struct cj_compact_options {
	unsigned version;          /* CJ_COMPACT_OPTIONS_VERSION */
	int dry_run;               /* count what would be redacted; change nothing */
	unsigned batch;            /* records per redaction commit (default 1000) */
	int wait_ms;               /* how long to wait for the projection to catch up with the
	                              journal first, and for its scrub (default 600000) */
	cj_progress_fn progress;   /* may be NULL: (records scanned, position) now and then */
	void *progress_arg;
} cj_compact_options;
#define CJ_COMPACT_OPTIONS_INIT { CJ_COMPACT_OPTIONS_VERSION, 0, 0, 0, NULL, NULL }

typedef struct cj_compact_report {
	uint64_t position;          /* the projection position the decisions were taken at */
	uint64_t messages;          /* records redacted (dry run: that would be) */
	uint64_t images;
	uint64_t settings;
	uint64_t record_bytes_before; /* those records' sizes before and after (dry run: 0 after) */
	uint64_t record_bytes_after;
	uint64_t blobs;             /* blobs deleted (dry run: candidates) */
	uint64_t blob_bytes;
	uint64_t damaged;           /* unreadable records left as they are */
	uint64_t file_before;       /* journal/data.mdb on disk before and after */
	uint64_t file_after;
	uint64_t projection_before; /* chat.sqlite plus its WAL before and after */
	uint64_t projection_after;
	uint64_t pause_ms;          /* how long appends waited for the copy and swap */
	uint64_t plan_ms;           /* where the time went: deciding (projection snapshot and
	                               a pass over the record headers), */
	uint64_t redact_ms;         /* writing tombstones and deleting blobs, */
	uint64_t swap_ms;           /* the compacting copy and the swap, */
	uint64_t scrub_ms;          /* the projection's scrub (this process only; it
	                               runs beside the steps above, so it overlaps them) */
	int projection_scrubbed;    /* 1: scrubbed by this process; 0: another process
	                               materializes and scrubs when it sees the swap */
	double seconds;
	/* 0.3 */
	uint64_t edits;             /* superseded or deleted texts of edited messages redacted:
	                               edit_message records, and originals of edited messages
	                               (partial tombstones, CJ_RECORD_PARTIAL) */
} cj_compact_report;

/* Compact the store (opened read-write). One compaction at a time per store
 * (CJ_EBUSY otherwise). Appends go on meanwhile; they wait only while the
 * journal is copied and swapped (pause_ms). Errors: CJ_EPERM (read-only
 * handle), CJ_EBUSY, CJ_EIO/CJ_ENOSPC (nothing half-done: the journal is
 * either the old or the new file; run it again). opts NULL: the defaults. */
CJ_API int cj_compact(cj_compact_report *out, cj_store *s, const cj_compact_options *opts);

/* Redactable bytes now (records a deletion emptied and sensitive settings,
 * not redacted yet, plus blobs only deleted images named), for a scheduler.
 * One pass over the record headers and the projection's row ids: about
 * 1 s per million events (docs/performance.md, "bench compact"): call it
 * every few minutes, not per request. Works read-only too. */
CJ_API int cj_compact_pending(uint64_t *bytes_out, uint64_t *records_out, cj_store *s);

/* When `serve` should compact on its own (chatjournal.conf "compaction"):
 * every interval_s seconds, and whenever cj_compact_pending passes
 * threshold_bytes. 0 disables that trigger. */
typedef struct cj_compact_schedule {
	uint64_t interval_s;        /* compaction.interval_seconds, default 86400 */
	uint64_t threshold_bytes;   /* compaction.threshold_bytes, default 64 MiB */
} cj_compact_schedule;
CJ_API int cj_compact_schedule_get(cj_compact_schedule *out, const cj_store *s);

#ifdef __cplusplus
}
#endif
#endif
