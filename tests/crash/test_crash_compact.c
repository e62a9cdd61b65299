/* tests/crash/test_crash_compact.c — kill -9 during compaction, again and
 * again (docs/reliability.md, P8). The kill comes a random time after the
 * compaction began, up to 1.3 times as long as compactions took in earlier
 * cycles (so most kills land inside one, whatever the machine's speed).
 *
 * Each cycle forks a child that opens the store, appends messages carrying
 * canary strings into a thread of its own and deletes that thread (and
 * keeps some messages elsewhere), waits until the projection applied them,
 * says "C", runs cj_compact, says "D", then goes on appending until it is
 * killed. Every acknowledgement is written to the pipe ("A seq id"). The
 * parent kills it a random 0-60 ms after "C" (so kills land in the scan, the
 * redaction commits, the copy, the swap, the scrub, or just after), then
 * opens the store and checks that it is either before or after:
 *   - the journal is gap-free and every record checks; every acknowledged
 *     event is at its sequence number with its id (nothing acknowledged is
 *     lost, whether it was appended before or after the swap);
 *   - the projection, once caught up, equals a replay of the journal (the
 *     state hash), and passes cj_projection_check.
 * At the end one more compaction runs to completion, and no canary of any
 * deleted message is in any file of the store, while the kept ones are.
 * Env: CJ_CRASH_COMPACT_CYCLES (default 100), CJ_CRASH_SEED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "testutil.h"
#include "scan.h"

#define GONE_PER_CYCLE 20
#define KEPT_PER_CYCLE 5
#define MAX_ACKS 100000

typedef struct ack { uint64_t seq; char id[40]; } ack;

typedef struct cycle_ctx {
	const char *store;
	unsigned cycle;
	/* parent side */
	ack *acks;
	size_t nacks;
	int said_c, said_d;
	uint64_t t_c, t_d;      /* when "C" and "D" arrived */
} cycle_ctx;

static void say_ack(int fd, uint64_t seq, const char *id)
{
	ch_sayf(fd, "A %llu %s\n", (unsigned long long)seq, id);
}

static uint64_t append_one(cj_store *s, int fd, const char *thread, const char *content,
                           const char *id)
{
	cj_event *ev = tu_message(thread, content, id, 0);
	uint64_t seq = 0;
	if (!ev || cj_journal_append(&seq, s, ev) != 0)
		_exit(4);
	cj_event_free(ev);
	say_ack(fd, seq, id);
	return seq;
}

static void child_body(void *arg, int fd)
{
	cycle_ctx *c = arg;
	cj_store *s;
	if (cj_store_open(&s, c->store, NULL) != 0)
		_exit(3);
	char thread[32], id[40], content[128];
	snprintf(thread, sizeof thread, "X%u", c->cycle);
	for (unsigned i = 0; i < GONE_PER_CYCLE; i++) {
		snprintf(id, sizeof id, "g-%u-%u", c->cycle, i);
		snprintf(content, sizeof content, "gone_canary_%u_%u deleted words", c->cycle, i);
		append_one(s, fd, thread, content, id);
	}
	for (unsigned i = 0; i < KEPT_PER_CYCLE; i++) {
		snprintf(id, sizeof id, "k-%u-%u", c->cycle, i);
		snprintf(content, sizeof content, "keep_canary_%u_%u stays", c->cycle, i);
		append_one(s, fd, "KEEP", content, id);
	}
	char json[128];
	snprintf(json, sizeof json, "{\"type\":\"delete_thread\",\"thread\":\"%s\"}", thread);
	cj_event *d;
	uint64_t last = 0;
	if (cj_event_parse(&d, json, strlen(json)) != 0 || cj_journal_append(&last, s, d) != 0)
		_exit(4);
	cj_event_free(d);
	if (cj_wait_applied(s, last, 30000) != 0)
		_exit(7);
	ch_sayf(fd, "C\n");
	cj_compact_report r;
	if (cj_compact(&r, s, NULL) != 0)
		_exit(8);
	ch_sayf(fd, "D\n");
	for (unsigned i = 0;; i++) {
		snprintf(id, sizeof id, "a-%u-%u", c->cycle, i);
		append_one(s, fd, "AFTER", "appended after the compaction", id);
	}
}

static void on_line(void *ctx, const char *line)
{
	cycle_ctx *c = ctx;
	unsigned long long seq;
	char id[40];
	if (sscanf(line, "A %llu %39s", &seq, id) == 2) {
		if (c->nacks < MAX_ACKS) {
			c->acks[c->nacks].seq = seq;
			snprintf(c->acks[c->nacks].id, sizeof c->acks[c->nacks].id, "%s", id);
			c->nacks++;
		}
	} else if (!strcmp(line, "C")) {
		c->said_c = 1;
		c->t_c = tu_now_ns();
	} else if (!strcmp(line, "D")) {
		c->said_d = 1;
		c->t_d = tu_now_ns();
	}
}

static int want_c(void *ctx) { return ((cycle_ctx *)ctx)->said_c; }

