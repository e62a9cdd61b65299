/* tests/component/test_concurrency.c — many threads appending at once through
 * every path (append, append_batch, submit/wait): sequence numbers are unique
 * and gap-free 1..N, and every acknowledged event reads back with the content
 * its thread wrote. Env: CJ_CONC_THREADS (default 16), CJ_CONC_EVENTS (per
 * thread, default 2000). And the lone synchronous writer's shortcut: it
 * commits on its own thread, many writers still share group commits, and a
 * stop waits for a commit under way on a caller's thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "testutil.h"
#include "journal/journal_internal.h"

#define MAX_CHUNK 40

typedef struct worker {
	cj_store *s;
	unsigned index;
	unsigned n_events;
	uint64_t *seqs;        /* seqs[i]: acknowledged seq of event i, 0 if none */
	int first_error;       /* 0 or the first failing code */
	char error_msg[256];
	unsigned error_at;
} worker;

static void content_of(char *out, size_t n, unsigned thread, unsigned i)
{
	/* Varying length, unique per (thread, i). */
	int w = snprintf(out, n, "thread %u event %u ", thread, i);
	size_t len = (size_t)w + (size_t)((thread * 131u + i * 17u) % 300u);
	if (len >= n)
		len = n - 1;
	for (size_t k = (size_t)w; k < len; k++)
		out[k] = (char)('A' + (k + thread + i) % 26);
	out[len] = '\0';
}

static void id_of(char *out, size_t n, unsigned thread, unsigned i)
{
	snprintf(out, n, "conc-%u-%u", thread, i);
}

static cj_event *event_of(unsigned thread, unsigned i)
{
	char content[512], id[64], th[32];
	content_of(content, sizeof content, thread, i);
	id_of(id, sizeof id, thread, i);
	snprintf(th, sizeof th, "T%u", thread % 5);
	return tu_message(th, content, id, 0);
}

static void record_error(worker *w, int rc, unsigned at)
{
	if (w->first_error)
		return;
	w->first_error = rc ? rc : CJ_EINVAL;
	w->error_at = at;
	snprintf(w->error_msg, sizeof w->error_msg, "%s", cj_error_last());
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	uint64_t rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)w->index << 32 | 1u);
	unsigned mode = w->index % 3;
	unsigned i = 0;
	while (i < w->n_events && !w->first_error) {
		unsigned chunk = 1 + (unsigned)(tu_rand(&rng) % MAX_CHUNK);
		if (mode == 0)
			chunk = 1;
		if (chunk > w->n_events - i)
			chunk = w->n_events - i;
		cj_event *evs[MAX_CHUNK];
		for (unsigned k = 0; k < chunk; k++) {
			evs[k] = event_of(w->index, i + k);
			if (!evs[k]) {
				record_error(w, cj_error_last()[0] ? CJ_EINVAL : CJ_ENOMEM, i + k);
				for (unsigned j = 0; j < k; j++)
					cj_event_free(evs[j]);
				return NULL;
			}
		}
		int rc;
		if (mode == 0) {
			rc = cj_journal_append(&w->seqs[i], w->s, evs[0]);
		} else if (mode == 1) {
			rc = cj_journal_append_batch(&w->seqs[i], w->s, (const cj_event *const *)evs, chunk);
		} else {
			/* Two tickets in flight at once: split the chunk. */
			unsigned half = chunk / 2;
			cj_ticket *t1 = NULL, *t2 = NULL;
			rc = 0;
			if (half > 0)
				rc = cj_journal_submit(&t1, w->s, (const cj_event *const *)evs, half);
			if (rc == 0)
				rc = cj_journal_submit(&t2, w->s, (const cj_event *const *)evs + half,
				                       chunk - half);
			if (rc == 0 && t1)
				rc = cj_ticket_wait(&w->seqs[i], t1);
			if (rc == 0)
				rc = cj_ticket_wait(&w->seqs[i + half], t2);
			cj_ticket_free(t1);
			cj_ticket_free(t2);
		}
		for (unsigned k = 0; k < chunk; k++)
			cj_event_free(evs[k]);
		if (rc != 0) {
			record_error(w, rc, i);
			break;
		}
		i += chunk;
	}
	return NULL;
}


/* ---- the lone synchronous writer (journal/append.c, commit_or_enqueue) ---- */

typedef struct commit_seen {
	pthread_mutex_t mu;
	pthread_t caller;
	unsigned calls, on_caller;
} commit_seen;

