/* tests/component/test_append.c — every acknowledged append is readable, in
 * order, with the exact content written, through cj_journal_get and through
 * the iterator; refused events store nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"

#define N_EVENTS 300
#define TS_BASE  INT64_C(1700000000000)

typedef tu_fixture fixture;

static int setup(void **state) { return tu_fixture_setup(state, "append", NULL); }
static int teardown(void **state) { return tu_fixture_teardown(state); }

/* Content of event i: mixed scripts, and a few large ones (overflow pages). */
static char *content_of(unsigned i)
{
	size_t len = (i % 50 == 7) ? (size_t)60000 + i : 40 + i % 200;
	char *c = malloc(len + 1);
	assert_non_null(c);
	int head = snprintf(c, len + 1, "event %u: h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80 ", i);
	for (size_t k = (size_t)head; k < len; k++)
		c[k] = (char)('a' + (k * 7 + i) % 26);
	c[len] = '\0';
	return c;
}

static void id_of(char *out, size_t n, unsigned i)
{
	snprintf(out, n, "append-%u", i);
}

static void thread_of(char *out, size_t n, unsigned i)
{
	snprintf(out, n, "thread-%u", i % 7);
}

static cj_event *event_of(unsigned i)
{
	char id[32], thread[32];
	id_of(id, sizeof id, i);
	thread_of(thread, sizeof thread, i);
	char *content = content_of(i);
	cj_event *ev = tu_message(thread, content, id, TS_BASE + i);
	free(content);
	assert_non_null(ev);
	return ev;
}

static void check_event(const cj_event *ev, unsigned i)
{
	char id[32], thread[32];
	id_of(id, sizeof id, i);
	thread_of(thread, sizeof thread, i);
	char *content = content_of(i);
	assert_int_equal(cj_event_get_type(ev), CJ_EVENT_MESSAGE);
	assert_string_equal(cj_event_get_string(ev, "id"), id);
	assert_string_equal(cj_event_get_string(ev, "thread"), thread);
	assert_string_equal(cj_event_get_string(ev, "role"), "user");
	assert_string_equal(cj_event_get_string(ev, "content"), content);
	int64_t ts = 0;
	assert_int_equal(cj_event_get_ts(&ts, ev), 1);
	assert_int_equal(ts, TS_BASE + i);
	free(content);
}

/* Appends events 0..N_EVENTS-1 through the three paths; returns nothing,
 * asserts the sequence numbers 1..N in order. */
static void append_all(cj_store *s)
{
	unsigned i = 0;
	for (; i < 100; i++) {
		cj_event *ev = event_of(i);
		uint64_t seq = 0;
		TU_OK(cj_journal_append(&seq, s, ev));
		assert_int_equal(seq, (uint64_t)i + 1);
		cj_event_free(ev);
	}
	for (; i < 200; i += 10) {
		cj_event *evs[10];
		uint64_t seqs[10];
		for (unsigned k = 0; k < 10; k++)
			evs[k] = event_of(i + k);
		TU_OK(cj_journal_append_batch(seqs, s, (const cj_event *const *)evs, 10));
		for (unsigned k = 0; k < 10; k++) {
			assert_int_equal(seqs[k], (uint64_t)i + k + 1);
			cj_event_free(evs[k]);
		}
	}
	for (; i < N_EVENTS; i += 25) {
		cj_event *evs[25];
		uint64_t seqs[25];
		for (unsigned k = 0; k < 25; k++)
			evs[k] = event_of(i + k);
		cj_ticket *t = NULL;
		TU_OK(cj_journal_submit(&t, s, (const cj_event *const *)evs, 25));
		for (unsigned k = 0; k < 25; k++)
			cj_event_free(evs[k]); /* the ticket holds copies */
		TU_OK(cj_ticket_wait(seqs, t));
		assert_int_equal(cj_ticket_done(t), 1);
		for (unsigned k = 0; k < 25; k++)
			assert_int_equal(seqs[k], (uint64_t)i + k + 1);
		cj_ticket_free(t);
	}
}

