/* tests/compact/test_canary.c — deletions that delete (docs/reliability.md,
 * P8). A store gets events carrying unique canary strings (message content,
 * metadata, image prompt, analysis, URL and metadata, blob bytes, a
 * sensitive setting's value), removed with every deletion kind, next to
 * events that stay ("keepcanary" strings). Before compaction every canary is
 * found in the store's files (the scan can see text); after cj_compact:
 *   - no deleted canary is in ANY file under the store folder (journal,
 *     lock file, chat.sqlite, its WAL and shm, everything), and every
 *     keepcanary still is (negative control);
 *   - the live projection's state hash is what it was, and a replay of the
 *     compacted journal gives the same hash;
 *   - the journal checks; idempotency ids of redacted events still answer
 *     "duplicate" (their status says deleted), a blob only deleted images
 *     named is gone, an image naming it is refused, and a second compaction
 *     finds nothing to do.
 * The chat model (0.3) has a case of its own: a message deleted by
 * delete_message with its attachments (blob bytes, name, url), tool call
 * arguments and edits; the texts an edit superseded (the original and
 * older edits of a live message); a message first redacted partially (only
 * its superseded text) and deleted later, whose second compaction removes
 * the rest. There the live hash changes (the redact_edits mark blanks the
 * superseded texts in message_edits too) and must equal a replay's.
 * A second case compacts from a passive process while another process
 * (a forked child, like `serve`) materializes the store: the compactor
 * reports the scrub as the other process's, and that process scrubs the
 * projection when it sees the swap, so the canaries vanish there too.
 * Each case runs twice: on a file created by this version (scrubbed in
 * place: same file, no free page left, WAL truncated) and on one marked
 * as upgraded (scrub_state.zeroed = 0: a scrubbed copy replaces the file,
 * marked zeroed). */
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
#include "putil.h"
#include <unistd.h>
#include <jansson.h>
#include <sqlite3.h>
#include "harness.h"
#include "scan.h"

#define WAIT_MS 10000

static const char *const GONE[] = {
	"gone_canary_del_thread_msg", "gone_canary_meta_del", "gone_canary_url_del", "gone_canary_prompt_del",
	"gone_canary_analysis_del", "gone_canary_imgmeta_del", "gone_canary_clear_msg", "gone_canary_purge_msg",
	"gone_canary_secret_value", "gone_canary_blob_bytes",
};
static const char *const KEPT[] = {
	"keepcanary_s2_msg", "keepcanary_recent", "keepcanary_prompt", "keepcanary_plain",
	"keepcanary_blob_bytes",
};
#define NGONE (sizeof GONE / sizeof GONE[0])
#define NKEPT (sizeof KEPT / sizeof KEPT[0])

static int full_scrub; /* set by the setup: see prepare_file */
static int setup(void **state) { return tu_fixture_setup(state, "compact-canary", NULL); }
static int setup_in_place(void **state) { full_scrub = 0; return setup(state); }
static int setup_full(void **state) { full_scrub = 1; return setup(state); }
static int teardown(void **state) { return tu_fixture_teardown(state); }

static uint64_t add(cj_store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char json[2048];
	vsnprintf(json, sizeof json, fmt, ap);
	va_end(ap);
	uint64_t seq = 0;
	int rc = pu_append(s, json, &seq);
	if (rc)
		fail_msg("append %s: %s", json, cj_error_last());
	return seq;
}

static void hash_of(const char *db, char out[33])
{
	TU_OK(cj_projection_hash(out, NULL, db));
}

/* How many messages a search for word finds, through s's readers. */
static size_t found(cj_store *s, const char *word)
{
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = word;
	char *json;
	TU_OK(cj_query_search(&json, s, &q));
	json_t *a = json_loads(json, 0, NULL);
	cj_free(json);
	assert_non_null(a);
	size_t n = json_array_size(a);
	json_decref(a);
	return n;
}

static ino_t inode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* full_scrub 1: the case runs on a file marked as upgraded (full scrub, a
 * new file); 0: on a file created by this version (scrubbed in place). */

/* Before anything is appended: a new file says zeroed; the full case marks
 * it as an upgraded one would be. s is closed meanwhile (and reopened when
 * reopen is set). */
