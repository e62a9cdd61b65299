/* tests/crash/test_crash_kill.c — kill -9 during appends, hundreds of times
 * (docs/reliability.md, P1: kill -9 during append and map growth).
 *
 * Each cycle forks a child that opens the store and appends from 4 threads
 * (cj_journal_append, append_batch, submit/wait, append); right after each
 * acknowledgement it writes "A seq thread index" to a pipe. The parent reads
 * the pipe, sends SIGKILL a random 2-30 ms after the first acknowledgement
 * (so the kill lands mid-stream even on a loaded machine), reads what is left,
 * reopens the store and checks:
 *   - every acknowledged seq is present, with the id and content the child
 *     wrote (acknowledged = durable);
 *   - the cycle's records are gap-free from the previous last seq to the new
 *     last one, each carries an id of this cycle, no id twice;
 *   - per child thread the stored events are a prefix 0..k-1 of what it
 *     appended (nothing in the middle lost), and k covers everything acked;
 *   - cj_journal_check passes over the whole store (opened read-only: the
 *     next child's read-write open is the recovery under test).
 * Events committed but not yet reported when the kill came are allowed (and
 * counted): the child was killed between commit and the pipe write.
 * Every 10th cycle the kill comes 0-5 ms after fork, during open.
 * The growth variant starts the map at 1 MiB with 16-40 KiB events, mostly in
 * batches, and a fresh store every 8 cycles, so that the children grow the map
 * again and again and kills land during growth. The parent counts the cycles
 * in which the map must have grown (the data in use went past the map the
 * child opened with) and asserts there were some.
 * Env: CJ_CRASH_CYCLES (default 300), CJ_CRASH_GROWTH_CYCLES (default 100),
 * CJ_CRASH_SEED (default: from the clock; printed). */
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
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "testutil.h"

#define N_THREADS 4
#define MAX_INDEX (1u << 20)     /* most events one child thread can append */
#define BATCH 6
#define MAX_CONTENT 40960        /* largest content of either variant */

typedef struct variant {
	const char *name;
	int growth;               /* map starts at 1 MiB, big events */
	unsigned cycles_per_store;
} variant;

/* ---- content, shared by child and parent ---- */

static size_t content_len(const variant *v, unsigned cycle, unsigned t, unsigned i)
{
	if (!v->growth)
		return 60 + (cycle * 7 + t * 31 + i * 13) % 200;
	return 16384 + (size_t)((cycle * 7919u + t * 104729u + i * 1299709u) % 24577u);
}

/* Writes the content of (cycle, t, i) into out (size >= content_len + 1). */
static void content_of(char *out, const variant *v, unsigned cycle, unsigned t, unsigned i)
{
	size_t len = content_len(v, cycle, t, i);
	int w = snprintf(out, len + 1, "cycle %u thread %u event %u ", cycle, t, i);
	for (size_t k = (size_t)w; k < len; k++)
		out[k] = (char)('a' + (k * 5 + i + t) % 26);
	out[len] = '\0';
}

static void id_of(char *out, size_t n, unsigned cycle, unsigned t, unsigned i)
{
	snprintf(out, n, "c%u-t%u-%u", cycle, t, i);
}

static void opts_of(cj_store_options *o, const variant *v)
{
	cj_store_options init = CJ_STORE_OPTIONS_INIT;
	*o = init;
	if (v->growth)
		o->map_initial = (uint64_t)1 << 20;
}

/* ---- the child ---- */

typedef struct child_ctx {
	cj_store *s;
	const variant *v;
	unsigned cycle;
	int fd;
	unsigned thread;
} child_ctx;

static cj_event *child_event(const child_ctx *c, unsigned i, char *buf)
{
	char id[64];
	content_of(buf, c->v, c->cycle, c->thread, i);
	id_of(id, sizeof id, c->cycle, c->thread, i);
	return tu_message("crash", buf, id, 0);
}

