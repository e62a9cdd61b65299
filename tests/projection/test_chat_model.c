/* tests/projection/test_chat_model.c — the events and fields of schema 0.3
 * (docs/events.md, "The chat model"): after each append the exact rows of
 * the tables they change (messages, message_edits, reactions, attachments,
 * users, threads, blobs, the FTS index through fts5vocab), what history
 * and search return, the targets the journal refuses with their exact
 * messages, deletions of every kind taking edits, reactions and attachments
 * with their messages, event times of imports, and at the end of each test
 * a replay whose state hash equals the live projection's. */
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
	char db[PATH_MAX];
	char blob[CJ_BLOB_HASH_LEN + 1];
	char blob2[CJ_BLOB_HASH_LEN + 1];
} fixture;

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "proj-chat", NULL, 0) != 0)
		return -1;
	fixture *f = *state;
	pu_sqlite_path(f->db, sizeof f->db, f->tu.store);
	static const char png[] = "\x89PNG\r\n\x1a\n chat-model attachment";
	static const char pdf[] = "%PDF-1.4 chat-model attachment";
	if (cj_blob_put(f->blob, f->tu.s, png, sizeof png - 1) != 0 ||
	    cj_blob_put(f->blob2, f->tu.s, pdf, sizeof pdf - 1) != 0) {
		tu_fixture_teardown(state);
		return -1;
	}
	return 0;
}

/* Before the store closes: a replay equals the live projection, and the
 * projection passes its checks (FTS5 integrity included). */
static int teardown(void **state)
{
	fixture *f = *state;
	int rc = pu_replay_matches(&f->tu, WAIT_MS);
	tu_fixture_teardown(state);
	return rc;
}

/* Append one event and wait until it is applied. */
static uint64_t put(fixture *f, const char *json)
{
	uint64_t seq = 0;
	if (pu_append(f->tu.s, json, &seq) != 0)
		fail_msg("append %s: %s", json, cj_error_last());
	TU_OK(cj_wait_applied(f->tu.s, seq, WAIT_MS));
	return seq;
}

/* Two events in one batch (one ticket, one group commit): the library's
 * code; on success *last is the second's sequence number, applied. */
static int put2(fixture *f, const char *a, const char *b, uint64_t *last)
{
	cj_event *evs[2];
	TU_OK(cj_event_parse(&evs[0], a, strlen(a)));
	TU_OK(cj_event_parse(&evs[1], b, strlen(b)));
	uint64_t seqs[2];
	int rc = cj_journal_append_batch(seqs, f->tu.s, (const cj_event *const *)evs, 2);
	cj_event_free(evs[0]);
	cj_event_free(evs[1]);
	if (rc == 0 && last) {
		*last = seqs[1];
		TU_OK(cj_wait_applied(f->tu.s, seqs[1], WAIT_MS));
	}
	return rc;
}

#define PUTF(f, ...) do { char ev_[4096]; snprintf(ev_, sizeof ev_, __VA_ARGS__); put((f), ev_); } while (0)

static char *history(fixture *f, const char *thread)
{
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = thread;
	char *json = NULL;
	TU_OK(cj_query_history(&json, f->tu.s, &q));
	return json;
}

static char *search(fixture *f, const char *text)
{
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = text;
	char *json = NULL;
	TU_OK(cj_query_search(&json, f->tu.s, &q));
	return json;
}

#define JSON_IS(got, want) do { \
		if (!pu_json_equal((got), (want))) \
			fail_msg("JSON\n  got:  %s\n  want: %s", (got), (want)); \
	} while (0)

/* ---- edits ---------------------------------------------------------------- */