static void prepare_file(cj_store **s, const char *store, int reopen)
{
	char db[PATH_MAX];
	pu_sqlite_path(db, sizeof db, store);
	if (*s) {
		cj_store_close(*s);
		*s = NULL;
	}
	assert_int_equal(pu_int(db, "SELECT zeroed FROM scrub_state"), 1);
	if (full_scrub)
		assert_int_equal(pu_exec_rw(db, "UPDATE scrub_state SET zeroed = 0"), 0);
	if (reopen)
		TU_OK(cj_store_open(s, store, NULL));
}

/* The pages of db as one read transaction sees them (its WAL's included),
 * copied as they are, free pages too (the online backup API), to out. */
static void snapshot_pages(const char *db, const char *out)
{
	sqlite3 *src = NULL, *dst = NULL;
	unlink(out);
	assert_int_equal(sqlite3_open_v2(db, &src, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_open(out, &dst), SQLITE_OK);
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	assert_non_null(b);
	assert_int_equal(sqlite3_backup_step(b, -1), SQLITE_DONE);
	sqlite3_backup_finish(b);
	sqlite3_close(dst);
	sqlite3_close(src);
}

/* Right after a scrub: replaced (full) or the same file (in place) whose
 * free pages hold nothing but zeros (walked in a copy of the pages as one
 * read transaction sees them: the materializer may write and checkpoint
 * meanwhile); zeroed either way. The canary scans look at every byte of
 * every file, the WAL included. */
static void check_scrub_kind(const char *db, ino_t before)
{
	if (full_scrub) {
		assert_true(inode_of(db) != before);
	} else {
		assert_true(inode_of(db) == before);
		char copy[PATH_MAX + 16];
		snprintf(copy, sizeof copy, "%s.pages", db);
		/* beside the store folder, not in it (the scans read every file there) */
		char *slash = strrchr(copy, '/');
		assert_non_null(slash);
		*slash = '\0';
		slash = strrchr(copy, '/');
		assert_non_null(slash);
		snprintf(slash, sizeof copy - (size_t)(slash - copy), "/scrub-pages.sqlite");
		snapshot_pages(db, copy);
		long pages = 0;
		assert_int_equal(cs_free_pages_dirty(copy, &pages), 0);
		assert_int_equal(pu_int(copy, "PRAGMA freelist_count"), pages);
		unlink(copy);
	}
	assert_int_equal(pu_int(db, "SELECT zeroed FROM scrub_state"), 1);
}

/* After the scrub: nothing of a new file is left beside chat.sqlite, and
 * the readers of s (one held since before) see an event appended now. */
static void readers_follow(cj_store *s, const char *db, const char *word)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s.scrub-tmp", db);
	assert_int_not_equal(access(tmp, F_OK), 0);
	char json[256];
	snprintf(json, sizeof json, "{\"type\":\"message\",\"thread\":\"TZ\",\"role\":\"user\","
	         "\"content\":\"%s\"}", word);
	uint64_t seq = 0;
	if (pu_append(s, json, &seq))
		fail_msg("append after the scrub: %s", cj_error_last());
	TU_OK(cj_wait_applied(s, seq, WAIT_MS));
	assert_int_equal(found(s, word), 1);
}

/* Append one event by itself and give its status. */
static cj_append_status status_of(cj_store *s, const char *json, uint64_t *seq)
{
	cj_event *ev;
	TU_OK(cj_event_parse(&ev, json, strlen(json)));
	cj_ticket *t;
	TU_OK(cj_journal_submit(&t, s, (const cj_event *const *)&ev, 1));
	TU_OK(cj_ticket_wait(seq, t));
	cj_append_status st = CJ_APPEND_NEW;
	TU_OK(cj_ticket_status(&st, s, t));
	cj_ticket_free(t);
	cj_event_free(ev);
	return st;
}

#define M1 "{\"type\":\"message\",\"id\":\"m1\",\"thread\":\"TA\",\"role\":\"user\",\"user\":\"U1\"," \
	"\"server\":\"S1\",\"content\":\"hello gone_canary_del_thread_msg\",\"metadata\":{\"note\":" \
	"\"gone_canary_meta_del\"},\"cost\":{\"model\":\"m\",\"usd\":0.5},\"ts\":%lld}"
