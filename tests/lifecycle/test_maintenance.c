/* tests/lifecycle/test_maintenance.c — the housekeeping schedule
 * (cj_maintenance_*, what `serve` runs) at a clock the test moves: retention
 * at the first pass and daily, compaction by interval (only with something
 * to redact) and by threshold, backups every N with a prune to the store's
 * keep days, the times kept in maintenance.json across a restart, nothing
 * done by a process that does not hold the materializer lock, and the
 * thread's log lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "testutil.h"

#define DAY INT64_C(86400000)
#define HOUR INT64_C(3600000)

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
	return tu_fixture_setup_ex(state, sizeof(tu_fixture), "maint", NULL, TU_FIXTURE_NO_STORE);
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

/* A store with the given settings (section.key = json, NULL-terminated
 * triples), opened. */
static cj_store *make_store(tu_fixture *f, const char *const *conf)
{
	TU_OK(cj_store_init(f->store, NULL));
	for (size_t i = 0; conf && conf[i]; i += 3)
		assert_int_equal(tu_set_conf(f->store, conf[i], conf[i + 1], conf[i + 2]), 0);
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->store, NULL));
	return s;
}

static uint64_t msg(cj_store *s, const char *thread, const char *content, int64_t ts)
{
	cj_event *ev = tu_message(thread, content, NULL, ts);
	assert_non_null(ev);
	uint64_t seq = 0;
	TU_OK(cj_journal_append(&seq, s, ev));
	cj_event_free(ev);
	return seq;
}

static uint64_t delete_thread(cj_store *s, const char *thread)
{
	cj_event *ev;
	TU_OK(cj_event_new(&ev, "delete_thread"));
	TU_OK(cj_event_set_string(ev, "thread", thread));
	uint64_t seq = 0;
	TU_OK(cj_journal_append(&seq, s, ev));
	cj_event_free(ev);
	TU_OK(cj_wait_applied(s, seq, 10000));
	return seq;
}

static size_t history_len(cj_store *s, const char *thread)
{
	char *json = NULL;
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = thread;
	q.limit = 100;
	TU_OK(cj_query_history(&json, s, &q));
	json_t *a = json_loads(json, 0, NULL);
	size_t n = json_array_size(a);
	json_decref(a);
	free(json);
	return n;
}

static void test_retention_first_pass_then_daily(void **state)
{
	tu_fixture *f = *state;
	const char *conf[] = { "retention", "messages_days", "30", NULL };
	cj_store *s = make_store(f, conf);
	int64_t now = INT64_C(1800000000000);
	msg(s, "T", "old-1", now - 40 * DAY);
	msg(s, "T", "old-2", now - 31 * DAY);
	uint64_t last = msg(s, "T", "fresh", now - 10 * DAY);
	TU_OK(cj_wait_applied(s, last, 10000));

	cj_maintenance *m;
	TU_OK(cj_maintenance_new(&m, s, NULL));
	cj_maintenance_report r;
	TU_OK(cj_maintenance_run(&r, m, now));
	assert_int_equal(r.holder, 1);
	assert_int_equal(r.retention_ran, 1);
	assert_int_equal(r.retention.purges, 1);
	assert_int_equal(r.retention.messages, 2);
	assert_int_equal(r.errors, 0);
	TU_OK(cj_wait_applied(s, r.retention.last_seq, 10000));
	assert_int_equal(history_len(s, "T"), 1);

	/* An hour later: not due. A day later: due, and the message that has
	 * aged past 30 days meanwhile goes. */
	TU_OK(cj_maintenance_run(&r, m, now + HOUR));
	assert_int_equal(r.retention_ran, 0);
	TU_OK(cj_maintenance_run(&r, m, now + 21 * DAY));
	assert_int_equal(r.retention_ran, 1);
	assert_int_equal(r.retention.messages, 1);
	TU_OK(cj_wait_applied(s, r.retention.last_seq, 10000));
	assert_int_equal(history_len(s, "T"), 0);

	/* A new schedule (a restarted server) applies retention at its first
	 * pass whatever the time: nothing to remove, no event. */
	cj_maintenance_free(m);
	TU_OK(cj_maintenance_new(&m, s, NULL));
	uint64_t before = 0, after = 0;
	TU_OK(cj_journal_last_seq(&before, s));
	TU_OK(cj_maintenance_run(&r, m, now + 21 * DAY + HOUR));
	assert_int_equal(r.retention_ran, 1);
	assert_int_equal(r.retention.purges, 0);
	TU_OK(cj_journal_last_seq(&after, s));
	assert_int_equal(after, before);
	cj_maintenance_free(m);

	/* no_retention: never. */
	cj_maintenance_options o = CJ_MAINTENANCE_OPTIONS_INIT;
	o.no_retention = 1;
	TU_OK(cj_maintenance_new(&m, s, &o));
	TU_OK(cj_maintenance_run(&r, m, now + 100 * DAY));
	assert_int_equal(r.retention_ran, 0);
	cj_maintenance_free(m);
	cj_store_close(s);
}

