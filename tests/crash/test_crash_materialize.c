/* tests/crash/test_crash_materialize.c — kill -9 during materialization,
 * hundreds of times (docs/reliability.md, P2: every journal event applied to
 * the projection exactly once, in order, with no gap, across any number of
 * crashes), and its negative control.
 *
 * A store is set up whose journal already holds 20,000 events (messages in 40
 * threads, images, settings, metrics, deletions of threads) and whose
 * projection is still empty. Each cycle forks a child that opens the store
 * read-write, so that its materializer catches up in batches, and (in six
 * cycles out of seven) appends up to 600 more events, mostly in batches of
 * 1-10 (so that the materializer commits every few ms); the child
 * reports its open ("R") and every projection position it sees committed
 * ("P"). The parent sends SIGKILL a random 1-40 ms after the child's first
 * committed batch of the cycle (every 10th cycle instead 0-40 ms after fork,
 * during open; every 10th, offset 5, 1-300 ms after open, anywhere inside a
 * large batch), then reads the new journal records and checks the projection
 * with its own SQLite connections:
 *   - journal_position <= the journal's last seq, and >= every position the
 *     child saw committed (a committed batch is never lost);
 *   - for the position P, every table holds exactly what events 1..P say:
 *     messages and images (seq, thread, text) are the events <= P not removed
 *     by a later delete_thread <= P, nothing missing (no gap), nothing beyond P;
 *     threads and their message_count; settings (value and seq of the last
 *     setting <= P per key); config_changes and metrics (one row per event);
 *   - FTS: the rows and tokens FTS5 counts (its "averages" record) and the
 *     fts5vocab 'instance' count of messages_fts and images_fts match the
 *     live rows (a row indexed twice or not at all changes them: a second
 *     entry with the same text is invisible to MATCH, fts5vocab and FTS5's
 *     integrity-check, but not to the averages); sampled unique words MATCH
 *     exactly once (live rows), never (deleted rows, rows beyond P);
 *   - PRAGMA quick_check is ok; FTS5 'integrity-check' of both FTS tables
 *     passes (on a read-write connection opened while no child runs, with
 *     SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE so that it changes nothing).
 * After the loop the store is opened read-write, the projection catches up to
 * the last seq, and its state hash equals the hash of a fresh replay.
 *
 * A fresh store (with a fresh backlog) every 25 cycles: each store sees the
 * catch-up in large time-bounded batches first, then small batches.
 *
 * The negative control runs the same loop (backlog 1,000 events) with
 * children that call cji_mat_set_split_position (rows and position commit in
 * two transactions, with a 2 ms gap between them in the library's test-only
 * branch): the checker must report a violation within its cycles, else it
 * could not see one. It stops at the first violation.
 *
 * Env: CJ_CRASH_CYCLES (default 300; 150 under AddressSanitizer),
 * CJ_CRASH_CONTROL_CYCLES (default 200: most cycles the control may take to
 * detect; it usually needs 1-10 plain, up to ~40 under ASan),
 * CJ_CRASH_MAT_EVENTS (events in the journal of each fresh store, default
 * 20000; 5000 under AddressSanitizer, where applying is ~5x slower),
 * CJ_CRASH_SEED (default: from the clock; printed), CJ_CRASH_DEBUG (one line
 * per cycle on stderr). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "projection_check.h"
#include "testutil.h"
/* The negative control switches the materializer to split commits; nothing
 * else in this file reaches inside the store. */
#include "api/store_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define CYCLES_PER_STORE 25   /* a fresh store (and a fresh 20k backlog) every 25 cycles */
#define CHILD_MAX_EVENTS 600  /* most events one child appends */
#define CHILD_MAX_BATCH 200

/* The workload, the model of the journal and the projection checker live in
 * projection_check.[ch], shared with crash/power. */

/* ---- the child ---- */

typedef struct appender {
	cj_store *s;
	unsigned cycle;
	uint64_t rng;
	int fd;
} appender;

static void *child_appender(void *arg)
{
	appender *a = arg;
	char tag[32];
	snprintf(tag, sizeof tag, "c%u", a->cycle);
	for (unsigned k = 0; k < CHILD_MAX_EVENTS;) {
		uint64_t r = tu_rand(&a->rng);
		/* Mostly small batches (one materializer batch each, a commit every
		 * few ms), now and then a larger one. */
		unsigned pick = (unsigned)(r % 100);
		unsigned n = pick < 55 ? 1 : pick < 95 ? 2 + (unsigned)((r >> 8) % 9)
		                                       : 20 + (unsigned)((r >> 8) % (CHILD_MAX_BATCH - 19));
		if (n > CHILD_MAX_EVENTS - k)
			n = CHILD_MAX_EVENTS - k;
		int rc = pc_append_events(a->s, tag, k, n, &a->rng);
		if (rc) {
			ch_sayf(a->fd, "F %d %.200s\n", rc, cj_error_last());
			return NULL;
		}
		k += n;
	}
	return NULL;
}

