/* journal/event_internal.h — the event's inside, shared by the event files
 * (event.c, event_validate.c, event_pack.c, event_unpack.c) and the journal.
 * Nothing outside the library sees this header. */
#ifndef CJ_JOURNAL_EVENT_INTERNAL_H
#define CJ_JOURNAL_EVENT_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <jansson.h>
#include "chatjournal/event.h"
#include "common/buf.h"

struct cj_event {
	json_t *obj;          /* always a JSON object; owns one reference */
	cj_event_type type;   /* from obj["type"]; CJ_EVENT_UNKNOWN if absent/unknown */
	/* The limits the event last passed validation under (a tag of them; 0:
	 * none, or changed since): an event parsed against the store's limits is
	 * not validated a second time when it is appended. Atomic because
	 * validation takes a const event that several threads may share. */
	_Atomic uint64_t valid_tag;
	/* Set with valid_tag (before it, release/acquire): the event holds an
	 * array of objects (attachments, tool_calls), so the append checks that
	 * look into them (stored blobs) need not look up plain messages. */
	_Atomic unsigned char has_lists;
};

/* cj_event_validate, unless the event already passed it under these very
 * limits and was not changed since (an event parsed against the store's
 * limits and then appended is checked once). */
int cji_event_validate_once(const cj_event *ev, const cj_limits *lim);

/* After validation (cji_event_validate_once returned 0): 1 if the event
 * holds an array of objects (attachments, tool_calls). */
int cji_event_has_lists(const cj_event *ev);

/* Hard caps for the hostile-input decoder, whatever the store's limits. */
#define CJI_DECODE_MAX_DEPTH   64
#define CJI_DECODE_MAX_NODES   (1u << 20)   /* JSON values in one body */
#define CJI_DECODE_MAX_BODY    ((size_t)64 << 20)

/* Wrap obj (reference stolen) in a new event; type read from obj["type"]. */
int cji_event_wrap(cj_event **out, json_t *obj);

/* Encode ev as the canonical msgpack body: a map whose keys are sorted
 * bytewise at every level; "ts" normalized to integer ms if given (RFC 3339
 * strings converted). Appends to out. *ts_ms gets the event time if present
 * (*has_ts = 1), else *has_ts = 0. The event must have passed validation.
 * Errors: CJ_EINVAL (field named), CJ_ENOMEM. */
int cji_event_encode(const cj_event *ev, cji_buf *out, int64_t *ts_ms, int *has_ts);

/* Decode a msgpack body (hostile input: every length checked against the bytes
 * left and the caps above before anything is allocated). If the body has no
 * "ts", ts_ms is added as "ts" (integer ms). The result has a "type" string
 * but is not otherwise validated.
 * Errors: CJ_ECORRUPT (message names the byte offset and the problem),
 * CJ_ENOMEM. */
int cji_event_decode(cj_event **out, const uint8_t *body, size_t len, int64_t ts_ms);

/* One value of a body, at byte `at`, decoded exactly as cji_event_decode
 * would decode it there: `depth` is its nesting level (a value of the
 * top-level map: 2) and *nodes the values the body held before it (updated
 * on success), both counted against the same caps. *used gets its length
 * in bytes. For a reader that takes the rest of a body apart itself
 * (event_fields.c). Errors as cji_event_decode's. */
int cji_event_decode_value(json_t **out, size_t *used, const uint8_t *body, size_t len, size_t at,
                           unsigned depth, size_t *nodes);

/* The fields of a plain message event, which is most of any journal: what
 * the projection reads from one (materializer/apply_rows.c). Strings are
 * NULL when absent (or, from an event, not strings). */
typedef struct cji_message_fields {
	const char *thread, *role, *content, *user, *server, *channel, *message_ts, *id;
	const json_t *metadata;    /* NULL if absent */
	const json_t *cost;        /* NULL if absent */
	/* The event itself when it has keys beyond the ones above (and type,
	 * ts): the fields of 0.3 (attachments, reply_to, ...), else NULL. */
	const json_t *rest;
	json_t *owned;             /* metadata read from a body (freed by _done) */
} cji_message_fields;

/* The fields of a decoded message event (borrowed from it). */
void cji_message_fields_of(cji_message_fields *m, const json_t *obj);

/* The same fields read straight from a record body, without building the
 * event: the strings are copied, NUL-terminated, into *strings (reset
 * first; they live until its next use). Only for the plain case: a body
 * that is a map of at most 65,535 entries whose keys are all among the
 * fields above (besides "type", which must be "message", and "ts", an
 * integer), without "cost", every string field a string, and nothing
 * cji_event_decode would refuse. Returns 1 and fills *m; 0 for every other
 * body (a damaged one too: *m untouched), which the caller decodes in full
 * (and gets its precise error from); CJ_ENOMEM.
 * For any body this reader accepts, cji_event_decode succeeds and
 * cji_message_fields_of its event gives equal fields (tests/unit/
 * test_event_fields.c and the record decoder's fuzz harness prove it). */
int cji_message_fields_read(cji_message_fields *m, cji_buf *strings, const uint8_t *body,
                            size_t len);

/* Free what *m owns (after either of the two above). */
void cji_message_fields_done(cji_message_fields *m);

/* 1 if x and y hold the same fields (strings equal or both NULL, JSON values
 * equal or both absent), else 0: how the tests compare the two readers. */
int cji_message_fields_equal(const cji_message_fields *x, const cji_message_fields *y);

/* A time value ("ts", "before"): RFC 3339 string or integer ms, within
 * 1970..9999. 0 and *ms, or -1. (event.c) */
int cji_event_time_value(const json_t *v, int64_t *ms);

/* "id" of the event if present (validated events: a non-empty string). */
const char *cji_event_id(const cj_event *ev);

#endif
