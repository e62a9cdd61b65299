/* tests/projection/test_fts_side.c — replay's FTS side file
 * (materializer/fts_side.c) driven directly: many small hand-offs made
 * faster than the thread runs them (the ring of pending queues fills, wraps
 * around and the applier waits), deletions of documents handed off earlier,
 * then the shadow tables copied into a projection: every document is found
 * by its words exactly when it should be, in the order the hand-offs were
 * made (a delete handed off after its insert wins). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "testutil.h"
#include "materializer/apply_sql.h"
#include "materializer/db.h"
#include "materializer/fts_side.h"

enum { HANDOFFS = 41, PER = 60 };

/* seq's text: a word of its own and one of its hand-off's */
static void text_of(char *out, size_t n, int64_t seq)
{
	snprintf(out, n, "tok%lld grp%lld common", (long long)seq, (long long)((seq - 1) / PER));
}

static void queue(cji_apply *a, int64_t seq, int del)
{
	char t[64];
	text_of(t, sizeof t, seq);
	int rc = del ? cji_wb_fts_del(a, (uint64_t)seq, 0, t, NULL) : cji_wb_fts(a, (uint64_t)seq, 0, t, NULL);
	assert_int_equal(rc, 0);
}

static long long count(sqlite3 *db, const char *match)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1",
	                                    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long long n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void test_many_handoffs(void **state)
{
	(void)state;
	char dir[PATH_MAX], main_path[PATH_MAX + 32], side_path[PATH_MAX + 32];
	assert_int_equal(tu_mktempdir(dir, sizeof dir, "fts-side"), 0);
	snprintf(main_path, sizeof main_path, "%s/p.sqlite", dir);
	snprintf(side_path, sizeof side_path, "%s/p.sqlite.fts", dir);
	sqlite3 *db;
	TU_OK(cji_db_open_bulk(&db, main_path));
	cji_apply a;
	memset(&a, 0, sizeof a);
	cji_fts_side *side;
	TU_OK(cji_fts_side_open(&side, db, side_path));
	a.side = side;
	/* Hand-off k inserts its PER documents and deletes the odd ones of
	 * hand-off k - 3 (queued three hand-offs earlier: often still pending). */
	for (int k = 0; k < HANDOFFS; k++) {
		for (int i = 1; i <= PER; i++)
			queue(&a, (int64_t)k * PER + i, 0);
		if (k >= 3)
			for (int i = 1; i <= PER; i += 2)
				queue(&a, (int64_t)(k - 3) * PER + i, 1);
		TU_OK(cji_fts_side_hand(side, &a));
		assert_int_equal(a.nfts, 0);
	}
	TU_OK(cji_fts_side_finish(side, db));
	cji_fts_side_close(side);
	free(a.fts);
	cji_buf_free(&a.fts_text);
	long long live = 0;
	for (int64_t seq = 1; seq <= (int64_t)HANDOFFS * PER; seq++) {
		int k = (int)((seq - 1) / PER), i = (int)((seq - 1) % PER) + 1;
		int deleted = k < HANDOFFS - 3 && i % 2 == 1;
		char w[32];
		snprintf(w, sizeof w, "tok%lld", (long long)seq);
		if (count(db, w) != (deleted ? 0 : 1))
			fail_msg("document %lld: found %lld times, deleted %d", (long long)seq, count(db, w), deleted);
		live += !deleted;
	}
	assert_int_equal(count(db, "common"), live);
	assert_int_equal(count(db, "grp0"), PER / 2);
	assert_int_equal(count(db, "grp40"), PER);
	/* the side file's memory setting stayed there */
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM messages_fts_config WHERE k = 'hashsize'",
	                                    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_handoffs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