typedef struct child_args {
	const char *store;
	unsigned cycle;
	int appends;         /* start an appender thread */
	int split;           /* negative control: split commits */
	uint64_t seed;       /* the appender's */
} child_args;

static void child_main(void *arg, int fd)
{
	const child_args *a = arg;
	cj_store *s = NULL;
	int rc = cj_store_open(&s, a->store, NULL);
	if (rc != 0) {
		ch_sayf(fd, "E %d %.200s\n", rc, cj_error_last());
		_exit(3);
	}
	if (a->split)
		cji_mat_set_split_position(s->mat, 1);
	uint64_t pos = 0, last = 0;
	if (cj_projection_position(&pos, s) || cj_journal_last_seq(&last, s))
		_exit(6);
	ch_sayf(fd, "R %llu %llu\n", (unsigned long long)pos, (unsigned long long)last);
	appender app = {s, a->cycle, a->seed | 1, fd};
	pthread_t tid;
	if (a->appends && pthread_create(&tid, NULL, child_appender, &app) != 0)
		_exit(8);
	/* Report every committed position; and a materializer error, once. */
	int said_error = 0;
	for (;;) {
		cj_wait_applied(s, pos + 1, 100);
		uint64_t now = 0;
		if (cj_projection_position(&now, s))
			_exit(6);
		if (now > pos) {
			pos = now;
			ch_sayf(fd, "P %llu\n", (unsigned long long)pos);
		}
		char err[512];
		cji_mat_error(s->mat, err, sizeof err);
		if (err[0] && !said_error) {
			ch_sayf(fd, "X %.500s\n", err);
			said_error = 1;
		}
	}
}

/* ---- the loop ---- */

typedef struct child_log {
	int ready;
	uint64_t open_pos, open_last, max_pos;
	char error[720];   /* the child's materializer error (X), if any */
	char failure[720]; /* E or F line */
} child_log;

static void log_line(void *ctx, const char *line)
{
	child_log *l = ctx;
	unsigned long long a = 0, b = 0;
	if (sscanf(line, "R %llu %llu", &a, &b) == 2) {
		l->ready = 1;
		l->open_pos = a;
		l->open_last = b;
		if (a > l->max_pos)
			l->max_pos = a;
	} else if (sscanf(line, "P %llu", &a) == 1) {
		if (a > l->max_pos)
			l->max_pos = a;
	} else if (line[0] == 'X') {
		if (!l->error[0])
			snprintf(l->error, sizeof l->error, "%s", line + 2);
	} else if (!l->failure[0]) {
		snprintf(l->failure, sizeof l->failure, "%s", line);
	}
}

static int is_ready(void *ctx)
{
	const child_log *l = ctx;
	return l->ready || l->failure[0];
}

static int has_progress(void *ctx)
{
	const child_log *l = ctx;
	return (l->ready && l->max_pos > l->open_pos) || l->failure[0] || l->error[0];
}

typedef struct totals {
	unsigned cycles, stores, early, anywhere, after_progress, no_progress_needed;
	unsigned advanced, lag_at_kill, caught_up_at_kill;
	uint64_t applied, max_last;
	uint64_t ro_ns, fts_ns, journal_ns;
} totals;

typedef struct loop {
	const char *name;
	int split;          /* negative control */
	unsigned cycles;
	unsigned setup_events;
	char dir[PATH_MAX], store[PATH_MAX], sqlite[PATH_MAX + 16];
	uint64_t rng, seed;
	pc_model m;
	totals tot;
	unsigned violations;
	char first_violation[1024];
	unsigned violation_cycle;
} loop;

static void setup_store(loop *L)
{
	tu_rmrf(L->store);
	pc_model_free(&L->m);
	TU_OK(cj_store_init(L->store, NULL));
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, L->store, NULL));
	/* Keep the projection empty: the children must catch up, in batches. */
	cji_mat_pause(s->mat);
	for (unsigned k = 0; k < L->setup_events;) {
		unsigned n = L->setup_events - k < 1000 ? L->setup_events - k : 1000;
		TU_OK(pc_append_events(s, "s", k, n, &L->rng));
		k += n;
	}
	cj_store_close(s);
	L->tot.stores++;
}