static void test_edit_message(void **state)
{
	fixture *f = *state;
	put(f, "{\"type\":\"message\",\"id\":\"m1\",\"thread\":\"T1\",\"role\":\"user\",\"user\":\"U1\","
	       "\"content\":\"the lighthouse keeper\",\"ts\":\"2024-05-01T10:00:00Z\"}");
	uint64_t e1 = put(f, "{\"type\":\"edit_message\",\"id\":\"m1:edit:1\",\"thread\":\"T1\",\"target\":\"m1\","
	                     "\"content\":\"the harbour keeper\",\"editor\":\"U1\",\"ts\":\"2024-05-01T10:05:00Z\"}");
	PU_ROWS(f->db, "SELECT seq, content, edited_ts_ms, edited_ts FROM messages",
	        "1|the harbour keeper|1714557900000|2024-05-01T10:05:00.000Z");
	PU_ROWS(f->db, "SELECT * FROM message_edits",
	        "2|1|U1|the lighthouse keeper|the harbour keeper|m1:edit:1|1714557900000|2024-05-01T10:05:00.000Z");
	assert_int_equal(e1, 2);
	/* Search sees the latest text only. */
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "lighthouse"), 0);
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "harbour"), 1);
	char *r = search(f, "lighthouse");
	assert_string_equal(r, "[]");
	cj_free(r);
	r = search(f, "harbour");
	PU_SEQS(r, "1");
	cj_free(r);

	/* A second edit: the chain of texts, the newest wins. */
	put(f, "{\"type\":\"edit_message\",\"thread\":\"T1\",\"target\":\"m1\",\"content\":\"the keeper\","
	       "\"ts\":\"2024-05-01T10:06:00Z\"}");
	PU_ROWS(f->db, "SELECT seq, message_seq, editor, old_content, content FROM message_edits ORDER BY seq",
	        "2|1|U1|the lighthouse keeper|the harbour keeper\n3|1|NULL|the harbour keeper|the keeper");
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "harbour"), 0);
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "keeper"), 1);
	char *h = history(f, "T1");
	JSON_IS(h, "[{\"seq\":1,\"thread\":\"T1\",\"role\":\"user\",\"content\":\"the keeper\",\"user\":\"U1\","
	           "\"ts_ms\":1714557600000,\"ts\":\"2024-05-01T10:00:00.000Z\",\"id\":\"m1\","
	           "\"edited_ts_ms\":1714557960000,\"edited_ts\":\"2024-05-01T10:06:00.000Z\","
	           "\"type\":\"message\"}]");
	cj_free(h);
	/* The thread's count and activity are the message's, not the edits'. */
	PU_ROWS(f->db, "SELECT message_count, last_activity FROM threads", "1|2024-05-01T10:00:00.000Z");

	/* In one batch with its message (an import): the FTS row the batch
	 * still holds is written before the edit replaces it. */
	uint64_t last;
	TU_OK(put2(f, "{\"type\":\"message\",\"id\":\"m2\",\"thread\":\"T1\",\"role\":\"assistant\","
	              "\"content\":\"first draft\"}",
	           "{\"type\":\"edit_message\",\"thread\":\"T1\",\"target\":\"m2\",\"content\":\"final text\"}",
	           &last));
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "draft"), 0);
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "final"), 1);
}

/* ---- targets ---------------------------------------------------------------- */

static void expect_refused(fixture *f, const char *json, const char *msg)
{
	uint64_t seq;
	int rc = pu_append(f->tu.s, json, &seq);
	if (rc != CJ_EINVAL)
		fail_msg("%s: got %d, want CJ_EINVAL", json, rc);
	assert_string_equal(cj_error_field(), "target");
	assert_string_equal(cj_error_last(), msg);
}

static void test_targets(void **state)
{
	fixture *f = *state;
	put(f, "{\"type\":\"message\",\"id\":\"m1\",\"thread\":\"T1\",\"role\":\"user\",\"content\":\"hi\"}");
	put(f, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\",\"content\":\"no id\"}");
	put(f, "{\"type\":\"user\",\"id\":\"u-7\",\"user\":\"U7\"}");
	expect_refused(f, "{\"type\":\"edit_message\",\"thread\":\"T1\",\"target\":\"m9\",\"content\":\"x\"}",
	               "field 'target': no message with id 'm9' in this store (a message is targeted "
	               "by the \"id\" it was appended with)");
	expect_refused(f, "{\"type\":\"reaction\",\"thread\":\"T2\",\"target\":\"m1\",\"emoji\":\"e\",\"user\":\"U\"}",
	               "field 'target': message 'm1' is in another thread");
	expect_refused(f, "{\"type\":\"delete_message\",\"thread\":\"T1\",\"target\":\"u-7\"}",
	               "field 'target': the event with id 'u-7' is a user, not a message");
	/* In a batch: the index of the bad event, nothing of the batch stored. */
	uint64_t before = 0, after = 0;
	TU_OK(cj_journal_last_seq(&before, f->tu.s));
	assert_int_equal(put2(f, "{\"type\":\"message\",\"id\":\"m3\",\"thread\":\"T3\",\"role\":\"user\","
	                         "\"content\":\"x\"}",
	                      "{\"type\":\"edit_message\",\"thread\":\"T1\",\"target\":\"m3\",\"content\":\"y\"}",
	                      NULL), CJ_EINVAL);
	assert_string_equal(cj_error_last(), "event 1: field 'target': message 'm3' is in another thread");
	TU_OK(cj_journal_last_seq(&after, f->tu.s));
	assert_int_equal(before, after);
	/* An attachment's blob must be stored first, as an image's. */
	TU_RC(pu_append(f->tu.s, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\",\"attachments\":"
	                         "[{\"url\":\"u\"},{\"blob\":\"00000000000000000000000000000000\"}]}", NULL), CJ_EINVAL);
	assert_string_equal(cj_error_field(), "attachments[1].blob");
	assert_string_equal(cj_error_last(), "field 'attachments[1].blob': no blob "
	                    "00000000000000000000000000000000 in this store; store the bytes first");
	/* The same id again with the same payload is a duplicate, not an edit. */
	uint64_t dup = 0;
	TU_OK(pu_append(f->tu.s, "{\"type\":\"message\",\"id\":\"m1\",\"thread\":\"T1\",\"role\":\"user\","
	                         "\"content\":\"hi\"}", &dup));
	assert_int_equal(dup, 1);
}

