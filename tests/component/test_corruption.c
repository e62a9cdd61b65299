/* tests/component/test_corruption.c — a byte flipped inside a committed
 * record's body on disk is found: cj_journal_check and cj_journal_get report
 * CJ_ECORRUPT naming the sequence number, the iterator reports it and goes on
 * to the next record, the rest stays readable and appends continue; the page
 * walk (cj_journal_check_pages) sees no damage there, since the pages are
 * sound. A flipped blob byte is found by cj_blob_check, naming the blob; a
 * flipped idempotency fingerprint by cj_journal_check_ids, naming the id. A
 * data.mdb cut short is refused at open ("journal file truncated"); one
 * longer than needed is not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "testutil.h"

#define N_EVENTS 60
#define SMALL_TARGET 37  /* a record inside a leaf page */
#define BIG_TARGET 50    /* a record on its own overflow pages */

/* The tests create the store at f->tu.store themselves. */
typedef struct fixture {
	tu_fixture tu;
	char small_marker[64];
	char big_marker[64];
} fixture;

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "corrupt", NULL, TU_FIXTURE_NO_STORE) != 0)
		return -1;
	fixture *f = *state;
	uint64_t x = tu_now_ns() | 1;
	snprintf(f->small_marker, sizeof f->small_marker, "SMALLTARGET%016llx",
	         (unsigned long long)tu_rand(&x));
	snprintf(f->big_marker, sizeof f->big_marker, "BIGTARGET%016llx",
	         (unsigned long long)tu_rand(&x));
	return 0;
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

static char *content_of(const fixture *f, unsigned seq)
{
	size_t len = seq == BIG_TARGET ? 12000 : 80;
	char *c = malloc(len + 1);
	assert_non_null(c);
	int w;
	if (seq == SMALL_TARGET)
		w = snprintf(c, len + 1, "record %u %s ", seq, f->small_marker);
	else if (seq == BIG_TARGET)
		w = snprintf(c, len + 1, "record %u %s ", seq, f->big_marker);
	else
		w = snprintf(c, len + 1, "record %u ", seq);
	for (size_t k = (size_t)w; k < len; k++)
		c[k] = (char)('a' + (k * 3 + seq) % 26);
	c[len] = '\0';
	return c;
}

static void fill_store(fixture *f)
{
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, f->tu.store, NULL));
	for (unsigned i = 1; i <= N_EVENTS; i++) {
		char *content = content_of(f, i);
		cj_event *ev = tu_message("corrupt", content, NULL, 0);
		free(content);
		assert_non_null(ev);
		uint64_t seq = 0;
		TU_OK(cj_journal_append(&seq, s, ev));
		assert_int_equal(seq, i);
		cj_event_free(ev);
	}
	cj_store_close(s);
}

static unsigned flip_marker(const fixture *f, const char *marker)
{
	unsigned hits = 0;
	assert_int_equal(tu_flip_marker(f->tu.store, "data.mdb", marker, &hits), 0);
	return hits;
}

static void expect_readable(cj_store *s, const fixture *f, unsigned seq)
{
	cj_event *ev = NULL;
	TU_OK(cj_journal_get(&ev, NULL, s, seq));
	char *want = content_of(f, seq);
	assert_string_equal(cj_event_get_string(ev, "content"), want);
	free(want);
	cj_event_free(ev);
}

static void expect_corrupt_get(cj_store *s, unsigned seq)
{
	cj_event *ev = NULL;
	cj_error_clear();
	int rc = cj_journal_get(&ev, NULL, s, seq);
	if (rc != CJ_ECORRUPT)
		fail_msg("cj_journal_get(%u) on a damaged record returned %d (%s), expected CJ_ECORRUPT",
		         seq, rc, cj_strerror(rc));
	if (!tu_msg_names_number(cj_error_last(), seq))
		fail_msg("message does not name seq %u: \"%s\"", seq, cj_error_last());
}