/* One cycle; returns 0, or 1 with a violation recorded in L. */
static int run_cycle(loop *L, unsigned cycle)
{
	int appends = cycle % 7 != 3;
	L->tot.cycles++;
	child_args args = {L->store, cycle, appends, L->split, tu_rand(&L->rng)};
	ch_child child;
	assert_int_equal(ch_spawn(&child, child_main, &args), 0);
	uint64_t t_fork = tu_now_ns();
	child_log log;
	memset(&log, 0, sizeof log);
	uint64_t r = tu_rand(&L->rng);
	if (cycle % 10 == 9) {
		/* During open and the first batch. */
		L->tot.early++;
		ch_pump(&child, t_fork + (r % 40000001u), log_line, NULL, &log);
	} else {
		ch_pump(&child, t_fork + 30ull * 1000000000u, log_line, is_ready, &log);
		if (!log.ready) {
			ch_abandon(&child);
			fail_msg("%s cycle %u: the child did not open the store: %s", L->name, cycle,
			         log.failure[0] ? log.failure : "(no answer in 30 s)");
		}
		if (cycle % 10 == 4) {
			/* Anywhere inside a (large) batch, its commit included. */
			L->tot.anywhere++;
			ch_pump(&child, tu_now_ns() + 1000000u + r % 300000000u, log_line, NULL,
			        &log);
		} else if (appends || log.open_last > log.open_pos) {
			/* Shortly after the cycle's first committed batch. */
			L->tot.after_progress++;
			ch_pump(&child, tu_now_ns() + 30ull * 1000000000u, log_line, has_progress,
			        &log);
			if (log.max_pos <= log.open_pos && !log.error[0] && !log.failure[0]) {
				ch_abandon(&child);
				fail_msg("%s cycle %u: no batch committed in 30 s (position %llu, journal %llu)",
				         L->name, cycle, (unsigned long long)log.open_pos,
				         (unsigned long long)log.open_last);
			}
			ch_pump(&child, tu_now_ns() + 1000000u + r % 39000001u, log_line, NULL,
			        &log);
		} else {
			L->tot.no_progress_needed++;
			ch_pump(&child, tu_now_ns() + 1000000u + r % 39000001u, log_line, NULL,
			        &log);
		}
	}
	int status = 0;
	int killed = ch_kill(&child, &status, log_line, &log);
	assert_true(killed >= 0);
	if (!killed)
		fail_msg("%s cycle %u: child ended by itself (status %d): %s", L->name, cycle, status,
		         log.failure);
	if (log.failure[0])
		fail_msg("%s cycle %u: the child reported a failure: %s", L->name, cycle, log.failure);

	/* The journal, read-only (its own checks are crash/kill9's job). */
	uint64_t t_j = tu_now_ns();
	cj_store_options ro = CJ_STORE_OPTIONS_INIT;
	ro.read_only = 1;
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, L->store, &ro));
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	char why[1024] = "";
	if (pc_model_read(&L->m, s, why, sizeof why) != 0)
		fail_msg("%s cycle %u: reading the journal: %s", L->name, cycle, why);
	cj_store_close(s);
	if (L->m.n != last)
		fail_msg("%s cycle %u: the journal ends at %llu but %zu records were read", L->name,
		         cycle, (unsigned long long)last, L->m.n);
	L->tot.journal_ns += tu_now_ns() - t_j;

	pc_result res;
	memset(&res, 0, sizeof res);
	int v = pc_check_projection(L->sqlite, &L->m, log.max_pos, &L->rng, &res, why, sizeof why);
	L->tot.ro_ns += res.ro_ns;
	L->tot.fts_ns += res.fts_ns;
	if (!v && log.error[0] && L->split) {
		/* A double apply that the checker did not see yet stops the materializer. */
		snprintf(why, sizeof why, "the materializer stopped: %s", log.error);
		v = 1;
	}
	if (v) {
		if (L->violations++ == 0) {
			snprintf(L->first_violation, sizeof L->first_violation, "%s", why);
			L->violation_cycle = cycle;
		}
		return 1;
	}
	if (getenv("CJ_CRASH_DEBUG"))
		fprintf(stderr, "cycle %u: open %llu/%llu, child saw %llu, after kill %llu/%llu, %.1f ms\n",
		        cycle, (unsigned long long)log.open_pos, (unsigned long long)log.open_last,
		        (unsigned long long)log.max_pos, (unsigned long long)res.pos,
		        (unsigned long long)last, (double)(tu_now_ns() - t_fork) / 1e6);
	if (log.ready && res.pos > log.open_pos) {
		L->tot.advanced++;
		L->tot.applied += res.pos - log.open_pos;
	}
	if (res.pos < last)
		L->tot.lag_at_kill++;
	else
		L->tot.caught_up_at_kill++;
	if (last > L->tot.max_last)
		L->tot.max_last = last;
	return 0;
}

