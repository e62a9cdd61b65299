/* tests/component/test_health.c — a projection that never freezes and a
 * health report that tells the truth:
 *   - a passive process (another one materializes) follows the position and
 *     takes over within 2 s when the materializing process is killed;
 *   - waits and watches for a position work in the passive process too;
 *   - health is degraded, with a reason naming no store, when the
 *     materializer stops on an error, when the projection lags without
 *     moving (a process holds the lock but does not materialize), and when a
 *     query finds the projection damaged; a replay makes it healthy again;
 *   - the quick check at open refuses a damaged projection;
 *   - cj_journal_submit_notify calls back exactly once, before the ticket can
 *     be freed; options structs of version 1 are still accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sqlite3.h>
#include "testutil.h"

static int setup(void **state) { return tu_fixture_setup(state, "health", NULL); }
static int setup_closed(void **state)
{
	return tu_fixture_setup_ex(state, sizeof(tu_fixture), "health", NULL, TU_FIXTURE_NO_STORE);
}
static int teardown(void **state) { return tu_fixture_teardown(state); }

static uint64_t append_n(cj_store *s, const char *thread, unsigned n)
{
	uint64_t seq = 0;
	for (unsigned i = 0; i < n; i++) {
		char content[64];
		snprintf(content, sizeof content, "health %s %u", thread, i);
		cj_event *ev = tu_message(thread, content, NULL, 0);
		assert_non_null(ev);
		TU_OK(cj_journal_append(&seq, s, ev));
		cj_event_free(ev);
	}
	return seq;
}

static cj_health health_of(cj_store *s)
{
	cj_health h;
	TU_OK(cj_store_health(&h, s));
	return h;
}

/* cj_store_defer_projection: while held, appends are durable and the
 * position does not move; released, it catches up. */
static void test_defer_projection(void **state)
{
	tu_fixture *f = *state;
	append_n(f->s, "D0", 3);
	uint64_t before = health_of(f->s).last_seq;
	uint64_t t0 = tu_now_ns();
	while (health_of(f->s).position < before && tu_now_ns() - t0 < 5000000000ull)
		usleep(2000);
	assert_int_equal(health_of(f->s).position, before);
	TU_OK(cj_store_defer_projection(f->s, 1));
	append_n(f->s, "D1", 50);
	uint64_t last = before + 50;
	usleep(300000); /* far longer than the materializer takes for 50 events */
	cj_health h = health_of(f->s);
	assert_int_equal(h.last_seq, last);
	assert_int_equal(h.position, before);
	TU_OK(cj_store_defer_projection(f->s, 0));
	t0 = tu_now_ns();
	while (health_of(f->s).position < last && tu_now_ns() - t0 < 5000000000ull)
		usleep(2000);
	assert_int_equal(health_of(f->s).position, last);
	assert_int_equal(cj_store_defer_projection(NULL, 1), CJ_EINVAL);
}

/* ---- another process -------------------------------------------------- */

typedef enum { CHILD_MATERIALIZE, CHILD_HOLD_LOCK } child_kind;

/* A child that opens the store read-write (it then materializes: the parent
 * has not opened it yet) or that only holds the materializer lock, says
 * "R" on the pipe and waits to be killed. */
