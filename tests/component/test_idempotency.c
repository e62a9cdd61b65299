/* tests/component/test_idempotency.c — the "id" idempotency key: retries,
 * also racing from several threads, store nothing new and return the original
 * sequence number; the same id with another payload is CJ_ECONFLICT and
 * stores nothing, also when it is one event of a batch. */
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
#include "testutil.h"

#define N_IDS     1250
#define N_THREADS 8          /* N_IDS * N_THREADS = 10,000 appends per round */
#define TS        INT64_C(1700000000000)

typedef tu_fixture fixture;

static int setup(void **state) { return tu_fixture_setup(state, "idem", NULL); }
static int teardown(void **state) { return tu_fixture_teardown(state); }

static uint64_t last_seq(cj_store *s)
{
	uint64_t last = UINT64_MAX;
	TU_OK(cj_journal_last_seq(&last, s));
	return last;
}

static cj_event *keyed(unsigned k, const char *variant)
{
	char id[32], content[96];
	snprintf(id, sizeof id, "key-%u", k);
	snprintf(content, sizeof content, "payload of key %u (%s)", k, variant);
	return tu_message("idem", content, id, TS + k);
}

typedef struct retrier {
	cj_store *s;
	unsigned index;
	uint64_t seqs[N_IDS];
	int rc;
	unsigned rc_at;
	char msg[256];
} retrier;

/* Appends every key once, starting at a different key per thread, through a
 * different path per thread. */
static void *retrier_main(void *arg)
{
	retrier *r = arg;
	unsigned start = r->index * (N_IDS / N_THREADS);
	unsigned mode = r->index % 3;
	for (unsigned n = 0; n < N_IDS;) {
		unsigned chunk = mode == 0 ? 1 : 5;
		if (chunk > N_IDS - n)
			chunk = N_IDS - n;
		cj_event *evs[5];
		unsigned keys[5];
		for (unsigned c = 0; c < chunk; c++) {
			keys[c] = (start + n + c) % N_IDS;
			evs[c] = keyed(keys[c], "original");
		}
		uint64_t seqs[5] = {0, 0, 0, 0, 0};
		int rc;
		if (mode == 0) {
			rc = cj_journal_append(&seqs[0], r->s, evs[0]);
		} else if (mode == 1) {
			rc = cj_journal_append_batch(seqs, r->s, (const cj_event *const *)evs, chunk);
		} else {
			cj_ticket *t = NULL;
			rc = cj_journal_submit(&t, r->s, (const cj_event *const *)evs, chunk);
			if (rc == 0)
				rc = cj_ticket_wait(seqs, t);
			cj_ticket_free(t);
		}
		for (unsigned c = 0; c < chunk; c++) {
			cj_event_free(evs[c]);
			r->seqs[keys[c]] = seqs[c];
		}
		if (rc != 0 && r->rc == 0) {
			r->rc = rc;
			r->rc_at = keys[0];
			snprintf(r->msg, sizeof r->msg, "%s", cj_error_last());
		}
		n += chunk;
	}
	return NULL;
}

static void run_retriers(cj_store *s, retrier *rs)
{
	pthread_t tids[N_THREADS];
	for (unsigned t = 0; t < N_THREADS; t++) {
		memset(&rs[t], 0, sizeof rs[t]);
		rs[t].s = s;
		rs[t].index = t;
		assert_int_equal(pthread_create(&tids[t], NULL, retrier_main, &rs[t]), 0);
	}
	for (unsigned t = 0; t < N_THREADS; t++)
		pthread_join(tids[t], NULL);
	for (unsigned t = 0; t < N_THREADS; t++)
		if (rs[t].rc != 0)
			fail_msg("thread %u, key %u: %d (%s): %s", t, rs[t].rc_at, rs[t].rc,
			         cj_strerror(rs[t].rc), rs[t].msg);
}

/* 8 threads race to append the same 1250 new ids (10,000 appends), then do
 * it all again: one record per id, every caller told the same number. */
static void test_racing_retries_store_once(void **state)
{
	fixture *f = *state;
	retrier *rs = calloc(N_THREADS, sizeof *rs);
	assert_non_null(rs);
	uint64_t *first = calloc(N_IDS, sizeof *first);
	assert_non_null(first);

	for (unsigned round = 0; round < 2; round++) {
		run_retriers(f->s, rs);
		for (unsigned k = 0; k < N_IDS; k++) {
			uint64_t seq = rs[0].seqs[k];
			for (unsigned t = 1; t < N_THREADS; t++)
				if (rs[t].seqs[k] != seq)
					fail_msg("round %u key %u: thread 0 got seq %llu, thread %u got %llu",
					         round, k, (unsigned long long)seq, t,
					         (unsigned long long)rs[t].seqs[k]);
			if (round == 0)
				first[k] = seq;
			else
				assert_int_equal(seq, first[k]);
		}
		assert_int_equal(last_seq(f->s), N_IDS);
	}
	/* The numbers are exactly 1..N_IDS. */
	unsigned char *seen = calloc(N_IDS + 1, 1);
	assert_non_null(seen);
	for (unsigned k = 0; k < N_IDS; k++) {
		assert_true(first[k] >= 1 && first[k] <= N_IDS);
		assert_int_equal(seen[first[k]], 0);
		seen[first[k]] = 1;
	}
	/* Each record is the key's one copy. */
	tu_recs r;
	assert_int_equal(tu_read_all(f->s, 1, &r), 0);
	assert_int_equal(r.n, N_IDS);
	for (size_t i = 0; i < r.n; i++) {
		unsigned k = (unsigned)strtoul(r.v[i].id + 4, NULL, 10);
		assert_int_equal(first[k], r.v[i].seq);
		char want[96];
		snprintf(want, sizeof want, "payload of key %u (original)", k);
		assert_string_equal(r.v[i].content, want);
	}
	tu_recs_free(&r);
	cj_journal_stats st;
	TU_OK(cj_journal_stats_get(&st, f->s));
	assert_int_equal(st.events, N_IDS);
	assert_int_equal(st.idempotency_keys, N_IDS);
	free(seen);
	free(first);
	free(rs);
}

