/* tests/lifecycle/test_backup.c — backups and restores of a quiet store
 * (docs/reliability.md, P4): what a backup holds and its modes, restore
 * whole (verify passes, the projection catches up, the data is the same),
 * refusals (a non-empty destination, one flipped byte in any file of the
 * backup, named), listing and pruning with an explicit clock, leftovers of
 * dead processes, backups of a read-only handle. Env: CJ_BACKUP_FLIPS
 * (flipped bytes per file, default 4), CJ_TEST_SEED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lcutil.h"
#include "testutil.h"

typedef struct fx {
	tu_fixture base;
	lc_model m;
	uint64_t rng;
} fx;

static int setup(void **state)
{
	umask(022); /* modes must not depend on it */
	if (tu_fixture_setup_ex(state, sizeof(fx), "backup", NULL, 0) != 0)
		return -1;
	fx *f = *state;
	f->rng = tu_env_ulong("CJ_TEST_SEED", 0) ? tu_env_ulong("CJ_TEST_SEED", 0) : (tu_now_ns() | 1);
	char why[512];
	if (lc_workload(f->base.s, &f->m, &f->rng, 600, why, sizeof why) != 0) {
		fprintf(stderr, "setup: %s\n", why);
		return -1;
	}
	uint64_t last;
	if (cj_journal_last_seq(&last, f->base.s) || cj_wait_applied(f->base.s, last, 30000))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	lc_model_free(&f->m);
	return tu_fixture_teardown(state);
}

static void take(fx *f, char *path, size_t n, json_t **manifest)
{
	char *out = NULL;
	TU_OK(cj_backup(&out, f->base.s, NULL));
	json_t *m = json_loads(out, 0, NULL);
	assert_int_equal(lc_backup_path(path, n, out), 0);
	if (manifest)
		*manifest = m;
	else
		json_decref(m);
}

static void dest_path(char *out, size_t n, fx *f, const char *name)
{
	tu_path(out, n, f->base.dir, name);
}

/* ---- what a backup holds ---------------------------------------------------- */

static void test_manifest_and_modes(void **state)
{
	fx *f = *state;
	char bk[PATH_MAX], why[512];
	json_t *m;
	take(f, bk, sizeof bk, &m);
	uint64_t last;
	TU_OK(cj_journal_last_seq(&last, f->base.s));
	json_t *j = json_object_get(m, "journal"), *p = json_object_get(m, "projection");
	assert_int_equal(json_integer_value(json_object_get(m, "format_version")), 1);
	assert_string_equal(json_string_value(json_object_get(m, "chatjournal_version")), cj_version());
	assert_int_equal(json_integer_value(json_object_get(j, "last_seq")), (json_int_t)last);
	assert_int_equal(json_integer_value(json_object_get(j, "format_version")), 4);
	assert_int_equal(json_integer_value(json_object_get(p, "position")), (json_int_t)last);
	assert_true(json_integer_value(json_object_get(p, "schema_version")) >= 2);
	int64_t created;
	TU_OK(cj_time_parse(&created, json_string_value(json_object_get(m, "created"))));
	/* The name says when and up to where. */
	char want[64];
	snprintf(want, sizeof want, "-seq%llu", (unsigned long long)last);
	assert_non_null(strstr(bk, want));
	assert_int_equal(json_array_size(json_object_get(m, "files")), 3); /* no tokens.json yet */
	assert_int_equal(lc_check_modes(bk, why, sizeof why), 0);
	/* Nothing but the backup in the folder: no temporary left. */
	char dir[PATH_MAX];
	tu_path(dir, sizeof dir, f->base.store, "backups");
	assert_int_equal(lc_count_temps(dir), 0);
	char *report = NULL;
	TU_OK(cj_backup_verify(&report, bk, NULL, NULL));
	json_t *r = lc_json(report);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_true(json_is_true(json_object_get(r, "equal")));
	json_decref(r);
	/* verify wrote nothing into the backup (no lock file, no -wal). */
	char lock[PATH_MAX + 32];
	snprintf(lock, sizeof lock, "%s/journal/lock.mdb", bk);
	assert_false(tu_find_file(bk, "lock.mdb", lock, sizeof lock) == 0);
	assert_false(tu_find_file(bk, "chat.sqlite-wal", lock, sizeof lock) == 0);
	json_decref(m);
}

