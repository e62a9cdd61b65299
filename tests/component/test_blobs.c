/* tests/component/test_blobs.c — content-addressed blobs: exact round trip,
 * the hash is the canonical XXH3-128 in lowercase hex, the same bytes are
 * stored once, and the documented errors for size, malformed and unknown
 * hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "testutil.h"

#define MAX_BLOB 4096

typedef tu_fixture fixture;

static int setup(void **state)
{
	cj_store_options opts = CJ_STORE_OPTIONS_INIT;
	opts.max_blob = MAX_BLOB;
	return tu_fixture_setup(state, "blob", &opts);
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

static void expected_hash(char out[CJ_BLOB_HASH_LEN + 1], const void *data, size_t len)
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
	for (size_t i = 0; i < sizeof c.digest; i++)
		snprintf(out + 2 * i, 3, "%02x", c.digest[i]);
}

static unsigned char *pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len ? len : 1);
	assert_non_null(p);
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)tu_rand(&x);
	return p;
}

static void test_round_trip_and_dedup(void **state)
{
	fixture *f = *state;
	static const size_t sizes[] = {1, 100, 4095, MAX_BLOB};
	char first_hash[4][CJ_BLOB_HASH_LEN + 1];
	uint64_t total_bytes = 0;
	for (size_t k = 0; k < 4; k++) {
		unsigned char *data = pattern(sizes[k], (unsigned)k + 1);
		char hash[CJ_BLOB_HASH_LEN + 1];
		memset(hash, 'Z', sizeof hash);
		TU_OK(cj_blob_put(hash, f->s, data, sizes[k]));
		assert_int_equal(strlen(hash), CJ_BLOB_HASH_LEN);
		char want[CJ_BLOB_HASH_LEN + 1];
		expected_hash(want, data, sizes[k]);
		assert_string_equal(hash, want);
		memcpy(first_hash[k], hash, sizeof hash);
		total_bytes += sizes[k];

		void *back = NULL;
		size_t back_len = 0;
		TU_OK(cj_blob_get(&back, &back_len, f->s, hash));
		assert_int_equal(back_len, sizes[k]);
		assert_memory_equal(back, data, sizes[k]);
		cj_free(back);
		assert_int_equal(cj_blob_exists(f->s, hash), 1);

		/* The same bytes again: same hash, nothing new. */
		char again[CJ_BLOB_HASH_LEN + 1];
		TU_OK(cj_blob_put(again, f->s, data, sizes[k]));
		assert_string_equal(again, hash);
		free(data);
	}
	cj_journal_stats st;
	TU_OK(cj_journal_stats_get(&st, f->s));
	assert_int_equal(st.blobs, 4);
	assert_int_equal(st.blob_bytes, total_bytes);
	/* Blobs are not journal events. */
	assert_int_equal(st.events, 0);

	/* They survive a reopen. */
	cj_store_close(f->s);
	f->s = NULL;
	cj_store_options opts = CJ_STORE_OPTIONS_INIT;
	opts.max_blob = MAX_BLOB;
	TU_OK(cj_store_open(&f->s, f->store, &opts));
	for (size_t k = 0; k < 4; k++) {
		unsigned char *data = pattern(sizes[k], (unsigned)k + 1);
		void *back = NULL;
		size_t back_len = 0;
		TU_OK(cj_blob_get(&back, &back_len, f->s, first_hash[k]));
		assert_int_equal(back_len, sizes[k]);
		assert_memory_equal(back, data, sizes[k]);
		cj_free(back);
		free(data);
	}
	/* verify's check: every blob against its hash. */
	uint64_t checked = 0;
	char bad[CJ_BLOB_HASH_LEN + 1] = "x";
	TU_OK(cj_blob_check(&checked, bad, f->s));
	assert_int_equal(checked, 4);
	assert_string_equal(bad, "");
}

static void test_over_max_blob_is_etoobig(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(MAX_BLOB + 1, 9);
	char hash[CJ_BLOB_HASH_LEN + 1];
	cj_error_clear();
	TU_RC(cj_blob_put(hash, f->s, data, MAX_BLOB + 1), CJ_ETOOBIG);
	assert_true(strlen(cj_error_last()) > 0);
	char want[CJ_BLOB_HASH_LEN + 1];
	expected_hash(want, data, MAX_BLOB + 1);
	assert_int_equal(cj_blob_exists(f->s, want), 0);
	cj_journal_stats st;
	TU_OK(cj_journal_stats_get(&st, f->s));
	assert_int_equal(st.blobs, 0);
	free(data);
}

static void test_malformed_and_unknown_hashes(void **state)
{
	fixture *f = *state;
	char good[CJ_BLOB_HASH_LEN + 1];
	TU_OK(cj_blob_put(good, f->s, "abc", 3));

	char longer[CJ_BLOB_HASH_LEN + 2];
	snprintf(longer, sizeof longer, "%s0", good);
	const char *malformed[] = {
		"",
		"abc",
		"0123456789abcdef0123456789abcde",    /* 31 characters */
		longer,                               /* 33 characters */
		"0123456789abcdef0123456789abcdeg",   /* not hex */
		"../../../../etc/passwd0123456789",   /* 32 characters, a path */
		"0123456789abcdef 123456789abcdef",
		"0123456789abcdef\n123456789abcdef",
	};
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
		void *data = NULL;
		size_t len = 0;
		cj_error_clear();
		int rc = cj_blob_get(&data, &len, f->s, malformed[i]);
		if (rc != CJ_EINVAL)
			fail_msg("hash \"%s\": cj_blob_get returned %d, expected CJ_EINVAL", malformed[i], rc);
		assert_true(strlen(cj_error_last()) > 0);
		assert_int_equal(cj_blob_exists(f->s, malformed[i]), CJ_EINVAL);
	}
	void *data = NULL;
	size_t len = 0;
	TU_RC(cj_blob_get(&data, &len, f->s, NULL), CJ_EINVAL);

	const char *unknown = "00000000000000000000000000000000";
	TU_RC(cj_blob_get(&data, &len, f->s, unknown), CJ_ENOTFOUND);
	assert_int_equal(cj_blob_exists(f->s, unknown), 0);
	TU_OK(cj_blob_get(&data, &len, f->s, good));
	assert_int_equal(len, 3);
	assert_memory_equal(data, "abc", 3);
	cj_free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_and_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_over_max_blob_is_etoobig, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_and_unknown_hashes, setup, teardown),
	};
	return cmocka_run_group_tests_name("component/blobs", tests, NULL, NULL);
}