static pid_t spawn(const char *store, child_kind kind)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		cj_store *s = NULL;
		if (kind == CHILD_MATERIALIZE) {
			if (cj_store_open(&s, store, NULL) != 0)
				_exit(2);
		} else {
			char lock[PATH_MAX];
			snprintf(lock, sizeof lock, "%s/chat.sqlite-materializer.lock", store);
			int fd = open(lock, O_RDWR | O_CREAT, 0600);
			if (fd < 0 || flock(fd, LOCK_EX) != 0)
				_exit(2);
		}
		if (write(fds[1], "R", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(fds[1]);
	char c = 0;
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(c, 'R');
	close(fds[0]);
	return pid;
}

static void kill_child(pid_t pid)
{
	kill(pid, SIGKILL);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

static void test_passive_follows_and_takes_over(void **state)
{
	tu_fixture *f = *state;
	TU_OK(cj_store_init(f->store, NULL));
	pid_t child = spawn(f->store, CHILD_MATERIALIZE);
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->store, NULL));
	cj_health h = health_of(s);
	assert_int_equal(h.materializing, 0);
	assert_int_equal(h.ok, 1);

	/* The child materializes what this process appends; waits here see it. */
	uint64_t last = append_n(s, "P", 20);
	TU_OK(cj_wait_applied(s, last, 5000));
	uint64_t pos = 0;
	TU_OK(cj_projection_position(&pos, s));
	assert_int_equal(pos, last);

	/* The materializing process dies: this one takes over within 2 s. */
	kill_child(child);
	uint64_t t0 = tu_now_ns(), took = 0;
	while (tu_now_ns() - t0 < 5000000000ull) {
		if (health_of(s).materializing) {
			took = (tu_now_ns() - t0) / 1000000u;
			break;
		}
		usleep(10000);
	}
	if (!health_of(s).materializing)
		fail_msg("no takeover within 5 s of the materializer's death");
	if (took > 2000)
		fail_msg("takeover took %llu ms, more than 2 s", (unsigned long long)took);
	last = append_n(s, "P", 10);
	TU_OK(cj_wait_applied(s, last, 2000));
	h = health_of(s);
	assert_int_equal(h.ok, 1);
	assert_int_equal(h.position, last);
	assert_int_equal(h.lag, 0);
	cj_store_close(s);
}

/* ---- watches ------------------------------------------------------------ */

typedef struct watcher {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int calls;
} watcher;

static void on_fire(void *arg)
{
	watcher *w = arg;
	pthread_mutex_lock(&w->mu);
	w->calls++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

static int wait_calls(watcher *w, int want, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (w->calls < want && pthread_cond_timedwait(&w->cond, &w->mu, &ts) == 0)
		;
	int calls = w->calls;
	pthread_mutex_unlock(&w->mu);
	return calls;
}

static void watch_roundtrip(cj_store *writer, cj_store *watched)
{
	watcher w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, writer));
	TU_OK(cj_wait_applied(watched, last, 5000));
	cj_watch *armed = NULL, *never = NULL, *done = NULL;
	/* Applied already: 1, no watch, no call. */
	if (last > 0) {
		TU_RC(cj_projection_watch(&done, watched, last, on_fire, &w), 1);
		assert_null(done);
	}
	TU_RC(cj_projection_watch(&armed, watched, last + 3, on_fire, &w), 0);
	TU_RC(cj_projection_watch(&never, watched, last + 1000, on_fire, &w), 0);
	assert_non_null(armed);
	append_n(writer, "W", 2);
	usleep(50000);
	assert_int_equal(wait_calls(&w, 1, 0), 0); /* last + 2 < last + 3 */
	append_n(writer, "W", 1);
	assert_int_equal(wait_calls(&w, 1, 5000), 1);
	cj_watch_free(watched, armed);
	cj_watch_free(watched, never); /* disarmed: never called */
	append_n(writer, "W", 2);
	usleep(50000);
	assert_int_equal(wait_calls(&w, 2, 0), 1);
}

static void test_watch_fires_once(void **state)
{
	tu_fixture *f = *state;
	watch_roundtrip(f->s, f->s);
}

static void test_watch_in_passive_process(void **state)
{
	tu_fixture *f = *state;
	TU_OK(cj_store_init(f->store, NULL));
	pid_t child = spawn(f->store, CHILD_MATERIALIZE);
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->store, NULL));
	assert_int_equal(health_of(s).materializing, 0);
	watch_roundtrip(s, s);
	kill_child(child);
	cj_store_close(s);
}

/* ---- health ------------------------------------------------------------- */

