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
#include "checks.h"

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
	cj_event_free(fz_codec_trip(ev, 4242));
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
