/* tests/compact/test_two_process.c — two processes appending through
 * compactions (docs/reliability.md, P8: the swap loses no acknowledged
 * append of any process).
 *
 * A forked child opens the store on its own and appends CHILD_EVENTS
 * messages one by one (ids "c-<i>"), writing "A <seq> <i>" to a pipe after
 * each acknowledgement, and reads the journal back now and then; at the end
 * it reports how many swaps it followed ("S <n>"). Meanwhile the parent
 * process appends from a thread of its own (ids "p-<i>", deleting its older
 * threads as it goes, so each compaction has records to redact) and
 * compacts again and again from another (the child opened first: it
 * materializes, and scrubs the projection after each swap; the parent's
 * compactions leave the scrub to it). Afterwards: every event either
 * process acknowledged is in the journal at its sequence number with its id
 * and content, the journal is gap-free and checks, the child followed at
 * least one swap, and the projection equals a replay.
 * Negative control (argument "negative"): the child never checks for a swap
 * (cji_env_test_disable_swap_check); then some of its acknowledged appends
 * must be missing, which shows that the check is what keeps them.
 * Env: CJ_COMPACT_CHILD_EVENTS (default 1500). */
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
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "testutil.h"
#include "api/store_internal.h"

#define MAX_ACKS 200000

typedef struct ack { uint64_t seq; char id[32]; } ack;

typedef struct world {
	char store[PATH_MAX];
	unsigned child_events;
	int negative;
	/* parent side */
	cj_store *s;
	atomic_int stop;
	atomic_uint compactions, compactions_during_child;
	atomic_int child_running;
	int compact_rc;
	char compact_err[512];
	ack *acks;
	size_t nacks;
	pthread_mutex_t mu;
	unsigned child_swaps;
	int child_said_end;
} world;

static void content_of(char *out, size_t n, const char *id)
{
	snprintf(out, n, "content of %s, which must survive every compaction", id);
}

static void child_body(void *arg, int fd)
{
	world *w = arg;
	cj_store *s;
	if (w->negative)
		cji_env_test_disable_swap_check(1);
	if (cj_store_open(&s, w->store, NULL) != 0)
		_exit(3);
	for (unsigned i = 0; i < w->child_events; i++) {
		char id[32], content[128];
		snprintf(id, sizeof id, "c-%u", i);
		content_of(content, sizeof content, id);
		cj_event *ev = tu_message("CT", content, id, 0);
		uint64_t seq = 0;
		if (!ev || cj_journal_append(&seq, s, ev) != 0)
			_exit(4);
		cj_event_free(ev);
		ch_sayf(fd, "A %llu %s\n", (unsigned long long)seq, id);
		if (i % 100 == 99 && !w->negative) {
			/* Readers follow the swap too. */
			uint64_t last = 0;
			if (cj_journal_last_seq(&last, s) != 0 || last < seq)
				_exit(6);
		}
	}
	ch_sayf(fd, "S %llu\n", (unsigned long long)atomic_load(&s->journal.env.swaps));
	cj_store_close(s);
	ch_sayf(fd, "E\n");
	_exit(0);
}

static void on_line(void *ctx, const char *line)
{
	world *w = ctx;
	unsigned long long v;
	char id[32];
	if (sscanf(line, "A %llu %31s", &v, id) == 2) {
		pthread_mutex_lock(&w->mu);
		if (w->nacks < MAX_ACKS) {
			w->acks[w->nacks].seq = v;
			snprintf(w->acks[w->nacks].id, sizeof w->acks[w->nacks].id, "%s", id);
			w->nacks++;
		}
		pthread_mutex_unlock(&w->mu);
	} else if (sscanf(line, "S %llu", &v) == 1) {
		w->child_swaps = (unsigned)v;
	} else if (!strcmp(line, "E")) {
		w->child_said_end = 1;
	}
}

static void *parent_appender(void *arg)
{
	world *w = arg;
	for (unsigned i = 0; !atomic_load(&w->stop); i++) {
		char id[32], content[128], thread[32];
		snprintf(id, sizeof id, "p-%u", i);
		snprintf(thread, sizeof thread, "PT%u", i / 20);
		content_of(content, sizeof content, id);
		cj_event *ev = tu_message(thread, content, id, 0);
		uint64_t seq = 0;
		if (!ev || cj_journal_append(&seq, w->s, ev) != 0) {
			cj_event_free(ev);
			break;
		}
		cj_event_free(ev);
		pthread_mutex_lock(&w->mu);
		if (w->nacks < MAX_ACKS) {
			w->acks[w->nacks].seq = seq;
			snprintf(w->acks[w->nacks].id, sizeof w->acks[w->nacks].id, "%s", id);
			w->nacks++;
		}
		pthread_mutex_unlock(&w->mu);
		if (i % 20 == 19 && i >= 40) {
			/* Delete a thread two back: the next compaction redacts it. */
			char json[128];
			snprintf(json, sizeof json, "{\"type\":\"delete_thread\",\"thread\":\"PT%u\"}", i / 20 - 1);
			cj_event *d;
			if (cj_event_parse(&d, json, strlen(json)) == 0) {
				cj_journal_append(NULL, w->s, d);
				cj_event_free(d);
			}
		}
	}
	return NULL;
}

