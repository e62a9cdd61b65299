/* tests/crash/test_crash_power.c — power loss, simulated hundreds of times
 * (docs/reliability.md, P1: an acknowledged append survives a crash of the
 * machine; S3: the projection may lose its last transactions but is never
 * damaged and never ahead of the journal), with negative controls.
 *
 * kill -9 keeps the page cache; a power loss does not. Each cycle copies the
 * store's files aside, then starts a child (this executable again, exec'd with
 * the LD_PRELOAD module power_shim.c) that opens the store read-write, so its
 * materializer applies the journal to SQLite, and appends from 3 threads
 * (single appends, batches, tickets), writing "A seq thread index" to a pipe
 * right after each acknowledgement. The shim logs every write and sync the
 * child makes to the store's files. The parent sends SIGKILL at a random
 * moment, then rebuilds every file from the copy and the log as a power loss
 * at that moment would leave it (power_cut.c: only what was durable; the torn
 * variant adds a random choice of what was not, page by page), and checks:
 *   - the journal opens; every acknowledged event is there, at its seq, with
 *     the id, fields and time the child gave it; the cycle's records are
 *     gap-free, each an event of this cycle, none twice, and per child thread
 *     a prefix of what it appended; cj_journal_check passes;
 *   - the projection (crash/materialize's checker, projection_check.h): its
 *     position is at most the journal's last seq, every table holds exactly
 *     what events 1..position say, FTS counted once, quick_check and FTS5's
 *     integrity-check pass. Its position may be below what the child saw
 *     committed (synchronous=NORMAL; counted, not an error).
 * After the loop the store is opened read-write, the projection catches up,
 * and it equals a fresh replay.
 *
 * Before all that, test_model runs a fixed script of writes and syncs under
 * the shim and checks that the cut leaves exactly what the model promises.
 *
 * Negative controls: the same loop with children that open the journal with
 * MDB_NOSYNC, or MDB_NOMETASYNC (cji_env_test_weaken_sync, a test hook); the
 * checker must report acknowledged events lost. Each control runs its cycles
 * to the end (after a violation the store is put back as the cycle found it)
 * and reports its detection rate; it fails unless the checker caught lost
 * acknowledgements at least once.
 *
 * Env: CJ_POWER_CYCLES (default 100), CJ_POWER_TORN_CYCLES (default 100),
 * CJ_POWER_CONTROL_CYCLES (default 10 per control), CJ_POWER_SEED (else
 * CJ_CRASH_SEED, else the clock; printed), CJ_CRASH_DEBUG (one line per
 * cycle on stderr). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <link.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "power_cut.h"
#include "power_log.h"
#include "projection_check.h"
#include "testutil.h"
/* The controls weaken the journal's sync flags, the setup pauses the
 * materializer and the child reads its error; nothing else in this file
 * reaches inside the store. */
#include "api/store_internal.h"

#define N_APPENDERS 3
#define CYCLES_PER_STORE 25
#define SETUP_EVENTS 2000
#define MAX_BATCH 8
#define TS_BASE 1700000000000LL   /* event k of a child thread has ts TS_BASE + k */

enum sync_mode { SYNC_SAFE, SYNC_NOSYNC, SYNC_NOMETASYNC };

static const char *g_shim;       /* the module's path (the test's argument) */
static char g_preload[2 * PATH_MAX + 2];

/* ---- events, shared by child and parent ---- */

/* The random number behind event k of child thread t (splitmix64): a pure
 * function, so that the parent can rebuild any acknowledged event. */
static uint64_t event_r(uint64_t seed, unsigned t, unsigned k)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ull * ((((uint64_t)t << 32) | k) + 1);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void tag_of(char *out, size_t n, unsigned cycle, unsigned t)
{
	snprintf(out, n, "c%ua%u", cycle, t);
}

/* Event k of child thread t in cycle cycle; NULL if the library refused it. */
static cj_event *event_of(uint64_t seed, unsigned cycle, unsigned t, unsigned k)
{
	char tag[32], json[1024];
	tag_of(tag, sizeof tag, cycle, t);
	pc_event_json(json, sizeof json, tag, k, event_r(seed, t, k));
	cj_event *ev = NULL;
	if (cj_event_parse(&ev, json, strlen(json)) != 0)
		return NULL;
	if (cj_event_set_int(ev, "ts", TS_BASE + k) != 0) {
		cj_event_free(ev);
		return NULL;
	}
	return ev;
}

/* ---- the child (this executable, exec'd with the shim preloaded) ---- */

typedef struct appender {
	cj_store *s;
	uint64_t seed;
	unsigned cycle, t;
	int fd;
} appender;

