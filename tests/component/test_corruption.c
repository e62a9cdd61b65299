/* tests/component/test_corruption.c — a byte flipped inside a committed
 * record's body on disk is found: cj_journal_check and cj_journal_get report
 * CJ_ECORRUPT naming the sequence number, the iterator reports it and goes on
 * to the next record, the rest stays readable and appends continue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "testutil.h"

#define N_EVENTS 60
#define SMALL_TARGET 37  /* a record inside a leaf page */
#define BIG_TARGET 50    /* a record on its own overflow pages */

/* The tests create the store at f->tu.store themselves. */
typedef struct fixture {
	tu_fixture tu;
	char small_marker[64];
	char big_marker[64];
} fixture;

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "corrupt", NULL, TU_FIXTURE_NO_STORE) != 0)
		return -1;
	fixture *f = *state;
	uint64_t x = tu_now_ns() | 1;
	snprintf(f->small_marker, sizeof f->small_marker, "SMALLTARGET%016llx",
	         (unsigned long long)tu_rand(&x));
	snprintf(f->big_marker, sizeof f->big_marker, "BIGTARGET%016llx",
	         (unsigned long long)tu_rand(&x));
	return 0;
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

static char *content_of(const fixture *f, unsigned seq)
{
	size_t len = seq == BIG_TARGET ? 12000 : 80;
	char *c = malloc(len + 1);
	assert_non_null(c);
	int w;
	if (seq == SMALL_TARGET)
		w = snprintf(c, len + 1, "record %u %s ", seq, f->small_marker);
	else if (seq == BIG_TARGET)
		w = snprintf(c, len + 1, "record %u %s ", seq, f->big_marker);
	else
		w = snprintf(c, len + 1, "record %u ", seq);
	for (size_t k = (size_t)w; k < len; k++)
		c[k] = (char)('a' + (k * 3 + seq) % 26);
	c[len] = '\0';
	return c;
}

static void fill_store(fixture *f)
{
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, f->tu.store, NULL));
	for (unsigned i = 1; i <= N_EVENTS; i++) {
		char *content = content_of(f, i);
		cj_event *ev = tu_message("corrupt", content, NULL, 0);
		free(content);
		assert_non_null(ev);
		uint64_t seq = 0;
		TU_OK(cj_journal_append(&seq, s, ev));
		assert_int_equal(seq, i);
		cj_event_free(ev);
	}
	cj_store_close(s);
}

static unsigned flip_marker(const fixture *f, const char *marker)
{
	unsigned hits = 0;
	assert_int_equal(tu_flip_marker(f->tu.store, "data.mdb", marker, &hits), 0);
	return hits;
}

static void expect_readable(cj_store *s, const fixture *f, unsigned seq)
{
	cj_event *ev = NULL;
	TU_OK(cj_journal_get(&ev, NULL, s, seq));
	char *want = content_of(f, seq);
	assert_string_equal(cj_event_get_string(ev, "content"), want);
	free(want);
	cj_event_free(ev);
}

static void expect_corrupt_get(cj_store *s, unsigned seq)
{
	cj_event *ev = NULL;
	cj_error_clear();
	int rc = cj_journal_get(&ev, NULL, s, seq);
	if (rc != CJ_ECORRUPT)
		fail_msg("cj_journal_get(%u) on a damaged record returned %d (%s), expected CJ_ECORRUPT",
		         seq, rc, cj_strerror(rc));
	if (!tu_msg_names_number(cj_error_last(), seq))
		fail_msg("message does not name seq %u: \"%s\"", seq, cj_error_last());
}