static void test_flipped_small_record(void **state)
{
	fixture *f = *state;
	fill_store(f);
	assert_true(flip_marker(f, f->small_marker) >= 1);

	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->tu.store, NULL));
	uint64_t checked = 0, bad = 0;
	cj_error_clear();
	TU_RC(cj_journal_check(&checked, &bad, s), CJ_ECORRUPT);
	assert_int_equal(bad, SMALL_TARGET);
	if (!tu_msg_names_number(cj_error_last(), SMALL_TARGET))
		fail_msg("check message does not name seq %d: \"%s\"", SMALL_TARGET, cj_error_last());
	/* Every record was read; whether the bad one counts as checked is open. */
	assert_true(checked == N_EVENTS || checked == N_EVENTS - 1);

	uint64_t pages = 0, bad_page = 1;
	TU_OK(cj_journal_check_pages(&pages, &bad_page, s));
	assert_true(pages > 2);
	assert_int_equal(bad_page, 0);

	expect_corrupt_get(s, SMALL_TARGET);
	expect_readable(s, f, SMALL_TARGET - 1);
	expect_readable(s, f, SMALL_TARGET + 1);

	tu_recs r;
	assert_int_equal(tu_read_all(s, 1, &r), 0);
	assert_int_equal(r.corrupt, 1);
	assert_int_equal(r.first_corrupt_seq, SMALL_TARGET);
	if (!tu_msg_names_number(r.corrupt_msg, SMALL_TARGET))
		fail_msg("iterator message does not name seq %d: \"%s\"", SMALL_TARGET, r.corrupt_msg);
	assert_int_equal(r.n, N_EVENTS - 1);
	for (size_t k = 0; k < r.n; k++) {
		uint64_t want_seq = k + 1 < SMALL_TARGET ? k + 1 : k + 2;
		assert_int_equal(r.v[k].seq, want_seq);
		char *want = content_of(f, (unsigned)want_seq);
		assert_string_equal(r.v[k].content, want);
		free(want);
	}
	tu_recs_free(&r);

	/* Starting the iterator on the damaged record itself. */
	cj_journal_iter *it = NULL;
	TU_OK(cj_journal_iter_new(&it, s, SMALL_TARGET));
	cj_record rec;
	assert_int_equal(cj_journal_iter_next(&rec, it), CJ_ECORRUPT);
	assert_int_equal(rec.seq, SMALL_TARGET);
	assert_int_equal(cj_journal_iter_next(&rec, it), 1);
	assert_int_equal(rec.seq, SMALL_TARGET + 1);
	cj_journal_iter_free(it);

	/* The journal keeps working. */
	cj_event *ev = tu_message("corrupt", "after the damage", NULL, 0);
	uint64_t seq = 0;
	TU_OK(cj_journal_append(&seq, s, ev));
	assert_int_equal(seq, N_EVENTS + 1);
	cj_event_free(ev);
	cj_store_close(s);
}

static void test_flipped_big_and_small_records(void **state)
{
	fixture *f = *state;
	fill_store(f);
	assert_true(flip_marker(f, f->big_marker) >= 1);
	assert_true(flip_marker(f, f->small_marker) >= 1);

	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->tu.store, NULL));
	uint64_t checked = 0, bad = 0;
	TU_RC(cj_journal_check(&checked, &bad, s), CJ_ECORRUPT);
	assert_int_equal(bad, SMALL_TARGET);
	expect_corrupt_get(s, BIG_TARGET);
	expect_corrupt_get(s, SMALL_TARGET);

	tu_recs r;
	assert_int_equal(tu_read_all(s, 1, &r), 0);
	assert_int_equal(r.corrupt, 2);
	assert_int_equal(r.n, N_EVENTS - 2);
	assert_int_equal(r.v[r.n - 1].seq, N_EVENTS);
	tu_recs_free(&r);
	assert_int_equal(tu_read_all(s, SMALL_TARGET + 1, &r), 0);
	assert_int_equal(r.corrupt, 1);
	assert_int_equal(r.first_corrupt_seq, BIG_TARGET);
	if (!tu_msg_names_number(r.corrupt_msg, BIG_TARGET))
		fail_msg("iterator message does not name seq %d: \"%s\"", BIG_TARGET, r.corrupt_msg);
	assert_int_equal(r.n, N_EVENTS - SMALL_TARGET - 1);
	tu_recs_free(&r);
	cj_store_close(s);
}

/* Flip one byte at offset delta from every place where marker is followed
 * by `follow` (n bytes). Returns the number of places. */
static unsigned flip_after(const fixture *f, const char *marker, const char *follow, size_t n,
                           size_t delta)
{
	char data_path[PATH_MAX];
	assert_int_equal(tu_find_file(f->tu.store, "data.mdb", data_path, sizeof data_path), 0);
	int fd = open(data_path, O_RDWR);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	size_t size = (size_t)st.st_size, mlen = strlen(marker);
	char *buf = malloc(size);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, size, 0), (ssize_t)size);
	unsigned hits = 0;
	for (size_t off = 0; off + mlen + n <= size && off + mlen + delta < size; off++) {
		if (memcmp(buf + off, marker, mlen) != 0 || memcmp(buf + off + mlen, follow, n) != 0)
			continue;
		char c = (char)(buf[off + mlen + delta] ^ 0x10);
		assert_int_equal(pwrite(fd, &c, 1, (off_t)(off + mlen + delta)), 1);
		hits++;
	}
	assert_int_equal(fsync(fd), 0);
	close(fd);
	free(buf);
	return hits;
}