static void test_compaction_by_interval_and_threshold(void **state)
{
	tu_fixture *f = *state;
	const char *conf[] = { "compaction", "interval_seconds", "3600",
	                       "compaction", "threshold_bytes", "0", NULL };
	cj_store *s = make_store(f, conf);
	for (int i = 0; i < 20; i++)
		msg(s, "A", "compact me please", 0);
	delete_thread(s, "A");
	int64_t now = wall_ms();

	cj_maintenance *m;
	TU_OK(cj_maintenance_new(&m, s, NULL));
	cj_maintenance_report r;
	TU_OK(cj_maintenance_run(&r, m, now));       /* the first interval starts */
	assert_int_equal(r.compaction_ran, 0);
	TU_OK(cj_maintenance_run(&r, m, now + HOUR - 1));
	assert_int_equal(r.compaction_ran, 0);
	assert_int_equal(r.pending_measured, 0);     /* threshold off: nothing measured */
	TU_OK(cj_maintenance_run(&r, m, now + HOUR));
	assert_int_equal(r.pending_measured, 1);
	assert_true(r.pending_bytes > 0);
	assert_int_equal(r.compaction_ran, 1);
	assert_int_equal(r.compaction.messages, 20);
	assert_int_equal(r.errors, 0);
	/* Due again an interval later, but nothing to redact: no compaction. */
	TU_OK(cj_maintenance_run(&r, m, now + 2 * HOUR));
	assert_int_equal(r.pending_measured, 1);
	assert_int_equal(r.pending_bytes, 0);
	assert_int_equal(r.compaction_ran, 0);
	cj_maintenance_free(m);
	cj_store_close(s);

	/* Threshold 1 byte, no interval: measured at the first pass and every
	 * pending_every_ms, compacted as soon as anything is redactable. */
	assert_int_equal(tu_set_conf(f->store, "compaction", "interval_seconds", "0"), 0);
	assert_int_equal(tu_set_conf(f->store, "compaction", "threshold_bytes", "1"), 0);
	TU_OK(cj_store_open(&s, f->store, NULL));
	cj_maintenance_options o = CJ_MAINTENANCE_OPTIONS_INIT;
	o.pending_every_ms = 60000;
	TU_OK(cj_maintenance_new(&m, s, &o));
	TU_OK(cj_maintenance_run(&r, m, now));
	assert_int_equal(r.pending_measured, 1);
	assert_int_equal(r.compaction_ran, 0);
	for (int i = 0; i < 5; i++)
		msg(s, "B", "threshold text", 0);
	delete_thread(s, "B");
	TU_OK(cj_maintenance_run(&r, m, now + 59999));  /* not measured yet */
	assert_int_equal(r.pending_measured, 0);
	assert_int_equal(r.compaction_ran, 0);
	TU_OK(cj_maintenance_run(&r, m, now + 60000));
	assert_int_equal(r.compaction_ran, 1);
	assert_int_equal(r.compaction.messages, 5);
	cj_maintenance_free(m);
	cj_store_close(s);
}

static unsigned count_backups(const char *store)
{
	char *json = NULL;
	TU_OK(cj_backup_list(&json, store));
	json_t *a = json_loads(json, 0, NULL);
	unsigned n = (unsigned)json_array_size(a);
	json_decref(a);
	free(json);
	return n;
}

static void test_backups_every_and_pruned_and_state_kept(void **state)
{
	tu_fixture *f = *state;
	cj_store *s = make_store(f, NULL);
	uint64_t last = msg(s, "T", "backed up", 0);
	TU_OK(cj_wait_applied(s, last, 10000));
	int64_t now = wall_ms();
	cj_maintenance_options o = CJ_MAINTENANCE_OPTIONS_INIT;
	o.backup_every_ms = DAY;
	o.no_compaction = 1;
	cj_maintenance *m;
	TU_OK(cj_maintenance_new(&m, s, &o));
	cj_maintenance_report r;
	TU_OK(cj_maintenance_run(&r, m, now));
	assert_int_equal(r.backup_ran, 1);
	assert_non_null(strstr(r.backup_path, "/backups/"));
	assert_int_equal(count_backups(f->store), 1);
	TU_OK(cj_maintenance_run(&r, m, now + DAY - 1));
	assert_int_equal(r.backup_ran, 0);
	cj_maintenance_free(m);

	/* The schedule's state is a 0600 file: a restart does not back up again
	 * before the day is over. */
	char path[PATH_MAX];
	tu_path(path, sizeof path, f->store, "maintenance.json");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	TU_OK(cj_maintenance_new(&m, s, &o));
	TU_OK(cj_maintenance_run(&r, m, now + DAY - 1));
	assert_int_equal(r.backup_ran, 0);
	TU_OK(cj_maintenance_run(&r, m, now + DAY));
	assert_int_equal(r.backup_ran, 1);
	TU_OK(cj_maintenance_run(&r, m, now + 2 * DAY));
	assert_int_equal(r.backup_ran, 1);
	assert_int_equal(r.backups_pruned, 0);
	assert_int_equal(count_backups(f->store), 3);
	/* Nine days on, the three backups (made now, by the wall clock) are
	 * older than retention.backup_keep_days (7): the new one stays. */
	TU_OK(cj_maintenance_run(&r, m, now + 9 * DAY));
	assert_int_equal(r.backup_ran, 1);
	assert_int_equal(r.backups_pruned, 3);
	assert_int_equal(count_backups(f->store), 1);
	cj_maintenance_free(m);

	/* A read-only handle cannot maintain. */
	cj_store_close(s);
	cj_store_options ro = CJ_STORE_OPTIONS_INIT;
	ro.read_only = 1;
	TU_OK(cj_store_open(&s, f->store, &ro));
	TU_RC(cj_maintenance_new(&m, s, NULL), CJ_EPERM);
	assert_null(m);
	cj_store_close(s);
}