/* ---- reactions ---------------------------------------------------------------- */

static void test_reactions(void **state)
{
	fixture *f = *state;
	put(f, "{\"type\":\"message\",\"id\":\"m1\",\"thread\":\"T1\",\"role\":\"user\",\"content\":\"hi\"}");
	const char *add = "{\"type\":\"reaction\",\"thread\":\"T1\",\"target\":\"m1\",\"emoji\":\"%s\","
	                  "\"user\":\"%s\",\"ts\":%lld%s}";
	PUTF(f, add, "+1", "U1", (long long)PU_T0, "");
	PUTF(f, add, "+1", "U1", (long long)PU_T0 + 1, "");  /* again: still one row */
	PUTF(f, add, "+1", "U2", (long long)PU_T0 + 2, "");
	PUTF(f, add, "tada", "U1", (long long)PU_T0 + 3, ",\"op\":\"add\"");
	PU_ROWS(f->db, "SELECT * FROM reactions ORDER BY message_seq, emoji, user",
	        "1|+1|U1|2|1714557600000|2024-05-01T10:00:00.000Z\n"
	        "1|+1|U2|4|1714557600002|2024-05-01T10:00:00.002Z\n"
	        "1|tada|U1|5|1714557600003|2024-05-01T10:00:00.003Z");
	PU_ROWS(f->db, "SELECT * FROM reaction_counts", "1|+1|2\n1|tada|1");
	PU_ROWS(f->db, "SELECT seq, extras FROM messages", "1|2"); /* 007_message_extras.sql */
	char *h = history(f, "T1");
	assert_non_null(strstr(h, "\"reactions\":{\"+1\":2,\"tada\":1}"));
	cj_free(h);
	PUTF(f, add, "+1", "U1", (long long)PU_T0 + 4, ",\"op\":\"remove\"");
	PUTF(f, add, "wave", "U3", (long long)PU_T0 + 5, ",\"op\":\"remove\""); /* nothing to remove */
	PU_ROWS(f->db, "SELECT message_seq, emoji, user FROM reactions ORDER BY emoji, user",
	        "1|+1|U2\n1|tada|U1");
	PU_ROWS(f->db, "SELECT seq, extras FROM messages", "1|2");
	/* Reactions do not make users or touch their rows. */
	PU_ROWS(f->db, "SELECT count(*) FROM users", "0");
	PU_ROWS(f->db, "SELECT reactions, attachments FROM message_history", "2|0");
	/* The last one removed: the bit goes, and history leaves the key out. */
	PUTF(f, add, "+1", "U2", (long long)PU_T0 + 6, ",\"op\":\"remove\"");
	PUTF(f, add, "tada", "U1", (long long)PU_T0 + 7, ",\"op\":\"remove\"");
	PU_ROWS(f->db, "SELECT seq, extras FROM messages", "1|0");
	h = history(f, "T1");
	assert_non_null(strstr(h, "\"content\":\"hi\""));
	assert_null(strstr(h, "reactions"));
	cj_free(h);
	PUTF(f, add, "wave", "U3", (long long)PU_T0 + 8, "");
	PU_ROWS(f->db, "SELECT seq, extras FROM messages", "1|2");
	h = history(f, "T1");
	assert_non_null(strstr(h, "\"reactions\":{\"wave\":1}"));
	cj_free(h);
}

/* Close the store and set its projection back with `downgrade` (after which
 * `check` answers `check_rows`); reopen it, so that the migrations from
 * there run: the version is `version` or later and messages.extras holds
 * `want` again. Returns T1's history read after. */
static char *downgrade_reopen(fixture *f, const char *downgrade, const char *check,
                             const char *check_rows, int version, const char *want)
{
	cj_store_close(f->tu.s);
	f->tu.s = NULL;
	TU_OK(pu_exec_rw(f->db, downgrade));
	PU_ROWS(f->db, check, check_rows);
	TU_OK(cj_store_open(&f->tu.s, f->tu.store, NULL));
	char sql[80];
	snprintf(sql, sizeof sql, "SELECT user_version >= %d FROM pragma_user_version", version);
	PU_ROWS(f->db, sql, "1");
	PU_ROWS(f->db, "SELECT seq, extras FROM messages ORDER BY seq", want);
	return history(f, "T1");
}

