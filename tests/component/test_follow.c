/* tests/component/test_follow.c — the iterator's follow mode
 * (cj_journal_iter_wait) and the canonical JSON form of events.
 *
 * Wake-up latencies are measured and printed; the assertions use bounds
 * generous enough for a loaded 2-core machine (the commit's fsync is inside
 * the measured time), and exact facts where there are some: the records
 * seen, in order, once each; one poller for many waiters; a timeout that
 * waits at least its time. Env: CJ_FOLLOW_ROUNDS (default 20),
 * CJ_FOLLOW_EVENTS (default 2000). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "testutil.h"
#include "api/store_internal.h"

extern char **environ;

#define WAKE_BOUND_MS 2000   /* generous: a commit's fsync on a loaded machine */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t append_msg(cj_store *s, const char *thread, const char *content, const char *id)
{
	cj_event *ev = tu_message(thread, content, id, 0);
	assert_non_null(ev);
	uint64_t seq = 0;
	TU_OK(cj_journal_append(&seq, s, ev));
	cj_event_free(ev);
	return seq;
}

/* ---- canonical JSON -------------------------------------------------------- */

/* The poll count, read under the lock its writers hold. */
static uint64_t follow_polls(cj_store *s)
{
	pthread_mutex_lock(&s->journal.follow.mu);
	uint64_t n = s->journal.follow.polls;
	pthread_mutex_unlock(&s->journal.follow.mu);
	return n;
}

static void test_canonical_json(void **state)
{
	(void)state;
	const char *in = "{\"type\":\"message\",\"ts\":\"1970-01-01T00:00:01.5+00:00\",\"thread\":\"T\","
	                 "\"role\":\"user\",\"content\":\"h\\u00e9 \\\"q\\\"\",\"metadata\":{\"z\":1,\"a\":[2.5,"
	                 "{\"y\":null,\"b\":true}],\"\\u00e9\":0,\"B\":\"x\"}}";
	cj_event *ev;
	TU_OK(cj_event_parse(&ev, in, strlen(in)));
	char *out;
	size_t len;
	TU_OK(cj_event_to_canonical_json(&out, &len, ev));
	const char *want = "{\"content\":\"h\xc3\xa9 \\\"q\\\"\",\"metadata\":{\"B\":\"x\",\"a\":[2.5,"
	                   "{\"b\":true,\"y\":null}],\"z\":1,\"\xc3\xa9\":0},\"role\":\"user\","
	                   "\"thread\":\"T\",\"ts\":1500,\"type\":\"message\"}";
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	cj_free(out);
	cj_event_free(ev);
	/* An event without ts has none; NULL arguments are refused. */
	TU_OK(cj_event_new(&ev, "metric"));
	TU_OK(cj_event_set_string(ev, "name", "n"));
	TU_OK(cj_event_set_real(ev, "value", 0.1));
	TU_OK(cj_event_to_canonical_json(&out, NULL, ev));
	assert_string_equal(out, "{\"name\":\"n\",\"type\":\"metric\",\"value\":0.10000000000000001}");
	cj_free(out);
	TU_RC(cj_event_to_canonical_json(&out, NULL, NULL), CJ_EINVAL);
	assert_null(out);
	cj_event_free(ev);
}

static void test_canonical_json_of_records(void **state)
{
	tu_fixture *f = *state;
	const char *in = "{\"ts\":\"2026-05-01T12:00:00+02:00\",\"user\":\"U\",\"type\":\"user\","
	                 "\"config\":{\"b\":1,\"a\":2},\"tz_offset\":-3600}";
	cj_event *ev;
	TU_OK(cj_event_parse(&ev, in, strlen(in)));
	uint64_t seq;
	TU_OK(cj_journal_append(&seq, f->s, ev));
	cj_event *back;
	cj_record rec;
	TU_OK(cj_journal_get(&back, &rec, f->s, seq));
	char *a, *b;
	TU_OK(cj_event_to_canonical_json(&a, NULL, ev));
	TU_OK(cj_event_to_canonical_json(&b, NULL, back));
	assert_string_equal(a, "{\"config\":{\"a\":2,\"b\":1},\"ts\":1777629600000,"
	                       "\"type\":\"user\",\"tz_offset\":-3600,\"user\":\"U\"}");
	assert_string_equal(a, b);
	cj_free(a);
	cj_free(b);
	cj_event_free(back);
	cj_event_free(ev);
}

/* ---- waiting --------------------------------------------------------------- */

