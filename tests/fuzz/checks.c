/* tests/fuzz/checks.c — checks shared by the fuzz harnesses (see checks.h). */
#include <string.h>
#include "checks.h"

cj_event *fz_codec_trip(const cj_event *ev, int64_t header_ts)
{
	cji_buf b1 = CJI_BUF_INIT, b2 = CJI_BUF_INIT;
	int64_t ts = 0, ts2 = 0;
	int has_ts = 0, has_ts2 = 0;
	CHECK(cji_event_encode(ev, &b1, &ts, &has_ts) == 0);
	cj_event *back = NULL;
	CHECK(cji_event_decode(&back, b1.data, b1.len, header_ts) == 0);
	json_t *want = json_deep_copy(ev->obj);
	CHECK(want);
	CHECK(json_object_set_new(want, "ts", json_integer(has_ts ? ts : header_ts)) == 0);
	CHECK(json_equal(back->obj, want));
	json_decref(want);
	CHECK(cji_event_encode(back, &b2, &ts2, &has_ts2) == 0);
	CHECK(has_ts2 == 1 && ts2 == (has_ts ? ts : header_ts));
	if (has_ts)
		CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	cji_buf_free(&b1);
	cji_buf_free(&b2);
	return back;
}

void fz_json_trip(const cj_event *ev)
{
	char *text = cj_event_to_json(ev);
	CHECK(text);
	cj_event *back = NULL;
	CHECK(cj_event_parse(&back, text, strlen(text)) == 0);
	CHECK(json_equal(back->obj, ev->obj));
	cj_event_free(back);
	free(text);
}
