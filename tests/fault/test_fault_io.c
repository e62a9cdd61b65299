/* tests/fault/test_fault_io.c — disk full and I/O errors at every write/sync
 * of an append workload (docs/reliability.md, P7 and the test plan's "disk full, I/O errors").
 *
 * The workload: 200 events appended by 2 threads (one with cj_journal_append,
 * one with submit/wait in tickets of 5); once the fault has fired each thread
 * makes 5 more calls and stops (what follows would only repeat them). First it runs with the shim counting
 * the write/sync calls that reach the store's files; then, for every N from 1
 * to that count (every N up to 60, then every k-th to keep the run bounded),
 * on a fresh store, call N fails:
 *   - ENOSPC variant: call N and every later one fail (a disk that stays full
 *     until the test "frees space" by disarming);
 *   - EIO variant: only call N fails (a transient device error).
 * After disarming, the test asserts:
 *   - every failed append returned CJ_ENOSPC or CJ_EIO with a non-empty
 *     message (in the ENOSPC variant the first failure is CJ_ENOSPC);
 *   - every acknowledged event is in the journal, with its sequence number,
 *     id and content; numbers are gap-free; cj_journal_check passes;
 *   - no event whose append failed is in the journal: the shim fails a call
 *     before it reaches the kernel, and LMDB's commit point is its meta page
 *     write, so a failed commit cannot have reached the disk;
 *   - the very next append succeeds (writing resumes when space returns), and
 *     (every 4th workload) everything above still holds after close and
 *     reopen.
 * Env: CJ_FAULT_DENSE (N tested one by one, default 60), CJ_FAULT_MAX_RUNS
 * (most workloads per variant, default 100), CJ_FAULT_BUDGET_S (seconds per
 * variant after which the N beyond the dense range are sampled more sparsely,
 * default 30). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "shim.h"

#define PER_THREAD 100
#define TICKET_SIZE 5
#define N_RESUME 5
#define AFTER_FIRE 5   /* appends (or tickets) per thread once the fault fired */
#define NOT_RUN 1      /* outcome of an event the workload stopped before */

typedef struct outcome {
	int rc;
	uint64_t seq;
	int has_msg;
} outcome;

typedef struct run {
	cj_store *s;
	unsigned run_id;
	outcome out[2][PER_THREAD];
	char first_msg[2][256];
} run;

typedef struct wargs {
	run *r;
	unsigned thread;
} wargs;

static void content_of(char *out, size_t n, unsigned run_id, unsigned thread, unsigned i)
{
	int w = snprintf(out, n, "fault run %u thread %u event %u ", run_id, thread, i);
	size_t len = (size_t)w + 150;
	if (len >= n)
		len = n - 1;
	for (size_t k = (size_t)w; k < len; k++)
		out[k] = (char)('a' + (k + i * 13 + thread) % 26);
	out[len] = '\0';
}

static cj_event *event_of(unsigned run_id, unsigned thread, unsigned i)
{
	char content[256], id[64];
	content_of(content, sizeof content, run_id, thread, i);
	snprintf(id, sizeof id, "f-%u-%u", thread, i);
	return tu_message("fault", content, id, 0);
}

static void note_failure(run *r, unsigned thread, unsigned i, int rc)
{
	r->out[thread][i].rc = rc;
	r->out[thread][i].has_msg = cj_error_last()[0] != '\0';
	if (!r->first_msg[thread][0])
		snprintf(r->first_msg[thread], sizeof r->first_msg[thread], "%s", cj_error_last());
}

/* 1 once the thread has done its few appends after the fault fired: the
 * rest of the workload would only repeat what they show. */
static int enough(unsigned *after)
{
	return shim_fired() > 0 && ++*after > AFTER_FIRE;
}

