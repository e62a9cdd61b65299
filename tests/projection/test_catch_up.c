/* tests/projection/test_catch_up.c — an empty projection with a long journal
 * behind it is built in bulk (materializer/materializer.c, bulk_catch_up:
 * the way a replay builds one, then put in place), a short backlog live.
 *   - 100,000 messages (with deletions, an edit and an image among them)
 *     appended with the projection deferred, chat.sqlite removed, the store
 *     opened: the projection reaches the journal's end in a new file (the
 *     bulk build replaced the one the open created), its state hash equals
 *     a replay's, searches and history answer through the store's readers,
 *     and nothing of the build is left beside it (nor its FTS5 'hashsize'
 *     setting in the FTS5 configuration);
 *   - closed right after the open (the build stops between its chunks):
 *     nothing is left beside chat.sqlite, and the next open completes it;
 *   - 1,000 messages: applied live, in the file the open created. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "putil.h"

#define WAIT_MS 600000
#define BULK 100000 /* BULK_MIN_EVENTS in materializer.c */

static int setup(void **state) { return tu_fixture_setup(state, "catch-up", NULL); }
static int teardown(void **state) { return tu_fixture_teardown(state); }

static ino_t inode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* n messages over 50 threads in batches of 1000, with a deletion of one
 * thread, an edit and an image in the middle; the projection deferred.
 * Returns the last sequence. */
static uint64_t fill(cj_store *s, unsigned n)
{
	TU_OK(cj_store_defer_projection(s, 1));
	uint64_t last = 0;
	cj_event *evs[1000];
	for (unsigned i = 0; i < n; i += 1000) {
		unsigned k = n - i < 1000 ? n - i : 1000;
		for (unsigned j = 0; j < k; j++) {
			char json[256];
			unsigned m = i + j;
			snprintf(json, sizeof json, "{\"type\":\"message\",\"id\":\"m%u\",\"thread\":\"t%u\","
			         "\"role\":\"user\",\"user\":\"u%u\",\"content\":\"word%u common text %s\"}",
			         m, m % 50, m % 7, m % 997, m == 7 ? "rarecanary" : "");
			TU_OK(cj_event_parse(&evs[j], json, strlen(json)));
		}
		TU_OK(cj_journal_append_batch(NULL, s, (const cj_event *const *)evs, k));
		for (unsigned j = 0; j < k; j++)
			cj_event_free(evs[j]);
		if (i == n / 2) {
			TU_OK(pu_append(s, "{\"type\":\"delete_thread\",\"thread\":\"t3\"}", NULL));
			TU_OK(pu_append(s, "{\"type\":\"edit_message\",\"thread\":\"t1\",\"target\":\"m1\","
			                   "\"content\":\"edited words\"}", NULL));
			TU_OK(pu_append(s, "{\"type\":\"image\",\"thread\":\"t2\",\"url\":\"https://x/i\","
			                   "\"prompt\":\"a lighthouse prompt\"}", NULL));
		}
	}
	TU_OK(cj_journal_last_seq(&last, s));
	return last;
}

static void remove_projection(const char *store);

/* The store filled with n messages, closed, its projection removed: the
 * last sequence. */
static uint64_t filled_without_projection(tu_fixture *f, unsigned n)
{
	uint64_t last = fill(f->s, n);
	cj_store_close(f->s);
	f->s = NULL;
	remove_projection(f->store);
	return last;
}

static void remove_projection(const char *store)
{
	char db[PATH_MAX], p[PATH_MAX + 8];
	pu_sqlite_path(db, sizeof db, store);
	static const char *const ext[] = { "", "-wal", "-shm" };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", db, ext[i]);
		unlink(p);
	}
}

static void nothing_beside(const char *store)
{
	char db[PATH_MAX], p[PATH_MAX + 32];
	pu_sqlite_path(db, sizeof db, store);
	static const char *const ext[] = { ".replay-tmp", ".replay-tmp.fts", ".replay-tmp-journal" };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", db, ext[i]);
		if (access(p, F_OK) == 0)
			fail_msg("%s was left behind", p);
	}
}

