/* bench/bench_append.c — the append benchmark: runs every measurement in a
 * fresh directory of one scratch tree (so baselines and chatjournal share the
 * disk and the moment), then derives the ratios the targets in
 * docs/performance.md ("Targets") are stated in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "append.h"
#include "chatjournal/chatjournal.h"
#include "measure.h"
#include "report.h"
#include "rounds.h"
#include "scratch.h"
#include "workload.h"

typedef enum kind { K_SEED, K_SEED_FTS, K_LMDB, K_SYNC, K_ASYNC, K_BATCH } kind;

typedef struct spec {
	const char *name;
	const char *what;
	kind k;
	unsigned threads;
	unsigned per_op;         /* records per txn, events per call */
	unsigned depth;          /* async: tickets in flight per thread */
	int journal_only;        /* the store does not project in this process */
} spec;

/* Run order = table order: each baseline sits next to the measurements it is
 * compared with, so a ratio's two figures are measured seconds apart. */
static const spec specs[] = {
	{ "seed", "SQLite WAL sync=FULL, autocommit INSERT/msg", K_SEED, 1, 1, 0, 0 },
	{ "seed_fts", "seed + thread upsert commit + FTS5 trigger", K_SEED_FTS, 1, 1, 0, 0 },
	{ "lmdb_raw_1", "raw LMDB durable, 1 record/txn", K_LMDB, 1, 1, 0, 0 },
	{ "sync_1", "cj_journal_append, 1 thread", K_SYNC, 1, 1, 0, 0 },
	{ "sync_1_j", "sync_1, journal alone (no projection here)", K_SYNC, 1, 1, 0, 1 },
	{ "sync_8", "cj_journal_append, 8 threads", K_SYNC, 8, 1, 0, 0 },
	{ "sync_32", "cj_journal_append, 32 threads", K_SYNC, 32, 1, 0, 0 },
	{ "lmdb_raw_1000", "raw LMDB durable, 1000 records/txn", K_LMDB, 1, 1000, 0, 0 },
	{ "async_4x64", "cj_journal_submit, 4 threads x 64 tickets", K_ASYNC, 4, 1, 64, 0 },
	{ "async_4x256", "cj_journal_submit, 4 threads x 256 tickets", K_ASYNC, 4, 1, 256, 0 },
	{ "async_4x256_j", "async_4x256, journal alone", K_ASYNC, 4, 1, 256, 1 },
	{ "batch_1", "cj_journal_append_batch 1000/call, 1 thread", K_BATCH, 1, 1000, 0, 0 },
	{ "batch_1_j", "batch_1, journal alone", K_BATCH, 1, 1000, 0, 1 },
	{ "batch_2", "cj_journal_append_batch 1000/call, 2 threads", K_BATCH, 2, 1000, 0, 0 },
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

/* How a ratio is computed from two measurements num and den. */
typedef enum rkind {
	R_EPS,    /* num events/s / den events/s */
	R_IDEAL,  /* num events/s / (num threads / den p50 commit time) */
	R_P50,    /* num p50 / den p50 */
} rkind;

typedef struct ratio_spec {
	const char *name, *what, *num, *den;
	rkind how;
	double target;           /* 0: informational, no target */
	int at_most;
} ratio_spec;

static const ratio_spec ratio_specs[] = {
	/* Calibration: what the sync ratios' definition gives LMDB itself (mean vs p50). */
	{ "lmdb_raw_1_vs_ideal", "lmdb_raw_1 ev/s / (1 / lmdb_raw_1 p50)", "lmdb_raw_1", "lmdb_raw_1", R_IDEAL, 0, 0 },
	{ "sync_1_vs_ideal", "sync_1 ev/s / (1 / lmdb_raw_1 p50)", "sync_1", "lmdb_raw_1", R_IDEAL, 0.8, 0 },
	{ "sync_8_vs_ideal", "sync_8 ev/s / (8 / lmdb_raw_1 p50)", "sync_8", "lmdb_raw_1", R_IDEAL, 0.8, 0 },
	{ "sync_32_vs_ideal", "sync_32 ev/s / (32 / lmdb_raw_1 p50)", "sync_32", "lmdb_raw_1", R_IDEAL, 0.8, 0 },
	{ "sync_1_p50_vs_commit_p50", "sync_1 p50 / lmdb_raw_1 p50", "sync_1", "lmdb_raw_1", R_P50, 1.3, 1 },
	{ "sync_1_j_p50_vs_commit_p50", "sync_1_j p50 / lmdb_raw_1 p50", "sync_1_j", "lmdb_raw_1", R_P50, 1.3, 1 },
	/* A lone synchronous writer against what a bot would write by hand. */
	{ "sync_1_vs_seed_fts", "sync_1 ev/s / seed_fts ev/s", "sync_1", "seed_fts", R_EPS, 1.0, 0 },
	{ "async_vs_seed", "async_4x64 ev/s / seed ev/s", "async_4x64", "seed", R_EPS, 100, 0 },
	{ "async_vs_lmdb_raw_1000", "async_4x64 ev/s / lmdb_raw_1000 ev/s", "async_4x64", "lmdb_raw_1000", R_EPS, 0, 0 },
	{ "async_256_vs_seed", "async_4x256 ev/s / seed ev/s", "async_4x256", "seed", R_EPS, 100, 0 },
	{ "async_256_vs_lmdb_raw_1000", "async_4x256 ev/s / lmdb_raw_1000 ev/s", "async_4x256", "lmdb_raw_1000", R_EPS, 0, 0 },
	{ "async_256_j_vs_lmdb_raw_1000", "async_4x256_j ev/s / lmdb_raw_1000 ev/s", "async_4x256_j", "lmdb_raw_1000", R_EPS, 0.6, 0 },
	{ "batch_1_vs_seed", "batch_1 ev/s / seed ev/s", "batch_1", "seed", R_EPS, 100, 0 },
	{ "batch_1_vs_lmdb_raw_1000", "batch_1 ev/s / lmdb_raw_1000 ev/s", "batch_1", "lmdb_raw_1000", R_EPS, 0, 0 },
	{ "batch_1_j_vs_lmdb_raw_1000", "batch_1_j ev/s / lmdb_raw_1000 ev/s", "batch_1_j", "lmdb_raw_1000", R_EPS, 0.6, 0 },
	{ "batch_2_vs_seed", "batch_2 ev/s / seed ev/s", "batch_2", "seed", R_EPS, 100, 0 },
	{ "batch_2_vs_lmdb_raw_1000", "batch_2 ev/s / lmdb_raw_1000 ev/s", "batch_2", "lmdb_raw_1000", R_EPS, 0, 0 },
	/* The same 100x target against docs/performance.md's fuller seed baseline (design figures). */
	{ "async_vs_seed_fts", "async_4x64 ev/s / seed_fts ev/s", "async_4x64", "seed_fts", R_EPS, 100, 0 },
	{ "batch_1_vs_seed_fts", "batch_1 ev/s / seed_fts ev/s", "batch_1", "seed_fts", R_EPS, 100, 0 },
};
#define NRATIOS (sizeof(ratio_specs) / sizeof(ratio_specs[0]))

void cjb_append_list(FILE *f)
{
	for (size_t i = 0; i < NSPECS; i++)
		fprintf(f, "  %-14s %s\n", specs[i].name, specs[i].what);
}

/* Is name in the comma-separated list? */
static int listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* Every name in --only must be a measurement: a typo would silently measure nothing. */
static int check_only(const char *list)
{
	char buf[256];
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		snprintf(buf, sizeof(buf), "%.*s", (int)(len < 200 ? len : 200), p);
		int found = 0;
		for (size_t i = 0; i < NSPECS; i++)
			found |= strcmp(specs[i].name, buf) == 0;
		if (!found) {
			fprintf(stderr, "chatjournal: bench: append: unknown measurement '%s' in --only\n", buf);
			return -1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static int measure(const spec *sp, const char *dir, const cjb_bounds *b, cjb_result *res)
{
	switch (sp->k) {
	case K_SEED:  return cjb_measure_seed(dir, 0, b, res);
	case K_SEED_FTS: return cjb_measure_seed(dir, 1, b, res);
	case K_LMDB:  return cjb_measure_lmdb_raw(dir, sp->per_op, b, res);
	case K_SYNC:  return cjb_measure_cj_sync(dir, sp->threads, sp->journal_only, b, res);
	case K_ASYNC: return cjb_measure_cj_async(dir, sp->threads, sp->depth, sp->journal_only, b, res);
	case K_BATCH: return cjb_measure_cj_batch(dir, sp->threads, sp->per_op, sp->journal_only, b, res);
	}
	return cjb_result_fail(res, "unknown measurement kind");
}

/* One measurement in its own fresh directory, removed afterwards so the disk
 * does not fill up over a run. */
static void run_one(const spec *sp, const char *scratch, const cjb_bounds *b, cjb_result *res)
{
	char dir[4096], err[512];
	res->ran = 1;
	if (cjb_scratch_sub(dir, sizeof(dir), scratch, sp->name, err, sizeof(err)) != 0) {
		cjb_result_fail(res, "%s", err);
		return;
	}
	cjb_scratch_settle(scratch);
	measure(sp, dir, b, res);
	cjb_scratch_remove(dir);
}

static const cjb_result *find(const cjb_result *res, const char *name)
{
	for (size_t i = 0; i < NSPECS; i++)
		if (strcmp(res[i].name, name) == 0 && res[i].ran && !res[i].failed && res[i].events)
			return &res[i];
	return NULL;
}

/* The ratio within one round (figures measured minutes apart would carry the
 * disk's mood into the ratio); 0 and *ok = 0 if a figure is missing. */
static double ratio_in(const ratio_spec *rs, const cjb_result *res, int *ok)
{
	const cjb_result *num = find(res, rs->num), *den = find(res, rs->den);
	*ok = 0;
	if (!num || !den)
		return 0;
	switch (rs->how) {
	case R_EPS:
		*ok = den->events_per_s > 0;
		return *ok ? num->events_per_s / den->events_per_s : 0;
	case R_IDEAL:   /* ideal: every writer gets one event into every durable commit */
		*ok = den->has_latency && den->p50_us > 0;
		return *ok ? num->events_per_s / (num->threads / (den->p50_us / 1e6)) : 0;
	case R_P50:
		*ok = num->has_latency && den->has_latency && den->p50_us > 0;
		return *ok ? num->p50_us / den->p50_us : 0;
	}
	return 0;
}

/* The ratio's value is the median of its per-round values. */
static void compute_ratio(const ratio_spec *rs, const cjb_result *rounds, unsigned nrounds,
                          cjb_ratio *q)
{
	*q = (cjb_ratio){ .name = rs->name, .what = rs->what, .target = rs->target,
	                  .at_most = rs->at_most };
	double v[CJB_MAX_ROUNDS];
	for (unsigned r = 0; r < nrounds; r++) {
		int ok;
		double x = ratio_in(rs, rounds + (size_t)r * NSPECS, &ok);
		if (ok)
			q->round_values[q->nrounds++] = x;
	}
	if (!q->nrounds)
		return;
	memcpy(v, q->round_values, q->nrounds * sizeof(*v));
	q->has_value = 1;
	q->value = cjb_median(v, q->nrounds);
	q->pass = rs->at_most ? q->value <= rs->target : q->value >= rs->target;
}

/* Average JSON size of the messages the measurements write. */
static double message_json_bytes(void)
{
	char buf[1024];
	size_t total = 0;
	for (unsigned i = 0; i < 1000; i++) {
		cjb_msg m;
		cjb_msg_fill(&m, i % 4, i);
		total += cjb_msg_json(&m, buf, sizeof(buf));
	}
	return (double)total / 1000;
}

static void fill_info(cjb_run_info *in, const cjb_config *cfg, const char *scratch)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(in->date, sizeof(in->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	in->benchmark = "append";
	in->version = cj_version();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	in->cpus = cpus > 0 ? (unsigned)cpus : 0;
	in->scratch = scratch;
	in->fstype = cjb_scratch_fstype(scratch);
	in->seconds = cfg->seconds;
	in->events = (unsigned long long)cfg->events;
	in->quick = cfg->quick;
	in->rounds = cfg->rounds;
	in->message_json_bytes = message_json_bytes();
	in->record_bytes = CJB_RECORD_BYTES;
}

static int report(const cjb_config *cfg, cjb_report *rep)
{
	if (!cfg->json) {
		cjb_report_text(stdout, rep);
		return 0;
	}
	if (cjb_report_json(stdout, rep) != 0) {
		fprintf(stderr, "chatjournal: bench: append: cannot build JSON output\n");
		return -1;
	}
	return 0;
}

/* Every round runs every selected measurement once, in table order. */
static int run_rounds(const cjb_config *cfg, const char *scratch, cjb_result *rounds)
{
	cjb_bounds b = { cfg->seconds, cfg->events };
	int failed = 0;
	for (unsigned r = 0; r < cfg->rounds; r++)
		for (size_t i = 0; i < NSPECS; i++) {
			cjb_result *res = &rounds[(size_t)r * NSPECS + i];
			*res = (cjb_result){ .name = specs[i].name, .what = specs[i].what,
			                     .threads = specs[i].threads, .per_op = specs[i].per_op };
			if (cfg->only && !listed(cfg->only, specs[i].name))
				continue;
			if (isatty(STDOUT_FILENO) && isatty(STDERR_FILENO))
				fprintf(stderr, "round %u/%u: %-14s %s ...\n", r + 1, cfg->rounds,
				        specs[i].name, specs[i].what);
			run_one(&specs[i], scratch, &b, res);
			failed |= res->failed;
		}
	return failed;
}

static void combine(const cjb_result *rounds, unsigned nrounds, cjb_result *out)
{
	for (size_t i = 0; i < NSPECS; i++) {
		const cjb_result *per[CJB_MAX_ROUNDS];
		for (unsigned r = 0; r < nrounds; r++)
			per[r] = &rounds[(size_t)r * NSPECS + i];
		out[i] = (cjb_result){ .name = specs[i].name, .what = specs[i].what,
		                       .threads = specs[i].threads, .per_op = specs[i].per_op };
		cjb_rounds_combine(per, nrounds, &out[i]);
	}
}

int cjb_append_main(const cjb_config *cfg)
{
	char scratch[4096], err[512];
	if (cfg->only && check_only(cfg->only) != 0)
		return 2;
	if (cfg->rounds < 1 || cfg->rounds > CJB_MAX_ROUNDS) {
		fprintf(stderr, "chatjournal: bench: append: rounds must be 1..%d\n", CJB_MAX_ROUNDS);
		return 2;
	}
	if (cjb_scratch_new(scratch, sizeof(scratch), cfg->dir, err, sizeof(err)) != 0) {
		fprintf(stderr, "chatjournal: bench: append: %s\n", err);
		return 1;
	}
	cjb_report rep = { .nres = NSPECS, .nratios = NRATIOS };
	fill_info(&rep.info, cfg, scratch);
	if (strcmp(rep.info.fstype, "tmpfs") == 0)
		fprintf(stderr, "chatjournal: bench: append: warning: %s is on tmpfs, where fsync "
		        "costs nothing; use --dir on a real disk\n", scratch);
	cjb_result *rounds = calloc((size_t)cfg->rounds * NSPECS, sizeof(*rounds));
	cjb_result res[NSPECS];
	if (!rounds) {
		fprintf(stderr, "chatjournal: bench: append: out of memory\n");
		cjb_scratch_remove(scratch);
		return 1;
	}
	cjb_ratio ratios[NRATIOS];
	uint64_t t0 = cjb_now_ns();
	int failed = run_rounds(cfg, scratch, rounds);
	rep.info.total_seconds = (double)(cjb_now_ns() - t0) / 1e9;
	combine(rounds, cfg->rounds, res);
	for (size_t i = 0; i < NRATIOS; i++)
		compute_ratio(&ratio_specs[i], rounds, cfg->rounds, &ratios[i]);
	rep.res = res;
	rep.ratios = ratios;
	int rc = report(cfg, &rep);
	free(rounds);
	cjb_scratch_remove(scratch);
	return failed || rc != 0 ? 1 : 0;
}
