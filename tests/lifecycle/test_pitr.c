/* tests/lifecycle/test_pitr.c — point-in-time restore against a model at
 * random cut points (docs/reliability.md, P4).
 *
 * The store gets a mixed workload (messages with backdated ts, ids, images
 * naming blobs, blobs nobody names, settings, deletions) in ~1000 small
 * group commits, and the model records what each sequence number holds and
 * which blob it names; the commits table gives each group commit's time.
 * One backup, then restores cut at random sequence numbers and at random
 * times; for each, with c the expected cut:
 *   - the restored journal holds exactly records 1..c, equal to the
 *     original's (type, time, flags, body);
 *   - its projection equals a replay of the original journal up to c (state
 *     hash), and the restored store verifies;
 *   - a blob is there iff a kept image names it;
 *   - an id of a kept event is still known (a retry keeps its sequence
 *     number); an id after the cut is not (a retry is stored anew);
 *   - its commits table is the original's up to c, plus c itself with its
 *     group's time when c splits a group commit.
 * By time, c is computed from the commit times alone (the longest prefix of
 * commits stamped at or before the time); a time before the first commit is
 * refused with a message that says so. Env: CJ_PITR_CUTS (per kind, default
 * 10), CJ_PITR_EVENTS (default 1500), CJ_TEST_SEED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lcutil.h"
#include "testutil.h"
#include "api/store_internal.h"

typedef struct fx {
	tu_fixture base;
	lc_model m;
	uint64_t rng;
	cji_commit *commits;
	size_t ncommits;
	char backup[PATH_MAX];
	unsigned restores;
} fx;

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fx), "pitr", NULL, 0) != 0)
		return -1;
	fx *f = *state;
	f->rng = tu_env_ulong("CJ_TEST_SEED", 0) ? tu_env_ulong("CJ_TEST_SEED", 0) : (tu_now_ns() | 1);
	printf("lifecycle/pitr: seed %llu (CJ_TEST_SEED)\n", (unsigned long long)f->rng);
	char why[512];
	unsigned n = (unsigned)tu_env_ulong("CJ_PITR_EVENTS", 1500);
	if (lc_workload(f->base.s, &f->m, &f->rng, n, why, sizeof why) != 0) {
		fprintf(stderr, "setup: %s\n", why);
		return -1;
	}
	if (cj_wait_applied(f->base.s, f->m.n, 60000) ||
	    cji_commits_list(&f->commits, &f->ncommits, &f->base.s->journal))
		return -1;
	char *out = NULL;
	if (cj_backup(&out, f->base.s, NULL) || lc_backup_path(f->backup, sizeof f->backup, out))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	free(f->commits);
	lc_model_free(&f->m);
	return tu_fixture_teardown(state);
}

/* The group commit that holds seq: index of the first entry >= seq. */
static size_t group_of(const fx *f, uint64_t seq)
{
	size_t i = 0;
	while (i < f->ncommits && f->commits[i].last_seq < seq)
		i++;
	return i;
}

static void compare_journals(cj_store *a, cj_store *b, uint64_t c)
{
	cj_journal_iter *ia, *ib;
	TU_OK(cj_journal_iter_new(&ia, a, 1));
	TU_OK(cj_journal_iter_new(&ib, b, 1));
	uint64_t n = 0;
	for (;;) {
		cj_record ra, rb;
		int x = cj_journal_iter_next(&ra, ia), y = cj_journal_iter_next(&rb, ib);
		assert_true(x >= 0 && y >= 0);
		if (y == 0)
			break;
		assert_int_equal(x, 1);
		assert_int_equal(ra.seq, rb.seq);
		assert_int_equal(ra.type, rb.type);
		assert_int_equal(ra.ts_ms, rb.ts_ms);
		assert_int_equal(ra.flags, rb.flags);
		char *ja = cj_event_to_json(ra.event), *jb = cj_event_to_json(rb.event);
		assert_string_equal(ja, jb);
		cj_free(ja);
		cj_free(jb);
		n++;
	}
	assert_int_equal(n, c);
	cj_journal_iter_free(ia);
	cj_journal_iter_free(ib);
}