static void *child_appender(void *arg)
{
	appender *a = arg;
	uint64_t rng = a->seed ^ (0x1234567ull * (a->t + 1)) ^ 1;
	for (unsigned k = 0;;) {
		/* Thread 0 appends one by one; 1 in batches; 2 in tickets. */
		unsigned n = a->t == 0 ? 1 : 1 + (unsigned)(tu_rand(&rng) % MAX_BATCH);
		cj_event *evs[MAX_BATCH];
		for (unsigned i = 0; i < n; i++)
			if (!(evs[i] = event_of(a->seed, a->cycle, a->t, k + i)))
				_exit(7);
		uint64_t seqs[MAX_BATCH];
		int rc;
		if (a->t == 2) {
			cj_ticket *tk = NULL;
			rc = cj_journal_submit(&tk, a->s, (const cj_event *const *)evs, n);
			if (rc == 0)
				rc = cj_ticket_wait(seqs, tk);
			cj_ticket_free(tk);
		} else if (n > 1) {
			rc = cj_journal_append_batch(seqs, a->s, (const cj_event *const *)evs, n);
		} else {
			rc = cj_journal_append(&seqs[0], a->s, evs[0]);
		}
		for (unsigned i = 0; i < n; i++)
			cj_event_free(evs[i]);
		if (rc != 0) {
			ch_sayf(a->fd, "F %d %u %.200s\n", rc, a->t, cj_error_last());
			return NULL;
		}
		char line[64 * MAX_BATCH];
		size_t len = 0;
		for (unsigned i = 0; i < n; i++)
			len += (size_t)snprintf(line + len, sizeof line - len, "A %llu %u %u\n",
			                        (unsigned long long)seqs[i], a->t, k + i);
		ch_say(a->fd, line, len); /* < PIPE_BUF: one atomic write */
		k += n;
	}
}

/* argv: --power-child STORE CYCLE MODE SEED FD */
static void child_run(char **argv)
{
	const char *store = argv[2];
	unsigned cycle = (unsigned)strtoul(argv[3], NULL, 10);
	int mode = atoi(argv[4]);
	uint64_t seed = strtoull(argv[5], NULL, 10);
	int fd = atoi(argv[6]);
	cj_store *s = NULL;
	int rc = cj_store_open(&s, store, NULL);
	if (rc != 0) {
		ch_sayf(fd, "E %d %.200s\n", rc, cj_error_last());
		_exit(3);
	}
	if (mode != SYNC_SAFE &&
	    cji_env_test_weaken_sync(&s->journal.env,
	                             mode == SYNC_NOSYNC ? MDB_NOSYNC : MDB_NOMETASYNC) != 0) {
		ch_sayf(fd, "E %d %.200s\n", CJ_EINVAL, cj_error_last());
		_exit(3);
	}
	uint64_t pos = 0, last = 0;
	if (cj_projection_position(&pos, s) || cj_journal_last_seq(&last, s))
		_exit(6);
	ch_sayf(fd, "R %llu %llu\n", (unsigned long long)pos, (unsigned long long)last);
	appender app[N_APPENDERS];
	pthread_t tid;
	for (unsigned t = 0; t < N_APPENDERS; t++) {
		app[t] = (appender){s, seed, cycle, t, fd};
		if (pthread_create(&tid, NULL, child_appender, &app[t]) != 0)
			_exit(8);
	}
	/* Report every committed projection position, and a materializer error
	 * once; the parent kills us long before the minute is up. */
	int said_error = 0;
	for (uint64_t end = tu_now_ns() + 60ull * 1000000000u; tu_now_ns() < end;) {
		cj_wait_applied(s, pos + 1, 100);
		uint64_t now = 0;
		if (cj_projection_position(&now, s))
			_exit(6);
		if (now > pos) {
			pos = now;
			ch_sayf(fd, "P %llu\n", (unsigned long long)pos);
		}
		char err[512];
		cji_mat_error(s->mat, err, sizeof err);
		if (err[0] && !said_error) {
			ch_sayf(fd, "X %.500s\n", err);
			said_error = 1;
		}
	}
	_exit(4);
}

/* The model's own test: a fixed sequence of calls on the files a, b, c, d
 * of the watched folder (a and b exist, c and d do not), then "D" on the
 * pipe; the parent knows what each call leaves after a power loss. */
static void script_run(char **argv)
{
	const char *dir = argv[2];
	int fd = atoi(argv[6]);
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/a", dir);
	int fa = open(p, O_WRONLY | O_CLOEXEC);
	snprintf(p, sizeof p, "%s/b", dir);
	int fb = open(p, O_WRONLY | O_DSYNC | O_CLOEXEC);
	snprintf(p, sizeof p, "%s/d", dir);
	int fd2 = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fa < 0 || fb < 0 || fd2 < 0 || dirfd < 0 ||
	    pwrite(fa, "AAAA", 4, 0) != 4 || fsync(fa) != 0 ||      /* durable */
	    pwrite(fa, "BBBB", 4, 2 * PW_PAGE) != 4 ||               /* not synced */
	    pwrite(fb, "CCCC", 4, 0) != 4 ||                         /* O_DSYNC: durable */
	    ftruncate(fb, 2) != 0 ||                                 /* not synced */
	    write(fd2, "dd", 2) != 2 || fsync(fd2) != 0 || fsync(dirfd) != 0) /* durable */
		_exit(12);
	/* Created after the folder's sync: its data is synced, its name is not. */
	snprintf(p, sizeof p, "%s/c", dir);
	int fc = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fc < 0 || write(fc, "new", 3) != 3 || fdatasync(fc) != 0)
		_exit(12);
	ch_say(fd, "D\n", 2);
	struct timespec ts = {20, 0};
	nanosleep(&ts, NULL);
	_exit(4);
}

