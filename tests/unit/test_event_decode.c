/* tests/unit/test_event_decode.c — the record-body decoder against hostile
 * input: truncation at every byte, lying length headers (failing fast, with
 * no allocation), depth and value caps, every msgpack type events never use,
 * bad UTF-8, duplicate and non-string keys, trailing bytes. */
#include "test_event_helpers.h"

/* Counting allocator for jansson: proves a hostile header allocates nothing. */
static size_t alloc_bytes;
static void *count_malloc(size_t n)
{
	alloc_bytes += n;
	return malloc(n);
}

static cji_buf valid_body(void)
{
	cj_event *ev = parse_ok("{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\","
	                        "\"content\":\"h\\u00e9llo \\ud83d\\ude00\",\"ts\":1714557600250,"
	                        "\"metadata\":{\"a\":[1,-1,300,-300,70000,-70000,5000000000,"
	                        "-5000000000,2.5,null,true,false,\"s\",{}],\"b\":{\"c\":[[]]}},"
	                        "\"cost\":{\"usd\":0.5,\"input_tokens\":12}}");
	cji_buf b = encode_ok(ev, NULL, NULL);
	cj_event_free(ev);
	return b;
}

static void test_valid(void **state)
{
	(void)state;
	cji_buf b = valid_body();
	cj_event *ev = decode_ok(b.data, b.len, 0);
	assert_int_equal(cj_event_get_type(ev), CJ_EVENT_MESSAGE);
	assert_int_equal(cj_event_validate(ev, NULL), 0);
	cj_event_free(ev);
	cji_buf_free(&b);
}

/* Every proper prefix of a valid body is refused, never read past. The
 * prefix is copied to its own allocation so ASan sees any overread. */
static void test_truncated_everywhere(void **state)
{
	(void)state;
	cji_buf b = valid_body();
	for (size_t n = 0; n < b.len; n++) {
		uint8_t *p = malloc(n ? n : 1);
		memcpy(p, b.data, n);
		decode_corrupt(p, n, NULL);
		free(p);
	}
	cji_buf_free(&b);
}

/* One byte flipped anywhere: decode either fails cleanly or yields an event
 * that re-encodes and decodes to the same value. */
static void test_bitflips(void **state)
{
	(void)state;
	cji_buf b = valid_body();
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			uint8_t *p = malloc(b.len);
			memcpy(p, b.data, b.len);
			p[i] ^= (uint8_t)(1u << bit);
			cj_event *ev = NULL;
			int rc = cji_event_decode(&ev, p, b.len, 0);
			if (rc == 0) {
				cji_buf b2 = CJI_BUF_INIT;
				int64_t ts;
				int has;
				if (cji_event_encode(ev, &b2, &ts, &has) == 0) {
					cj_event *ev2 = decode_ok(b2.data, b2.len, 0);
					assert_json_equal(ev2->obj, ev->obj);
					cj_event_free(ev2);
				}
				cji_buf_free(&b2);
				cj_event_free(ev);
			} else {
				assert_int_equal(rc, CJ_ECORRUPT);
			}
			free(p);
		}
	}
	cji_buf_free(&b);
}

#define TYPE_KEY 0xa4, 't', 'y', 'p', 'e'

static void test_lying_lengths(void **state)
{
	(void)state;
	json_set_alloc_funcs(count_malloc, free);
	/* {"type": array32 of 0xffffffff elements} in 12 bytes */
	static const uint8_t arr32[] = { 0x81, TYPE_KEY, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0 };
	alloc_bytes = 0;
	decode_corrupt(arr32, sizeof arr32, "record body byte 6: array of 4294967295 elements "
	                                    "exceeds the 1 bytes left");
	assert_true(alloc_bytes < 1024);  /* the top map and its key, nothing for the array */
	static const uint8_t arr32b[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0 };
	decode_corrupt(arr32b, sizeof arr32b, "record body byte 0: top-level value is not a map");
	/* Top-level map32 claiming 4G entries in 12 bytes. */
	static const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0 };
	alloc_bytes = 0;
	decode_corrupt(map32, sizeof map32, "record body byte 0: map of 4294967295 entries "
	                                    "exceeds the 7 bytes left");
	assert_int_equal(alloc_bytes, 0);
	static const uint8_t str32[] = { 0x81, TYPE_KEY, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c' };
	decode_corrupt(str32, sizeof str32, "record body byte 6: string length 4294967295 "
	                                    "exceeds the 3 bytes left");
	assert_string_equal(cj_error_last(),
	                    "record body byte 6: string length 4294967295 exceeds the 3 bytes left");
	static const uint8_t str8[] = { 0x81, TYPE_KEY, 0xd9, 0x05, 'a' };
	decode_corrupt(str8, sizeof str8, "record body byte 6: string length 5 exceeds the 1 bytes left");
	static const uint8_t fixstr[] = { 0x81, 0xa5, 't', 'y' };
	decode_corrupt(fixstr, sizeof fixstr, "record body byte 1: string length 5 exceeds");
	/* An array16 of 3 elements with only 2 bytes left. */
	static const uint8_t arr16[] = { 0x81, TYPE_KEY, 0xdc, 0x00, 0x03, 0xc0, 0xc0 };
	decode_corrupt(arr16, sizeof arr16, "record body byte 6: array of 3 elements exceeds");
	/* A map16 of 2 entries needs 4 bytes; 3 are left. */
	static const uint8_t map16[] = { 0x81, TYPE_KEY, 0xde, 0x00, 0x02, 0xa1, 'a', 0xc0 };
	decode_corrupt(map16, sizeof map16, "record body byte 6: map of 2 entries exceeds the 3 bytes left");
	/* Headers cut short. */
	static const uint8_t cut[] = { 0x81, TYPE_KEY, 0xdb, 0xff };
	decode_corrupt(cut, sizeof cut, "record body byte 6: truncated str32 length: needs 4 bytes, 1 left");
	static const uint8_t cut64[] = { 0x81, TYPE_KEY, 0xcb, 0, 0, 0 };
	decode_corrupt(cut64, sizeof cut64, "record body byte 6: truncated float64");
	json_set_alloc_funcs(malloc, free);
}