/* The store after a kill: before or after, nothing acknowledged lost. */
static void check_store(const char *store, const char *dir, const cycle_ctx *c, unsigned cycle)
{
	cj_store *s;
	TU_OK(cj_store_open(&s, store, NULL));
	tu_recs recs = { 0 };
	TU_OK(tu_read_all(s, 1, &recs));
	if (recs.corrupt)
		fail_msg("cycle %u: %zu damaged records (%s)", cycle, recs.corrupt, recs.corrupt_msg);
	for (size_t i = 0; i < recs.n; i++)
		if (recs.v[i].seq != i + 1)
			fail_msg("cycle %u: gap at record %zu (sequence %llu)", cycle, i,
			         (unsigned long long)recs.v[i].seq);
	for (size_t i = 0; i < c->nacks; i++) {
		const ack *a = &c->acks[i];
		if (a->seq > recs.n || !recs.v[a->seq - 1].id || strcmp(recs.v[a->seq - 1].id, a->id))
			fail_msg("cycle %u: acknowledged %s at %llu is lost", cycle, a->id,
			         (unsigned long long)a->seq);
	}
	uint64_t checked = 0, bad = 0;
	TU_OK(cj_journal_check(&checked, &bad, s));
	uint64_t last = recs.n;
	tu_recs_free(&recs);
	TU_OK(cj_wait_applied(s, last, 30000));
	char live[PATH_MAX], out[PATH_MAX], h1[33], h2[33];
	tu_path(live, sizeof live, store, "chat.sqlite");
	tu_path(out, sizeof out, dir, "replay.sqlite");
	unlink(out);
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.out_path = out;
	ro.up_to = last;
	TU_OK(cj_projection_replay(s, &ro));
	cj_store_close(s); /* the materializer stops: its file holds still */
	TU_OK(cj_projection_hash(h1, NULL, live));
	TU_OK(cj_projection_hash(h2, NULL, out));
	if (strcmp(h1, h2) != 0)
		fail_msg("cycle %u: the projection differs from a replay (%s vs %s)", cycle, h1, h2);
	char *report = NULL;
	int rc = cj_projection_check(&report, live);
	if (rc)
		fail_msg("cycle %u: projection check: %s", cycle, report ? report : cj_error_last());
	cj_free(report);
	unlink(out);
}

static void test_kill_during_compact(void **state)
{
	(void)state;
	char dir[PATH_MAX], store[PATH_MAX];
	assert_int_equal(tu_mktempdir(dir, sizeof dir, "crash-compact"), 0);
	tu_path(store, sizeof store, dir, "store");
	cj_store *s;
	TU_OK(tu_store_create(&s, store, NULL));
	cj_store_close(s);
	unsigned cycles = (unsigned)tu_env_ulong("CJ_CRASH_COMPACT_CYCLES", 100);
	uint64_t seed = ch_seed(), rng = seed;
	printf("seed %llu, %u cycles\n", (unsigned long long)seed, cycles);
	ack *acks = calloc(MAX_ACKS, sizeof *acks);
	unsigned during = 0, after = 0, before = 0;
	uint64_t est_us = 20000; /* how long a compaction takes here, learnt as we go */
	for (unsigned cycle = 0; cycle < cycles; cycle++) {
		cycle_ctx c = { store, cycle, acks, 0, 0, 0, 0, 0 };
		ch_child ch;
		assert_int_equal(ch_spawn(&ch, child_body, &c), 0);
		if (!ch_pump(&ch, tu_now_ns() + 60ull * 1000000000ull, on_line, want_c, &c)) {
			ch_abandon(&ch);
			fail_msg("cycle %u: the child never reached the compaction", cycle);
		}
		uint64_t delay_us = tu_rand(&rng) % (est_us * 13 / 10 + 1);
		uint64_t until = tu_now_ns() + delay_us * 1000;
		ch_pump(&ch, until, on_line, NULL, &c);
		int status;
		int killed = ch_kill(&ch, &status, on_line, &c);
		if (killed != 1)
			fail_msg("cycle %u: the child ended on its own (status 0x%x)", cycle, status);
		if (c.said_d) {
			after++;
			est_us = (est_us * 3 + (c.t_d - c.t_c) / 1000) / 4;
		} else if (c.said_c && !c.said_d && (tu_now_ns() - c.t_c) / 1000 > est_us * 2)
			est_us = est_us * 3 / 2; /* it took longer than thought */
		if (c.said_d)
			;
		else if (c.said_c)
			during++;
		else
			before++;
		check_store(store, dir, &c, cycle);
	}
	printf("kills: %u during compaction, %u after it, %u before\n", during, after, before);
	assert_true(during >= cycles / 4);

	/* A rerun completes the redaction of every cycle's deleted messages. */
	TU_OK(cj_store_open(&s, store, NULL));
	cj_compact_report r;
	TU_OK(cj_compact(&r, s, NULL));
	cj_store_close(s);
	for (unsigned cycle = 0; cycle < cycles; cycle++) {
		char canary[64], where[PATH_MAX] = "";
		snprintf(canary, sizeof canary, "gone_canary_%u_", cycle);
		long n = cs_count(store, canary, where, sizeof where);
		if (n != 0)
			fail_msg("after the rerun, %s is found %ld times (first in %s)", canary, n, where);
		snprintf(canary, sizeof canary, "keep_canary_%u_", cycle);
		if (cs_count(store, canary, NULL, 0) <= 0)
			fail_msg("after the rerun, %s (kept) is gone", canary);
	}
	free(acks);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_during_compact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