/* ---- restore whole -------------------------------------------------------------- */

static void test_restore_whole(void **state)
{
	fx *f = *state;
	char token[CJ_TOKEN_MAX];
	TU_OK(cj_token_add(token, f->base.store, 1, "restore test"));
	char bk[PATH_MAX], dest[PATH_MAX], why[512];
	take(f, bk, sizeof bk, NULL);
	dest_path(dest, sizeof dest, f, "restored");
	char *report = NULL;
	TU_OK(cj_restore(&report, bk, dest, NULL));
	json_t *r = lc_json(report);
	assert_true(json_is_false(json_object_get(r, "cut")));
	assert_true(json_is_true(json_object_get(r, "tokens")));
	json_decref(r);
	assert_int_equal(lc_check_modes(dest, why, sizeof why), 0);
	if (lc_verify_store(dest, why, sizeof why) != 0)
		fail_msg("restored store: %s", why);
	/* The same data: projections built from the same journal hash alike. */
	char a[33], b[33];
	TU_OK(lc_store_hash(a, f->base.store));
	cj_store *s;
	TU_OK(cj_store_open(&s, dest, NULL));
	uint64_t last;
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, f->m.n);
	TU_OK(cj_wait_applied(s, last, 30000));
	/* Idempotency keys came along: a retry keeps its sequence number. */
	for (size_t i = 0; i < f->m.n; i++) {
		if (!f->m.v[i].id)
			continue;
		cj_event *ev;
		TU_OK(cj_event_parse(&ev, f->m.v[i].json, strlen(f->m.v[i].json)));
		uint64_t seq;
		TU_OK(cj_journal_append(&seq, s, ev));
		cj_event_free(ev);
		assert_int_equal(seq, i + 1);
		break;
	}
	for (size_t i = 0; i < f->m.nblobs; i++)
		assert_int_equal(cj_blob_exists(s, f->m.blobs[i]), 1);
	cj_store_close(s);
	TU_OK(lc_store_hash(b, dest));
	assert_string_equal(a, b);
	/* The token works in the restored store. */
	cj_token_set *ts;
	TU_OK(cj_token_set_open(&ts, dest));
	cj_token_grant grant;
	assert_int_equal(cj_token_set_check(&grant, ts, token), 1);
	cj_token_set_free(ts);
	/* ... unless left out. */
	char dest2[PATH_MAX];
	dest_path(dest2, sizeof dest2, f, "no-tokens");
	cj_restore_options o = CJ_RESTORE_OPTIONS_INIT;
	o.without_tokens = 1;
	TU_OK(cj_restore(NULL, bk, dest2, &o));
	char tok[PATH_MAX];
	tu_path(tok, sizeof tok, dest2, "tokens.json");
	assert_false(tu_find_file(dest2, "tokens.json", tok, sizeof tok) == 0);
}

/* A backup of a store whose projection lags: restore, then the first
 * read-write open catches up (L+1..J). */
