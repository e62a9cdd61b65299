/* tests/projection/test_deletions.c — deletions leave no trace: after
 * delete_thread, clear_history (one server, then every server) and purge,
 * the removed messages, images, costs and blobs are gone, their words are
 * gone from the FTS indexes (search returns [] and fts5vocab has no
 * instance), counts are right, and every row outside the deletion's scope is
 * byte-for-byte what it was. */
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

#define WAIT_MS 10000

typedef struct fixture {
	tu_fixture tu;
	char db[PATH_MAX];  /* STORE/chat.sqlite */
	char blob_a[CJ_BLOB_HASH_LEN + 1];   /* only image 4 (thread TA) */
	char blob_sh[CJ_BLOB_HASH_LEN + 1];  /* thumbnail of 4 and blob of 8 (TB) */
} fixture;

/* Every searchable row: its seq, its unique word, messages or images. */
typedef struct doc {
	uint64_t seq;
	const char *word;
	int image;
	int alive;
} doc;

static doc docs[] = {
	{ 1, "uniqa1", 0, 1 }, { 2, "uniqa2", 0, 1 }, { 3, "uniqa3", 0, 1 },
	{ 4, "promptia1", 1, 1 }, { 4, "analysisia1", 1, 1 },
	{ 5, "uniqb1", 0, 1 }, { 6, "uniqb2", 0, 1 }, { 7, "uniqb3", 0, 1 },
	{ 8, "promptib1", 1, 1 },
	{ 9, "uniqc1", 0, 1 }, { 10, "uniqc2", 0, 1 }, { 11, "uniqc3", 0, 1 },
	{ 12, "uniqc4", 0, 1 }, { 13, "uniqb4", 0, 1 },
};
#define NDOCS (sizeof docs / sizeof docs[0])

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "proj-del", NULL, 0) != 0)
		return -1;
	fixture *f = *state;
	pu_sqlite_path(f->db, sizeof f->db, f->tu.store);
	return 0;
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

static void add(fixture *f, uint64_t want_seq, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char json[1024];
	vsnprintf(json, sizeof json, fmt, ap);
	va_end(ap);
	uint64_t seq = 0;
	TU_OK(pu_append(f->tu.s, json, &seq));
	assert_int_equal(seq, want_seq);
	TU_OK(cj_wait_applied(f->tu.s, seq, WAIT_MS));
}

#define MSG(th, user, server, content, extra, ts) \
	"{\"type\":\"message\",\"thread\":\"" th "\",\"role\":\"user\"" user server \
	",\"content\":\"" content "\"" extra ",\"ts\":" ts "}"
#define U(x) ",\"user\":\"" x "\""
#define S(x) ",\"server\":\"" x "\""
#define COST ",\"cost\":{\"model\":\"m\",\"input_tokens\":10,\"output_tokens\":5,\"usd\":0.5}"

