/* tests/unit/test_event_codec.c — the canonical msgpack body: JSON -> event ->
 * encode -> decode -> JSON is the identity (ts normalized) for every type;
 * equal events encode to equal bytes; exact bytes for small cases; ts
 * normalization to exact ms; validation's size arithmetic equals the encoder's. */
#include <msgpack.h>
#include "test_event_helpers.h"

typedef struct rt_case {
	const char *in;      /* event JSON, every optional field */
	const char *want;    /* expected decoded JSON (ts normalized / added) */
} rt_case;

/* Decoded with header ts 42 when the body has none. */
static const rt_case all_types[] = {
	{ "{\"type\":\"message\",\"id\":\"m-1\",\"ts\":\"2024-05-01T12:00:00.250+02:00\","
	  "\"thread\":\"T1\",\"role\":\"assistant\",\"content\":\"Hello \\u2603 \\ud83d\\ude00\","
	  "\"server\":\"S1\",\"channel\":\"C1\",\"user\":\"U1\",\"message_ts\":\"1714567890.000100\","
	  "\"metadata\":{\"z\":1,\"a\":[1,2.5,\"x\",null,true,false,{\"k\":\"v\"}],"
	  "\"nested\":{\"b\":{\"c\":[]}},\"neg\":-9223372036854775808,\"big\":9223372036854775807},"
	  "\"cost\":{\"model\":\"gpt-4o\",\"input_tokens\":1200,\"output_tokens\":345,\"usd\":0.0123}}",
	  "{\"type\":\"message\",\"id\":\"m-1\",\"ts\":1714557600250,"
	  "\"thread\":\"T1\",\"role\":\"assistant\",\"content\":\"Hello \\u2603 \\ud83d\\ude00\","
	  "\"server\":\"S1\",\"channel\":\"C1\",\"user\":\"U1\",\"message_ts\":\"1714567890.000100\","
	  "\"metadata\":{\"z\":1,\"a\":[1,2.5,\"x\",null,true,false,{\"k\":\"v\"}],"
	  "\"nested\":{\"b\":{\"c\":[]}},\"neg\":-9223372036854775808,\"big\":9223372036854775807},"
	  "\"cost\":{\"model\":\"gpt-4o\",\"input_tokens\":1200,\"output_tokens\":345,\"usd\":0.0123}}" },
	{ "{\"type\":\"image\",\"id\":\"i-1\",\"ts\":1714557600250,\"thread\":\"T1\","
	  "\"url\":\"https://cdn.example/x.png\",\"kind\":\"generated\",\"prompt\":\"a cat\","
	  "\"analysis\":\"a cat on a mat\",\"original_analysis\":\"cat\",\"metadata\":{\"w\":1024},"
	  "\"blob\":\"0123456789abcdef0123456789abcdef\",\"thumbnail\":\"fedcba9876543210fedcba9876543210\"}",
	  NULL },
	{ "{\"type\":\"user\",\"user\":\"U1\",\"username\":\"alice\",\"timezone\":\"Europe/Paris\","
	  "\"tz_label\":\"CEST\",\"tz_offset\":-7200,\"config\":{\"model\":\"x\",\"temperature\":0.7},"
	  "\"id\":\"u-1\",\"ts\":0}", NULL },
	{ "{\"type\":\"thread_config\",\"thread\":\"T1\",\"config\":{\"a\":{\"b\":1}},\"server\":\"S1\","
	  "\"channel\":\"C1\",\"id\":\"tc\",\"ts\":\"1970-01-01T00:00:00Z\"}",
	  "{\"type\":\"thread_config\",\"thread\":\"T1\",\"config\":{\"a\":{\"b\":1}},\"server\":\"S1\","
	  "\"channel\":\"C1\",\"id\":\"tc\",\"ts\":0}" },
	{ "{\"type\":\"delete_thread\",\"thread\":\"T1\",\"id\":\"d\",\"ts\":5}", NULL },
	{ "{\"type\":\"clear_history\",\"user\":\"U1\",\"server\":\"S1\",\"id\":\"c\"}",
	  "{\"type\":\"clear_history\",\"user\":\"U1\",\"server\":\"S1\",\"id\":\"c\",\"ts\":42}" },
	{ "{\"type\":\"purge\",\"before\":\"2024-01-01T00:00:00Z\",\"id\":\"p\",\"ts\":7}", NULL },
	{ "{\"type\":\"setting\",\"key\":\"bot.model\",\"value\":{\"x\":[1,2]},\"category\":\"llm\","
	  "\"sensitive\":true,\"actor\":\"admin\",\"description\":\"the model\",\"id\":\"s\",\"ts\":8}",
	  NULL },
	{ "{\"type\":\"metric\",\"name\":\"latency\",\"value\":12.5,\"unit\":\"ms\","
	  "\"tags\":{\"route\":\"/chat\"},\"id\":\"x\",\"ts\":9}", NULL },
};

