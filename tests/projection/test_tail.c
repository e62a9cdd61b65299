/* tests/projection/test_tail.c — messages_tail (009_messages_tail.sql), the
 * copy of each thread's newest 64 messages that a thread's "last N" read
 * comes from. Through appends, edits, reactions, attachments, display names,
 * every kind of deletion, a migration from schema 8 and a reader of an
 * unmigrated file: the table holds exactly what its rule says
 * (messages_tail_newest), and the read answers byte for byte what the same
 * read through messages answers (forced with before = INT64_MAX), with the
 * same "more" and cursor. Each test ends with a replay whose state hash
 * equals the live projection's and a passing cj_projection_check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "putil.h"

#define WAIT_MS 20000
#define TAIL 64 /* 009_messages_tail.sql */

typedef struct fixture {
	tu_fixture tu;
	char db[PATH_MAX];
	char blob[CJ_BLOB_HASH_LEN + 1];
} fixture;

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "proj-tail", NULL, 0) != 0)
		return -1;
	fixture *f = *state;
	pu_sqlite_path(f->db, sizeof f->db, f->tu.store);
	static const char png[] = "\x89PNG\r\n\x1a\n tail attachment";
	if (cj_blob_put(f->blob, f->tu.s, png, sizeof png - 1) != 0) {
		tu_fixture_teardown(state);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	int rc = f->tu.s ? pu_replay_matches(&f->tu, WAIT_MS) : -1;
	tu_fixture_teardown(state);
	return rc;
}

/* Append one event, written with printf formatting, and wait until it is
 * applied. */
#define put(f, ...) do { \
		uint64_t put_seq_ = 0; \
		if (pu_appendf((f)->tu.s, &put_seq_, __VA_ARGS__) != 0) \
			fail_msg("append %s: %s", #__VA_ARGS__, cj_error_last()); \
		TU_OK(cj_wait_applied((f)->tu.s, put_seq_, WAIT_MS)); \
	} while (0)

/* n messages m<first>..m<first+n-1> in thread, users U0..U2 in turn and
 * every fourth without a user, one batch. */
static void messages(fixture *f, const char *thread, int first, int n)
{
	cj_event **evs = calloc((size_t)n, sizeof *evs);
	uint64_t *seqs = calloc((size_t)n, sizeof *seqs);
	assert_non_null(evs);
	assert_non_null(seqs);
	for (int i = 0; i < n; i++) {
		char json[300];
		int k = first + i;
		char user[32] = "";
		if (k % 4 != 3)
			snprintf(user, sizeof user, ",\"user\":\"U%d\"", k % 4);
		snprintf(json, sizeof json, "{\"type\":\"message\",\"id\":\"m%d\",\"thread\":\"%s\",\"role\":\"user\","
		         "\"content\":\"say %d\",\"server\":\"S%d\"%s,\"ts\":%lld}", k, thread, k, k % 2, user,
		         (long long)(PU_T0 + 1000 * k));
		TU_OK(cj_event_parse(&evs[i], json, strlen(json)));
	}
	TU_OK(cj_journal_append_batch(seqs, f->tu.s, (const cj_event *const *)evs, (size_t)n));
	TU_OK(cj_wait_applied(f->tu.s, seqs[n - 1], WAIT_MS));
	for (int i = 0; i < n; i++)
		cj_event_free(evs[i]);
	free(evs);
	free(seqs);
}

/* The table holds exactly its rule's rows, and `thread` has `rows` of them. */
static void tail_is_true(fixture *f, const char *thread, long long rows)
{
	PU_ROWS(f->db, "SELECT (SELECT count(*) FROM (SELECT * FROM messages_tail EXCEPT"
	        " SELECT * FROM messages_tail_newest)), (SELECT count(*) FROM (SELECT * FROM"
	        " messages_tail_newest EXCEPT SELECT * FROM messages_tail))", "0|0");
	char sql[200];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM messages_tail WHERE thread_rowid ="
	         " (SELECT thread_rowid FROM threads WHERE thread = '%s')", thread);
	assert_int_equal(pu_int(f->db, sql), rows);
}

/* The last `limit` of thread, read from the tail and through messages: the
 * same text, `rows` rows, the same page. */
