/* tests/projection/test_effects.c — what every event type does to the
 * projection: after each append the exact rows of every affected table,
 * read straight from STORE/chat.sqlite with our own read-only connection,
 * and the effective config (store defaults <- user <- thread, JSON merge
 * patch) through cj_query_effective_config. */
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
	uint64_t last;
	char png[CJ_BLOB_HASH_LEN + 1];
	char jpg[CJ_BLOB_HASH_LEN + 1];
	char gif[CJ_BLOB_HASH_LEN + 1];
} fixture;

static const char DEFAULTS[] =
	"{\"model\":\"base\",\"temperature\":0.5,\"style\":{\"tone\":\"neutral\",\"emoji\":false},"
	"\"lang\":\"en\"}";

/* The store's defaults are written between init and the first open. */
static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "proj-effects", NULL,
	                        TU_FIXTURE_NO_STORE) != 0)
		return -1;
	fixture *f = *state;
	pu_sqlite_path(f->db, sizeof f->db, f->tu.store);
	if (cj_store_init(f->tu.store, NULL) != 0 ||
	    pu_set_conf_defaults(f->tu.store, DEFAULTS) != 0 ||
	    cj_store_open(&f->tu.s, f->tu.store, NULL) != 0) {
		tu_fixture_teardown(state);
		return -1;
	}
	return 0;
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

/* Append one event, wait until it is applied, check journal_position. */
static uint64_t step(fixture *f, const char *json)
{
	uint64_t seq = 0;
	TU_OK(pu_append(f->tu.s, json, &seq));
	assert_int_equal(seq, f->last + 1);
	f->last = seq;
	TU_OK(cj_wait_applied(f->tu.s, seq, WAIT_MS));
	char want[64];
	snprintf(want, sizeof want, "1|%llu|1", (unsigned long long)seq);
	PU_ROWS(f->db, "SELECT id, seq, updated_ms > 0 FROM journal_position", want);
	return seq;
}

/* cols: the columns this test asserts (the schema of 0.2; the columns 0.3
 * added are asserted by test_chat_model.c). */
static void table_is(fixture *f, const char *cols, const char *table, const char *order,
                     const char *want)
{
	char sql[512];
	snprintf(sql, sizeof sql, "SELECT %s FROM %s ORDER BY %s", cols, table, order);
	PU_ROWS(f->db, sql, want);
}

#define USER_COLS "user_rowid, user, username, timezone, tz_label, tz_offset, config," \
	" first_seen_ms, first_seen, last_seen_ms, last_seen, seq"
#define THREAD_COLS "thread_rowid, thread, server, channel, config, created_ms, created," \
	" last_activity_ms, last_activity, message_count, seq"
#define MESSAGE_COLS "seq, thread_rowid, user_rowid, role, content, server, channel, message_ts," \
	" metadata, id, ts_ms, ts"
#define IMAGE_COLS "seq, thread_rowid, url, kind, prompt, analysis, original_analysis, metadata," \
	" blob, thumbnail, has_thumbnail, id, ts_ms, ts"
#define USERS(f, want) table_is(f, USER_COLS, "users", "user_rowid", want)
#define THREADS(f, want) table_is(f, THREAD_COLS, "threads", "thread_rowid", want)
#define USER_THREADS(f, want) table_is(f, "*", "user_threads", "user_rowid, thread_rowid", want)
#define MESSAGES(f, want) table_is(f, MESSAGE_COLS, "messages", "seq", want)
#define COSTS(f, want) table_is(f, "*", "message_costs", "seq", want)
#define IMAGES(f, want) table_is(f, IMAGE_COLS, "images", "seq", want)
#define BLOBS(f, want) table_is(f, "*", "blobs", "blob", want)
#define SETTINGS(f, want) table_is(f, "*", "settings", "key", want)
#define CHANGES(f, want) table_is(f, "*", "config_changes", "seq", want)
#define METRICS(f, want) table_is(f, "*", "metrics", "seq", want)

static void effective_is(fixture *f, const char *thread, const char *user, const char *want)
{
	char *got = NULL;
	TU_OK(cj_query_effective_config(&got, f->tu.s, thread, user));
	assert_non_null(got);
	if (!pu_json_equal(got, want))
		fail_msg("effective config (thread %s, user %s):\n  got  %s\n  want %s",
		         thread ? thread : "NULL", user ? user : "NULL", got, want);
	cj_free(got);
}

