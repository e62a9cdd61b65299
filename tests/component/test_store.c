/* tests/component/test_store.c — store lifecycle against real files: init,
 * open, close, the errors of a second init and of a missing store, private
 * modes under umask 022, and persistence of the journal across reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "chatjournal/query.h"
#include "testutil.h"

/* The tests make (or fail to make) the store at f->store themselves. */
typedef tu_fixture fixture;

static int setup(void **state)
{
	return tu_fixture_setup_ex(state, sizeof(fixture), "store", NULL, TU_FIXTURE_NO_STORE);
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

static void append_n(cj_store *s, const char *thread, unsigned n, uint64_t first_expected)
{
	for (unsigned i = 0; i < n; i++) {
		char content[64];
		snprintf(content, sizeof content, "%s message %u", thread, i);
		cj_event *ev = tu_message(thread, content, NULL, 0);
		assert_non_null(ev);
		uint64_t seq = 0;
		TU_OK(cj_journal_append(&seq, s, ev));
		assert_int_equal(seq, first_expected + i);
		cj_event_free(ev);
	}
}

static void test_init_open_close(void **state)
{
	fixture *f = *state;
	TU_OK(cj_store_init(f->store, NULL));
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->store, NULL));
	assert_non_null(s);
	assert_string_equal(cj_store_path(s), f->store);
	uint64_t last = 99;
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, 0);
	const cj_limits *lim = cj_store_limits(s);
	assert_non_null(lim);
	assert_int_equal(lim->max_content, (size_t)1 << 20);
	cj_store_close(s);
	cj_store_close(NULL); /* documented to accept NULL */
}

static void test_init_twice_is_eexist(void **state)
{
	fixture *f = *state;
	TU_OK(cj_store_init(f->store, NULL));
	cj_error_clear();
	TU_RC(cj_store_init(f->store, NULL), CJ_EEXIST);
	assert_true(strlen(cj_error_last()) > 0);
	/* The failed init must not have damaged the existing store. */
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->store, NULL));
	append_n(s, "t", 3, 1);
	cj_store_close(s);
	TU_RC(cj_store_init(f->store, NULL), CJ_EEXIST);
	TU_OK(cj_store_open(&s, f->store, NULL));
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, 3);
	cj_store_close(s);
}

static void test_open_missing_is_enotfound(void **state)
{
	fixture *f = *state;
	cj_store *s = NULL;
	cj_error_clear();
	TU_RC(cj_store_open(&s, f->store, NULL), CJ_ENOTFOUND);
	assert_true(strlen(cj_error_last()) > 0);
	/* The failed open must not have created anything. */
	struct stat st;
	assert_int_equal(lstat(f->store, &st), -1);

	/* An existing folder that is not a store is "not found" too. */
	assert_int_equal(mkdir(f->store, 0700), 0);
	TU_RC(cj_store_open(&s, f->store, NULL), CJ_ENOTFOUND);
	DIR *d = opendir(f->store);
	assert_non_null(d);
	int entries = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			entries++;
	closedir(d);
	assert_int_equal(entries, 0);
}

typedef struct mode_walk {
	unsigned files, dirs;
	char bad[PATH_MAX + 64];
} mode_walk;

static void walk_modes(const char *path, mode_walk *w)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		snprintf(w->bad, sizeof w->bad, "cannot stat %s", path);
		return;
	}
	unsigned mode = (unsigned)(st.st_mode & 07777);
	if (S_ISDIR(st.st_mode)) {
		w->dirs++;
		if (mode != 0700 && !w->bad[0])
			snprintf(w->bad, sizeof w->bad, "folder %s has mode %04o", path, mode);
		DIR *d = opendir(path);
		if (!d)
			return;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char child[PATH_MAX];
			tu_path(child, sizeof child, path, de->d_name);
			walk_modes(child, w);
		}
		closedir(d);
	} else if (S_ISREG(st.st_mode)) {
		w->files++;
		if (mode != 0600 && !w->bad[0])
			snprintf(w->bad, sizeof w->bad, "file %s has mode %04o", path, mode);
	} else if (!w->bad[0]) {
		snprintf(w->bad, sizeof w->bad, "%s is neither a file nor a folder", path);
	}
}