#define KEEP5 "{\"type\":\"message\",\"id\":\"m5\",\"thread\":\"TB\",\"role\":\"user\",\"user\":\"U2\"," \
	"\"server\":\"S2\",\"channel\":\"c2\",\"content\":\"keepcanary_s2_msg\",\"ts\":%lld}"

static void test_canaries(void **state)
{
	tu_fixture *f = *state;
	prepare_file(&f->s, f->store, 1);
	cj_store *s = f->s;
	char db[PATH_MAX];
	pu_sqlite_path(db, sizeof db, f->store);
	long long t = (long long)PU_T0;

	char gone_blob[CJ_BLOB_HASH_LEN + 1], kept_blob[CJ_BLOB_HASH_LEN + 1];
	const char gb[] = "\x89PNG\r\n\x1a\n gone_canary_blob_bytes 0123456789";
	const char kb[] = "\x89PNG\r\n\x1a\n keepcanary_blob_bytes 0123456789";
	TU_OK(cj_blob_put(gone_blob, s, gb, sizeof gb - 1));
	TU_OK(cj_blob_put(kept_blob, s, kb, sizeof kb - 1));

	uint64_t m1 = add(s, M1, t + 1000);
	add(s, "{\"type\":\"image\",\"id\":\"i1\",\"thread\":\"TA\",\"url\":\"https://x/gone_canary_url_del\","
	       "\"prompt\":\"gone_canary_prompt_del\",\"analysis\":\"gone_canary_analysis_del\",\"blob\":\"%s\","
	       "\"metadata\":{\"m\":\"gone_canary_imgmeta_del\"},\"ts\":%lld}", gone_blob, t + 2000);
	/* TB: the message that stays sets server S2 first; the deleted one (S1)
	 * is the latest to set threads.server: its tombstone must keep it. */
	add(s, KEEP5, t + 3000);
	add(s, "{\"type\":\"message\",\"thread\":\"TB\",\"role\":\"assistant\",\"user\":\"U2\","
	       "\"server\":\"S1\",\"channel\":\"c1\",\"content\":\"gone_canary_clear_msg\",\"ts\":%lld}", t + 4000);
	add(s, "{\"type\":\"message\",\"thread\":\"TC\",\"role\":\"user\",\"user\":\"U3\","
	       "\"content\":\"gone_canary_purge_msg\",\"ts\":%lld}", t - 100000);
	add(s, "{\"type\":\"message\",\"thread\":\"TC\",\"role\":\"user\",\"user\":\"U3\","
	       "\"content\":\"keepcanary_recent\",\"ts\":%lld}", t + 5000);
	add(s, "{\"type\":\"image\",\"id\":\"i2\",\"thread\":\"TD\",\"url\":\"https://x/k\","
	       "\"prompt\":\"keepcanary_prompt\",\"blob\":\"%s\",\"ts\":%lld}", kept_blob, t + 6000);
	add(s, "{\"type\":\"setting\",\"key\":\"api_key\",\"value\":\"gone_canary_secret_value\","
	       "\"sensitive\":true,\"actor\":\"ops\"}");
	add(s, "{\"type\":\"setting\",\"key\":\"plain\",\"value\":\"keepcanary_plain\"}");
	add(s, "{\"type\":\"delete_thread\",\"thread\":\"TA\"}");
	add(s, "{\"type\":\"clear_history\",\"user\":\"U2\",\"server\":\"S1\"}");
	uint64_t last = add(s, "{\"type\":\"purge\",\"before\":%lld}", t - 50000);
	TU_OK(cj_wait_applied(s, last, WAIT_MS));

	/* The scan sees text: every canary is somewhere before compaction. */
	for (size_t i = 0; i < NGONE; i++)
		if (cs_count(f->store, GONE[i], NULL, 0) <= 0)
			fail_msg("before compaction, %s is not found: the scan is blind", GONE[i]);

	char h1[33], h2[33], h3[33];
	hash_of(db, h1);
	assert_int_equal(found(s, "keepcanary_recent"), 1); /* a reader of the old file */
	/* A read-only handle has no materializer to tell it: its reader sees
	 * the file's identity change. */
	cj_store_options rdo = CJ_STORE_OPTIONS_INIT;
	rdo.read_only = 1;
	cj_store *rdh;
	TU_OK(cj_store_open(&rdh, f->store, &rdo));
	assert_int_equal(found(rdh, "keepcanary_recent"), 1);
	ino_t ino = inode_of(db);
	uint64_t pending = 0, precs = 0;
	TU_OK(cj_compact_pending(&pending, &precs, s));
	assert_true(pending > 0);
	assert_int_equal(precs, 3 + 1 + 1 + 1); /* 3 messages, 1 image, 1 setting, 1 blob */

	cj_compact_report r;
	TU_OK(cj_compact(&r, s, NULL));
	assert_int_equal(r.messages, 3);
	assert_int_equal(r.images, 1);
	assert_int_equal(r.settings, 1);
	assert_int_equal(r.blobs, 1);
	assert_int_equal(r.position, last);
	assert_int_equal(r.projection_scrubbed, 1);
	check_scrub_kind(db, ino);

	for (size_t i = 0; i < NGONE; i++) {
		char where[PATH_MAX] = "";
		long n = cs_count(f->store, GONE[i], where, sizeof where);
		if (n != 0)
			fail_msg("after compaction, %s is still found %ld times (first in %s)", GONE[i], n, where);
	}
	for (size_t i = 0; i < NKEPT; i++)
		if (cs_count(f->store, KEPT[i], NULL, 0) <= 0)
			fail_msg("after compaction, %s (not deleted) is gone", KEPT[i]);

	hash_of(db, h2);
	assert_string_equal(h1, h2);
	char out[PATH_MAX];
	tu_path(out, sizeof out, f->dir, "replayed.sqlite");
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.out_path = out;
	TU_OK(cj_projection_replay(s, &ro));
	hash_of(out, h3);
	assert_string_equal(h1, h3);
	uint64_t checked = 0, bad = 0;
	TU_OK(cj_journal_check(&checked, &bad, s));
	assert_int_equal(checked, last);

	/* The redacted record reads back as a tombstone. */
	cj_event *ev;
	cj_record rec;
	TU_OK(cj_journal_get(&ev, &rec, s, m1));
	assert_true(rec.flags & CJ_RECORD_REDACTED);
	assert_string_equal(cj_event_get_string(ev, "content"), "");
	assert_string_equal(cj_event_get_string(ev, "thread"), "TA");
	assert_null(cj_event_get_string(ev, "metadata"));
	cj_event_free(ev);

	/* Retries: the original payload of a deleted event is a duplicate of a
	 * deleted event, with its original sequence number. */
	char json[1024];
	uint64_t seq = 0;
	snprintf(json, sizeof json, M1, t + 1000);
	assert_int_equal(status_of(s, json, &seq), CJ_APPEND_DUPLICATE_DELETED);
	assert_int_equal(seq, m1);
	snprintf(json, sizeof json, KEEP5, t + 3000);
	assert_int_equal(status_of(s, json, &seq), CJ_APPEND_DUPLICATE);
	assert_int_equal(status_of(s, "{\"type\":\"message\",\"thread\":\"TE\",\"role\":\"user\","
	                              "\"content\":\"new\"}", &seq), CJ_APPEND_NEW);
	/* The same id with another payload is still a conflict. */
	TU_RC(pu_append(s, "{\"type\":\"message\",\"id\":\"m1\",\"thread\":\"TA\",\"role\":\"user\","
	                   "\"content\":\"other\"}", NULL), CJ_ECONFLICT);

	/* The deleted blob is gone, and no new image may name it. */
	assert_int_equal(cj_blob_exists(s, gone_blob), 0);
	assert_int_equal(cj_blob_exists(s, kept_blob), 1);
	snprintf(json, sizeof json, "{\"type\":\"image\",\"thread\":\"TF\",\"url\":\"u\",\"blob\":\"%s\"}",
	         gone_blob);
	TU_RC(pu_append(s, json, NULL), CJ_EINVAL);

	/* Nothing left to do. */
	TU_OK(cj_compact_pending(&pending, &precs, s));
	assert_int_equal(precs, 0);
	TU_OK(cj_compact(&r, s, NULL));
	assert_int_equal(r.messages + r.images + r.settings + r.blobs, 0);
	readers_follow(s, db, "aftertheScrub");
	assert_int_equal(found(rdh, "aftertheScrub"), 1);
	cj_store_close(rdh);
}

