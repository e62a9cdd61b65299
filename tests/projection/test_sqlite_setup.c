/* tests/projection/test_sqlite_setup.c — the library turns SQLite's memory
 * statistics off for the process before SQLite initializes (materializer/
 * db.c: with them on, every SQLite allocation of every thread takes one
 * global mutex). A store opened first: after appends, projection, a history
 * read and a search, SQLite has counted no memory at all. A host program
 * that initialized SQLite itself first (run in a child process): the setting
 * cannot change any more, the store works all the same and SQLite counts
 * its memory as before (which shows the first case's zero is the setting's
 * doing, not a counter that never moves). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sqlite3.h>
#include "putil.h"

#define WAIT_MS 20000
#define N 200

/* Appends N messages, waits for the projection, reads the history and a
 * search of the thread; 0 when every step worked and each read found rows. */
static int use_store(const char *tag)
{
	char dir[4096];
	if (tu_mktempdir(dir, sizeof dir, tag))
		return -1;
	cj_store *s;
	if (tu_store_create(&s, dir, NULL))
		return -1;
	int rc = 0;
	uint64_t seq = 0;
	for (int i = 0; i < N && !rc; i++)
		rc = pu_appendf(s, &seq, "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\","
		                "\"content\":\"harbour word%d\",\"ts\":%lld}", i, (long long)(PU_T0 + i));
	if (!rc)
		rc = cj_wait_applied(s, seq, WAIT_MS);
	char *json = NULL;
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = "T";
	if (!rc && !(rc = cj_query_history(&json, s, &q)))
		rc = strstr(json, "harbour word199") ? 0 : -1;
	cj_free(json);
	json = NULL;
	cj_search_query sq = CJ_SEARCH_QUERY_INIT;
	sq.text = "harbour";
	if (!rc && !(rc = cj_query_search(&json, s, &sq)))
		rc = strstr(json, "harbour word") ? 0 : -1;
	cj_free(json);
	cj_store_close(s);
	tu_rmrf(dir);
	return rc;
}

static void test_statistics_off(void **state)
{
	(void)state;
	assert_int_equal(use_store("sqlite-setup"), 0);
	assert_int_equal(sqlite3_memory_used(), 0);
	assert_int_equal(sqlite3_memory_highwater(0), 0);
	/* SQLite is initialized now: the setting can no longer change */
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1), SQLITE_MISUSE);
}

/* The host initialized SQLite first (in a child, so the parent's SQLite is
 * untouched); exit status 0 when the store worked and memory was counted. */
static void test_host_initialized_first(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (sqlite3_initialize() != SQLITE_OK)
			_exit(2);
		if (use_store("sqlite-setup-host"))
			_exit(3);
		_exit(sqlite3_memory_highwater(0) > 0 ? 0 : 4);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	/* the child runs first: it must fork before this process touches SQLite */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_initialized_first),
		cmocka_unit_test(test_statistics_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
