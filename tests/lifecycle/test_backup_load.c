/* tests/lifecycle/test_backup_load.c — backups under load (docs/reliability.md,
 * P4): 8 writer threads append without pause (each append acknowledged
 * once durable) while the main thread takes backups of the same store
 * handle, cycle after cycle. For each backup:
 *   - every event acknowledged before cj_backup was called is in it, with
 *     the content its writer wrote (read back from the restored store);
 *   - its projection position is at most its journal's last sequence number;
 *   - cj_backup_verify passes, and so does the store restored from it
 *     (`verify` in C: checksums, integrity, replay hash), which then catches
 *     up to the backup's last sequence number when opened read-write.
 * It also reports the slowest append seen while a backup ran and while none
 * did (information: bench backup measures the p99).
 * The writers pause while a backup is checked (the checks replay the whole
 * journal) and resume before the next one.
 * Env: CJ_BACKUP_LOAD_CYCLES (default 8, 4 under ASan), CJ_BACKUP_LOAD_WARMUP_MS
 * (default 150: appends before each backup). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lcutil.h"
#include "testutil.h"

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

#define WRITERS 8
#define MAX_PER_WRITER (1u << 18)

typedef struct writer {
	cj_store *s;
	unsigned t;
	uint64_t *seqs;            /* seqs[i]: the sequence number of append i */
	_Atomic unsigned count;    /* appends acknowledged (release after seqs[i]) */
	_Atomic int *stop;
	_Atomic int *paused;       /* while the main thread checks a backup */
	_Atomic int *backing_up;
	uint64_t max_during_ns, max_outside_ns;
	int rc;
	char err[256];
} writer;

static void content_of(char *out, size_t n, unsigned t, unsigned i)
{
	snprintf(out, n, "writer %u append %u under backup load", t, i);
}

static void *write_loop(void *arg)
{
	writer *w = arg;
	char thread[16], content[96];
	snprintf(thread, sizeof thread, "W%u", w->t);
	for (unsigned i = 0; i < MAX_PER_WRITER && !atomic_load(w->stop); i++) {
		while (atomic_load(w->paused) && !atomic_load(w->stop)) {
			struct timespec ts = { 0, 1000000L };
			nanosleep(&ts, NULL);
		}
		content_of(content, sizeof content, w->t, i);
		cj_event *ev = tu_message(thread, content, NULL, 0);
		if (!ev) {
			w->rc = -1;
			break;
		}
		int during = atomic_load(w->backing_up);
		uint64_t t0 = tu_now_ns(), seq;
		w->rc = cj_journal_append(&seq, w->s, ev);
		uint64_t dt = tu_now_ns() - t0;
		cj_event_free(ev);
		if (w->rc) {
			snprintf(w->err, sizeof w->err, "%s", cj_error_last());
			break;
		}
		if (during || atomic_load(w->backing_up)) {
			if (dt > w->max_during_ns)
				w->max_during_ns = dt;
		} else if (dt > w->max_outside_ns) {
			w->max_outside_ns = dt;
		}
		w->seqs[i] = seq;
		atomic_store_explicit(&w->count, i + 1, memory_order_release);
	}
	return NULL;
}

