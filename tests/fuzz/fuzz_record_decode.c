/* tests/fuzz/fuzz_record_decode.c — libFuzzer harness for cji_event_decode:
 * the input is a record body. Whatever the bytes, decoding fails cleanly or
 * yields an event whose canonical encoding decodes back to the same value and
 * re-encodes to the same bytes; a decoded event that validates also survives
 * the trip through JSON text. The plain-message reader of bodies agrees
 * with the decoder on every body it accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "journal/event_internal.h"
#include "checks.h"

/* The value the canonical form must carry: "ts" as integer ms. */
static json_t *normalized(const cj_event *ev)
{
	json_t *want = json_deep_copy(ev->obj);
	CHECK(want);
	int64_t ms;
	if (cj_event_get_ts(&ms, ev) == 1)
		CHECK(json_object_set_new(want, "ts", json_integer((json_int_t)ms)) == 0);
	return want;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cj_event *ev = NULL;
	int rc = cji_event_decode(&ev, data, size, 1234);
	/* The plain-message reader accepts only bodies that decode, and reads
	 * the same fields from them (journal/event_fields.c). */
	cji_message_fields m, fields;
	cji_buf strings = CJI_BUF_INIT;
	int plain = cji_message_fields_read(&m, &strings, data, size);
	CHECK(plain == 0 || plain == 1 || plain == CJ_ENOMEM);
	if (plain == 1) {
		CHECK(rc == 0);
		cji_message_fields_of(&fields, ev->obj);
		CHECK(cji_message_fields_equal(&m, &fields));
		cji_message_fields_done(&m);
	}
	cji_buf_free(&strings);
	if (rc != 0) {
		CHECK(rc == CJ_ECORRUPT || rc == CJ_ENOMEM);
		CHECK(ev == NULL);
		return 0;
	}
	cji_buf b1 = CJI_BUF_INIT, b2 = CJI_BUF_INIT;
	int64_t ts;
	int has_ts;
	rc = cji_event_encode(ev, &b1, &ts, &has_ts);
	if (rc != 0) {
		/* Bodies are not validated: only a malformed "ts" may stop the encoder. */
		CHECK(rc == CJ_EINVAL && cj_error_field() && strcmp(cj_error_field(), "ts") == 0);
		CHECK(b1.len == 0);
		cji_buf_free(&b1);
		cj_event_free(ev);
		return 0;
	}
	CHECK(has_ts == 1);
	cj_event *ev2 = NULL;
	CHECK(cji_event_decode(&ev2, b1.data, b1.len, 0) == 0);
	json_t *want = normalized(ev);
	CHECK(json_equal(ev2->obj, want));
	json_decref(want);
	CHECK(cji_event_encode(ev2, &b2, &ts, &has_ts) == 0);
	CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	/* A decoded event that also validates must read back from its JSON text. */
	if (cj_event_validate(ev, NULL) == 0)
		fz_json_trip(ev);
	cji_buf_free(&b1);
	cji_buf_free(&b2);
	cj_event_free(ev2);
	cj_event_free(ev);
	return 0;
}