static void seen_commit(void *arg)
{
	commit_seen *c = arg;
	pthread_mutex_lock(&c->mu);
	c->calls++;
	if (pthread_equal(pthread_self(), c->caller))
		c->on_caller++;
	pthread_mutex_unlock(&c->mu);
}

static unsigned seen(commit_seen *c, unsigned *on_caller)
{
	pthread_mutex_lock(&c->mu);
	unsigned n = c->calls;
	*on_caller = c->on_caller;
	pthread_mutex_unlock(&c->mu);
	return n;
}

static int append_one(cji_journal *j, uint64_t *seq, unsigned thread, unsigned i)
{
	cj_event *ev = event_of(thread, i);
	if (!ev)
		return CJ_ENOMEM;
	int rc = cji_journal_append_batch(seq, j, (const cj_event *const *)&ev, 1);
	cj_event_free(ev);
	return rc;
}

typedef struct sync_worker {
	cji_journal *j;
	unsigned index, n;
	uint64_t *seqs;
	int rc;              /* the first error; CJ_ECLOSED ends a stop test's loop */
	unsigned done;       /* appends acknowledged */
} sync_worker;

static void *sync_main(void *arg)
{
	sync_worker *w = arg;
	for (unsigned i = 0; i < w->n; i++) {
		if ((w->rc = append_one(w->j, &w->seqs[i], w->index, i)))
			return NULL;
		w->done = i + 1;
	}
	return NULL;
}

static void check_readable(cji_journal *j, const sync_worker *ws, unsigned nw)
{
	for (unsigned t = 0; t < nw; t++)
		for (unsigned i = 0; i < ws[t].done; i++) {
			cj_event *ev = NULL;
			TU_OK(cji_journal_get(&ev, NULL, j, ws[t].seqs[i]));
			char content[512];
			content_of(content, sizeof content, ws[t].index, i);
			assert_string_equal(cj_event_get_string(ev, "content"), content);
			cj_event_free(ev);
		}
}

static void test_lone_writer(void **state)
{
	const char *dir = ((tu_fixture *)*state)->dir;
	char jdir[600];
	tu_path(jdir, sizeof jdir, dir, "lone");
	static commit_seen c; /* the journal's callback may outlive a failed test */
	c = (commit_seen){ .caller = pthread_self() };
	pthread_mutex_init(&c.mu, NULL);
	cji_journal_config cfg = { .limits = CJ_LIMITS_DEFAULT };
	cfg.on_commit = seen_commit;
	cfg.on_commit_arg = &c;
	/* static: a failed assertion leaves the writer thread running on it */
	static cji_journal j;
	assert_int_equal(mkdir(jdir, 0700), 0);
	TU_OK(cji_journal_open(&j, jdir, &cfg, 1));

	/* One writer alone: every commit runs on its thread, one event each. */
	for (unsigned i = 0; i < 50; i++) {
		uint64_t seq = 0;
		TU_OK(append_one(&j, &seq, 0, i));
		assert_int_equal(seq, i + 1);
	}
	unsigned on_caller, calls = seen(&c, &on_caller);
	assert_int_equal(calls, 50);
	assert_int_equal(on_caller, 50);

	/* A submitted ticket still goes to the writer thread. */
	cj_event *ev = event_of(0, 50);
	cj_ticket *t = NULL;
	TU_OK(cji_journal_submit(&t, &j, (const cj_event *const *)&ev, 1));
	uint64_t seq = 0;
	TU_OK(cji_ticket_wait(&seq, t));
	cji_ticket_free(t);
	cj_event_free(ev);
	assert_int_equal(seq, 51);
	calls = seen(&c, &on_caller);
	assert_int_equal(calls, 51);
	assert_int_equal(on_caller, 50);

	/* Eight synchronous writers: gap-free, every event readable, and they
	 * share commits (fewer commits than events). */
	enum { NW = 8, PER = 300 };
	sync_worker ws[NW];
	pthread_t tids[NW];
	uint64_t commits0 = atomic_load(&j.commits);
	for (unsigned k = 0; k < NW; k++) {
		ws[k] = (sync_worker){ &j, k + 1, PER, calloc(PER, sizeof(uint64_t)), 0, 0 };
		assert_non_null(ws[k].seqs);
		assert_int_equal(pthread_create(&tids[k], NULL, sync_main, &ws[k]), 0);
	}
	for (unsigned k = 0; k < NW; k++)
		pthread_join(tids[k], NULL);
	unsigned char *hit = calloc(NW * PER + 52, 1);
	assert_non_null(hit);
	for (unsigned k = 0; k < NW; k++) {
		assert_int_equal(ws[k].rc, 0);
		for (unsigned i = 0; i < PER; i++) {
			uint64_t s = ws[k].seqs[i];
			assert_true(s >= 52 && s < 52 + NW * PER);
			assert_int_equal(hit[s], 0);
			hit[s] = 1;
			if (i)
				assert_true(s > ws[k].seqs[i - 1]);
		}
	}
	free(hit);
	check_readable(&j, ws, NW);
	uint64_t commits = atomic_load(&j.commits) - commits0;
	print_message("lone writer: 8 x %d synchronous appends in %llu commits\n", PER,
	              (unsigned long long)commits);
	assert_true(commits < NW * PER);
	for (unsigned k = 0; k < NW; k++)
		free(ws[k].seqs);
	cji_journal_close(&j);
	pthread_mutex_destroy(&c.mu);
}

