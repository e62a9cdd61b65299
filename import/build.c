/* import/build.c — building events with a sticky error (eb_*: the first
 * failure is kept, later calls do nothing; one from a JSON object too), ids of a bounded length, hashes
 * for profile ids: used by the parsers (util.c, fmt_*.c) and by the
 * driver's deciding side (decide.c, sync.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "import_internal.h"

static void eb_note(eb *b, int rc)
{
	if (rc == 0 || b->rc)
		return;
	b->rc = rc;
	snprintf(b->why, sizeof b->why, "%s", cj_error_last()[0] ? cj_error_last() : cj_strerror(rc));
}

cj_event *eb_new(eb *b, const char *type)
{
	cj_event *ev = NULL;
	int rc = cj_event_new(&ev, type);
	eb_note(b, rc);
	return rc ? NULL : ev;
}

void eb_str(eb *b, cj_event *ev, const char *field, const char *value)
{
	if (!ev || !value || b->rc)
		return;
	eb_note(b, cj_event_set_string(ev, field, value));
}

void eb_int(eb *b, cj_event *ev, const char *field, int64_t value)
{
	if (!ev || b->rc)
		return;
	eb_note(b, cj_event_set_int(ev, field, value));
}

void eb_bool(eb *b, cj_event *ev, const char *field, int value)
{
	if (!ev || b->rc)
		return;
	eb_note(b, cj_event_set_bool(ev, field, value));
}

void eb_json(eb *b, cj_event *ev, const char *field, const json_t *value)
{
	if (!ev || !value || b->rc)
		return;
	char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (!text) {
		eb_note(b, CJ_ENOMEM);
		return;
	}
	eb_note(b, cj_event_set_json(ev, field, text));
	free(text);
}

const char *js(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

void imp_hash_text(char out[17], const char *s, size_t len)
{
	snprintf(out, 17, "%016llx", (unsigned long long)XXH64(s, len, 0));
}

void imp_hash_json(char out[17], const json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	imp_hash_text(out, text ? text : "", text ? strlen(text) : 0);
	free(text);
}

void imp_id(char out[257], const char *fmt, ...)
{
	char big[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(big, sizeof big, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n <= 256) {
		memcpy(out, big, (size_t)n + 1);
		return;
	}
	char h[17];
	imp_hash_text(h, big, strlen(big));
	/* 200 bytes, not cutting a UTF-8 sequence */
	size_t cut = 200;
	while (cut > 0 && ((unsigned char)big[cut] & 0xc0) == 0x80)
		cut--;
	snprintf(out, 257, "%.*s:%s", (int)cut, big, h);
}

/* Validation happens in the driver against the store's limits: parse with
 * the widest ones so that the driver's message is the one reported. */
static const cj_limits loose = { (size_t)64 << 20, (size_t)64 << 20, (size_t)64 << 20, 63,
                                 (size_t)64 << 20 };

cj_event *eb_from_json(eb *b, const json_t *obj)
{
	if (b->rc)
		return NULL;
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text) {
		eb_note(b, CJ_ENOMEM);
		return NULL;
	}
	cj_event **evs = NULL;
	size_t n = 0;
	int is_array = 0;
	long bad = -1;
	int rc = cj_event_parse_many(&evs, &n, &is_array, &bad, text, strlen(text), &loose, 1);
	free(text);
	if (rc != 0) {
		eb_note(b, rc);
		return NULL;
	}
	cj_event *ev = evs[0];
	evs[0] = NULL;
	cj_events_free(evs, n);
	return ev;
}