static void *worker(void *arg)
{
	wargs *a = arg;
	run *r = a->r;
	unsigned after = 0;
	if (a->thread == 0) {
		for (unsigned i = 0; i < PER_THREAD; i++) {
			if (enough(&after)) {
				for (; i < PER_THREAD; i++)
					r->out[0][i].rc = NOT_RUN;
				break;
			}
			cj_event *ev = event_of(r->run_id, 0, i);
			cj_error_clear();
			int rc = ev ? cj_journal_append(&r->out[0][i].seq, r->s, ev) : CJ_ENOMEM;
			if (rc != 0)
				note_failure(r, 0, i, rc);
			cj_event_free(ev);
		}
		return NULL;
	}
	for (unsigned i = 0; i < PER_THREAD; i += TICKET_SIZE) {
		if (enough(&after)) {
			for (; i < PER_THREAD; i++)
				r->out[1][i].rc = NOT_RUN;
			break;
		}
		cj_event *evs[TICKET_SIZE];
		for (unsigned k = 0; k < TICKET_SIZE; k++)
			evs[k] = event_of(r->run_id, 1, i + k);
		uint64_t seqs[TICKET_SIZE] = {0};
		cj_ticket *t = NULL;
		cj_error_clear();
		int rc = cj_journal_submit(&t, r->s, (const cj_event *const *)evs, TICKET_SIZE);
		if (rc == 0)
			rc = cj_ticket_wait(seqs, t);
		cj_ticket_free(t);
		for (unsigned k = 0; k < TICKET_SIZE; k++) {
			cj_event_free(evs[k]);
			if (rc == 0)
				r->out[1][i + k].seq = seqs[k];
			else
				note_failure(r, 1, i + k, rc);
		}
	}
	return NULL;
}

static void run_workload(run *r)
{
	pthread_t tids[2];
	wargs args[2] = {{r, 0}, {r, 1}};
	for (unsigned t = 0; t < 2; t++)
		assert_int_equal(pthread_create(&tids[t], NULL, worker, &args[t]), 0);
	for (unsigned t = 0; t < 2; t++)
		pthread_join(tids[t], NULL);
}

/* Each workload makes its own store in f->dir. */
typedef tu_fixture fixture;

/* The folder of the store's LMDB journal (where data.mdb is). */
static void journal_dir_of(const char *store, char *out, size_t n)
{
	assert_int_equal(tu_find_file(store, "data.mdb", out, n), 0);
	char *slash = strrchr(out, '/');
	assert_non_null(slash);
	*slash = '\0';
}

static int setup(void **state)
{
	return tu_fixture_setup_ex(state, sizeof(fixture), "fault", NULL, TU_FIXTURE_NO_STORE);
}

static int teardown(void **state)
{
	shim_disarm();
	return tu_fixture_teardown(state);
}

/* Count the calls of one clean workload. */
static uint64_t count_calls(const fixture *f, unsigned run_id, int print)
{
	char store[PATH_MAX];
	char name[32];
	snprintf(name, sizeof name, "count-%u", run_id);
	tu_path(store, sizeof store, f->dir, name);
	run *r = calloc(1, sizeof *r);
	assert_non_null(r);
	r->run_id = run_id;
	TU_OK(tu_store_create(&r->s, store, NULL));
	char scope[PATH_MAX];
	journal_dir_of(store, scope, sizeof scope);
	shim_count(scope);
	run_workload(r);
	shim_disarm();
	uint64_t calls = shim_calls();
	for (unsigned t = 0; t < 2; t++)
		for (unsigned i = 0; i < PER_THREAD; i++)
			if (r->out[t][i].rc != 0)
				fail_msg("clean workload: thread %u event %u failed with %d: %s", t, i,
				         r->out[t][i].rc, r->first_msg[t]);
	if (print) {
		print_message("clean workload: %llu calls under the store:",
		              (unsigned long long)calls);
		for (int fn = 0; fn < SHIM_NFN; fn++)
			print_message(" %s=%llu", shim_fn_name((enum shim_fn)fn),
			              (unsigned long long)shim_calls_of((enum shim_fn)fn));
		print_message("\n");
	}
	cj_store_close(r->s);
	tu_rmrf(store);
	free(r);
	return calls;
}

