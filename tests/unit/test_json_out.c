/* tests/unit/test_json_out.c — the query results' JSON writer: its
 * 16- and 8-bytes-at-a-time string escaper writes exactly what a plain
 * byte-by-byte escaper writes, for random strings dense in the bytes that
 * need escaping at every alignment, and integers come out as printf would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "api/json_out.h"

/* The obvious escaper, byte by byte. */
static size_t reference(char *out, const char *s, size_t n)
{
	size_t o = 0;
	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': o += (size_t)sprintf(out + o, "\\\""); break;
		case '\\': o += (size_t)sprintf(out + o, "\\\\"); break;
		case '\n': o += (size_t)sprintf(out + o, "\\n"); break;
		case '\r': o += (size_t)sprintf(out + o, "\\r"); break;
		case '\t': o += (size_t)sprintf(out + o, "\\t"); break;
		case '\b': o += (size_t)sprintf(out + o, "\\b"); break;
		case '\f': o += (size_t)sprintf(out + o, "\\f"); break;
		default:
			if (c < 0x20)
				o += (size_t)sprintf(out + o, "\\u%04x", c);
			else
				out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	return o;
}

static void test_escaper_matches_reference(void **state)
{
	(void)state;
	static const unsigned char alphabet[] = { 'a', 'Z', ' ', '"', '\\', 0x01, 0x1f, '\n', '\t',
	                                          0x7f, 0x80, 0xc3, 0xa9, 0xff, '/', 0x20, 0x21 };
	uint64_t x = 12345;
	char s[200], want[1300];
	for (int round = 0; round < 100000; round++) {
		size_t n = (size_t)(tu_rand(&x) % sizeof s);
		int dense = (int)(tu_rand(&x) % 4); /* 0: mostly plain text */
		for (size_t i = 0; i < n; i++)
			s[i] = dense || tu_rand(&x) % 16 == 0
			       ? (char)alphabet[tu_rand(&x) % sizeof alphabet] : (char)('a' + i % 26);
		cji_buf b = CJI_BUF_INIT;
		assert_int_equal(cji_json_str(&b, s, n), 0);
		size_t wl = reference(want, s, n);
		if (b.len != wl || memcmp(b.data, want, wl) != 0)
			fail_msg("round %d: escaper differs from the reference (n=%zu)", round, n);
		cji_buf_free(&b);
	}
}

static void test_integers(void **state)
{
	(void)state;
	const int64_t v[] = { 0, 1, -1, 9, 10, 99, 100, 1714557600000, INT64_MAX, INT64_MIN };
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		cji_buf b = CJI_BUF_INIT;
		assert_int_equal(cji_json_i64(&b, v[i]), 0);
		char want[32];
		int n = snprintf(want, sizeof want, "%" PRId64, v[i]);
		assert_int_equal(b.len, (size_t)n);
		assert_memory_equal(b.data, want, (size_t)n);
		cji_buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaper_matches_reference),
		cmocka_unit_test(test_integers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