static void test_restore_lagging_projection(void **state)
{
	fx *f = *state;
	cj_store_close(f->base.s);
	f->base.s = NULL;
	/* Append with a read-write handle whose materializer never runs: a
	 * read-only handle cannot append, so write the journal through a second
	 * store's worth of appends and remove the projection's progress by
	 * backing up from a read-only handle opened before the catch-up. */
	cj_store *rw;
	TU_OK(cj_store_open(&rw, f->base.store, NULL));
	char why[512];
	assert_int_equal(lc_workload(rw, &f->m, &f->rng, 50, why, sizeof why), 0);
	cj_store *ro;
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.read_only = 1;
	TU_OK(cj_store_open(&ro, f->base.store, &o));
	char *out = NULL;
	TU_OK(cj_backup(&out, ro, NULL));
	cj_store_close(ro);
	cj_store_close(rw);
	char bk[PATH_MAX], dest[PATH_MAX];
	json_t *m = json_loads(out, 0, NULL);
	assert_int_equal(lc_backup_path(bk, sizeof bk, out), 0);
	uint64_t last = (uint64_t)json_integer_value(json_object_get(json_object_get(m, "journal"), "last_seq"));
	uint64_t pos = (uint64_t)json_integer_value(json_object_get(json_object_get(m, "projection"), "position"));
	json_decref(m);
	assert_true(pos <= last);
	assert_int_equal(last, f->m.n);
	dest_path(dest, sizeof dest, f, "lagging");
	TU_OK(cj_restore(NULL, bk, dest, NULL));
	if (lc_verify_store(dest, why, sizeof why) != 0)
		fail_msg("restored: %s", why);
	cj_store *s;
	TU_OK(cj_store_open(&s, dest, NULL));
	TU_OK(cj_wait_applied(s, last, 30000));
	cj_store_close(s);
	if (lc_verify_store(dest, why, sizeof why) != 0)
		fail_msg("after catching up: %s", why);
	TU_OK(cj_store_open(&f->base.s, f->base.store, NULL));
}

static void test_restore_destinations(void **state)
{
	fx *f = *state;
	char bk[PATH_MAX], dest[PATH_MAX], file[PATH_MAX + 16];
	take(f, bk, sizeof bk, NULL);
	/* A non-empty folder is refused and left as it was. */
	dest_path(dest, sizeof dest, f, "busy");
	assert_int_equal(mkdir(dest, 0755), 0);
	snprintf(file, sizeof file, "%s/keep.txt", dest);
	FILE *fp = fopen(file, "w");
	assert_non_null(fp);
	fputs("mine\n", fp);
	fclose(fp);
	TU_RC(cj_restore(NULL, bk, dest, NULL), CJ_EEXIST);
	assert_non_null(strstr(cj_error_last(), "not empty"));
	assert_int_equal(tu_find_file(dest, "keep.txt", file, sizeof file), 0);
	/* A file is refused. */
	TU_RC(cj_restore(NULL, bk, file, NULL), CJ_EEXIST);
	/* A missing parent is refused. */
	dest_path(dest, sizeof dest, f, "no/such/parent");
	TU_RC(cj_restore(NULL, bk, dest, NULL), CJ_ENOTFOUND);
	/* An empty folder is fine, and becomes 0700. */
	dest_path(dest, sizeof dest, f, "empty");
	assert_int_equal(mkdir(dest, 0755), 0);
	TU_OK(cj_restore(NULL, bk, dest, NULL));
	char why[512];
	assert_int_equal(lc_check_modes(dest, why, sizeof why), 0);
	/* Not a backup. */
	TU_RC(cj_restore(NULL, f->base.dir, dest, NULL), CJ_ENOTFOUND);
	/* Both cuts at once. */
	cj_restore_options o = CJ_RESTORE_OPTIONS_INIT;
	o.until_seq = 3;
	o.until_time = 1;
	TU_RC(cj_restore(NULL, bk, dest, &o), CJ_EINVAL);
	/* Nothing of a refused restore is left beside the destination. */
	assert_int_equal(lc_count_temps(f->base.dir), 0);
}

/* ---- one flipped byte -------------------------------------------------------------- */