static void populate(fixture *f)
{
	for (size_t i = 0; i < NDOCS; i++)
		docs[i].alive = 1; /* every test starts from the full set */
	unsigned char a[40], sh[48];
	memcpy(a, "\x89PNG\r\n\x1a\n", 8);
	memset(a + 8, 1, sizeof a - 8);
	memcpy(sh, "\x89PNG\r\n\x1a\n", 8);
	memset(sh + 8, 2, sizeof sh - 8);
	TU_OK(cj_blob_put(f->blob_a, f->tu.s, a, sizeof a));
	TU_OK(cj_blob_put(f->blob_sh, f->tu.s, sh, sizeof sh));

	add(f, 1, MSG("TA", U("U1"), S("S1"), "uniqa1 shared", COST, "1714557601000"));
	add(f, 2, MSG("TA", U("U2"), S("S1"), "uniqa2 shared", "", "1714557602000"));
	add(f, 3, "{\"type\":\"message\",\"thread\":\"TA\",\"role\":\"assistant\",\"server\":\"S1\","
	          "\"content\":\"uniqa3 shared\",\"ts\":1714557603000}");
	add(f, 4, "{\"type\":\"image\",\"thread\":\"TA\",\"url\":\"https://x/a.png\","
	          "\"prompt\":\"promptia1 sunset\",\"analysis\":\"analysisia1\",\"blob\":\"%s\","
	          "\"thumbnail\":\"%s\",\"ts\":1714557604000}", f->blob_a, f->blob_sh);
	add(f, 5, MSG("TB", U("U1"), S("S1"), "uniqb1 shared", COST, "1714557605000"));
	add(f, 6, MSG("TB", U("U2"), S("S1"), "uniqb2 shared", "", "1714557606000"));
	add(f, 7, MSG("TB", U("U1"), S("S1"), "uniqb3", "", "1714557607000"));
	add(f, 8, "{\"type\":\"image\",\"thread\":\"TB\",\"url\":\"https://x/b.png\","
	          "\"prompt\":\"promptib1 sunset\",\"blob\":\"%s\",\"ts\":1714557608000}", f->blob_sh);
	add(f, 9, MSG("TC", U("U1"), S("S2"), "uniqc1 shared", COST, "1714557609000"));
	add(f, 10, MSG("TC", U("U2"), S("S2"), "uniqc2", "", "1714557610000"));
	add(f, 11, MSG("TC", U("U1"), S("S2"), "uniqc3 shared", "", "1714557620000"));
	add(f, 12, MSG("TC", U("U2"), "", "uniqc4", "", "1714557621000"));
	add(f, 13, MSG("TB", U("U1"), "", "uniqb4", "", "1714557622000"));
	add(f, 14, "{\"type\":\"metric\",\"name\":\"old\",\"value\":1,\"ts\":1714557601000}");
	add(f, 15, "{\"type\":\"metric\",\"name\":\"new\",\"value\":2,\"ts\":1714557630000}");
}

static char *search(fixture *f, const char *text, int images, const char *thread)
{
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = text;
	q.images = images;
	q.thread = thread;
	char *json = NULL;
	TU_OK(cj_query_search(&json, f->tu.s, &q));
	assert_non_null(json);
	return json;
}

static void search_is(fixture *f, const char *text, int images, const char *want_seqs)
{
	char *json = search(f, text, images, NULL);
	PU_SEQS(json, want_seqs);
	cj_free(json);
}

/* Every unique word: alive -> exactly its row, in search and in the index;
 * removed -> [] and no fts5vocab instance. */
static void check_docs(fixture *f)
{
	for (size_t i = 0; i < NDOCS; i++) {
		const doc *d = &docs[i];
		const char *fts = d->image ? "images_fts" : "messages_fts";
		char want[32];
		snprintf(want, sizeof want, "%llu", (unsigned long long)d->seq);
		search_is(f, d->word, d->image, d->alive ? want : "");
		long long n = pu_vocab_count(f->db, fts, d->word);
		if (n != (d->alive ? 1 : 0))
			fail_msg("%s: fts5vocab instances of '%s' = %lld, want %d", fts, d->word, n, d->alive);
	}
	char *report = NULL;
	TU_OK(cj_projection_check(&report, f->db));
	assert_string_equal(report, "ok");
	cj_free(report);
}

static void kill_docs(const uint64_t *seqs, size_t n)
{
	for (size_t i = 0; i < NDOCS; i++)
		for (size_t k = 0; k < n; k++)
			if (docs[i].seq == seqs[k])
				docs[i].alive = 0;
}

/* Rows that a deletion must not touch: every table's rows passing the
 * given predicates (over messages m, images m, metrics), as text. */
static char *untouched(fixture *f, const char *msg_pred, const char *img_pred, const char *metric_pred)
{
	char sql[2048];
	snprintf(sql, sizeof sql,
	         "SELECT 'm', seq, thread_rowid, user_rowid, role, content, server, channel, message_ts,"
	         "   metadata, id, ts_ms, ts FROM messages m WHERE %s"
	         " UNION ALL SELECT 'c', c.*, NULL, NULL, NULL, NULL FROM message_costs c"
	         "   WHERE c.seq IN (SELECT seq FROM messages m WHERE %s)"
	         " UNION ALL SELECT 'i', seq, thread_rowid, url, kind, prompt, analysis, original_analysis,"
	         "   metadata, blob, thumbnail, has_thumbnail, id FROM images m WHERE %s"
	         " UNION ALL SELECT 'x', *, NULL, NULL, NULL, NULL, NULL FROM metrics WHERE %s"
	         " UNION ALL SELECT 'u', user_rowid, user, username, timezone, tz_label, tz_offset, config,"
	         "   first_seen_ms, last_seen_ms, seq, NULL, NULL FROM users"
	         " UNION ALL SELECT 'f', rowid, content, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
	         "   NULL, NULL FROM messages_fts WHERE rowid IN (SELECT seq FROM messages m WHERE %s)"
	         " ORDER BY 1, 2",
	         msg_pred, msg_pred, img_pred, metric_pred, msg_pred);
	char *rows = pu_rows(f->db, sql);
	if (strncmp(rows, "ERROR", 5) == 0)
		fail_msg("%s", rows);
	return rows;
}