static void test_wait_timeout_and_ready(void **state)
{
	tu_fixture *f = *state;
	cj_journal_iter *it;
	TU_OK(cj_journal_iter_new(&it, f->s, 1));
	uint64_t t0 = tu_now_ns();
	TU_RC(cj_journal_iter_wait(it, 150), 0);
	uint64_t waited = (tu_now_ns() - t0) / 1000000u;
	assert_true(waited >= 150);
	assert_true(waited < 150 + WAKE_BOUND_MS);
	uint64_t seq = append_msg(f->s, "T", "one", NULL);
	assert_int_equal(seq, 1);
	TU_RC(cj_journal_iter_wait(it, 0), 1);     /* something to read: at once */
	cj_record rec;
	TU_RC(cj_journal_iter_next(&rec, it), 1);
	assert_int_equal(rec.seq, 1);
	TU_RC(cj_journal_iter_wait(it, 0), 0);     /* at the end, no wait */
	TU_RC(cj_journal_iter_next(&rec, it), 0);
	TU_RC(cj_journal_iter_wait(NULL, 0), CJ_EINVAL);
	cj_journal_iter_free(it);
}

/* cj_journal_wait: no iterator; the last sequence number comes back. */
typedef struct last_waiter {
	cj_store *s;
	uint64_t after, last;
	int rc;
} last_waiter;

static void *wait_last(void *arg)
{
	last_waiter *w = arg;
	w->rc = cj_journal_wait(&w->last, w->s, w->after, 10000);
	return NULL;
}

static void test_wait_without_iterator(void **state)
{
	tu_fixture *f = *state;
	uint64_t last = 99;
	uint64_t t0 = tu_now_ns();
	TU_RC(cj_journal_wait(&last, f->s, 0, 120), 0);       /* empty journal: times out */
	uint64_t waited = (tu_now_ns() - t0) / 1000000u;
	assert_true(waited >= 120 && waited < 120 + WAKE_BOUND_MS);
	assert_int_equal(last, 0);
	append_msg(f->s, "T", "one", NULL);
	append_msg(f->s, "T", "two", NULL);
	TU_RC(cj_journal_wait(&last, f->s, 0, 0), 1);         /* past 0 already: at once */
	assert_int_equal(last, 2);
	TU_RC(cj_journal_wait(&last, f->s, 1, -1), 1);        /* no bound, but nothing to wait for */
	assert_int_equal(last, 2);
	TU_RC(cj_journal_wait(&last, f->s, 2, 0), 0);         /* at the end: no wait */
	assert_int_equal(last, 2);
	/* A commit wakes a waiter, which learns the new last number. */
	last_waiter w = { f->s, 2, 0, -99 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, wait_last, &w), 0);
	sleep_ms(20);
	uint64_t seq = append_msg(f->s, "T", "three", NULL);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 1);
	assert_int_equal(w.last, seq);
	assert_int_equal(seq, 3);
	TU_RC(cj_journal_wait(&last, NULL, 0, 0), CJ_EINVAL);
	assert_int_equal(last, 0);
}

typedef struct waiter {
	cj_store *s;
	uint64_t from;
	int timeout_ms;
	int rc;
	uint64_t woke_ns;
	uint64_t seq;          /* the record read after waking */
} waiter;

static void *wait_one(void *arg)
{
	waiter *w = arg;
	cj_journal_iter *it;
	if ((w->rc = cj_journal_iter_new(&it, w->s, w->from)) != 0)
		return NULL;
	w->rc = cj_journal_iter_wait(it, w->timeout_ms);
	w->woke_ns = tu_now_ns();
	cj_record rec;
	if (w->rc == 1 && cj_journal_iter_next(&rec, it) == 1)
		w->seq = rec.seq;
	cj_journal_iter_free(it);
	return NULL;
}

/* A commit of this process wakes a waiter: the time from the append's start
 * to the wake-up, over CJ_FOLLOW_ROUNDS rounds. */
