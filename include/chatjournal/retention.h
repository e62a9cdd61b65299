/* chatjournal/retention.h — removing old data on purpose: one purge now, and
 * the store's retention rules applied as of a given time.
 *
 * Both append ordinary journal events (purge, delete_thread), so a replay
 * reproduces their effect; the projection applies them like any event.
 * Their text stays in the journal file until compaction redacts it (see
 * docs/operations.md). Thread-safe on one cj_store.
 */
#ifndef CHATJOURNAL_RETENTION_H
#define CHATJOURNAL_RETENTION_H

#include <stdint.h>
#include "error.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a purge removes (bits; 0 means all three). */
#define CJ_PURGE_MESSAGES 1u   /* messages, their costs and FTS rows */
#define CJ_PURGE_IMAGES   2u   /* image rows (and blobs no image names any more) */
#define CJ_PURGE_METRICS  4u   /* metrics: only an unscoped purge (they have no scope) */

#define CJ_PURGE_OPTIONS_VERSION 1
typedef struct cj_purge_options {
	unsigned version;          /* CJ_PURGE_OPTIONS_VERSION */
	int64_t before_ms;         /* rows whose time is before this go (ms since the epoch) */
	const char *thread;        /* scope: one thread (NULL: every thread) */
	const char *user;          /* scope: one user's messages (images have no user: kept) */
	const char *server;        /* scope: one server */
	unsigned kinds;            /* CJ_PURGE_* bits; 0: all three */
	int dry_run;               /* count what would go, append nothing */
} cj_purge_options;
#define CJ_PURGE_OPTIONS_INIT { CJ_PURGE_OPTIONS_VERSION, 0, NULL, NULL, NULL, 0, 0 }

typedef struct cj_purge_report {
	uint64_t seq;              /* the purge event's sequence number (0: dry run) */
	uint64_t messages, images, metrics;  /* rows it removes, counted on the projection
	                                        just before (at its position: it may lag) */
} cj_purge_report;

/* Append a purge event (durable when this returns) — or, with dry_run, only
 * count. Errors: CJ_EINVAL (before_ms < 0 or a field, named), CJ_EPERM
 * (read-only handle, unless dry_run), the append's errors. */
CJ_API int cj_purge(cj_purge_report *out, cj_store *s, const cj_purge_options *o);

/* The store's retention rules (chatjournal.conf "retention": messages_days,
 * inactive_threads_days, metrics_days; 0 or absent: off) applied as of
 * now_ms: messages and images older than messages_days go (a purge event),
 * metrics older than metrics_days (another), and every thread idle for
 * inactive_threads_days is deleted (a delete_thread event each). Nothing is
 * appended for a rule that would remove nothing. Retention is off unless
 * configured. The clock is the caller's, so tests can move it. */
typedef struct cj_retention_report {
	uint64_t purges;           /* purge events appended */
	uint64_t threads_deleted;  /* delete_thread events appended */
	uint64_t messages, images, metrics;  /* rows the purges remove */
	uint64_t last_seq;         /* the last event appended (0: none) */
} cj_retention_report;
CJ_API int cj_retention_apply(cj_retention_report *out, cj_store *s, int64_t now_ms);

#ifdef __cplusplus
}
#endif
#endif