static void *compactor(void *arg)
{
	world *w = arg;
	while (!atomic_load(&w->stop)) {
		cj_compact_report r;
		cj_compact_options o = CJ_COMPACT_OPTIONS_INIT;
		o.wait_ms = 2000;
		int rc = cj_compact(&r, w->s, &o);
		if (rc) {
			w->compact_rc = rc;
			snprintf(w->compact_err, sizeof w->compact_err, "%s", cj_error_last());
			break;
		}
		atomic_fetch_add(&w->compactions, 1);
		if (atomic_load(&w->child_running))
			atomic_fetch_add(&w->compactions_during_child, 1);
		struct timespec ts = { 0, 30000000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int cmp_seq(const void *a, const void *b)
{
	const ack *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int negative_mode;

static void test_two_processes(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	assert_int_equal(tu_mktempdir(dir, sizeof dir, "compact-2p"), 0);
	world *w = calloc(1, sizeof *w);
	w->acks = calloc(MAX_ACKS, sizeof *w->acks);
	pthread_mutex_init(&w->mu, NULL);
	w->child_events = (unsigned)tu_env_ulong("CJ_COMPACT_CHILD_EVENTS", 1500);
	w->negative = negative_mode;
	tu_path(w->store, sizeof w->store, dir, "store");
	TU_OK(tu_store_create(&w->s, w->store, NULL));
	/* Fork with no thread running (ThreadSanitizer cannot follow a fork of
	 * a threaded process): close, spawn, reopen. The child, opening first,
	 * materializes; this process scrubs nothing itself (its compactions
	 * leave the scrub to the child), which covers that path too. */
	cj_store_close(w->s);

	atomic_store(&w->child_running, 1);
	ch_child c;
	assert_int_equal(ch_spawn(&c, child_body, w), 0);
	TU_OK(cj_store_open(&w->s, w->store, NULL));
	pthread_t ta, tc;
	pthread_create(&ta, NULL, parent_appender, w);
	pthread_create(&tc, NULL, compactor, w);
	int got = ch_pump(&c, tu_now_ns() + 240ull * 1000000000ull, on_line, NULL, w);
	(void)got;
	atomic_store(&w->child_running, 0);
	int status = 0;
	ch_kill(&c, &status, on_line, w);
	atomic_store(&w->stop, 1);
	pthread_join(ta, NULL);
	pthread_join(tc, NULL);
	if (w->compact_rc)
		fail_msg("cj_compact failed: %d %s", w->compact_rc, w->compact_err);
	if (!w->child_said_end)
		fail_msg("the child did not finish (exit status 0x%x)", status);
	printf("compactions %u (%u while the child appended); child followed %u swaps; %zu acks\n",
	       atomic_load(&w->compactions), atomic_load(&w->compactions_during_child),
	       w->child_swaps, w->nacks);
	assert_true(atomic_load(&w->compactions_during_child) >= 3);
	assert_true(w->negative || w->child_swaps >= 1);

	/* Every acknowledged event, at its sequence number, with its content. */
	tu_recs recs = { 0 };
	TU_OK(tu_read_all(w->s, 1, &recs));
	assert_int_equal(recs.corrupt, 0);
	for (size_t i = 0; i < recs.n; i++)
		if (recs.v[i].seq != i + 1)
			fail_msg("gap: record %zu has sequence %llu", i, (unsigned long long)recs.v[i].seq);
	qsort(w->acks, w->nacks, sizeof *w->acks, cmp_seq);
	if (w->negative) {
		size_t lost = 0;
		for (size_t i = 0; i < w->nacks; i++) {
			const ack *a = &w->acks[i];
			lost += a->id[0] == 'c' && (a->seq > recs.n || !recs.v[a->seq - 1].id ||
			                            strcmp(recs.v[a->seq - 1].id, a->id) != 0);
		}
		printf("negative control: %zu acknowledged appends of the child lost\n", lost);
		assert_true(lost > 0);
		tu_recs_free(&recs);
		cj_store_close(w->s);
		pthread_mutex_destroy(&w->mu);
		free(w->acks);
		free(w);
		tu_rmrf(dir);
		return;
	}
	size_t child_acks = 0;
	for (size_t i = 0; i < w->nacks; i++) {
		const ack *a = &w->acks[i];
		if (a->seq == 0 || a->seq > recs.n)
			fail_msg("acknowledged %s at %llu is missing (journal ends at %zu)", a->id,
			         (unsigned long long)a->seq, recs.n);
		const tu_rec *r = &recs.v[a->seq - 1];
		if (!r->id || strcmp(r->id, a->id) != 0)
			fail_msg("sequence %llu holds %s, acknowledged as %s", (unsigned long long)a->seq,
			         r->id ? r->id : "(no id)", a->id);
		child_acks += a->id[0] == 'c';
		/* The child's events are never deleted: their content is intact. */
		char want[128];
		content_of(want, sizeof want, a->id);
		if (a->id[0] == 'c' && (!r->content || strcmp(r->content, want) != 0))
			fail_msg("sequence %llu (%s) lost its content", (unsigned long long)a->seq, a->id);
	}
	assert_int_equal(child_acks, w->child_events);
	uint64_t checked = 0, bad = 0;
	TU_OK(cj_journal_check(&checked, &bad, w->s));
	assert_int_equal(checked, recs.n);
	tu_recs_free(&recs);

	/* The projection equals a replay of the compacted journal. */
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, w->s));
	TU_OK(cj_wait_applied(w->s, last, 30000));
	char live[PATH_MAX], out[PATH_MAX], h1[33], h2[33];
	tu_path(live, sizeof live, w->store, "chat.sqlite");
	tu_path(out, sizeof out, dir, "replay.sqlite");
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.out_path = out;
	ro.up_to = last;
	TU_OK(cj_projection_replay(w->s, &ro));
	TU_OK(cj_projection_hash(h1, NULL, live));
	TU_OK(cj_projection_hash(h2, NULL, out));
	assert_string_equal(h1, h2);

	cj_store_close(w->s);
	pthread_mutex_destroy(&w->mu);
	free(w->acks);
	free(w);
	tu_rmrf(dir);
}

int main(int argc, char **argv)
{
	negative_mode = argc > 1 && !strcmp(argv[1], "negative");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_processes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