static void round_trip(const char *in, const char *want_text)
{
	cj_event *ev = parse_ok(in);
	int64_t ts = -1;
	int has_ts = -1;
	cji_buf b = encode_ok(ev, &ts, &has_ts);
	cj_event *back = decode_ok(b.data, b.len, 42);
	json_t *want = jload(want_text ? want_text : in);
	assert_json_equal(back->obj, want);
	if (json_object_get(ev->obj, "ts")) {
		assert_int_equal(has_ts, 1);
		assert_int_equal(ts, json_integer_value(json_object_get(want, "ts")));
	} else {
		assert_int_equal(has_ts, 0);
	}
	assert_int_equal(cj_event_get_type(back), cj_event_get_type(ev));
	/* What comes back is a valid event and re-encodes to the same bytes. */
	assert_int_equal(cj_event_validate(back, NULL), 0);
	cji_buf b2 = encode_ok(back, NULL, NULL);
	if (json_object_get(ev->obj, "ts")) {
		assert_int_equal(b2.len, b.len);
		assert_memory_equal(b2.data, b.data, b.len);
	}
	/* And through JSON text again. */
	char *text = cj_event_to_json(back);
	cj_event *again = parse_ok(text);
	assert_json_equal(again->obj, want);
	cj_free(text);
	cj_event_free(again);
	json_decref(want);
	cji_buf_free(&b);
	cji_buf_free(&b2);
	cj_event_free(back);
	cj_event_free(ev);
}

static void test_round_trip_every_type(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++)
		round_trip(all_types[i].in, all_types[i].want);
	/* Every type appears once. */
	int seen[10] = { 0 };
	for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++) {
		cj_event *ev = parse_ok(all_types[i].in);
		seen[cj_event_get_type(ev)]++;
		cj_event_free(ev);
	}
	for (int t = 1; t <= 9; t++)
		assert_int_equal(seen[t], 1);
}

static void test_canonical_order(void **state)
{
	(void)state;
	cj_event *a = parse_ok("{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"c\","
	                       "\"metadata\":{\"b\":{\"y\":1,\"x\":2},\"a\":[{\"q\":1,\"p\":2}]},"
	                       "\"ts\":\"2024-05-01T10:00:00.250Z\"}");
	cj_event *b = parse_ok("{\"ts\":1714557600250,\"metadata\":{\"a\":[{\"p\":2,\"q\":1}],"
	                       "\"b\":{\"x\":2,\"y\":1}},\"content\":\"c\",\"role\":\"user\","
	                       "\"thread\":\"T\",\"type\":\"message\"}");
	cji_buf ba = encode_ok(a, NULL, NULL), bb = encode_ok(b, NULL, NULL);
	assert_int_equal(ba.len, bb.len);
	assert_memory_equal(ba.data, bb.data, ba.len);
	cji_buf_free(&ba);
	cji_buf_free(&bb);
	cj_event_free(a);
	cj_event_free(b);
}

/* Exact bytes: keys sorted bytewise ("B" < "a" < "aa" < "b" < "\xc3\xa9"),
 * shortest integers, float64 reals, ts as an integer. */
