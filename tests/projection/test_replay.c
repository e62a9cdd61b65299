/* tests/projection/test_replay.c — replay, state hash, diff and check.
 * Two replays of the same journal hash the same as each other and as the
 * live projection, and diff reports ""; a copy with one messages row deleted
 * (or one value changed) hashes differently and diff names the table and the
 * row; check passes on a good file; replay up_to stops where asked; replay
 * in place keeps the store serving (later appends are materialized, queries
 * work). With an argument, runs one KNOWN LIBRARY BUG case instead (meson
 * registers each with should_fail): check-fts-content, diff-uri-path,
 * replay-concurrent-readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include "putil.h"

#define WAIT_MS 20000

typedef struct fixture {
	tu_fixture tu;
	char db[PATH_MAX];  /* STORE/chat.sqlite */
	uint64_t last;
} fixture;

/* A mixed journal: every event type, deletions included. */
static int populate(fixture *f)
{
	unsigned char png[32];
	memcpy(png, "\x89PNG\r\n\x1a\n", 8);
	memset(png + 8, 9, sizeof png - 8);
	char hash[CJ_BLOB_HASH_LEN + 1];
	int rc = cj_blob_put(hash, f->tu.s, png, sizeof png);
	uint64_t seq = 0;
	for (int i = 0; i < 60 && !rc; i++) {
		rc = pu_appendf(f->tu.s, &seq,
		                "{\"type\":\"message\",\"thread\":\"T%d\",\"role\":\"%s\",\"content\":\"word%d common"
		                " lighthouse %d\",\"user\":\"U%d\",\"server\":\"S%d\",\"metadata\":{\"i\":%d},"
		                "\"cost\":{\"model\":\"m\",\"input_tokens\":%d,\"usd\":0.25},\"ts\":%lld}",
		                i % 5, i % 2 ? "assistant" : "user", i, i, i % 3, i % 2, i, i * 10,
		                (long long)(PU_T0 + i * 60000));
		if (!rc && i % 10 == 3)
			rc = pu_appendf(f->tu.s, &seq,
			                "{\"type\":\"image\",\"thread\":\"T%d\",\"url\":\"https://x/%d\",\"prompt\":\"sunset %d\","
			                "\"analysis\":\"orange sky\",\"blob\":\"%s\",\"ts\":%lld}",
			                i % 5, i, i, hash, (long long)(PU_T0 + i * 60000 + 1));
	}
	if (!rc)
		rc = pu_append(f->tu.s, "{\"type\":\"user\",\"user\":\"U1\",\"config\":{\"a\":1},\"ts\":1714557600000}", &seq);
	if (!rc)
		rc = pu_append(f->tu.s, "{\"type\":\"thread_config\",\"thread\":\"T1\",\"config\":{\"b\":2}}", &seq);
	if (!rc)
		rc = pu_append(f->tu.s, "{\"type\":\"setting\",\"key\":\"k\",\"value\":\"v\",\"sensitive\":true}", &seq);
	if (!rc)
		rc = pu_append(f->tu.s, "{\"type\":\"metric\",\"name\":\"n\",\"value\":1.5}", &seq);
	if (!rc)
		rc = pu_append(f->tu.s, "{\"type\":\"delete_thread\",\"thread\":\"T4\"}", &seq);
	if (!rc)
		rc = pu_append(f->tu.s, "{\"type\":\"clear_history\",\"user\":\"U2\",\"server\":\"S0\"}", &seq);
	if (!rc)
		rc = pu_append(f->tu.s, "{\"type\":\"purge\",\"before\":1714558200000}", &seq);
	if (!rc)
		rc = cj_wait_applied(f->tu.s, seq, WAIT_MS);
	f->last = seq;
	return rc;
}

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "proj-replay", NULL, 0) != 0)
		return -1;
	fixture *f = *state;
	pu_sqlite_path(f->db, sizeof f->db, f->tu.store);
	if (populate(f) != 0) {
		fprintf(stderr, "setup: %s\n", cj_error_last());
		tu_fixture_teardown(state);
		return -1;
	}
	return 0;
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

typedef struct progress { uint64_t calls, done, total; int backwards; } progress;

static void on_progress(uint64_t done, uint64_t total, void *arg)
{
	progress *p = arg;
	if (done < p->done)
		p->backwards = 1;
	p->calls++;
	p->done = done;
	p->total = total;
}

static void hash_of(const char *path, char out[33], char **tables)
{
	memset(out, 0, 33);
	TU_OK(cj_projection_hash(out, tables, path));
	assert_int_equal(strlen(out), 32);
	assert_int_equal(strspn(out, "0123456789abcdef"), 32);
}