static void expect_gone(const char *store, const char *const *gone, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char where[PATH_MAX] = "";
		long k = cs_count(store, gone[i], where, sizeof where);
		if (k != 0)
			fail_msg("after compaction, %s is still found %ld times (first in %s)", gone[i], k, where);
	}
}

static void expect_found(const char *store, const char *const *kept, size_t n, const char *when)
{
	for (size_t i = 0; i < n; i++)
		if (cs_count(store, kept[i], NULL, 0) <= 0)
			fail_msg("%s, %s is not found", when, kept[i]);
}

static void live_equals_replay(tu_fixture *f, const char *db, const char *name)
{
	char live[33], replayed[33], out[PATH_MAX];
	tu_path(out, sizeof out, f->dir, name);
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.out_path = out;
	TU_OK(cj_projection_replay(f->s, &ro));
	hash_of(db, live);
	hash_of(out, replayed);
	assert_string_equal(live, replayed);
}

static void test_chat_model_canaries(void **state)
{
	tu_fixture *f = *state;
	prepare_file(&f->s, f->store, 1);
	cj_store *s = f->s;
	char db[PATH_MAX];
	pu_sqlite_path(db, sizeof db, f->store);
	static const char *const gone[] = {
		"gone_canary_att_blob_bytes", "gone_canary_att_name", "gone_canary_att_url",
		"gone_canary_tool_args", "gone_canary_deleted_msg", "gone_canary_edit_of_deleted",
		"gone_canary_pre_edit", "gone_canary_edit_one",
	};
	static const char *const kept[] = {
		"keepcanary_latest_edit", "keepcanary_live_att_name", "keepcanary_live_meta",
	};
	char blob[CJ_BLOB_HASH_LEN + 1];
	const char bytes[] = "%PDF-1.4 gone_canary_att_blob_bytes 0123456789";
	TU_OK(cj_blob_put(blob, s, bytes, sizeof bytes - 1));

	add(s, "{\"type\":\"message\",\"id\":\"d1\",\"thread\":\"T\",\"role\":\"assistant\","
	       "\"content\":\"gone_canary_deleted_msg\",\"attachments\":[{\"blob\":\"%s\","
	       "\"name\":\"gone_canary_att_name.pdf\"},{\"url\":\"https://x/gone_canary_att_url\"}],"
	       "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
	       "\"arguments\":\"gone_canary_tool_args\"}}]}", blob);
	add(s, "{\"type\":\"edit_message\",\"thread\":\"T\",\"target\":\"d1\","
	       "\"content\":\"gone_canary_edit_of_deleted\"}");
	add(s, "{\"type\":\"reaction\",\"thread\":\"T\",\"target\":\"d1\",\"emoji\":\"e\",\"user\":\"U\"}");
	add(s, "{\"type\":\"message\",\"id\":\"e1\",\"thread\":\"T\",\"role\":\"user\","
	       "\"content\":\"gone_canary_pre_edit\",\"metadata\":{\"k\":\"keepcanary_live_meta\"},"
	       "\"attachments\":[{\"url\":\"https://x/a\",\"name\":\"keepcanary_live_att_name\"}]}");
	add(s, "{\"type\":\"edit_message\",\"thread\":\"T\",\"target\":\"e1\",\"content\":\"gone_canary_edit_one\"}");
	add(s, "{\"type\":\"edit_message\",\"thread\":\"T\",\"target\":\"e1\",\"content\":\"keepcanary_latest_edit\"}");
	uint64_t last = add(s, "{\"type\":\"delete_message\",\"thread\":\"T\",\"target\":\"d1\"}");
	TU_OK(cj_wait_applied(s, last, WAIT_MS));
	expect_found(f->store, gone, sizeof gone / sizeof gone[0], "before compaction");

	cj_compact_report r;
	ino_t ino = inode_of(db);
	TU_OK(cj_compact(&r, s, NULL));
	check_scrub_kind(db, ino);
	/* d1; e1's original (partial), the deleted message's edit, e1's first edit */
	assert_int_equal(r.messages, 1);
	assert_int_equal(r.edits, 3);
	assert_int_equal(r.blobs, 1);
	expect_gone(f->store, gone, sizeof gone / sizeof gone[0]);
	expect_found(f->store, kept, sizeof kept / sizeof kept[0], "after compaction");
	live_equals_replay(f, db, "replay1.sqlite");
	PU_ROWS(db, "SELECT old_content, content FROM message_edits ORDER BY seq", "|\n|keepcanary_latest_edit");
	assert_int_equal(cj_blob_exists(s, blob), 0);
	cj_event *ev;
	cj_record rec;
	TU_OK(cj_journal_get(&ev, &rec, s, 4)); /* e1: a partial tombstone */
	assert_int_equal(rec.flags, CJ_RECORD_REDACTED | CJ_RECORD_PARTIAL);
	assert_string_equal(cj_event_get_string(ev, "content"), "");
	cj_event_free(ev);

	/* Deleted later: the partial tombstone becomes a whole one. */
	last = add(s, "{\"type\":\"delete_message\",\"thread\":\"T\",\"target\":\"e1\"}");
	TU_OK(cj_wait_applied(s, last, WAIT_MS));
	/* the full case's new file is zeroed: this one is scrubbed in place */
	ino = inode_of(db);
	int was = full_scrub;
	full_scrub = 0;
	TU_OK(cj_compact(&r, s, NULL));
	check_scrub_kind(db, ino);
	full_scrub = was;
	assert_int_equal(r.messages, 1);
	assert_int_equal(r.edits, 1); /* the latest edit, its message gone */
	expect_gone(f->store, kept, sizeof kept / sizeof kept[0]);
	TU_OK(cj_journal_get(&ev, &rec, s, 4));
	assert_int_equal(rec.flags, CJ_RECORD_REDACTED);
	cj_event_free(ev);
	live_equals_replay(f, db, "replay2.sqlite");
	TU_OK(cj_compact(&r, s, NULL));
	assert_int_equal(r.messages + r.edits + r.blobs, 0);
}