static void test_exact_bytes(void **state)
{
	(void)state;
	cj_event *ev = parse_ok("{\"type\":\"metric\",\"name\":\"n\",\"value\":1.5,"
	                        "\"tags\":{\"b\":-1,\"\\u00e9\":true,\"aa\":null,\"a\":200,\"B\":-33},"
	                        "\"ts\":\"1970-01-01T00:00:01+00:00\"}");
	static const uint8_t want[] = {
		0x85,
		0xa4, 'n', 'a', 'm', 'e', 0xa1, 'n',
		0xa4, 't', 'a', 'g', 's', 0x85,
		  0xa1, 'B', 0xd0, 0xdf,
		  0xa1, 'a', 0xcc, 200,
		  0xa2, 'a', 'a', 0xc0,
		  0xa1, 'b', 0xff,
		  0xa2, 0xc3, 0xa9, 0xc3,
		0xa2, 't', 's', 0xcd, 0x03, 0xe8,
		0xa4, 't', 'y', 'p', 'e', 0xa6, 'm', 'e', 't', 'r', 'i', 'c',
		0xa5, 'v', 'a', 'l', 'u', 'e', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
	};
	int64_t ts;
	int has_ts;
	cji_buf b = encode_ok(ev, &ts, &has_ts);
	assert_int_equal(has_ts, 1);
	assert_int_equal(ts, 1000);
	assert_int_equal(b.len, sizeof want);
	assert_memory_equal(b.data, want, sizeof want);
	cji_buf_free(&b);
	cj_event_free(ev);
}

/* Encoding appends to what the buffer already holds. */
static void test_encode_appends(void **state)
{
	(void)state;
	cj_event *ev = parse_ok("{\"type\":\"delete_thread\",\"thread\":\"T\"}");
	cji_buf b = CJI_BUF_INIT;
	cji_buf_append(&b, "HDR", 3);
	int64_t ts = -1;
	int has_ts = -1;
	assert_int_equal(cji_event_encode(ev, &b, &ts, &has_ts), 0);
	assert_int_equal(has_ts, 0);
	assert_memory_equal(b.data, "HDR", 3);
	cj_event *back = decode_ok(b.data + 3, b.len - 3, 1234);
	assert_int_equal(json_integer_value(json_object_get(back->obj, "ts")), 1234);
	cj_event_free(back);
	cji_buf_free(&b);
	cj_event_free(ev);
}

static void test_integer_forms(void **state)
{
	(void)state;
	static const struct { int64_t v; size_t len; uint8_t tag; } ints[] = {
		{ 0, 1, 0x00 }, { 127, 1, 0x7f }, { 128, 2, 0xcc }, { 255, 2, 0xcc },
		{ 256, 3, 0xcd }, { 65535, 3, 0xcd }, { 65536, 5, 0xce },
		{ 4294967295LL, 5, 0xce }, { 4294967296LL, 9, 0xcf }, { INT64_MAX, 9, 0xcf },
		{ -1, 1, 0xff }, { -32, 1, 0xe0 }, { -33, 2, 0xd0 }, { -128, 2, 0xd0 },
		{ -129, 3, 0xd1 }, { -32768, 3, 0xd1 }, { -32769, 5, 0xd2 },
		{ INT32_MIN, 5, 0xd2 }, { (int64_t)INT32_MIN - 1, 9, 0xd3 }, { INT64_MIN, 9, 0xd3 },
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		cj_event *ev;
		assert_int_equal(cj_event_new(&ev, "metric"), 0);
		cj_event_set_string(ev, "name", "n");
		cj_event_set_int(ev, "value", ints[i].v);
		assert_int_equal(cj_event_validate(ev, NULL), 0);
		cji_buf b = encode_ok(ev, NULL, NULL);
		/* The body ends with "value" and its number. */
		assert_true(b.len > ints[i].len);
		assert_int_equal(b.data[b.len - ints[i].len], ints[i].tag);
		cj_event *back = decode_ok(b.data, b.len, 0);
		json_t *v = json_object_get(back->obj, "value");
		assert_true(json_is_integer(v));
		assert_true(json_integer_value(v) == ints[i].v);
		/* Validation's size arithmetic agrees with the encoder exactly. */
		cj_limits lim = CJ_LIMITS_DEFAULT;
		lim.max_event = b.len;
		assert_int_equal(cj_event_validate(ev, &lim), 0);
		lim.max_event = b.len - 1;
		assert_int_equal(cj_event_validate(ev, &lim), CJ_ETOOBIG);
		cji_buf_free(&b);
		cj_event_free(back);
		cj_event_free(ev);
	}
}