static void flip_each(fx *f, const char *bk, const char *name, unsigned flips)
{
	char path[PATH_MAX];
	tu_path(path, sizeof path, bk, name);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	for (unsigned i = 0; i < flips; i++) {
		char copy[PATH_MAX], file[PATH_MAX], dest[PATH_MAX];
		dest_path(copy, sizeof copy, f, "flipped");
		dest_path(dest, sizeof dest, f, "from-flipped");
		tu_rmrf(copy);
		tu_rmrf(dest);
		assert_int_equal(lc_copy_tree(bk, copy), 0);
		tu_path(file, sizeof file, copy, name);
		uint64_t off = tu_rand(&f->rng) % (uint64_t)st.st_size;
		unsigned char mask = (unsigned char)(1u << (tu_rand(&f->rng) % 8));
		assert_int_equal(lc_flip_byte(file, off, mask), 0);
		char *report = NULL;
		int rc = cj_backup_verify(&report, copy, NULL, NULL);
		cj_free(report);
		if (rc != CJ_ECORRUPT && rc != CJ_EVERSION)
			fail_msg("%s byte %llu ^ %02x: verify returned %d: %s", name, (unsigned long long)off,
			         mask, rc, cj_error_last());
		if (!strstr(cj_error_last(), name))
			fail_msg("%s byte %llu: verify does not name the file: %s", name,
			         (unsigned long long)off, cj_error_last());
		rc = cj_restore(NULL, copy, dest, NULL);
		if (rc != CJ_ECORRUPT && rc != CJ_EVERSION)
			fail_msg("%s byte %llu: restore returned %d: %s", name, (unsigned long long)off, rc,
			         cj_error_last());
		if (!strstr(cj_error_last(), name))
			fail_msg("%s byte %llu: restore does not name the file: %s", name,
			         (unsigned long long)off, cj_error_last());
		assert_false(tu_find_file(f->base.dir, "from-flipped", file, sizeof file) == 0);
		struct stat ds;
		assert_int_equal(stat(dest, &ds), -1); /* nothing made */
	}
}

static void test_flipped_byte_in_each_file(void **state)
{
	fx *f = *state;
	char token[CJ_TOKEN_MAX];
	TU_OK(cj_token_add(token, f->base.store, 0, NULL));
	char bk[PATH_MAX];
	json_t *m;
	take(f, bk, sizeof bk, &m);
	unsigned flips = (unsigned)tu_env_ulong("CJ_BACKUP_FLIPS", 4);
	size_t i;
	json_t *file;
	size_t nfiles = json_array_size(json_object_get(m, "files"));
	assert_int_equal(nfiles, 4);
	json_array_foreach(json_object_get(m, "files"), i, file)
		flip_each(f, bk, json_string_value(json_object_get(file, "name")), flips);
	flip_each(f, bk, "MANIFEST.json", flips * 4);
	json_decref(m);
	/* The untouched backup is still sound. */
	TU_OK(cj_backup_verify(NULL, bk, NULL, NULL));
}

/* ---- list, prune, leftovers --------------------------------------------------- */

static pid_t dead_pid(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return p;
}

static void make_temp(const char *dir, const char *kind, long pid, int old)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/.tmp-%s-%ld-7", dir, kind, pid);
	assert_true(n > 0 && (size_t)n < sizeof path);
	assert_int_equal(mkdir(path, 0700), 0);
	char inner[PATH_MAX + 16];
	snprintf(inner, sizeof inner, "%s/chat.sqlite", path);
	FILE *fp = fopen(inner, "w");
	assert_non_null(fp);
	fclose(fp);
	if (old) {
		struct timeval tv[2] = { { 1000, 0 }, { 1000, 0 } };
		assert_int_equal(utimes(path, tv), 0);
	}
}

static json_t *list(const char *path)
{
	char *out = NULL;
	TU_OK(cj_backup_list(&out, path));
	json_t *a = lc_json(out);
	assert_true(json_is_array(a));
	return a;
}