/* The materializing process: opens the store first, says "R", waits. */
static void materializer_body(void *arg, int fd)
{
	cj_store *s;
	if (cj_store_open(&s, (const char *)arg, NULL) != 0)
		_exit(3);
	ch_sayf(fd, "R\n");
	for (;;)
		pause();
}

/* FTS5 keeps a deleted row's terms in its older segments until they are
 * merged; the scrub's copy of the file has those segments, cleared under
 * secure_delete and refilled from the optimized index (materializer/
 * scrub.c). The canary is one token (FTS5 splits at '_') sharing no prefix
 * with its neighbours, so a leaf page holds it whole; with the filler words
 * of 400 deleted messages, the old segments are far larger than the new
 * one, so their freed pages are not all reused. Checked: with
 * secure_delete off in the copy, the canary is found in chat.sqlite. */
#define SEG_CANARY "qqzsegmentcanary"
#define SEG_DELETED 400

static void test_deleted_terms_in_segments(void **state)
{
	tu_fixture *f = *state;
	prepare_file(&f->s, f->store, 1);
	cj_store *s = f->s;
	cj_event *evs[SEG_DELETED];
	for (int i = 0; i < SEG_DELETED; i++) {
		char json[1024];
		int n = snprintf(json, sizeof json, "{\"type\":\"message\",\"thread\":\"TS\",\"role\":\"user\","
		                 "\"content\":\"" SEG_CANARY);
		for (int w = 0; w < 20; w++)
			n += snprintf(json + n, sizeof json - (size_t)n, " filler%dx%d", i, w);
		snprintf(json + n, sizeof json - (size_t)n, "\"}");
		TU_OK(cj_event_parse(&evs[i], json, strlen(json)));
	}
	/* one batch: one transaction of the materializer, one FTS5 segment */
	TU_OK(cj_journal_append_batch(NULL, s, (const cj_event *const *)evs, SEG_DELETED));
	for (int i = 0; i < SEG_DELETED; i++)
		cj_event_free(evs[i]);
	add(s, "{\"type\":\"message\",\"thread\":\"TK\",\"role\":\"user\",\"content\":\"keepcanary_seg\"}");
	uint64_t last = add(s, "{\"type\":\"delete_thread\",\"thread\":\"TS\"}");
	TU_OK(cj_wait_applied(s, last, WAIT_MS));
	char db[PATH_MAX];
	pu_sqlite_path(db, sizeof db, f->store);
	if (cs_count(f->store, SEG_CANARY, NULL, 0) <= 0)
		fail_msg("before compaction, %s is not found: the scan is blind", SEG_CANARY);
	cj_compact_report r;
	ino_t ino = inode_of(db);
	TU_OK(cj_compact(&r, s, NULL));
	assert_int_equal(r.messages, SEG_DELETED);
	assert_int_equal(r.projection_scrubbed, 1);
	check_scrub_kind(db, ino);
	char where[PATH_MAX] = "";
	long n = cs_count(f->store, SEG_CANARY, where, sizeof where);
	if (n != 0)
		fail_msg("after compaction, %s is still found %ld times (first in %s)", SEG_CANARY, n, where);
	assert_true(cs_count(f->store, "keepcanary_seg", NULL, 0) > 0);
	assert_int_equal(found(s, SEG_CANARY), 0);
	assert_int_equal(found(s, "keepcanary_seg"), 1);
}