/* A second process that opens the store while this one materializes does
 * nothing, even with everything due. The child is forked before this
 * process starts any thread and waits on a pipe until the parent holds the
 * materializer lock. */
static void test_only_the_lock_holder_maintains(void **state)
{
	tu_fixture *f = *state;
	const char *conf[] = { "retention", "messages_days", "1", NULL };
	TU_OK(cj_store_init(f->store, NULL));
	assert_int_equal(tu_set_conf(f->store, conf[0], conf[1], conf[2]), 0);
	int go[2], done[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(10);
		cj_store *cs;
		if (cj_store_open(&cs, f->store, NULL) != 0)
			_exit(11);
		cj_maintenance_options o = CJ_MAINTENANCE_OPTIONS_INIT;
		o.backup_every_ms = 1;
		cj_maintenance *m;
		if (cj_maintenance_new(&m, cs, &o) != 0)
			_exit(12);
		cj_maintenance_report r;
		int rc = cj_maintenance_run(&r, m, wall_ms() + 1000 * DAY);
		int code = rc ? 13 : r.holder ? 14 : r.retention_ran || r.backup_ran ? 15 : 0;
		cj_maintenance_free(m);
		cj_store_close(cs);
		if (write(done[1], "x", 1) != 1)
			_exit(16);
		_exit(code);
	}
	close(go[0]);
	cj_store *s;
	TU_OK(cj_store_open(&s, f->store, NULL));
	uint64_t last = msg(s, "T", "old", wall_ms() - 30 * DAY);
	TU_OK(cj_wait_applied(s, last, 10000));
	assert_int_equal(write(go[1], "g", 1), 1);
	char c;
	assert_int_equal(read(done[0], &c, 1), 1);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	uint64_t now_last = 0;
	TU_OK(cj_journal_last_seq(&now_last, s));
	assert_int_equal(now_last, last);   /* the child appended no purge */
	assert_int_equal(count_backups(f->store), 0);
	/* The holder does it. */
	cj_maintenance *m;
	TU_OK(cj_maintenance_new(&m, s, NULL));
	cj_maintenance_report r;
	TU_OK(cj_maintenance_run(&r, m, wall_ms()));
	assert_int_equal(r.holder, 1);
	assert_int_equal(r.retention.messages, 1);
	cj_maintenance_free(m);
	cj_store_close(s);
	close(go[1]);
	close(done[0]);
	close(done[1]);
}

typedef struct lines {
	pthread_mutex_t mu;
	char text[4096];
} lines;

static void collect(void *arg, const char *line)
{
	lines *l = arg;
	pthread_mutex_lock(&l->mu);
	size_t n = strlen(l->text);
	snprintf(l->text + n, sizeof l->text - n, "%s\n", line);
	pthread_mutex_unlock(&l->mu);
}

static void test_thread_logs_what_it_does(void **state)
{
	tu_fixture *f = *state;
	const char *conf[] = { "retention", "messages_days", "30", NULL };
	cj_store *s = make_store(f, conf);
	uint64_t last = msg(s, "T", "ancient", wall_ms() - 100 * DAY);
	TU_OK(cj_wait_applied(s, last, 10000));
	lines l = { PTHREAD_MUTEX_INITIALIZER, "" };
	cj_maintenance_options o = CJ_MAINTENANCE_OPTIONS_INIT;
	o.tick_ms = 20;
	o.backup_every_ms = HOUR;
	o.log = collect;
	o.log_arg = &l;
	cj_maintenance *m;
	TU_OK(cj_maintenance_new(&m, s, &o));
	TU_OK(cj_maintenance_start(m));
	TU_RC(cj_maintenance_start(m), CJ_EBUSY);
	int seen = 0;
	for (int i = 0; i < 500 && !seen; i++) {
		pthread_mutex_lock(&l.mu);
		seen = strstr(l.text, "backup: ") != NULL;
		pthread_mutex_unlock(&l.mu);
		if (!seen)
			usleep(10000);
	}
	cj_maintenance_free(m);
	assert_true(seen);
	assert_non_null(strstr(l.text, "retention: 1 purge(s) removing 1 messages, 0 images, "
	                               "0 metrics; 0 idle thread(s) deleted"));
	assert_int_equal(count_backups(f->store), 1);  /* one per hour, not per tick */
	cj_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_retention_first_pass_then_daily, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction_by_interval_and_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backups_every_and_pruned_and_state_kept, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_only_the_lock_holder_maintains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_logs_what_it_does, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
