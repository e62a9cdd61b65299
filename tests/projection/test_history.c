/* tests/projection/test_history.c — the read API over a known projection:
 * history paging (before/after/limit, user and server scope) returns exact
 * seq lists in ascending order; search is newest first, ANDs words, keeps
 * prefix search ("light*") as the one deliberate syntax, and honours thread,
 * user and server scope; images likewise; limits are capped as documented. */
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

#define WAIT_MS 20000
#define BIG 1003

typedef struct fixture {
	tu_fixture tu;
	uint64_t big_first, big_last;
} fixture;

static const char *const H_CONTENT[12] = {
	"the lighthouse keeper", "lightning over the bay", "pure delight", "a light breeze",
	"LIGHTS out", "keeper of the light", "lighthouse lamp", "nothing here",
	"lighthearted keeper", "flashlight", "light light light", "the end",
};

/* Thread H gets seqs 1,3,...,23 (message k: seq 2k+1), thread O 2,4,...,24;
 * then images 25 (H), 26 (O), 27 (H); then BIG messages in thread BIG. */
static int populate(fixture *f)
{
	for (int k = 0; k < 12; k++) {
		char json[512];
		const char *user = k % 3 == 0 ? ",\"user\":\"U1\"" : k % 3 == 1 ? ",\"user\":\"U2\"" : "";
		snprintf(json, sizeof json,
		         "{\"type\":\"message\",\"thread\":\"H\",\"role\":\"%s\",\"content\":\"%s\"%s,"
		         "\"server\":\"%s\",\"channel\":\"C\",\"ts\":%lld}",
		         k % 3 == 2 ? "assistant" : "user", H_CONTENT[k], user, k % 2 ? "S2" : "S1",
		         (long long)(PU_T0 + 2000 * k));
		uint64_t seq;
		int rc = pu_append(f->tu.s, json, &seq);
		if (rc || seq != (uint64_t)(2 * k + 1))
			return -1;
		snprintf(json, sizeof json,
		         "{\"type\":\"message\",\"thread\":\"O\",\"role\":\"user\",\"content\":\"%s\","
		         "\"user\":\"U3\",\"server\":\"S3\",\"ts\":%lld}",
		         k % 2 ? "other filler" : "other lighthouse", (long long)(PU_T0 + 2000 * k + 1000));
		if ((rc = pu_append(f->tu.s, json, &seq)) || seq != (uint64_t)(2 * k + 2))
			return -1;
	}
	static const char *const imgs[3] = {
		"{\"type\":\"image\",\"thread\":\"H\",\"url\":\"https://x/1\",\"prompt\":\"lighthouse sketch\",\"ts\":1714557700000}",
		"{\"type\":\"image\",\"thread\":\"O\",\"url\":\"https://x/2\",\"prompt\":\"lighthouse photo\",\"ts\":1714557701000}",
		"{\"type\":\"image\",\"thread\":\"H\",\"url\":\"https://x/3\",\"analysis\":\"storm at sea\",\"ts\":1714557702000}",
	};
	for (int i = 0; i < 3; i++) {
		uint64_t seq;
		if (pu_append(f->tu.s, imgs[i], &seq) || seq != (uint64_t)(25 + i))
			return -1;
	}
	cj_event **evs = calloc(BIG, sizeof *evs);
	uint64_t *seqs = calloc(BIG, sizeof *seqs);
	if (!evs || !seqs)
		return -1;
	for (int i = 0; i < BIG; i++) {
		char content[64];
		snprintf(content, sizeof content, "bigword number%d", i);
		if (!(evs[i] = tu_message("BIG", content, NULL, PU_T0 + 100000 + i)))
			return -1;
	}
	int rc = cj_journal_append_batch(seqs, f->tu.s, (const cj_event *const *)evs, BIG);
	f->big_first = seqs[0];
	f->big_last = seqs[BIG - 1];
	for (int i = 0; i < BIG; i++)
		cj_event_free(evs[i]);
	free(evs);
	free(seqs);
	if (rc || f->big_first != 28 || f->big_last != 28 + BIG - 1)
		return -1;
	return cj_wait_applied(f->tu.s, f->big_last, WAIT_MS);
}

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "proj-hist", NULL, 0) != 0)
		return -1;
	if (populate(*state) != 0) {
		fprintf(stderr, "setup failed: %s\n", cj_error_last());
		tu_fixture_teardown(state);
		return -1;
	}
	return 0;
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