static void diff_is(const char *a, const char *b, const char *want_prefix)
{
	char *report = NULL;
	TU_OK(cj_projection_diff(&report, a, b));
	assert_non_null(report);
	if (want_prefix[0] ? strncmp(report, want_prefix, strlen(want_prefix)) != 0 : report[0] != '\0')
		fail_msg("diff %s %s:\n  got  \"%s\"\n  want \"%s%s\"", a, b, report, want_prefix,
		         want_prefix[0] ? "..." : "");
	cj_free(report);
}

/* Names of the tables whose hash differs between two tables_out objects. */
static char *differing(const char *ta, const char *tb)
{
	json_t *a = json_loads(ta, 0, NULL), *b = json_loads(tb, 0, NULL);
	assert_true(json_is_object(a) && json_is_object(b));
	assert_int_equal(json_object_size(a), json_object_size(b));
	char *out = calloc(1, 1024);
	assert_non_null(out);
	const char *k;
	json_t *v;
	json_object_foreach(a, k, v) {
		const char *x = json_string_value(v);
		const char *y = json_string_value(json_object_get(b, k));
		if (!x || !y || strcmp(x, y) != 0) {
			if (out[0])
				strcat(out, ",");
			strcat(out, k);
		}
	}
	json_decref(a);
	json_decref(b);
	return out;
}

static void test_replay_hash_diff_check(void **state)
{
	fixture *f = *state;
	char r1[PATH_MAX], r2[PATH_MAX], bad[PATH_MAX], part[PATH_MAX];
	tu_path(r1, sizeof r1, f->tu.dir, "r1.sqlite");
	tu_path(r2, sizeof r2, f->tu.dir, "r2.sqlite");
	tu_path(bad, sizeof bad, f->tu.dir, "tampered.sqlite");
	tu_path(part, sizeof part, f->tu.dir, "part.sqlite");

	/* The projection really holds what the journal implies. */
	PU_ROWS(f->db, "SELECT count(*) > 20, (SELECT count(*) FROM threads WHERE thread = 'T4'),"
	               " (SELECT count(*) FROM images) > 0 FROM messages", "1|0|1");

	progress p = { 0 };
	TU_OK(cj_projection_replay(f->tu.s, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, r1, 0, 0, on_progress, &p }));
	assert_true(p.calls >= 1);
	assert_int_equal(p.done, f->last);
	assert_int_equal(p.total, f->last);
	assert_false(p.backwards);
	TU_OK(cj_projection_replay(f->tu.s, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, r2, 0, 0, NULL, NULL }));

	char h_live[33], h1[33], h2[33];
	char *t_live = NULL, *t1 = NULL;
	hash_of(f->db, h_live, &t_live);
	hash_of(r1, h1, &t1);
	hash_of(r2, h2, NULL);
	assert_string_equal(h1, h2);
	assert_string_equal(h1, h_live);
	char *d = differing(t_live, t1);
	assert_string_equal(d, "");
	free(d);
	diff_is(r1, r2, "");
	diff_is(f->db, r1, "");
	PU_ROWS(r1, "SELECT seq FROM journal_position", "73");
	assert_int_equal(f->last, 73);

	char *report = NULL;
	TU_OK(cj_projection_check(&report, r1));
	assert_string_equal(report, "ok");
	cj_free(report);

	/* Tamper with a COPY: delete one messages row behind FTS5's back. */
	assert_int_equal(pu_copy_file(r1, bad), 0);
	long long victim = pu_int(bad, "SELECT min(seq) FROM messages");
	assert_true(victim > 0);
	char sql[128];
	snprintf(sql, sizeof sql, "DELETE FROM messages WHERE seq = %lld", victim);
	assert_int_equal(pu_exec_rw(bad, sql), 0);
	char h_bad[33];
	char *t_bad = NULL;
	hash_of(bad, h_bad, &t_bad);
	assert_string_not_equal(h_bad, h1);
	d = differing(t1, t_bad);
	/* its copy in messages_tail goes with it (the table's trigger) */
	assert_string_equal(d, "messages,messages_tail");
	free(d);
	char want[128];
	snprintf(want, sizeof want, "table messages: row only in the first projection: seq=%lld, ", victim);
	diff_is(r1, bad, want);
	snprintf(want, sizeof want, "table messages: row only in the second projection: seq=%lld, ", victim);
	diff_is(bad, r1, want);
	/* The originals are untouched. */
	hash_of(r1, h2, NULL);
	assert_string_equal(h2, h1);

	/* A changed value (same keys) is found too. */
	assert_int_equal(pu_copy_file(r1, bad), 0);
	assert_int_equal(pu_exec_rw(bad, "UPDATE settings SET actor = 'mallory'"), 0);
	hash_of(bad, h_bad, NULL);
	assert_string_not_equal(h_bad, h1);
	diff_is(r1, bad, "table settings: row only in the first projection: key=k, value=\"***\", ");

	/* up_to: a replay of a prefix differs in journal_position first. */
	TU_OK(cj_projection_replay(f->tu.s, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, part, f->last - 1, 0, NULL, NULL }));
	PU_ROWS(part, "SELECT seq FROM journal_position", "72");
	char h_part[33];
	hash_of(part, h_part, NULL);
	assert_string_not_equal(h_part, h1);
	diff_is(r1, part, "table journal_position: row only in the first projection: id=1, seq=73");

	free(t_live);
	free(t1);
	free(t_bad);
}

