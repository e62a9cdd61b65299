/* tests/unit/test_event_fields.c — the plain-message reader of record bodies
 * (journal/event_fields.c) against the full decoder: every body it accepts
 * decodes, and the fields it gives equal the decoded event's, field by
 * field; every body the decoder refuses it leaves to the decoder; and the
 * bodies it is not for (other types, cost, the fields of 0.3, a field that
 * is not a string) go to the decoder too. */
#include "test_event_helpers.h"

/* The reader's verdict on a body, checked against the decoder's. */
static int read_checked(const uint8_t *p, size_t n)
{
	cji_message_fields m, want;
	cji_buf strings = CJI_BUF_INIT;
	int r = cji_message_fields_read(&m, &strings, p, n);
	assert_true(r == 0 || r == 1);
	cj_event *ev = NULL;
	int rc = cji_event_decode(&ev, p, n, 99);
	if (rc != 0) {
		assert_int_equal(r, 0);
		cji_buf_free(&strings);
		return 0;
	}
	if (r == 1) {
		assert_int_equal(cj_event_get_type(ev), CJ_EVENT_MESSAGE);
		cji_message_fields_of(&want, ev->obj);
		if (!cji_message_fields_equal(&m, &want))
			fail_msg("the fields read differ from the decoded event's (content %s / %s)",
			         m.content ? m.content : "(null)", want.content ? want.content : "(null)");
		assert_null(m.rest);
		assert_null(m.cost);
		cji_message_fields_done(&m);
		assert_null(m.owned);
	}
	cj_event_free(ev);
	cji_buf_free(&strings);
	return r;
}

static int read_json(const char *json)
{
	cj_event *ev = parse_ok(json);
	cji_buf b = encode_ok(ev, NULL, NULL);
	int r = read_checked(b.data, b.len);
	cji_buf_free(&b);
	cj_event_free(ev);
	return r;
}

#define FULL "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\",\"content\":\"h\\u00e9llo " \
             "\\ud83d\\ude00\",\"user\":\"U1\",\"server\":\"S\",\"channel\":\"C\"," \
             "\"message_ts\":\"1714557600.000100\",\"id\":\"m-1\",\"ts\":1714557600250," \
             "\"metadata\":{\"a\":[1,-1,300,70000,5000000000,2.5,null,true,\"s\",{}],\"b\":{}}}"