typedef struct hq_args {
	const char *thread, *user, *server;
	unsigned limit;
	uint64_t before, after;
} hq_args;

static void history_is(fixture *f, hq_args a, int images, const char *want)
{
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = a.thread;
	q.user = a.user;
	q.server = a.server;
	q.limit = a.limit;
	q.before = a.before;
	q.after = a.after;
	char *json = NULL;
	TU_OK(images ? cj_query_images(&json, f->tu.s, &q) : cj_query_history(&json, f->tu.s, &q));
	PU_SEQS(json, want);
	cj_free(json);
}

#define HIST(f, want, ...) history_is(f, (hq_args){ __VA_ARGS__ }, 0, want)
#define IMGS(f, want, ...) history_is(f, (hq_args){ __VA_ARGS__ }, 1, want)

typedef struct sq_args {
	const char *text, *thread, *user, *server;
	unsigned limit;
	int images;
} sq_args;

static void search_is(fixture *f, sq_args a, const char *want)
{
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = a.text;
	q.thread = a.thread;
	q.user = a.user;
	q.server = a.server;
	q.limit = a.limit;
	q.images = a.images;
	char *json = NULL;
	TU_OK(cj_query_search(&json, f->tu.s, &q));
	PU_SEQS(json, want);
	cj_free(json);
}

#define SEARCH(f, want, ...) search_is(f, (sq_args){ __VA_ARGS__ }, want)

/* "from,from+step,...,to" */
static char *range(uint64_t from, uint64_t to, int step)
{
	size_t cap = 16 * 1024;
	char *s = malloc(cap);
	assert_non_null(s);
	size_t len = 0;
	s[0] = '\0';
	for (int64_t v = (int64_t)from; step > 0 ? v <= (int64_t)to : v >= (int64_t)to; v += step)
		len += (size_t)snprintf(s + len, cap - len, "%s%lld", len ? "," : "", (long long)v);
	return s;
}