/* The interposition really sees the library's writes and syncs (else every
 * other assertion here would pass vacuously). */
static void test_shim_sees_journal_io(void **state)
{
	fixture *f = *state;
	uint64_t calls = count_calls(f, 0, 1);
	assert_true(calls >= 200 / TICKET_SIZE);
	assert_true(shim_calls_of(SHIM_PWRITE) + shim_calls_of(SHIM_WRITEV) +
	            shim_calls_of(SHIM_PWRITEV) + shim_calls_of(SHIM_WRITE) > 0);
	assert_true(shim_calls_of(SHIM_FDATASYNC) + shim_calls_of(SHIM_FSYNC) > 0);

	/* And failing works: with everything failing, an append fails cleanly. */
	char store[PATH_MAX];
	tu_path(store, sizeof store, f->dir, "allfail");
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, store, NULL));
	char scope[PATH_MAX];
	journal_dir_of(store, scope, sizeof scope);
	cj_event *ev = event_of(0, 0, 0);
	shim_arm(scope, 1, ENOSPC, 1);
	uint64_t seq = 0;
	int rc = cj_journal_append(&seq, s, ev);
	shim_disarm();
	assert_int_equal(rc, CJ_ENOSPC);
	assert_true(shim_fired() >= 1);
	TU_OK(cj_journal_append(&seq, s, ev));
	assert_int_equal(seq, 1);
	cj_event_free(ev);
	cj_store_close(s);
}

typedef struct totals {
	unsigned runs, fired_runs, failed_appends, acked, reopened;
	unsigned runs_without_code; /* runs with failures, none with the injected errno's code */
} totals;

