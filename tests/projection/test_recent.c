/* tests/projection/test_recent.c — messages_recent (schema 9,
 * 009_messages_recent.sql): the newest messages of each thread kept in
 * thread order, from which history reads its newest pages.
 *
 * - Random messages, edits, reactions and deletions of every kind over a few
 *   threads, appended in bursts (so that batches carry several messages of
 *   a thread): its rows are those of messages column for column, each
 *   thread's are every message from some seq on, about 64 to 96 of them,
 *   never fewer than 64 while the thread has that many and lost none; then
 *   every history read (limits 1 to 100, with and without a user or a
 *   `before` cursor) is byte-identical to the same read with the table
 *   emptied (so that every read takes messages). The cycle count comes from
 *   CJ_RECENT_OPS (CI value in the test's default), the seed from
 *   CJ_TEST_SEED (printed).
 * - A replay fills it with exactly the newest 64 of each thread.
 * - Migration 009 on a schema-8 file: the same rows, the same history.
 * - Which reads the copy serves (the newest page of a thread, all of a
 *   short one) and which go to messages.
 * - Its columns are those of messages, in order (a later migration that
 *   adds a column to messages must add it here and to the triggers).
 * The teardown checks that a replay has the state hash of the live file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "putil.h"

#define WAIT_MS 20000
#define KEEP 64
#define THREADS 5
#define MAX_MSGS 8192

typedef struct fixture {
	tu_fixture tu;
	char db[PATH_MAX];
} fixture;

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "proj-recent", NULL, 0) != 0)
		return -1;
	fixture *f = *state;
	pu_sqlite_path(f->db, sizeof f->db, f->tu.store);
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	uint64_t last = 0;
	int ok = f->tu.s && cj_journal_last_seq(&last, f->tu.s) == 0 &&
	         (last == 0 || cj_wait_applied(f->tu.s, last, WAIT_MS) == 0);
	char out[PATH_MAX], live[33], replayed[33];
	tu_path(out, sizeof out, f->tu.dir, "replayed.sqlite");
	ok = ok && cj_projection_replay(f->tu.s, &(cj_replay_options){
	                 CJ_REPLAY_OPTIONS_VERSION, out, 0, 0, NULL, NULL }) == 0 &&
	     cj_projection_hash(live, NULL, f->db) == 0 &&
	     cj_projection_hash(replayed, NULL, out) == 0 && strcmp(live, replayed) == 0;
	if (!ok)
		fprintf(stderr, "replay differs from the live projection: %s\n", cj_error_last());
	tu_fixture_teardown(state);
	return ok ? 0 : -1;
}

static uint64_t g_last;

static void add(fixture *f, const char *json)
{
	uint64_t seq = 0;
	if (pu_append(f->tu.s, json, &seq) != 0)
		fail_msg("append %s: %s", json, cj_error_last());
	g_last = seq;
}

#define ADDF(f, ...) do { char ev_[1024]; snprintf(ev_, sizeof ev_, __VA_ARGS__); add((f), ev_); } while (0)

static void settle(fixture *f)
{
	if (g_last)
		TU_OK(cj_wait_applied(f->tu.s, g_last, WAIT_MS));
}

/* ---- the invariants, read straight from the file --------------------------- */

/* Every row is the row of messages; per thread, every message from the
 * oldest row on is there; at most KEEP + 31 + slack rows (slack: the
 * messages deleted so far, each of which can lower messages_count below the
 * next trim without taking a row of the table); at least KEEP (or all) for
 * each thread listed in intact (a ','-separated list of thread_rowids that
 * lost no message). */
static void check_invariants(fixture *f, int slack, const char *intact)
{
	PU_ROWS(f->db, "SELECT count(*) FROM (SELECT * FROM messages_recent EXCEPT SELECT * FROM messages)", "0");
	PU_ROWS(f->db, "SELECT count(*) FROM messages m WHERE m.seq >= (SELECT min(seq) FROM messages_recent r"
	               " WHERE r.thread_rowid = m.thread_rowid) AND NOT EXISTS (SELECT 1 FROM messages_recent r"
	               " WHERE r.thread_rowid = m.thread_rowid AND r.seq = m.seq)", "0");
	char sql[512];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT count(*) AS n FROM messages_recent"
	         " GROUP BY thread_rowid) WHERE n > %d", KEEP + 31 + slack);
	PU_ROWS(f->db, sql, "0");
	if (intact && *intact) {
		snprintf(sql, sizeof sql, "SELECT count(*) FROM threads t WHERE t.thread_rowid IN (%s) AND"
		         " (SELECT count(*) FROM messages_recent r WHERE r.thread_rowid = t.thread_rowid) <"
		         " min(%d, (SELECT count(*) FROM messages m WHERE m.thread_rowid = t.thread_rowid))",
		         intact, KEEP);
		PU_ROWS(f->db, sql, "0");
	}
}

