/* tests/sink/test_sink_unit.c — the sink's apply without a server: every
 * event type the library knows has a handler (a type added to the library
 * without one fails here), an unknown type stops the batch with an error
 * naming the record and the type, COPY text escaping, and the row
 * definitions' consistency (bulk columns know their source). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include "sink/sink_internal.h"

static cj_sink *new_sink(void)
{
	cj_sink *k = calloc(1, sizeof *k);
	assert_non_null(k);
	snprintf(k->store_id, sizeof k->store_id, "unit");
	k->o.load = CJ_SINK_LOAD_COPY;
	return k;
}

static cj_event *message(void)
{
	const char *j = "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"x\","
	                "\"user\":\"U\",\"ts\":1000}";
	cj_event *ev;
	assert_int_equal(cj_event_parse(&ev, j, strlen(j)), 0);
	return ev;
}

static void test_every_known_type_has_a_handler(void **state)
{
	(void)state;
	cj_sink *k = new_sink();
	cj_event *ev = message();
	unsigned known = 0;
	for (int code = 1; code < 256; code++) {
		if (!strcmp(cj_event_type_name((cj_event_type)code), "unknown"))
			continue;
		known++;
		cj_record rec = { (uint64_t)code, (cj_event_type)code, 1000, 0, 0, ev };
		cj_error_clear();
		int rc = sk_apply_event(k, &rec);
		/* Buffered types return 0; the others reach for PostgreSQL (which
		 * this test does not have) or refuse the message's fields: never
		 * "not known". */
		if (rc == CJ_EINVAL && strstr(cj_error_last(), "not known"))
			fail_msg("event type '%s' (code %d) has no handler in sink/apply.c: %s",
			         cj_event_type_name((cj_event_type)code), code, cj_error_last());
		sk_apply_discard(k);
	}
	assert_true(known >= 14);
	cj_event_free(ev);
	sk_apply_free(k);
	free(k);
}

static void test_unknown_type_is_an_error_naming_it(void **state)
{
	(void)state;
	cj_sink *k = new_sink();
	cj_event *ev = message();
	cj_record rec = { 4242, (cj_event_type)200, 1000, 0, 0, ev };
	int rc = sk_apply_event(k, &rec);
	assert_int_equal(rc, CJ_EINVAL);
	const char *m = cj_error_last();
	assert_non_null(strstr(m, "journal record 4242"));
	assert_non_null(strstr(m, "(code 200)"));
	assert_non_null(strstr(m, "not known to this sink"));
	assert_int_equal(k->bulk_rows[SK_T_MESSAGES], 0);
	cj_event_free(ev);
	sk_apply_free(k);
	free(k);
}

static void test_copy_escaping(void **state)
{
	(void)state;
	sk_buf b = { 0 };
	sk_buf_copy_field(&b, "a\tb\nc\\d\re");
	sk_buf_add(&b, "|", 1);
	sk_buf_copy_field(&b, NULL);
	sk_buf_add(&b, "|", 1);
	sk_buf_copy_field(&b, "");
	assert_string_equal(b.p, "a\\tb\\nc\\\\d\\re|\\N|");
	sk_buf_free(&b);
}

static void test_bulk_message_rows(void **state)
{
	(void)state;
	cj_sink *k = new_sink();
	const char *j = "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"a\\tb\","
	                "\"metadata\":{\"z\":1,\"a\":2},\"cost\":{\"usd\":0.1,\"input_tokens\":5},"
	                "\"ts\":86400001}";
	cj_event *ev;
	assert_int_equal(cj_event_parse(&ev, j, strlen(j)), 0);
	cj_record rec = { 7, CJ_EVENT_MESSAGE, 86400001, 0, 0, ev };
	assert_int_equal(sk_apply_event(k, &rec), 0);
	assert_string_equal(k->bulk[SK_T_MESSAGES].p,
	                    "unit\t7\tT\t\\N\tuser\ta\\tb\t\\N\t\\N\t\\N\t{\"a\":2,\"z\":1}\t\\N\t86400001\t"
	                    "1970-01-02T00:00:00.001Z\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n");
	assert_string_equal(k->bulk[SK_T_MESSAGE_COSTS].p,
	                    "unit\t7\t\\N\t\\N\t5\t\\N\t0.10000000000000001\t86400001\t1970-01-02\n");
	assert_int_equal(k->threads.used, 1);
	assert_int_equal(k->users.used, 0);
	cj_event_free(ev);
	sk_apply_free(k);
	free(k);
}

/* 0.3: the new message fields, its attachments (a row each, in order, the
 * element's fields; the message's seq) and their blobs; edited_ts stays
 * NULL until an edit sets it. */
static void test_bulk_message_03(void **state)
{
	(void)state;
	cj_sink *k = new_sink();
	const char *j = "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"assistant\",\"name\":\"bot\","
	                "\"reply_to\":\"m1\",\"parent\":\"p1\",\"tool_calls\":[{\"type\":\"function\","
	                "\"id\":\"c1\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}],"
	                "\"attachments\":[{\"url\":\"https://x/a.pdf\",\"name\":\"a\\tb\",\"size\":3},"
	                "{\"blob\":\"0123456789abcdef0123456789abcdef\",\"mime\":\"image/png\"}],\"ts\":1000}";
	cj_event *ev;
	assert_int_equal(cj_event_parse(&ev, j, strlen(j)), 0);
	cj_record rec = { 9, CJ_EVENT_MESSAGE, 1000, 0, 0, ev };
	assert_int_equal(sk_apply_event(k, &rec), 0);
	assert_string_equal(k->bulk[SK_T_MESSAGES].p,
	                    "unit\t9\tT\t\\N\tassistant\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t1000\t"
	                    "1970-01-01T00:00:01.000Z\tm1\tp1\tbot\t\\N\t"
	                    "[{\"function\":{\"arguments\":\"{}\",\"name\":\"f\"},\"id\":\"c1\",\"type\":\"function\"}]"
	                    "\t\\N\t\\N\n");
	assert_int_equal(k->bulk_rows[SK_T_ATTACHMENTS], 2);
	assert_string_equal(k->bulk[SK_T_ATTACHMENTS].p,
	                    "unit\t9\t0\t\\N\thttps://x/a.pdf\ta\\tb\t\\N\t3\n"
	                    "unit\t9\t1\t0123456789abcdef0123456789abcdef\t\\N\t\\N\timage/png\t\\N\n");
	assert_int_equal(k->bulk_rows[SK_T_MESSAGE_COSTS], 0);
	assert_int_equal(k->blobs.used, 1); /* the stored file's blob row (first_seq 9) */
	cj_event_free(ev);
	sk_apply_discard(k);
	sk_apply_free(k);
	free(k);
}

static void test_row_definitions(void **state)
{
	(void)state;
	for (int t = 0; t < SK_NTABLES; t++) {
		const sk_table *tb = &sk_tables[t];
		assert_true(tb->ncols > 0 && tb->ncols <= SK_MAX_COLS);
		for (size_t c = 0; c < tb->ncols; c++) {
			assert_non_null(tb->cols[c].name);
			assert_non_null(tb->cols[c].sqlite);
			if (tb->bulk != (tb->cols[c].src != NULL))
				fail_msg("table %s column %s: a bulk table's columns need a source, others none",
				         tb->name, tb->cols[c].name);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_known_type_has_a_handler),
		cmocka_unit_test(test_unknown_type_is_an_error_naming_it),
		cmocka_unit_test(test_copy_escaping),
		cmocka_unit_test(test_bulk_message_rows),
		cmocka_unit_test(test_bulk_message_03),
		cmocka_unit_test(test_row_definitions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