static void test_reals(void **state)
{
	(void)state;
	static const double reals[] = { 0.0, -0.0, 1.0, 0.1, -2.5e-300, 1.7976931348623157e308,
	                                4.9e-324, 123456789.123456789 };
	for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		cj_event *ev;
		assert_int_equal(cj_event_new(&ev, "metric"), 0);
		cj_event_set_string(ev, "name", "n");
		cj_event_set_real(ev, "value", reals[i]);
		cji_buf b = encode_ok(ev, NULL, NULL);
		assert_int_equal(b.data[b.len - 9], 0xcb);
		cj_event *back = decode_ok(b.data, b.len, 0);
		json_t *v = json_object_get(back->obj, "value");
		assert_true(json_is_real(v));
		assert_memory_equal(&(double){ json_real_value(v) }, &reals[i], sizeof(double));
		/* JSON text keeps the exact double too. */
		char *text = cj_event_to_json(back);
		cj_event *again = parse_ok(text);
		assert_true(json_real_value(json_object_get(again->obj, "value")) == reals[i]);
		cj_free(text);
		cj_event_free(again);
		cj_event_free(back);
		cji_buf_free(&b);
		cj_event_free(ev);
	}
}

static void expect_ts_ms(const char *ts, int64_t want)
{
	char text[200];
	snprintf(text, sizeof text, "{\"type\":\"delete_thread\",\"thread\":\"T\",\"ts\":\"%s\"}", ts);
	cj_event *ev = parse_ok(text);
	int64_t got = -1;
	int has = 0;
	cji_buf b = encode_ok(ev, &got, &has);
	assert_int_equal(has, 1);
	if (got != want)
		fail_msg("ts %s: %lld, want %lld", ts, (long long)got, (long long)want);
	cj_event *back = decode_ok(b.data, b.len, 0);
	assert_true(json_integer_value(json_object_get(back->obj, "ts")) == want);
	cj_event_free(back);
	cji_buf_free(&b);
	cj_event_free(ev);
}

static void test_ts_normalization(void **state)
{
	(void)state;
	expect_ts_ms("2024-05-01T10:00:00Z", 1714557600000);
	expect_ts_ms("2024-05-01T10:00:00.250Z", 1714557600250);
	expect_ts_ms("2024-05-01T12:00:00.250+02:00", 1714557600250);
	expect_ts_ms("2024-05-01T05:30:00.250-04:30", 1714557600250);
	expect_ts_ms("2024-05-01T10:00:00.2Z", 1714557600200);
	expect_ts_ms("2024-05-01T10:00:00.25Z", 1714557600250);
	expect_ts_ms("2024-05-01T10:00:00.2509Z", 1714557600250);   /* truncated, not rounded */
	expect_ts_ms("2024-05-01T10:00:00.999999999Z", 1714557600999);
	expect_ts_ms("2024-05-01t10:00:00z", 1714557600000);
	expect_ts_ms("2024-05-01 10:00:00Z", 1714557600000);
	expect_ts_ms("2000-02-29T23:59:59.999Z", 951868799999);
	expect_ts_ms("2000-01-01T00:00:00+14:00", 946634400000);
	expect_ts_ms("1970-01-01T00:00:00.001Z", 1);
	expect_ts_ms("2016-12-31T23:59:60Z", 1483228799000);        /* leap second clamps */
	expect_ts_ms("9999-12-31T23:59:59.999Z", 253402300799999);
}

/* More keys than the on-stack sort holds: sorted all the same. */
static void test_many_keys(void **state)
{
	(void)state;
	cj_event *ev = parse_ok("{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"c\"}");
	json_t *md = json_object();
	for (int i = 99; i >= 0; i--) {
		char k[8];
		snprintf(k, sizeof k, "k%02d", i);
		json_object_set_new(md, k, json_integer(i));
	}
	json_object_set_new(ev->obj, "metadata", md);
	cji_buf b = encode_ok(ev, NULL, NULL);
	const uint8_t *p = memmem(b.data, b.len, "\xa8metadata", 9);
	assert_non_null(p);
	p += 9;
	assert_int_equal(p[0], 0xde);
	assert_int_equal(p[1], 0);
	assert_int_equal(p[2], 100);
	p += 3;
	for (int i = 0; i < 100; i++) {
		char k[8];
		snprintf(k, sizeof k, "k%02d", i);
		assert_int_equal(p[0], 0xa3);
		assert_memory_equal(p + 1, k, 3);
		p += 5;
	}
	cji_buf_free(&b);
	cj_event_free(ev);
}

