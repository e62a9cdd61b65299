/* tests/unit/test_event_helpers.h — small helpers shared by the event unit
 * tests: parse-or-fail, expect an error with its code and field, and the
 * encode/decode round trip. Header-only; each test includes it once. */
#ifndef CJ_TEST_EVENT_HELPERS_H
#define CJ_TEST_EVENT_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include "chatjournal/event.h"
#include "journal/event_internal.h"

/* Parse text that must be a valid event. */
static inline cj_event *parse_ok(const char *json)
{
	cj_event *ev = NULL;
	int rc = cj_event_parse(&ev, json, strlen(json));
	if (rc != 0)
		fail_msg("parse of %s failed: %d %s", json, rc, cj_error_last());
	return ev;
}

/* Assert that rc is code and the error names field (NULL: no field). */
static inline void expect_err(int rc, int code, const char *field, const char *what)
{
	what = what ? what : "?";
	if (rc != code)
		fail_msg("%s: got %d (%s), want %d", what, rc, cj_error_last(), code);
	const char *f = cj_error_field();
	if (field == NULL && f != NULL)
		fail_msg("%s: error names field '%s', want none (%s)", what, f ? f : "?",
		         cj_error_last());
	if (field != NULL && (f == NULL || strcmp(f, field) != 0))
		fail_msg("%s: error names field '%s', want '%s' (%s)", what, f ? f : "(none)",
		         field, cj_error_last());
}

/* Parse text and expect it refused with code and field. */
static inline void parse_err(const char *json, int code, const char *field)
{
	cj_event *ev = (cj_event *)1;
	cj_error_clear();
	int rc = cj_event_parse(&ev, json, strlen(json));
	expect_err(rc, code, field, json);
	assert_null(ev);
}

/* Load JSON text as a plain jansson value (test expectations). */
static inline json_t *jload(const char *json)
{
	json_error_t e;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON %s: %s", json, e.text);
	return v;
}

/* Encode ev into a fresh buffer (must succeed). */
static inline cji_buf encode_ok(const cj_event *ev, int64_t *ts, int *has_ts)
{
	cji_buf b = CJI_BUF_INIT;
	int64_t t;
	int h;
	int rc = cji_event_encode(ev, &b, ts ? ts : &t, has_ts ? has_ts : &h);
	if (rc != 0)
		fail_msg("encode failed: %d %s", rc, cj_error_last());
	return b;
}

/* Decode must succeed. */
static inline cj_event *decode_ok(const uint8_t *p, size_t n, int64_t ts)
{
	cj_event *ev = NULL;
	int rc = cji_event_decode(&ev, p, n, ts);
	if (rc != 0)
		fail_msg("decode failed: %d %s", rc, cj_error_last());
	return ev;
}

/* Decode must fail with CJ_ECORRUPT and a message starting with prefix. */
static inline void decode_corrupt(const uint8_t *p, size_t n, const char *prefix)
{
	cj_event *ev = (cj_event *)1;
	int rc = cji_event_decode(&ev, p, n, 0);
	if (rc != CJ_ECORRUPT)
		fail_msg("decode of %zu bytes: got %d (%s), want CJ_ECORRUPT", n, rc, cj_error_last());
	assert_null(ev);
	if (prefix && strncmp(cj_error_last(), prefix, strlen(prefix)) != 0)
		fail_msg("decode error '%s' does not start with '%s'", cj_error_last(), prefix);
}

static inline void assert_json_equal(const json_t *got, const json_t *want)
{
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
		char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
		fail_msg("JSON differs:\n got  %s\n want %s", g, w);
	}
}

#endif