static void check_commits(fx *f, cj_store *r, uint64_t c)
{
	cji_commit *v;
	size_t n;
	TU_OK(cji_commits_list(&v, &n, &r->journal));
	size_t k = 0;
	for (size_t i = 0; i < f->ncommits && f->commits[i].last_seq <= c; i++, k++) {
		assert_true(k < n);
		assert_int_equal(v[k].last_seq, f->commits[i].last_seq);
		assert_int_equal(v[k].ms, f->commits[i].ms);
	}
	size_t g = group_of(f, c);
	if (g < f->ncommits && f->commits[g].last_seq != c) {
		/* c splits group g: its first part keeps the group's time. */
		assert_true(k < n);
		assert_int_equal(v[k].last_seq, c);
		assert_int_equal(v[k].ms, f->commits[g].ms);
		k++;
	}
	assert_int_equal(n, k);
	free(v);
}

static void check_blobs(fx *f, cj_store *r, uint64_t c)
{
	for (size_t b = 0; b < f->m.nblobs; b++) {
		int named = 0;
		for (uint64_t s = 0; s < c && !named; s++)
			named = strcmp(f->m.v[s].blob, f->m.blobs[b]) == 0;
		if (cj_blob_exists(r, f->m.blobs[b]) != named)
			fail_msg("blob %s: %s after a cut at %llu", f->m.blobs[b],
			         named ? "missing, though a kept image names it" : "kept, though no kept image names it",
			         (unsigned long long)c);
	}
}

/* A retry of a kept id keeps its number; one after the cut is new. */
static void check_ids(fx *f, cj_store *r, uint64_t c)
{
	uint64_t next = c + 1;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < f->m.n; i++) {
			int kept = i + 1 <= c;
			/* An image after the cut cannot come back: its blob went too. */
			if (!f->m.v[i].id || kept != (pass == 0) || (!kept && f->m.v[i].blob[0]))
				continue;
			cj_event *ev;
			TU_OK(cj_event_parse(&ev, f->m.v[i].json, strlen(f->m.v[i].json)));
			uint64_t seq;
			int rc = cj_journal_append(&seq, r, ev);
			cj_event_free(ev);
			if (rc)
				fail_msg("retry of id %s: %s", f->m.v[i].id, cj_error_last());
			assert_int_equal(seq, kept ? i + 1 : next);
			break;
		}
	}
}

static void restore_and_check(fx *f, const cj_restore_options *o, uint64_t c)
{
	char dest[PATH_MAX], name[32], replay[PATH_MAX + 32], why[512];
	snprintf(name, sizeof name, "r%u", f->restores++);
	tu_path(dest, sizeof dest, f->base.dir, name);
	char *out = NULL;
	TU_OK(cj_restore(&out, f->backup, dest, o));
	json_t *rep = lc_json(out);
	assert_int_equal(json_integer_value(json_object_get(rep, "last_seq")), (json_int_t)c);
	assert_int_equal(json_integer_value(json_object_get(rep, "position")), (json_int_t)c);
	json_decref(rep);
	if (lc_verify_store(dest, why, sizeof why) != 0)
		fail_msg("cut at %llu: %s", (unsigned long long)c, why);
	/* The projection: that of the original journal up to c. */
	snprintf(replay, sizeof replay, "%s.replay.sqlite", dest);
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.out_path = replay;
	ro.up_to = c;
	TU_OK(cj_projection_replay(f->base.s, &ro));
	char want[33], got[33];
	TU_OK(cj_projection_hash(want, NULL, replay));
	TU_OK(lc_store_hash(got, dest));
	if (strcmp(want, got) != 0) {
		char live[PATH_MAX], *diff = NULL;
		tu_path(live, sizeof live, dest, "chat.sqlite");
		cj_projection_diff(&diff, live, replay);
		fail_msg("cut at %llu: the projection differs from a replay to %llu: %s",
		         (unsigned long long)c, (unsigned long long)c, diff ? diff : "?");
	}
	unlink(replay);
	cj_store *r;
	TU_OK(cj_store_open(&r, dest, NULL));
	uint64_t last;
	TU_OK(cj_journal_last_seq(&last, r));
	assert_int_equal(last, c);
	compare_journals(f->base.s, r, c);
	check_commits(f, r, c);
	check_blobs(f, r, c);
	check_ids(f, r, c);
	cj_store_close(r);
	tu_rmrf(dest);
}