/* Check one store after a faulty workload; r->s is open. */
static void verify_run(run *r, const char *store, int err, int sticky, uint64_t n, totals *tot,
                       int projection, int reopen)
{
	const int expect = err == ENOSPC ? CJ_ENOSPC : CJ_EIO;
	uint64_t fired = shim_fired();
	unsigned failures = 0, acked = 0;
	int saw_expected = 0;
	for (unsigned t = 0; t < 2; t++) {
		for (unsigned i = 0; i < PER_THREAD; i++) {
			outcome *o = &r->out[t][i];
			if (o->rc == NOT_RUN)
				continue;
			if (o->rc == 0) {
				acked++;
				continue;
			}
			failures++;
			if (o->rc != CJ_ENOSPC && o->rc != CJ_EIO)
				fail_msg("N=%llu %s: thread %u event %u failed with %d (%s), expected "
				         "CJ_ENOSPC or CJ_EIO: %s", (unsigned long long)n, strerror(err), t, i,
				         o->rc, cj_strerror(o->rc), r->first_msg[t]);
			if (!o->has_msg)
				fail_msg("N=%llu %s: thread %u event %u failed with %d and no message",
				         (unsigned long long)n, strerror(err), t, i, o->rc);
			if (o->rc == expect)
				saw_expected = 1;
		}
	}
	if (fired == 0 && failures > 0)
		fail_msg("N=%llu %s: no call was failed, yet %u appends failed: %s",
		         (unsigned long long)n, strerror(err), failures,
		         r->first_msg[0][0] ? r->first_msg[0] : r->first_msg[1]);
	if (sticky && fired > 0 && failures == 0)
		fail_msg("N=%llu %s: the disk stayed full from call %llu on, yet every append "
		         "was acknowledged", (unsigned long long)n, strerror(err),
		         (unsigned long long)n);
	if (failures > 0 && !saw_expected)
		tot->runs_without_code++;
	tot->runs++;
	tot->fired_runs += fired > 0;
	tot->failed_appends += failures;
	tot->acked += acked;

	/* Writing resumes at once: the very next append succeeds. */
	uint64_t resume_seq[N_RESUME];
	for (unsigned k = 0; k < N_RESUME; k++) {
		char content[64], id[32];
		snprintf(content, sizeof content, "resume %u", k);
		snprintf(id, sizeof id, "resume-%u", k);
		cj_event *ev = tu_message("fault", content, id, 0);
		uint64_t seq = 0;
		int rc = cj_journal_append(&seq, r->s, ev);
		if (rc != 0)
			fail_msg("N=%llu %s: append %u after the disk recovered failed with %d (%s): %s",
			         (unsigned long long)n, strerror(err), k, rc, cj_strerror(rc),
			         cj_error_last());
		resume_seq[k] = seq;
		cj_event_free(ev);
	}
	if (projection) {
		/* The materializer got through the full disk too, without a reopen. */
		int rc = cj_wait_applied(r->s, resume_seq[N_RESUME - 1], 20000);
		if (rc != 0)
			fail_msg("N=%llu %s: the projection did not catch up with seq %llu after the "
			         "disk recovered: %d (%s): %s", (unsigned long long)n, strerror(err),
			         (unsigned long long)resume_seq[N_RESUME - 1], rc, cj_strerror(rc),
			         cj_error_last());
	}

	for (int pass = 0; pass < 1 + !!reopen; pass++) {
		if (pass == 1) {
			cj_store_close(r->s);
			r->s = NULL;
			TU_OK(cj_store_open(&r->s, store, NULL));
			tot->reopened++;
		}
		tu_recs recs;
		TU_OK(tu_read_all(r->s, 1, &recs));
		assert_int_equal(recs.corrupt, 0);
		if (recs.n != (size_t)acked + N_RESUME) {
			unsigned phantoms = 0;
			for (size_t k = 0; k < recs.n; k++) {
				unsigned t, i;
				if (recs.v[k].id && sscanf(recs.v[k].id, "f-%u-%u", &t, &i) == 2 &&
				    t < 2 && i < PER_THREAD && r->out[t][i].rc != 0)
					phantoms++;
			}
			fail_msg("N=%llu %s (pass %d): journal holds %zu records, expected %u acknowledged "
			         "+ %d resumed; %u of them are events whose append failed",
			         (unsigned long long)n, strerror(err), pass, recs.n, acked, N_RESUME,
			         phantoms);
		}
		for (size_t k = 0; k < recs.n; k++) {
			const tu_rec *rec = &recs.v[k];
			assert_int_equal(rec->seq, k + 1);
			assert_non_null(rec->id);
			unsigned t, i;
			if (sscanf(rec->id, "f-%u-%u", &t, &i) == 2) {
				assert_true(t < 2 && i < PER_THREAD);
				if (r->out[t][i].rc != 0)
					fail_msg("N=%llu %s: seq %llu holds event %s whose append %s (%d)",
					         (unsigned long long)n, strerror(err),
					         (unsigned long long)rec->seq, rec->id,
					         r->out[t][i].rc == NOT_RUN ? "was never made" : "failed",
					         r->out[t][i].rc);
				assert_int_equal(r->out[t][i].seq, rec->seq);
				char want[256];
				content_of(want, sizeof want, r->run_id, t, i);
				assert_string_equal(rec->content, want);
			} else {
				unsigned kk;
				assert_int_equal(sscanf(rec->id, "resume-%u", &kk), 1);
				assert_true(kk < N_RESUME);
				assert_int_equal(rec->seq, resume_seq[kk]);
				assert_int_equal(rec->seq, (uint64_t)acked + kk + 1);
			}
		}
		tu_recs_free(&recs);
		uint64_t checked = 0, bad = 1;
		TU_OK(cj_journal_check(&checked, &bad, r->s));
		assert_int_equal(checked, (uint64_t)acked + N_RESUME);
		assert_int_equal(bad, 0);
		/* After failed writes and syncs the pages are sound too. */
		uint64_t pages = 0, bad_page = 1;
		TU_OK(cj_journal_check_pages(&pages, &bad_page, r->s));
		assert_int_equal(bad_page, 0);
	}
}