/* messages.extras bit 4 (008_message_extras_rare.sql): set for a message
 * projected with one of the rare columns of 0.3 and for an edited one; a
 * history read takes those columns, as one object, only from such messages
 * and writes them in the order and text the columns hold. Migration 008
 * derives the bit from the columns of a schema-7 projection. */
static void test_extras_rare(void **state)
{
	fixture *f = *state;
	put(f, "{\"type\":\"message\",\"id\":\"m1\",\"thread\":\"T1\",\"role\":\"user\",\"content\":\"plain\"}");
	put(f, "{\"type\":\"message\",\"id\":\"m2\",\"thread\":\"T1\",\"role\":\"assistant\",\"name\":\"helper\","
	       "\"reply_to\":\"m1\",\"parent\":\"m1\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
	       "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}");
	put(f, "{\"type\":\"message\",\"id\":\"m3\",\"thread\":\"T1\",\"role\":\"tool\",\"tool_call_id\":\"call_1\","
	       "\"content\":\"21C \\\"sunny\\\"\\n\"}");
	put(f, "{\"type\":\"message\",\"id\":\"m4\",\"thread\":\"T1\",\"role\":\"user\",\"content\":\"draft\"}");
	put(f, "{\"type\":\"edit_message\",\"thread\":\"T1\",\"target\":\"m4\",\"content\":\"final\","
	       "\"ts\":\"2024-05-01T10:06:00Z\"}");
	const char *want = "1|0\n2|4\n3|4\n4|4";
	PU_ROWS(f->db, "SELECT seq, extras FROM messages ORDER BY seq", want);
	char *before = history(f, "T1");
	/* the rare fields where the columns stood, in their order, nothing for m1 */
	assert_non_null(strstr(before, "\"id\":\"m1\","));
	assert_non_null(strstr(before, ",\"name\":\"helper\",\"reply_to\":\"m1\",\"parent\":\"m1\",\"tool_calls\":"
	                               "[{\"function\":{\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\","
	                               "\"name\":\"get_weather\"},\"id\":\"call_1\",\"type\":\"function\"}],"
	                               "\"type\":\"message\"}"));
	assert_non_null(strstr(before, "\"content\":\"21C \\\"sunny\\\"\\n\""));
	assert_non_null(strstr(before, ",\"tool_call_id\":\"call_1\",\"type\":\"message\"}"));
	assert_non_null(strstr(before, ",\"edited_ts_ms\":1714557960000,\"edited_ts\":\"2024-05-01T10:06:00.000Z\","
	                               "\"type\":\"message\"}"));
	/* m1, the first row (the text up to m2's id), has no rare key at all */
	char seg[512];
	snprintf(seg, sizeof seg, "%s", before);
	char *m2 = strstr(seg, "\"id\":\"m2\"");
	assert_non_null(m2);
	*m2 = '\0';
	assert_non_null(strstr(seg, "\"id\":\"m1\""));
	assert_null(strstr(seg, "\"name\""));
	assert_null(strstr(seg, "edited"));
	char *after = downgrade_reopen(f, PU_UNDO_009 "UPDATE messages SET extras = extras & ~4;"
	                               " PRAGMA user_version = 7",
	                               "SELECT seq, extras FROM messages ORDER BY seq",
	                               "1|0\n2|0\n3|0\n4|0", 8, want);
	assert_string_equal(after, before);
	cj_free(before);
	cj_free(after);
}

/* Migration 007 derives messages.extras from the rows a projection of
 * schema 6 already holds: the column dropped and the version set back, the
 * next open puts the same bits back (the teardown's replay agrees). */
