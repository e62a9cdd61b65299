/* tests/component/test_map.c — the LMDB map under load: a store that starts
 * at 1 MiB grows (several times) while threads append 20 MiB, losing nothing;
 * a store with a small ceiling fails cleanly with CJ_EFULL ("full"), keeps
 * every acknowledged event, and resumes after reopening with a larger one. */
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
#include "testutil.h"

#define MiB ((uint64_t)1 << 20)
#define CONTENT_LEN 8192
#define GROW_THREADS 4
#define GROW_EVENTS 640      /* 4 threads * 640 * 8 KiB = 20 MiB */

/* The tests create the store at f->store themselves, with their map sizes. */
typedef tu_fixture fixture;

static int setup(void **state)
{
	return tu_fixture_setup_ex(state, sizeof(fixture), "map", NULL, TU_FIXTURE_NO_STORE);
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

/* 8 KiB of content unique to (tag, i), incompressible enough. */
static void content_of(char *out, unsigned tag, unsigned i)
{
	int w = snprintf(out, CONTENT_LEN + 1, "map test %u/%u ", tag, i);
	uint64_t x = ((uint64_t)tag << 32 | i) * 0x9E3779B97F4A7C15ULL + 1;
	for (size_t k = (size_t)w; k < CONTENT_LEN; k++)
		out[k] = (char)('a' + tu_rand(&x) % 26);
	out[CONTENT_LEN] = '\0';
}

static cj_event *big_event(unsigned tag, unsigned i)
{
	static _Thread_local char content[CONTENT_LEN + 1];
	content_of(content, tag, i);
	char id[48];
	snprintf(id, sizeof id, "map-%u-%u", tag, i);
	return tu_message("map", content, id, 0);
}

static void check_record(const tu_rec *r, unsigned tag, unsigned i)
{
	static char want[CONTENT_LEN + 1];
	content_of(want, tag, i);
	assert_non_null(r->content);
	assert_string_equal(r->content, want);
}

typedef struct grower {
	cj_store *s;
	unsigned index;
	uint64_t seqs[GROW_EVENTS];
	int rc;
	char msg[256];
} grower;

static void *grower_main(void *arg)
{
	grower *g = arg;
	for (unsigned i = 0; i < GROW_EVENTS && g->rc == 0;) {
		unsigned chunk = (g->index % 2 == 0) ? 1 : 8;
		cj_event *evs[8];
		for (unsigned k = 0; k < chunk; k++)
			evs[k] = big_event(g->index, i + k);
		int rc = chunk == 1 ? cj_journal_append(&g->seqs[i], g->s, evs[0])
		                    : cj_journal_append_batch(&g->seqs[i], g->s,
		                                              (const cj_event *const *)evs, chunk);
		if (rc != 0) {
			g->rc = rc;
			snprintf(g->msg, sizeof g->msg, "%s", cj_error_last());
		}
		for (unsigned k = 0; k < chunk; k++)
			cj_event_free(evs[k]);
		i += chunk;
	}
	return NULL;
}

static void test_map_grows_under_load(void **state)
{
	fixture *f = *state;
	cj_store_options opts = CJ_STORE_OPTIONS_INIT;
	opts.map_initial = 1 * MiB;
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, f->store, &opts));
	cj_journal_stats st;
	TU_OK(cj_journal_stats_get(&st, s));
	assert_true(st.map_size <= 2 * MiB);

	grower *gs = calloc(GROW_THREADS, sizeof *gs);
	assert_non_null(gs);
	pthread_t tids[GROW_THREADS];
	for (unsigned t = 0; t < GROW_THREADS; t++) {
		gs[t].s = s;
		gs[t].index = t;
		assert_int_equal(pthread_create(&tids[t], NULL, grower_main, &gs[t]), 0);
	}
	for (unsigned t = 0; t < GROW_THREADS; t++)
		pthread_join(tids[t], NULL);
	for (unsigned t = 0; t < GROW_THREADS; t++)
		if (gs[t].rc != 0)
			fail_msg("thread %u: %d (%s): %s", t, gs[t].rc, cj_strerror(gs[t].rc), gs[t].msg);

	const uint64_t total = (uint64_t)GROW_THREADS * GROW_EVENTS;
	TU_OK(cj_journal_stats_get(&st, s));
	print_message("map growth: %llu growths, map %llu bytes, file %llu bytes\n",
	              (unsigned long long)st.map_growths, (unsigned long long)st.map_size,
	              (unsigned long long)st.file_size);
	assert_true(st.map_growths >= 3);
	assert_true(st.map_size >= 20 * MiB);
	assert_int_equal(st.events, total);
	assert_int_equal(st.last_seq, total);

	/* Nothing lost: every acknowledged number holds its thread's event. */
	unsigned *owner = calloc(total + 1, sizeof *owner);
	assert_non_null(owner);
	for (unsigned t = 0; t < GROW_THREADS; t++)
		for (unsigned i = 0; i < GROW_EVENTS; i++) {
			uint64_t seq = gs[t].seqs[i];
			assert_true(seq >= 1 && seq <= total);
			assert_int_equal(owner[seq], 0);
			owner[seq] = t * GROW_EVENTS + i + 1;
		}
	tu_recs r;
	assert_int_equal(tu_read_all(s, 1, &r), 0);
	assert_int_equal(r.n, total);
	assert_int_equal(r.corrupt, 0);
	for (size_t k = 0; k < r.n; k++) {
		assert_int_equal(r.v[k].seq, k + 1);
		unsigned o = owner[k + 1] - 1;
		check_record(&r.v[k], o / GROW_EVENTS, o % GROW_EVENTS);
	}
	tu_recs_free(&r);
	uint64_t checked = 0, bad = 1;
	TU_OK(cj_journal_check(&checked, &bad, s));
	assert_int_equal(checked, total);
	uint64_t pages = 0, bad_page = 1;
	TU_OK(cj_journal_check_pages(&pages, &bad_page, s));
	cj_store_close(s);

	/* Reopening with the small initial size keeps everything. */
	TU_OK(cj_store_open(&s, f->store, &opts));
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, total);
	cj_event *ev = big_event(99, 0);
	uint64_t seq = 0;
	TU_OK(cj_journal_append(&seq, s, ev));
	assert_int_equal(seq, total + 1);
	cj_event_free(ev);
	cj_store_close(s);
	free(owner);
	free(gs);
}