static void same_rows(char *before, char *after, const char *what)
{
	if (strcmp(before, after) != 0)
		fail_msg("%s touched rows outside its scope:\n  before:\n%s\n  after:\n%s", what, before, after);
	free(before);
	free(after);
}

#define COUNTS "SELECT thread, message_count FROM threads ORDER BY thread_rowid"
#define UTHREADS "SELECT user_rowid, thread_rowid, message_count, last_activity_ms FROM user_threads" \
                 " ORDER BY 1, 2"

static void test_deletions_leave_no_trace(void **state)
{
	fixture *f = *state;
	populate(f);
	check_docs(f);
	search_is(f, "shared", 0, "11,9,6,5,3,2,1");
	search_is(f, "sunset", 1, "8,4");
	PU_ROWS(f->db, COUNTS, "TA|3\nTB|4\nTC|4");
	PU_ROWS(f->db, "SELECT user_rowid, user FROM users ORDER BY 1", "1|U1\n2|U2");

	/* delete_thread TA (thread_rowid 1). */
	char *before = untouched(f, "m.thread_rowid <> 1", "m.thread_rowid <> 1", "1");
	add(f, 16, "{\"type\":\"delete_thread\",\"thread\":\"TA\",\"ts\":1714557640000}");
	same_rows(before, untouched(f, "m.thread_rowid <> 1", "m.thread_rowid <> 1", "1"), "delete_thread");
	kill_docs((const uint64_t[]){ 1, 2, 3, 4 }, 4);
	check_docs(f);
	PU_ROWS(f->db, "SELECT group_concat(seq) FROM (SELECT seq FROM messages ORDER BY seq)",
	        "5,6,7,9,10,11,12,13");
	PU_ROWS(f->db, "SELECT seq FROM images ORDER BY seq", "8");
	PU_ROWS(f->db, "SELECT seq FROM message_costs ORDER BY seq", "5\n9");
	char want[256];
	snprintf(want, sizeof want, "%s|48|image/png|4", f->blob_sh);
	PU_ROWS(f->db, "SELECT * FROM blobs", want);
	PU_ROWS(f->db, COUNTS, "TB|4\nTC|4");
	PU_ROWS(f->db, UTHREADS, "1|2|3|1714557622000\n1|3|2|1714557620000\n"
	                         "2|2|1|1714557606000\n2|3|2|1714557621000");
	search_is(f, "shared", 0, "11,9,6,5");
	search_is(f, "sunset", 1, "8");
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "shared"), 4);

	/* clear_history U1 on S1: messages 5 and 7; 13 (U1, no server) stays. */
	const char *p2 = "NOT (m.user_rowid IS 1 AND m.server IS 'S1')";
	before = untouched(f, p2, "1", "1");
	add(f, 17, "{\"type\":\"clear_history\",\"user\":\"U1\",\"server\":\"S1\",\"ts\":1714557641000}");
	same_rows(before, untouched(f, p2, "1", "1"), "clear_history U1 S1");
	kill_docs((const uint64_t[]){ 5, 7 }, 2);
	check_docs(f);
	PU_ROWS(f->db, "SELECT group_concat(seq) FROM (SELECT seq FROM messages ORDER BY seq)",
	        "6,9,10,11,12,13");
	PU_ROWS(f->db, "SELECT seq FROM message_costs ORDER BY seq", "9");
	PU_ROWS(f->db, COUNTS, "TB|2\nTC|4");
	PU_ROWS(f->db, UTHREADS, "1|2|1|1714557622000\n1|3|2|1714557620000\n"
	                         "2|2|1|1714557606000\n2|3|2|1714557621000");
	search_is(f, "shared", 0, "11,9,6");

	/* clear_history U2 on every server (a message without server too). */
	const char *p3 = "m.user_rowid IS NOT 2";
	before = untouched(f, p3, "1", "1");
	add(f, 18, "{\"type\":\"clear_history\",\"user\":\"U2\",\"ts\":1714557642000}");
	same_rows(before, untouched(f, p3, "1", "1"), "clear_history U2");
	kill_docs((const uint64_t[]){ 6, 10, 12 }, 3);
	check_docs(f);
	PU_ROWS(f->db, "SELECT group_concat(seq) FROM (SELECT seq FROM messages ORDER BY seq)", "9,11,13");
	PU_ROWS(f->db, COUNTS, "TB|1\nTC|2");
	PU_ROWS(f->db, UTHREADS, "1|2|1|1714557622000\n1|3|2|1714557620000");
	PU_ROWS(f->db, "SELECT seq FROM images ORDER BY seq", "8");
	search_is(f, "shared", 0, "11,9");

	/* purge before 10:00:15: message 9, image 8 (and with it the last
	 * blob), metric 14, cost 9. */
	const char *p4 = "m.ts_ms >= 1714557615000";
	before = untouched(f, p4, p4, "ts_ms >= 1714557615000");
	add(f, 19, "{\"type\":\"purge\",\"before\":1714557615000,\"ts\":1714557643000}");
	same_rows(before, untouched(f, p4, p4, "ts_ms >= 1714557615000"), "purge");
	kill_docs((const uint64_t[]){ 9, 8 }, 2);
	check_docs(f);
	PU_ROWS(f->db, "SELECT group_concat(seq) FROM (SELECT seq FROM messages ORDER BY seq)", "11,13");
	PU_ROWS(f->db, "SELECT count(*) FROM images", "0");
	PU_ROWS(f->db, "SELECT count(*) FROM blobs", "0");
	PU_ROWS(f->db, "SELECT count(*) FROM message_costs", "0");
	PU_ROWS(f->db, "SELECT seq, name FROM metrics", "15|new");
	PU_ROWS(f->db, COUNTS, "TB|1\nTC|1");
	PU_ROWS(f->db, UTHREADS, "1|2|1|1714557622000\n1|3|1|1714557620000");
	search_is(f, "shared", 0, "11");
	search_is(f, "sunset", 1, "");
	assert_int_equal(pu_vocab_count(f->db, "images_fts", "sunset"), 0);
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "shared"), 1);
	PU_ROWS(f->db, "SELECT count(*) FROM messages_fts", "2");

	/* The history API agrees. */
	cj_history_query hq = CJ_HISTORY_QUERY_INIT;
	char *json = NULL;
	hq.thread = "TA";
	TU_OK(cj_query_history(&json, f->tu.s, &hq));
	PU_SEQS(json, "");
	cj_free(json);
	hq.thread = "TB";
	TU_OK(cj_query_history(&json, f->tu.s, &hq));
	PU_SEQS(json, "13");
	cj_free(json);
	hq.thread = "TC";
	TU_OK(cj_query_history(&json, f->tu.s, &hq));
	PU_SEQS(json, "11");
	cj_free(json);
}