static void nap_ms(unsigned long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Every acknowledged event of the snapshot is in the restored store with
 * its writer's content. */
static void check_acked(const char *dest, writer *w, const unsigned *acked, uint64_t last)
{
	cj_store *s;
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.read_only = 1;
	TU_OK(cj_store_open(&s, dest, &o));
	size_t checked = 0;
	for (unsigned t = 0; t < WRITERS; t++) {
		for (unsigned i = 0; i < acked[t]; i++) {
			uint64_t seq = w[t].seqs[i];
			if (seq > last)
				fail_msg("writer %u append %u: acknowledged as %llu before the backup, which ends "
				         "at %llu", t, i, (unsigned long long)seq, (unsigned long long)last);
			cj_event *ev;
			cj_record rec;
			TU_OK(cj_journal_get(&ev, &rec, s, seq));
			char want[96];
			content_of(want, sizeof want, t, i);
			const char *got = cj_event_get_string(ev, "content");
			if (!got || strcmp(got, want) != 0)
				fail_msg("sequence %llu holds '%s', expected '%s'", (unsigned long long)seq,
				         got ? got : "(none)", want);
			cj_event_free(ev);
			checked++;
		}
	}
	cj_store_close(s);
	assert_true(checked > 0);
}

static void test_backups_under_load(void **state)
{
	tu_fixture *f = *state;
	unsigned cycles = (unsigned)tu_env_ulong("CJ_BACKUP_LOAD_CYCLES", UNDER_ASAN ? 4 : 8);
	unsigned warmup = (unsigned)tu_env_ulong("CJ_BACKUP_LOAD_WARMUP_MS", 150);
	_Atomic int stop = 0, backing_up = 0, paused = 0;
	writer w[WRITERS];
	pthread_t th[WRITERS];
	memset(w, 0, sizeof w);
	for (unsigned t = 0; t < WRITERS; t++) {
		w[t].s = f->s;
		w[t].t = t;
		w[t].stop = &stop;
		w[t].paused = &paused;
		w[t].backing_up = &backing_up;
		w[t].seqs = calloc(MAX_PER_WRITER, sizeof *w[t].seqs);
		assert_non_null(w[t].seqs);
		assert_int_equal(pthread_create(&th[t], NULL, write_loop, &w[t]), 0);
	}
	uint64_t lag_seen = 0;
	for (unsigned c = 0; c < cycles; c++) {
		atomic_store(&paused, 0);
		nap_ms(warmup);
		unsigned acked[WRITERS];
		for (unsigned t = 0; t < WRITERS; t++)
			acked[t] = atomic_load_explicit(&w[t].count, memory_order_acquire);
		atomic_store(&backing_up, 1);
		char *out = NULL;
		int rc = cj_backup(&out, f->s, NULL);
		atomic_store(&backing_up, 0);
		/* The load matters during the backup; the checks need none (they
		 * replay the whole journal, which should not grow without end). */
		atomic_store(&paused, 1);
		TU_OK(rc);
		json_t *m = json_loads(out, 0, NULL);
		char bk[PATH_MAX], dest[PATH_MAX], name[32], why[512];
		assert_int_equal(lc_backup_path(bk, sizeof bk, out), 0);
		uint64_t last = (uint64_t)json_integer_value(json_object_get(json_object_get(m, "journal"), "last_seq"));
		uint64_t pos = (uint64_t)json_integer_value(json_object_get(json_object_get(m, "projection"), "position"));
		json_decref(m);
		assert_true(pos <= last);
		lag_seen += last - pos;
		TU_OK(cj_backup_verify(NULL, bk, NULL, NULL));
		snprintf(name, sizeof name, "restored-%u", c);
		tu_path(dest, sizeof dest, f->dir, name);
		TU_OK(cj_restore(NULL, bk, dest, NULL));
		if (lc_verify_store(dest, why, sizeof why) != 0)
			fail_msg("cycle %u: restored store: %s", c, why);
		check_acked(dest, w, acked, last);
		/* It serves at once: read-write open, catch up, append. */
		cj_store *r;
		TU_OK(cj_store_open(&r, dest, NULL));
		TU_OK(cj_wait_applied(r, last, 60000));
		cj_event *ev = tu_message("after", "restore", NULL, 0);
		uint64_t seq;
		TU_OK(cj_journal_append(&seq, r, ev));
		cj_event_free(ev);
		assert_int_equal(seq, last + 1);
		cj_store_close(r);
		tu_rmrf(dest);
		tu_rmrf(bk);
		for (unsigned t = 0; t < WRITERS; t++)
			if (w[t].rc)
				fail_msg("writer %u: %s", t, w[t].err);
	}
	atomic_store(&stop, 1);
	uint64_t during = 0, outside = 0, total = 0;
	for (unsigned t = 0; t < WRITERS; t++) {
		pthread_join(th[t], NULL);
		if (w[t].rc)
			fail_msg("writer %u: %s", t, w[t].err);
		during = w[t].max_during_ns > during ? w[t].max_during_ns : during;
		outside = w[t].max_outside_ns > outside ? w[t].max_outside_ns : outside;
		total += atomic_load(&w[t].count);
		free(w[t].seqs);
	}
	printf("lifecycle/load: %u backups under %u writers, %llu appends; projection lag in the "
	       "backups %llu events in all; slowest append %.1f ms during backups, %.1f ms outside\n",
	       cycles, WRITERS, (unsigned long long)total, (unsigned long long)lag_seen,
	       (double)during / 1e6, (double)outside / 1e6);
	char why[512];
	cj_store_close(f->s);
	f->s = NULL;
	if (lc_verify_store(f->store, why, sizeof why) != 0)
		fail_msg("the live store: %s", why);
}

static int setup(void **state)
{
	return tu_fixture_setup(state, "backup-load", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backups_under_load, setup, tu_fixture_teardown),
	};
	return cmocka_run_group_tests_name("lifecycle/load", tests, NULL, NULL);
}