static void test_plain(void **state)
{
	(void)state;
	assert_int_equal(read_json(FULL), 1);
	assert_int_equal(read_json("{\"type\":\"message\",\"thread\":\"T\",\"role\":\"assistant\",\"content\":\"x\"}"), 1);
	assert_int_equal(read_json("{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\","
	                           "\"content\":\"\",\"metadata\":{}}"), 1);
	assert_int_equal(read_json("{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\","
	                           "\"ts\":\"2024-05-01T10:00:00.25Z\",\"content\":\"x\"}"), 1);
	/* contents of 300 and 70,000 bytes: str16 and str32 headers */
	for (size_t len = 300; len <= 70000; len += 69700) {
		char *big = malloc(len + 100);
		int k = snprintf(big, 100, "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"");
		memset(big + k, 'x', len);
		strcpy(big + k + len, "\"}");
		assert_int_equal(read_json(big), 1);
		free(big);
	}
}

/* Bodies the reader is not for: decoded in full. */
static void test_not_plain(void **state)
{
	(void)state;
	const char *other[] = {
		"{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"x\",\"cost\":{\"usd\":0.5}}",
		"{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"x\",\"reply_to\":\"m-0\"}",
		"{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"attachments\":[{\"url\":\"http://x/a\"}]}",
		"{\"type\":\"user\",\"user\":\"U1\",\"username\":\"ann\"}",
		"{\"type\":\"delete_thread\",\"thread\":\"T\"}",
	};
	for (size_t i = 0; i < sizeof other / sizeof *other; i++)
		assert_int_equal(read_json(other[i]), 0);
}

/* ---- hand-built bodies: what the encoder never writes ------------------ */

static void put(cji_buf *b, const void *p, size_t n)
{
	assert_int_equal(cji_buf_append(b, p, n), 0);
}

static void mp_str(cji_buf *b, const char *s)
{
	uint8_t tag = (uint8_t)(0xa0u | strlen(s));
	put(b, &tag, 1);
	put(b, s, strlen(s));
}

static void mp_pair(cji_buf *b, const char *k, const char *v)
{
	mp_str(b, k);
	mp_str(b, v);
}

/* A fixmap of n entries beginning with type, thread, role (n >= 3). */
static cji_buf head(unsigned n, const char *type)
{
	cji_buf b = CJI_BUF_INIT;
	uint8_t tag = (uint8_t)(0x80u | n);
	put(&b, &tag, 1);
	mp_pair(&b, "type", type);
	mp_pair(&b, "thread", "T");
	mp_pair(&b, "role", "user");
	return b;
}

static int read_buf(cji_buf *b)
{
	int r = read_checked(b->data, b->len);
	cji_buf_free(b);
	return r;
}

static void test_hand_built(void **state)
{
	(void)state;
	cji_buf b = head(3, "message");
	assert_int_equal(read_buf(&b), 1);
	/* metadata that no event validates (null): read as the decoder reads it */
	b = head(4, "message");
	put(&b, "\xa8metadata\xc0", 10);
	assert_int_equal(read_buf(&b), 1);
	/* a map16 header for three entries: legal, accepted */
	b = (cji_buf)CJI_BUF_INIT;
	put(&b, "\xde\x00\x03", 3);
	mp_pair(&b, "role", "user");
	mp_pair(&b, "thread", "T");
	mp_pair(&b, "type", "message");
	assert_int_equal(read_buf(&b), 1);
	/* another type, a near miss of the name */
	b = head(3, "messages");
	assert_int_equal(read_buf(&b), 0);
	/* no type at all */
	b = (cji_buf)CJI_BUF_INIT;
	put(&b, "\x81", 1);
	mp_pair(&b, "thread", "T");
	assert_int_equal(read_buf(&b), 0);
	/* a duplicate key: the decoder refuses it */
	b = head(4, "message");
	mp_pair(&b, "thread", "U");
	assert_int_equal(read_buf(&b), 0);
	/* content not valid UTF-8; with a NUL inside */
	b = head(4, "message");
	mp_pair(&b, "content", "a\xff");
	assert_int_equal(read_buf(&b), 0);
	b = head(4, "message");
	put(&b, "\xa7" "content" "\xa3" "a\0b", 12);
	assert_int_equal(read_buf(&b), 0);
	/* a string field that is not a string: null, an integer */
	b = head(4, "message");
	put(&b, "\xa4user\xc0", 6);
	assert_int_equal(read_buf(&b), 0);
	b = head(4, "message");
	put(&b, "\xa7" "content" "\x07", 9);
	assert_int_equal(read_buf(&b), 0);
	/* ts: every integer width, a uint64 past INT64_MAX, a float */
	const char *ts_ok[] = { "\x05", "\xff", "\xcc\x80", "\xd0\x80", "\xcd\x01\x00", "\xd1\x80\x00",
	                        "\xce\x01\x00\x00\x00", "\xd2\x80\x00\x00\x00",
	                        "\xcf\x00\x00\x01\x8f\x34\x56\x78\x9a", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00" };
	const size_t ts_len[] = { 1, 1, 2, 2, 3, 3, 5, 5, 9, 9 };
	for (size_t i = 0; i < sizeof ts_ok / sizeof *ts_ok; i++) {
		b = head(4, "message");
		put(&b, "\xa2ts", 3);
		put(&b, ts_ok[i], ts_len[i]);
		assert_int_equal(read_buf(&b), 1);
	}
	b = head(4, "message");
	put(&b, "\xa2ts\xcf\x80\x00\x00\x00\x00\x00\x00\x00", 12);
	assert_int_equal(read_buf(&b), 0);
	b = head(4, "message");
	put(&b, "\xa2ts\xcb\x40\x00\x00\x00\x00\x00\x00\x00", 12);
	assert_int_equal(read_buf(&b), 0);
	/* trailing bytes; a count that lies */
	b = head(3, "message");
	put(&b, "\xc0", 1);
	assert_int_equal(read_buf(&b), 0);
	b = head(5, "message");
	assert_int_equal(read_buf(&b), 0);
	/* metadata nested past the decoder's depth cap, and just within it */
	for (int depth = CJI_DECODE_MAX_DEPTH - 2; depth <= CJI_DECODE_MAX_DEPTH + 2; depth++) {
		b = head(4, "message");
		put(&b, "\xa8metadata", 9);
		for (int i = 0; i < depth; i++)
			put(&b, "\x91", 1);
		put(&b, "\x01", 1);
		int r = read_buf(&b);
		assert_int_equal(r, depth <= CJI_DECODE_MAX_DEPTH - 1 ? 1 : 0);
	}
}

/* Every prefix of a full body, and every one-bit flip of it: the reader
 * agrees with the decoder (read_checked). */
static void test_damaged(void **state)
{
	(void)state;
	cj_event *ev = parse_ok(FULL);
	cji_buf b = encode_ok(ev, NULL, NULL);
	cj_event_free(ev);
	for (size_t n = 0; n < b.len; n++) {
		uint8_t *p = malloc(n ? n : 1);
		memcpy(p, b.data, n);
		assert_int_equal(read_checked(p, n), 0);
		free(p);
	}
	size_t accepted = 0;
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			uint8_t *p = malloc(b.len);
			memcpy(p, b.data, b.len);
			p[i] ^= (uint8_t)(1u << bit);
			accepted += (size_t)read_checked(p, b.len);
			free(p);
		}
	}
	/* flips inside the texts keep most bodies plain messages */
	assert_true(accepted > b.len);
	cji_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_not_plain),
		cmocka_unit_test(test_hand_built),
		cmocka_unit_test(test_damaged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