static void test_degraded_when_nobody_materializes(void **state)
{
	tu_fixture *f = *state;
	TU_OK(cj_store_init(f->store, NULL));
	pid_t child = spawn(f->store, CHILD_HOLD_LOCK);
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->store, NULL));
	append_n(s, "S", 5);
	cj_health h = health_of(s);
	assert_int_equal(h.ok, 1); /* lagging, but not for long yet */
	assert_int_equal(h.lag, 5);
	uint64_t t0 = tu_now_ns();
	while (health_of(s).ok && tu_now_ns() - t0 < (CJ_HEALTH_STALL_MS + 5000) * 1000000ull)
		usleep(100000);
	h = health_of(s);
	assert_int_equal(h.ok, 0);
	assert_string_equal(h.reason, "the projection lags and is not advancing: no process is materializing");
	assert_null(strstr(h.reason, f->store));
	assert_non_null(strstr(h.detail, "position 0"));
	/* The stuck holder goes: this process takes over and health recovers. */
	kill_child(child);
	TU_OK(cj_wait_applied(s, 5, 5000));
	assert_int_equal(health_of(s).ok, 1);
	cj_store_close(s);
}

static void exec_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static void test_degraded_when_the_materializer_stops(void **state)
{
	tu_fixture *f = *state;
	TU_OK(cj_store_init(f->store, NULL));
	char sq[PATH_MAX];
	tu_path(sq, sizeof sq, f->store, "chat.sqlite");
	/* Another writer broke the projection: every batch with a message fails. */
	exec_sql(sq, "CREATE TRIGGER broken BEFORE INSERT ON messages"
	             " BEGIN SELECT RAISE(ABORT, 'broken by the test'); END");
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->store, NULL));
	append_n(s, "E", 1);
	uint64_t t0 = tu_now_ns();
	while (health_of(s).ok && tu_now_ns() - t0 < 5000000000ull)
		usleep(10000);
	cj_health h = health_of(s);
	assert_int_equal(h.ok, 0);
	assert_string_equal(h.reason, "the materializer stopped on an error");
	if (!strstr(h.detail, "broken by the test"))
		fail_msg("detail does not name the cause: %s", h.detail);
	cj_store_close(s);
}

/* Write garbage over a few pages in the middle of the projection file. */
static void damage_projection(const char *store)
{
	char sq[PATH_MAX];
	tu_path(sq, sizeof sq, store, "chat.sqlite");
	FILE *fp = fopen(sq, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	long size = ftell(fp);
	assert_true(size > 8 * 4096);
	char junk[4096 - 200];
	memset(junk, 0x5a, sizeof junk);
	for (long pg = 2; pg < size / 4096; pg += 3) {
		assert_int_equal(fseek(fp, pg * 4096 + 100, SEEK_SET), 0);
		assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
	}
	fclose(fp);
}

static void fill_and_close(tu_fixture *f, unsigned n)
{
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, f->store, NULL));
	uint64_t last = append_n(s, "D", n);
	TU_OK(cj_wait_applied(s, last, 5000));
	cj_store_close(s);
}

static void test_open_check_refuses_a_damaged_projection(void **state)
{
	tu_fixture *f = *state;
	fill_and_close(f, 400);
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.check_projection = 1;
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->store, &o)); /* healthy: the check passes */
	cj_store_close(s);
	damage_projection(f->store);
	s = NULL;
	TU_RC(cj_store_open(&s, f->store, &o), CJ_ECORRUPT);
	assert_null(s);
	if (!strstr(cj_error_last(), "run 'chatjournal replay'"))
		fail_msg("the refusal does not say what to do: %s", cj_error_last());
}