static void on_ready(void *ctx, const char *line) { *(int *)ctx |= !strcmp(line, "R"); }
static int is_ready(void *ctx) { return *(int *)ctx; }

static void test_scrub_by_the_materializing_process(void **state)
{
	tu_fixture *f = *state;
	char store[PATH_MAX];
	tu_path(store, sizeof store, f->dir, "store2");
	TU_OK(cj_store_init(store, NULL));
	cj_store *none = NULL;
	prepare_file(&none, store, 0);
	/* Fork with no thread running (ThreadSanitizer cannot follow a fork of
	 * a threaded process). */
	cj_store_close(f->s);
	f->s = NULL;
	ch_child c;
	int ready = 0;
	assert_int_equal(ch_spawn(&c, materializer_body, store), 0);
	if (!ch_pump(&c, tu_now_ns() + 30000000000ull, on_ready, is_ready, &ready)) {
		ch_abandon(&c);
		fail_msg("the materializing child did not start");
	}
	cj_store *s;
	TU_OK(cj_store_open(&s, store, NULL));
	add(s, "{\"type\":\"message\",\"thread\":\"TA\",\"role\":\"user\",\"content\":"
	       "\"gone_canary_passive words\"}");
	add(s, "{\"type\":\"message\",\"thread\":\"TB\",\"role\":\"user\",\"content\":"
	       "\"keepcanary_passive words\"}");
	uint64_t last = add(s, "{\"type\":\"delete_thread\",\"thread\":\"TA\"}");
	TU_OK(cj_wait_applied(s, last, WAIT_MS));
	char db[PATH_MAX];
	pu_sqlite_path(db, sizeof db, store);
	assert_int_equal(found(s, "keepcanary_passive"), 1); /* a reader of the old file */
	ino_t ino = inode_of(db);
	cj_compact_report r;
	TU_OK(cj_compact(&r, s, NULL));
	assert_int_equal(r.messages, 1);
	assert_int_equal(r.projection_scrubbed, 0);
	long n = -1;
	char where[PATH_MAX] = "";
	/* Until the scrub is over: the canary gone and the new file in place
	 * (the old one, its WAL unlinked, may hold it no more a moment before). */
	for (int i = 0; i < 300; i++) {
		n = cs_count(store, "gone_canary_passive", where, sizeof where);
		if (n == 0 && (!full_scrub || inode_of(db) != ino))
			break;
		usleep(50000);
	}
	if (n != 0) {
		cj_store_close(s);
		ch_abandon(&c);
		fail_msg("15 s after the swap the materializing process has not scrubbed: %ld left (%s)",
		         n, where);
	}
	/* This passive process follows the other's new file: its position (the
	 * wait) and its readers. */
	if (!full_scrub)
		assert_true(inode_of(db) == ino);
	readers_follow(s, db, "afterTheOtherScrub");
	cj_store_close(s);
	ch_abandon(&c);
	assert_true(cs_count(store, "keepcanary_passive", NULL, 0) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_canaries, setup_in_place, teardown),
		cmocka_unit_test_setup_teardown(test_chat_model_canaries, setup_in_place, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_terms_in_segments, setup_in_place, teardown),
		cmocka_unit_test_setup_teardown(test_scrub_by_the_materializing_process, setup_in_place, teardown),
		cmocka_unit_test_setup_teardown(test_canaries, setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_chat_model_canaries, setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_terms_in_segments, setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_scrub_by_the_materializing_process, setup_full, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