static void put_blobs(fixture *f)
{
	unsigned char png[64], jpg[100], gif[16];
	memcpy(png, "\x89PNG\r\n\x1a\n", 8);
	for (size_t i = 8; i < sizeof png; i++)
		png[i] = (unsigned char)(i * 7);
	memcpy(jpg, "\xff\xd8\xff\xe0", 4);
	for (size_t i = 4; i < sizeof jpg; i++)
		jpg[i] = (unsigned char)(i * 13);
	TU_OK(cj_blob_put(f->png, f->tu.s, png, sizeof png));
	TU_OK(cj_blob_put(f->jpg, f->tu.s, jpg, sizeof jpg));
	memcpy(gif, "GIF89a", 6);
	memset(gif + 6, 0x2a, sizeof gif - 6);
	TU_OK(cj_blob_put(f->gif, f->tu.s, gif, sizeof gif));
}

#define UNSTORED "0123456789abcdef0123456789abcdef"
#define CFG_T1 "{\"model\":\"gpt-x\",\"style\":{\"emoji\":null,\"tone\":\"formal\"}}"
#define CFG_U1 "{\"style\":{\"emoji\":true},\"temperature\":0.75}"
#define CFG_U1B "{\"lang\":null,\"temperature\":0.25}"

static void test_every_event_type(void **state)
{
	fixture *f = *state;
	char want[4096], sql[512];
	put_blobs(f);
	/* Blobs alone are not events: nothing in the projection yet. */
	PU_ROWS(f->db, "SELECT id, seq FROM journal_position", "1|0");
	effective_is(f, NULL, NULL, DEFAULTS);

	/* 1: user with a config. */
	step(f, "{\"type\":\"user\",\"user\":\"U1\",\"username\":\"alice\",\"timezone\":\"Europe/Paris\","
	        "\"tz_label\":\"CEST\",\"tz_offset\":7200,\"config\":{\"temperature\":0.75,"
	        "\"style\":{\"emoji\":true}},\"ts\":1714557600000}");
	USERS(f, "1|U1|alice|Europe/Paris|CEST|7200|" CFG_U1 "|1714557600000|2024-05-01T10:00:00.000Z"
	         "|1714557600000|2024-05-01T10:00:00.000Z|1");
	CHANGES(f, "1|user|U1|NULL|NULL|" CFG_U1 "|0|1714557600000|2024-05-01T10:00:00.000Z");
	THREADS(f, "");
	MESSAGES(f, "");
	effective_is(f, NULL, "U1",
	             "{\"model\":\"base\",\"temperature\":0.75,\"style\":{\"tone\":\"neutral\",\"emoji\":true},"
	             "\"lang\":\"en\"}");

	/* 2: thread_config creates the thread; "emoji": null deletes the key. */
	step(f, "{\"type\":\"thread_config\",\"thread\":\"T1\",\"server\":\"S1\",\"channel\":\"C1\","
	        "\"config\":{\"model\":\"gpt-x\",\"style\":{\"tone\":\"formal\",\"emoji\":null}},"
	        "\"ts\":1714557601000}");
	THREADS(f, "1|T1|S1|C1|" CFG_T1 "|1714557601000|2024-05-01T10:00:01.000Z|1714557601000"
	           "|2024-05-01T10:00:01.000Z|0|2");
	CHANGES(f, "1|user|U1|NULL|NULL|" CFG_U1 "|0|1714557600000|2024-05-01T10:00:00.000Z\n"
	           "2|thread|T1|NULL|NULL|" CFG_T1 "|0|1714557601000|2024-05-01T10:00:01.000Z");
	effective_is(f, "T1", "U1",
	             "{\"model\":\"gpt-x\",\"temperature\":0.75,\"style\":{\"tone\":\"formal\"},\"lang\":\"en\"}");
	effective_is(f, "T1", NULL,
	             "{\"model\":\"gpt-x\",\"temperature\":0.5,\"style\":{\"tone\":\"formal\"},\"lang\":\"en\"}");
	effective_is(f, "no-such-thread", "no-such-user", DEFAULTS);
	effective_is(f, NULL, NULL, DEFAULTS);

	/* 3: a message with every optional field. */
	step(f, "{\"type\":\"message\",\"id\":\"m-1\",\"thread\":\"T1\",\"role\":\"user\","
	        "\"content\":\"The lighthouse keeper waves\",\"server\":\"S1\",\"channel\":\"C1\","
	        "\"user\":\"U1\",\"message_ts\":\"1714557602.000100\",\"metadata\":{\"z\":1,\"a\":\"b\"},"
	        "\"cost\":{\"model\":\"gpt-x\",\"input_tokens\":120,\"output_tokens\":45,\"usd\":0.0123},"
	        "\"ts\":1714557602000}");
	MESSAGES(f, "3|1|1|user|The lighthouse keeper waves|S1|C1|1714557602.000100|{\"a\":\"b\",\"z\":1}"
	            "|m-1|1714557602000|2024-05-01T10:00:02.000Z");
	COSTS(f, "3|1|gpt-x|120|45|0.0123|1714557602000|2024-05-01");
	THREADS(f, "1|T1|S1|C1|" CFG_T1 "|1714557601000|2024-05-01T10:00:01.000Z|1714557602000"
	           "|2024-05-01T10:00:02.000Z|1|3");
	USER_THREADS(f, "1|1|1714557602000|1");
	USERS(f, "1|U1|alice|Europe/Paris|CEST|7200|" CFG_U1 "|1714557600000|2024-05-01T10:00:00.000Z"
	         "|1714557602000|2024-05-01T10:00:02.000Z|3");
	PU_ROWS(f->db, "SELECT rowid, content FROM messages_fts WHERE messages_fts MATCH 'keeper'",
	        "3|The lighthouse keeper waves");
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "lighthouse"), 1);

	/* 4: no user, no server: NULLs; a cost without user or tokens; the next
	 * day (UTC) becomes the thread's last activity. */
	step(f, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"assistant\",\"content\":\"ahoy from the tower\","
	        "\"cost\":{\"model\":\"gpt-x\",\"usd\":0.5},\"ts\":1714608000000}");
	MESSAGES(f, "3|1|1|user|The lighthouse keeper waves|S1|C1|1714557602.000100|{\"a\":\"b\",\"z\":1}"
	            "|m-1|1714557602000|2024-05-01T10:00:02.000Z\n"
	            "4|1|NULL|assistant|ahoy from the tower|NULL|NULL|NULL|NULL|NULL|1714608000000"
	            "|2024-05-02T00:00:00.000Z");
	COSTS(f, "3|1|gpt-x|120|45|0.0123|1714557602000|2024-05-01\n"
	         "4|NULL|gpt-x|NULL|NULL|0.5|1714608000000|2024-05-02");
	THREADS(f, "1|T1|S1|C1|" CFG_T1 "|1714557601000|2024-05-01T10:00:01.000Z|1714608000000"
	           "|2024-05-02T00:00:00.000Z|2|4");
	USER_THREADS(f, "1|1|1714557602000|1");

	/* 5: an image with stored blob and thumbnail; an older ts does not move
	 * last_activity back. */
	snprintf(want, sizeof want,
	         "{\"type\":\"image\",\"id\":\"i-1\",\"thread\":\"T1\",\"url\":\"https://cdn.example/a.png\","
	         "\"kind\":\"generated\",\"prompt\":\"a red lighthouse at dusk\","
	         "\"analysis\":\"a lighthouse painted red\",\"original_analysis\":\"lighthouse\","
	         "\"metadata\":{\"w\":1024},\"blob\":\"%s\",\"thumbnail\":\"%s\",\"ts\":1714557604000}",
	         f->png, f->jpg);
	step(f, want);
	snprintf(want, sizeof want,
	         "5|1|https://cdn.example/a.png|generated|a red lighthouse at dusk|a lighthouse painted red"
	         "|lighthouse|{\"w\":1024}|%s|%s|1|i-1|1714557604000|2024-05-01T10:00:04.000Z",
	         f->png, f->jpg);
	IMAGES(f, want);
	int png_first = strcmp(f->png, f->jpg) < 0;
	snprintf(want, sizeof want, "%s|%s|%s|5\n%s|%s|%s|5",
	         png_first ? f->png : f->jpg, png_first ? "64" : "100",
	         png_first ? "image/png" : "image/jpeg",
	         png_first ? f->jpg : f->png, png_first ? "100" : "64",
	         png_first ? "image/jpeg" : "image/png");
	BLOBS(f, want);
	THREADS(f, "1|T1|S1|C1|" CFG_T1 "|1714557601000|2024-05-01T10:00:01.000Z|1714608000000"
	           "|2024-05-02T00:00:00.000Z|2|5");
	assert_int_equal(pu_vocab_count(f->db, "images_fts", "dusk"), 1);
	assert_int_equal(pu_vocab_count(f->db, "images_fts", "lighthouse"), 2);
	char *json = NULL;
	cj_history_query hq = CJ_HISTORY_QUERY_INIT;
	hq.thread = "T1";
	TU_OK(cj_query_images(&json, f->tu.s, &hq));
	snprintf(want, sizeof want,
	         "[{\"seq\":5,\"thread\":\"T1\",\"url\":\"https://cdn.example/a.png\",\"kind\":\"generated\","
	         "\"prompt\":\"a red lighthouse at dusk\",\"analysis\":\"a lighthouse painted red\","
	         "\"original_analysis\":\"lighthouse\",\"metadata\":{\"w\":1024},\"blob\":\"%s\","
	         "\"thumbnail\":\"%s\",\"has_thumbnail\":true,\"id\":\"i-1\",\"ts_ms\":1714557604000,"
	         "\"ts\":\"2024-05-01T10:00:04.000Z\",\"size\":64,\"mime_type\":\"image/png\","
	         "\"type\":\"image\"}]", f->png, f->jpg);
	if (!pu_json_equal(json, want))
		fail_msg("images of T1:\n  got  %s\n  want %s", json, want);
	cj_free(json);

	/* An image naming a blob that was never stored is refused (field blob). */
	uint64_t none = 0;
	TU_RC(pu_append(f->tu.s, "{\"type\":\"image\",\"thread\":\"T2\",\"url\":\"https://x/y\","
	                "\"blob\":\"" UNSTORED "\",\"ts\":1714557605000}", &none), CJ_EINVAL);
	assert_non_null(cj_error_field());
	assert_string_equal(cj_error_field(), "blob");
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, f->tu.s));
	assert_int_equal(last, 5);

	/* 6: a minimal image in a new thread (GIF blob, no thumbnail). */
	snprintf(want, sizeof want, "{\"type\":\"image\",\"thread\":\"T2\",\"url\":\"https://cdn.example/b.gif\","
	         "\"blob\":\"%s\",\"ts\":1714557605000}", f->gif);
	step(f, want);
	snprintf(want, sizeof want, "6|2|https://cdn.example/b.gif|NULL|NULL|NULL|NULL|NULL|%s|NULL|0|NULL"
	         "|1714557605000|2024-05-01T10:00:05.000Z", f->gif);
	PU_ROWS(f->db, "SELECT " IMAGE_COLS " FROM images WHERE seq = 6", want);
	snprintf(sql, sizeof sql, "SELECT * FROM blobs WHERE blob = '%s'", f->gif);
	snprintf(want, sizeof want, "%s|16|image/gif|6", f->gif);
	PU_ROWS(f->db, sql, want);
	PU_ROWS(f->db, "SELECT count(*) FROM blobs", "3");
	PU_ROWS(f->db, "SELECT " THREAD_COLS " FROM threads WHERE thread = 'T2'",
	        "2|T2|NULL|NULL|NULL|1714557605000|2024-05-01T10:00:05.000Z|1714557605000"
	        "|2024-05-01T10:00:05.000Z|0|6");

	/* 7, 8: a setting and its change (category/description kept). */
	step(f, "{\"type\":\"setting\",\"key\":\"bot.model\",\"value\":{\"name\":\"gpt-x\",\"max\":3},"
	        "\"category\":\"llm\",\"actor\":\"admin\",\"description\":\"the model\",\"ts\":1714557606000}");
	SETTINGS(f, "bot.model|{\"max\":3,\"name\":\"gpt-x\"}|llm|0|admin|the model|1714557606000"
	            "|2024-05-01T10:00:06.000Z|7");
	PU_ROWS(f->db, "SELECT * FROM config_changes WHERE seq > 2",
	        "7|setting|bot.model|admin|NULL|{\"max\":3,\"name\":\"gpt-x\"}|0|1714557606000"
	        "|2024-05-01T10:00:06.000Z");
	step(f, "{\"type\":\"setting\",\"key\":\"bot.model\",\"value\":\"gpt-y\",\"actor\":\"ops\","
	        "\"ts\":1714557607000}");
	SETTINGS(f, "bot.model|\"gpt-y\"|llm|0|ops|the model|1714557607000|2024-05-01T10:00:07.000Z|8");
	PU_ROWS(f->db, "SELECT * FROM config_changes WHERE seq > 7",
	        "8|setting|bot.model|ops|{\"max\":3,\"name\":\"gpt-x\"}|\"gpt-y\"|0|1714557607000"
	        "|2024-05-01T10:00:07.000Z");

	/* 9, 10: a sensitive setting is "***" in settings and in the audit. */
	step(f, "{\"type\":\"setting\",\"key\":\"api.token\",\"value\":\"sk-secret-123\",\"category\":\"auth\","
	        "\"sensitive\":true,\"actor\":\"admin\",\"ts\":1714557608000}");
	step(f, "{\"type\":\"setting\",\"key\":\"api.token\",\"value\":\"sk-secret-456\",\"sensitive\":true,"
	        "\"actor\":\"ops\",\"ts\":1714557609000}");
	SETTINGS(f, "api.token|\"***\"|auth|1|ops|NULL|1714557609000|2024-05-01T10:00:09.000Z|10\n"
	            "bot.model|\"gpt-y\"|llm|0|ops|the model|1714557607000|2024-05-01T10:00:07.000Z|8");
	PU_ROWS(f->db, "SELECT * FROM config_changes WHERE seq > 8",
	        "9|setting|api.token|admin|NULL|\"***\"|1|1714557608000|2024-05-01T10:00:08.000Z\n"
	        "10|setting|api.token|ops|\"***\"|\"***\"|1|1714557609000|2024-05-01T10:00:09.000Z");
	PU_ROWS(f->db, "SELECT (SELECT count(*) FROM settings WHERE value LIKE '%secret%'"
	               " OR description LIKE '%secret%') + (SELECT count(*) FROM config_changes"
	               " WHERE old_value LIKE '%secret%' OR new_value LIKE '%secret%')", "0");

	/* 11, 12: metrics (a real and an integer value; tags canonical). */
	step(f, "{\"type\":\"metric\",\"name\":\"latency\",\"value\":12.5,\"unit\":\"ms\","
	        "\"tags\":{\"route\":\"/chat\",\"b\":1},\"ts\":1714557610000}");
	step(f, "{\"type\":\"metric\",\"name\":\"queue\",\"value\":3,\"ts\":1714557611000}");
	METRICS(f, "11|latency|12.5|ms|{\"b\":1,\"route\":\"/chat\"}|1714557610000|2024-05-01T10:00:10.000Z\n"
	           "12|queue|3.0|NULL|NULL|1714557611000|2024-05-01T10:00:11.000Z");

	/* 13: the user's config changes (old -> new audited); 14: a user without
	 * config is not audited. */
	step(f, "{\"type\":\"user\",\"user\":\"U1\",\"timezone\":\"America/New_York\","
	        "\"config\":{\"temperature\":0.25,\"lang\":null},\"ts\":1714557612000}");
	step(f, "{\"type\":\"user\",\"user\":\"U2\",\"username\":\"bob\",\"ts\":1714557613000}");
	USERS(f, "1|U1|alice|America/New_York|CEST|7200|" CFG_U1B "|1714557600000|2024-05-01T10:00:00.000Z"
	         "|1714557612000|2024-05-01T10:00:12.000Z|13\n"
	         "2|U2|bob|NULL|NULL|NULL|NULL|1714557613000|2024-05-01T10:00:13.000Z|1714557613000"
	         "|2024-05-01T10:00:13.000Z|14");
	PU_ROWS(f->db, "SELECT * FROM config_changes WHERE seq > 10",
	        "13|user|U1|NULL|" CFG_U1 "|" CFG_U1B "|0|1714557612000|2024-05-01T10:00:12.000Z");
	effective_is(f, "T1", "U1",
	             "{\"model\":\"gpt-x\",\"temperature\":0.25,\"style\":{\"tone\":\"formal\"}}");
	effective_is(f, NULL, "U1",
	             "{\"model\":\"base\",\"temperature\":0.25,\"style\":{\"tone\":\"neutral\",\"emoji\":false}}");
	effective_is(f, "T2", "U2", DEFAULTS);

	/* 15: the thread's config is replaced (not merged) and audited. */
	step(f, "{\"type\":\"thread_config\",\"thread\":\"T1\",\"config\":{\"model\":\"gpt-z\"},"
	        "\"ts\":1714557614000}");
	PU_ROWS(f->db, "SELECT " THREAD_COLS " FROM threads WHERE thread_rowid = 1",
	        "1|T1|S1|C1|{\"model\":\"gpt-z\"}|1714557601000|2024-05-01T10:00:01.000Z|1714608000000"
	        "|2024-05-02T00:00:00.000Z|2|15");
	PU_ROWS(f->db, "SELECT * FROM config_changes WHERE seq > 13",
	        "15|thread|T1|NULL|" CFG_T1 "|{\"model\":\"gpt-z\"}|0|1714557614000|2024-05-01T10:00:14.000Z");
	effective_is(f, "T1", "U1",
	             "{\"model\":\"gpt-z\",\"temperature\":0.25,\"style\":{\"tone\":\"neutral\",\"emoji\":false}}");

	/* 16, 17: more messages for the deletions below. */
	step(f, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\",\"content\":\"second mate here\","
	        "\"user\":\"U2\",\"server\":\"S1\",\"ts\":1714557615000}");
	step(f, "{\"type\":\"message\",\"thread\":\"T3\",\"role\":\"user\",\"content\":\"other server chatter\","
	        "\"user\":\"U1\",\"server\":\"S2\",\"cost\":{\"model\":\"m\",\"input_tokens\":1,"
	        "\"output_tokens\":2,\"usd\":0.25},\"ts\":1714557616000}");
	USER_THREADS(f, "1|1|1714557602000|1\n1|3|1714557616000|1\n2|1|1714557615000|1");

	/* 18: clear_history of U1 on S1 only. */
	step(f, "{\"type\":\"clear_history\",\"user\":\"U1\",\"server\":\"S1\",\"ts\":1714557617000}");
	PU_ROWS(f->db, "SELECT seq FROM messages ORDER BY seq", "4\n16\n17");
	COSTS(f, "4|NULL|gpt-x|NULL|NULL|0.5|1714608000000|2024-05-02\n"
	         "17|1|m|1|2|0.25|1714557616000|2024-05-01");
	USER_THREADS(f, "1|3|1714557616000|1\n2|1|1714557615000|1");
	PU_ROWS(f->db, "SELECT thread, message_count FROM threads ORDER BY thread_rowid", "T1|2\nT2|0\nT3|1");
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "lighthouse"), 0);
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "keeper"), 0);
	assert_int_equal(pu_vocab_count(f->db, "images_fts", "lighthouse"), 2);

	/* 19: delete_thread T1: its messages, image, costs, user_threads and the
	 * blobs only it referred to. */
	step(f, "{\"type\":\"delete_thread\",\"thread\":\"T1\",\"ts\":1714557618000}");
	PU_ROWS(f->db, "SELECT seq FROM messages ORDER BY seq", "17");
	PU_ROWS(f->db, "SELECT seq FROM images ORDER BY seq", "6");
	PU_ROWS(f->db, "SELECT seq FROM message_costs ORDER BY seq", "17");
	PU_ROWS(f->db, "SELECT thread, message_count FROM threads ORDER BY thread_rowid", "T2|0\nT3|1");
	USER_THREADS(f, "1|3|1714557616000|1");
	snprintf(want, sizeof want, "%s|16|image/gif|6", f->gif);
	BLOBS(f, want);
	assert_int_equal(pu_vocab_count(f->db, "images_fts", "lighthouse"), 0);
	assert_int_equal(pu_vocab_count(f->db, "messages_fts", "ahoy"), 0);
	effective_is(f, "T1", NULL, DEFAULTS);

	/* 20: purge before 10:00:11: older metrics and images go, settings and
	 * the audit stay. */
	step(f, "{\"type\":\"purge\",\"before\":\"2024-05-01T10:00:11Z\",\"ts\":1714557619000}");
	METRICS(f, "12|queue|3.0|NULL|NULL|1714557611000|2024-05-01T10:00:11.000Z");
	IMAGES(f, "");
	BLOBS(f, "");
	PU_ROWS(f->db, "SELECT seq FROM messages ORDER BY seq", "17");
	PU_ROWS(f->db, "SELECT count(*) FROM settings", "2");
	PU_ROWS(f->db, "SELECT group_concat(seq) FROM (SELECT seq FROM config_changes ORDER BY seq)", "1,2,7,8,9,10,13,15");
	PU_ROWS(f->db, "SELECT seq FROM journal_position", "20");

	char *report = NULL;
	TU_OK(cj_projection_check(&report, f->db));
	assert_string_equal(report, "ok");
	cj_free(report);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_event_type, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
