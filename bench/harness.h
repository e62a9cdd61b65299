/* bench/harness.h — runs one measurement: N worker threads released together,
 * each claiming work until a time bound or an event budget runs out, then the
 * figures (events/s, latency percentiles, CPU per event) of that run. */
#ifndef CJB_HARNESS_H
#define CJB_HARNESS_H

#include <stdatomic.h>
#include <stdint.h>
#include "stats.h"

/* Most rounds a run may have (--rounds). */
#define CJB_MAX_ROUNDS 15

/* When a measurement stops: whichever bound comes first; 0 means unbounded
 * (at least one of the two is set). */
typedef struct cjb_bounds {
	double seconds;
	uint64_t events;
} cjb_bounds;

/* Figures of one measurement. Latencies are per operation (one insert, one
 * transaction, one append call), in microseconds. */
typedef struct cjb_result {
	const char *name;        /* key in the JSON output, e.g. "sync_8" */
	const char *what;        /* one line for the table */
	unsigned threads;
	unsigned per_op;         /* events per operation (transaction, call, ticket) */
	int ran;                 /* measured (not skipped by --only) */
	int failed;
	char error[320];
	uint64_t events;         /* durable events */
	uint64_t ops;
	double seconds;
	double events_per_s;
	int has_latency;
	double p50_us, p99_us;
	double cpu_us_per_event; /* process CPU time (all threads) per event */
	int has_journal;         /* chatjournal measurements: group-commit figures */
	uint64_t commits;
	uint64_t map_growths;
	double events_per_commit;
	double journal_bytes_per_event; /* LMDB map in use / events: record + tree overhead */
	int has_projection;      /* the store's materializer figures at the end */
	uint64_t projected;      /* events the projection had applied when the clock stopped */
	unsigned nrounds;        /* combined results: events/s of each round */
	double round_eps[CJB_MAX_ROUNDS];
} cjb_result;

typedef struct cjb_run cjb_run;

/* One worker thread's state, handed to the measurement's work function. */
typedef struct cjb_worker {
	unsigned index;          /* 0 .. threads-1 */
	void *ctx;               /* the measurement's shared context */
	cjb_run *run;
	cjb_samples lat;         /* latency of each operation, ns */
	uint64_t events;         /* events this worker saw made durable */
	uint64_t ops;
	uint64_t end_ns;
	int failed;
	char error[320];
} cjb_worker;

/* The body of a worker: loop on cjb_claim, do the work, count it; return 0,
 * or call cjb_fail and return -1. */
typedef int (*cjb_work_fn)(cjb_worker *w);

/* May this worker do up to want more events? Returns how many it may do
 * (<= want), 0 once the time bound passed, the budget is spent or another
 * worker failed. */
uint64_t cjb_claim(cjb_worker *w, uint64_t want);

/* Record a failure (printf-style) and stop every worker; returns -1. */
int cjb_fail(cjb_worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Record one completed operation of n events that took ns. 0 or -1 (ENOMEM). */
int cjb_done(cjb_worker *w, uint64_t n, uint64_t ns);

/* Count n completed events without a latency sample (when the time of one
 * operation cannot be observed exactly, e.g. pipelined tickets). */
void cjb_count(cjb_worker *w, uint64_t n);

/* Run fn on `threads` threads, all started at once, and fill res (events,
 * ops, seconds, events_per_s, latencies, cpu, failed/error). Returns 0, or -1
 * if a worker failed or the harness could not start. */
int cjb_run_workers(unsigned threads, cjb_work_fn fn, void *ctx,
                    const cjb_bounds *b, cjb_result *res);

/* Mark res failed with a printf-style message; returns -1. */
int cjb_result_fail(cjb_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