/* Stats: "committed" (events committed by this handle) counts what was
 * stored: neither an idempotent repeat nor a refused conflict. */
static void test_stats_count_only_stored_events(void **state)
{
	fixture *f = *state;
	cj_event *a = keyed(1, "A");
	cj_event *b = keyed(1, "B");
	uint64_t seq = 0;
	for (unsigned i = 0; i < 10; i++) {
		TU_OK(cj_journal_append(&seq, f->s, a));
		assert_int_equal(seq, 1);
	}
	TU_RC(cj_journal_append(&seq, f->s, b), CJ_ECONFLICT);
	cj_event_free(a);
	cj_event_free(b);
	cj_journal_stats st;
	TU_OK(cj_journal_stats_get(&st, f->s));
	assert_int_equal(st.events, 1);
	assert_int_equal(st.idempotency_keys, 1);
	if (st.committed != 1)
		fail_msg("10 appends of one id and 1 conflict stored 1 event, but stats.committed = %llu",
		         (unsigned long long)st.committed);
}

static void test_same_id_other_payload_conflicts(void **state)
{
	fixture *f = *state;
	cj_event *a = keyed(1, "A");
	cj_event *b = keyed(1, "B");
	uint64_t seq = 0;
	TU_OK(cj_journal_append(&seq, f->s, a));
	assert_int_equal(seq, 1);
	cj_error_clear();
	seq = 77;
	TU_RC(cj_journal_append(&seq, f->s, b), CJ_ECONFLICT);
	assert_true(strlen(cj_error_last()) > 0);
	assert_int_equal(last_seq(f->s), 1);
	cj_ticket *t = NULL;
	int rc = cj_journal_submit(&t, f->s, (const cj_event *const *)&b, 1);
	if (rc == 0)
		rc = cj_ticket_wait(&seq, t);
	cj_ticket_free(t);
	assert_int_equal(rc, CJ_ECONFLICT);
	/* The original is untouched and still acknowledged on retry. */
	cj_event *ev = NULL;
	TU_OK(cj_journal_get(&ev, NULL, f->s, 1));
	assert_string_equal(cj_event_get_string(ev, "content"), "payload of key 1 (A)");
	cj_event_free(ev);
	TU_OK(cj_journal_append(&seq, f->s, a));
	assert_int_equal(seq, 1);
	assert_int_equal(last_seq(f->s), 1);
	cj_event_free(a);
	cj_event_free(b);
}

static void test_conflict_in_batch_stores_nothing(void **state)
{
	fixture *f = *state;
	cj_event *orig = keyed(7, "A");
	uint64_t seq = 0;
	TU_OK(cj_journal_append(&seq, f->s, orig));
	assert_int_equal(seq, 1);

	cj_event *n1 = keyed(100, "new"), *n2 = keyed(101, "new"), *n3 = keyed(102, "new");
	cj_event *clash = keyed(7, "B");
	const cj_event *batch[4] = {n1, n2, clash, n3};
	uint64_t seqs[4];
	cj_error_clear();
	TU_RC(cj_journal_append_batch(seqs, f->s, batch, 4), CJ_ECONFLICT);
	assert_true(strlen(cj_error_last()) > 0);
	assert_int_equal(last_seq(f->s), 1);

	cj_ticket *t = NULL;
	int rc = cj_journal_submit(&t, f->s, batch, 4);
	if (rc == 0)
		rc = cj_ticket_wait(seqs, t);
	cj_ticket_free(t);
	assert_int_equal(rc, CJ_ECONFLICT);
	assert_int_equal(last_seq(f->s), 1);

	/* None of the batch's new ids was recorded: they are new now. */
	const cj_event *ok[3] = {n1, n2, n3};
	TU_OK(cj_journal_append_batch(seqs, f->s, ok, 3));
	assert_int_equal(seqs[0], 2);
	assert_int_equal(seqs[1], 3);
	assert_int_equal(seqs[2], 4);
	tu_recs r;
	assert_int_equal(tu_read_all(f->s, 1, &r), 0);
	assert_int_equal(r.n, 4);
	assert_string_equal(r.v[0].content, "payload of key 7 (A)");
	assert_string_equal(r.v[1].id, "key-100");
	tu_recs_free(&r);
	cj_event_free(orig);
	cj_event_free(n1);
	cj_event_free(n2);
	cj_event_free(n3);
	cj_event_free(clash);
}