static void test_cut_by_sequence(void **state)
{
	fx *f = *state;
	unsigned cuts = (unsigned)tu_env_ulong("CJ_PITR_CUTS", 10);
	for (unsigned k = 0; k < cuts + 2; k++) {
		uint64_t c = k == 0 ? 1 : k == 1 ? f->m.n : 1 + tu_rand(&f->rng) % f->m.n;
		cj_restore_options o = CJ_RESTORE_OPTIONS_INIT;
		o.until_seq = c;
		restore_and_check(f, &o, c);
	}
	/* Past the backup's end: refused, naming it. */
	cj_restore_options o = CJ_RESTORE_OPTIONS_INIT;
	o.until_seq = f->m.n + 1;
	char dest[PATH_MAX];
	tu_path(dest, sizeof dest, f->base.dir, "past");
	TU_RC(cj_restore(NULL, f->backup, dest, &o), CJ_EINVAL);
	assert_true(tu_msg_names_number(cj_error_last(), f->m.n));
}

/* The model's cut for a time: the longest prefix of commits stamped <= t. */
static uint64_t model_cut(const fx *f, int64_t t)
{
	uint64_t c = 0;
	for (size_t i = 0; i < f->ncommits && f->commits[i].ms <= t; i++)
		c = f->commits[i].last_seq;
	return c;
}

static void test_cut_by_time(void **state)
{
	fx *f = *state;
	assert_true(f->ncommits > 50);
	assert_int_equal(f->commits[f->ncommits - 1].last_seq, f->m.n);
	unsigned cuts = (unsigned)tu_env_ulong("CJ_PITR_CUTS", 10);
	size_t distinct = 0;
	for (size_t i = 1; i < f->ncommits; i++)
		distinct += f->commits[i].ms != f->commits[i - 1].ms;
	assert_true(distinct > 10); /* the workload's naps make times differ */
	for (unsigned k = 0; k < cuts + 1; k++) {
		int64_t t;
		if (k == 0) {
			t = f->commits[f->ncommits - 1].ms + 60000; /* after the last: everything */
		} else {
			size_t i = (size_t)(tu_rand(&f->rng) % f->ncommits);
			int64_t gap = i + 1 < f->ncommits ? f->commits[i + 1].ms - f->commits[i].ms : 1;
			t = f->commits[i].ms + (gap > 0 ? (int64_t)(tu_rand(&f->rng) % (uint64_t)gap) : 0);
		}
		uint64_t c = model_cut(f, t);
		assert_true(c > 0);
		cj_restore_options o = CJ_RESTORE_OPTIONS_INIT;
		o.until_time = 1;
		o.until_ms = t;
		restore_and_check(f, &o, c);
	}
	/* Before the first commit: refused, and nothing made. */
	cj_restore_options o = CJ_RESTORE_OPTIONS_INIT;
	o.until_time = 1;
	o.until_ms = f->commits[0].ms - 1;
	char dest[PATH_MAX];
	tu_path(dest, sizeof dest, f->base.dir, "too-early");
	TU_RC(cj_restore(NULL, f->backup, dest, &o), CJ_EINVAL);
	assert_non_null(strstr(cj_error_last(), "first recorded"));
	assert_int_equal(lc_count_temps(f->base.dir), 0);
	/* The text form of a time, as the CLI passes it. */
	int64_t ms;
	TU_OK(cj_time_parse(&ms, "2025-01-02T05:04:05.5+02:00"));
	assert_int_equal(ms, 1735787045500LL);
	TU_RC(cj_time_parse(&ms, "yesterday"), CJ_EINVAL);
	assert_non_null(strstr(cj_error_last(), "yesterday"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cut_by_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_by_time, setup, teardown),
	};
	return cmocka_run_group_tests_name("lifecycle/pitr", tests, NULL, NULL);
}