/* cj_projection_check on a copy whose messages row was deleted behind FTS5's
 * back: the external-content index still lists the row, so the check must
 * fail naming messages_fts. KNOWN LIBRARY BUG (SQLite 3.40.1): the plain
 * 'integrity-check' does not compare an external-content index with its
 * content table; ('integrity-check', rank = 1) does. Registered in meson
 * with should_fail until the library runs the rank = 1 form. */
static void test_check_sees_fts_out_of_step(void **state)
{
	fixture *f = *state;
	char r[PATH_MAX], bad[PATH_MAX];
	tu_path(r, sizeof r, f->tu.dir, "good.sqlite");
	tu_path(bad, sizeof bad, f->tu.dir, "tampered.sqlite");
	TU_OK(cj_projection_replay(f->tu.s, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, r, 0, 0, NULL, NULL }));
	char *report = NULL;
	TU_OK(cj_projection_check(&report, r));
	assert_string_equal(report, "ok");
	cj_free(report);
	assert_int_equal(pu_copy_file(r, bad), 0);
	assert_int_equal(pu_exec_rw(bad, "DELETE FROM messages WHERE seq = (SELECT min(seq) FROM messages)"), 0);
	/* SQLite itself sees the damage with the rank = 1 form. */
	assert_int_equal(pu_exec_rw(bad, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')"), 0);
	assert_int_equal(pu_exec_rw(bad, "INSERT INTO messages_fts (messages_fts, rank)"
	                                 " VALUES ('integrity-check', 1)"), -1);
	report = NULL;
	TU_RC(cj_projection_check(&report, bad), CJ_ECORRUPT);
	assert_non_null(report);
	if (!strstr(report, "messages_fts"))
		fail_msg("check of the tampered copy: \"%s\" does not name messages_fts", report);
	cj_free(report);
}

/* cj_projection_diff of files whose path holds URI characters ('#', '%41',
 * '?'): legal file names, so the diff must work. KNOWN LIBRARY BUG: the
 * files are ATTACHed as unescaped "file:PATH?mode=ro" URIs, so the path is
 * cut at '#' or '?' and '%41' is decoded: CJ_ENOTFOUND. Registered with
 * should_fail until fixed. */
static void test_diff_path_with_uri_characters(void **state)
{
	fixture *f = *state;
	char odd[PATH_MAX], r[PATH_MAX];
	tu_path(odd, sizeof odd, f->tu.dir, "odd#%41?name");
	assert_int_equal(mkdir(odd, 0700), 0);
	tu_path(r, sizeof r, odd, "r.sqlite");
	TU_OK(cj_projection_replay(f->tu.s, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, r, 0, 0, NULL, NULL }));
	char h1[33], h2[33];
	hash_of(r, h1, NULL);
	hash_of(f->db, h2, NULL);
	assert_string_equal(h1, h2);
	diff_is(f->db, r, "");
	diff_is(r, f->db, "");
}

typedef struct race_reader {
	cj_store *s;
	atomic_int *stop;
	long ok;
	int error;
	char msg[256];
} race_reader;

static void *race_reader_main(void *arg)
{
	race_reader *r = arg;
	while (!atomic_load(r->stop) && !r->error) {
		cj_history_query q = CJ_HISTORY_QUERY_INIT;
		q.thread = "T1";
		char *json = NULL;
		int rc = cj_query_history(&json, r->s, &q);
		if (rc || !json || json[0] != '[') {
			r->error = 1;
			snprintf(r->msg, sizeof r->msg, "history during replay: %d %s", rc, cj_error_last());
		} else {
			r->ok++;
		}
		cj_free(json);
	}
	return NULL;
}

/* Queries from other threads while the projection is replaced in place:
 * "All functions are thread-safe on one cj_store" (query.h). KNOWN LIBRARY
 * BUG: cj_projection_replay(s, NULL, ...) frees s->readers and sets it to
 * NULL while other threads use it (SEGV in cji_reader_get/put). Registered
 * with should_fail until fixed. */