static void test_flipped_small_record(void **state)
{
	fixture *f = *state;
	fill_store(f);
	assert_true(flip_marker(f, f->small_marker) >= 1);

	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->tu.store, NULL));
	uint64_t checked = 0, bad = 0;
	cj_error_clear();
	TU_RC(cj_journal_check(&checked, &bad, s), CJ_ECORRUPT);
	assert_int_equal(bad, SMALL_TARGET);
	if (!tu_msg_names_number(cj_error_last(), SMALL_TARGET))
		fail_msg("check message does not name seq %d: \"%s\"", SMALL_TARGET, cj_error_last());
	/* Every record was read; whether the bad one counts as checked is open. */
	assert_true(checked == N_EVENTS || checked == N_EVENTS - 1);

	expect_corrupt_get(s, SMALL_TARGET);
	expect_readable(s, f, SMALL_TARGET - 1);
	expect_readable(s, f, SMALL_TARGET + 1);

	tu_recs r;
	assert_int_equal(tu_read_all(s, 1, &r), 0);
	assert_int_equal(r.corrupt, 1);
	assert_int_equal(r.first_corrupt_seq, SMALL_TARGET);
	if (!tu_msg_names_number(r.corrupt_msg, SMALL_TARGET))
		fail_msg("iterator message does not name seq %d: \"%s\"", SMALL_TARGET, r.corrupt_msg);
	assert_int_equal(r.n, N_EVENTS - 1);
	for (size_t k = 0; k < r.n; k++) {
		uint64_t want_seq = k + 1 < SMALL_TARGET ? k + 1 : k + 2;
		assert_int_equal(r.v[k].seq, want_seq);
		char *want = content_of(f, (unsigned)want_seq);
		assert_string_equal(r.v[k].content, want);
		free(want);
	}
	tu_recs_free(&r);

	/* Starting the iterator on the damaged record itself. */
	cj_journal_iter *it = NULL;
	TU_OK(cj_journal_iter_new(&it, s, SMALL_TARGET));
	cj_record rec;
	assert_int_equal(cj_journal_iter_next(&rec, it), CJ_ECORRUPT);
	assert_int_equal(rec.seq, SMALL_TARGET);
	assert_int_equal(cj_journal_iter_next(&rec, it), 1);
	assert_int_equal(rec.seq, SMALL_TARGET + 1);
	cj_journal_iter_free(it);

	/* The journal keeps working. */
	cj_event *ev = tu_message("corrupt", "after the damage", NULL, 0);
	uint64_t seq = 0;
	TU_OK(cj_journal_append(&seq, s, ev));
	assert_int_equal(seq, N_EVENTS + 1);
	cj_event_free(ev);
	cj_store_close(s);
}

static void test_flipped_big_and_small_records(void **state)
{
	fixture *f = *state;
	fill_store(f);
	assert_true(flip_marker(f, f->big_marker) >= 1);
	assert_true(flip_marker(f, f->small_marker) >= 1);

	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->tu.store, NULL));
	uint64_t checked = 0, bad = 0;
	TU_RC(cj_journal_check(&checked, &bad, s), CJ_ECORRUPT);
	assert_int_equal(bad, SMALL_TARGET);
	expect_corrupt_get(s, BIG_TARGET);
	expect_corrupt_get(s, SMALL_TARGET);

	tu_recs r;
	assert_int_equal(tu_read_all(s, 1, &r), 0);
	assert_int_equal(r.corrupt, 2);
	assert_int_equal(r.n, N_EVENTS - 2);
	assert_int_equal(r.v[r.n - 1].seq, N_EVENTS);
	tu_recs_free(&r);
	assert_int_equal(tu_read_all(s, SMALL_TARGET + 1, &r), 0);
	assert_int_equal(r.corrupt, 1);
	assert_int_equal(r.first_corrupt_seq, BIG_TARGET);
	if (!tu_msg_names_number(r.corrupt_msg, BIG_TARGET))
		fail_msg("iterator message does not name seq %d: \"%s\"", BIG_TARGET, r.corrupt_msg);
	assert_int_equal(r.n, N_EVENTS - SMALL_TARGET - 1);
	tu_recs_free(&r);
	cj_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flipped_small_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_big_and_small_records, setup, teardown),
	};
	return cmocka_run_group_tests_name("component/corruption", tests, NULL, NULL);
}
