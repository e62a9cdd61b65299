/* tests/projection/test_damaged.c — one bad journal record does not block
 * everything: replay stops at it naming its sequence number and replaces
 * nothing; with skip_damaged it rebuilds the rest, lists the record in
 * damaged_records (same rows in two replays: the state hash agrees), and the
 * live materializer goes on from there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "putil.h"

#define N 40
#define BAD 17

typedef struct fixture {
	tu_fixture tu;
	char marker[64];
} fixture;

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "damaged", NULL, TU_FIXTURE_NO_STORE) != 0)
		return -1;
	fixture *f = *state;
	uint64_t x = tu_now_ns() | 1;
	snprintf(f->marker, sizeof f->marker, "DAMAGEDMARK%016llx", (unsigned long long)tu_rand(&x));
	return 0;
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

/* N messages, record BAD carrying the marker; then one bit of it flipped. */
static void make_damaged_store(fixture *f)
{
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, f->tu.store, NULL));
	for (unsigned i = 1; i <= N; i++) {
		uint64_t seq = 0;
		TU_OK(pu_appendf(s, &seq, "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\","
		                 "\"content\":\"message %u %s\"}", i, i == BAD ? f->marker : "plain"));
		assert_int_equal(seq, i);
	}
	TU_OK(cj_wait_applied(s, N, 5000));
	cj_store_close(s);
	unsigned hits = 0;
	assert_int_equal(tu_flip_marker(f->tu.store, "data.mdb", f->marker, &hits), 0);
	assert_true(hits >= 1);
}

static void test_replay_stops_at_a_damaged_record(void **state)
{
	fixture *f = *state;
	make_damaged_store(f);
	char live[PATH_MAX], out[PATH_MAX];
	pu_sqlite_path(live, sizeof live, f->tu.store);
	tu_path(out, sizeof out, f->tu.dir, "out.sqlite");
	char before[33], after[33];
	TU_OK(cj_projection_hash(before, NULL, live));

	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->tu.store, NULL));
	TU_RC(cj_projection_replay(s, NULL), CJ_ECORRUPT);
	if (!tu_msg_names_number(cj_error_last(), BAD))
		fail_msg("the error does not name record %d: %s", BAD, cj_error_last());
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.out_path = out;
	TU_RC(cj_projection_replay(s, &ro), CJ_ECORRUPT);
	cj_store_close(s);
	/* Nothing was replaced, nothing left behind. */
	TU_OK(cj_projection_hash(after, NULL, live));
	assert_string_equal(before, after);
	char leftover[PATH_MAX + 16];
	snprintf(leftover, sizeof leftover, "%s.replay-tmp", live);
	assert_int_equal(access(leftover, F_OK), -1);
	assert_int_equal(access(out, F_OK), -1);
}

static void test_skip_damaged_recovers_the_rest(void **state)
{
	fixture *f = *state;
	make_damaged_store(f);
	char live[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	pu_sqlite_path(live, sizeof live, f->tu.store);
	tu_path(a, sizeof a, f->tu.dir, "a.sqlite");
	tu_path(b, sizeof b, f->tu.dir, "b.sqlite");

	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->tu.store, NULL));
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.skip_damaged = 1;
	ro.out_path = a;
	TU_OK(cj_projection_replay(s, &ro));
	ro.out_path = b;
	TU_OK(cj_projection_replay(s, &ro));
	char ha[33], hb[33];
	TU_OK(cj_projection_hash(ha, NULL, a));
	TU_OK(cj_projection_hash(hb, NULL, b));
	assert_string_equal(ha, hb);

	/* Every other message is there; the damaged one is listed. */
	assert_int_equal(pu_int(a, "SELECT count(*) FROM messages"), N - 1);
	assert_int_equal(pu_int(a, "SELECT count(*) FROM messages WHERE seq = 17"), 0);
	assert_int_equal(pu_int(a, "SELECT seq FROM journal_position"), N);
	char *rows = pu_rows(a, "SELECT seq FROM damaged_records");
	assert_string_equal(rows, "17");
	free(rows);
	rows = pu_rows(a, "SELECT error FROM damaged_records");
	if (!strstr(rows, "17"))
		fail_msg("damaged_records.error does not name the record: %s", rows);
	free(rows);

	/* In place: the live projection becomes the recovered one and the
	 * materializer goes on after it. */
	ro.out_path = NULL;
	TU_OK(cj_projection_replay(s, &ro));
	uint64_t seq = 0;
	TU_OK(pu_appendf(s, &seq, "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\","
	                 "\"content\":\"after the repair\"}"));
	TU_OK(cj_wait_applied(s, seq, 5000));
	assert_int_equal(pu_int(live, "SELECT count(*) FROM messages"), N);
	assert_int_equal(pu_int(live, "SELECT count(*) FROM damaged_records"), 1);
	cj_health h;
	TU_OK(cj_store_health(&h, s));
	assert_int_equal(h.ok, 1);
	cj_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replay_stops_at_a_damaged_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_damaged_recovers_the_rest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