/* Scoped purges: a thread's old rows, a user's old messages (images have no
 * user: they stay), a server's old messages and the images of its threads,
 * only the metrics; each leaves everything outside its scope as it was. */
static void test_purge_scoped(void **state)
{
	fixture *f = *state;
	populate(f);
	/* Thread TB before 10:00:07: messages 5 and 6 (7 is at :07). */
	const char *p1 = "NOT (m.thread_rowid = 2 AND m.ts_ms < 1714557607000)";
	char *before = untouched(f, p1, p1, "1");
	add(f, 16, "{\"type\":\"purge\",\"before\":1714557607000,\"thread\":\"TB\"}");
	same_rows(before, untouched(f, p1, p1, "1"), "purge thread TB");
	kill_docs((const uint64_t[]){ 5, 6 }, 2);
	check_docs(f);
	PU_ROWS(f->db, COUNTS, "TA|3\nTB|2\nTC|4");
	PU_ROWS(f->db, "SELECT count(*) FROM metrics", "2");

	/* User U2 before 10:00:30 (all of U2's messages): 2, 10, 12; no image. */
	const char *p2 = "m.user_rowid IS NOT 2";
	before = untouched(f, p2, "1", "1");
	add(f, 17, "{\"type\":\"purge\",\"before\":1714557630000,\"user\":\"U2\"}");
	same_rows(before, untouched(f, p2, "1", "1"), "purge user U2");
	kill_docs((const uint64_t[]){ 2, 10, 12 }, 3);
	check_docs(f);
	PU_ROWS(f->db, "SELECT seq FROM images ORDER BY seq", "4\n8");
	PU_ROWS(f->db, UTHREADS, "1|1|1|1714557601000\n1|2|2|1714557622000\n1|3|2|1714557620000");

	/* Server S2, messages only, before 10:00:15: 9 (11 is later). */
	const char *p3 = "NOT (m.server IS 'S2' AND m.ts_ms < 1714557615000)";
	before = untouched(f, p3, "1", "1");
	add(f, 18, "{\"type\":\"purge\",\"before\":1714557615000,\"server\":\"S2\","
	           "\"kinds\":[\"messages\"]}");
	same_rows(before, untouched(f, p3, "1", "1"), "purge server S2");
	kill_docs((const uint64_t[]){ 9 }, 1);
	check_docs(f);

	/* Only metrics, store-wide: metric 14; every message and image stays. */
	before = untouched(f, "1", "1", "ts_ms >= 1714557615000");
	add(f, 19, "{\"type\":\"purge\",\"before\":1714557615000,\"kinds\":[\"metrics\"]}");
	same_rows(before, untouched(f, "1", "1", "ts_ms >= 1714557615000"), "purge metrics");
	PU_ROWS(f->db, "SELECT seq, name FROM metrics", "15|new");
	check_docs(f);

	/* A scope nobody wrote in removes nothing; a scoped purge never metrics. */
	before = untouched(f, "1", "1", "1");
	add(f, 20, "{\"type\":\"purge\",\"before\":1714557699000,\"thread\":\"nope\"}");
	add(f, 21, "{\"type\":\"purge\",\"before\":1714557699000,\"user\":\"U1\","
	           "\"kinds\":[\"metrics\"]}");
	same_rows(before, untouched(f, "1", "1", "1"), "purge out of scope");
}

