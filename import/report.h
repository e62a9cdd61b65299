/* import/report.h — the counts of one import: per file and per kind,
 * seen / imported / present / skipped, the skip reasons (each with a count
 * and the first places it occurred) and the report as JSON. */
#ifndef CJ_IMPORT_REPORT_H
#define CJ_IMPORT_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Kinds are the event types (cj_event_type, 1..15) plus 0: a source item
 * that never became an event (an element not understood, over the cap). */
#define RP_KINDS 16

enum rp_outcome { RP_IMPORTED, RP_PRESENT, RP_SKIPPED, RP_OUTCOMES };

typedef struct rp_counts {
	uint64_t seen, n[RP_OUTCOMES];
} rp_counts;

typedef struct rp_file {
	char *name;
	rp_counts kind[RP_KINDS];
} rp_file;

typedef struct rp_reason {
	char *text;
	uint64_t count;
} rp_reason;

#define RP_MAX_EXAMPLES 100
#define RP_MAX_REASONS 200

typedef struct report {
	rp_file *files;
	size_t nfiles, cap;
	rp_reason *reasons;
	size_t nreasons;
	uint64_t other_reasons;    /* skips past RP_MAX_REASONS distinct reasons */
	json_t *examples;          /* [{file, line, byte, kind, reason}] */
	uint64_t edits, deletes, retention_dropped;
} report;

void rp_init(report *r);
void rp_free(report *r);
/* Clear the counts (the files stay named). */
void rp_reset(report *r);
/* The index of the file named name (added if new): >= 0, or -1 (ENOMEM). */
long rp_file_index(report *r, const char *name);
void rp_count(report *r, long file, int kind, int outcome);
void rp_seen(report *r, long file, int kind);
/* One event counted `from` becomes `to` (an append from the plan's kept
 * events finds an event a concurrent writer stored first). */
void rp_move(report *r, long file, int kind, int from, int to);
/* Clear one file's counts (its skip reasons stay). */
void rp_reset_file(report *r, long file);
void rp_skip(report *r, long file, int kind, uint64_t line, uint64_t byte, const char *reason);
/* Totals over files of one outcome (-1: seen), of one kind (-1: all). */
uint64_t rp_total(const report *r, int kind, int outcome);
/* The report object; the caller adds its own keys (format, path, ...). */
json_t *rp_json(const report *r);

#endif
