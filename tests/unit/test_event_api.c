/* tests/unit/test_event_api.c — the public event API: parsing (syntax errors
 * with line and column, duplicates, NUL, invalid UTF-8), building field by
 * field, getters, time parsing, JSON output, clone and free. */
#include "test_event_helpers.h"

static void test_type_names(void **state)
{
	(void)state;
	static const char *names[] = { "unknown", "message", "image", "user", "thread_config",
	                               "delete_thread", "clear_history", "purge", "setting",
	                               "metric", "edit_message", "delete_message", "reaction",
	                               "thread", "redact_edits" };
	for (int t = 0; t <= 14; t++) {
		assert_string_equal(cj_event_type_name((cj_event_type)t), names[t]);
		if (t > 0)
			assert_int_equal(cj_event_type_from_name(names[t]), t);
	}
	assert_string_equal(cj_event_type_name((cj_event_type)15), "unknown");
	assert_string_equal(cj_event_type_name((cj_event_type)-1), "unknown");
	assert_int_equal(cj_event_type_from_name("unknown"), CJ_EVENT_UNKNOWN);
	assert_int_equal(cj_event_type_from_name("Message"), CJ_EVENT_UNKNOWN);
	assert_int_equal(cj_event_type_from_name(NULL), CJ_EVENT_UNKNOWN);
}

static void test_new_and_set(void **state)
{
	(void)state;
	cj_event *ev = NULL;
	assert_int_equal(cj_event_new(&ev, "message"), 0);
	assert_int_equal(cj_event_get_type(ev), CJ_EVENT_MESSAGE);
	assert_int_equal(cj_event_set_string(ev, "thread", "T1"), 0);
	assert_int_equal(cj_event_set_string(ev, "role", "user"), 0);
	assert_int_equal(cj_event_set_string(ev, "content", "héllo ☃"), 0);
	assert_int_equal(cj_event_validate(ev, NULL), 0);
	assert_int_equal(cj_event_set_json(ev, "metadata", "{\"a\":[1,2]}"), 0);
	assert_int_equal(cj_event_set_json(ev, "cost",
	                 "{\"model\":\"m\",\"input_tokens\":3,\"usd\":0.5}"), 0);
	assert_int_equal(cj_event_set_int(ev, "ts", 1714557600250), 0);
	assert_int_equal(cj_event_validate(ev, NULL), 0);
	char *s = cj_event_to_json(ev);
	assert_string_equal(s, "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\","
	                       "\"content\":\"héllo ☃\",\"metadata\":{\"a\":[1,2]},"
	                       "\"cost\":{\"model\":\"m\",\"input_tokens\":3,\"usd\":0.5},"
	                       "\"ts\":1714557600250}");
	cj_free(s);
	/* Setting again replaces the value. */
	assert_int_equal(cj_event_set_string(ev, "thread", "T2"), 0);
	assert_string_equal(cj_event_get_string(ev, "thread"), "T2");
	cj_event_free(ev);

	assert_int_equal(cj_event_new(&ev, "metric"), 0);
	assert_int_equal(cj_event_set_string(ev, "name", "latency"), 0);
	assert_int_equal(cj_event_set_real(ev, "value", 12.5), 0);
	assert_int_equal(cj_event_validate(ev, NULL), 0);
	assert_int_equal(cj_event_set_bool(ev, "value", 1), 0);
	expect_err(cj_event_validate(ev, NULL), CJ_EINVAL, "value", "metric bool value");
	cj_event_free(ev);

	assert_int_equal(cj_event_new(&ev, "setting"), 0);
	assert_int_equal(cj_event_set_string(ev, "key", "k"), 0);
	assert_int_equal(cj_event_set_json(ev, "value", "null"), 0);
	assert_int_equal(cj_event_set_bool(ev, "sensitive", 0), 0);
	assert_int_equal(cj_event_validate(ev, NULL), 0);
	cj_event_free(ev);
}

static void test_new_unknown_type(void **state)
{
	(void)state;
	cj_event *ev = (cj_event *)1;
	expect_err(cj_event_new(&ev, "nope"), CJ_EINVAL, "type", "new nope");
	assert_null(ev);
	assert_string_equal(cj_error_last(), "field 'type': unknown event type 'nope'");
	expect_err(cj_event_new(&ev, NULL), CJ_EINVAL, "type", "new NULL");
	expect_err(cj_event_new(&ev, "unknown"), CJ_EINVAL, "type", "new unknown");
}

