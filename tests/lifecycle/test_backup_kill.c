/* tests/lifecycle/test_backup_kill.c — kill -9 during backups
 * (docs/reliability.md, P4), with the crash tests' fork/pipe harness.
 *
 * Each cycle forks a child that opens the store read-write, starts a thread
 * appending batches (a hot store), says "O", takes one backup and says
 * "D PATH". The parent kills it at a random moment of the backup (uniform
 * over twice the duration of an uncut backup, measured first; every
 * 10th cycle within 2 ms of "O"), then checks:
 *   - every backup `cj_backup_list` shows is whole: its manifest is sound,
 *     every file of every new one has its size and checksum (every 10th new
 *     one passes cj_backup_verify: the state too), a completed one is listed;
 *   - at most one temporary folder is left (the killed child's): the next
 *     backup removes it before making its own;
 *   - the store itself still verifies at the end.
 * Every 20 cycles a prune (keep_days 0) bounds the disk used. At the end a
 * prune leaves no temporary folder. Env: CJ_BACKUP_KILL_CYCLES (default
 * 100; soak 1000), CJ_BACKUP_KILL_EVENTS (store size, default 10000; 3000 under ASan),
 * CJ_CRASH_SEED. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "lcutil.h"
#include "testutil.h"
/* Checksums alone for most backups: the full verify replays the journal. */
#include "api/backup_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

typedef struct kctx {
	const char *store;
	int opened, done;
	uint64_t opened_ns, done_ns;
	char path[PATH_MAX];
} kctx;

/* ---- the child -------------------------------------------------------------- */

static _Atomic int child_stop;

static void *append_loop(void *arg)
{
	cj_store *s = arg;
	uint64_t rng = (uint64_t)getpid() * 2654435761u | 1;
	char why[256];
	while (!atomic_load(&child_stop))
		if (lc_workload(s, NULL, &rng, 10, why, sizeof why) != 0)
			break;
	return NULL;
}

static void child(void *arg, int fd)
{
	kctx *k = arg;
	cj_store *s;
	if (cj_store_open(&s, k->store, NULL) != 0) {
		ch_sayf(fd, "E open: %s\n", cj_error_last());
		_exit(3);
	}
	pthread_t t;
	if (pthread_create(&t, NULL, append_loop, s) != 0)
		_exit(4);
	ch_say(fd, "O\n", 2);
	char *out = NULL;
	if (cj_backup(&out, s, NULL) != 0) {
		ch_sayf(fd, "E backup: %s\n", cj_error_last());
		_exit(3);
	}
	char path[PATH_MAX];
	if (lc_backup_path(path, sizeof path, out) != 0)
		_exit(3);
	ch_sayf(fd, "D %s\n", path);
	atomic_store(&child_stop, 1);
	pthread_join(t, NULL);
	cj_store_close(s);
	_exit(0);
}

/* ---- the parent ------------------------------------------------------------- */

static void on_line(void *ctx, const char *line)
{
	kctx *k = ctx;
	if (line[0] == 'O') {
		k->opened = 1;
		k->opened_ns = tu_now_ns();
	} else if (line[0] == 'D') {
		k->done = 1;
		k->done_ns = tu_now_ns();
		snprintf(k->path, sizeof k->path, "%s", line + 2);
	} else if (line[0] == 'E') {
		fprintf(stderr, "child: %s\n", line + 2);
	}
}

static int want_open(void *ctx) { return ((kctx *)ctx)->opened; }
static int want_done(void *ctx) { return ((kctx *)ctx)->done; }

/* Paths already verified, so that each backup is verified once. */
typedef struct seen {
	char (*v)[PATH_MAX];
	size_t n, cap;
} seen;

static int seen_has(const seen *s, const char *p)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], p) == 0)
			return 1;
	return 0;
}

static void seen_add(seen *s, const char *p)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, s->cap * sizeof *s->v);
		assert_non_null(s->v);
	}
	snprintf(s->v[s->n++], PATH_MAX, "%s", p);
}

/* Every listed backup is whole; a new one is verified. */
static size_t check_listed(const char *store, seen *verified, const kctx *k, unsigned cycle)
{
	char *out = NULL;
	TU_OK(cj_backup_list(&out, store));
	json_t *a = lc_json(out);
	assert_true(json_is_array(a));
	size_t i, found = 0;
	json_t *e;
	json_array_foreach(a, i, e) {
		const char *p = json_string_value(json_object_get(e, "path"));
		if (!json_is_true(json_object_get(e, "ok")))
			fail_msg("cycle %u: a listed backup is not whole: %s: %s", cycle, p,
			         json_string_value(json_object_get(e, "error")));
		if (k->done && strcmp(p, k->path) == 0)
			found = 1;
		if (seen_has(verified, p))
			continue;
		/* Whole: the manifest and every file as it says; every 10th new
		 * backup also the state (a replay of its journal). */
		cji_manifest m;
		int rc = cji_manifest_read(&m, NULL, p);
		if (!rc)
			rc = verified->n % 10 == 0 ? cj_backup_verify(NULL, p, NULL, NULL)
			                           : cji_manifest_check_files(&m, p, NULL, NULL, NULL, 0, 0);
		if (rc)
			fail_msg("cycle %u: listed backup %s fails verify: %s", cycle, p, cj_error_last());
		seen_add(verified, p);
	}
	if (k->done && !found)
		fail_msg("cycle %u: the completed backup %s is not listed", cycle, k->path);
	size_t n = json_array_size(a);
	json_decref(a);
	return n;
}