static void test_extras_migration(void **state)
{
	fixture *f = *state;
	PUTF(f, "{\"type\":\"message\",\"id\":\"a\",\"thread\":\"T1\",\"role\":\"user\","
	        "\"attachments\":[{\"blob\":\"%s\"}],\"ts\":%lld}", f->blob, (long long)PU_T0);
	put(f, "{\"type\":\"message\",\"id\":\"b\",\"thread\":\"T1\",\"role\":\"user\",\"content\":\"b\"}");
	put(f, "{\"type\":\"message\",\"id\":\"c\",\"thread\":\"T1\",\"role\":\"user\",\"content\":\"c\"}");
	PUTF(f, "{\"type\":\"message\",\"id\":\"d\",\"thread\":\"T1\",\"role\":\"user\","
	        "\"attachments\":[{\"url\":\"https://x/d.pdf\"}],\"ts\":%lld}", (long long)PU_T0 + 1);
	put(f, "{\"type\":\"reaction\",\"thread\":\"T1\",\"target\":\"b\",\"emoji\":\"e\",\"user\":\"U\"}");
	put(f, "{\"type\":\"reaction\",\"thread\":\"T1\",\"target\":\"d\",\"emoji\":\"e\",\"user\":\"U\"}");
	const char *want = "1|1\n2|2\n3|0\n4|3";
	PU_ROWS(f->db, "SELECT seq, extras FROM messages ORDER BY seq", want);
	char *before = history(f, "T1");
	char *after = downgrade_reopen(f, PU_UNDO_009 "ALTER TABLE messages DROP COLUMN extras;"
	                               " PRAGMA user_version = 6",
	                               "SELECT count(*) FROM pragma_table_info('messages') WHERE name = 'extras'",
	                               "0", 7, want);
	JSON_IS(after, before);
	assert_non_null(strstr(after, "\"reactions\":{\"e\":1}"));
	assert_non_null(strstr(after, "\"url\":\"https://x/d.pdf\""));
	cj_free(before);
	cj_free(after);
}

/* ---- attachments and the other message fields ------------------------------- */

static void test_message_fields(void **state)
{
	fixture *f = *state;
	PUTF(f, "{\"type\":\"message\",\"id\":\"m1\",\"thread\":\"T1\",\"role\":\"user\",\"user\":\"U1\","
	        "\"attachments\":[{\"blob\":\"%s\",\"name\":\"cat.png\",\"mime\":\"image/png\",\"size\":30},"
	        "{\"url\":\"https://files.example/r.pdf\",\"name\":\"r.pdf\"}],\"ts\":%lld}",
	     f->blob, (long long)PU_T0);
	PU_ROWS(f->db, "SELECT seq, content IS NULL FROM messages", "1|1");
	char want[512];
	snprintf(want, sizeof want, "1|0|%s|NULL|cat.png|image/png|30\n"
	         "1|1|NULL|https://files.example/r.pdf|r.pdf|NULL|NULL", f->blob);
	PU_ROWS(f->db, "SELECT * FROM attachments ORDER BY message_seq, idx", want);
	snprintf(want, sizeof want, "%s|30|image/png|1", f->blob);
	PU_ROWS(f->db, "SELECT * FROM blobs", want);
	put(f, "{\"type\":\"message\",\"id\":\"m2\",\"thread\":\"T1\",\"role\":\"assistant\",\"name\":\"helper\","
	       "\"reply_to\":\"m1\",\"parent\":\"m1\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
	       "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}");
	put(f, "{\"type\":\"message\",\"id\":\"m3\",\"thread\":\"T1\",\"role\":\"tool\",\"tool_call_id\":\"call_1\","
	       "\"content\":\"21C\"}");
	put(f, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"developer\",\"content\":\"be brief\"}");
	PU_ROWS(f->db, "SELECT seq, role, content, name, reply_to, parent, tool_call_id, tool_calls"
	               " FROM messages WHERE seq > 1 ORDER BY seq",
	        "2|assistant|NULL|helper|m1|m1|NULL|[{\"function\":{\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\","
	        "\"name\":\"get_weather\"},\"id\":\"call_1\",\"type\":\"function\"}]\n"
	        "3|tool|21C|NULL|NULL|NULL|call_1|NULL\n"
	        "4|developer|be brief|NULL|NULL|NULL|NULL|NULL");
	char *h = history(f, "T1");
	char whole[2048];
	snprintf(whole, sizeof whole,
	         "[{\"seq\":1,\"thread\":\"T1\",\"role\":\"user\",\"user\":\"U1\",\"id\":\"m1\","
	         "\"ts_ms\":1714557600000,\"ts\":\"2024-05-01T10:00:00.000Z\",\"attachments\":["
	         "{\"blob\":\"%s\",\"name\":\"cat.png\",\"mime\":\"image/png\",\"size\":30},"
	         "{\"url\":\"https://files.example/r.pdf\",\"name\":\"r.pdf\"}],\"type\":\"message\"}]",
	         f->blob);
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = "T1";
	q.limit = 1;
	q.forward = 1;
	char *first = NULL;
	TU_OK(cj_query_history(&first, f->tu.s, &q));
	JSON_IS(first, whole);
	cj_free(first);
	assert_non_null(strstr(h, "\"name\":\"helper\",\"reply_to\":\"m1\",\"parent\":\"m1\","
	                          "\"tool_calls\":[{\"function\":{\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\","
	                          "\"name\":\"get_weather\"},\"id\":\"call_1\",\"type\":\"function\"}]"));
	assert_non_null(strstr(h, "\"tool_call_id\":\"call_1\""));
	cj_free(h);
	/* An image names its message. */
	PUTF(f, "{\"type\":\"image\",\"thread\":\"T1\",\"url\":\"https://cdn/x.png\",\"blob\":\"%s\","
	        "\"message\":\"m1\"}", f->blob);
	PU_ROWS(f->db, "SELECT seq, message FROM images", "5|m1");
	cj_query_images(&h, f->tu.s, &q);
	assert_non_null(strstr(h, "\"message\":\"m1\""));
	cj_free(h);
}