static void both_ways(fixture *f, const char *thread, unsigned limit, int rows, int more)
{
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = thread;
	q.limit = limit;
	char *tail = NULL, *plain = NULL;
	cj_page pt, pp;
	TU_OK(cj_query_history_page(&tail, &pt, f->tu.s, &q));
	q.before = INT64_MAX;
	TU_OK(cj_query_history_page(&plain, &pp, f->tu.s, &q));
	if (strcmp(tail, plain) != 0)
		fail_msg("%s, last %u:\n  tail  %.600s\n  plain %.600s", thread, limit, tail, plain);
	assert_int_equal(pt.more, more);
	assert_int_equal(pp.more, more);
	assert_int_equal(pt.before, pp.before);
	char *seqs = pu_seqs(tail);
	int n = *seqs ? 1 : 0;
	for (const char *c = seqs; *c; c++)
		n += *c == ',';
	assert_int_equal(n, rows);
	free(seqs);
	cj_free(tail);
	cj_free(plain);
}

static void test_appends(void **state)
{
	fixture *f = *state;
	messages(f, "A", 0, 100);
	messages(f, "B", 100, 10);
	tail_is_true(f, "A", TAIL);
	tail_is_true(f, "B", 10);
	/* the tail holds A's newest: seqs 37..100 */
	PU_ROWS(f->db, "SELECT min(seq), max(seq) FROM messages_tail WHERE thread_rowid = 1", "37|100");
	both_ways(f, "A", 1, 1, 1);
	both_ways(f, "A", 50, 50, 1);
	both_ways(f, "A", TAIL - 1, TAIL - 1, 1);  /* the widest read the tail answers */
	both_ways(f, "A", TAIL, TAIL, 1);          /* through messages both times */
	both_ways(f, "A", 100, 100, 0);
	both_ways(f, "B", 50, 10, 0);
	both_ways(f, "B", 9, 9, 1);
	both_ways(f, "nobody", 50, 0, 0);
	/* interleaved threads, one message at a time */
	for (int k = 0; k < 20; k++)
		messages(f, k % 2 ? "A" : "B", 200 + k, 1);
	tail_is_true(f, "A", TAIL);
	tail_is_true(f, "B", 20);
	both_ways(f, "A", 50, 50, 1);
	both_ways(f, "B", 50, 20, 0);
	both_ways(f, "B", 19, 19, 1);
}

/* Every change of a message's row reaches the copy; what the read joins
 * (display names) or asks per row (attachments, reactions, rare fields) is
 * read where it lives. */
static void test_changes(void **state)
{
	fixture *f = *state;
	messages(f, "A", 0, 70);
	put(f, "{\"type\":\"edit_message\",\"thread\":\"A\",\"target\":\"m69\",\"content\":\"edited late\"}");
	put(f, "{\"type\":\"edit_message\",\"thread\":\"A\",\"target\":\"m0\",\"content\":\"edited early\"}");
	put(f, "{\"type\":\"reaction\",\"thread\":\"A\",\"target\":\"m68\",\"emoji\":\"tada\",\"user\":\"U1\"}");
	put(f, "{\"type\":\"message\",\"id\":\"att\",\"thread\":\"A\",\"role\":\"assistant\",\"name\":\"helper\","
	       "\"reply_to\":\"m68\",\"attachments\":[{\"blob\":\"%s\",\"name\":\"cat.png\"}]}", f->blob);
	put(f, "{\"type\":\"user\",\"user\":\"U1\",\"display_name\":\"Ann Lee\"}");
	tail_is_true(f, "A", TAIL);
	PU_ROWS(f->db, "SELECT content, extras FROM messages_tail WHERE seq IN (69, 70) ORDER BY seq",
	        "say 68|2\nedited late|4");
	both_ways(f, "A", 50, 50, 1);
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = "A";
	q.limit = 3;
	char *h = NULL;
	TU_OK(cj_query_history(&h, f->tu.s, &q));
	assert_non_null(strstr(h, "\"content\":\"edited late\""));
	assert_non_null(strstr(h, "\"reactions\":{\"tada\":1}"));
	assert_non_null(strstr(h, "\"name\":\"cat.png\""));
	assert_non_null(strstr(h, "\"reply_to\":\"m68\""));
	assert_non_null(strstr(h, "\"display_name\":\"Ann Lee\""));
	cj_free(h);
	/* the reaction removed: the bit leaves the copy too */
	put(f, "{\"type\":\"reaction\",\"thread\":\"A\",\"target\":\"m68\",\"emoji\":\"tada\",\"user\":\"U1\","
	       "\"op\":\"remove\"}");
	PU_ROWS(f->db, "SELECT extras FROM messages_tail WHERE seq = 69", "0");
	tail_is_true(f, "A", TAIL);
	both_ways(f, "A", 50, 50, 1);
}