static void *child_thread(void *arg)
{
	child_ctx *c = arg;
	char *buf = malloc((size_t)(MAX_CONTENT + 1) * BATCH);
	if (!buf)
		_exit(6);
	/* Thread 0 appends one by one; 1 in batches; 2 in tickets; 3 one by one,
	 * or in batches in the growth variant (to fill the map fast). */
	int batched = c->thread == 1 || c->thread == 2 || (c->thread == 3 && c->v->growth);
	for (unsigned i = 0; i < MAX_INDEX;) {
		unsigned n = batched ? BATCH : 1;
		cj_event *evs[BATCH];
		for (unsigned k = 0; k < n; k++) {
			evs[k] = child_event(c, i + k, buf + (size_t)k * (MAX_CONTENT + 1));
			if (!evs[k])
				_exit(7);
		}
		uint64_t seqs[BATCH];
		int rc;
		if (n > 1 && c->thread != 2) {
			rc = cj_journal_append_batch(seqs, c->s, (const cj_event *const *)evs, n);
		} else if (c->thread == 2) {
			cj_ticket *t = NULL;
			rc = cj_journal_submit(&t, c->s, (const cj_event *const *)evs, n);
			if (rc == 0)
				rc = cj_ticket_wait(seqs, t);
			cj_ticket_free(t);
		} else {
			rc = cj_journal_append(&seqs[0], c->s, evs[0]);
		}
		for (unsigned k = 0; k < n; k++)
			cj_event_free(evs[k]);
		if (rc != 0) {
			ch_sayf(c->fd, "F %d %u %.200s\n", rc, c->thread, cj_error_last());
			return NULL;
		}
		char line[96 * BATCH];
		size_t len = 0;
		for (unsigned k = 0; k < n; k++)
			len += (size_t)snprintf(line + len, sizeof line - len, "A %llu %u %u\n",
			                        (unsigned long long)seqs[k], c->thread, i + k);
		ch_say(c->fd, line, len); /* < PIPE_BUF: one atomic write */
		i += n;
	}
	return NULL;
}

typedef struct child_args {
	const char *store;
	const variant *v;
	unsigned cycle;
} child_args;

static void child_main(void *arg, int fd)
{
	const child_args *a = arg;
	cj_store_options opts;
	opts_of(&opts, a->v);
	cj_store *s = NULL;
	int rc = cj_store_open(&s, a->store, &opts);
	if (rc != 0) {
		ch_sayf(fd, "E %d %.200s\n", rc, cj_error_last());
		_exit(3);
	}
	ch_say(fd, "R\n", 2);
	child_ctx ctx[N_THREADS];
	pthread_t tids[N_THREADS];
	for (unsigned t = 0; t < N_THREADS; t++) {
		ctx[t] = (child_ctx){s, a->v, a->cycle, fd, t};
		if (pthread_create(&tids[t], NULL, child_thread, &ctx[t]) != 0)
			_exit(8);
	}
	/* The parent kills us long before this. */
	struct timespec ts = {20, 0};
	nanosleep(&ts, NULL);
	_exit(4);
}

/* ---- the parent ---- */

typedef struct ack {
	uint64_t seq;
	unsigned thread, index;
} ack;

/* Every line of the child, kept as it came ("...\n" each) for the checks
 * after the kill and for failure messages. */
typedef struct cycle_log {
	char *buf;
	size_t len, cap;
	int acked;  /* an "A " line came */
} cycle_log;