static void test_get_returns_what_was_appended(void **state)
{
	fixture *f = *state;
	append_all(f->s);
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, f->s));
	assert_int_equal(last, N_EVENTS);
	for (unsigned i = 0; i < N_EVENTS; i++) {
		cj_event *ev = NULL;
		cj_record rec;
		memset(&rec, 0, sizeof rec);
		TU_OK(cj_journal_get(&ev, &rec, f->s, (uint64_t)i + 1));
		assert_int_equal(rec.seq, (uint64_t)i + 1);
		assert_int_equal(rec.type, CJ_EVENT_MESSAGE);
		assert_int_equal(rec.ts_ms, TS_BASE + i);
		assert_int_equal(rec.flags, 0);
		assert_true(rec.body_len > 0);
		assert_ptr_equal(rec.event, ev);
		check_event(ev, i);
		cj_event_free(ev);
	}
	cj_event *ev = NULL;
	TU_RC(cj_journal_get(&ev, NULL, f->s, 0), CJ_ENOTFOUND);
	TU_RC(cj_journal_get(&ev, NULL, f->s, N_EVENTS + 1), CJ_ENOTFOUND);
	TU_RC(cj_journal_get(&ev, NULL, f->s, UINT64_MAX), CJ_ENOTFOUND);
}

static void test_iterator_returns_all_in_order(void **state)
{
	fixture *f = *state;
	append_all(f->s);
	cj_journal_iter *it = NULL;
	TU_OK(cj_journal_iter_new(&it, f->s, 1));
	unsigned i = 0;
	cj_record rec;
	int rc;
	while ((rc = cj_journal_iter_next(&rec, it)) == 1) {
		assert_true(i < N_EVENTS);
		assert_int_equal(rec.seq, (uint64_t)i + 1);
		assert_int_equal(rec.type, CJ_EVENT_MESSAGE);
		assert_int_equal(rec.ts_ms, TS_BASE + i);
		check_event(rec.event, i);
		i++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, N_EVENTS);

	/* Records appended while the iterator is at the end are seen. */
	cj_event *ev = event_of(N_EVENTS);
	uint64_t seq = 0;
	TU_OK(cj_journal_append(&seq, f->s, ev));
	assert_int_equal(seq, N_EVENTS + 1);
	cj_event_free(ev);
	assert_int_equal(cj_journal_iter_next(&rec, it), 1);
	assert_int_equal(rec.seq, N_EVENTS + 1);
	check_event(rec.event, N_EVENTS);
	assert_int_equal(cj_journal_iter_next(&rec, it), 0);
	cj_journal_iter_free(it);

	/* Starting in the middle, and past the end. */
	tu_recs r;
	assert_int_equal(tu_read_all(f->s, 150, &r), 0);
	assert_int_equal(r.n, N_EVENTS + 1 - 149);
	assert_int_equal(r.v[0].seq, 150);
	assert_int_equal(r.v[r.n - 1].seq, N_EVENTS + 1);
	tu_recs_free(&r);
	assert_int_equal(tu_read_all(f->s, N_EVENTS + 2, &r), 0);
	assert_int_equal(r.n, 0);
	tu_recs_free(&r);
	/* from_seq 0 means the beginning. */
	assert_int_equal(tu_read_all(f->s, 0, &r), 0);
	assert_int_equal(r.n, N_EVENTS + 1);
	assert_int_equal(r.v[0].seq, 1);
	tu_recs_free(&r);
	cj_journal_iter_free(NULL);
}

static void test_other_event_types_round_trip(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *json;
		cj_event_type type;
	} cases[] = {
		{"{\"type\":\"user\",\"user\":\"U1\",\"timezone\":\"Europe/Paris\",\"tz_offset\":3600}", CJ_EVENT_USER},
		{"{\"type\":\"setting\",\"key\":\"model\",\"value\":{\"name\":\"x\",\"n\":[1,2]}}", CJ_EVENT_SETTING},
		{"{\"type\":\"metric\",\"name\":\"latency\",\"value\":12.5,\"unit\":\"ms\"}", CJ_EVENT_METRIC},
		{"{\"type\":\"thread_config\",\"thread\":\"T\",\"config\":{\"temperature\":0.5}}", CJ_EVENT_THREAD_CONFIG},
		{"{\"type\":\"delete_thread\",\"thread\":\"T\"}", CJ_EVENT_DELETE_THREAD},
		{"{\"type\":\"image\",\"thread\":\"T\",\"url\":\"https://example.org/a.png\",\"prompt\":\"a cat\"}", CJ_EVENT_IMAGE},
	};
	const size_t n = sizeof cases / sizeof cases[0];
	for (size_t i = 0; i < n; i++) {
		cj_event *ev = NULL;
		TU_OK(cj_event_parse(&ev, cases[i].json, strlen(cases[i].json)));
		uint64_t seq = 0;
		TU_OK(cj_journal_append(&seq, f->s, ev));
		assert_int_equal(seq, i + 1);
		cj_event_free(ev);
	}
	for (size_t i = 0; i < n; i++) {
		cj_event *ev = NULL;
		cj_record rec;
		TU_OK(cj_journal_get(&ev, &rec, f->s, i + 1));
		assert_int_equal(rec.type, cases[i].type);
		assert_int_equal(cj_event_get_type(ev), cases[i].type);
		cj_event_free(ev);
	}
	cj_event *ev = NULL;
	TU_OK(cj_journal_get(&ev, NULL, f->s, 1));
	assert_string_equal(cj_event_get_string(ev, "timezone"), "Europe/Paris");
	cj_event_free(ev);
}