/* A deleted message leaves the tail and the next older one of its thread
 * takes its place, through every kind of deletion. */
static void test_deletions(void **state)
{
	fixture *f = *state;
	messages(f, "A", 0, 70);
	messages(f, "B", 100, 70);
	put(f, "{\"type\":\"delete_message\",\"thread\":\"A\",\"target\":\"m69\"}");
	tail_is_true(f, "A", TAIL);
	PU_ROWS(f->db, "SELECT min(seq), max(seq) FROM messages_tail WHERE thread_rowid = 1", "6|69");
	both_ways(f, "A", TAIL - 1, TAIL - 1, 1);
	/* ten more from the tail: the thread has 59 left, all in the tail */
	for (int k = 50; k < 60; k++)
		put(f, "{\"type\":\"delete_message\",\"thread\":\"A\",\"target\":\"m%d\"}", k);
	tail_is_true(f, "A", 59);
	both_ways(f, "A", 50, 50, 1);
	both_ways(f, "A", 60, 59, 0);
	/* a deletion older than the tail changes nothing there */
	put(f, "{\"type\":\"delete_message\",\"thread\":\"B\",\"target\":\"m100\"}");
	tail_is_true(f, "B", TAIL);
	/* a user's history, a purge by time, in one thread and everywhere */
	put(f, "{\"type\":\"clear_history\",\"user\":\"U1\"}");
	tail_is_true(f, "B", 51);
	both_ways(f, "A", 50, 44, 0);
	both_ways(f, "B", 50, 50, 1);
	put(f, "{\"type\":\"purge\",\"before\":%lld,\"thread\":\"B\"}", (long long)(PU_T0 + 1000 * 150));
	tail_is_true(f, "B", 15);
	both_ways(f, "B", 50, 15, 0);
	put(f, "{\"type\":\"purge\",\"before\":%lld}", (long long)(PU_T0 + 1000 * 30));
	both_ways(f, "A", 50, 22, 0);
	put(f, "{\"type\":\"delete_thread\",\"thread\":\"A\"}");
	tail_is_true(f, "A", 0);
	tail_is_true(f, "B", 15);
	both_ways(f, "A", 50, 0, 0);
	/* the thread again, new messages: a new tail */
	messages(f, "A", 300, 3);
	tail_is_true(f, "A", 3);
	both_ways(f, "A", 50, 3, 0);
}

/* The rule is enforced and checked: a message moved to another thread is
 * refused; a copy out of step is what cj_projection_check reports, as it
 * reports a row without its parent. */