static void test_set_refuses_type(void **state)
{
	(void)state;
	cj_event *ev;
	assert_int_equal(cj_event_new(&ev, "purge"), 0);
	expect_err(cj_event_set_string(ev, "type", "message"), CJ_EINVAL, "type", "set_string");
	expect_err(cj_event_set_int(ev, "type", 1), CJ_EINVAL, "type", "set_int");
	expect_err(cj_event_set_real(ev, "type", 1), CJ_EINVAL, "type", "set_real");
	expect_err(cj_event_set_bool(ev, "type", 1), CJ_EINVAL, "type", "set_bool");
	expect_err(cj_event_set_json(ev, "type", "\"x\""), CJ_EINVAL, "type", "set_json");
	assert_int_equal(cj_event_get_type(ev), CJ_EVENT_PURGE);
	assert_string_equal(cj_event_get_string(ev, "type"), "purge");
	cj_event_free(ev);
}

static void test_set_invalid_utf8(void **state)
{
	(void)state;
	static const char *bad[] = {
		"\xff", "abc\x80", "\xc0\xaf",          /* stray, continuation, overlong '/' */
		"\xe0\x80\xaf", "\xed\xa0\x80",         /* overlong, UTF-16 surrogate */
		"\xf4\x90\x80\x80", "\xe2\x82",         /* above U+10FFFF, truncated */
		"ok\xf0\x9f\x98",                       /* truncated emoji at the end */
	};
	cj_event *ev;
	assert_int_equal(cj_event_new(&ev, "message"), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		expect_err(cj_event_set_string(ev, "content", bad[i]), CJ_EINVAL, "content", bad[i]);
		assert_string_equal(cj_error_last(), "field 'content': invalid UTF-8");
		assert_null(cj_event_get_string(ev, "content"));
	}
	/* Valid multi-byte forms at the edges are accepted. */
	assert_int_equal(cj_event_set_string(ev, "content", "\xc2\x80\xf4\x8f\xbf\xbf\xef\xbf\xbf"), 0);
	/* Field names must be UTF-8 too. */
	assert_int_equal(cj_event_set_string(ev, "\xff", "x"), CJ_EINVAL);
	expect_err(cj_event_set_string(ev, "content", NULL), CJ_EINVAL, "content", "NULL value");
	assert_int_equal(cj_event_set_string(NULL, "content", "x"), CJ_EINVAL);
	assert_int_equal(cj_event_set_string(ev, NULL, "x"), CJ_EINVAL);
	cj_event_free(ev);
}

static void test_set_real_and_json_errors(void **state)
{
	(void)state;
	cj_event *ev;
	assert_int_equal(cj_event_new(&ev, "metric"), 0);
	expect_err(cj_event_set_real(ev, "value", 0.0 / 0.0), CJ_EINVAL, "value", "NaN");
	expect_err(cj_event_set_real(ev, "value", 1.0 / 0.0), CJ_EINVAL, "value", "Inf");
	expect_err(cj_event_set_json(ev, "tags", "{\"a\":1,}"), CJ_EINVAL, "tags", "bad json");
	assert_string_equal(cj_error_last(),
	                    "field 'tags': invalid JSON at line 1, column 8: string or '}' expected near '}'");
	expect_err(cj_event_set_json(ev, "tags", "{\"a\":1,\"a\":2}"), CJ_EINVAL, "tags", "dup");
	expect_err(cj_event_set_json(ev, "tags", "\"\\u0000\""), CJ_EINVAL, "tags", "NUL");
	expect_err(cj_event_set_json(ev, "tags", NULL), CJ_EINVAL, "tags", "NULL json");
	assert_int_equal(cj_event_set_json(ev, "tags", "[1, \"two\", null]"), 0);
	cj_event_free(ev);
}

static void test_getters(void **state)
{
	(void)state;
	cj_event *ev = parse_ok("{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\","
	                        "\"content\":\"hi\",\"metadata\":{\"x\":1},\"id\":\"abc\"}");
	assert_string_equal(cj_event_get_string(ev, "thread"), "T");
	assert_null(cj_event_get_string(ev, "server"));
	assert_null(cj_event_get_string(ev, "metadata"));  /* not a string */
	assert_null(cj_event_get_string(ev, NULL));
	assert_null(cj_event_get_string(NULL, "thread"));
	assert_string_equal(cji_event_id(ev), "abc");
	int64_t ms = -1;
	assert_int_equal(cj_event_get_ts(&ms, ev), 0);  /* absent */
	assert_int_equal(cj_event_get_type(NULL), CJ_EVENT_UNKNOWN);
	cj_event_free(ev);
	assert_null(cji_event_id(NULL));
}