/* Validation's encoded-size sum equals the encoder's output for every event
 * type (including the ts string that is stored as an integer). */
static void test_size_agreement(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++) {
		cj_event *ev = parse_ok(all_types[i].in);
		cji_buf b = encode_ok(ev, NULL, NULL);
		cj_limits lim = CJ_LIMITS_DEFAULT;
		lim.max_event = b.len;
		if (cj_event_validate(ev, &lim) != 0)
			fail_msg("%s: %zu bytes refused: %s", all_types[i].in, b.len, cj_error_last());
		lim.max_event = b.len - 1;
		assert_int_equal(cj_event_validate(ev, &lim), CJ_ETOOBIG);
		cji_buf_free(&b);
		cj_event_free(ev);
	}
	/* Sizes at the msgpack header boundaries: str 31/32/255/256/65535/65536,
	 * maps and arrays of 15/16 and 65535/65536 entries. */
	static const size_t lens[] = { 0, 31, 32, 255, 256, 65535, 65536, 70000 };
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		cj_event *ev = parse_ok("{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"\"}");
		char *s = malloc(lens[i] + 1);
		memset(s, 'q', lens[i]);
		s[lens[i]] = '\0';
		cj_event_set_string(ev, "content", s);
		json_t *arr = json_array(), *obj = json_object();
		for (size_t k = 0; k < (i < 4 ? 15 + i % 2 : 65535 + i % 2); k++) {
			json_array_append_new(arr, json_integer(1));
			if (k < 40) {
				char key[8];
				snprintf(key, sizeof key, "%zu", k);
				json_object_set_new(obj, key, json_true());
			}
		}
		json_object_set_new(obj, "arr", arr);
		json_object_set_new(ev->obj, "metadata", obj);
		cji_buf b = encode_ok(ev, NULL, NULL);
		cj_limits lim = CJ_LIMITS_DEFAULT;
		lim.max_event = b.len;
		assert_int_equal(cj_event_validate(ev, &lim), 0);
		lim.max_event = b.len - 1;
		assert_int_equal(cj_event_validate(ev, &lim), CJ_ETOOBIG);
		cji_buf_free(&b);
		free(s);
		cj_event_free(ev);
	}
}

/* An event never validated: the encoder still refuses a bad ts and leaves
 * the buffer as it was. */
static void test_encode_bad_ts(void **state)
{
	(void)state;
	cj_event *ev;
	assert_int_equal(cj_event_new(&ev, "delete_thread"), 0);
	cj_event_set_string(ev, "thread", "T");
	cj_event_set_string(ev, "ts", "not a time");
	cji_buf b = CJI_BUF_INIT;
	cji_buf_append(&b, "x", 1);
	int64_t ts;
	int has;
	expect_err(cji_event_encode(ev, &b, &ts, &has), CJ_EINVAL, "ts", "encode bad ts");
	assert_int_equal(b.len, 1);
	cji_buf_free(&b);
	cj_event_free(ev);
}

/* n arrays nested in each other. */
static json_t *nest(int n)
{
	json_t *v = json_array();
	for (int i = 1; i < n; i++) {
		json_t *outer = json_array();
		json_array_append_new(outer, v);
		v = outer;
	}
	return v;
}