/* Every history read of the threads, one string; the reads of a thread with
 * the table emptied take messages, and must give the same bytes. */
static char *all_history(fixture *f)
{
	static const unsigned limits[] = { 1, 7, 20, 50, 62, 63, 64, 100 };
	size_t cap = 1 << 20, len = 0;
	char *all = malloc(cap);
	assert_non_null(all);
	all[0] = '\0';
	for (int t = 0; t < THREADS; t++)
		for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++)
			for (int v = 0; v < 4; v++) {
				char thread[16], user[16];
				snprintf(thread, sizeof thread, "T%d", t);
				snprintf(user, sizeof user, "U%d", t % 3);
				cj_history_query q = CJ_HISTORY_QUERY_INIT;
				q.thread = thread;
				q.limit = limits[li];
				if (v == 1)
					q.user = user;
				if (v == 2)
					q.before = (uint64_t)(g_last * 3 / 4);
				if (v == 3)
					q.server = "S1";
				char *json = NULL;
				cj_page page;
				TU_OK(cj_query_history_page(&json, &page, f->tu.s, &q));
				size_t n = strlen(json) + 64;
				while (len + n >= cap) {
					cap *= 2;
					all = realloc(all, cap);
					assert_non_null(all);
				}
				len += (size_t)snprintf(all + len, cap - len, "%s|%d|%llu|%llu\n", json, page.more,
				                        (unsigned long long)page.before, (unsigned long long)page.after);
				cj_free(json);
			}
	return all;
}

static void reopen_with(fixture *f, const char *sql)
{
	cj_store_close(f->tu.s);
	f->tu.s = NULL;
	TU_OK(pu_exec_rw(f->db, sql));
	TU_OK(cj_store_open(&f->tu.s, f->tu.store, NULL));
}

static void compare_with_messages_only(fixture *f)
{
	char *with = all_history(f);
	reopen_with(f, "DELETE FROM messages_recent");
	PU_ROWS(f->db, "SELECT count(*) FROM messages_recent", "0");
	char *without = all_history(f);
	if (strcmp(with, without) != 0) {
		size_t i = 0;
		while (with[i] && with[i] == without[i])
			i++;
		size_t from = i > 200 ? i - 200 : 0;
		fail_msg("history differs at byte %zu:\n  recent:   %.400s\n  messages: %.400s", i, with + from,
		         without + from);
	}
	free(with);
	free(without);
}

/* ---- random work ------------------------------------------------------------ */

static unsigned long long g_rng;
static unsigned rnd(unsigned n)
{
	g_rng = g_rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((g_rng >> 33) % n);
}

typedef struct msg { int thread, alive; } msg;