static void sweep(void **state, int err, int sticky)
{
	fixture *f = *state;
	uint64_t t0 = tu_now_ns();
	/* The count varies with how the two threads' appends are grouped. */
	uint64_t count = 0;
	for (unsigned k = 1; k <= 3; k++) {
		uint64_t c = count_calls(f, k, k == 1);
		if (c > count)
			count = c;
	}
	uint64_t dense = tu_env_ulong("CJ_FAULT_DENSE", 60);
	uint64_t max_runs = tu_env_ulong("CJ_FAULT_MAX_RUNS", 100);
	double budget = (double)tu_env_ulong("CJ_FAULT_BUDGET_S", 30);
	uint64_t step = 1;
	if (count > dense && max_runs > dense)
		step = (count - dense + (max_runs - dense) - 1) / (max_runs - dense);
	if (step < 1)
		step = 1;

	totals tot;
	memset(&tot, 0, sizeof tot);
	unsigned run_id = 100;
	uint64_t sparse_from = 0; /* N where the time budget made sampling sparser */
	for (uint64_t n = 1; n <= count; n += (n < dense ? 1 : step)) {
		/* On a slow machine, sample the rest of the range more sparsely
		 * rather than overrun (every N up to dense is always tested). */
		if (n > dense && (double)(tu_now_ns() - t0) / 1e9 > budget) {
			if (!sparse_from)
				sparse_from = n;
			step *= 2;
		}
		char store[PATH_MAX], name[48];
		snprintf(name, sizeof name, "%s-%llu", err == ENOSPC ? "nospc" : "eio",
		         (unsigned long long)n);
		tu_path(store, sizeof store, f->dir, name);
		run *r = calloc(1, sizeof *r);
		assert_non_null(r);
		r->run_id = run_id++;
		TU_OK(tu_store_create(&r->s, store, NULL));
		char scope[PATH_MAX];
		journal_dir_of(store, scope, sizeof scope);
		shim_arm(scope, n, err, sticky);
		run_workload(r);
		shim_disarm();
		/* Close and reopen (a few ms each) for every 4th workload only. */
		verify_run(r, store, err, sticky, n, &tot, 0, n % 4 == 1 || n + step > count);
		cj_store_close(r->s);
		tu_rmrf(store);
		free(r);
	}
	double secs = (double)(tu_now_ns() - t0) / 1e9;
	print_message("%s%s: %llu calls per workload, N = 1..%llu (every N to %llu, then every %llu):"
	              " %u workloads, %u with the fault hit, %u appends failed cleanly, %u acknowledged"
	              " and intact, %u reopens verified, %u runs whose failures all had another code;"
	              " %.1f s\n",
	              strerror(err), sticky ? " (sticky)" : " (one call)", (unsigned long long)count,
	              (unsigned long long)count, (unsigned long long)dense, (unsigned long long)step,
	              tot.runs, tot.fired_runs, tot.failed_appends, tot.acked, tot.reopened,
	              tot.runs_without_code, secs);
	if (sparse_from)
		print_message("  (time budget of %.0f s reached: sparser from N=%llu on)\n", budget,
		              (unsigned long long)sparse_from);
	assert_true(tot.fired_runs >= (count < dense ? count : dense) / 2);
	assert_true(tot.failed_appends > 0);
	/* Disk full must read as disk full, at least where it first bites. */
	if (err == ENOSPC && tot.runs_without_code > 0)
		fail_msg("%u workloads on a full disk never reported CJ_ENOSPC (only CJ_EIO)",
		         tot.runs_without_code);
}

/* One failure at a chosen kind of call of one commit (sequential appends, so
 * the call belongs to exactly one append), then the disk recovers at once:
 * exactly that append fails, with the code of the errno, and the very next
 * one succeeds; the failed event is not stored. */