static size_t count(const char *json)
{
	json_t *a = json_loads(json, 0, NULL);
	assert_non_null(a);
	size_t n = json_array_size(a);
	json_decref(a);
	return n;
}

static void test_bulk(void **state)
{
	tu_fixture *f = *state;
	uint64_t last = filled_without_projection(f, BULK);
	char db[PATH_MAX];
	pu_sqlite_path(db, sizeof db, f->store);

	TU_OK(cj_store_open(&f->s, f->store, NULL));
	ino_t created = inode_of(db);
	/* a reader taken before the build ends follows the new file */
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = "rarecanary";
	char *json;
	TU_OK(cj_query_search(&json, f->s, &q));
	cj_free(json);
	TU_OK(cj_wait_applied(f->s, last, WAIT_MS));
	assert_true(inode_of(db) != created);
	nothing_beside(f->store);

	TU_OK(cj_query_search(&json, f->s, &q));
	assert_int_equal(count(json), 1);
	cj_free(json);
	/* t3 was deleted after message 50,999: its 980 later messages remain */
	assert_int_equal(pu_int(db, "SELECT count(*) FROM messages m JOIN threads t USING (thread_rowid)"
	                            " WHERE t.thread = 't3'"), 980);
	cj_history_query h = CJ_HISTORY_QUERY_INIT;
	h.thread = "t3";
	TU_OK(cj_query_history(&json, f->s, &h));
	assert_true(count(json) > 0);
	cj_free(json);

	char live[33], replayed[33], out[PATH_MAX];
	tu_path(out, sizeof out, f->dir, "replayed.sqlite");
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.out_path = out;
	TU_OK(cj_projection_replay(f->s, &ro));
	TU_OK(cj_projection_hash(live, NULL, db));
	TU_OK(cj_projection_hash(replayed, NULL, out));
	assert_string_equal(live, replayed);
	/* the side file's FTS5 memory setting stays out of the projection */
	assert_int_equal(pu_int(db, "SELECT count(*) FROM messages_fts_config WHERE k = 'hashsize'"), 0);
	assert_int_equal(pu_int(out, "SELECT count(*) FROM images_fts_config WHERE k = 'hashsize'"), 0);
	assert_int_equal(pu_int(out, "SELECT count(*) FROM messages_fts_config WHERE k = 'version'"), 1);
	/* live batches go on after it */
	uint64_t seq = 0;
	TU_OK(pu_append(f->s, "{\"type\":\"message\",\"thread\":\"tz\",\"role\":\"user\","
	                      "\"content\":\"after the bulk build\"}", &seq));
	TU_OK(cj_wait_applied(f->s, seq, WAIT_MS));
}

static void test_stopped_then_finished(void **state)
{
	tu_fixture *f = *state;
	uint64_t last = filled_without_projection(f, BULK);
	TU_OK(cj_store_open(&f->s, f->store, NULL));
	usleep(50000);
	cj_store_close(f->s); /* the build stops between its chunks */
	f->s = NULL;
	nothing_beside(f->store);
	TU_OK(cj_store_open(&f->s, f->store, NULL));
	TU_OK(cj_wait_applied(f->s, last, WAIT_MS));
	nothing_beside(f->store);
}

static void test_short_backlog_live(void **state)
{
	tu_fixture *f = *state;
	uint64_t last = filled_without_projection(f, 1000);
	char db[PATH_MAX];
	pu_sqlite_path(db, sizeof db, f->store);
	TU_OK(cj_store_open(&f->s, f->store, NULL));
	ino_t created = inode_of(db);
	TU_OK(cj_wait_applied(f->s, last, WAIT_MS));
	assert_true(inode_of(db) == created);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bulk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_then_finished, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_backlog_live, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
