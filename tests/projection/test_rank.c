/* tests/projection/test_rank.c — search by relevance: BM25 puts the
 * densest match first where recency would put the newest; scope filters
 * apply; the ranking only looks at the newest 10000 matches of the store,
 * so a perfect match older than that is not found by relevance (the bound
 * that keeps its cost flat) while recency still pages to it; a caller built
 * against version 1 of cj_search_query (no rank field) still works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "putil.h"

static int setup(void **state) { return tu_fixture_setup(state, "rank", NULL); }
static int teardown(void **state) { return tu_fixture_teardown(state); }

static char *search(cj_store *s, const char *text, int rank, const char *thread, unsigned limit)
{
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = text;
	q.rank = rank;
	q.thread = thread;
	q.limit = limit;
	char *out = NULL;
	TU_OK(cj_query_search(&out, s, &q));
	return out;
}

static void append_many(cj_store *s, unsigned from, unsigned n, const char *content_fmt)
{
	enum { BATCH = 500 };
	cj_event *evs[BATCH];
	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < BATCH ? n - done : BATCH;
		for (unsigned i = 0; i < k; i++) {
			char content[128];
			snprintf(content, sizeof content, content_fmt, from + done + i);
			evs[i] = tu_message("TBULK", content, NULL, 0);
			assert_non_null(evs[i]);
		}
		TU_OK(cj_journal_append_batch(NULL, s, (const cj_event *const *)evs, k));
		for (unsigned i = 0; i < k; i++)
			cj_event_free(evs[i]);
		done += k;
	}
}

static void test_relevance_orders_by_bm25(void **state)
{
	tu_fixture *f = *state;
	uint64_t seq;
	TU_OK(pu_append(f->s, "{\"type\":\"message\",\"thread\":\"A\",\"role\":\"user\","
	                "\"content\":\"kestrel kestrel kestrel kestrel\"}", &seq));           /* 1 */
	TU_OK(pu_append(f->s, "{\"type\":\"message\",\"thread\":\"B\",\"role\":\"user\","
	                "\"content\":\"a kestrel among many other words in a long sentence here\"}",
	                &seq));                                                                  /* 2 */
	TU_OK(pu_append(f->s, "{\"type\":\"message\",\"thread\":\"A\",\"role\":\"user\","
	                "\"content\":\"kestrel kestrel and words\"}", &seq));                   /* 3 */
	TU_OK(cj_wait_applied(f->s, seq, 5000));
	char *out = search(f->s, "kestrel", CJ_RANK_RECENT, NULL, 0);
	PU_SEQS(out, "3,2,1");
	cj_free(out);
	out = search(f->s, "kestrel", CJ_RANK_RELEVANCE, NULL, 0);
	PU_SEQS(out, "1,3,2");
	cj_free(out);
	out = search(f->s, "kestrel", CJ_RANK_RELEVANCE, "B", 0);
	PU_SEQS(out, "2");
	cj_free(out);
	out = search(f->s, "kestrel", CJ_RANK_RELEVANCE, NULL, 1);
	PU_SEQS(out, "1");
	cj_free(out);
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = "kestrel";
	q.rank = 7;
	TU_RC(cj_query_search(&out, f->s, &q), CJ_EINVAL);

	/* A version-1 caller: the struct ends before rank. */
	size_t v1 = offsetof(cj_search_query, rank);
	unsigned char *buf = malloc(v1);
	assert_non_null(buf);
	q.version = 1;
	q.rank = 0;
	memcpy(buf, &q, v1);
	TU_OK(cj_query_search(&out, f->s, (const cj_search_query *)(void *)buf));
	PU_SEQS(out, "3,2,1");
	cj_free(out);
	free(buf);
}

static void test_relevance_window_is_bounded(void **state)
{
	tu_fixture *f = *state;
	uint64_t seq;
	TU_OK(pu_append(f->s, "{\"type\":\"message\",\"thread\":\"OLD\",\"role\":\"user\","
	                "\"content\":\"plover plover plover plover plover\"}", &seq));
	append_many(f->s, 2, 10050, "plover and filler words number %u");
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, f->s));
	assert_int_equal(last, 10051);
	TU_OK(cj_wait_applied(f->s, last, 60000));
	/* The dense old match is outside the newest 10000 matches: relevance
	 * does not see it; recency, paging back, does. */
	char *out = search(f->s, "plover", CJ_RANK_RELEVANCE, NULL, 1000);
	assert_null(strstr(out, "\"seq\":1,"));
	assert_non_null(strstr(out, "\"seq\":10051,"));
	cj_free(out);
	out = search(f->s, "plover", CJ_RANK_RELEVANCE, "OLD", 10);
	PU_SEQS(out, "");
	cj_free(out);
	out = search(f->s, "plover", CJ_RANK_RECENT, "OLD", 10);
	PU_SEQS(out, "1");
	cj_free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_relevance_orders_by_bm25, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relevance_window_is_bounded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