/* ---- the parent ---- */

/* The ASan runtime must come first in LD_PRELOAD: if this executable loaded
 * one, preload it before the shim. */
static int find_asan(struct dl_phdr_info *info, size_t size, void *out)
{
	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, "libasan.so")) {
		snprintf(out, PATH_MAX, "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}

static void preload_init(void)
{
	char asan[PATH_MAX] = "";
	dl_iterate_phdr(find_asan, asan);
	if (asan[0])
		snprintf(g_preload, sizeof g_preload, "%s %s", asan, g_shim);
	else
		snprintf(g_preload, sizeof g_preload, "%s", g_shim);
}

typedef struct child_args {
	const char *store, *log;
	unsigned cycle;
	int mode;
	uint64_t seed;
	int script;          /* run script_run (the model's own test) instead */
} child_args;

/* In the forked child: exec this executable as the power child, with the
 * shim preloaded and told what to watch. The pipe's write end is inherited. */
static void exec_child(void *arg, int fd)
{
	const child_args *a = arg;
	char cycle[16], mode[16], seed[32], fds[16];
	snprintf(cycle, sizeof cycle, "%u", a->cycle);
	snprintf(mode, sizeof mode, "%d", a->mode);
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)a->seed);
	snprintf(fds, sizeof fds, "%d", fd);
	if (setenv("LD_PRELOAD", g_preload, 1) || setenv(PW_ENV_WATCH, a->store, 1) ||
	    setenv(PW_ENV_LOG, a->log, 1))
		_exit(10);
	char *argv[] = {"test_crash_power", a->script ? "--power-script" : "--power-child",
	                (char *)a->store, cycle, mode, seed, fds, NULL};
	execv("/proc/self/exe", argv);
	_exit(11);
}

typedef struct ack {
	uint64_t seq;
	unsigned t, k;
} ack;

typedef struct child_log {
	int ready;
	uint64_t open_pos, open_last, max_pos;
	ack *acks;
	size_t nacks, cap;
	char failure[720];   /* E, F or X line, or anything unexpected */
} child_log;

static void log_line(void *ctx, const char *line)
{
	child_log *l = ctx;
	unsigned long long a = 0, b = 0;
	unsigned t = 0, k = 0;
	if (sscanf(line, "A %llu %u %u", &a, &t, &k) == 3) {
		if (l->nacks == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 1024;
			l->acks = realloc(l->acks, l->cap * sizeof *l->acks);
			assert_non_null(l->acks);
		}
		l->acks[l->nacks++] = (ack){a, t, k};
	} else if (sscanf(line, "R %llu %llu", &a, &b) == 2) {
		l->ready = 1;
		l->open_pos = l->max_pos = a;
		l->open_last = b;
	} else if (sscanf(line, "P %llu", &a) == 1) {
		if (a > l->max_pos)
			l->max_pos = a;
	} else if (!l->failure[0]) {
		snprintf(l->failure, sizeof l->failure, "%s", line);
	}
}

static int acked_or_failed(void *ctx)
{
	const child_log *l = ctx;
	return l->nacks > 0 || l->failure[0];
}

/* The child's materializer committed a batch (and something was acknowledged). */
static int committed_or_failed(void *ctx)
{
	const child_log *l = ctx;
	return (l->ready && l->max_pos > l->open_pos && l->nacks > 0) || l->failure[0];
}

typedef struct totals {
	unsigned cycles, stores, early, after_commit, long_runs, never_ready;
	unsigned checkpoints;  /* cycles in which chat.sqlite was synced: a checkpoint ran */
	uint64_t acked, records, unreported;
	unsigned proj_rolled_back, proj_behind;  /* S3 at work: below what the child saw; behind the journal */
	uint64_t writes, durable, dsync, unsynced, syncs, torn_pages, torn_pieces, created,
	         dropped, log_bytes, cut_records;
	uint64_t child_ns, cut_ns, check_ns, setup_ns;
} totals;

typedef struct loop {
	const char *name;
	int torn, mode;
	char dir[PATH_MAX], store[PATH_MAX + 8], snap[PATH_MAX + 8], log[PATH_MAX + 16],
	     sqlite[PATH_MAX + 24];
	uint64_t seed, rng;
	pc_model m;
	uint64_t prev_last;
	totals tot;
	unsigned violations, ack_losses, eligible;
	unsigned first_cycle;
	char first[1024];
} loop;

static void loop_init(loop *L, const char *name, int torn, int mode)
{
	memset(L, 0, sizeof *L);
	L->name = name;
	L->torn = torn;
	L->mode = mode;
	assert_int_equal(tu_mktempdir(L->dir, sizeof L->dir, "crashpower"), 0);
	snprintf(L->store, sizeof L->store, "%s/store", L->dir);
	snprintf(L->snap, sizeof L->snap, "%s/snap", L->dir);
	snprintf(L->log, sizeof L->log, "%s/power.log", L->dir);
	snprintf(L->sqlite, sizeof L->sqlite, "%s/chat.sqlite", L->store);
	uint64_t seed = tu_env_ulong("CJ_POWER_SEED", 0);
	L->seed = seed ? seed : ch_seed();
	L->rng = L->seed;
	/* Printed first: a crash of this process still names the seed. */
	print_message("crash/%s: seed %llu\n", name, (unsigned long long)L->seed);
}

