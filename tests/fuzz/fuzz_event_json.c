/* tests/fuzz/fuzz_event_json.c — libFuzzer harness for cj_event_parse: the
 * input is JSON text. Parsing fails with a named error or yields a valid
 * event that encodes, decodes to the same value (ts normalized), stays valid,
 * re-encodes to the same bytes and reads back from its own JSON text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "journal/event_internal.h"
#include "checks.h"

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
	cj_event *back = fz_codec_trip(ev, 77);
	CHECK(cj_event_get_type(back) == cj_event_get_type(ev));
	CHECK(cj_event_validate(back, NULL) == 0);
	fz_json_trip(ev);
	cj_event_free(back);
	cj_event_free(ev);
	return 0;
}