static void test_random_work(void **state)
{
	fixture *f = *state;
	const char *e = getenv("CJ_RECENT_OPS");
	int ops = e ? atoi(e) : 1500;
	if (ops < 200)
		ops = 200;
	if (ops > MAX_MSGS)
		ops = MAX_MSGS;
	const char *s = getenv("CJ_TEST_SEED");
	g_rng = s ? strtoull(s, NULL, 10) : (unsigned long long)time(NULL);
	fprintf(stderr, "test_recent: CJ_TEST_SEED=%llu CJ_RECENT_OPS=%d\n", g_rng, ops);
	static msg m[MAX_MSGS];
	int n = 0, lost[THREADS] = { 0 }, deleted = 0;
	for (int i = 0; i < ops; i++) {
		unsigned r = rnd(1000);
		/* thread 0 takes half the messages: it runs past 64 many times over */
		int t = rnd(2) ? 0 : 1 + (int)rnd(THREADS - 1);
		if (r < 880 || n == 0) {
			m[n] = (msg){ t, 1 };
			ADDF(f, "{\"type\":\"message\",\"id\":\"m%d\",\"thread\":\"T%d\",\"user\":\"U%d\",\"role\":\"%s\","
			        "\"server\":\"S%d\",\"content\":\"word%d of thread %d\",\"ts\":%lld}",
			     n, t, (int)rnd(3), rnd(2) ? "user" : "assistant", (int)rnd(2), n, t,
			     (long long)PU_T0 + i);
			n++;
		} else {
			int k = (int)rnd((unsigned)n);
			if (!m[k].alive)
				continue;
			if (r < 930) {
				ADDF(f, "{\"type\":\"edit_message\",\"thread\":\"T%d\",\"target\":\"m%d\","
				        "\"content\":\"edited %d\"}", m[k].thread, k, i);
			} else if (r < 960) {
				ADDF(f, "{\"type\":\"reaction\",\"thread\":\"T%d\",\"target\":\"m%d\",\"emoji\":\"e%d\","
				        "\"user\":\"U1\"}", m[k].thread, k, (int)rnd(2));
			} else if (r < 995) {
				ADDF(f, "{\"type\":\"delete_message\",\"thread\":\"T%d\",\"target\":\"m%d\"}", m[k].thread, k);
				m[k].alive = 0;
				lost[m[k].thread] = 1;
				deleted++;
			} else {
				/* a whole thread but thread 0 (it would take half the work) */
				int d = 1 + (int)rnd(THREADS - 1);
				ADDF(f, "{\"type\":\"delete_thread\",\"thread\":\"T%d\"}", d);
				for (int j = 0; j < n; j++)
					if (m[j].thread == d)
						m[j].alive = 0;
				lost[d] = 1;
			}
		}
		/* bursts of up to 40 events in flight, so a batch holds several
		 * messages of a thread; the invariants after each burst */
		if (rnd(40) == 0) {
			settle(f);
			check_invariants(f, deleted, NULL);
		}
	}
	settle(f);
	char intact[64] = "";
	for (int t = 0; t < THREADS; t++)
		if (!lost[t]) {
			long long rowid = 0;
			char sql[128];
			snprintf(sql, sizeof sql, "SELECT thread_rowid FROM threads WHERE thread = 'T%d'", t);
			if ((rowid = pu_int(f->db, sql)) > 0)
				snprintf(intact + strlen(intact), sizeof intact - strlen(intact), "%s%lld",
				         *intact ? "," : "", rowid);
		}
	check_invariants(f, deleted, intact);
	/* thread 0 ran far past the window: it is trimmed */
	assert_true(pu_int(f->db, "SELECT count(*) FROM messages_recent r JOIN threads t USING (thread_rowid)"
	                          " WHERE t.thread = 'T0'") <= KEEP + 31 + deleted);
	assert_true(pu_int(f->db, "SELECT count(*) FROM messages m JOIN threads t USING (thread_rowid)"
	                          " WHERE t.thread = 'T0'") > 2 * (KEEP + 31 + deleted));
	compare_with_messages_only(f);
}

/* ---- replay and migration -------------------------------------------------- */

static void fill(fixture *f, int n0, int n1)
{
	for (int i = 0; i < n0 + n1; i++)
		ADDF(f, "{\"type\":\"message\",\"id\":\"f%d\",\"thread\":\"%s\",\"user\":\"U%d\",\"role\":\"user\","
		        "\"content\":\"fill %d\",\"ts\":%lld}", i, i < n0 ? "T0" : "T1", i % 2, i,
		     (long long)PU_T0 + i);
	settle(f);
}

/* A replay (whose triggers are off while it loads) fills the table with
 * exactly the newest 64 of each thread, even after deletions live left
 * fewer behind. */
static void test_replay_fills(void **state)
{
	fixture *f = *state;
	fill(f, 150, 10);
	for (int i = 140; i < 150; i++)
		ADDF(f, "{\"type\":\"delete_message\",\"thread\":\"T0\",\"target\":\"f%d\"}", i);
	settle(f);
	check_invariants(f, 0, NULL);
	char out[PATH_MAX];
	tu_path(out, sizeof out, f->tu.dir, "r.sqlite");
	TU_OK(cj_projection_replay(f->tu.s, &(cj_replay_options){
	          CJ_REPLAY_OPTIONS_VERSION, out, 0, 0, NULL, NULL }));
	PU_ROWS(out, "SELECT t.thread, count(*), min(r.seq), max(r.seq) FROM messages_recent r"
	             " JOIN threads t USING (thread_rowid) GROUP BY 1 ORDER BY 1",
	        "T0|64|77|140\nT1|10|151|160");
	PU_ROWS(out, "SELECT count(*) FROM (SELECT * FROM messages_recent EXCEPT SELECT * FROM messages)", "0");
	PU_ROWS(out, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'messages_recent%'",
	        "4");
}

