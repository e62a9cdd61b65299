/* tests/projection/test_readers.c — readers never get in the way and never
 * see a torn projection. 16 reader threads run history, paged history,
 * search and stats in a loop while 2 writer threads append for ~3 s
 * (CJ_READERS_SECONDS). Every call succeeds (no CJ_EBUSY, no SQLITE_BUSY
 * surfacing); every history result is in ascending seq order and is a run
 * of consecutive messages of its writer with no gap, reaching at least the
 * last acknowledged message the projection had applied before the call. */
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
#include <time.h>
#include <jansson.h>
#include "putil.h"

#define NREADERS 16
#define NWRITERS 2
#define MAX_PER_WRITER (1u << 20)
#define WAIT_MS 30000

typedef struct writer {
	cj_store *s;
	int index;
	uint64_t *seqs;             /* seqs[k]: acknowledged seq of message k */
	atomic_size_t acked;        /* seqs[0..acked) are final */
	int error;
	char msg[256];
} writer;

typedef struct reader {
	cj_store *s;
	int index;
	writer *w;                  /* all writers */
	atomic_int *stop;
	unsigned long ops[4];
	int error;
	char msg[512];
} reader;

static atomic_int g_stop;

static void *writer_main(void *arg)
{
	writer *w = arg;
	for (size_t k = 0; k < MAX_PER_WRITER && !atomic_load(&g_stop); k++) {
		char json[256];
		snprintf(json, sizeof json,
		         "{\"type\":\"message\",\"thread\":\"W%d\",\"role\":\"user\",\"content\":\"common w%d k%zu\","
		         "\"user\":\"U%d\",\"server\":\"S%d\"}", w->index, w->index, k, w->index, w->index);
		uint64_t seq = 0;
		int rc = pu_append(w->s, json, &seq);
		if (rc) {
			w->error = rc;
			snprintf(w->msg, sizeof w->msg, "append %zu: %s: %s", k, cj_strerror(rc), cj_error_last());
			break;
		}
		w->seqs[k] = seq;
		atomic_store_explicit(&w->acked, k + 1, memory_order_release);
	}
	return NULL;
}

static int fail_r(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_r(reader *r, const char *fmt, ...)
{
	if (!r->error) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof r->msg, fmt, ap);
		va_end(ap);
		r->error = 1;
	}
	return -1;
}

/* k of content "common wN kK", or -1. */
static long k_of(json_t *row, int wi)
{
	const char *c = json_string_value(json_object_get(row, "content"));
	int w;
	long k;
	if (!c || sscanf(c, "common w%d k%ld", &w, &k) != 2 || w != wi)
		return -1;
	return k;
}

/* Rows of writer wi: thread W<wi>, consecutive k (ascending or descending
 * with seq), each acknowledged k at its acknowledged seq. Returns the number
 * of rows or -1; *k_first / *k_last are the first and last k. */
static long check_run(reader *r, const char *what, const char *json, int wi, int ascending,
                      long *k_first, long *k_last)
{
	writer *w = &r->w[wi];
	json_t *a = json_loads(json, 0, NULL);
	if (!json_is_array(a)) {
		json_decref(a);
		return fail_r(r, "%s: not an array", what);
	}
	char tn[16];
	snprintf(tn, sizeof tn, "W%d", wi);
	size_t acked = atomic_load_explicit(&w->acked, memory_order_acquire);
	long prev_k = -1;
	json_int_t prev_seq = 0;
	size_t i;
	json_t *row;
	int bad = 0;
	json_array_foreach(a, i, row) {
		const char *t = json_string_value(json_object_get(row, "thread"));
		json_int_t seq = json_integer_value(json_object_get(row, "seq"));
		long k = k_of(row, wi);
		if (!t || strcmp(t, tn) || k < 0) {
			bad = fail_r(r, "%s: row %zu is not writer %d's: %s", what, i, wi, json);
			break;
		}
		if (i && (ascending ? (seq <= prev_seq || k != prev_k + 1) : (seq >= prev_seq || k != prev_k - 1))) {
			bad = fail_r(r, "%s: row %zu (seq %lld, k %ld) after (seq %lld, k %ld): not %s without gap",
			             what, i, (long long)seq, k, (long long)prev_seq, prev_k,
			             ascending ? "ascending" : "descending");
			break;
		}
		if ((size_t)k < acked && w->seqs[k] != (uint64_t)seq) {
			bad = fail_r(r, "%s: message k %ld has seq %lld, acknowledged as %llu", what, k,
			             (long long)seq, (unsigned long long)w->seqs[k]);
			break;
		}
		if (i == 0)
			*k_first = k;
		*k_last = k;
		prev_k = k;
		prev_seq = seq;
	}
	long n = bad ? -1 : (long)json_array_size(a);
	json_decref(a);
	return n;
}

