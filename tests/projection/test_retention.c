/* tests/projection/test_retention.c — the store's retention rules applied at
 * a clock the test moves (cj_retention_apply's now): messages and images
 * older than retention.messages_days and metrics older than metrics_days go
 * through purge events, threads idle for inactive_threads_days through
 * delete_thread events; nothing is appended when nothing would go, and
 * nothing at all without configuration. */
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

#define DAY INT64_C(86400000)
#define NOW (PU_T0 + 400 * DAY)

typedef struct fixture {
	tu_fixture tu;
	char db[PATH_MAX];
} fixture;

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "retention", NULL, TU_FIXTURE_NO_STORE) != 0)
		return -1;
	fixture *f = *state;
	pu_sqlite_path(f->db, sizeof f->db, f->tu.store);
	return 0;
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

static void msg(cj_store *s, const char *thread, int64_t days_ago, const char *word)
{
	TU_OK(pu_appendf(s, NULL, "{\"type\":\"message\",\"thread\":\"%s\",\"role\":\"user\","
	                 "\"content\":\"%s\",\"user\":\"U\",\"ts\":%lld}", thread, word,
	                 (long long)(NOW - days_ago * DAY)));
}

static cj_store *open_store(fixture *f, int configured)
{
	TU_OK(cj_store_init(f->tu.store, NULL));
	if (configured) {
		assert_int_equal(tu_set_conf(f->tu.store, "retention", "messages_days", "30"), 0);
		assert_int_equal(tu_set_conf(f->tu.store, "retention", "metrics_days", "7"), 0);
		assert_int_equal(tu_set_conf(f->tu.store, "retention", "inactive_threads_days", "90"), 0);
	}
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->tu.store, NULL));
	msg(s, "TA", 200, "oldword");      /* 1: gone (messages_days) */
	msg(s, "TA", 10, "freshword");     /* 2: stays; TA is active */
	msg(s, "TB", 120, "idleword");     /* 3: gone, and TB idle for 120 days: deleted */
	msg(s, "TC", 60, "middleword");    /* 4: gone; TC idle 60 days: kept */
	TU_OK(pu_appendf(s, NULL, "{\"type\":\"image\",\"thread\":\"TA\",\"url\":\"u\","
	                 "\"prompt\":\"oldimage\",\"ts\":%lld}", (long long)(NOW - 100 * DAY)));
	TU_OK(pu_appendf(s, NULL, "{\"type\":\"metric\",\"name\":\"m\",\"value\":1,\"ts\":%lld}",
	                 (long long)(NOW - 10 * DAY)));  /* 6: gone (metrics_days) */
	uint64_t last = 0;
	TU_OK(pu_appendf(s, &last, "{\"type\":\"metric\",\"name\":\"m\",\"value\":2,\"ts\":%lld}",
	                 (long long)(NOW - 1 * DAY)));   /* 7: stays */
	TU_OK(cj_wait_applied(s, last, 10000));
	return s;
}

static void test_rules_applied_at_the_given_time(void **state)
{
	fixture *f = *state;
	cj_store *s = open_store(f, 1);
	cj_retention_report r;
	TU_OK(cj_retention_apply(&r, s, NOW));
	assert_int_equal(r.purges, 2);
	assert_int_equal(r.messages, 3);
	assert_int_equal(r.images, 1);
	assert_int_equal(r.metrics, 1);
	assert_int_equal(r.threads_deleted, 1);
	assert_int_equal(r.last_seq, 10); /* 8: purge, 9: purge of metrics, 10: delete_thread TB */
	TU_OK(cj_wait_applied(s, r.last_seq, 10000));
	PU_ROWS(f->db, "SELECT content FROM messages ORDER BY seq", "freshword");
	PU_ROWS(f->db, "SELECT thread, message_count FROM threads ORDER BY thread", "TA|1\nTC|0");
	PU_ROWS(f->db, "SELECT count(*) FROM images", "0");
	PU_ROWS(f->db, "SELECT seq FROM metrics", "7");
	/* The events are in the journal, so a replay agrees. */
	cj_event *ev = NULL;
	TU_OK(cj_journal_get(&ev, NULL, s, 8));
	assert_string_equal(cj_event_get_string(ev, "type"), "purge");
	char *json = cj_event_to_json(ev);
	assert_non_null(strstr(json, "\"kinds\":[\"messages\",\"images\"]"));
	cj_free(json);
	cj_event_free(ev);

	/* Again at the same time: nothing more to remove, nothing appended. */
	TU_OK(cj_retention_apply(&r, s, NOW));
	assert_int_equal(r.purges + r.threads_deleted, 0);
	assert_int_equal(r.last_seq, 0);
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, 10);

	/* Time passes: 31 days on, the fresh message is old too, and TA and TC
	 * are idle for more than 90 days. */
	TU_OK(cj_retention_apply(&r, s, NOW + 95 * DAY));
	assert_int_equal(r.messages, 1);
	assert_int_equal(r.threads_deleted, 2);
	TU_OK(cj_wait_applied(s, r.last_seq, 10000));
	PU_ROWS(f->db, "SELECT count(*) FROM messages", "0");
	PU_ROWS(f->db, "SELECT count(*) FROM threads", "0");
	cj_store_close(s);
}

static void test_off_unless_configured(void **state)
{
	fixture *f = *state;
	cj_store *s = open_store(f, 0);
	cj_retention_report r;
	TU_OK(cj_retention_apply(&r, s, NOW + 10000 * DAY));
	assert_int_equal(r.purges + r.threads_deleted + r.last_seq, 0);
	PU_ROWS(f->db, "SELECT count(*) FROM messages", "4");
	cj_store_close(s);
}

static void test_purge_dry_run_counts_what_goes(void **state)
{
	fixture *f = *state;
	cj_store *s = open_store(f, 0);
	cj_purge_options o = CJ_PURGE_OPTIONS_INIT;
	o.before_ms = NOW - 50 * DAY;
	o.dry_run = 1;
	cj_purge_report r;
	TU_OK(cj_purge(&r, s, &o));
	assert_int_equal(r.seq, 0);
	assert_int_equal(r.messages, 3);
	assert_int_equal(r.images, 1);
	assert_int_equal(r.metrics, 0);
	o.thread = "TA";
	TU_OK(cj_purge(&r, s, &o));
	assert_int_equal(r.messages, 1);
	assert_int_equal(r.images, 1);
	o.thread = NULL;
	o.user = "U";
	o.kinds = CJ_PURGE_MESSAGES | CJ_PURGE_IMAGES;
	TU_OK(cj_purge(&r, s, &o));
	assert_int_equal(r.messages, 3);
	assert_int_equal(r.images, 0); /* images have no user */
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, 7); /* dry runs appended nothing */
	/* For real: the counts match what the projection then lost. */
	o.dry_run = 0;
	TU_OK(cj_purge(&r, s, &o));
	assert_int_equal(r.seq, 8);
	TU_OK(cj_wait_applied(s, 8, 10000));
	PU_ROWS(f->db, "SELECT content FROM messages", "freshword");
	o.before_ms = -1;
	TU_RC(cj_purge(&r, s, &o), CJ_EINVAL);
	o.before_ms = 0;
	o.kinds = 8;
	TU_RC(cj_purge(&r, s, &o), CJ_EINVAL);
	cj_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rules_applied_at_the_given_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off_unless_configured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_dry_run_counts_what_goes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
