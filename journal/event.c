/* journal/event.c — the public event API: parse JSON, build field by field,
 * inspect, serialize back to JSON. An event is a jansson object plus its type
 * code; the schema lives in event_validate.c, the stored form in
 * event_pack.c / event_unpack.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "journal/event_internal.h"
#include "common/err.h"
#include "common/utf8.h"
#include "journal/json_parse.h"
#include "common/timeutil.h"


/* Parsing a text larger than this is refused before jansson allocates for it:
 * the largest event a store accepts is far smaller even with JSON escaping. */
#define CJI_EVENT_MAX_JSON CJI_DECODE_MAX_BODY


int cji_event_wrap(cj_event **out, json_t *obj)
{
	*out = NULL;
	if (!json_is_object(obj)) {
		json_decref(obj);
		return cji_err(CJ_EINVAL, "event must be a JSON object");
	}
	cj_event *ev = malloc(sizeof *ev);
	if (!ev) {
		json_decref(obj);
		return cji_err(CJ_ENOMEM, "out of memory creating an event");
	}
	ev->obj = obj;
	atomic_init(&ev->valid_tag, 0);
	atomic_init(&ev->has_lists, 0);
	ev->type = cj_event_type_from_name(json_string_value(json_object_get(obj, "type")));
	*out = ev;
	return 0;
}

const char *cji_event_id(const cj_event *ev)
{
	return ev ? json_string_value(json_object_get(ev->obj, "id")) : NULL;
}

int cj_event_parse(cj_event **out, const char *json, size_t len)
{
	if (!out)
		return cji_err(CJ_EINVAL, "cj_event_parse: out is NULL");
	*out = NULL;
	if (!json)
		return cji_err(CJ_EINVAL, "cj_event_parse: json is NULL");
	if (len > CJI_EVENT_MAX_JSON)
		return cji_err(CJ_ETOOBIG, "event JSON text of %zu bytes exceeds %zu bytes",
		               len, (size_t)CJI_EVENT_MAX_JSON);

	json_t *obj;
	int lrc = cji_json_load(&obj, json, len, 0, NULL);
	if (lrc)
		return lrc;
	if (!json_is_object(obj)) {
		json_decref(obj);
		return cji_err(CJ_EINVAL, "invalid event: the JSON value must be an object");
	}
	cj_event *ev;
	int rc = cji_event_wrap(&ev, obj);
	if (rc)
		return rc;
	rc = cj_event_validate(ev, NULL);
	if (rc) {
		cj_event_free(ev);
		return rc;
	}
	*out = ev;
	return 0;
}

int cj_event_new(cj_event **out, const char *type)
{
	if (!out)
		return cji_err(CJ_EINVAL, "cj_event_new: out is NULL");
	*out = NULL;
	cj_event_type t = cj_event_type_from_name(type);
	if (t == CJ_EVENT_UNKNOWN)
		return cji_err_field(CJ_EINVAL, "type", "field 'type': unknown event type '%.64s'",
		                     type ? type : "(null)");
	json_t *obj = json_object();
	if (!obj || json_object_set_new(obj, "type", json_string(cj_event_type_name(t))) != 0) {
		json_decref(obj);
		return cji_err(CJ_ENOMEM, "out of memory creating an event");
	}
	return cji_event_wrap(out, obj);
}

/* Checks shared by every setter, before any value is built. */
static int check_target(const cj_event *ev, const char *field)
{
	if (!ev || !field)
		return cji_err(CJ_EINVAL, "cj_event_set: event or field is NULL");
	if (strcmp(field, "type") == 0)
		return cji_err_field(CJ_EINVAL, "type",
		                     "field 'type': is fixed by cj_event_new and cannot be set");
	if (!cji_utf8_valid((const uint8_t *)field, strlen(field)))
		return cji_err(CJ_EINVAL, "cj_event_set: field name is not valid UTF-8");
	return 0;
}

/* Store val (owned; NULL means its allocation failed) under field. */
static int put(cj_event *ev, const char *field, json_t *val)
{
	atomic_store_explicit(&ev->valid_tag, 0, memory_order_relaxed); /* validate again */
	if (!val || json_object_set_new(ev->obj, field, val) != 0)
		return cji_err(CJ_ENOMEM, "out of memory setting field '%.64s'", field);
	return 0;
}

int cj_event_set_string(cj_event *ev, const char *field, const char *value)
{
	int rc = check_target(ev, field);
	if (rc)
		return rc;
	if (!value)
		return cji_err_field(CJ_EINVAL, field, "field '%.64s': value is NULL", field);
	if (!cji_utf8_valid((const uint8_t *)value, strlen(value)))
		return cji_err_field(CJ_EINVAL, field, "field '%.64s': invalid UTF-8", field);
	return put(ev, field, json_string_nocheck(value));
}