/* A stop while lone writers commit on their own threads: the stop waits for
 * the commit under way; every acknowledged event is there; later appends are
 * refused with CJ_ECLOSED, nothing stored. Rounds: CJ_CONC_STOP_ROUNDS. */
static void test_stop_during_lone_commit(void **state)
{
	const char *dir = ((tu_fixture *)*state)->dir;
	unsigned rounds = (unsigned)tu_env_ulong("CJ_CONC_STOP_ROUNDS", 10);
	for (unsigned r = 0; r < rounds; r++) {
		char jdir[600], name[32];
		snprintf(name, sizeof name, "stop-%u", r);
		tu_path(jdir, sizeof jdir, dir, name);
		cji_journal_config cfg = { .limits = CJ_LIMITS_DEFAULT };
		static cji_journal j; /* as in test_lone_writer */
		assert_int_equal(mkdir(jdir, 0700), 0);
		TU_OK(cji_journal_open(&j, jdir, &cfg, 1));
		enum { PER = 100000 };
		sync_worker w = { &j, 1, PER, calloc(PER, sizeof(uint64_t)), 0, 0 };
		assert_non_null(w.seqs);
		pthread_t tid;
		assert_int_equal(pthread_create(&tid, NULL, sync_main, &w), 0);
		struct timespec d = { 0, (long)(1 + r % 7) * 3000000L };
		nanosleep(&d, NULL);
		cji_journal_stop(&j);
		pthread_join(tid, NULL);
		assert_int_equal(w.rc, CJ_ECLOSED);
		uint64_t last = 0;
		TU_OK(cji_journal_last_seq(&last, &j));
		assert_int_equal(last, w.done);
		check_readable(&j, &w, 1);
		free(w.seqs);
		cji_journal_close(&j);
	}
}

static int setup(void **state) { return tu_fixture_setup(state, "conc", NULL); }
static int setup_dir(void **state)
{
	return tu_fixture_setup_ex(state, sizeof(tu_fixture), "conc", NULL, TU_FIXTURE_NO_STORE);
}
static int teardown(void **state) { return tu_fixture_teardown(state); }