/* A thread deleted and then written again starts empty: no old rows come back. */
static void test_thread_reused_after_delete(void **state)
{
	fixture *f = *state;
	add(f, 1, MSG("TR", U("U1"), S("S1"), "oldword one", "", "1714557601000"));
	add(f, 2, "{\"type\":\"delete_thread\",\"thread\":\"TR\",\"ts\":1714557602000}");
	add(f, 3, MSG("TR", U("U1"), S("S1"), "newword two", "", "1714557603000"));
	cj_history_query hq = CJ_HISTORY_QUERY_INIT;
	hq.thread = "TR";
	char *json = NULL;
	TU_OK(cj_query_history(&json, f->tu.s, &hq));
	PU_SEQS(json, "3");
	cj_free(json);
	search_is(f, "oldword", 0, "");
	search_is(f, "newword", 0, "3");
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "oldword"), 0);
	PU_ROWS(f->db, "SELECT thread, message_count, created_ms FROM threads", "TR|1|1714557603000");
	PU_ROWS(f->db, UTHREADS, "1|1|1|1714557603000");
	/* Deleting an unknown thread or clearing an unknown user changes nothing. */
	add(f, 4, "{\"type\":\"delete_thread\",\"thread\":\"nope\"}");
	add(f, 5, "{\"type\":\"clear_history\",\"user\":\"nobody\"}");
	PU_ROWS(f->db, "SELECT seq FROM messages", "3");
	PU_ROWS(f->db, "SELECT seq FROM journal_position", "5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deletions_leave_no_trace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_reused_after_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_scoped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