/* A body of n bytes: {"type": "t", "v": <nest levels of fixarray(1)> nil}. */
static uint8_t *deep_body(int levels, size_t *n)
{
	size_t len = 10 + (size_t)levels + 1;
	uint8_t *p = malloc(len), *q = p;
	static const uint8_t head[] = { 0x82, TYPE_KEY, 0xa1, 't', 0xa1, 'v' };
	memcpy(q, head, sizeof head);
	q += sizeof head;
	for (int i = 0; i < levels; i++)
		*q++ = 0x91;
	*q++ = 0xc0;
	*n = (size_t)(q - p);
	return p;
}

static void test_depth_cap(void **state)
{
	(void)state;
	size_t n;
	/* The map is level 1: 63 arrays inside reach level 64, the cap. */
	uint8_t *p = deep_body(CJI_DECODE_MAX_DEPTH - 1, &n);
	cj_event *ev = decode_ok(p, n, 0);
	cj_event_free(ev);
	free(p);
	p = deep_body(CJI_DECODE_MAX_DEPTH, &n);
	decode_corrupt(p, n, "record body byte 73: nested deeper than 64 levels");
	free(p);
	p = deep_body(100000, &n);
	decode_corrupt(p, n, "record body byte 73: nested deeper than 64 levels");
	free(p);
	/* Maps nest the same way. */
	uint8_t m[400];
	size_t k = 0;
	for (int i = 0; i < 100; i++) {
		m[k++] = 0x81;
		m[k++] = 0xa1;
		m[k++] = 'k';
	}
	m[k++] = 0xc0;
	decode_corrupt(m, k, NULL);
	assert_non_null(strstr(cj_error_last(), "nested deeper than 64 levels"));
}

static void test_node_cap(void **state)
{
	(void)state;
	/* {"type":"t","v":[nil x N]}: N + 3 values. */
	size_t count = CJI_DECODE_MAX_NODES - 3;
	static const uint8_t head[] = { 0x82, TYPE_KEY, 0xa1, 't', 0xa1, 'v', 0xdd };
	size_t len = sizeof head + 4 + count;
	uint8_t *p = malloc(len + 1);
	memcpy(p, head, sizeof head);
	for (int i = 0; i < 4; i++)
		p[sizeof head + (size_t)i] = (uint8_t)(count >> (24 - 8 * i));
	memset(p + sizeof head + 4, 0xc0, count + 1);
	cj_event *ev = decode_ok(p, len, 0);
	assert_int_equal(json_array_size(json_object_get(ev->obj, "v")), count);
	cj_event_free(ev);
	count++;
	for (int i = 0; i < 4; i++)
		p[sizeof head + (size_t)i] = (uint8_t)(count >> (24 - 8 * i));
	decode_corrupt(p, len + 1, NULL);
	assert_non_null(strstr(cj_error_last(), "more than 1048576 values in one body"));
	free(p);
}