static void test_wake_in_process(void **state)
{
	tu_fixture *f = *state;
	unsigned rounds = (unsigned)tu_env_ulong("CJ_FOLLOW_ROUNDS", 20);
	uint64_t *lat = calloc(rounds, sizeof *lat);
	uint64_t polls0 = follow_polls(f->s);
	for (unsigned r = 0; r < rounds; r++) {
		waiter w = { f->s, r + 1, 10000, -99, 0, 0 };
		pthread_t th;
		assert_int_equal(pthread_create(&th, NULL, wait_one, &w), 0);
		sleep_ms(20); /* let it reach the wait */
		uint64_t t0 = tu_now_ns();
		uint64_t seq = append_msg(f->s, "T", "wake", NULL);
		pthread_join(th, NULL);
		assert_int_equal(seq, r + 1);
		assert_int_equal(w.rc, 1);
		assert_int_equal(w.seq, seq);
		lat[r] = (w.woke_ns - t0) / 1000u;
	}
	qsort(lat, rounds, sizeof *lat, cmp_u64);
	printf("follow in-process: wake after append start p50 %.2f ms, max %.2f ms over %u rounds; "
	       "%llu polls meanwhile\n", (double)lat[rounds / 2] / 1e3, (double)lat[rounds - 1] / 1e3,
	       rounds, (unsigned long long)(follow_polls(f->s) - polls0));
	assert_true(lat[rounds - 1] < (uint64_t)WAKE_BOUND_MS * 1000u);
	free(lat);
}

/* Many threads wait on one store handle: one of them polls for all (the
 * idle cost does not grow with the number of waiters), and all wake. */
static void test_idle_cost_one_poller(void **state)
{
	tu_fixture *f = *state;
	enum { N = 8, IDLE_MS = 1000 };
	waiter w[N];
	pthread_t th[N];
	uint64_t polls0 = follow_polls(f->s);
	for (int i = 0; i < N; i++) {
		w[i] = (waiter){ f->s, 1, 20000, -99, 0, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, wait_one, &w[i]), 0);
	}
	sleep_ms(IDLE_MS);
	uint64_t polls = follow_polls(f->s) - polls0;
	append_msg(f->s, "T", "all of you", NULL);
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].rc, 1);
		assert_int_equal(w[i].seq, 1);
	}
	printf("follow idle: %d waiters, %d ms: %llu polls (one poller: at most %d)\n", N, IDLE_MS,
	       (unsigned long long)polls, IDLE_MS / CJ_JOURNAL_FOLLOW_POLL_MS);
	/* One poll per interval at most, whatever the number of waiters (with a
	 * poller per waiter it would be N times that), and at least one. */
	assert_true(polls >= 1);
	assert_true(polls <= IDLE_MS / CJ_JOURNAL_FOLLOW_POLL_MS + 2);
}

/* ---- another process appends ----------------------------------------------- */

/* The child (this program again, run as "child STORE ROUNDS THREAD": a
 * fork of a process with threads would upset ThreadSanitizer) appends
 * `rounds` events, one every 100 ms, and writes to stdout the monotonic
 * time (system-wide) at which each append began. */
static void child_appender(const char *store, int fd, unsigned rounds, const char *thread)
{
	cj_store *s;
	if (cj_store_open(&s, store, NULL) != 0)
		_exit(3);
	for (unsigned r = 0; r < rounds; r++) {
		sleep_ms(100);
		uint64_t t0 = tu_now_ns();
		cj_event *ev = tu_message(thread, "from the child", NULL, 0);
		uint64_t seq = 0;
		if (!ev || cj_journal_append(&seq, s, ev) != 0)
			_exit(4);
		cj_event_free(ev);
		char line[64];
		int n = snprintf(line, sizeof line, "%llu %llu\n", (unsigned long long)seq,
		                 (unsigned long long)t0);
		if (write(fd, line, (size_t)n) != n)
			_exit(5);
	}
	cj_store_close(s);
	_exit(0);
}

/* Start the child appender; *out gets the read end of its stdout. */
static pid_t spawn_child(int *out, const char *store, unsigned rounds, const char *thread)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	char n[16];
	snprintf(n, sizeof n, "%u", rounds);
	char *argv[] = { (char *)"test_follow", (char *)"child", (char *)store, n, (char *)thread, NULL };
	pid_t pid;
	fflush(NULL);
	assert_int_equal(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	*out = p[0];
	return pid;
}