/* A fresh store whose journal holds SETUP_EVENTS events and whose projection
 * is empty: the first children catch up in large batches. */
static void setup_store(loop *L)
{
	uint64_t t0 = tu_now_ns();
	tu_rmrf(L->store);
	pc_model_free(&L->m);
	TU_OK(cj_store_init(L->store, NULL));
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, L->store, NULL));
	cji_mat_pause(s->mat);
	for (unsigned k = 0; k < SETUP_EVENTS; k += 500)
		TU_OK(pc_append_events(s, "s", k, 500, &L->rng));
	TU_OK(cj_journal_last_seq(&L->prev_last, s));
	cj_store_close(s);
	L->tot.stores++;
	L->tot.setup_ns += tu_now_ns() - t0;
}

static int violation(loop *L, unsigned cycle, int ack_lost, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int violation(loop *L, unsigned cycle, int ack_lost, const char *fmt, ...)
{
	if (L->violations++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(L->first, sizeof L->first, fmt, ap);
		va_end(ap);
		L->first_cycle = cycle;
	}
	L->ack_losses += ack_lost;
	return 1;
}

/* The string fields the workload's events can have. */
static const char *const FIELDS[] = {
	"id", "thread", "role", "user", "content", "url", "kind", "prompt", "analysis",
	"key", "value", "actor", "name",
};

/* 0 if rec holds the event the child built, else a message in why. */
static int same_event(const cj_record *rec, const cj_event *want, int64_t ts, char *why,
                      size_t whyn)
{
	if (rec->type != cj_event_get_type(want)) {
		snprintf(why, whyn, "type %s, the child appended a %s", cj_event_type_name(rec->type),
		         cj_event_type_name(cj_event_get_type(want)));
		return -1;
	}
	if (rec->ts_ms != ts) {
		snprintf(why, whyn, "ts %lld, the child gave %lld", (long long)rec->ts_ms, (long long)ts);
		return -1;
	}
	for (size_t i = 0; i < sizeof FIELDS / sizeof *FIELDS; i++) {
		const char *a = cj_event_get_string(rec->event, FIELDS[i]);
		const char *b = cj_event_get_string(want, FIELDS[i]);
		if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0)) {
			snprintf(why, whyn, "field %s is \"%.60s\", the child gave \"%.60s\"", FIELDS[i],
			         a ? a : "(none)", b ? b : "(none)");
			return -1;
		}
	}
	return 0;
}

/* P1 on the rebuilt journal: the records after prev_last, and the acks.
 * 0, or a violation. Reads the new records into the model too. */