static void test_damaged_projection_degrades_until_replay(void **state)
{
	tu_fixture *f = *state;
	fill_and_close(f, 400);
	damage_projection(f->store);
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.read_only = 1;
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->store, &o));
	char *out = NULL;
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = "health";
	q.limit = 1000;
	int rc = cj_query_search(&out, s, &q);
	cj_free(out);
	char *stats = NULL;
	int src = cj_query_stats(&stats, s);
	TU_OK(src);
	if (rc != CJ_ECORRUPT && !strstr(stats, "projection_error"))
		fail_msg("neither search (%d) nor stats saw the damage: %s", rc, stats);
	assert_non_null(strstr(stats, "run 'chatjournal replay'"));
	cj_free(stats);
	cj_health h = health_of(s);
	assert_int_equal(h.ok, 0);
	assert_string_equal(h.reason, "the projection is damaged: run 'chatjournal replay'");
	assert_non_null(strstr(h.detail, "malformed"));
	cj_store_close(s);

	/* A read-write open refuses it, saying what to do... */
	s = NULL;
	TU_RC(cj_store_open(&s, f->store, NULL), CJ_ECORRUPT);
	if (!strstr(cj_error_last(), "run 'chatjournal replay'"))
		fail_msg("the refusal does not say what to do: %s", cj_error_last());
	/* ...and a replay over the file (what `chatjournal replay` does when no
	 * read-write open is possible) heals it. */
	char sq[PATH_MAX];
	tu_path(sq, sizeof sq, f->store, "chat.sqlite");
	TU_OK(cj_store_open(&s, f->store, &o));
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.out_path = sq;
	TU_OK(cj_projection_replay(s, &ro));
	cj_store_close(s);
	TU_OK(cj_store_open(&s, f->store, NULL));
	TU_OK(cj_query_search(&out, s, &q));
	assert_non_null(strstr(out, "health D 399"));
	cj_free(out);
	assert_int_equal(health_of(s).ok, 1);
	cj_store_close(s);
}

/* ---- notify and options ------------------------------------------------- */

static void test_submit_notify(void **state)
{
	tu_fixture *f = *state;
	enum { N = 64 };
	watcher w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	cj_ticket *t[N];
	for (int i = 0; i < N; i++) {
		cj_event *ev = tu_message("notify", "n", NULL, 0);
		assert_non_null(ev);
		TU_OK(cj_journal_submit_notify(&t[i], f->s, (const cj_event *const *)&ev, 1, on_fire, &w));
		cj_event_free(ev);
	}
	assert_int_equal(wait_calls(&w, N, 10000), N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(cj_ticket_done(t[i]), 1);
		uint64_t seq = 0;
		TU_OK(cj_ticket_wait(&seq, t[i]));
		assert_int_equal(seq, (uint64_t)i + 1);
		cj_ticket_free(t[i]);
	}
	usleep(20000);
	assert_int_equal(wait_calls(&w, N + 1, 0), N); /* exactly once each */
}

/* A caller built against version 1 of cj_store_options passes the shorter
 * struct: it is accepted and the new field keeps its default. */
static void test_store_options_v1(void **state)
{
	tu_fixture *f = *state;
	TU_OK(cj_store_init(f->store, NULL));
	size_t v1 = offsetof(cj_store_options, check_projection);
	unsigned char *buf = malloc(v1);
	assert_non_null(buf);
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.version = 1;
	o.read_only = 1;
	memcpy(buf, &o, v1);
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->store, (const cj_store_options *)(void *)buf));
	cj_store_close(s);
	o.version = 3;
	TU_RC(cj_store_open(&s, f->store, &o), CJ_EINVAL);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_passive_follows_and_takes_over, setup_closed, teardown),
		cmocka_unit_test_setup_teardown(test_watch_fires_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_in_passive_process, setup_closed, teardown),
		cmocka_unit_test_setup_teardown(test_degraded_when_nobody_materializes, setup_closed, teardown),
		cmocka_unit_test_setup_teardown(test_degraded_when_the_materializer_stops, setup_closed, teardown),
		cmocka_unit_test_setup_teardown(test_open_check_refuses_a_damaged_projection, setup_closed, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_projection_degrades_until_replay, setup_closed, teardown),
		cmocka_unit_test_setup_teardown(test_submit_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer_projection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_options_v1, setup_closed, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
