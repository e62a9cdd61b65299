/* chatjournal/event.h — events: build, parse, validate, inspect.
 *
 * An event is a JSON-shaped object with a "type" (see docs/format.md and the
 * table in docs/events.md). Events are built from JSON text or field by field;
 * cj_event_validate() (also run by every append) checks required fields, types,
 * UTF-8 and size limits and names the field at fault through cj_error_field().
 *
 * Thread-safety: an event is a plain value; distinct events may be used from
 * distinct threads; one event must not be modified while another thread reads it.
 */
#ifndef CHATJOURNAL_EVENT_H
#define CHATJOURNAL_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cj_event cj_event;

/* Type codes are stored in every journal record header: append-only. */
typedef enum cj_event_type {
	CJ_EVENT_UNKNOWN       = 0,
	CJ_EVENT_MESSAGE       = 1,
	CJ_EVENT_IMAGE         = 2,
	CJ_EVENT_USER          = 3,
	CJ_EVENT_THREAD_CONFIG = 4,
	CJ_EVENT_DELETE_THREAD = 5,
	CJ_EVENT_CLEAR_HISTORY = 6,
	CJ_EVENT_PURGE         = 7,
	CJ_EVENT_SETTING       = 8,
	CJ_EVENT_METRIC        = 9,
	/* 0.3: the chat model (docs/events.md) */
	CJ_EVENT_EDIT_MESSAGE   = 10,
	CJ_EVENT_DELETE_MESSAGE = 11,
	CJ_EVENT_REACTION       = 12,
	CJ_EVENT_THREAD         = 13,
	CJ_EVENT_REDACT_EDITS   = 14   /* appended by compaction (docs/events.md) */
} cj_event_type;

/* Size limits applied by validation. A store applies its own (chatjournal.conf). */
typedef struct cj_limits {
	size_t max_content;   /* message content, image prompt/analysis; default 1 MiB */
	size_t max_string;    /* any other string; default 64 KiB */
	size_t max_object;    /* encoded size of an object field (metadata, config); default 1 MiB */
	unsigned max_depth;   /* nesting depth of object fields; default 32 */
	size_t max_event;     /* encoded size of the whole event; default 4 MiB */
} cj_limits;

#define CJ_DEFAULT_MAX_CONTENT ((size_t)1 << 20)
#define CJ_DEFAULT_MAX_STRING  ((size_t)64 << 10)
#define CJ_DEFAULT_MAX_OBJECT  ((size_t)1 << 20)
#define CJ_DEFAULT_MAX_DEPTH   32u
#define CJ_DEFAULT_MAX_EVENT   ((size_t)4 << 20)
#define CJ_LIMITS_DEFAULT { CJ_DEFAULT_MAX_CONTENT, CJ_DEFAULT_MAX_STRING, CJ_DEFAULT_MAX_OBJECT, \
                            CJ_DEFAULT_MAX_DEPTH, CJ_DEFAULT_MAX_EVENT }

/* Parse one JSON object (len bytes, need not be NUL-terminated) and validate it
 * with default limits. On success *out is a new event (free with cj_event_free).
 * Duplicate keys, "\u0000", lone surrogates and invalid UTF-8 are syntax errors.
 * Errors: CJ_EINVAL (syntax: message names line and column; or a field),
 * CJ_ETOOBIG (a field over a limit, or text over 64 MiB), CJ_ENOMEM.
 * The rules: docs/events.md. */
CJ_API int cj_event_parse(cj_event **out, const char *json, size_t len);

/* Parse one event object or a JSON array of them (a batch), validating each
 * against lim (NULL: defaults). *evs gets *n events (free with
 * cj_events_free), *is_array whether the text was an array. An empty array or
 * one over max_events is refused. Errors name the element ("event 3: field
 * 'role': ...") and set *bad_index (-1 if not about one element). */
CJ_API int cj_event_parse_many(cj_event ***evs, size_t *n, int *is_array, long *bad_index,
                               const char *json, size_t len, const cj_limits *lim,
                               size_t max_events);
CJ_API void cj_events_free(cj_event **evs, size_t n);

/* A new event of the given type name ("message", ...) with no other field.
 * Errors: CJ_EINVAL (unknown type, field "type"), CJ_ENOMEM. */
CJ_API int cj_event_new(cj_event **out, const char *type);

/* Set a field. Strings must be valid UTF-8 (CJ_EINVAL names the field otherwise).
 * cj_event_set_json parses a JSON value (object, array, any) for fields such as
 * "metadata", "config", "value", "cost", "tags". Setting "type" is refused. */