static int check_journal(loop *L, unsigned cycle, uint64_t seed, const child_log *log,
                         uint64_t *last_out)
{
	cj_store_options ro = CJ_STORE_OPTIONS_INIT;
	ro.read_only = 1;
	cj_store *s = NULL;
	int rc = cj_store_open(&s, L->store, &ro);
	if (rc)
		return violation(L, cycle, 0, "the journal does not open after the power loss: %s",
		                 cj_error_last());
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	*last_out = last;
	int v = 0;
	if (last < L->prev_last) {
		v = violation(L, cycle, 1, "the journal went back from %llu to %llu",
		              (unsigned long long)L->prev_last, (unsigned long long)last);
		goto out;
	}
	/* Per child thread: how many of its events are stored, at which seq
	 * (0: not stored), and the highest index (a prefix has count == highest
	 * + 1). */
	size_t n = (size_t)(last - L->prev_last);
	unsigned stored[N_APPENDERS] = {0}, top[N_APPENDERS] = {0};
	uint64_t *seq_at[N_APPENDERS];
	for (unsigned t = 0; t < N_APPENDERS; t++) {
		seq_at[t] = calloc(n + 1, sizeof *seq_at[t]);
		assert_non_null(seq_at[t]);
	}
	cj_journal_iter *it = NULL;
	TU_OK(cj_journal_iter_new(&it, s, L->prev_last + 1));
	cj_record rec;
	uint64_t want_seq = L->prev_last + 1;
	char why[512];
	while (!v && (rc = cj_journal_iter_next(&rec, it)) == 1) {
		const char *id = cj_event_get_string(rec.event, "id");
		unsigned c = 0, t = 0, k = 0;
		char tail = 0;
		if (rec.seq != want_seq)
			v = violation(L, cycle, 0, "gap: seq %llu follows %llu", (unsigned long long)rec.seq,
			              (unsigned long long)want_seq - 1);
		else if (!id || sscanf(id, "c%ua%u-%u%c", &c, &t, &k, &tail) != 3 || c != cycle ||
		         t >= N_APPENDERS || k >= n)
			v = violation(L, cycle, 0, "seq %llu holds \"%s\", not an event of this cycle",
			              (unsigned long long)rec.seq, id ? id : "(no id)");
		else if (seq_at[t][k])
			v = violation(L, cycle, 0, "event %s stored twice (at seq %llu and %llu)", id,
			              (unsigned long long)seq_at[t][k], (unsigned long long)rec.seq);
		if (v)
			break;
		seq_at[t][k] = rec.seq;
		cj_event *want = event_of(seed, cycle, t, k);
		assert_non_null(want);
		if (same_event(&rec, want, TS_BASE + k, why, sizeof why) != 0)
			v = violation(L, cycle, 0, "seq %llu (%s): %s", (unsigned long long)rec.seq, id, why);
		cj_event_free(want);
		stored[t]++;
		if (k + 1 > top[t])
			top[t] = k + 1;
		want_seq++;
	}
	cj_journal_iter_free(it);
	if (!v && rc < 0)
		v = violation(L, cycle, 0, "reading the journal: %s", cj_error_last());
	if (!v && want_seq != last + 1)
		v = violation(L, cycle, 0, "the journal ends at %llu but the iterator stopped at %llu",
		              (unsigned long long)last, (unsigned long long)want_seq - 1);
	for (unsigned t = 0; !v && t < N_APPENDERS; t++)
		if (stored[t] != top[t])
			v = violation(L, cycle, 0, "thread %u: %u events stored but the highest is #%u: an "
			              "event in the middle was lost", t, stored[t], top[t]);
	/* Every acknowledged event is there, at the seq the child was given.
	 * (Its content was checked above with every record of the cycle.) */
	for (size_t i = 0; !v && i < log->nacks; i++) {
		const ack *a = &log->acks[i];
		uint64_t at = a->t < N_APPENDERS && a->k < n ? seq_at[a->t][a->k] : 0;
		if (!at)
			v = violation(L, cycle, 1, "acknowledged seq %llu (thread %u event %u) was lost: the "
			              "journal ends at %llu", (unsigned long long)a->seq, a->t, a->k,
			              (unsigned long long)last);
		else if (at != a->seq)
			v = violation(L, cycle, 1, "acknowledged seq %llu (thread %u event %u) is stored at "
			              "seq %llu", (unsigned long long)a->seq, a->t, a->k,
			              (unsigned long long)at);
	}
	for (unsigned t = 0; t < N_APPENDERS; t++)
		free(seq_at[t]);
	if (!v) {
		uint64_t checked = 0, bad = 0;
		if (cj_journal_check(&checked, &bad, s) != 0 || bad != 0 || checked != last)
			v = violation(L, cycle, 0, "cj_journal_check: first bad seq %llu: %s",
			              (unsigned long long)bad, cj_error_last());
	}
	if (!v && pc_model_read(&L->m, s, why, sizeof why) != 0)
		v = violation(L, cycle, 0, "reading the journal into the model: %s", why);
	if (!v && L->m.n != last)
		v = violation(L, cycle, 0, "the model holds %zu records, the journal %llu", L->m.n,
		              (unsigned long long)last);
	L->tot.acked += log->nacks;
	L->tot.records += n;
	L->tot.unreported += n >= log->nacks ? n - log->nacks : 0;
out:
	cj_store_close(s);
	return v;
}

static void add_stats(totals *t, const pw_stats *st)
{
	t->writes += st->writes;
	t->durable += st->durable_writes;
	t->dsync += st->dsync_writes;
	t->unsynced += st->unsynced_writes;
	t->syncs += st->syncs;
	t->torn_pages += st->torn_pages;
	t->torn_pieces += st->torn_pieces;
	t->created += st->created;
	t->dropped += st->dropped;
	t->log_bytes += st->log_bytes;
	t->cut_records += (uint64_t)st->cut_record;
}