static void test_replay_in_place_with_concurrent_readers(void **state)
{
	fixture *f = *state;
	atomic_int stop;
	atomic_init(&stop, 0);
	race_reader rd[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		memset(&rd[i], 0, sizeof rd[i]);
		rd[i].s = f->tu.s;
		rd[i].stop = &stop;
		assert_int_equal(pthread_create(&t[i], NULL, race_reader_main, &rd[i]), 0);
	}
	int rc = 0;
	for (int i = 0; i < 10 && !rc; i++)
		rc = cj_projection_replay(f->tu.s, &(cj_replay_options){
				CJ_REPLAY_OPTIONS_VERSION, NULL, 0, 0, NULL, NULL });
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	TU_OK(rc);
	for (int i = 0; i < 4; i++) {
		if (rd[i].error)
			fail_msg("reader %d: %s", i, rd[i].msg);
		assert_true(rd[i].ok > 0);
	}
}

static void test_replay_in_place_keeps_serving(void **state)
{
	fixture *f = *state;
	char before[33], after[33];
	hash_of(f->db, before, NULL);
	progress p = { 0 };
	TU_OK(cj_projection_replay(f->tu.s, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, NULL, 0, 0, on_progress, &p }));
	assert_int_equal(p.done, f->last);
	hash_of(f->db, after, NULL);
	assert_string_equal(after, before);
	uint64_t pos = 0;
	TU_OK(cj_projection_position(&pos, f->tu.s));
	assert_int_equal(pos, f->last);

	/* Appends after the swap are materialized into the new file. */
	uint64_t seq = 0;
	TU_OK(pu_append(f->tu.s, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\","
	                      "\"content\":\"afterreplay marker\",\"ts\":1714600000000}", &seq));
	assert_int_equal(seq, f->last + 1);
	TU_OK(cj_wait_applied(f->tu.s, seq, WAIT_MS));
	char want[64];
	snprintf(want, sizeof want, "%llu|afterreplay marker", (unsigned long long)seq);
	PU_ROWS(f->db, "SELECT seq, content FROM messages WHERE content LIKE 'afterreplay%'", want);

	cj_history_query hq = CJ_HISTORY_QUERY_INIT;
	hq.thread = "T1";
	hq.limit = 1;
	char *json = NULL;
	TU_OK(cj_query_history(&json, f->tu.s, &hq));
	snprintf(want, sizeof want, "%llu", (unsigned long long)seq);
	PU_SEQS(json, want);
	cj_free(json);
	cj_search_query sq = CJ_SEARCH_QUERY_INIT;
	sq.text = "afterreplay";
	TU_OK(cj_query_search(&json, f->tu.s, &sq));
	PU_SEQS(json, want);
	cj_free(json);
	TU_OK(cj_query_stats(&json, f->tu.s));
	json_t *st = json_loads(json, 0, NULL);
	assert_non_null(st);
	assert_int_equal(json_integer_value(json_object_get(st, "position")), (json_int_t)seq);
	assert_int_equal(json_integer_value(json_object_get(st, "lag")), 0);
	json_decref(st);
	cj_free(json);

	/* And the live file still equals a fresh replay. */
	char r[PATH_MAX];
	tu_path(r, sizeof r, f->tu.dir, "again.sqlite");
	TU_OK(cj_projection_replay(f->tu.s, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, r, 0, 0, NULL, NULL }));
	diff_is(f->db, r, "");
	hash_of(f->db, before, NULL);
	hash_of(r, after, NULL);
	assert_string_equal(after, before);
	char *report = NULL;
	TU_OK(cj_projection_check(&report, r));
	assert_string_equal(report, "ok");
	cj_free(report);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replay_hash_diff_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_in_place_keeps_serving, setup, teardown),
	};
	/* Known library bugs, one per meson test registered with should_fail. */
	const struct CMUnitTest bug_check[] = {
		cmocka_unit_test_setup_teardown(test_check_sees_fts_out_of_step, setup, teardown),
	};
	const struct CMUnitTest bug_diff[] = {
		cmocka_unit_test_setup_teardown(test_diff_path_with_uri_characters, setup, teardown),
	};
	const struct CMUnitTest bug_race[] = {
		cmocka_unit_test_setup_teardown(test_replay_in_place_with_concurrent_readers, setup, teardown),
	};
	if (argc > 1 && strcmp(argv[1], "check-fts-content") == 0)
		return cmocka_run_group_tests(bug_check, NULL, NULL);
	if (argc > 1 && strcmp(argv[1], "diff-uri-path") == 0)
		return cmocka_run_group_tests(bug_diff, NULL, NULL);
	if (argc > 1 && strcmp(argv[1], "replay-concurrent-readers") == 0)
		return cmocka_run_group_tests(bug_race, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