/* err 0: a full file system that takes part of a write (shim_arm_short):
 * LMDB reports EIO, the library must say CJ_ENOSPC like for a plain ENOSPC. */
static void fault_then_recover(void **state, unsigned kind, int err)
{
	fixture *f = *state;
	const int expect = err == ENOSPC || err == 0 ? CJ_ENOSPC : CJ_EIO;
	char store[PATH_MAX];
	tu_path(store, sizeof store, f->dir, "targeted");
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, store, NULL));
	char scope[PATH_MAX];
	journal_dir_of(store, scope, sizeof scope);
	unsigned next = 0;
	uint64_t seq = 0;
	/* Each commit makes at least one call of this kind. */
	shim_only(kind);
	shim_count(scope);
	for (; next < 3; next++) {
		cj_event *ev = event_of(1, 0, next);
		TU_OK(cj_journal_append(&seq, s, ev));
		assert_int_equal(seq, next + 1);
		cj_event_free(ev);
	}
	uint64_t per_commit = shim_calls() / 3;
	shim_disarm();
	assert_true(per_commit >= 1);

	for (uint64_t at = 1; at <= per_commit; at++) {
		/* Fail call "at" of this kind in the next commit, only that one. */
		cj_event *ev = event_of(1, 0, next);
		shim_only(kind);
		if (err)
			shim_arm(scope, at, err, 0);
		else
			shim_arm_short(scope, at, 0);
		cj_error_clear();
		int rc = cj_journal_append(&seq, s, ev);
		uint64_t fired = shim_fired();
		shim_disarm();
		cj_event_free(ev);
		assert_int_equal(fired, 1);
		if (rc != expect)
			fail_msg("%s at %s call %llu of a commit: append returned %d (%s), expected %s",
			         err ? strerror(err) : "a short write on a full disk", kind == SHIM_KIND_META ? "meta" : kind == SHIM_KIND_SYNC
			         ? "sync" : "data", (unsigned long long)at, rc, cj_strerror(rc),
			         cj_strerror(expect));
		assert_true(cj_error_last()[0] != '\0');
		next++; /* the failed event's index is skipped for good */

		/* The disk is fine again: the very next append succeeds. */
		for (unsigned k = 0; k < 2; k++, next++) {
			ev = event_of(1, 0, next);
			cj_error_clear();
			rc = cj_journal_append(&seq, s, ev);
			cj_event_free(ev);
			if (rc != 0)
				fail_msg("%s at %s call %llu of a commit, then recovery: append %u after "
				         "it failed with %d (%s): %s", err ? strerror(err) : "short write",
				         kind == SHIM_KIND_META ? "meta" : kind == SHIM_KIND_SYNC ? "sync"
				         : "data", (unsigned long long)at, k + 1, rc, cj_strerror(rc),
				         cj_error_last());
		}
	}

	/* Only the failed events are missing. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			cj_store_close(s);
			TU_OK(cj_store_open(&s, store, NULL));
		}
		tu_recs r;
		TU_OK(tu_read_all(s, 1, &r));
		assert_int_equal(r.n, 3 + 2 * per_commit);
		for (size_t k = 0; k < r.n; k++) {
			unsigned t, i;
			assert_int_equal(r.v[k].seq, k + 1);
			assert_int_equal(sscanf(r.v[k].id, "f-%u-%u", &t, &i), 2);
			/* indexes 0..2, then per round: failed one skipped, two stored */
			unsigned want = k < 3 ? (unsigned)k : 3 + (unsigned)((k - 3) / 2) * 3 + 1 +
			                                          (unsigned)((k - 3) % 2);
			assert_int_equal(i, want);
		}
		tu_recs_free(&r);
		uint64_t checked = 0, bad = 1;
		TU_OK(cj_journal_check(&checked, &bad, s));
		assert_int_equal(checked, 3 + 2 * per_commit);
	}
	cj_store_close(s);
	tu_rmrf(store);
}