/* One cycle; 0, or 1 with a violation recorded in L. */
static int run_cycle(loop *L, unsigned cycle)
{
	char why[1024];
	L->tot.cycles++;
	if (pw_copy(L->store, L->snap, why, sizeof why) != 0)
		fail_msg("%s cycle %u: %s", L->name, cycle, why);
	/* An empty log: the shim appends to it from its first instruction on. */
	int lfd = open(L->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(lfd >= 0);
	close(lfd);
	uint64_t seed = tu_rand(&L->rng);
	child_args args = {L->store, L->log, cycle, L->mode, seed, 0};
	ch_child child;
	assert_int_equal(ch_spawn(&child, exec_child, &args), 0);
	uint64_t t_fork = tu_now_ns();
	child_log log;
	memset(&log, 0, sizeof log);
	uint64_t r = tu_rand(&L->rng);
	unsigned kind = cycle % 10;
	if (kind == 9) {
		/* During exec, open and the first commits. */
		L->tot.early++;
		ch_pump(&child, t_fork + r % 40000001u, log_line, NULL, &log);
	} else {
		/* Wait (bounded) for the first acknowledgement, or in two cycles out
		 * of ten for the materializer's first commit too (it gathers a lagging
		 * batch for up to 250 ms, so a kill timed from the first
		 * acknowledgement seldom finds one), then let the child go on: 1-40
		 * ms, or (every 10th cycle) 100-600 ms, long enough for the
		 * projection's WAL to reach its checkpoint now and then. */
		int after_commit = kind == 4 || kind == 7;
		ch_pump(&child, t_fork + 30ull * 1000000000u, log_line,
		        after_commit ? committed_or_failed : acked_or_failed, &log);
		if (!log.failure[0] && (!log.nacks || (after_commit && log.max_pos <= log.open_pos))) {
			ch_abandon(&child);
			fail_msg("%s cycle %u: no %s in 30 s", L->name, cycle,
			         after_commit ? "materializer commit" : "acknowledgement");
		}
		uint64_t delay = kind == 4 ? 100000000u + r % 500000001u : 1000000u + r % 39000001u;
		L->tot.after_commit += after_commit;
		L->tot.long_runs += kind == 4;
		ch_pump(&child, tu_now_ns() + delay, log_line, NULL, &log);
	}
	int status = 0;
	int killed = ch_kill(&child, &status, log_line, &log);
	assert_true(killed >= 0);
	if (!killed)
		fail_msg("%s cycle %u: child ended by itself (status %d): %s", L->name, cycle, status,
		         log.failure);
	uint64_t t_cut = tu_now_ns();
	L->tot.child_ns += t_cut - t_fork;
	L->tot.never_ready += !log.ready;
	L->eligible += log.nacks > 0;

	pw_stats st;
	if (pw_cut(L->store, L->snap, L->log, L->torn, &L->rng, &st, why, sizeof why) != 0)
		fail_msg("%s cycle %u (seed %llu): the power cut: %s", L->name, cycle,
		         (unsigned long long)L->seed, why);
	add_stats(&L->tot, &st);
	const pw_file_stat *db = pw_file(&st, "chat.sqlite");
	int checkpoint = db && db->syncs > 0;
	L->tot.checkpoints += checkpoint;
	uint64_t t_check = tu_now_ns();
	L->tot.cut_ns += t_check - t_cut;

	int v = 0;
	uint64_t last = 0;
	if (log.failure[0])
		v = violation(L, cycle, 0, "the child reported: %s", log.failure);
	if (!v)
		v = check_journal(L, cycle, seed, &log, &last);
	pc_result res;
	memset(&res, 0, sizeof res);
	if (!v && pc_check_projection(L->sqlite, &L->m, 0, &L->rng, &res, why, sizeof why))
		v = violation(L, cycle, 0, "projection: %s", why);
	L->tot.check_ns += tu_now_ns() - t_check;
	if (getenv("CJ_CRASH_DEBUG"))
		fprintf(stderr, "%s cycle %u: %zu acks, journal %llu, position %llu (child saw %llu); "
		        "log %llu B, %llu writes (%llu durable, %llu unsynced), %llu syncs, torn pieces "
		        "%llu%s%s\n", L->name, cycle, log.nacks, (unsigned long long)last,
		        (unsigned long long)res.pos, (unsigned long long)log.max_pos,
		        (unsigned long long)st.log_bytes, (unsigned long long)st.writes,
		        (unsigned long long)st.durable_writes, (unsigned long long)st.unsynced_writes,
		        (unsigned long long)st.syncs, (unsigned long long)st.torn_pieces,
		        checkpoint ? ", checkpoint" : "", v ? ": VIOLATION" : "");
	free(log.acks);
	if (v)
		return 1;
	if (res.pos < log.max_pos)
		L->tot.proj_rolled_back++;
	if (res.pos < last)
		L->tot.proj_behind++;
	L->prev_last = last;
	return 0;
}

static void print_totals(const loop *L, double secs)
{
	const totals *t = &L->tot;
	unsigned n = t->cycles ? t->cycles : 1;
	print_message("crash/%s: %u cycles (%u stores; kills: %u during startup, %u after the "
	              "materializer's first commit, %u of them after a long run) in "
	              "%.1f s, seed %llu: %llu acknowledged events checked, %llu records of the "
	              "cycles kept (%llu of them committed but unacknowledged); the shim saw %llu "
	              "writes (%llu durable, %llu of them O_DSYNC; %llu not yet durable at the cut) "
	              "and %llu syncs, %.1f MiB of log, %llu logs cut mid-record; %llu files created, "
	              "%llu of them lost with their folder unsynced; torn: %llu pages got %llu "
	              "unsynced pieces; projection: %u cycles ran a checkpoint, %u lost batches the "
	              "child saw committed, %u behind the journal; per cycle: child %.1f ms, cut "
	              "%.1f ms, checks %.1f ms; %.0f ms per store set up\n",
	              L->name, t->cycles, t->stores, t->early, t->after_commit, t->long_runs, secs,
	              (unsigned long long)L->seed, (unsigned long long)t->acked,
	              (unsigned long long)t->records, (unsigned long long)t->unreported,
	              (unsigned long long)t->writes, (unsigned long long)t->durable,
	              (unsigned long long)t->dsync, (unsigned long long)t->unsynced,
	              (unsigned long long)t->syncs, (double)t->log_bytes / 1048576.0,
	              (unsigned long long)t->cut_records, (unsigned long long)t->created,
	              (unsigned long long)t->dropped, (unsigned long long)t->torn_pages,
	              (unsigned long long)t->torn_pieces, t->checkpoints, t->proj_rolled_back,
	              t->proj_behind,
	              (double)t->child_ns / 1e6 / n, (double)t->cut_ns / 1e6 / n,
	              (double)t->check_ns / 1e6 / n,
	              (double)t->setup_ns / 1e6 / (t->stores ? t->stores : 1));
}

static void power_loop(const char *name, int torn, unsigned cycles)
{
	if (!cycles) {
		print_message("crash/%s: 0 cycles asked for, skipped\n", name);
		return;
	}
	loop *L = calloc(1, sizeof *L);
	assert_non_null(L);
	loop_init(L, name, torn, SYNC_SAFE);
	uint64_t t0 = tu_now_ns();
	for (unsigned cycle = 0; cycle < cycles; cycle++) {
		if (cycle % CYCLES_PER_STORE == 0)
			setup_store(L);
		if (run_cycle(L, cycle))
			fail_msg("%s cycle %u (seed %llu): %s (the store is left in %s)", name, cycle,
			         (unsigned long long)L->seed, L->first, L->dir);
	}
	print_totals(L, (double)(tu_now_ns() - t0) / 1e9);
	/* The loop exercised what it claims to. */
	assert_int_equal(L->tot.cycles, cycles);
	if (cycles >= 10) {
		assert_true(L->tot.acked > 0);
		assert_true(L->tot.unsynced > 0);  /* cuts landed with writes in flight */
		if (torn)
			assert_true(L->tot.torn_pieces > 0);
	}
	char replay[PATH_MAX + 32];
	snprintf(replay, sizeof replay, "%s/replay.sqlite", L->dir);
	pc_recover(name, L->store, L->sqlite, replay, &L->m, &L->rng);
	pc_model_free(&L->m);
	tu_rmrf(L->dir);
	free(L);
}

/* A negative control: every cycle runs (after a violation the store is put
 * back as the cycle found it, which the model still describes); lost
 * acknowledgements must be reported at least once. */
static void control_loop(const char *name, int mode, unsigned cycles)
{
	if (!cycles) {
		print_message("crash/%s: 0 cycles asked for, skipped\n", name);
		return;
	}
	loop *L = calloc(1, sizeof *L);
	assert_non_null(L);
	loop_init(L, name, 0, mode);
	uint64_t t0 = tu_now_ns();
	unsigned first_loss = 0, detected = 0;
	char why[1024];
	for (unsigned cycle = 0; cycle < cycles; cycle++) {
		if (cycle % CYCLES_PER_STORE == 0)
			setup_store(L);
		unsigned losses = L->ack_losses;
		if (run_cycle(L, cycle)) {
			detected++;
			if (L->m.n > L->prev_last) {
				/* The model already took in this cycle's records: start over. */
				setup_store(L);
			} else if (pw_copy(L->snap, L->store, why, sizeof why) != 0) {
				fail_msg("%s cycle %u: putting the store back: %s", name, cycle, why);
			}
		}
		if (L->ack_losses > losses && !first_loss)
			first_loss = cycle + 1;
	}
	double secs = (double)(tu_now_ns() - t0) / 1e9;
	print_totals(L, secs);
	if (!L->ack_losses)
		fail_msg("negative control %s: %u cycles with %s, and the checker never saw an "
		         "acknowledged event lost: it cannot detect a power loss that loses data (seed "
		         "%llu)%s%s", name, cycles, mode == SYNC_NOSYNC ? "MDB_NOSYNC" : "MDB_NOMETASYNC",
		         (unsigned long long)L->seed, L->violations ? "; first violation: " : "",
		         L->violations ? L->first : "");
	print_message("crash/%s: violations in %u of %u cycles (%u of them lost acknowledged "
	              "events; %u cycles had acknowledgements to lose), first loss in cycle %u, "
	              "as it must be: %s\n", name, detected, cycles, L->ack_losses, L->eligible,
	              first_loss, L->first);
	pc_model_free(&L->m);
	tu_rmrf(L->dir);
	free(L);
}

static int script_done(void *ctx)
{
	const child_log *l = ctx;
	return l->failure[0] != 0; /* "D" is not a line the power child says */
}

static void file_is(const char *dir, const char *name, const char *want, size_t want_len)
{
	char p[2 * PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "rb");
	if (!want) {
		if (f)
			fail_msg("%s should be gone after the power loss", name);
		return;
	}
	if (!f)
		fail_msg("%s should exist after the power loss", name);
	char got[3 * PW_PAGE];
	size_t n = fread(got, 1, sizeof got, f);
	fclose(f);
	if (n != want_len || memcmp(got, want, n) != 0)
		fail_msg("%s holds %zu bytes \"%.8s\", expected %zu bytes \"%.8s\"", name, n, got,
		         want_len, want);
}

/* The shim and the cut do what docs/testing.md says, on a fixed script: a
 * synced write stays and an unsynced one goes, an O_DSYNC write stays, a size
 * change goes unless synced, a new file stays only if its folder was synced;
 * the torn variant sometimes keeps what was not synced, and only that. */
static void test_model(void **state)
{
	(void)state;
	loop *L = calloc(1, sizeof *L);
	assert_non_null(L);
	loop_init(L, "power-model", 0, SYNC_SAFE);
	char p[2 * PATH_MAX], why[1024];
	assert_int_equal(mkdir(L->store, 0700), 0);
	for (const char *const *n = (const char *const[]){"a", "b", NULL}; *n; n++) {
		snprintf(p, sizeof p, "%s/%s", L->store, *n);
		FILE *f = fopen(p, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite("base", 1, 4, f), 4);
		assert_int_equal(fclose(f), 0);
	}
	assert_int_equal(pw_copy(L->store, L->snap, why, sizeof why), 0);
	int lfd = open(L->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(lfd >= 0);
	close(lfd);
	child_args args = {L->store, L->log, 0, SYNC_SAFE, 0, 1};
	ch_child child;
	assert_int_equal(ch_spawn(&child, exec_child, &args), 0);
	child_log log;
	memset(&log, 0, sizeof log);
	ch_pump(&child, tu_now_ns() + 30ull * 1000000000u, log_line, script_done, &log);
	int status = 0;
	assert_int_equal(ch_kill(&child, &status, log_line, &log), 1);
	if (strcmp(log.failure, "D") != 0)
		fail_msg("the script child did not finish: \"%s\"", log.failure);
	/* The folder as the kill left it, to cut again and again from. */
	char killed[PATH_MAX + 16];
	snprintf(killed, sizeof killed, "%s/killed", L->dir);
	assert_int_equal(pw_copy(L->store, killed, why, sizeof why), 0);
	pw_stats st;
	if (pw_cut(L->store, L->snap, L->log, 0, &L->rng, &st, why, sizeof why) != 0)
		fail_msg("power cut: %s", why);
	file_is(L->store, "a", "AAAA", 4);
	file_is(L->store, "b", "CCCC", 4);
	file_is(L->store, "c", NULL, 0);
	file_is(L->store, "d", "dd", 2);
	assert_int_equal(st.dsync_writes, 1);
	assert_int_equal(st.created, 2);
	assert_int_equal(st.dropped, 1);
	/* Torn: every outcome is one the model allows, and over 40 draws the
	 * unsynced write and size change both land and both do not. */
	char a_torn[2 * PW_PAGE + 4];
	memset(a_torn, 0, sizeof a_torn);
	memcpy(a_torn, "AAAA", 4);
	memcpy(a_torn + 2 * PW_PAGE, "BBBB", 4);
	unsigned a_long = 0, b_short = 0, c_kept = 0;
	for (int i = 0; i < 40; i++) {
		assert_int_equal(pw_copy(killed, L->store, why, sizeof why), 0);
		if (pw_cut(L->store, L->snap, L->log, 1, &L->rng, &st, why, sizeof why) != 0)
			fail_msg("torn power cut: %s", why);
		struct stat sa, sb, sc;
		snprintf(p, sizeof p, "%s/a", L->store);
		assert_int_equal(stat(p, &sa), 0);
		snprintf(p, sizeof p, "%s/b", L->store);
		assert_int_equal(stat(p, &sb), 0);
		snprintf(p, sizeof p, "%s/c", L->store);
		int has_c = stat(p, &sc) == 0;
		file_is(L->store, "a", sa.st_size > 4 ? a_torn : "AAAA", sa.st_size > 4 ? sizeof a_torn : 4);
		file_is(L->store, "b", "CCCC", sb.st_size == 2 ? 2 : 4);
		file_is(L->store, "c", has_c ? "new" : NULL, 3);
		file_is(L->store, "d", "dd", 2);
		a_long += sa.st_size > 4;
		b_short += sb.st_size == 2;
		c_kept += has_c;
	}
	print_message("crash/power-model: exact without tearing; torn, 40 draws: the unsynced page "
	              "landed %u times, the unsynced truncation %u, the unsynced name %u\n", a_long,
	              b_short, c_kept);
	assert_true(a_long > 0 && a_long < 40);
	assert_true(b_short > 0 && b_short < 40);
	assert_true(c_kept > 0 && c_kept < 40);
	free(log.acks);
	tu_rmrf(L->dir);
	free(L);
}

static void test_power_loss(void **state)
{
	(void)state;
	power_loop("power", 0, (unsigned)tu_env_ulong("CJ_POWER_CYCLES", 100));
}

static void test_power_loss_torn(void **state)
{
	(void)state;
	power_loop("power-torn", 1, (unsigned)tu_env_ulong("CJ_POWER_TORN_CYCLES", 100));
}

static void test_negative_control_nosync(void **state)
{
	(void)state;
	control_loop("power-control-nosync", SYNC_NOSYNC,
	             (unsigned)tu_env_ulong("CJ_POWER_CONTROL_CYCLES", 10));
}

static void test_negative_control_nometasync(void **state)
{
	(void)state;
	control_loop("power-control-nometasync", SYNC_NOMETASYNC,
	             (unsigned)tu_env_ulong("CJ_POWER_CONTROL_CYCLES", 10));
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "--power-child") == 0)
		child_run(argv); /* never returns */
	if (argc == 7 && strcmp(argv[1], "--power-script") == 0)
		script_run(argv); /* never returns */
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH_OF_libcj_power_shim.so\n", argv[0]);
		return 2;
	}
	g_shim = argv[1];
	preload_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_power_loss),
		cmocka_unit_test(test_power_loss_torn),
		cmocka_unit_test(test_negative_control_nosync),
		cmocka_unit_test(test_negative_control_nometasync),
	};
	return cmocka_run_group_tests_name("crash/power", tests, NULL, NULL);
}