/* A repeat inside one batch is an idempotent repeat of the batch's own event. */
static void test_repeat_within_batch(void **state)
{
	fixture *f = *state;
	cj_event *y = keyed(1, "y"), *z = keyed(2, "z"), *y_other = keyed(1, "other");
	const cj_event *batch[3] = {y, z, y};
	uint64_t seqs[3] = {0, 0, 0};
	TU_OK(cj_journal_append_batch(seqs, f->s, batch, 3));
	assert_int_equal(seqs[0], 1);
	assert_int_equal(seqs[1], 2);
	assert_int_equal(seqs[2], 1);
	assert_int_equal(last_seq(f->s), 2);

	cj_event *w = keyed(3, "w"), *v = keyed(4, "v"), *v_other = keyed(4, "other");
	const cj_event *clash[3] = {w, v, v_other};
	TU_RC(cj_journal_append_batch(seqs, f->s, clash, 3), CJ_ECONFLICT);
	assert_int_equal(last_seq(f->s), 2);
	const cj_event *clash_old[2] = {w, y_other};
	TU_RC(cj_journal_append_batch(seqs, f->s, clash_old, 2), CJ_ECONFLICT);
	assert_int_equal(last_seq(f->s), 2);
	cj_event_free(y);
	cj_event_free(z);
	cj_event_free(y_other);
	cj_event_free(w);
	cj_event_free(v);
	cj_event_free(v_other);
}

/* A client that did not set "ts" retries later: the time the journal filled
 * in is not part of the client's payload, so the retry is not a conflict. */
static void test_retry_without_ts_is_idempotent(void **state)
{
	fixture *f = *state;
	cj_event *ev = tu_message("idem", "no explicit time", "no-ts-1", 0);
	assert_non_null(ev);
	uint64_t seq = 0;
	TU_OK(cj_journal_append(&seq, f->s, ev));
	assert_int_equal(seq, 1);
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
	seq = 0;
	TU_OK(cj_journal_append(&seq, f->s, ev));
	assert_int_equal(seq, 1);
	cj_event *again = tu_message("idem", "no explicit time", "no-ts-1", 0);
	TU_OK(cj_journal_append(&seq, f->s, again));
	assert_int_equal(seq, 1);
	assert_int_equal(last_seq(f->s), 1);
	cj_event_free(again);
	cj_event_free(ev);
}

typedef struct racer {
	cj_store *s;
	unsigned index;
	int rc[200];
	uint64_t seq[200];
} racer;

static void *racer_main(void *arg)
{
	racer *r = arg;
	for (unsigned k = 0; k < 200; k++) {
		char variant[32];
		snprintf(variant, sizeof variant, "racer %u", r->index);
		cj_event *ev = keyed(k, variant);
		r->rc[k] = cj_journal_append(&r->seq[k], r->s, ev);
		cj_event_free(ev);
	}
	return NULL;
}

/* Four threads race to store the same 200 ids with different payloads: for
 * each id exactly one wins; the others get CJ_ECONFLICT. */
static void test_racing_conflicts_one_winner(void **state)
{
	fixture *f = *state;
	racer rs[4];
	pthread_t tids[4];
	for (unsigned t = 0; t < 4; t++) {
		memset(&rs[t], 0, sizeof rs[t]);
		rs[t].s = f->s;
		rs[t].index = t;
		assert_int_equal(pthread_create(&tids[t], NULL, racer_main, &rs[t]), 0);
	}
	for (unsigned t = 0; t < 4; t++)
		pthread_join(tids[t], NULL);
	assert_int_equal(last_seq(f->s), 200);
	for (unsigned k = 0; k < 200; k++) {
		int winners = 0;
		unsigned winner = 0;
		for (unsigned t = 0; t < 4; t++) {
			if (rs[t].rc[k] == 0) {
				winners++;
				winner = t;
			} else {
				assert_int_equal(rs[t].rc[k], CJ_ECONFLICT);
			}
		}
		if (winners != 1)
			fail_msg("key %u: %d threads were told their payload was stored", k, winners);
		cj_event *ev = NULL;
		TU_OK(cj_journal_get(&ev, NULL, f->s, rs[winner].seq[k]));
		char want[96];
		snprintf(want, sizeof want, "payload of key %u (racer %u)", k, winner);
		assert_string_equal(cj_event_get_string(ev, "content"), want);
		cj_event_free(ev);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_racing_retries_store_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_count_only_stored_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_id_other_payload_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_in_batch_stores_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeat_within_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_without_ts_is_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_racing_conflicts_one_winner, setup, teardown),
	};
	return cmocka_run_group_tests_name("component/idempotency", tests, NULL, NULL);
}