static void log_append(cycle_log *l, const char *p, size_t n)
{
	if (l->len + n + 1 > l->cap) {
		size_t cap = l->cap ? l->cap : 65536;
		while (l->len + n + 1 > cap)
			cap *= 2;
		l->buf = realloc(l->buf, cap);
		assert_non_null(l->buf);
		l->cap = cap;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

static void log_line(void *ctx, const char *line)
{
	cycle_log *l = ctx;
	log_append(l, line, strlen(line));
	log_append(l, "\n", 1);
	if (strncmp(line, "A ", 2) == 0)
		l->acked = 1;
}

/* Stop waiting at the first acknowledgement, or when the open failed. */
static int acked_or_failed(void *ctx)
{
	const cycle_log *l = ctx;
	return l->acked || strncmp(l->buf, "E ", 2) == 0;
}

typedef struct totals {
	unsigned cycles, stores, early_kills, never_ready;
	uint64_t acked, records, unreported, growth_cycles, max_last;
	uint64_t startup_ns, verify_ns; /* fork to ready; reopen, check and close */
} totals;

static void run_cycle(const char *store, const variant *v, unsigned cycle, uint64_t *rng,
                      uint64_t *prev_last, uint64_t *prev_map, totals *tot)
{
	child_args args = {store, v, cycle};
	ch_child child;
	assert_int_equal(ch_spawn(&child, child_main, &args), 0);
	uint64_t t_fork = tu_now_ns();
	cycle_log log = {NULL, 0, 0, 0};
	log_append(&log, "", 0);
	int early = cycle % 10 == 9;
	uint64_t delay = early ? tu_rand(rng) % 5000000u
	                       : 2000000u + tu_rand(rng) % 28000001u; /* 2-30 ms */
	if (early) {
		tot->early_kills++;
		ch_pump(&child, tu_now_ns() + delay, log_line, NULL, &log);
	} else {
		/* Wait (bounded) for the child's first acknowledgement, then let it go
		 * on appending for the delay: the kill always lands mid-stream, also
		 * on a loaded machine where the first commit takes a while. */
		ch_pump(&child, tu_now_ns() + 30ull * 1000000000u, log_line, acked_or_failed, &log);
		if (!log.acked) {
			ch_abandon(&child);
			fail_msg("cycle %u: child never acknowledged an append: %.300s", cycle, log.buf);
		}
		tot->startup_ns += tu_now_ns() - t_fork;
		ch_pump(&child, tu_now_ns() + delay, log_line, NULL, &log);
	}
	int status = 0;
	int killed = ch_kill(&child, &status, log_line, &log); /* the rest, up to EOF */
	assert_true(killed >= 0);
	if (!killed)
		fail_msg("cycle %u: child ended by itself (status %d): %.300s", cycle, status, log.buf);
	if (!strstr(log.buf, "R\n"))
		tot->never_ready++;

	/* Parse the acknowledgements. */
	size_t n_acks = 0, cap_acks = 1024;
	ack *acks = malloc(cap_acks * sizeof *acks);
	assert_non_null(acks);
	for (char *line = log.buf; *line;) {
		char *nl = strchr(line, '\n');
		if (!nl)
			break; /* a partial line cannot happen: lines are written whole */
		*nl = '\0';
		if (line[0] == 'A') {
			unsigned long long seq;
			unsigned t, i;
			assert_int_equal(sscanf(line, "A %llu %u %u", &seq, &t, &i), 3);
			if (n_acks == cap_acks) {
				cap_acks *= 2;
				acks = realloc(acks, cap_acks * sizeof *acks);
				assert_non_null(acks);
			}
			acks[n_acks++] = (ack){seq, t, i};
		} else if (line[0] == 'F' || line[0] == 'E') {
			fail_msg("cycle %u: the child reported a failure: %s", cycle, line);
		} else if (line[0] != 'R') {
			fail_msg("cycle %u: unexpected line from the child: %s", cycle, line);
		}
		line = nl + 1;
	}

	/* Reopen and check. Read-only: the check needs no writer, and no
	 * materializer (the next child opens read-write after the crash anyway). */
	uint64_t t_verify = tu_now_ns();
	cj_store_options opts;
	opts_of(&opts, v);
	opts.read_only = 1;
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, store, &opts));
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	if (last < *prev_last)
		fail_msg("cycle %u: last seq went back from %llu to %llu", cycle,
		         (unsigned long long)*prev_last, (unsigned long long)last);
	tu_recs r;
	TU_OK(tu_read_all(s, *prev_last + 1, &r));
	if (r.corrupt)
		fail_msg("cycle %u: %zu corrupt records after the kill, first seq %llu: %s", cycle,
		         r.corrupt, (unsigned long long)r.first_corrupt_seq, r.corrupt_msg);
	if (r.n != last - *prev_last)
		fail_msg("cycle %u: records %llu..%llu should be %llu, iterator returned %zu", cycle,
		         (unsigned long long)*prev_last + 1, (unsigned long long)last,
		         (unsigned long long)(last - *prev_last), r.n);
	unsigned stored[N_THREADS] = {0}, max_index[N_THREADS] = {0};
	unsigned char *seen[N_THREADS];
	for (unsigned t = 0; t < N_THREADS; t++) {
		seen[t] = calloc(r.n + 1, 1);
		assert_non_null(seen[t]);
	}
	char *want = malloc(MAX_CONTENT + 1);
	assert_non_null(want);
	for (size_t k = 0; k < r.n; k++) {
		const tu_rec *rec = &r.v[k];
		if (rec->seq != *prev_last + 1 + k)
			fail_msg("cycle %u: gap: record %zu has seq %llu, expected %llu", cycle, k,
			         (unsigned long long)rec->seq, (unsigned long long)(*prev_last + 1 + k));
		unsigned c = 0, t = 0, i = 0;
		if (!rec->id || sscanf(rec->id, "c%u-t%u-%u", &c, &t, &i) != 3 || c != cycle ||
		    t >= N_THREADS)
			fail_msg("cycle %u: seq %llu has id \"%s\", not one of this cycle's", cycle,
			         (unsigned long long)rec->seq, rec->id ? rec->id : "(none)");
		if (i > r.n)
			fail_msg("cycle %u: seq %llu holds %s, beyond the %zu events of this cycle",
			         cycle, (unsigned long long)rec->seq, rec->id, r.n);
		if (seen[t][i])
			fail_msg("cycle %u: event %s stored twice (again at seq %llu)", cycle, rec->id,
			         (unsigned long long)rec->seq);
		seen[t][i] = 1;
		stored[t]++;
		if (i + 1 > max_index[t])
			max_index[t] = i + 1;
		content_of(want, v, cycle, t, i);
		if (!rec->content || strcmp(rec->content, want) != 0)
			fail_msg("cycle %u: seq %llu (%s) has the wrong content", cycle,
			         (unsigned long long)rec->seq, rec->id);
	}
	for (unsigned t = 0; t < N_THREADS; t++)
		if (stored[t] != max_index[t])
			fail_msg("cycle %u: thread %u: %u events stored but the highest is #%u: "
			         "an event in the middle was lost", cycle, t, stored[t], max_index[t]);
	for (size_t a = 0; a < n_acks; a++) {
		const ack *x = &acks[a];
		if (x->seq <= *prev_last || x->seq > last)
			fail_msg("cycle %u: acknowledged seq %llu (thread %u event %u) is missing: "
			         "journal ends at %llu", cycle, (unsigned long long)x->seq, x->thread,
			         x->index, (unsigned long long)last);
		const tu_rec *rec = &r.v[x->seq - *prev_last - 1];
		char id[64];
		id_of(id, sizeof id, cycle, x->thread, x->index);
		if (strcmp(rec->id, id) != 0)
			fail_msg("cycle %u: acknowledged seq %llu should hold %s, holds %s", cycle,
			         (unsigned long long)x->seq, id, rec->id);
	}
	uint64_t checked = 0, bad = 1;
	TU_OK(cj_journal_check(&checked, &bad, s));
	assert_int_equal(checked, last);
	assert_int_equal(bad, 0);
	/* The page walk and the idempotency entries: no damage in a sound
	 * journal (the checks verify relies on never cry wolf). */
	uint64_t pages = 0, bad_page = 1, ids = 0, bad_ids = 1;
	TU_OK(cj_journal_check_pages(&pages, &bad_page, s));
	assert_int_equal(bad_page, 0);
	TU_OK(cj_journal_check_ids(&ids, &bad_ids, s));
	assert_int_equal(bad_ids, 0);
	/* The child opened with the map this process saw last time (or 1 MiB):
	 * data in use beyond it means the child grew the map. */
	cj_journal_stats st;
	TU_OK(cj_journal_stats_get(&st, s));
	if (st.map_used > *prev_map)
		tot->growth_cycles++;
	*prev_map = st.map_size;
	cj_store_close(s);
	tot->verify_ns += tu_now_ns() - t_verify;

	tot->cycles++;
	tot->acked += n_acks;
	tot->records += r.n;
	tot->unreported += r.n - n_acks;
	if (last > tot->max_last)
		tot->max_last = last;
	*prev_last = last;
	for (unsigned t = 0; t < N_THREADS; t++)
		free(seen[t]);
	free(want);
	tu_recs_free(&r);
	free(acks);
	free(log.buf);
}