/* Migration 009 on a file of schema 8: the newest 64 of each thread, and
 * the same history as before. */
static void test_migration(void **state)
{
	fixture *f = *state;
	fill(f, 100, 5);
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = "T0";
	char *before = NULL, *after = NULL;
	TU_OK(cj_query_history(&before, f->tu.s, &q));
	reopen_with(f, "DROP TRIGGER messages_recent_insert; DROP TRIGGER messages_recent_update;"
	               "DROP TRIGGER messages_recent_delete; DROP TRIGGER messages_recent_trim;"
	               "DROP TABLE messages_recent; PRAGMA user_version = 8");
	PU_ROWS(f->db, "SELECT user_version FROM pragma_user_version", "9");
	PU_ROWS(f->db, "SELECT t.thread, count(*), min(r.seq), max(r.seq) FROM messages_recent r"
	               " JOIN threads t USING (thread_rowid) GROUP BY 1 ORDER BY 1",
	        "T0|64|37|100\nT1|5|101|105");
	TU_OK(cj_query_history(&after, f->tu.s, &q));
	assert_string_equal(after, before);
	/* kept from here on */
	ADDF(f, "{\"type\":\"message\",\"id\":\"late\",\"thread\":\"T1\",\"role\":\"user\",\"content\":\"late\"}");
	settle(f);
	PU_ROWS(f->db, "SELECT count(*) FROM messages_recent WHERE content = 'late'", "1");
	cj_free(before);
	cj_free(after);
}

/* Which table served a read, seen by setting the copy's content apart
 * (white box: the copy is never written but by its triggers): the newest
 * page of a long thread and the whole of a short one come from
 * messages_recent; a page before a cursor, a page larger than the copy and
 * a short thread read for one user come from messages. */
static void test_which_table(void **state)
{
	fixture *f = *state;
	fill(f, 100, 5);
	reopen_with(f, "UPDATE messages_recent SET content = 'copy'");
	struct { const char *thread, *user; unsigned limit; uint64_t before; int from_copy; } c[] = {
		{ "T0", NULL, 50, 0, 1 }, { "T1", NULL, 50, 0, 1 }, { "T1", NULL, 3, 0, 1 },
		{ "T0", NULL, 50, 90, 0 }, { "T0", NULL, 64, 0, 0 }, { "T1", "U0", 50, 0, 0 },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		cj_history_query q = CJ_HISTORY_QUERY_INIT;
		q.thread = c[i].thread;
		q.user = c[i].user;
		q.limit = c[i].limit;
		q.before = c[i].before;
		char *json = NULL;
		TU_OK(cj_query_history(&json, f->tu.s, &q));
		int copy = strstr(json, "\"content\":\"copy\"") != NULL;
		int orig = strstr(json, "\"content\":\"fill ") != NULL;
		if (copy != c[i].from_copy || orig == c[i].from_copy)
			fail_msg("case %zu (%s limit %u before %llu): want it from %s, got %.200s", i, c[i].thread,
			         c[i].limit, (unsigned long long)c[i].before, c[i].from_copy ? "the copy" : "messages",
			         json);
		cj_free(json);
	}
	/* the copy set right again for the teardown */
	reopen_with(f, "UPDATE messages_recent SET content = (SELECT content FROM messages m"
	               " WHERE m.seq = messages_recent.seq)");
}

static void test_same_columns(void **state)
{
	fixture *f = *state;
	fill(f, 1, 0);
	PU_ROWS(f->db, "SELECT count(*) FROM pragma_table_info('messages')", "20");
	PU_ROWS(f->db, "SELECT count(*) FROM pragma_table_info('messages') a"
	               " JOIN pragma_table_info('messages_recent') b USING (cid)"
	               " WHERE a.name = b.name AND a.type = b.type", "20");
	PU_ROWS(f->db, "SELECT count(*) FROM pragma_table_info('messages_recent')", "20");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_random_work, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_fills, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_which_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_columns, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