static void test_refused_types(void **state)
{
	(void)state;
	static const struct { uint8_t b[16]; size_t n; const char *msg; } cases[] = {
		/* bin 8/16/32 */
		{ { 0x81, TYPE_KEY, 0xc4, 0x01, 'x' }, 9, "record body byte 6: bin values are not used" },
		{ { 0x81, TYPE_KEY, 0xc5, 0x00, 0x01, 'x' }, 10, "record body byte 6: bin values" },
		{ { 0x81, TYPE_KEY, 0xc6, 0, 0, 0, 1, 'x' }, 12, "record body byte 6: bin values" },
		/* ext, fixext */
		{ { 0x81, TYPE_KEY, 0xc7, 0x01, 0x05, 'x' }, 10, "record body byte 6: ext values" },
		{ { 0x81, TYPE_KEY, 0xd4, 0x05, 'x' }, 9, "record body byte 6: ext values" },
		{ { 0x81, TYPE_KEY, 0xd8, 0x05, 'x' }, 9, "record body byte 6: ext values" },
		{ { 0x81, TYPE_KEY, 0xc1 }, 7, "record body byte 6: type byte 0xc1 is never used" },
		/* non-string keys */
		{ { 0x81, 0x01, 0xc0 }, 3, "record body byte 1: map key is not a string (type byte 0x01)" },
		{ { 0x81, 0xc0, 0xc0 }, 3, "record body byte 1: map key is not a string" },
		{ { 0x81, 0x90, 0xc0 }, 3, "record body byte 1: map key is not a string" },
		/* uint64 above INT64_MAX */
		{ { 0x81, TYPE_KEY, 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 15,
		  "record body byte 6: unsigned integer 9223372036854775808 exceeds" },
		/* top level: not a map, empty map without type, trailing bytes */
		{ { 0x91, 0xc0 }, 2, "record body byte 0: top-level value is not a map (type byte 0x91)" },
		{ { 0xc0 }, 1, "record body byte 0: top-level value is not a map" },
		{ { 0x80 }, 1, "record body: \"type\" is missing or not a string" },
		{ { 0x81, TYPE_KEY, 0x01 }, 7, "record body: \"type\" is missing or not a string" },
		{ { 0x81, TYPE_KEY, 0xa0, 0xc0 }, 8, "record body byte 7: 1 trailing bytes after the event map" },
		{ { 0x80, 0x80 }, 2, "record body byte 1: 1 trailing bytes" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		decode_corrupt(cases[i].b, cases[i].n, cases[i].msg);
	decode_corrupt((const uint8_t *)"", 0, "record body is empty");
}

static void test_bad_floats(void **state)
{
	(void)state;
	static const uint8_t f64[][8] = {
		{ 0x7f, 0xf8, 0, 0, 0, 0, 0, 0 },   /* NaN */
		{ 0x7f, 0xf0, 0, 0, 0, 0, 0, 0 },   /* +Inf */
		{ 0xff, 0xf0, 0, 0, 0, 0, 0, 0 },   /* -Inf */
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	for (size_t i = 0; i < 4; i++) {
		uint8_t b[15] = { 0x81, TYPE_KEY, 0xcb };
		memcpy(b + 7, f64[i], 8);
		decode_corrupt(b, sizeof b, "record body byte 6: float is NaN or infinite");
	}
	static const uint8_t f32[][4] = { { 0x7f, 0xc0, 0, 0 }, { 0x7f, 0x80, 0, 0 }, { 0xff, 0x80, 0, 0 } };
	for (size_t i = 0; i < 3; i++) {
		uint8_t b[11] = { 0x81, TYPE_KEY, 0xca };
		memcpy(b + 7, f32[i], 4);
		decode_corrupt(b, sizeof b, "record body byte 6: float is NaN or infinite");
	}
	/* A finite float32 is read as a real. */
	uint8_t ok[] = { 0x82, TYPE_KEY, 0xa1, 't', 0xa1, 'f', 0xca, 0x3f, 0xc0, 0, 0 };
	cj_event *ev = decode_ok(ok, sizeof ok, 0);
	assert_true(json_real_value(json_object_get(ev->obj, "f")) == 1.5);
	cj_event_free(ev);
}

static void test_integers(void **state)
{
	(void)state;
	/* INT64_MAX as uint64 is fine; as are all signed widths, sign-extended. */
	static const struct { uint8_t b[9]; size_t n; long long v; } ints[] = {
		{ { 0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9, 9223372036854775807LL },
		{ { 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 9, -9223372036854775807LL - 1 },
		{ { 0xd0, 0x80 }, 2, -128 },
		{ { 0xd1, 0xff, 0x7f }, 3, -129 },
		{ { 0xd2, 0x80, 0, 0, 0 }, 5, -2147483648LL },
		{ { 0xd0, 0x05 }, 2, 5 },             /* non-canonical forms still read */
		{ { 0xcd, 0x00, 0x01 }, 3, 1 },
		{ { 0xe0 }, 1, -32 },
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		uint8_t b[20] = { 0x82, TYPE_KEY, 0xa1, 't', 0xa1, 'i' };
		memcpy(b + 10, ints[i].b, ints[i].n);
		cj_event *ev = decode_ok(b, 10 + ints[i].n, 0);
		assert_true(json_integer_value(json_object_get(ev->obj, "i")) == ints[i].v);
		cj_event_free(ev);
	}
	static const uint8_t max[] = { 0x81, TYPE_KEY, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	decode_corrupt(max, sizeof max, "record body byte 6: unsigned integer 18446744073709551615 "
	                                "exceeds the signed 64-bit range");
}

static void test_strings(void **state)
{
	(void)state;
	static const struct { const char *s; size_t n; } bad[] = {
		{ "\xff", 1 }, { "\xc0\xaf", 2 }, { "\xed\xa0\x80", 3 }, { "\xf4\x90\x80\x80", 4 },
		{ "a\x80", 2 }, { "\xe2\x82", 2 }, { "a\0b", 3 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t b[16] = { 0x81, TYPE_KEY };
		b[6] = (uint8_t)(0xa0 | bad[i].n);
		memcpy(b + 7, bad[i].s, bad[i].n);
		decode_corrupt(b, 7 + bad[i].n, "record body byte 6: string is not valid UTF-8 (or contains NUL)");
		/* The same bytes as a key. */
		uint8_t k[32] = { 0x82, TYPE_KEY, 0xa1, 't' };
		k[8] = (uint8_t)(0xa0 | bad[i].n);
		memcpy(k + 9, bad[i].s, bad[i].n);
		k[9 + bad[i].n] = 0xc0;
		decode_corrupt(k, 10 + bad[i].n, "record body byte 8: string is not valid UTF-8");
	}
	/* Duplicate keys, exact and after other keys. */
	static const uint8_t dup[] = { 0x83, TYPE_KEY, 0xa1, 't', 0xa1, 'a', 0x01, 0xa1, 'a', 0x02 };
	decode_corrupt(dup, sizeof dup, "record body byte 11: duplicate map key 'a'");
	static const uint8_t dup_type[] = { 0x82, TYPE_KEY, 0xa1, 't', TYPE_KEY, 0xa1, 'u' };
	decode_corrupt(dup_type, sizeof dup_type, "record body byte 8: duplicate map key 'type'");
	/* The same key in the str8 form is still the same key. */
	static const uint8_t dup8[] = { 0x83, TYPE_KEY, 0xa1, 't', 0xa1, 'a', 0x01, 0xd9, 1, 'a', 0x02 };
	decode_corrupt(dup8, sizeof dup8, "record body byte 11: duplicate map key 'a'");
	/* Non-ASCII keys and values come through. */
	static const uint8_t ok[] = { 0x82, TYPE_KEY, 0xa1, 't', 0xa2, 0xc3, 0xa9, 0xa4, 0xe2, 0x98, 0x83, '!' };
	cj_event *ev = decode_ok(ok, sizeof ok, 0);
	assert_string_equal(cj_event_get_string(ev, "\xc3\xa9"), "\xe2\x98\x83!");
	cj_event_free(ev);
}

static void test_ts_from_header(void **state)
{
	(void)state;
	static const uint8_t no_ts[] = { 0x81, TYPE_KEY, 0xa1, 't' };
	cj_event *ev = decode_ok(no_ts, sizeof no_ts, 1714557600250);
	int64_t ms;
	assert_int_equal(cj_event_get_ts(&ms, ev), 1);
	assert_true(ms == 1714557600250);
	cj_event_free(ev);
	/* A body's own ts wins over the header. */
	static const uint8_t with_ts[] = { 0x82, 0xa2, 't', 's', 0x07, TYPE_KEY, 0xa1, 't' };
	ev = decode_ok(with_ts, sizeof with_ts, 99);
	assert_int_equal(cj_event_get_ts(&ms, ev), 1);
	assert_int_equal(ms, 7);
	cj_event_free(ev);
}

/* Random garbage: never a crash, only CJ_ECORRUPT or a decodable event. */
static void test_garbage(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t buf[64];
	for (int round = 0; round < 200000; round++) {
		size_t n = (size_t)(x % sizeof buf) + 1;
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		if (round & 1)
			buf[0] = (uint8_t)(0x80 | (buf[0] & 0x0f));  /* a fixmap: get further in */
		cj_event *ev = NULL;
		int rc = cji_event_decode(&ev, buf, n, 0);
		assert_true(rc == 0 || rc == CJ_ECORRUPT);
		cj_event_free(ev);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_bitflips),
		cmocka_unit_test(test_lying_lengths),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_node_cap),
		cmocka_unit_test(test_refused_types),
		cmocka_unit_test(test_bad_floats),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_ts_from_header),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
