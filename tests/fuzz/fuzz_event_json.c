/* tests/fuzz/fuzz_event_json.c — libFuzzer harness for cj_event_parse: the
 * input is JSON text. Parsing fails with a named error or yields a valid
 * event that encodes, decodes to the same value (ts normalized), stays valid,
 * re-encodes to the same bytes and reads back from its own JSON text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "journal/event_internal.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void check_refusal(int rc)
{
	CHECK(rc == CJ_EINVAL || rc == CJ_ETOOBIG || rc == CJ_ENOMEM);
	CHECK(cj_error_last()[0] != '\0');
	/* A field error says which field, first thing. */
	const char *f = cj_error_field();
	if (f && rc != CJ_ENOMEM)
		CHECK(strncmp(cj_error_last(), "field '", 7) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cj_event *ev = NULL;
	int rc = cj_event_parse(&ev, (const char *)data, size);
	if (rc != 0) {
		check_refusal(rc);
		CHECK(ev == NULL);
		return 0;
	}
	cji_buf b1 = CJI_BUF_INIT, b2 = CJI_BUF_INIT;
	int64_t ts = 0, ts2 = 0;
	int has_ts = 0, has_ts2 = 0;
	CHECK(cji_event_encode(ev, &b1, &ts, &has_ts) == 0);

	const int64_t header_ts = 77;
	cj_event *back = NULL;
	CHECK(cji_event_decode(&back, b1.data, b1.len, header_ts) == 0);
	json_t *want = json_deep_copy(ev->obj);
	CHECK(want);
	CHECK(json_object_set_new(want, "ts", json_integer(has_ts ? ts : header_ts)) == 0);
	CHECK(json_equal(back->obj, want));
	json_decref(want);
	CHECK(cj_event_get_type(back) == cj_event_get_type(ev));
	CHECK(cj_event_validate(back, NULL) == 0);

	CHECK(cji_event_encode(back, &b2, &ts2, &has_ts2) == 0);
	CHECK(has_ts2 == 1 && ts2 == (has_ts ? ts : header_ts));
	if (has_ts)
		CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);

	char *text = cj_event_to_json(ev);
	CHECK(text);
	cj_event *again = NULL;
	CHECK(cj_event_parse(&again, text, strlen(text)) == 0);
	CHECK(json_equal(again->obj, ev->obj));
	cj_event_free(again);
	free(text);

	cji_buf_free(&b1);
	cji_buf_free(&b2);
	cj_event_free(back);
	cj_event_free(ev);
	return 0;
}