/* Number of writer wi's acknowledged messages with seq <= pos. */
static long applied_count(writer *w, uint64_t pos)
{
	size_t acked = atomic_load_explicit(&w->acked, memory_order_acquire);
	size_t lo = 0, hi = acked;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (w->seqs[mid] <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo;
}

static int do_history(reader *r, int wi, unsigned limit, uint64_t before)
{
	uint64_t pos = 0;
	int rc = cj_projection_position(&pos, r->s);
	if (rc)
		return fail_r(r, "position: %s: %s", cj_strerror(rc), cj_error_last());
	long must = before ? 0 : applied_count(&r->w[wi], pos);
	char tn[16];
	snprintf(tn, sizeof tn, "W%d", wi);
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = tn;
	q.limit = limit;
	q.before = before;
	char *json = NULL;
	if ((rc = cj_query_history(&json, r->s, &q)))
		return fail_r(r, "history(%s, limit %u, before %llu): %s: %s", tn, limit,
		              (unsigned long long)before, cj_strerror(rc), cj_error_last());
	long kf = -1, kl = -1;
	long n = check_run(r, "history", json, wi, 1, &kf, &kl);
	if (n >= 0 && !before) {
		/* Every message applied before the call is visible: the run ends at
		 * or after the last of them, and starts at k 0 unless it is full. */
		if (must > 0 && kl < must - 1)
			n = fail_r(r, "history(%s): ends at k %ld but %ld messages were applied (position %llu)",
			           tn, kl, must, (unsigned long long)pos);
		else if (n >= 0 && (unsigned long)n < limit && n > 0 && kf != 0)
			n = fail_r(r, "history(%s): %ld rows (limit %u) but starts at k %ld", tn, n, limit, kf);
		else if (n == 0 && must > 0)
			n = fail_r(r, "history(%s): empty after %ld applied messages", tn, must);
	}
	if (n > 0 && before) {
		json_t *a = json_loads(json, 0, NULL);
		json_int_t last = json_integer_value(json_object_get(json_array_get(a, json_array_size(a) - 1), "seq"));
		json_decref(a);
		if ((uint64_t)last >= before)
			n = fail_r(r, "history(%s, before %llu) returned seq %lld", tn, (unsigned long long)before,
			           (long long)last);
	}
	cj_free(json);
	return n < 0 ? -1 : 0;
}

static int do_search(reader *r, int wi)
{
	char tn[16];
	snprintf(tn, sizeof tn, "W%d", wi);
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = "common";
	q.thread = tn;
	q.limit = 20;
	char *json = NULL;
	int rc = cj_query_search(&json, r->s, &q);
	if (rc)
		return fail_r(r, "search: %s: %s", cj_strerror(rc), cj_error_last());
	long kf, kl;
	long n = check_run(r, "search", json, wi, 0, &kf, &kl);
	cj_free(json);
	return n < 0 ? -1 : 0;
}

static int do_stats(reader *r)
{
	char *json = NULL;
	int rc = cj_query_stats(&json, r->s);
	if (rc)
		return fail_r(r, "stats: %s: %s", cj_strerror(rc), cj_error_last());
	json_t *o = json_loads(json, 0, NULL);
	json_t *lag = json_object_get(o, "lag");
	int bad = !json_is_integer(lag) || json_integer_value(lag) < 0 ||
	          json_object_get(o, "materializer_error") != NULL ||
	          json_integer_value(json_object_get(o, "messages")) < 0;
	if (bad)
		fail_r(r, "stats: %s", json);
	json_decref(o);
	cj_free(json);
	return bad ? -1 : 0;
}

static void *reader_main(void *arg)
{
	reader *r = arg;
	uint64_t x = (uint64_t)r->index * 7919 + 17;
	while (!atomic_load(r->stop) && !r->error) {
		int wi = (int)(tu_rand(&x) % NWRITERS);
		unsigned op = (unsigned)(tu_rand(&x) % 4);
		int rc;
		if (op == 0) {
			rc = do_history(r, wi, 50, 0);
		} else if (op == 1) {
			size_t acked = atomic_load_explicit(&r->w[wi].acked, memory_order_acquire);
			uint64_t before = acked ? r->w[wi].seqs[tu_rand(&x) % acked] : 1;
			rc = do_history(r, wi, 1 + (unsigned)(tu_rand(&x) % 100), before);
		} else if (op == 2) {
			rc = do_search(r, wi);
		} else {
			rc = do_stats(r);
		}
		if (rc)
			break;
		r->ops[op]++;
	}
	return NULL;
}

static int setup(void **state) { return tu_fixture_setup(state, "proj-readers", NULL); }
static int teardown(void **state) { return tu_fixture_teardown(state); }

static void test_readers_while_writing(void **state)
{
	cj_store *s = ((tu_fixture *)*state)->s;
	unsigned long secs = tu_env_ulong("CJ_READERS_SECONDS", 3);

	writer w[NWRITERS];
	reader *rd = calloc(NREADERS, sizeof *rd);
	assert_non_null(rd);
	pthread_t wt[NWRITERS], rt[NREADERS];
	atomic_store(&g_stop, 0);
	for (int i = 0; i < NWRITERS; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].s = s;
		w[i].index = i;
		w[i].seqs = calloc(MAX_PER_WRITER, sizeof *w[i].seqs);
		assert_non_null(w[i].seqs);
		atomic_init(&w[i].acked, 0);
		assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &w[i]), 0);
	}
	for (int i = 0; i < NREADERS; i++) {
		rd[i].s = s;
		rd[i].index = i;
		rd[i].w = w;
		rd[i].stop = &g_stop;
		assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &rd[i]), 0);
	}
	uint64_t end = tu_now_ns() + (uint64_t)secs * 1000000000u;
	while (tu_now_ns() < end) {
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	atomic_store(&g_stop, 1);
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(wt[i], NULL);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(rt[i], NULL);

	unsigned long ops[4] = { 0 };
	for (int i = 0; i < NREADERS; i++) {
		if (rd[i].error)
			fail_msg("reader %d: %s", i, rd[i].msg);
		for (int k = 0; k < 4; k++)
			ops[k] += rd[i].ops[k];
	}
	for (int i = 0; i < NWRITERS; i++)
		if (w[i].error)
			fail_msg("writer %d: %s", i, w[i].msg);
	printf("%lus: writers acknowledged %zu + %zu; readers ran %lu history, %lu paged history,"
	       " %lu search, %lu stats\n", secs, atomic_load(&w[0].acked), atomic_load(&w[1].acked),
	       ops[0], ops[1], ops[2], ops[3]);
	for (int i = 0; i < NWRITERS; i++)
		assert_true(atomic_load(&w[i].acked) >= 20);
	for (int k = 0; k < 4; k++)
		assert_true(ops[k] >= 20);

	/* Finally everything acknowledged is there, in order, exactly once. */
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	TU_OK(cj_wait_applied(s, last, WAIT_MS));
	for (int i = 0; i < NWRITERS; i++) {
		char tn[16];
		snprintf(tn, sizeof tn, "W%d", i);
		size_t n = atomic_load(&w[i].acked), got = 0;
		/* The first message alone (after = 0 would mean "no bound"), then
		 * forward pages after it. */
		cj_history_query q = CJ_HISTORY_QUERY_INIT;
		q.thread = tn;
		q.limit = 1;
		q.before = w[i].seqs[0] + 1;
		char *json = NULL;
		TU_OK(cj_query_history(&json, s, &q));
		char want[32];
		snprintf(want, sizeof want, "%llu", (unsigned long long)w[i].seqs[0]);
		PU_SEQS(json, want);
		cj_free(json);
		got = 1;
		uint64_t after = w[i].seqs[0];
		for (;;) {
			cj_history_query fq = CJ_HISTORY_QUERY_INIT;
			fq.thread = tn;
			fq.limit = 1000;
			fq.after = after;
			TU_OK(cj_query_history(&json, s, &fq));
			json_t *a = json_loads(json, 0, NULL);
			cj_free(json);
			assert_true(json_is_array(a));
			size_t m = json_array_size(a);
			for (size_t k = 0; k < m; k++) {
				json_int_t seq = json_integer_value(json_object_get(json_array_get(a, k), "seq"));
				if (got >= n || (uint64_t)seq != w[i].seqs[got])
					fail_msg("%s: message %zu has seq %lld, acknowledged %llu", tn, got, (long long)seq,
					         got < n ? (unsigned long long)w[i].seqs[got] : 0ULL);
				got++;
				after = (uint64_t)seq;
			}
			json_decref(a);
			if (m < 1000)
				break;
		}
		assert_int_equal(got, n);
		free(w[i].seqs);
	}
	free(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_readers_while_writing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