/* Two blobs; a letter of one flips on disk: cj_blob_check names it. */
static void test_flipped_blob(void **state)
{
	fixture *f = *state;
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, f->tu.store, NULL));
	char good[CJ_BLOB_HASH_LEN + 1], bad[CJ_BLOB_HASH_LEN + 1];
	char a[9000], b[200];
	memset(a, 'q', sizeof a);
	memcpy(a + 100, f->big_marker, strlen(f->big_marker));
	snprintf(b, sizeof b, "small blob %s and some more bytes", f->small_marker);
	TU_OK(cj_blob_put(good, s, a, sizeof a));
	TU_OK(cj_blob_put(bad, s, b, strlen(b)));
	uint64_t checked = 0;
	char first[CJ_BLOB_HASH_LEN + 1] = "x";
	TU_OK(cj_blob_check(&checked, first, s));
	assert_int_equal(checked, 2);
	assert_string_equal(first, "");
	cj_store_close(s);

	assert_true(flip_marker(f, f->small_marker) >= 1);
	TU_OK(cj_store_open(&s, f->tu.store, NULL));
	cj_error_clear();
	TU_RC(cj_blob_check(&checked, first, s), CJ_ECORRUPT);
	assert_int_equal(checked, 2);
	assert_string_equal(first, bad);
	assert_non_null(strstr(cj_error_last(), bad));
	void *data = NULL;
	size_t len = 0;
	TU_RC(cj_blob_get(&data, &len, s, bad), CJ_ECORRUPT);
	TU_OK(cj_blob_get(&data, &len, s, good));
	cj_free(data);
	uint64_t pages = 0, bad_page = 0;
	TU_OK(cj_journal_check_pages(&pages, &bad_page, s));
	cj_store_close(s);
}

/* An idempotency entry whose fingerprint flipped: its record is sound, the
 * entry is not, and only cj_journal_check_ids can tell. */
static void test_flipped_id_fingerprint(void **state)
{
	fixture *f = *state;
	cj_store *s = NULL;
	TU_OK(tu_store_create(&s, f->tu.store, NULL));
	for (unsigned i = 1; i <= 20; i++) {
		char id[96];
		snprintf(id, sizeof id, "%s-%02u", f->small_marker, i);
		cj_event *ev = tu_message("ids", "content", id, 0);
		assert_non_null(ev);
		TU_OK(cj_journal_append(NULL, s, ev));
		cj_event_free(ev);
	}
	uint64_t checked = 0, bad = 0;
	TU_OK(cj_journal_check_ids(&checked, &bad, s));
	assert_int_equal(checked, 20);
	cj_store_close(s);

	/* In the idempotency table, id 7's key is followed by its value: the
	 * sequence number 7 (8 bytes big-endian), then the fingerprint. Stale
	 * copies of the page in free pages are flipped too. */
	char id7[96];
	snprintf(id7, sizeof id7, "%s-07", f->small_marker);
	assert_true(flip_after(f, id7, "\0\0\0\0\0\0\0\7", 8, 8 + 3) >= 1);
	TU_OK(cj_store_open(&s, f->tu.store, NULL));
	TU_OK(cj_journal_check(&checked, &bad, s));
	cj_error_clear();
	TU_RC(cj_journal_check_ids(&checked, &bad, s), CJ_ECORRUPT);
	assert_int_equal(checked, 20);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(cj_error_last(), id7));
	assert_non_null(strstr(cj_error_last(), "fingerprint"));
	cj_store_close(s);
}

static void set_size(const fixture *f, off_t size)
{
	char data_path[PATH_MAX];
	assert_int_equal(tu_find_file(f->tu.store, "data.mdb", data_path, sizeof data_path), 0);
	assert_int_equal(truncate(data_path, size), 0);
}

static void expect_truncated(const fixture *f, off_t size)
{
	set_size(f, size);
	char want[96];
	snprintf(want, sizeof want, "journal file truncated: %lld bytes, needs ", (long long)size);
	for (int ro = 0; ro <= 1; ro++) {
		cj_store_options o = CJ_STORE_OPTIONS_INIT;
		o.read_only = ro;
		cj_store *s = NULL;
		cj_error_clear();
		TU_RC(cj_store_open(&s, f->tu.store, &o), CJ_ECORRUPT);
		if (!strstr(cj_error_last(), want))
			fail_msg("open of a %lld-byte data.mdb: \"%s\"", (long long)size, cj_error_last());
	}
}

/* A file cut short is refused at open, whatever is missing; a longer one
 * (LMDB may leave one) opens and checks. */
static void test_truncated_file(void **state)
{
	fixture *f = *state;
	fill_store(f);
	char data_path[PATH_MAX];
	assert_int_equal(tu_find_file(f->tu.store, "data.mdb", data_path, sizeof data_path), 0);
	struct stat st;
	assert_int_equal(stat(data_path, &st), 0);
	off_t full = st.st_size;
	set_size(f, full + 3 * 4096);
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, f->tu.store, NULL));
	uint64_t pages = 0, bad_page = 0, checked = 0, bad = 0;
	TU_OK(cj_journal_check_pages(&pages, &bad_page, s));
	TU_OK(cj_journal_check(&checked, &bad, s));
	cj_store_close(s);
	expect_truncated(f, full - 1);
	expect_truncated(f, full / 2);
	expect_truncated(f, 4096 + 100);
	expect_truncated(f, 100);
	expect_truncated(f, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flipped_small_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_big_and_small_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_id_fingerprint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_file, setup, teardown),
	};
	return cmocka_run_group_tests_name("component/corruption", tests, NULL, NULL);
}
