/* tests/fuzz/fuzz_http_body.c — libFuzzer harness for cjh_parse_events, the
 * POST /v1/events body parser, with the service's defaults (default limits,
 * depth 64, batch 10000). A refusal is a named CJ_EINVAL/CJ_ETOOBIG with
 * nothing returned (bodies nested deeper than 64 always refused); a success
 * returns 1..10000 valid events (exactly 1 unless the body is an array),
 * each of which encodes, decodes to the same value and re-encodes to the
 * same bytes. Everything is freed (LeakSanitizer watches). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "journal/event_internal.h"
#include "api/http/body.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

#define MAX_DEPTH 64
#define MAX_BATCH 10000

static int first_is_bracket(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')
			continue;
		return p[i] == '[';
	}
	return 0;
}

static void check_event(const cj_event *ev, const cj_limits *lim)
{
	CHECK(ev != NULL);
	CHECK(cj_event_validate(ev, lim) == 0);
	CHECK(cj_event_get_type(ev) != CJ_EVENT_UNKNOWN);
	cji_buf b1 = CJI_BUF_INIT, b2 = CJI_BUF_INIT;
	int64_t ts = 0, ts2 = 0;
	int has_ts = 0, has_ts2 = 0;
	CHECK(cji_event_encode(ev, &b1, &ts, &has_ts) == 0);
	const int64_t header_ts = 4242;
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
	cj_event_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const cj_limits lim = CJ_LIMITS_DEFAULT;
	cj_event **evs = (cj_event **)0x1;
	size_t n = 77;
	int is_array = -1;
	long bad = -7;
	cj_error_clear();
	int rc = cjh_parse_events((const char *)data, size, &lim, MAX_DEPTH, MAX_BATCH, &evs, &n,
	                          &is_array, &bad);
	int too_deep = cjh_json_depth((const char *)data, size, MAX_DEPTH) > MAX_DEPTH;
	if (rc != 0) {
		CHECK(rc == CJ_EINVAL || rc == CJ_ETOOBIG || rc == CJ_ENOMEM);
		CHECK(evs == NULL && n == 0);
		CHECK(cj_error_last()[0] != '\0');
		CHECK(bad >= -1);
		if (bad >= 0 && is_array && rc != CJ_ENOMEM) {
			char head[32];
			snprintf(head, sizeof head, "event %ld: ", bad);
			CHECK(strncmp(cj_error_last(), head, strlen(head)) == 0);
		}
		if (bad > 0)
			CHECK(is_array == 1);
		return 0;
	}
	CHECK(!too_deep);
	CHECK(size > 0);
	CHECK(evs != NULL);
	CHECK(bad == -1);
	CHECK(n >= 1 && n <= MAX_BATCH);
	CHECK(is_array == first_is_bracket(data, size));
	if (!is_array)
		CHECK(n == 1);
	for (size_t i = 0; i < n; i++)
		check_event(evs[i], &lim);
	cj_events_free(evs, n);
	return 0;
}
