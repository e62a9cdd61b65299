/* bench/report.h — what a benchmark run prints: a readable table, or with
 * --json one JSON object holding every figure and ratio (docs/cli.md, "bench"). */
#ifndef CJB_REPORT_H
#define CJB_REPORT_H

#include <stdio.h>
#include "harness.h"

/* A ratio between two figures of the same run, with its target. */
typedef struct cjb_ratio {
	const char *name;        /* JSON key */
	const char *what;        /* how it is computed, for the table */
	double target;
	int at_most;             /* 1: pass if value <= target; 0: value >= target */
	int has_value;           /* both figures were measured */
	double value;
	int pass;
	unsigned nrounds;        /* the value is the median of the rounds' values */
	double round_values[CJB_MAX_ROUNDS];
} cjb_ratio;

/* The run's context, printed above the figures. */
typedef struct cjb_run_info {
	const char *benchmark;   /* "append" */
	const char *version;     /* library version */
	char date[32];           /* UTC, ISO 8601 */
	unsigned cpus;
	const char *scratch;
	const char *fstype;
	double seconds;          /* time bound per measurement; 0: none */
	unsigned long long events; /* event bound per measurement; 0: none */
	int quick;
	unsigned rounds;
	double message_json_bytes;
	unsigned record_bytes;
	double total_seconds;
} cjb_run_info;

typedef struct cjb_report {
	cjb_run_info info;
	const cjb_result *res;
	size_t nres;
	const cjb_ratio *ratios;
	size_t nratios;
} cjb_report;

void cjb_report_text(FILE *f, const cjb_report *r);
/* 0, or -1 if the JSON could not be built (out of memory). */
int cjb_report_json(FILE *f, const cjb_report *r);

#endif