static void test_list_prune_leftovers(void **state)
{
	fx *f = *state;
	char dir[PATH_MAX], bk[3][PATH_MAX];
	tu_path(dir, sizeof dir, f->base.store, "backups");
	/* Leftovers: a dead process's, one of "ours" no longer in progress, a
	 * live process's (our parent) and an old one of that live process. */
	make_temp(dir, "backup", (long)dead_pid(), 0);
	make_temp(dir, "prune", (long)getpid(), 0);
	make_temp(dir, "backup", (long)getppid(), 0);
	make_temp(dir, "restore", (long)getppid() , 1);
	for (int i = 0; i < 3; i++)
		take(f, bk[i], sizeof bk[i], NULL);
	/* The backup removed the dead ones, kept the live one. */
	assert_int_equal(lc_count_temps(dir), 1);
	json_t *a = list(f->base.store);
	assert_int_equal(json_array_size(a), 3);
	int64_t created[3];
	for (int i = 0; i < 3; i++) {
		json_t *e = json_array_get(a, (size_t)i);
		assert_string_equal(json_string_value(json_object_get(e, "path")), bk[i]);
		TU_OK(cj_time_parse(&created[i], json_string_value(json_object_get(e, "created"))));
		assert_true(json_is_true(json_object_get(e, "ok")));
	}
	json_decref(a);
	/* The same through the folder itself. */
	a = list(dir);
	assert_int_equal(json_array_size(a), 3);
	json_decref(a);
	/* A damaged manifest is listed as such and never pruned. */
	char dmg[PATH_MAX], mf[PATH_MAX + 32];
	tu_path(dmg, sizeof dmg, dir, "damaged");
	assert_int_equal(lc_copy_tree(bk[0], dmg), 0);
	snprintf(mf, sizeof mf, "%s/MANIFEST.json", dmg);
	assert_int_equal(lc_flip_byte(mf, 40, 0x01), 0);
	a = list(dir);
	assert_int_equal(json_array_size(a), 4);
	json_t *d = json_array_get(a, 0);
	assert_true(json_is_false(json_object_get(d, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(d, "error")), "MANIFEST.json"));
	json_decref(a);
	/* The store's retention (7 days by default): 6 days later nothing goes. */
	char *out = NULL;
	TU_OK(cj_backup_prune(&out, f->base.store, -1, created[2] + 6 * 86400000LL));
	json_t *r = lc_json(out);
	assert_int_equal(json_array_size(json_object_get(r, "removed")), 0);
	json_decref(r);
	/* A folder that is not a store has no retention setting. */
	TU_RC(cj_backup_prune(NULL, dir, -1, 0), CJ_EINVAL);
	/* 8 days later all but the newest go, however old it is. */
	TU_OK(cj_backup_prune(&out, f->base.store, -1, created[2] + 8 * 86400000LL));
	r = lc_json(out);
	assert_int_equal(json_array_size(json_object_get(r, "removed")), 2);
	assert_int_equal(json_array_size(json_object_get(r, "kept")), 2); /* newest + damaged */
	json_decref(r);
	a = list(dir);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "path")), bk[2]);
	json_decref(a);
	/* The live process's leftover too: on prune's clock it is 8 days old,
	 * past the 24-hour bound that guards against reused PIDs. */
	assert_int_equal(lc_count_temps(dir), 0);
	/* keep_days 0 with an explicit clock: still the newest stays. */
	TU_OK(cj_backup_prune(NULL, dir, 0, created[2] + 1));
	a = list(dir);
	assert_int_equal(json_array_size(a), 2);
	json_decref(a);
	/* A backup elsewhere, --to DIR made on the way. */
	char other[PATH_MAX];
	dest_path(other, sizeof other, f, "elsewhere");
	cj_backup_options o = CJ_BACKUP_OPTIONS_INIT;
	o.dir = other;
	TU_OK(cj_backup(&out, f->base.s, &o));
	cj_free(out);
	char why[512];
	assert_int_equal(lc_check_modes(other, why, sizeof why), 0);
	a = list(other);
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);
}

/* A read-only handle backs up too (the CLI's way beside a server). */
static void test_read_only_handle(void **state)
{
	fx *f = *state;
	cj_store *ro;
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.read_only = 1;
	TU_OK(cj_store_open(&ro, f->base.store, &o));
	char *out = NULL;
	TU_OK(cj_backup(&out, ro, NULL));
	cj_store_close(ro);
	char bk[PATH_MAX], dest[PATH_MAX], why[512];
	assert_int_equal(lc_backup_path(bk, sizeof bk, out), 0);
	TU_OK(cj_backup_verify(NULL, bk, NULL, NULL));
	dest_path(dest, sizeof dest, f, "from-ro");
	TU_OK(cj_restore(NULL, bk, dest, NULL));
	if (lc_verify_store(dest, why, sizeof why) != 0)
		fail_msg("%s", why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_manifest_and_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_lagging_projection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_destinations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_byte_in_each_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_prune_leftovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_handle, setup, teardown),
	};
	return cmocka_run_group_tests_name("lifecycle/backup", tests, NULL, NULL);
}