static void crash_loop(const variant *v, unsigned cycles)
{
	char dir[PATH_MAX], store[PATH_MAX];
	assert_int_equal(tu_mktempdir(dir, sizeof dir, "crash"), 0);
	tu_path(store, sizeof store, dir, "store");
	uint64_t seed = ch_seed();
	uint64_t rng = seed;
	totals tot;
	memset(&tot, 0, sizeof tot);
	uint64_t t0 = tu_now_ns();
	uint64_t prev_last = 0, prev_map = 0;
	for (unsigned cycle = 0; cycle < cycles; cycle++) {
		if (cycle % v->cycles_per_store == 0) {
			tu_rmrf(store);
			cj_store_options opts;
			opts_of(&opts, v);
			TU_OK(cj_store_init(store, &opts));
			prev_last = 0;
			prev_map = v->growth ? (uint64_t)1 << 20 : UINT64_MAX;
			tot.stores++;
		}
		run_cycle(store, v, cycle, &rng, &prev_last, &prev_map, &tot);
	}
	double secs = (double)(tu_now_ns() - t0) / 1e9;
	unsigned normal = tot.cycles - tot.early_kills;
	print_message("crash/%s: %u cycles (%u stores, %u kills during startup, %u before ready) "
	              "in %.1f s (fork to first ack %.1f ms, reopen+check+close %.1f ms on average), "
	              "seed %llu: %llu acknowledged events all present, %llu records, "
	              "%llu committed but unreported at the kill, %llu cycles grew the map, "
	              "largest journal %llu\n",
	              v->name, tot.cycles, tot.stores, tot.early_kills, tot.never_ready, secs,
	              normal ? (double)tot.startup_ns / 1e6 / normal : 0.0,
	              tot.cycles ? (double)tot.verify_ns / 1e6 / tot.cycles : 0.0,
	              (unsigned long long)seed, (unsigned long long)tot.acked,
	              (unsigned long long)tot.records, (unsigned long long)tot.unreported,
	              (unsigned long long)tot.growth_cycles, (unsigned long long)tot.max_last);
	assert_int_equal(tot.cycles, cycles);
	/* The loop exercised what it claims to. */
	assert_true(tot.acked > 0);
	if (v->growth)
		assert_true(tot.growth_cycles > 0);
	tu_rmrf(dir);
}

static void test_kill9_during_appends(void **state)
{
	(void)state;
	static const variant v = {"append", 0, 20};
	crash_loop(&v, (unsigned)tu_env_ulong("CJ_CRASH_CYCLES", 300));
}

static void test_kill9_during_map_growth(void **state)
{
	(void)state;
	static const variant v = {"map-growth", 1, 8};
	crash_loop(&v, (unsigned)tu_env_ulong("CJ_CRASH_GROWTH_CYCLES", 100));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_during_appends),
		cmocka_unit_test(test_kill9_during_map_growth),
	};
	return cmocka_run_group_tests_name("crash/kill9", tests, NULL, NULL);
}