/* ---- delete_message and every other deletion -------------------------------- */

/* A message with everything hanging off it: cost, attachments, a reaction,
 * an edit. */
static void rich_message(fixture *f, const char *id, const char *thread, const char *user,
                         const char *server, long long ts)
{
	PUTF(f, "{\"type\":\"message\",\"id\":\"%s\",\"thread\":\"%s\",\"role\":\"user\",\"user\":\"%s\","
	        "\"server\":\"%s\",\"content\":\"rich %s\",\"cost\":{\"usd\":0.5},"
	        "\"attachments\":[{\"blob\":\"%s\"}],\"ts\":%lld}", id, thread, user, server, id, f->blob2, ts);
	PUTF(f, "{\"type\":\"reaction\",\"thread\":\"%s\",\"target\":\"%s\",\"emoji\":\"e\",\"user\":\"U9\","
	        "\"ts\":%lld}", thread, id, ts);
	PUTF(f, "{\"type\":\"edit_message\",\"thread\":\"%s\",\"target\":\"%s\",\"content\":\"edited %s\","
	        "\"ts\":%lld}", thread, id, id, ts + 1);
}

/* Rows of every table that hangs off messages, for the messages of pred. */
static void hanging_rows(fixture *f, const char *pred, const char *want)
{
	char sql[1024];
	snprintf(sql, sizeof sql,
	         "SELECT (SELECT count(*) FROM messages m WHERE %s), (SELECT count(*) FROM message_edits),"
	         " (SELECT count(*) FROM reactions), (SELECT count(*) FROM attachments),"
	         " (SELECT count(*) FROM message_costs), (SELECT count(*) FROM blobs)", pred);
	PU_ROWS(f->db, sql, want);
}

static void test_delete_message(void **state)
{
	fixture *f = *state;
	rich_message(f, "a", "T1", "U1", "S1", PU_T0);
	rich_message(f, "b", "T1", "U1", "S1", PU_T0 + 10);
	hanging_rows(f, "1", "2|2|2|2|2|1");
	put(f, "{\"type\":\"delete_message\",\"thread\":\"T1\",\"target\":\"a\",\"ts\":1714557700000}");
	PU_ROWS(f->db, "SELECT seq, content FROM messages", "4|edited b");
	hanging_rows(f, "1", "1|1|1|1|1|1");
	PU_ROWS(f->db, "SELECT message_count, last_activity_ms FROM threads", "1|1714557600010");
	PU_ROWS(f->db, "SELECT message_count FROM user_threads", "1");
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "a"), 0);
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "edited"), 1);
	/* Again: nothing left to delete, nothing changes. */
	put(f, "{\"type\":\"delete_message\",\"thread\":\"T1\",\"target\":\"a\"}");
	hanging_rows(f, "1", "1|1|1|1|1|1");
	/* The last one: its blob row goes with it, the (user, thread) row too. */
	put(f, "{\"type\":\"delete_message\",\"thread\":\"T1\",\"target\":\"b\"}");
	hanging_rows(f, "1", "0|0|0|0|0|0");
	PU_ROWS(f->db, "SELECT message_count FROM threads", "0");
	PU_ROWS(f->db, "SELECT count(*) FROM user_threads", "0");
	/* An edit of a deleted message is stored and changes nothing. */
	put(f, "{\"type\":\"edit_message\",\"thread\":\"T1\",\"target\":\"b\",\"content\":\"ghost\"}");
	hanging_rows(f, "1", "0|0|0|0|0|0");
}