static void test_concurrent_appends(void **state)
{
	cj_store *s = ((tu_fixture *)*state)->s;
	unsigned n_threads = (unsigned)tu_env_ulong("CJ_CONC_THREADS", 16);
	unsigned n_events = (unsigned)tu_env_ulong("CJ_CONC_EVENTS", 2000);
	assert_true(n_threads >= 1 && n_events >= 1);

	worker *ws = calloc(n_threads, sizeof *ws);
	pthread_t *tids = calloc(n_threads, sizeof *tids);
	assert_non_null(ws);
	assert_non_null(tids);
	uint64_t t0 = tu_now_ns();
	for (unsigned t = 0; t < n_threads; t++) {
		ws[t].s = s;
		ws[t].index = t;
		ws[t].n_events = n_events;
		ws[t].seqs = calloc(n_events, sizeof(uint64_t));
		assert_non_null(ws[t].seqs);
		assert_int_equal(pthread_create(&tids[t], NULL, worker_main, &ws[t]), 0);
	}
	for (unsigned t = 0; t < n_threads; t++)
		pthread_join(tids[t], NULL);
	double secs = (double)(tu_now_ns() - t0) / 1e9;
	for (unsigned t = 0; t < n_threads; t++) {
		if (ws[t].first_error)
			fail_msg("thread %u: event %u failed with %d (%s): %s", t, ws[t].error_at,
			         ws[t].first_error, cj_strerror(ws[t].first_error), ws[t].error_msg);
	}

	/* Every sequence number unique and the set exactly 1..N. */
	uint64_t total = (uint64_t)n_threads * n_events;
	uint32_t *owner_thread = calloc(total + 1, sizeof *owner_thread);
	uint32_t *owner_index = calloc(total + 1, sizeof *owner_index);
	assert_non_null(owner_thread);
	assert_non_null(owner_index);
	for (unsigned t = 0; t < n_threads; t++) {
		for (unsigned i = 0; i < n_events; i++) {
			uint64_t seq = ws[t].seqs[i];
			if (seq < 1 || seq > total)
				fail_msg("thread %u event %u got seq %llu outside 1..%llu", t, i,
				         (unsigned long long)seq, (unsigned long long)total);
			if (owner_thread[seq])
				fail_msg("seq %llu returned twice (thread %u event %u and thread %u event %u)",
				         (unsigned long long)seq, owner_thread[seq] - 1, owner_index[seq],
				         t, i);
			owner_thread[seq] = t + 1;
			owner_index[seq] = i;
		}
	}
	/* Within one thread, later appends got later numbers. */
	for (unsigned t = 0; t < n_threads; t++)
		for (unsigned i = 1; i < n_events; i++)
			if (ws[t].seqs[i] <= ws[t].seqs[i - 1])
				fail_msg("thread %u: event %u seq %llu not after event %u seq %llu", t, i,
				         (unsigned long long)ws[t].seqs[i], i - 1,
				         (unsigned long long)ws[t].seqs[i - 1]);

	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, total);

	/* Read back with the iterator: each record carries its owner's content. */
	tu_recs r;
	assert_int_equal(tu_read_all(s, 1, &r), 0);
	assert_int_equal(r.corrupt, 0);
	assert_int_equal(r.n, total);
	for (size_t k = 0; k < r.n; k++) {
		uint64_t seq = r.v[k].seq;
		assert_int_equal(seq, k + 1);
		char content[512], id[64];
		content_of(content, sizeof content, owner_thread[seq] - 1, owner_index[seq]);
		id_of(id, sizeof id, owner_thread[seq] - 1, owner_index[seq]);
		assert_non_null(r.v[k].content);
		assert_string_equal(r.v[k].content, content);
		assert_string_equal(r.v[k].id, id);
	}
	tu_recs_free(&r);

	/* And a sample through cj_journal_get. */
	for (uint64_t seq = 1; seq <= total; seq += 97) {
		cj_event *ev = NULL;
		TU_OK(cj_journal_get(&ev, NULL, s, seq));
		char content[512];
		content_of(content, sizeof content, owner_thread[seq] - 1, owner_index[seq]);
		assert_string_equal(cj_event_get_string(ev, "content"), content);
		cj_event_free(ev);
	}

	cj_journal_stats st;
	TU_OK(cj_journal_stats_get(&st, s));
	assert_int_equal(st.events, total);
	assert_int_equal(st.last_seq, total);
	assert_int_equal(st.committed, total);
	assert_int_equal(st.idempotency_keys, total);
	assert_true(st.commits >= 1 && st.commits <= total);
	uint64_t checked = 0, bad = 1;
	TU_OK(cj_journal_check(&checked, &bad, s));
	assert_int_equal(checked, total);
	assert_int_equal(bad, 0);
	/* The page walk and the idempotency entries: no damage in a sound
	 * journal (the checks verify relies on never cry wolf). */
	uint64_t pages = 0, bad_page = 1, ids = 0, bad_ids = 1;
	TU_OK(cj_journal_check_pages(&pages, &bad_page, s));
	assert_int_equal(bad_page, 0);
	TU_OK(cj_journal_check_ids(&ids, &bad_ids, s));
	assert_int_equal(bad_ids, 0);
	assert_int_equal(ids, total);
	print_message("concurrency: %u threads x %u events in %.2f s (%.0f events/s, %llu commits)\n",
	              n_threads, n_events, secs, (double)total / secs,
	              (unsigned long long)st.commits);

	for (unsigned t = 0; t < n_threads; t++)
		free(ws[t].seqs);
	free(ws);
	free(tids);
	free(owner_thread);
	free(owner_index);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lone_writer, setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_stop_during_lone_commit, setup_dir, teardown),
	};
	return cmocka_run_group_tests_name("component/concurrency", tests, NULL, NULL);
}