static void test_map_ceiling_is_clear_and_recoverable(void **state)
{
	fixture *f = *state;
	cj_store_options opts = CJ_STORE_OPTIONS_INIT;
	opts.map_initial = 1 * MiB;
	opts.map_ceiling = 2 * MiB;
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, f->store, &opts));

	/* Fill with batches of 5 x 8 KiB until refused. */
	unsigned acked = 0;
	int rc = 0;
	char msg[512] = "";
	for (unsigned b = 0; b < 200; b++) {
		cj_event *evs[5];
		uint64_t seqs[5];
		for (unsigned k = 0; k < 5; k++)
			evs[k] = big_event(1, acked + k);
		cj_error_clear();
		rc = cj_journal_append_batch(seqs, s, (const cj_event *const *)evs, 5);
		for (unsigned k = 0; k < 5; k++)
			cj_event_free(evs[k]);
		if (rc != 0) {
			snprintf(msg, sizeof msg, "%s", cj_error_last());
			break;
		}
		for (unsigned k = 0; k < 5; k++)
			assert_int_equal(seqs[k], acked + k + 1);
		acked += 5;
	}
	print_message("ceiling 2 MiB: %u events acknowledged, then %d: %s\n", acked, rc, msg);
	assert_int_equal(rc, CJ_EFULL);
	assert_non_null(strstr(msg, "full"));
	assert_true(acked >= 50);  /* 2 MiB holds well over 50 x 8 KiB */

	/* Nothing of the refused batch was stored. */
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, acked);
	/* Single events may still fit; fill up with them until refused too. */
	cj_event *ev = NULL;
	uint64_t seq = 0;
	for (unsigned i = 0; i < 100; i++) {
		ev = big_event(1, acked);
		cj_error_clear();
		rc = cj_journal_append(&seq, s, ev);
		cj_event_free(ev);
		if (rc != 0)
			break;
		assert_int_equal(seq, (uint64_t)acked + 1);
		acked++;
	}
	assert_int_equal(rc, CJ_EFULL);
	assert_non_null(strstr(cj_error_last(), "full"));
	/* Full stays full (and clear) for the same event, and nothing is stored. */
	ev = big_event(1, acked);
	TU_RC(cj_journal_append(&seq, s, ev), CJ_EFULL);
	cj_event_free(ev);
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, acked);
	cj_journal_stats st;
	TU_OK(cj_journal_stats_get(&st, s));
	assert_int_equal(st.map_ceiling, 2 * MiB);
	assert_true(st.map_size <= 2 * MiB);

	/* Every acknowledged event still readable, with its content. */
	tu_recs r;
	assert_int_equal(tu_read_all(s, 1, &r), 0);
	assert_int_equal(r.n, acked);
	for (size_t k = 0; k < r.n; k++) {
		assert_int_equal(r.v[k].seq, k + 1);
		check_record(&r.v[k], 1, (unsigned)k);
	}
	tu_recs_free(&r);
	uint64_t checked = 0, bad = 1;
	TU_OK(cj_journal_check(&checked, &bad, s));
	assert_int_equal(checked, acked);
	uint64_t pages = 0, bad_page = 1;
	TU_OK(cj_journal_check_pages(&pages, &bad_page, s));
	cj_store_close(s);

	/* Reopen with a larger ceiling: appends resume where they stopped. */
	opts.map_ceiling = 64 * MiB;
	TU_OK(cj_store_open(&s, f->store, &opts));
	for (unsigned i = 0; i < 300; i++) {
		ev = big_event(1, acked + i);
		TU_OK(cj_journal_append(&seq, s, ev));
		assert_int_equal(seq, (uint64_t)acked + i + 1);
		cj_event_free(ev);
	}
	assert_int_equal(tu_read_all(s, 1, &r), 0);
	assert_int_equal(r.n, acked + 300);
	for (size_t k = 0; k < r.n; k++)
		check_record(&r.v[k], 1, (unsigned)k);
	tu_recs_free(&r);
	cj_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_grows_under_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_ceiling_is_clear_and_recoverable, setup, teardown),
	};
	return cmocka_run_group_tests_name("component/map", tests, NULL, NULL);
}