static void test_other_deletions_take_everything(void **state)
{
	fixture *f = *state;
	rich_message(f, "t1", "T1", "U1", "S1", PU_T0);
	rich_message(f, "t2", "T2", "U2", "S1", PU_T0);
	rich_message(f, "t3", "T3", "U3", "S2", PU_T0);
	rich_message(f, "t4", "T4", "U4", "S1", PU_T0 + 1000000);
	hanging_rows(f, "1", "4|4|4|4|4|1");
	put(f, "{\"type\":\"delete_thread\",\"thread\":\"T1\"}");
	hanging_rows(f, "1", "3|3|3|3|3|1");
	put(f, "{\"type\":\"clear_history\",\"user\":\"U2\"}");
	hanging_rows(f, "1", "2|2|2|2|2|1");
	put(f, "{\"type\":\"purge\",\"before\":1714558000000,\"server\":\"S2\"}");
	hanging_rows(f, "m.thread_rowid = (SELECT thread_rowid FROM threads WHERE thread = 'T4')",
	             "1|1|1|1|1|1");
	put(f, "{\"type\":\"purge\",\"before\":\"2030-01-01T00:00:00Z\"}");
	hanging_rows(f, "1", "0|0|0|0|0|0");
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "edited"), 0);
}

/* ---- threads, users, configs ---------------------------------------------------- */

static void test_thread_and_title(void **state)
{
	fixture *f = *state;
	put(f, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"system\",\"content\":\"you are a bot\"}");
	put(f, "{\"type\":\"message\",\"id\":\"q\",\"thread\":\"T1\",\"role\":\"user\","
	       "\"content\":\"How do lighthouses work at night, and who keeps them running today?\\nsecond line\"}");
	PU_ROWS(f->db, "SELECT thread, title, title_set, topic FROM thread_titles",
	        "T1|How do lighthouses work at night, and who keeps them running today?|0|NULL");
	put(f, "{\"type\":\"edit_message\",\"thread\":\"T1\",\"target\":\"q\",\"content\":\"Lighthouses?\"}");
	PU_ROWS(f->db, "SELECT title FROM thread_titles", "Lighthouses?");
	put(f, "{\"type\":\"thread\",\"thread\":\"T1\",\"title\":\"Lights\",\"topic\":\"maritime\","
	       "\"metadata\":{\"slack\":{\"channel\":\"C1\"}},\"server\":\"S1\"}");
	PU_ROWS(f->db, "SELECT title, topic, metadata, server, config FROM threads",
	        "Lights|maritime|{\"slack\":{\"channel\":\"C1\"}}|S1|NULL");
	PU_ROWS(f->db, "SELECT title, title_set FROM thread_titles", "Lights|1");
	PU_ROWS(f->db, "SELECT DISTINCT thread_title FROM message_history", "Lights");
	/* Absent fields keep their value; "" returns to the default title. */
	put(f, "{\"type\":\"thread\",\"thread\":\"T1\",\"title\":\"\"}");
	PU_ROWS(f->db, "SELECT title, topic FROM thread_titles", "Lighthouses?|maritime");
	/* The bot config stays apart: the effective config holds no title. */
	char *cfg = NULL;
	TU_OK(cj_query_effective_config(&cfg, f->tu.s, "T1", NULL));
	assert_string_equal(cfg, "{}");
	cj_free(cfg);
	/* A thread event for a new thread creates it, with no messages. */
	put(f, "{\"type\":\"thread\",\"thread\":\"T2\",\"topic\":\"t\",\"ts\":\"2024-05-01T09:00:00Z\"}");
	PU_ROWS(f->db, "SELECT t.thread, t.message_count, t.created, tt.title FROM threads t"
	               " JOIN thread_titles tt USING (thread_rowid) WHERE t.thread = 'T2'",
	        "T2|0|2024-05-01T09:00:00.000Z|NULL");
}