static void test_refused_events_store_nothing(void **state)
{
	fixture *f = *state;
	cj_event *good = tu_message("T", "fine", "good-1", 0);
	assert_non_null(good);
	uint64_t seq = 0;
	TU_OK(cj_journal_append(&seq, f->s, good));
	assert_int_equal(seq, 1);

	/* A message without content. */
	cj_event *bad = NULL;
	TU_OK(cj_event_new(&bad, "message"));
	TU_OK(cj_event_set_string(bad, "thread", "T"));
	TU_OK(cj_event_set_string(bad, "role", "user"));
	cj_error_clear();
	TU_RC(cj_journal_append(&seq, f->s, bad), CJ_EINVAL);
	assert_non_null(cj_error_field());
	assert_string_equal(cj_error_field(), "content");

	/* A batch whose third event is invalid stores none of them. */
	cj_event *a = tu_message("T", "batch a", "batch-a", 0);
	cj_event *b = tu_message("T", "batch b", "batch-b", 0);
	const cj_event *batch[4] = {a, b, bad, good};
	uint64_t seqs[4];
	cj_error_clear();
	TU_RC(cj_journal_append_batch(seqs, f->s, batch, 4), CJ_EINVAL);
	assert_string_equal(cj_error_field(), "content");
	/* The message names the index of the bad event. */
	assert_true(tu_msg_names_number(cj_error_last(), 2));
	cj_ticket *t = NULL;
	TU_RC(cj_journal_submit(&t, f->s, batch, 4), CJ_EINVAL);

	/* Content over the store's limit: CJ_ETOOBIG naming the field. */
	size_t big_len = ((size_t)1 << 20) + 1;
	char *big = malloc(big_len + 1);
	assert_non_null(big);
	memset(big, 'x', big_len);
	big[big_len] = '\0';
	cj_event *huge = tu_message("T", big, "huge", 0);
	free(big);
	assert_non_null(huge);
	cj_error_clear();
	TU_RC(cj_journal_append(&seq, f->s, huge), CJ_ETOOBIG);
	assert_string_equal(cj_error_field(), "content");

	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, f->s));
	assert_int_equal(last, 1);
	/* The refused batch's valid events were not stored: they get new numbers now. */
	TU_OK(cj_journal_append(&seq, f->s, a));
	assert_int_equal(seq, 2);
	TU_OK(cj_journal_append(&seq, f->s, b));
	assert_int_equal(seq, 3);
	cj_event_free(a);
	cj_event_free(b);
	cj_event_free(bad);
	cj_event_free(good);
	cj_event_free(huge);
}

/* An event checked once at parse (against the store's own limits) is not
 * checked again at append, unless it changed since: a setter makes it
 * valid-unknown, and the append checks it again. */
static void test_changed_after_parse_is_checked_again(void **state)
{
	fixture *f = *state;
	const char *json = "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"ok\"}";
	cj_event **evs = NULL;
	size_t n = 0;
	int is_array = 0;
	long bad = -1;
	TU_OK(cj_event_parse_many(&evs, &n, &is_array, &bad, json, strlen(json),
	                          cj_store_limits(f->s), 1));
	TU_OK(cj_event_set_string(evs[0], "role", "robot"));
	uint64_t seq = 0;
	cj_error_clear();
	TU_RC(cj_journal_append(&seq, f->s, evs[0]), CJ_EINVAL);
	assert_string_equal(cj_error_field(), "role");
	TU_OK(cj_event_set_string(evs[0], "role", "assistant"));
	TU_OK(cj_journal_append(&seq, f->s, evs[0]));
	assert_int_equal(seq, 1);
	cj_events_free(evs, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_changed_after_parse_is_checked_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_returns_what_was_appended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iterator_returns_all_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_event_types_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_events_store_nothing, setup, teardown),
	};
	return cmocka_run_group_tests_name("component/append", tests, NULL, NULL);
}