static void expect_ts(const char *ts_json, int want_rc, int64_t want_ms)
{
	cj_event *ev = NULL;
	cj_event_new(&ev, "delete_thread");
	json_object_set_new(ev->obj, "ts", jload(ts_json));
	int64_t ms = -1;
	int rc = cj_event_get_ts(&ms, ev);
	if (rc != want_rc)
		fail_msg("ts %s: rc %d want %d (%s)", ts_json, rc, want_rc, cj_error_last());
	if (rc == 1 && ms != want_ms)
		fail_msg("ts %s: %lld want %lld", ts_json, (long long)ms, (long long)want_ms);
	if (rc < 0)
		assert_string_equal(cj_error_field(), "ts");
	cj_event_free(ev);
}

static void test_get_ts(void **state)
{
	(void)state;
	expect_ts("0", 1, 0);
	expect_ts("1714557600250", 1, 1714557600250);
	expect_ts("\"2024-05-01T10:00:00.250Z\"", 1, 1714557600250);
	expect_ts("\"2024-05-01T12:00:00.250+02:00\"", 1, 1714557600250);
	expect_ts("\"2024-05-01T05:30:00.25-04:30\"", 1, 1714557600250);
	expect_ts("\"2024-05-01 10:00:00.250999999z\"", 1, 1714557600250);
	expect_ts("\"2000-02-29T23:59:59.999Z\"", 1, 951868799999);
	expect_ts("\"1999-12-31T19:00:00-05:00\"", 1, 946684800000);
	expect_ts("\"1970-01-01T00:00:00Z\"", 1, 0);
	expect_ts("\"9999-12-31T23:59:59.999Z\"", 1, 253402300799999);
	expect_ts("253402300799999", 1, 253402300799999);
	expect_ts("253402300800000", CJ_EINVAL, 0);
	expect_ts("-1", CJ_EINVAL, 0);
	expect_ts("\"1969-12-31T23:59:59.999Z\"", CJ_EINVAL, 0);
	expect_ts("\"1970-01-01T00:30:00+01:00\"", CJ_EINVAL, 0);
	expect_ts("\"2023-02-29T00:00:00Z\"", CJ_EINVAL, 0);
	expect_ts("\"2024-05-01T10:00:00\"", CJ_EINVAL, 0);
	expect_ts("\"2024-05-01\"", CJ_EINVAL, 0);
	expect_ts("\"\"", CJ_EINVAL, 0);
	expect_ts("1.5", CJ_EINVAL, 0);
	expect_ts("true", CJ_EINVAL, 0);
	expect_ts("null", CJ_EINVAL, 0);
}

static void test_parse_syntax_errors(void **state)
{
	(void)state;
	parse_err("", CJ_EINVAL, NULL);
	parse_err("{\"type\":\"purge\",\n \"before\": 12,}", CJ_EINVAL, NULL);
	assert_string_equal(cj_error_last(), "invalid JSON at line 2, column 15: "
	                                     "string or '}' expected near '}'");
	parse_err("{\"type\":\"purge\",\"before\":1} x", CJ_EINVAL, NULL);
	assert_true(strncmp(cj_error_last(), "invalid JSON at line 1, column ", 31) == 0);
	parse_err("[1,2]", CJ_EINVAL, NULL);
	assert_string_equal(cj_error_last(), "invalid event: the JSON value must be an object");
	parse_err("\"message\"", CJ_EINVAL, NULL);
	parse_err("{\"type\":\"purge\",\"before\":1,\"before\":2}", CJ_EINVAL, NULL);
	assert_true(strstr(cj_error_last(), "duplicate object key") != NULL);
	/* NUL escapes are refused: events reach C callers as C strings. */
	parse_err("{\"type\":\"delete_thread\",\"thread\":\"a\\u0000b\"}", CJ_EINVAL, NULL);
	parse_err("{\"type\":\"delete_thread\",\"thread\\u0000\":\"a\"}", CJ_EINVAL, NULL);
	/* Invalid UTF-8 inside the text, in a value and in a key. */
	parse_err("{\"type\":\"delete_thread\",\"thread\":\"a\xff\"}", CJ_EINVAL, NULL);
	parse_err("{\"type\":\"delete_thread\",\"thr\xc0\xaf\" \"ead\":\"a\"}", CJ_EINVAL, NULL);
	parse_err("{\"type\":\"delete_thread\",\"thread\":\"\\ud800\"}", CJ_EINVAL, NULL);
	/* Numbers JSON cannot carry in an event. */
	parse_err("{\"type\":\"metric\",\"name\":\"n\",\"value\":1e999}", CJ_EINVAL, NULL);
	parse_err("{\"type\":\"metric\",\"name\":\"n\",\"value\":99999999999999999999}",
	          CJ_EINVAL, NULL);
	parse_err("{\"type\":\"metric\",\"name\":\"n\",\"value\":NaN}", CJ_EINVAL, NULL);
	/* Not NUL-terminated: only len bytes are read. */
	const char text[] = "{\"type\":\"delete_thread\",\"thread\":\"T\"}GARBAGE";
	cj_event *ev = NULL;
	assert_int_equal(cj_event_parse(&ev, text, strlen(text) - 7), 0);
	cj_event_free(ev);
	assert_int_equal(cj_event_parse(&ev, NULL, 0), CJ_EINVAL);
	assert_int_equal(cj_event_parse(NULL, text, 5), CJ_EINVAL);
}