static uint64_t calibrate(kctx *k)
{
	uint64_t total = 0;
	for (int i = 0; i < 3; i++) {
		ch_child c;
		memset(k->path, 0, sizeof k->path);
		k->opened = k->done = 0;
		assert_int_equal(ch_spawn(&c, child, k), 0);
		ch_pump(&c, tu_now_ns() + 60000000000ull, on_line, want_done, k);
		int status;
		ch_kill(&c, &status, on_line, k);
		if (!k->done)
			fail_msg("calibration: the backup did not complete");
		total += k->done_ns - k->opened_ns;
	}
	return total / 3;
}

static void test_kill_during_backup(void **state)
{
	tu_fixture *f = *state;
	unsigned cycles = (unsigned)tu_env_ulong("CJ_BACKUP_KILL_CYCLES", 100);
	unsigned events = (unsigned)tu_env_ulong("CJ_BACKUP_KILL_EVENTS", UNDER_ASAN ? 3000 : 10000);
	uint64_t rng = ch_seed();
	printf("lifecycle/kill9: seed %llu (CJ_CRASH_SEED), %u cycles\n", (unsigned long long)rng, cycles);
	char why[512], dir[PATH_MAX];
	assert_int_equal(lc_workload(f->s, NULL, &rng, events, why, sizeof why), 0);
	cj_store_close(f->s);
	f->s = NULL;
	tu_path(dir, sizeof dir, f->store, "backups");
	kctx k;
	memset(&k, 0, sizeof k);
	k.store = f->store;
	uint64_t span = calibrate(&k);
	printf("lifecycle/kill9: an uncut backup takes %.1f ms\n", (double)span / 1e6);
	seen verified = { NULL, 0, 0 };
	unsigned completed = 0, killed = 0, leftovers_seen = 0;
	for (unsigned c = 0; c < cycles; c++) {
		ch_child ch;
		k.opened = k.done = 0;
		k.path[0] = '\0';
		assert_int_equal(ch_spawn(&ch, child, &k), 0);
		if (!ch_pump(&ch, tu_now_ns() + 60000000000ull, on_line, want_open, &k)) {
			ch_abandon(&ch);
			fail_msg("cycle %u: the child did not open the store", c);
		}
		uint64_t wait = c % 10 == 9 ? tu_rand(&rng) % 2000000u
		                            : tu_rand(&rng) % (2 * span + 1);
		ch_pump(&ch, tu_now_ns() + wait, on_line, want_done, &k);
		int status;
		int rc = ch_kill(&ch, &status, on_line, &k);
		assert_true(rc >= 0);
		if (rc == 1)
			killed++;
		if (k.done)
			completed++;
		int temps = lc_count_temps(dir);
		if (temps > 1)
			fail_msg("cycle %u: %d temporary folders in %s: a leftover was not removed", c, temps, dir);
		leftovers_seen += (unsigned)temps;
		check_listed(f->store, &verified, &k, c);
		if (c % 20 == 19)
			TU_OK(cj_backup_prune(NULL, f->store, 0, 0));
	}
	char *out = NULL;
	TU_OK(cj_backup_prune(&out, f->store, 0, 0));
	cj_free(out);
	assert_int_equal(lc_count_temps(dir), 0);
	printf("lifecycle/kill9: %u cycles, %u kills, %u backups completed, %u leftovers seen (each "
	       "removed by the next backup), %zu backups checked\n", cycles, killed, completed,
	       leftovers_seen, verified.n);
	/* The newest backup in full. */
	char *last = NULL;
	TU_OK(cj_backup_list(&last, f->store));
	json_t *a = lc_json(last);
	if (json_array_size(a))
		TU_OK(cj_backup_verify(NULL, json_string_value(json_object_get(
			json_array_get(a, json_array_size(a) - 1), "path")), NULL, NULL));
	json_decref(a);
	free(verified.v);
	assert_true(killed > cycles / 2);
	if (lc_verify_store(f->store, why, sizeof why) != 0)
		fail_msg("the store: %s", why);
}

static int setup(void **state)
{
	return tu_fixture_setup(state, "backup-kill", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill_during_backup, setup, tu_fixture_teardown),
	};
	return cmocka_run_group_tests_name("lifecycle/kill9", tests, NULL, NULL);
}