CJ_API int cj_event_set_string(cj_event *ev, const char *field, const char *value);
CJ_API int cj_event_set_int(cj_event *ev, const char *field, int64_t value);
CJ_API int cj_event_set_real(cj_event *ev, const char *field, double value);
CJ_API int cj_event_set_bool(cj_event *ev, const char *field, int value);
CJ_API int cj_event_set_json(cj_event *ev, const char *field, const char *json);

/* Check the event against lim (NULL: defaults). 0 or CJ_EINVAL/CJ_ETOOBIG with
 * the field named by cj_error_field(). */
CJ_API int cj_event_validate(const cj_event *ev, const cj_limits *lim);

CJ_API cj_event_type cj_event_get_type(const cj_event *ev);
CJ_API const char *cj_event_type_name(cj_event_type type); /* "message", ...; "unknown" */
CJ_API cj_event_type cj_event_type_from_name(const char *name);

/* A string field, or NULL if absent or not a string. Valid while ev lives
 * and the field is not set again. */
CJ_API const char *cj_event_get_string(const cj_event *ev, const char *field);

/* Event time in ms since the epoch from "ts" (RFC 3339 or integer ms):
 * 1 and *ms set if present and valid, 0 if absent, CJ_EINVAL if malformed or
 * outside 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z. */
CJ_API int cj_event_get_ts(int64_t *ms, const cj_event *ev);

/* Times and durations as the library reads and writes them. cj_time_parse:
 * RFC 3339 ("2026-05-01T12:00:00Z", "...+02:00", fraction optional) to ms
 * since the epoch; CJ_EINVAL naming the text otherwise. cj_time_format: ms
 * to "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). cj_duration_parse: "90d", "12h",
 * "15m", "30s", "500ms", "2w" to ms; CJ_EINVAL otherwise. */
CJ_API int cj_time_parse(int64_t *ms, const char *text);
CJ_API void cj_time_format(char out[32], int64_t ms);
CJ_API int cj_duration_parse(int64_t *ms, const char *text);

/* The event as compact JSON text, keys in the order they were set; reals
 * with 17 significant digits (they read back to the same double). Free with
 * cj_free. NULL on ENOMEM. */
CJ_API char *cj_event_to_json(const cj_event *ev);

/* The event's canonical JSON text, the same for equal events whatever the
 * order or form their fields were given in: compact, keys sorted bytewise at
 * every level, "ts" as integer ms since the epoch (an RFC 3339 "ts" is
 * converted), reals with 17 significant digits, UTF-8 as is (no \u escapes
 * but those JSON requires). It is the JSON form of the journal's canonical
 * msgpack body (docs/format.md). *out (free with cj_free) gets the text,
 * *len_out (may be NULL) its length. Errors: CJ_EINVAL (NULL event, or a
 * "ts" that is not a valid time), CJ_ENOMEM. */
CJ_API int cj_event_to_canonical_json(char **out, size_t *len_out, const cj_event *ev);

/* JSON Merge Patch (RFC 7396), the rule of "config_patch": target (JSON
 * text, or NULL for absent) patched with patch (JSON text); *out (free with
 * cj_free) gets the result as canonical JSON text (compact, keys sorted).
 * The library's one implementation (the projection and the effective config
 * use it too), for programs that keep a projection of their own (the
 * PostgreSQL sink). Errors: CJ_EINVAL (either text is not JSON; the message
 * says which and where), CJ_ENOMEM. Thread-safe. */
CJ_API int cj_json_merge_patch(char **out, const char *target, const char *patch);

/* Deep copy. */
CJ_API int cj_event_clone(cj_event **out, const cj_event *ev);

CJ_API void cj_event_free(cj_event *ev);

/* Offset of the first byte of s[0..len) that does not begin a valid UTF-8
 * sequence (strict: no overlong forms, no surrogates, nothing past
 * U+10FFFF; NUL counts as valid here), or len if the whole text is valid.
 * The rule every event string is checked against (which also refuses NUL). */
CJ_API size_t cj_utf8_check(const char *s, size_t len);

/* 0 if name is an IANA time zone of the system's tz database ($TZDIR, else
 * /usr/share/zoneinfo), CJ_EINVAL naming it otherwise: the rule of
 * user.timezone (docs/events.md, "Time zones"; without a database any name
 * of the right shape passes). */
CJ_API int cj_timezone_check(const char *name);

#ifdef __cplusplus
}
#endif
#endif