int cj_event_set_int(cj_event *ev, const char *field, int64_t value)
{
	int rc = check_target(ev, field);
	return rc ? rc : put(ev, field, json_integer((json_int_t)value));
}

int cj_event_set_real(cj_event *ev, const char *field, double value)
{
	int rc = check_target(ev, field);
	if (rc)
		return rc;
	/* json_real refuses these with NULL, which would read as out of memory. */
	if (!isfinite(value))
		return cji_err_field(CJ_EINVAL, field,
		                     "field '%.64s': NaN and infinity are not JSON numbers", field);
	return put(ev, field, json_real(value));
}

int cj_event_set_bool(cj_event *ev, const char *field, int value)
{
	int rc = check_target(ev, field);
	return rc ? rc : put(ev, field, json_boolean(value));
}

int cj_event_set_json(cj_event *ev, const char *field, const char *json)
{
	int rc = check_target(ev, field);
	if (rc)
		return rc;
	if (!json)
		return cji_err_field(CJ_EINVAL, field, "field '%.64s': JSON text is NULL", field);
	json_t *val;
	if ((rc = cji_json_load(&val, json, strlen(json), 1, field)))
		return rc;
	return put(ev, field, val);
}

cj_event_type cj_event_get_type(const cj_event *ev)
{
	return ev ? ev->type : CJ_EVENT_UNKNOWN;
}

const char *cj_event_get_string(const cj_event *ev, const char *field)
{
	if (!ev || !field)
		return NULL;
	return json_string_value(json_object_get(ev->obj, field));
}

int cj_event_get_ts(int64_t *ms, const cj_event *ev)
{
	if (!ev || !ms)
		return cji_err(CJ_EINVAL, "cj_event_get_ts: event or ms is NULL");
	json_t *v = json_object_get(ev->obj, "ts");
	if (!v)
		return 0;
	if (cji_event_time_value(v, ms) != 0)
		return cji_err_field(CJ_EINVAL, "ts",
		                     "field 'ts': must be an RFC 3339 time or integer milliseconds "
		                     "from 1970 to 9999");
	return 1;
}

char *cj_event_to_json(const cj_event *ev)
{
	if (!ev)
		return NULL;
	/* jansson keeps insertion order, so keys come out as the caller gave them;
	 * reals print with 17 digits and read back to the same double. */
	return json_dumps(ev->obj, JSON_COMPACT);
}

int cj_event_to_canonical_json(char **out, size_t *len_out, const cj_event *ev)
{
	if (!out)
		return cji_err(CJ_EINVAL, "cj_event_to_canonical_json: out is NULL");
	*out = NULL;
	if (len_out)
		*len_out = 0;
	if (!ev)
		return cji_err(CJ_EINVAL, "cj_event_to_canonical_json: event is NULL");
	/* A shallow copy: only "ts" changes; nested values are shared, and
	 * JSON_SORT_KEYS sorts every level bytewise (memcmp), as the body's
	 * msgpack map is sorted. */
	json_t *o = json_copy(ev->obj);
	if (!o)
		return cji_err(CJ_ENOMEM, "out of memory");
	json_t *ts = json_object_get(o, "ts");
	int64_t ms;
	if (ts && !json_is_integer(ts)) {
		if (cji_event_time_value(ts, &ms) != 0) {
			json_decref(o);
			return cji_err_field(CJ_EINVAL, "ts", "field 'ts': must be an RFC 3339 time or "
			                     "integer milliseconds from 1970 to 9999");
		}
		if (json_object_set_new(o, "ts", json_integer(ms)) != 0) {
			json_decref(o);
			return cji_err(CJ_ENOMEM, "out of memory");
		}
	}
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		return cji_err(CJ_ENOMEM, "out of memory");
	*out = text;
	if (len_out)
		*len_out = strlen(text);
	return 0;
}

int cj_event_clone(cj_event **out, const cj_event *ev)
{
	if (!out)
		return cji_err(CJ_EINVAL, "cj_event_clone: out is NULL");
	*out = NULL;
	if (!ev)
		return cji_err(CJ_EINVAL, "cj_event_clone: event is NULL");
	json_t *copy = json_deep_copy(ev->obj);
	if (!copy)
		return cji_err(CJ_ENOMEM, "out of memory copying an event");
	return cji_event_wrap(out, copy);
}

void cj_event_free(cj_event *ev)
{
	if (!ev)
		return;
	json_decref(ev->obj);
	free(ev);
}