/* Deeper than the decoder reads: the encoder refuses rather than write it. */
static void test_encode_refuses_undecodable(void **state)
{
	(void)state;
	cj_event *ev;
	assert_int_equal(cj_event_new(&ev, "setting"), 0);
	cj_event_set_string(ev, "key", "k");
	/* The event map is level 1, so a value may hold 63 levels. */
	json_object_set_new(ev->obj, "value", nest(CJI_DECODE_MAX_DEPTH));
	cji_buf b = CJI_BUF_INIT;
	int64_t ts;
	int has;
	assert_int_equal(cji_event_encode(ev, &b, &ts, &has), CJ_ETOOBIG);
	assert_int_equal(b.len, 0);
	json_object_set_new(ev->obj, "value", nest(CJI_DECODE_MAX_DEPTH - 1));
	assert_int_equal(cji_event_encode(ev, &b, &ts, &has), 0);
	cj_event *back = decode_ok(b.data, b.len, 0);
	json_object_del(back->obj, "ts");
	assert_json_equal(back->obj, ev->obj);
	cj_event_free(back);

	/* Scalars inside the deepest container are fine: depth counts containers.
	 * Validation (max_depth capped at 63) and the encoder agree. */
	json_t *deepest = json_object_get(ev->obj, "value");
	while (json_array_size(deepest) > 0)
		deepest = json_array_get(deepest, 0);
	json_array_append_new(deepest, json_integer(1));
	json_array_append_new(deepest, json_string("s"));
	cj_limits lim = CJ_LIMITS_DEFAULT;
	lim.max_depth = 1000;
	assert_int_equal(cj_event_validate(ev, &lim), 0);
	cji_buf_reset(&b);
	assert_int_equal(cji_event_encode(ev, &b, &ts, &has), 0);
	back = decode_ok(b.data, b.len, 0);
	json_object_del(back->obj, "ts");
	assert_json_equal(back->obj, ev->obj);
	cj_event_free(back);
	cji_buf_free(&b);
	cj_event_free(ev);
}

/* Our encoder writes the msgpack forms itself; msgpack-c must agree on
 * every byte (the body's bytes are a stored promise: idempotency
 * fingerprints of existing journals hash them). Random metadata with
 * integers and strings at every form boundary, reals, booleans, nulls and
 * nesting: decode our bytes with msgpack-c and re-pack them with msgpack-c;
 * the two must be identical. */