static void test_wake_cross_process(void **state)
{
	tu_fixture *f = *state;
	unsigned rounds = (unsigned)tu_env_ulong("CJ_FOLLOW_ROUNDS", 20);
	int fd;
	pid_t pid = spawn_child(&fd, f->store, rounds, "C");
	FILE *in = fdopen(fd, "r");
	cj_journal_iter *it;
	TU_OK(cj_journal_iter_new(&it, f->s, 1));
	uint64_t *woke = calloc(rounds, sizeof *woke), *lat = calloc(rounds, sizeof *lat);
	for (unsigned r = 0; r < rounds; r++) {
		TU_RC(cj_journal_iter_wait(it, 10000), 1);
		woke[r] = tu_now_ns();
		cj_record rec;
		TU_RC(cj_journal_iter_next(&rec, it), 1);
		assert_int_equal(rec.seq, r + 1);
		assert_string_equal(cj_event_get_string(rec.event, "thread"), "C");
		TU_RC(cj_journal_iter_next(&rec, it), 0);
	}
	for (unsigned r = 0; r < rounds; r++) {
		unsigned long long seq, t0;
		assert_int_equal(fscanf(in, "%llu %llu", &seq, &t0), 2);
		assert_int_equal(seq, r + 1);
		lat[r] = woke[r] > t0 ? (woke[r] - t0) / 1000u : 0;
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fclose(in);
	cj_journal_iter_free(it);
	qsort(lat, rounds, sizeof *lat, cmp_u64);
	printf("follow cross-process: wake after the child's append start p50 %.2f ms, max %.2f ms "
	       "over %u rounds (poll every %d ms)\n", (double)lat[rounds / 2] / 1e3,
	       (double)lat[rounds - 1] / 1e3, rounds, CJ_JOURNAL_FOLLOW_POLL_MS);
	assert_true(lat[rounds - 1] < (uint64_t)WAKE_BOUND_MS * 1000u);
	free(woke);
	free(lat);
}

/* ---- many followers, appenders, a compaction ------------------------------- */

typedef struct follower {
	cj_store *s;
	atomic_int *hold;      /* non-NULL: after pause_at, wait while *hold */
	uint64_t pause_at;
	uint64_t want;         /* read until this seq */
	uint64_t seen, bad_order, redacted, errors;
	char err[256];
} follower;

static void *follow_main(void *arg)
{
	follower *fl = arg;
	cj_journal_iter *it;
	if (cj_journal_iter_new(&it, fl->s, 1) != 0) {
		fl->errors++;
		return NULL;
	}
	uint64_t deadline = tu_now_ns() + 120ull * 1000000000u;
	while (fl->seen < fl->want && tu_now_ns() < deadline) {
		cj_record rec;
		int r = cj_journal_iter_next(&rec, it);
		if (r == 1) {
			if (rec.seq != fl->seen + 1)
				fl->bad_order++;
			fl->seen = rec.seq;
			if (rec.flags & CJ_RECORD_REDACTED)
				fl->redacted++;
			while (fl->hold && rec.seq == fl->pause_at && atomic_load(fl->hold))
				sleep_ms(1);
			continue;
		}
		if (r == 0)
			r = cj_journal_iter_wait(it, 1000);
		if (r < 0 && !fl->errors++)
			snprintf(fl->err, sizeof fl->err, "%s", cj_error_last());
	}
	cj_journal_iter_free(it);
	return NULL;
}

typedef struct appender {
	cj_store *s;
	unsigned n;
	int tag;
	int rc;
} appender;

static void *append_main(void *arg)
{
	appender *a = arg;
	for (unsigned i = 0; i < a->n && !a->rc; i++) {
		char th[16], content[64];
		snprintf(th, sizeof th, "t%d-%u", a->tag, i % 7);
		snprintf(content, sizeof content, "event %u of appender %d", i, a->tag);
		cj_event *ev = tu_message(th, content, NULL, 0);
		a->rc = ev ? cj_journal_append(NULL, a->s, ev) : CJ_ENOMEM;
		cj_event_free(ev);
	}
	return NULL;
}

/* 8 followers, each with its own iterator, while 2 threads append: each
 * sees exactly 1..N, in order, once. */
static void test_many_followers(void **state)
{
	tu_fixture *f = *state;
	enum { NF = 8, NA = 2 };
	unsigned per = (unsigned)tu_env_ulong("CJ_FOLLOW_EVENTS", 2000) / NA;
	follower fl[NF];
	appender ap[NA];
	pthread_t tf[NF], ta[NA];
	for (int i = 0; i < NF; i++) {
		fl[i] = (follower){ f->s, NULL, 0, (uint64_t)per * NA, 0, 0, 0, 0, "" };
		assert_int_equal(pthread_create(&tf[i], NULL, follow_main, &fl[i]), 0);
	}
	for (int i = 0; i < NA; i++) {
		ap[i] = (appender){ f->s, per, i, 0 };
		assert_int_equal(pthread_create(&ta[i], NULL, append_main, &ap[i]), 0);
	}
	for (int i = 0; i < NA; i++) {
		pthread_join(ta[i], NULL);
		assert_int_equal(ap[i].rc, 0);
	}
	for (int i = 0; i < NF; i++) {
		pthread_join(tf[i], NULL);
		if (fl[i].errors)
			fail_msg("follower %d: %llu errors, first: %s", i, (unsigned long long)fl[i].errors,
			         fl[i].err);
		assert_int_equal(fl[i].seen, (uint64_t)per * NA);
		assert_int_equal(fl[i].bad_order, 0);
	}
}

/* A compaction swaps the journal folder while a thread follows; then
 * another process appends to the new folder. The follower sees every record
 * once, in order; the deleted thread's messages as tombstones if it read
 * them after the swap; the child's appends wake it. */
static void test_swap_mid_follow(void **state)
{
	tu_fixture *f = *state;
	enum { BEFORE = 1000, CHILD = 20 };
	for (int i = 0; i < BEFORE; i++) {
		char content[64];
		snprintf(content, sizeof content, "%s message %d", i % 2 ? "kept" : "doomed", i);
		append_msg(f->s, i % 2 ? "KEEP" : "DOOM", content, NULL);
	}
	cj_event *del;
	const char *dj = "{\"type\":\"delete_thread\",\"thread\":\"DOOM\"}";
	TU_OK(cj_event_parse(&del, dj, strlen(dj)));
	uint64_t dseq;
	TU_OK(cj_journal_append(&dseq, f->s, del));
	cj_event_free(del);
	assert_int_equal(dseq, BEFORE + 1);
	TU_OK(cj_wait_applied(f->s, dseq, 30000));

	/* The follower stops at seq 10 until the swap is done: it is
	 * mid-journal then, with a chunk of records read before it. */
	atomic_int hold = 1;
	follower fl = { f->s, &hold, 10, BEFORE + 1 + CHILD, 0, 0, 0, 0, "" };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, follow_main, &fl), 0);
	cj_compact_report rep;
	TU_OK(cj_compact(&rep, f->s, NULL));
	atomic_store(&hold, 0);
	assert_int_equal(rep.messages, BEFORE / 2);
	uint64_t swaps = atomic_load(&f->s->journal.env.swaps);
	assert_true(swaps >= 1);

	int fd;
	pid_t pid = spawn_child(&fd, f->store, CHILD, "AFTER");
	pthread_join(th, NULL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
	if (fl.errors)
		fail_msg("follower: %llu errors, first: %s", (unsigned long long)fl.errors, fl.err);
	assert_int_equal(fl.seen, BEFORE + 1 + CHILD);
	assert_int_equal(fl.bad_order, 0);
	printf("follow through a swap: %llu of %d deleted messages read as tombstones\n",
	       (unsigned long long)fl.redacted, BEFORE / 2);
	/* Those it had copied before the swap came as they were; the rest, read
	 * from the new folder, as tombstones. */
	assert_true(fl.redacted > 0 && fl.redacted < BEFORE / 2);

	/* Read again from the start: every deleted message is a tombstone now,
	 * delivered as such (flag, empty content, canonical form). */
	cj_journal_iter *it;
	TU_OK(cj_journal_iter_new(&it, f->s, 1));
	cj_record rec;
	unsigned tomb = 0;
	while (cj_journal_iter_next(&rec, it) == 1) {
		const char *thread = cj_event_get_string(rec.event, "thread");
		int doomed = rec.seq <= BEFORE && thread && !strcmp(thread, "DOOM");
		assert_int_equal(!!(rec.flags & CJ_RECORD_REDACTED), doomed);
		if (!doomed)
			continue;
		tomb++;
		assert_int_equal(rec.type, CJ_EVENT_MESSAGE);
		assert_string_equal(cj_event_get_string(rec.event, "content"), "");
		char *cj;
		TU_OK(cj_event_to_canonical_json(&cj, NULL, rec.event));
		char want[160];
		snprintf(want, sizeof want, "{\"content\":\"\",\"role\":\"user\",\"thread\":\"DOOM\","
		         "\"ts\":%lld,\"type\":\"message\"}", (long long)rec.ts_ms);
		assert_string_equal(cj, want);
		cj_free(cj);
	}
	cj_journal_iter_free(it);
	assert_int_equal(tomb, BEFORE / 2);
}

static int setup(void **state) { return tu_fixture_setup(state, "follow", NULL); }
static int teardown(void **state) { return tu_fixture_teardown(state); }

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "child"))
		child_appender(argv[2], 1, (unsigned)strtoul(argv[3], NULL, 10), argv[4]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_json),
		cmocka_unit_test_setup_teardown(test_canonical_json_of_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_without_iterator, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_timeout_and_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake_in_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_cost_one_poller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake_cross_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_followers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swap_mid_follow, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