static void test_history_paging(void **state)
{
	fixture *f = *state;
	HIST(f, "1,3,5,7,9,11,13,15,17,19,21,23", .thread = "H");
	HIST(f, "19,21,23", .thread = "H", .limit = 3);
	HIST(f, "13,15,17", .thread = "H", .limit = 3, .before = 19);
	HIST(f, "7,9,11", .thread = "H", .limit = 3, .before = 13);
	HIST(f, "1", .thread = "H", .before = 2);
	HIST(f, "", .thread = "H", .before = 1);
	HIST(f, "7,9,11", .thread = "H", .limit = 3, .after = 5);
	HIST(f, "7,9", .thread = "H", .after = 5, .before = 11);
	HIST(f, "23", .thread = "H", .after = 22, .limit = 1);
	HIST(f, "", .thread = "H", .after = 23);
	HIST(f, "1,3,5,7,9,11,13,15,17,19,21,23", .thread = "H", .before = 100000);
	HIST(f, "2,4,6,8,10,12,14,16,18,20,22,24", .thread = "O");
	HIST(f, "", .thread = "no-such-thread");
	/* Scope inside the thread. */
	HIST(f, "1,7,13,19", .thread = "H", .user = "U1");
	HIST(f, "3,9,15,21", .thread = "H", .user = "U2");
	HIST(f, "3,7,11,15,19,23", .thread = "H", .server = "S2");
	HIST(f, "7,19", .thread = "H", .user = "U1", .server = "S2");
	HIST(f, "13,19", .thread = "H", .user = "U1", .limit = 2);
	HIST(f, "1,7", .thread = "H", .user = "U1", .limit = 2, .before = 13);
	HIST(f, "", .thread = "H", .user = "U3");
	HIST(f, "", .thread = "H", .server = "S3");
	HIST(f, "", .thread = "O", .user = "U1");
	/* Images. */
	IMGS(f, "25,27", .thread = "H");
	IMGS(f, "26", .thread = "O");
	IMGS(f, "27", .thread = "H", .after = 25);
	IMGS(f, "25", .thread = "H", .before = 27);
	IMGS(f, "", .thread = "BIG");

	/* The exact shape of a row: the event's field names plus seq. */
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = "H";
	q.limit = 1;
	q.before = 2;
	char *json = NULL;
	TU_OK(cj_query_history(&json, f->tu.s, &q));
	const char *want = "[{\"seq\":1,\"thread\":\"H\",\"role\":\"user\",\"content\":\"the lighthouse keeper\","
	                   "\"user\":\"U1\",\"server\":\"S1\",\"channel\":\"C\",\"ts_ms\":1714557600000,"
	                   "\"ts\":\"2024-05-01T10:00:00.000Z\",\"type\":\"message\"}]";
	if (!pu_json_equal(json, want))
		fail_msg("history row:\n  got  %s\n  want %s", json, want);
	cj_free(json);

	/* Bad arguments. */
	q.thread = NULL;
	TU_RC(cj_query_history(&json, f->tu.s, &q), CJ_EINVAL);
	assert_null(json);
	assert_non_null(cj_error_field());
	assert_string_equal(cj_error_field(), "thread");
	q.thread = "";
	TU_RC(cj_query_history(&json, f->tu.s, &q), CJ_EINVAL);
	q.thread = "H";
	q.version = 99;
	TU_RC(cj_query_history(&json, f->tu.s, &q), CJ_EINVAL);
}

static void test_history_limits(void **state)
{
	fixture *f = *state;
	char *want = range(f->big_last - 49, f->big_last, 1);
	HIST(f, want, .thread = "BIG");
	free(want);
	want = range(f->big_last - 999, f->big_last, 1);
	HIST(f, want, .thread = "BIG", .limit = 1000);
	HIST(f, want, .thread = "BIG", .limit = 5000);
	free(want);
	want = range(f->big_first, f->big_first + 999, 1);
	HIST(f, want, .thread = "BIG", .limit = 5000, .after = f->big_first - 1);
	free(want);
	want = range(f->big_first + 1, f->big_first + 3, 1);
	HIST(f, want, .thread = "BIG", .limit = 3, .after = f->big_first);
	free(want);
	/* Search: default 20, at most 1000, newest first. */
	want = range(f->big_last, f->big_last - 19, -1);
	SEARCH(f, want, .text = "bigword");
	free(want);
	want = range(f->big_last, f->big_last - 999, -1);
	SEARCH(f, want, .text = "bigword", .limit = 5000);
	free(want);
	SEARCH(f, "1030", .text = "number1002");
	SEARCH(f, "28", .text = "number0");
}