static void test_parse_validates(void **state)
{
	(void)state;
	parse_err("{\"type\":\"message\",\"thread\":\"T\",\"role\":\"bot\",\"content\":\"x\"}",
	          CJ_EINVAL, "role");
	assert_string_equal(cj_error_last(),
	                    "field 'role': must be one of user, assistant, system, tool, developer");
	parse_err("{\"thread\":\"T\"}", CJ_EINVAL, "type");
	assert_string_equal(cj_error_last(), "field 'type': required");
}

static void test_to_json_keeps_order(void **state)
{
	(void)state;
	const char *text = "{\"type\":\"message\",\"role\":\"user\",\"thread\":\"T\","
	                   "\"content\":\"a\\\"b\\n\",\"metadata\":{\"z\":1,\"a\":0.5}}";
	cj_event *ev = parse_ok(text);
	char *s = cj_event_to_json(ev);
	assert_string_equal(s, text);
	cj_free(s);
	cj_event_free(ev);
	assert_null(cj_event_to_json(NULL));
}

static void test_clone_is_deep(void **state)
{
	(void)state;
	cj_event *ev = parse_ok("{\"type\":\"thread_config\",\"thread\":\"T\","
	                        "\"config\":{\"a\":{\"b\":1}}}");
	cj_event *cp = NULL;
	assert_int_equal(cj_event_clone(&cp, ev), 0);
	assert_int_equal(cj_event_get_type(cp), CJ_EVENT_THREAD_CONFIG);
	assert_true(json_equal(cp->obj, ev->obj));
	json_object_set_new(json_object_get(json_object_get(cp->obj, "config"), "a"), "b",
	                    json_integer(2));
	assert_int_equal(cj_event_set_string(cp, "thread", "U"), 0);
	assert_string_equal(cj_event_get_string(ev, "thread"), "T");
	json_t *b = json_object_get(json_object_get(json_object_get(ev->obj, "config"), "a"), "b");
	assert_int_equal(json_integer_value(b), 1);
	cj_event_free(cp);
	cj_event_free(ev);
	assert_int_equal(cj_event_clone(&cp, NULL), CJ_EINVAL);
	assert_null(cp);
	cj_event_free(NULL);
}

static void test_wrap(void **state)
{
	(void)state;
	cj_event *ev = (cj_event *)1;
	assert_int_equal(cji_event_wrap(&ev, json_array()), CJ_EINVAL);
	assert_null(ev);
	assert_int_equal(cji_event_wrap(&ev, NULL), CJ_EINVAL);
	assert_int_equal(cji_event_wrap(&ev, jload("{\"type\":\"bogus\"}")), 0);
	assert_int_equal(cj_event_get_type(ev), CJ_EVENT_UNKNOWN);
	expect_err(cj_event_validate(ev, NULL), CJ_EINVAL, "type", "bogus type");
	cj_event_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_new_and_set),
		cmocka_unit_test(test_new_unknown_type),
		cmocka_unit_test(test_set_refuses_type),
		cmocka_unit_test(test_set_invalid_utf8),
		cmocka_unit_test(test_set_real_and_json_errors),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_get_ts),
		cmocka_unit_test(test_parse_syntax_errors),
		cmocka_unit_test(test_parse_validates),
		cmocka_unit_test(test_to_json_keeps_order),
		cmocka_unit_test(test_clone_is_deep),
		cmocka_unit_test(test_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