static void test_modes_under_umask_022(void **state)
{
	fixture *f = *state;
	mode_t old = umask(022);
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, f->store, NULL));
	append_n(s, "modes", 20, 1);
	char hash[CJ_BLOB_HASH_LEN + 1];
	TU_OK(cj_blob_put(hash, s, "bytes", 5));
	/* Walk while open (lock files exist now) and after close. */
	mode_walk open_walk;
	memset(&open_walk, 0, sizeof open_walk);
	walk_modes(f->store, &open_walk);
	cj_store_close(s);
	TU_OK(cj_store_open(&s, f->store, NULL));
	cj_store_close(s);
	mode_walk closed_walk;
	memset(&closed_walk, 0, sizeof closed_walk);
	walk_modes(f->store, &closed_walk);
	umask(old);

	if (open_walk.bad[0])
		fail_msg("while open: %s", open_walk.bad);
	if (closed_walk.bad[0])
		fail_msg("after close: %s", closed_walk.bad);
	/* The store folder itself, journal folder, data and lock files at least. */
	assert_true(closed_walk.dirs >= 2);
	assert_true(closed_walk.files >= 3);
	char data[PATH_MAX];
	assert_int_equal(tu_find_file(f->store, "data.mdb", data, sizeof data), 0);
}

static void test_reopen_keeps_last_seq(void **state)
{
	fixture *f = *state;
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, f->store, NULL));
	append_n(s, "persist", 100, 1);
	cj_store_close(s);

	for (unsigned round = 0; round < 3; round++) {
		TU_OK(cj_store_open(&s, f->store, NULL));
		uint64_t last = 0;
		TU_OK(cj_journal_last_seq(&last, s));
		assert_int_equal(last, 100 + round);
		cj_event *ev = NULL;
		cj_record rec;
		TU_OK(cj_journal_get(&ev, &rec, s, 100));
		assert_int_equal(rec.seq, 100);
		assert_string_equal(cj_event_get_string(ev, "content"), "persist message 99");
		cj_event_free(ev);
		append_n(s, "after-reopen", 1, 101 + round);
		cj_store_close(s);
	}

	TU_OK(cj_store_open(&s, f->store, NULL));
	tu_recs r;
	assert_int_equal(tu_read_all(s, 1, &r), 0);
	assert_int_equal(r.n, 103);
	assert_int_equal(r.corrupt, 0);
	for (size_t i = 0; i < r.n; i++)
		assert_int_equal(r.v[i].seq, i + 1);
	assert_string_equal(r.v[102].content, "after-reopen message 0");
	tu_recs_free(&r);
	uint64_t checked = 0, bad = 99;
	TU_OK(cj_journal_check(&checked, &bad, s));
	assert_int_equal(checked, 103);
	assert_int_equal(bad, 0);
	cj_store_close(s);
}

/* cj_store_close right after open, while the materializer thread is still
 * catching up with the journal: close must stop it before the journal goes
 * away (a reader of a closed LMDB environment reads unmapped memory). */
static void test_close_while_projection_catches_up(void **state)
{
	fixture *f = *state;
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, f->store, NULL));
	char *content = malloc(4097);
	assert_non_null(content);
	uint64_t seq = 0;
	for (unsigned b = 0; b < 30; b++) {
		cj_event *evs[100];
		for (unsigned k = 0; k < 100; k++) {
			int w = snprintf(content, 4097, "backlog %u ", b * 100 + k);
			memset(content + w, 'a' + (int)(k % 26), 4096 - (size_t)w);
			content[4096] = '\0';
			evs[k] = tu_message("backlog", content, NULL, 0);
			assert_non_null(evs[k]);
		}
		uint64_t seqs[100];
		TU_OK(cj_journal_append_batch(seqs, s, (const cj_event *const *)evs, 100));
		seq = seqs[99];
		for (unsigned k = 0; k < 100; k++)
			cj_event_free(evs[k]);
	}
	free(content);
	assert_int_equal(seq, 3000);
	cj_store_close(s); /* the projection is (most likely) far behind here */
	for (unsigned round = 0; round < 10; round++) {
		TU_OK(cj_store_open(&s, f->store, NULL));
		cj_store_close(s);
	}
	TU_OK(cj_store_open(&s, f->store, NULL));
	TU_OK(cj_wait_applied(s, 3000, 60000));
	uint64_t pos = 0;
	TU_OK(cj_projection_position(&pos, s));
	assert_int_equal(pos, 3000);
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, 3000);
	cj_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_open_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_twice_is_eexist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_missing_is_enotfound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes_under_umask_022, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_last_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_while_projection_catches_up, setup, teardown),
	};
	return cmocka_run_group_tests_name("component/store", tests, NULL, NULL);
}