static void test_rule_enforced(void **state)
{
	fixture *f = *state;
	messages(f, "A", 0, 10);
	messages(f, "B", 10, 10);
	cj_store_close(f->tu.s);
	f->tu.s = NULL;
	assert_int_equal(pu_exec_rw(f->db, "UPDATE messages SET thread_rowid = 2 WHERE seq = 1"), -1);
	assert_int_equal(pu_exec_rw(f->db, "UPDATE messages SET seq = 100 WHERE seq = 1"), -1);
	char *report = NULL;
	TU_OK(cj_projection_check(&report, f->db));
	assert_string_equal(report, "ok");
	cj_free(report);
	TU_OK(pu_exec_rw(f->db, "DELETE FROM messages_tail WHERE seq = 5"));
	TU_RC(cj_projection_check(&report, f->db), CJ_ECORRUPT);
	assert_non_null(strstr(report, "messages_tail: 0 rows that are not (or no longer) among their"
	                               " thread's newest messages, 1 such rows missing"));
	cj_free(report);
	TU_OK(pu_exec_rw(f->db, "INSERT INTO messages_tail SELECT * FROM messages_tail_newest WHERE seq = 5;"
	                        " UPDATE messages_tail SET content = 'forged' WHERE seq = 6"));
	TU_RC(cj_projection_check(&report, f->db), CJ_ECORRUPT);
	assert_non_null(strstr(report, "messages_tail: 1 rows that are not (or no longer) among their"
	                               " thread's newest messages, 1 such rows missing"));
	cj_free(report);
	TU_OK(pu_exec_rw(f->db, "UPDATE messages_tail SET content = 'say 5' WHERE seq = 6"));
	TU_OK(cj_projection_check(&report, f->db));
	cj_free(report);
	/* a row whose parent is missing (replay loads without foreign keys
	 * until its first deletion: the check proves it lost none) */
	TU_OK(pu_exec_rw(f->db, "INSERT INTO user_threads (user_rowid, thread_rowid, last_activity_ms,"
	                        " message_count) VALUES (999, 1, 0, 1)"));
	TU_RC(cj_projection_check(&report, f->db), CJ_ECORRUPT);
	assert_non_null(strstr(report, "foreign_key_check: 1 rows without their parent, first: table"
	                               " user_threads, rowid "));
	assert_non_null(strstr(report, "refers to a missing row of users"));
	cj_free(report);
	/* after another check's report: one separator, before the head */
	TU_OK(pu_exec_rw(f->db, "DELETE FROM messages_tail WHERE seq = 5"));
	TU_RC(cj_projection_check(&report, f->db), CJ_ECORRUPT);
	assert_non_null(strstr(report, "such rows missing; foreign_key_check: 1 rows without their parent,"
	                               " first: table user_threads, rowid "));
	cj_free(report);
	TU_OK(pu_exec_rw(f->db, "INSERT INTO messages_tail SELECT * FROM messages_tail_newest WHERE seq = 5"));
	TU_OK(pu_exec_rw(f->db, "DELETE FROM user_threads WHERE user_rowid = 999"));
	TU_OK(cj_projection_check(&report, f->db));
	cj_free(report);
	TU_OK(cj_store_open(&f->tu.s, f->tu.store, NULL));
	both_ways(f, "A", 50, 10, 0);
}

/* A projection of schema 8 (before the tail): read read-only, history comes
 * from messages; opened read-write, migration 9 fills the tail from the rows
 * there, and the reads answer as before. */
static void test_migration(void **state)
{
	fixture *f = *state;
	messages(f, "A", 0, 80);
	messages(f, "B", 80, 5);
	put(f, "{\"type\":\"edit_message\",\"thread\":\"A\",\"target\":\"m79\",\"content\":\"edited\"}");
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = "A";
	char *before = NULL, *h = NULL;
	TU_OK(cj_query_history(&before, f->tu.s, &q));
	cj_store_close(f->tu.s);
	f->tu.s = NULL;
	TU_OK(pu_exec_rw(f->db, PU_UNDO_009 "PRAGMA user_version = 8"));
	cj_store_options ro = CJ_STORE_OPTIONS_INIT;
	ro.read_only = 1;
	TU_OK(cj_store_open(&f->tu.s, f->tu.store, &ro));
	TU_OK(cj_query_history(&h, f->tu.s, &q));
	assert_string_equal(h, before);
	cj_free(h);
	cj_store_close(f->tu.s);
	PU_ROWS(f->db, "SELECT user_version, (SELECT count(*) FROM sqlite_schema WHERE name LIKE 'messages_tail%')"
	        " FROM pragma_user_version", "8|0");
	TU_OK(cj_store_open(&f->tu.s, f->tu.store, NULL));
	PU_ROWS(f->db, "SELECT user_version >= 9 FROM pragma_user_version", "1");
	tail_is_true(f, "A", TAIL);
	tail_is_true(f, "B", 5);
	TU_OK(cj_query_history(&h, f->tu.s, &q));
	assert_string_equal(h, before);
	cj_free(h);
	cj_free(before);
	both_ways(f, "A", 50, 50, 1);
	both_ways(f, "B", 50, 5, 0);
	messages(f, "A", 200, 2);
	tail_is_true(f, "A", TAIL);
	both_ways(f, "A", 50, 50, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deletions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_enforced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