static void test_search(void **state)
{
	fixture *f = *state;
	/* Prefix: light* finds lighthouse, lightning, light, lights, lighthearted;
	 * not delight or flashlight (other tokens). */
	SEARCH(f, "21,17,13,11,9,7,3,1", .text = "light*", .thread = "H");
	SEARCH(f, "21,11,7", .text = "light", .thread = "H");
	SEARCH(f, "21,11,7", .text = "  light\t\n", .thread = "H");
	SEARCH(f, "13,1", .text = "LIGHTHOUSE", .thread = "H");
	SEARCH(f, "9", .text = "lights", .thread = "H");
	SEARCH(f, "5", .text = "delight", .thread = "H");
	SEARCH(f, "", .text = "deli", .thread = "H");
	SEARCH(f, "5", .text = "deli*", .thread = "H");
	/* Words are ANDed. */
	SEARCH(f, "1", .text = "lighthouse keeper", .thread = "H");
	SEARCH(f, "17,11,1", .text = "keeper", .thread = "H");
	SEARCH(f, "17,11,1", .text = "keeper light*", .thread = "H");
	SEARCH(f, "11", .text = "keeper light", .thread = "H");
	SEARCH(f, "", .text = "lighthouse breeze", .thread = "H");
	/* Scope. */
	SEARCH(f, "22,18,14,13,10,6,2,1", .text = "lighthouse");
	SEARCH(f, "22,18,14", .text = "lighthouse", .limit = 3);
	SEARCH(f, "22,18,14,10,6,2", .text = "lighthouse", .thread = "O");
	SEARCH(f, "22,18,14,10,6,2", .text = "lighthouse", .server = "S3");
	SEARCH(f, "22,18,14,10,6,2", .text = "lighthouse", .user = "U3");
	SEARCH(f, "13,1", .text = "lighthouse", .user = "U1");
	SEARCH(f, "13,1", .text = "lighthouse", .server = "S1");
	SEARCH(f, "", .text = "lighthouse", .server = "S2");
	SEARCH(f, "", .text = "lighthouse", .thread = "H", .user = "U3");
	SEARCH(f, "", .text = "lighthouse", .thread = "O", .server = "S1");
	SEARCH(f, "3", .text = "light*", .user = "U2", .server = "S2");
	SEARCH(f, "3", .text = "light*", .thread = "H", .user = "U2", .server = "S2");
	SEARCH(f, "", .text = "lighthouse", .thread = "no-such-thread");
	SEARCH(f, "", .text = "lighthouse", .user = "no-such-user");
	/* Images: prompt and analysis; user scope through the user's threads. */
	SEARCH(f, "26,25", .text = "lighthouse", .images = 1);
	SEARCH(f, "25", .text = "lighthouse", .images = 1, .thread = "H");
	SEARCH(f, "26", .text = "lighthouse", .images = 1, .server = "S3");
	SEARCH(f, "26", .text = "lighthouse", .images = 1, .user = "U3");
	SEARCH(f, "25", .text = "lighthouse", .images = 1, .user = "U1");
	SEARCH(f, "27", .text = "storm", .images = 1);
	SEARCH(f, "27", .text = "sto*", .images = 1, .thread = "H");
	SEARCH(f, "", .text = "storm", .images = 1, .thread = "O");
	SEARCH(f, "", .text = "keeper", .images = 1);

	/* The exact shape of a search row. */
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = "lighthouse keeper";
	q.thread = "H";
	char *json = NULL;
	TU_OK(cj_query_search(&json, f->tu.s, &q));
	const char *want = "[{\"seq\":1,\"thread\":\"H\",\"role\":\"user\",\"content\":\"the lighthouse keeper\","
	                   "\"user\":\"U1\",\"server\":\"S1\",\"channel\":\"C\",\"ts_ms\":1714557600000,"
	                   "\"ts\":\"2024-05-01T10:00:00.000Z\",\"type\":\"message\"}]";
	if (!pu_json_equal(json, want))
		fail_msg("search row:\n  got  %s\n  want %s", json, want);
	cj_free(json);

	/* Refused: empty text names field q. */
	static const char *const empty[] = { "", "   ", "\t\n" };
	for (size_t i = 0; i < 3; i++) {
		q.text = empty[i];
		TU_RC(cj_query_search(&json, f->tu.s, &q), CJ_EINVAL);
		assert_null(json);
		assert_non_null(cj_error_field());
		assert_string_equal(cj_error_field(), "q");
	}
	q.text = NULL;
	TU_RC(cj_query_search(&json, f->tu.s, &q), CJ_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_history_paging),
		cmocka_unit_test(test_history_limits),
		cmocka_unit_test(test_search),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