static json_t *random_value(uint64_t *x, int depth)
{
	static const int64_t ints[] = { 0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536,
	                                4294967295LL, 4294967296LL, INT64_MAX, -1, -32, -33,
	                                -128, -129, -32768, -32769, -2147483648LL,
	                                -2147483649LL, INT64_MIN };
	static const size_t lens[] = { 0, 1, 31, 32, 255, 256, 300 };
	uint64_t r = *x = *x * 6364136223846793005u + 1442695040888963407u;
	switch ((r >> 33) % (depth > 3 ? 5 : 7)) {
	case 0: return json_integer(ints[(r >> 40) % (sizeof ints / sizeof ints[0])]);
	case 1: {
		size_t n = lens[(r >> 40) % (sizeof lens / sizeof lens[0])];
		char buf[301];
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)('a' + (r >> (i % 50)) % 26);
		return json_stringn(buf, n);
	}
	case 2: return json_real((double)(int64_t)(r >> 20) / 7.0);
	case 3: return json_boolean(r & 1);
	case 4: return json_null();
	case 5: {
		json_t *a = json_array();
		for (size_t i = 0, n = (r >> 44) % 20; i < n; i++)
			json_array_append_new(a, random_value(x, depth + 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		for (size_t i = 0, n = (r >> 44) % 20; i < n; i++) {
			char k[8];
			snprintf(k, sizeof k, "k%zu", (size_t)((r >> (i % 40)) % 97));
			json_object_set_new(o, k, random_value(x, depth + 1));
		}
		return o;
	}
	}
}

/* Read a whole body back with msgpack-c (zone initialised here, destroyed
 * by the caller). */
static void unpack_whole(const cji_buf *b, msgpack_zone *zone, msgpack_object *obj)
{
	size_t off = 0;
	msgpack_zone_init(zone, 4096);
	assert_int_equal(msgpack_unpack((const char *)b->data, b->len, &off, zone, obj),
	                 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, b->len);
}

static void test_bytes_match_msgpack_c(void **state)
{
	(void)state;
	uint64_t x = 42;
	for (int round = 0; round < 2000; round++) {
		json_t *meta = json_object();
		for (int i = 0; i < 6; i++) {
			char k[8];
			snprintf(k, sizeof k, "f%d", i);
			json_object_set_new(meta, k, random_value(&x, 1));
		}
		cj_event *ev = parse_ok("{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\","
		                        "\"content\":\"c\",\"ts\":1714557600123}");
		char *text = json_dumps(meta, JSON_COMPACT);
		json_decref(meta);
		assert_int_equal(cj_event_set_json(ev, "metadata", text), 0);
		free(text);
		cji_buf ours = CJI_BUF_INIT;
		int64_t ts;
		int has_ts;
		assert_int_equal(cji_event_encode(ev, &ours, &ts, &has_ts), 0);
		msgpack_zone zone;
		msgpack_object obj;
		unpack_whole(&ours, &zone, &obj);
		msgpack_sbuffer theirs;
		msgpack_sbuffer_init(&theirs);
		msgpack_packer pk;
		msgpack_packer_init(&pk, &theirs, msgpack_sbuffer_write);
		assert_int_equal(msgpack_pack_object(&pk, obj), 0);
		if (theirs.size != ours.len || memcmp(theirs.data, ours.data, ours.len) != 0)
			fail_msg("round %d: our bytes differ from msgpack-c's (%zu vs %zu bytes)", round,
			         ours.len, theirs.size);
		msgpack_sbuffer_destroy(&theirs);
		msgpack_zone_destroy(&zone);
		cji_buf_free(&ours);
		cj_event_free(ev);
	}
}

/* Keys sorted bytewise whatever they share: the sort compares 8-byte
 * prefixes as numbers first, so keys that agree on 8 bytes or more, keys
 * that are a prefix of another, keys of 4..7 bytes (read in two
 * overlapping halves) and keys holding a zero byte are all checked against
 * a plain memcmp order, in objects that sort on the stack (<= 32 keys) and
 * on the heap. The encoded key order is read back with msgpack-c. */
static int ref_cmp(const msgpack_object_str *a, const msgpack_object_str *b)
{
	uint32_t n = a->size < b->size ? a->size : b->size;
	int c = memcmp(a->ptr, b->ptr, n);
	return c ? c : (a->size > b->size) - (a->size < b->size);
}

static void test_key_order_prefixes(void **state)
{
	(void)state;
	static const char alphabet[] = { 'a', '\0', '\xff', 'b', 'A' };
	uint64_t x = 7;
	for (int round = 0; round < 400; round++) {
		cj_event *ev = parse_ok("{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\","
		                        "\"content\":\"c\"}");
		json_t *md = json_object();
		size_t want = round % 2 ? 40 : 20;
		while (json_object_size(md) < want) {
			x = x * 6364136223846793005u + 1442695040888963407u;
			char k[24];
			size_t len = (size_t)(x >> 59) % 20; /* 0..19 */
			for (size_t i = 0; i < len; i++) /* few letters: long shared prefixes */
				k[i] = alphabet[(x >> (3 * i % 48)) % (i < 9 ? 3 : sizeof alphabet)];
			json_object_setn_new(md, k, len, json_integer((json_int_t)len));
		}
		json_object_set_new(ev->obj, "metadata", md);
		cji_buf b = encode_ok(ev, NULL, NULL);
		msgpack_zone zone;
		msgpack_object obj;
		unpack_whole(&b, &zone, &obj);
		const msgpack_object *meta = NULL;
		for (uint32_t i = 0; i < obj.via.map.size; i++) {
			const msgpack_object_str *k = &obj.via.map.ptr[i].key.via.str;
			if (k->size == 8 && memcmp(k->ptr, "metadata", 8) == 0)
				meta = &obj.via.map.ptr[i].val;
		}
		assert_non_null(meta);
		assert_int_equal(meta->via.map.size, want);
		for (uint32_t i = 1; i < meta->via.map.size; i++)
			if (ref_cmp(&meta->via.map.ptr[i - 1].key.via.str, &meta->via.map.ptr[i].key.via.str) >= 0)
				fail_msg("round %d: key %u out of order", round, i);
		msgpack_zone_destroy(&zone);
		cji_buf_free(&b);
		cj_event_free(ev);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_match_msgpack_c),
		cmocka_unit_test(test_round_trip_every_type),
		cmocka_unit_test(test_canonical_order),
		cmocka_unit_test(test_exact_bytes),
		cmocka_unit_test(test_encode_appends),
		cmocka_unit_test(test_integer_forms),
		cmocka_unit_test(test_reals),
		cmocka_unit_test(test_ts_normalization),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_key_order_prefixes),
		cmocka_unit_test(test_size_agreement),
		cmocka_unit_test(test_encode_bad_ts),
		cmocka_unit_test(test_encode_refuses_undecodable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