static void test_meta_write_eio_then_recover(void **state)
{
	fault_then_recover(state, SHIM_KIND_META, EIO);
}

static void test_meta_write_enospc_then_recover(void **state)
{
	fault_then_recover(state, SHIM_KIND_META, ENOSPC);
}

static void test_sync_eio_then_recover(void **state)
{
	fault_then_recover(state, SHIM_KIND_SYNC, EIO);
}

static void test_data_write_enospc_then_recover(void **state)
{
	fault_then_recover(state, SHIM_KIND_DATA, ENOSPC);
}

/* tmpfs when full accepts part of a write: LMDB says EIO, we say ENOSPC. */
static void test_short_data_write_on_full_disk(void **state)
{
	fault_then_recover(state, SHIM_KIND_DATA, 0);
}

static void test_short_meta_write_on_full_disk(void **state)
{
	fault_then_recover(state, SHIM_KIND_META, 0);
}

/* The disk fills up for the whole store: journal and projection (SQLite,
 * written by the materializer thread) alike, at sampled call numbers. The
 * journal side is checked as in the sweep; the projection must catch up with
 * every appended event once space returns, without a reopen. */
static void test_disk_full_whole_store(void **state)
{
	fixture *f = *state;
	/* Calls under the whole store for one clean workload (it varies: the
	 * materializer runs on its own schedule). */
	char store[PATH_MAX];
	tu_path(store, sizeof store, f->dir, "whole-count");
	run *r = calloc(1, sizeof *r);
	assert_non_null(r);
	r->run_id = 1;
	TU_OK(tu_store_create(&r->s, store, NULL));
	shim_count(store);
	run_workload(r);
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, r->s));
	TU_OK(cj_wait_applied(r->s, last, 20000));
	shim_disarm();
	uint64_t count = shim_calls();
	cj_store_close(r->s);
	tu_rmrf(store);
	free(r);

	totals tot;
	memset(&tot, 0, sizeof tot);
	unsigned run_id = 500;
	uint64_t t0 = tu_now_ns();
	for (uint64_t n = 1; n <= count; n = n < 4 ? n + 1 : n + n / 2) {
		char name[48];
		snprintf(name, sizeof name, "whole-%llu", (unsigned long long)n);
		tu_path(store, sizeof store, f->dir, name);
		r = calloc(1, sizeof *r);
		assert_non_null(r);
		r->run_id = run_id++;
		TU_OK(tu_store_create(&r->s, store, NULL));
		shim_arm(store, n, ENOSPC, 1);
		run_workload(r);
		shim_disarm();
		verify_run(r, store, ENOSPC, 1, n, &tot, 1, 1);
		last = 0;
		TU_OK(cj_journal_last_seq(&last, r->s));
		TU_OK(cj_wait_applied(r->s, last, 20000));
		cj_store_close(r->s);
		tu_rmrf(store);
		free(r);
	}
	print_message("whole store, disk full: %llu calls per workload (journal + projection), "
	              "%u workloads at N = 1, 2, 3, 4, then x1.5: %u with the fault hit, %u appends "
	              "failed cleanly, %u acknowledged and intact, projection caught up every "
	              "time; %.1f s\n", (unsigned long long)count, tot.runs, tot.fired_runs,
	              tot.failed_appends, tot.acked, (double)(tu_now_ns() - t0) / 1e9);
	assert_true(tot.fired_runs >= 4);
}

static void test_disk_full_at_every_call(void **state)
{
	sweep(state, ENOSPC, 1);
}

static void test_io_error_at_every_call(void **state)
{
	sweep(state, EIO, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shim_sees_journal_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_write_eio_then_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_write_enospc_then_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_eio_then_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_write_enospc_then_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_data_write_on_full_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_meta_write_on_full_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_at_every_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_error_at_every_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_whole_store, setup, teardown),
	};
	return cmocka_run_group_tests_name("fault/io", tests, NULL, NULL);
}