static void loop_init(loop *L, const char *name, int split, unsigned cycles, unsigned setup_events)
{
	memset(L, 0, sizeof *L);
	L->name = name;
	L->split = split;
	L->cycles = cycles;
	L->setup_events = setup_events;
	assert_int_equal(tu_mktempdir(L->dir, sizeof L->dir, "crashmat"), 0);
	tu_path(L->store, sizeof L->store, L->dir, "store");
	snprintf(L->sqlite, sizeof L->sqlite, "%s/chat.sqlite", L->store);
	L->seed = ch_seed();
	L->rng = L->seed;
}

static void print_totals(const loop *L, double secs)
{
	const totals *t = &L->tot;
	unsigned n = t->cycles ? t->cycles : 1;
	print_message("crash/%s: %u cycles (%u stores of %u events) in %.1f s, seed %llu: kills "
	              "%u during open, %u anywhere in a batch, %u after a commit, %u idle; "
	              "%u cycles advanced the position (%llu events applied), %u kills left work "
	              "pending, %u caught up; largest journal %llu; per cycle: journal read %.1f ms, "
	              "read-only checks %.1f ms, FTS integrity-check %.1f ms\n",
	              L->name, t->cycles, t->stores, L->setup_events, secs,
	              (unsigned long long)L->seed, t->early, t->anywhere, t->after_progress,
	              t->no_progress_needed, t->advanced, (unsigned long long)t->applied,
	              t->lag_at_kill, t->caught_up_at_kill, (unsigned long long)t->max_last,
	              (double)t->journal_ns / 1e6 / n, (double)t->ro_ns / 1e6 / n,
	              (double)t->fts_ns / 1e6 / n);
}

static void test_kill9_during_materialize(void **state)
{
	(void)state;
	loop *L = calloc(1, sizeof *L);
	assert_non_null(L);
	unsigned cycles = (unsigned)tu_env_ulong("CJ_CRASH_CYCLES", UNDER_ASAN ? 150 : 300);
	loop_init(L, "materialize", 0, cycles,
	          (unsigned)tu_env_ulong("CJ_CRASH_MAT_EVENTS", UNDER_ASAN ? 5000 : 20000));
	uint64_t t0 = tu_now_ns();
	for (unsigned cycle = 0; cycle < cycles; cycle++) {
		if (cycle % CYCLES_PER_STORE == 0)
			setup_store(L);
		if (run_cycle(L, cycle))
			fail_msg("materialize cycle %u (seed %llu): %s", cycle,
			         (unsigned long long)L->seed, L->first_violation);
	}
	double secs = (double)(tu_now_ns() - t0) / 1e9;
	print_totals(L, secs);
	/* The loop exercised what it claims to. */
	assert_int_equal(L->tot.cycles, cycles);
	if (cycles >= 20) {
		assert_true(L->tot.advanced > cycles / 4);
		assert_true(L->tot.lag_at_kill > 0);
	}

	/* Recovery: open read-write, catch up, equal to a fresh replay. */
	char replay[PATH_MAX + 32];
	snprintf(replay, sizeof replay, "%s/replay.sqlite", L->dir);
	pc_recover("materialize", L->store, L->sqlite, replay, &L->m, &L->rng);
	pc_model_free(&L->m);
	tu_rmrf(L->dir);
	free(L);
}

static void test_negative_control_split_position(void **state)
{
	(void)state;
	loop *L = calloc(1, sizeof *L);
	assert_non_null(L);
	unsigned cycles = (unsigned)tu_env_ulong("CJ_CRASH_CONTROL_CYCLES", 200);
	/* A small backlog: the children soon apply small batches, one commit
	 * pair (and one window) every few milliseconds. */
	loop_init(L, "materialize-control", 1, cycles, 1000);
	uint64_t t0 = tu_now_ns();
	unsigned cycle;
	for (cycle = 0; cycle < cycles; cycle++) {
		if (cycle % CYCLES_PER_STORE == 0)
			setup_store(L);
		if (run_cycle(L, cycle))
			break;
	}
	double secs = (double)(tu_now_ns() - t0) / 1e9;
	print_totals(L, secs);
	if (!L->violations)
		fail_msg("negative control: %u cycles with rows and position committed separately, and "
		         "the checker saw no violation: it cannot detect a lost exactly-once (seed %llu)",
		         cycles, (unsigned long long)L->seed);
	print_message("crash/materialize-control: violation detected, as it must be, in cycle %u "
	              "(after %.1f s): %s\n", L->violation_cycle, secs, L->first_violation);
	pc_model_free(&L->m);
	tu_rmrf(L->dir);
	free(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_during_materialize),
		cmocka_unit_test(test_negative_control_split_position),
	};
	return cmocka_run_group_tests_name("crash/materialize", tests, NULL, NULL);
}