static void test_user_profile_and_config_patch(void **state)
{
	fixture *f = *state;
	put(f, "{\"type\":\"user\",\"user\":\"U1\",\"username\":\"ann\",\"display_name\":\"Ann Lee\","
	       "\"is_bot\":false,\"avatar_url\":\"https://a/u1.png\",\"metadata\":{\"team\":\"x\"},"
	       "\"timezone\":\"Europe/Berlin\",\"config\":{\"model\":\"m1\",\"style\":{\"emoji\":true,\"tone\":\"dry\"}},"
	       "\"ts\":\"2024-05-01T10:00:00Z\"}");
	put(f, "{\"type\":\"user\",\"user\":\"U1\",\"config_patch\":{\"style\":{\"emoji\":null},\"lang\":\"de\"},"
	       "\"is_bot\":true,\"ts\":\"2024-05-01T11:00:00Z\"}");
	PU_ROWS(f->db, "SELECT username, display_name, is_bot, avatar_url, metadata, timezone, config FROM users",
	        "ann|Ann Lee|1|https://a/u1.png|{\"team\":\"x\"}|Europe/Berlin|"
	        "{\"lang\":\"de\",\"model\":\"m1\",\"style\":{\"tone\":\"dry\"}}");
	PU_ROWS(f->db, "SELECT seq, scope, subject, old_value, new_value FROM config_changes ORDER BY seq",
	        "1|user|U1|NULL|{\"model\":\"m1\",\"style\":{\"emoji\":true,\"tone\":\"dry\"}}\n"
	        "2|user|U1|{\"model\":\"m1\",\"style\":{\"emoji\":true,\"tone\":\"dry\"}}|"
	        "{\"lang\":\"de\",\"model\":\"m1\",\"style\":{\"tone\":\"dry\"}}");
	/* thread_config: a patch onto no config, then onto one. */
	put(f, "{\"type\":\"thread_config\",\"thread\":\"T1\",\"config_patch\":{\"temperature\":0.25,\"x\":null}}");
	put(f, "{\"type\":\"thread_config\",\"thread\":\"T1\",\"config_patch\":{\"temperature\":null,\"y\":[1]}}");
	PU_ROWS(f->db, "SELECT config FROM threads", "{\"y\":[1]}");
	PU_ROWS(f->db, "SELECT old_value, new_value FROM config_changes WHERE scope = 'thread' ORDER BY seq",
	        "NULL|{\"temperature\":0.25}\n{\"temperature\":0.25}|{\"y\":[1]}");
	char *cfg = NULL;
	TU_OK(cj_query_effective_config(&cfg, f->tu.s, "T1", "U1"));
	assert_true(pu_json_equal(cfg, "{\"lang\":\"de\",\"model\":\"m1\",\"style\":{\"tone\":\"dry\"},\"y\":[1]}"));
	cj_free(cfg);
	/* History shows the display name; the view too. */
	put(f, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\",\"user\":\"U1\",\"content\":\"hallo\","
	       "\"ts\":\"2024-05-01T12:00:00Z\"}");
	char *h = history(f, "T1");
	assert_non_null(strstr(h, "\"display_name\":\"Ann Lee\""));
	cj_free(h);
	PU_ROWS(f->db, "SELECT user, display_name, thread_title FROM message_history", "U1|Ann Lee|hallo");
}

/* ---- event times of imports ------------------------------------------------ */

static void test_backdated_times(void **state)
{
	fixture *f = *state;
	/* Live traffic first, then an import of older history, some of it in
	 * one batch (aggregated rows) and some alone. */
	put(f, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\",\"user\":\"U1\",\"content\":\"now\","
	       "\"ts\":\"2024-06-01T00:00:00Z\"}");
	uint64_t last;
	TU_OK(put2(f, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\",\"user\":\"U1\",\"content\":\"b\","
	              "\"ts\":\"2023-02-01T00:00:00Z\"}",
	           "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\",\"user\":\"U1\",\"content\":\"a\","
	              "\"ts\":\"2023-01-01T00:00:00Z\"}", &last));
	put(f, "{\"type\":\"user\",\"user\":\"U1\",\"display_name\":\"A\",\"ts\":\"2022-12-01T00:00:00Z\"}");
	PU_ROWS(f->db, "SELECT first_seen, last_seen FROM users",
	        "2022-12-01T00:00:00.000Z|2024-06-01T00:00:00.000Z");
	PU_ROWS(f->db, "SELECT created, last_activity, message_count FROM threads",
	        "2023-01-01T00:00:00.000Z|2024-06-01T00:00:00.000Z|3");
	/* Without ts: the append time, which is now. */
	put(f, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\",\"user\":\"U2\",\"content\":\"x\"}");
	PU_ROWS(f->db, "SELECT first_seen_ms > 1735689600000 FROM users WHERE user = 'U2'", "1");
}

/* ---- compaction's mark ---------------------------------------------------- */

static void test_redact_edits(void **state)
{
	fixture *f = *state;
	put(f, "{\"type\":\"message\",\"id\":\"m\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"v0\"}");
	put(f, "{\"type\":\"edit_message\",\"thread\":\"T\",\"target\":\"m\",\"content\":\"v1\"}");
	put(f, "{\"type\":\"edit_message\",\"thread\":\"T\",\"target\":\"m\",\"content\":\"v2\"}");
	put(f, "{\"type\":\"edit_message\",\"thread\":\"T\",\"target\":\"m\",\"content\":\"v3\"}");
	put(f, "{\"type\":\"redact_edits\",\"through_seq\":3}");
	PU_ROWS(f->db, "SELECT seq, old_content, content FROM message_edits ORDER BY seq",
	        "2||\n3||v2\n4|v2|v3");
	PU_ROWS(f->db, "SELECT content FROM messages", "v3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_edit_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extras_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extras_rare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_deletions_take_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_and_title, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_profile_and_config_patch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backdated_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redact_edits, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
