/* journal/event_validate.c — the event schema, in one place: a rule table per
 * type (field, kind, required) and the checks behind each kind. Every refusal
 * names the field at fault through cji_err_field. docs/events.md states the
 * same rules for users; keep the two in step. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>
#include "journal/event_internal.h"
#include "common/err.h"
#include "common/timeutil.h"
#include "common/tz.h"

/* ---- type names and time values: the vocabulary the rules use --------- */

/* 9999-12-31T23:59:59.999Z: the last instant RFC 3339 text can express. */
#define CJI_TIME_MAX_MS INT64_C(253402300799999)

/* Indexed by cj_event_type; codes are append-only, so this only grows. */
static const char *const type_names[] = {
	[CJ_EVENT_UNKNOWN]       = "unknown",
	[CJ_EVENT_MESSAGE]       = "message",
	[CJ_EVENT_IMAGE]         = "image",
	[CJ_EVENT_USER]          = "user",
	[CJ_EVENT_THREAD_CONFIG] = "thread_config",
	[CJ_EVENT_DELETE_THREAD] = "delete_thread",
	[CJ_EVENT_CLEAR_HISTORY] = "clear_history",
	[CJ_EVENT_PURGE]         = "purge",
	[CJ_EVENT_SETTING]       = "setting",
	[CJ_EVENT_METRIC]        = "metric",
	[CJ_EVENT_EDIT_MESSAGE]  = "edit_message",
	[CJ_EVENT_DELETE_MESSAGE] = "delete_message",
	[CJ_EVENT_REACTION]      = "reaction",
	[CJ_EVENT_THREAD]        = "thread",
	[CJ_EVENT_REDACT_EDITS]  = "redact_edits",
};
#define TYPE_COUNT (sizeof type_names / sizeof type_names[0])

const char *cj_event_type_name(cj_event_type type)
{
	if ((unsigned)type >= TYPE_COUNT)
		return "unknown";
	return type_names[type];
}

cj_event_type cj_event_type_from_name(const char *name)
{
	if (!name)
		return CJ_EVENT_UNKNOWN;
	for (unsigned i = 1; i < TYPE_COUNT; i++)
		if (strcmp(type_names[i], name) == 0)
			return (cj_event_type)i;
	return CJ_EVENT_UNKNOWN;
}

/* The one definition of an event time value: integer ms, or RFC 3339 text,
 * between the epoch and the end of year 9999 (so it always formats back). */
int cji_event_time_value(const json_t *v, int64_t *ms)
{
	int64_t t;
	if (json_is_integer(v)) {
		t = (int64_t)json_integer_value(v);
	} else if (json_is_string(v)) {
		if (cji_time_parse(json_string_value(v), &t) != 0)
			return -1;
	} else {
		return -1;
	}
	if (t < 0 || t > CJI_TIME_MAX_MS)
		return -1;
	*ms = t;
	return 0;
}


#define ID_MAX     256     /* "id": the idempotency key */
#define IDENT_MAX  1024    /* thread, user, server, ... */
#define TZ_MAX     64800   /* +-18 h, the widest offset ISO 8601 allows */
#define HASH_LEN   32      /* XXH3-128 as lowercase hex */
#define LIST_MAX   256     /* elements of an array of objects (attachments, tool_calls) */

enum kind {
	K_ID,        /* non-empty string <= ID_MAX bytes, no control characters */
	K_IDENT,     /* non-empty string <= IDENT_MAX bytes, no control characters */
	K_TEXT,      /* string <= max_string */
	K_URL,       /* non-empty string <= max_string */
	K_CONTENT,   /* string <= max_content */
	K_ENUM,      /* one of the strings in arg */
	K_ENUM_SET,  /* non-empty array of distinct strings, each one of arg */
	K_TIME,      /* RFC 3339 text or integer ms, 1970..9999; stored as given */
	K_TS,        /* a K_TIME stored as integer ms (the event's "ts") */
	K_HASH,      /* blob hash: HASH_LEN lowercase hex characters */
	K_TZ_OFFSET, /* integer seconds in [-TZ_MAX, TZ_MAX] */
	K_COUNT,     /* integer >= 0 */
	K_AMOUNT,    /* number >= 0 */
	K_NUMBER,    /* integer or real */
	K_BOOL,
	K_OBJECT,    /* object within max_depth and max_object */
	K_ANY,       /* any JSON value within max_depth and max_object */
	K_STRUCT,    /* object whose keys follow the sub-schema in arg */
	K_LIST,      /* 1 ..= LIST_MAX objects, each following the sub-schema in arg */
	K_TZ         /* an IANA time zone name of the system's tz database */
};

#define REQ 1u

typedef struct rule {
	const char *name;
	unsigned char kind;
	unsigned char flags;
	const void *arg;
} rule;

typedef struct schema {
	const rule *rules;
	size_t n;
	const char *extras;   /* where unknown fields belong, for the error hint */
	/* "at least one of" these fields (none REQ in the table); the error
	 * names the first. NULL-terminated; empty: no such rule. */
	const char *one_of[4];
	/* two fields that may not be given together; NULL: none */
	const char *not_both[2];
} schema;

#define COUNT(a) (sizeof (a) / sizeof (a)[0])
#define SCHEMA(r, extras) { r, COUNT(r), extras, { NULL }, { NULL, NULL } }
#define SCHEMA_X(r, extras, one_of, nb_a, nb_b) { r, COUNT(r), extras, one_of, { nb_a, nb_b } }
#define ONE_OF(...) { __VA_ARGS__, NULL }
#define NO_ONE_OF { NULL }

/* Append-only: "developer" (0.3) is the OpenAI chat-completions role that
 * replaces "system" for newer models (docs/events.md, "Tool use"). */
static const char *const roles[] = { "user", "assistant", "system", "tool", "developer", NULL };
static const char *const tool_call_types[] = { "function", NULL };
static const char *const reaction_ops[] = { "add", "remove", NULL };
static const char *const image_kinds[] = { "uploaded", "generated", "edited", NULL };
static const char *const purge_kinds[] = { "messages", "images", "metrics", NULL };

/* Fields every type may carry. "type" itself is checked before any table. */
static const rule common_rules[] = {
	{ "id", K_ID, 0, NULL },
	{ "ts", K_TS, 0, NULL },
};

static const rule cost_rules[] = {
	{ "model", K_IDENT, 0, NULL },
	{ "input_tokens", K_COUNT, 0, NULL },
	{ "output_tokens", K_COUNT, 0, NULL },
	{ "usd", K_AMOUNT, 0, NULL },
};
static const schema cost_schema = SCHEMA(cost_rules, NULL);

/* An attachment names its bytes by blob hash (stored in this journal) or
 * by url (elsewhere): one of the two (attachment_schema). */
static const rule attachment_rules[] = {
	{ "blob", K_HASH, 0, NULL },
	{ "url", K_URL, 0, NULL },
	{ "name", K_TEXT, 0, NULL },
	{ "mime", K_IDENT, 0, NULL },
	{ "size", K_COUNT, 0, NULL },
};
static const schema attachment_schema = SCHEMA_X(attachment_rules, NULL, ONE_OF("blob", "url"), NULL, NULL);

/* OpenAI chat completions' tool call: {id, type: "function", function:
 * {name, arguments}}, arguments a string (JSON text, as the model wrote it). */
static const rule function_rules[] = {
	{ "name", K_IDENT, REQ, NULL },
	{ "arguments", K_CONTENT, REQ, NULL },
};
static const schema function_schema = SCHEMA(function_rules, NULL);
static const rule tool_call_rules[] = {
	{ "id", K_ID, REQ, NULL },
	{ "type", K_ENUM, REQ, tool_call_types },
	{ "function", K_STRUCT, REQ, &function_schema },
};
static const schema tool_call_schema = SCHEMA(tool_call_rules, NULL);

/* content: required unless the message has attachments or tool_calls (the
 * one_of rule of its schema; checked after the table). */
static const rule message_rules[] = {
	{ "thread", K_IDENT, REQ, NULL },
	{ "role", K_ENUM, REQ, roles },
	{ "content", K_CONTENT, 0, NULL },
	{ "server", K_IDENT, 0, NULL },
	{ "channel", K_IDENT, 0, NULL },
	{ "user", K_IDENT, 0, NULL },
	{ "message_ts", K_IDENT, 0, NULL },
	{ "metadata", K_OBJECT, 0, NULL },
	{ "cost", K_STRUCT, 0, &cost_schema },
	{ "reply_to", K_ID, 0, NULL },
	{ "parent", K_ID, 0, NULL },
	{ "attachments", K_LIST, 0, &attachment_schema },
	{ "name", K_IDENT, 0, NULL },
	{ "tool_call_id", K_ID, 0, NULL },
	{ "tool_calls", K_LIST, 0, &tool_call_schema },
};

static const rule image_rules[] = {
	{ "thread", K_IDENT, REQ, NULL },
	{ "url", K_URL, REQ, NULL },
	{ "kind", K_ENUM, 0, image_kinds },
	{ "prompt", K_CONTENT, 0, NULL },
	{ "analysis", K_CONTENT, 0, NULL },
	{ "original_analysis", K_CONTENT, 0, NULL },
	{ "metadata", K_OBJECT, 0, NULL },
	{ "blob", K_HASH, 0, NULL },
	{ "thumbnail", K_HASH, 0, NULL },
	{ "message", K_ID, 0, NULL },
};

/* config replaces the user's config, config_patch merges into it (RFC
 * 7396); not both in one event. */
static const rule user_rules[] = {
	{ "user", K_IDENT, REQ, NULL },
	{ "username", K_TEXT, 0, NULL },
	{ "timezone", K_TZ, 0, NULL },
	{ "tz_label", K_TEXT, 0, NULL },
	{ "tz_offset", K_TZ_OFFSET, 0, NULL },
	{ "config", K_OBJECT, 0, NULL },
	{ "display_name", K_TEXT, 0, NULL },
	{ "is_bot", K_BOOL, 0, NULL },
	{ "avatar_url", K_URL, 0, NULL },
	{ "metadata", K_OBJECT, 0, NULL },
	{ "config_patch", K_OBJECT, 0, NULL },
};

/* One of config / config_patch (before 0.3 config was required). */
static const rule thread_config_rules[] = {
	{ "thread", K_IDENT, REQ, NULL },
	{ "config", K_OBJECT, 0, NULL },
	{ "server", K_IDENT, 0, NULL },
	{ "channel", K_IDENT, 0, NULL },
	{ "config_patch", K_OBJECT, 0, NULL },
};

/* The thread's own description, kept apart from its bot config. */
static const rule thread_rules[] = {
	{ "thread", K_IDENT, REQ, NULL },
	{ "title", K_TEXT, 0, NULL },
	{ "topic", K_TEXT, 0, NULL },
	{ "metadata", K_OBJECT, 0, NULL },
	{ "server", K_IDENT, 0, NULL },
	{ "channel", K_IDENT, 0, NULL },
};

/* Events about one message name it by its "id" in "target" (a message
 * without an id cannot be targeted); the journal checks at append that the
 * target is a message of this thread (journal/target.c). */
static const rule edit_message_rules[] = {
	{ "thread", K_IDENT, REQ, NULL },
	{ "target", K_ID, REQ, NULL },
	{ "content", K_CONTENT, REQ, NULL },
	{ "editor", K_IDENT, 0, NULL },
};

static const rule delete_message_rules[] = {
	{ "thread", K_IDENT, REQ, NULL },
	{ "target", K_ID, REQ, NULL },
};

/* Compaction's mark (docs/format.md, "Superseded text"): the superseded
 * texts of every edit up to sequence number through_seq are blanked in the
 * projection as the journal's tombstones blank them. */
static const rule redact_edits_rules[] = {
	{ "through_seq", K_COUNT, REQ, NULL },
};

static const rule reaction_rules[] = {
	{ "thread", K_IDENT, REQ, NULL },
	{ "target", K_ID, REQ, NULL },
	{ "emoji", K_IDENT, REQ, NULL },
	{ "user", K_IDENT, REQ, NULL },
	{ "op", K_ENUM, 0, reaction_ops },
};

static const rule delete_thread_rules[] = {
	{ "thread", K_IDENT, REQ, NULL },
};

static const rule clear_history_rules[] = {
	{ "user", K_IDENT, REQ, NULL },
	{ "server", K_IDENT, 0, NULL },
};

/* Without scope fields a purge removes messages, images and metrics older
 * than `before` store-wide; thread/user/server narrow it (metrics have none of
 * them, so a scoped purge leaves metrics alone); `kinds` picks what goes. */
static const rule purge_rules[] = {
	{ "before", K_TIME, REQ, NULL },
	{ "thread", K_IDENT, 0, NULL },
	{ "user", K_IDENT, 0, NULL },
	{ "server", K_IDENT, 0, NULL },
	{ "kinds", K_ENUM_SET, 0, purge_kinds },
};

static const rule setting_rules[] = {
	{ "key", K_IDENT, REQ, NULL },
	{ "value", K_ANY, REQ, NULL },
	{ "category", K_TEXT, 0, NULL },
	{ "sensitive", K_BOOL, 0, NULL },
	{ "actor", K_IDENT, 0, NULL },
	{ "description", K_TEXT, 0, NULL },
};

static const rule metric_rules[] = {
	{ "name", K_IDENT, REQ, NULL },
	{ "value", K_NUMBER, REQ, NULL },
	{ "unit", K_TEXT, 0, NULL },
	{ "tags", K_OBJECT, 0, NULL },
};

/* check_fields records values by rule index: a type's rules plus the common
 * ones must fit. */
#define MAX_RULES 24
#define FITS(r) _Static_assert(COUNT(r) + COUNT(common_rules) <= MAX_RULES, #r " too long")
FITS(message_rules);
FITS(image_rules);
FITS(user_rules);
FITS(thread_config_rules);
FITS(delete_thread_rules);
FITS(clear_history_rules);
FITS(purge_rules);
FITS(setting_rules);
FITS(metric_rules);
FITS(cost_rules);
FITS(attachment_rules);
FITS(tool_call_rules);
FITS(function_rules);
FITS(thread_rules);
FITS(edit_message_rules);
FITS(delete_message_rules);
FITS(reaction_rules);
FITS(redact_edits_rules);

/* Indexed by cj_event_type. */
static const schema schemas[] = {
	[CJ_EVENT_MESSAGE]       = SCHEMA_X(message_rules, "metadata",
	                                    ONE_OF("content", "attachments", "tool_calls"), NULL, NULL),
	[CJ_EVENT_IMAGE]         = SCHEMA(image_rules, "metadata"),
	[CJ_EVENT_USER]          = SCHEMA_X(user_rules, "metadata", NO_ONE_OF, "config", "config_patch"),
	[CJ_EVENT_THREAD_CONFIG] = SCHEMA_X(thread_config_rules, NULL, ONE_OF("config", "config_patch"),
	                                    "config", "config_patch"),
	[CJ_EVENT_DELETE_THREAD] = SCHEMA(delete_thread_rules, NULL),
	[CJ_EVENT_CLEAR_HISTORY] = SCHEMA(clear_history_rules, NULL),
	[CJ_EVENT_PURGE]         = SCHEMA(purge_rules, NULL),
	[CJ_EVENT_SETTING]       = SCHEMA(setting_rules, NULL),
	[CJ_EVENT_METRIC]        = SCHEMA(metric_rules, NULL),
	[CJ_EVENT_EDIT_MESSAGE]  = SCHEMA(edit_message_rules, NULL),
	[CJ_EVENT_DELETE_MESSAGE] = SCHEMA(delete_message_rules, NULL),
	[CJ_EVENT_REACTION]      = SCHEMA(reaction_rules, NULL),
	[CJ_EVENT_THREAD]        = SCHEMA(thread_rules, "metadata"),
	[CJ_EVENT_REDACT_EDITS]  = SCHEMA(redact_edits_rules, NULL),
};
_Static_assert(COUNT(schemas) == TYPE_COUNT, "a type without a schema");

/* ---- msgpack sizes: mirror event_pack.c (msgpack-c picks the shortest form) */

static size_t mp_int_size(int64_t v)
{
	if (v >= -32 && v < 128)
		return 1;
	if (v >= -128 && v < 256)
		return 2;
	if (v >= -32768 && v < 65536)
		return 3;
	if (v >= INT64_C(-2147483648) && v < INT64_C(4294967296))
		return 5;
	return 9;
}

static size_t mp_str_size(size_t n)
{
	return n + (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5);
}

static size_t mp_container_size(size_t n)
{
	return n < 16 ? 1 : n < 65536 ? 3 : 5;
}

/* What the walk of one value found. */
typedef struct measure {
	size_t size;     /* msgpack bytes */
	size_t nodes;    /* values, as the decoder counts them */
	unsigned depth;  /* deepest container, 1 for a flat object */
} measure;

/* Stops descending past limit, so recursion is bounded whatever the input. */
static void measure_value(const json_t *v, unsigned depth, unsigned limit, measure *m)
{
	m->nodes++;
	if (json_is_object(v) || json_is_array(v)) {
		if (depth > m->depth)
			m->depth = depth;
		if (depth > limit)
			return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		size_t klen;
		json_t *val;
		m->size += mp_container_size(json_object_size(v));
		json_object_keylen_foreach((json_t *)v, key, klen, val) {
			m->size += mp_str_size(klen);
			measure_value(val, depth + 1, limit, m);
		}
		break;
	}
	case JSON_ARRAY:
		m->size += mp_container_size(json_array_size(v));
		for (size_t i = 0; i < json_array_size(v); i++)
			measure_value(json_array_get(v, i), depth + 1, limit, m);
		break;
	case JSON_STRING:
		m->size += mp_str_size(json_string_length(v));
		break;
	case JSON_INTEGER:
		m->size += mp_int_size((int64_t)json_integer_value(v));
		break;
	case JSON_REAL:
		m->size += 9;
		break;
	default:
		m->size += 1;
	}
}

/* ---- checks per kind: each returns 0 or the reported error, and adds the
 * value's encoded size and value count to *m. */

typedef struct vctx {
	const cj_limits *lim;
	unsigned max_depth;   /* lim->max_depth, capped to what the decoder reads */
	unsigned *lists;      /* arrays of objects met (attachments, tool_calls) */
} vctx;

/* Where a value sits: "content", or "cost.usd" inside a K_STRUCT. The dotted
 * path is only formatted when an error is reported (validation is on the
 * append hot path). */
typedef struct where {
	const char *parent;
	const char *name;
} where;

static int refuse(int code, const where *w, const char *fmt, ...) CJI_PRINTF(3, 4);
static int refuse(int code, const where *w, const char *fmt, ...)
{
	char path[128], why[256];
	if (w->parent)
		snprintf(path, sizeof path, "%s.%s", w->parent, w->name);
	else
		snprintf(path, sizeof path, "%s", w->name);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return cji_err_field(code, path, "field '%.100s': %s", path, why);
}

#define bad(w, what) refuse(CJ_EINVAL, (w), "%s", (what))

static int check_string(const where *w, const json_t *v, size_t min, size_t max,
                        int ident, measure *m)
{
	if (!json_is_string(v))
		return bad(w, "must be a string");
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (len < min)
		return bad(w, "must not be empty");
	if (len > max)
		return refuse(CJ_ETOOBIG, w, "%zu bytes exceeds the limit of %zu", len, max);
	for (size_t i = 0; ident && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return refuse(CJ_EINVAL, w, "control character 0x%02x at byte %zu", c, i);
	}
	m->size += mp_str_size(len);
	m->nodes++;
	return 0;
}

static int check_enum(const where *w, const json_t *v, const char *const *names, measure *m)
{
	const char *s = json_string_value(v);
	for (size_t i = 0; s && names[i]; i++) {
		if (strcmp(s, names[i]) == 0) {
			m->size += mp_str_size(json_string_length(v));
			m->nodes++;
			return 0;
		}
	}
	char list[128] = "";
	size_t used = 0;
	for (size_t i = 0; names[i] && used < sizeof list; i++) {
		int n = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
		used += n > 0 ? (size_t)n : 0;
	}
	return refuse(CJ_EINVAL, w, "must be one of %s", list);
}

static int check_enum_set(const where *w, const json_t *v, const char *const *names,
                          measure *m)
{
	size_t n = json_array_size(v), max = 0;
	while (names[max])
		max++;
	if (!json_is_array(v) || n == 0 || n > max)
		return refuse(CJ_EINVAL, w, "must be a non-empty array of distinct values");
	measure items = { mp_container_size(n), 1, 1 };
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(v, i);
		int rc = check_enum(w, e, names, &items);
		if (rc)
			return rc;
		for (size_t k = 0; k < i; k++)
			if (json_equal(json_array_get(v, k), (json_t *)e))
				return refuse(CJ_EINVAL, w, "'%s' is listed twice", json_string_value(e));
	}
	m->size += items.size;
	m->nodes += items.nodes;
	return 0;
}

static int check_time(const where *w, const json_t *v, int as_int, measure *m)
{
	int64_t ms;
	if (cji_event_time_value(v, &ms) == 0) {
		if (as_int)
			m->size += mp_int_size(ms);
		else
			m->size += json_is_integer(v) ? mp_int_size(ms)
			                              : mp_str_size(json_string_length(v));
		m->nodes++;
		return 0;
	}
	if (!json_is_string(v) && !json_is_integer(v))
		return bad(w, "must be an RFC 3339 time string or integer milliseconds");
	if (json_is_string(v) && cji_time_parse(json_string_value(v), &ms) != 0)
		return refuse(CJ_EINVAL, w, "'%.40s' is not an RFC 3339 time "
		              "(like 2024-05-01T12:00:00.000Z or ...+02:00)", json_string_value(v));
	return bad(w, "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z");
}

static int check_hash(const where *w, const json_t *v, measure *m)
{
	const char *s = json_string_value(v);
	int ok = s && json_string_length(v) == HASH_LEN;
	for (size_t i = 0; ok && i < HASH_LEN; i++)
		ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
	if (!ok)
		return bad(w, "must be a blob hash: 32 lowercase hex characters");
	m->size += mp_str_size(HASH_LEN);
	m->nodes++;
	return 0;
}

static int check_int(const where *w, const json_t *v, int64_t lo, int64_t hi,
                     const char *what, measure *m)
{
	if (!json_is_integer(v))
		return bad(w, what);
	int64_t x = (int64_t)json_integer_value(v);
	if (x < lo || x > hi)
		return bad(w, what);
	m->size += mp_int_size(x);
	m->nodes++;
	return 0;
}

static int check_number(const where *w, const json_t *v, int non_negative, measure *m)
{
	if (!json_is_number(v))
		return bad(w, non_negative ? "must be a non-negative number" : "must be a number");
	if (non_negative && json_number_value(v) < 0)
		return bad(w, "must be a non-negative number");
	m->size += json_is_integer(v) ? mp_int_size((int64_t)json_integer_value(v)) : 9;
	m->nodes++;
	return 0;
}

static int check_tree(const vctx *c, const where *w, const json_t *v, measure *m)
{
	measure t = { 0, 0, 0 };
	measure_value(v, 1, c->max_depth, &t);
	if (t.depth > c->max_depth)
		return refuse(CJ_ETOOBIG, w, "nested deeper than %u levels", c->max_depth);
	if (t.size > c->lim->max_object)
		return refuse(CJ_ETOOBIG, w, "encoded size %zu bytes exceeds the limit of %zu",
		              t.size, c->lim->max_object);
	m->size += t.size;
	m->nodes += t.nodes;
	return 0;
}

static int check_fields(const vctx *c, const char *parent, const json_t *obj,
                        const schema *sc, measure *m);

/* The rare kinds (sub-schemas, time zones) stay out of line, so that the
 * checks every plain message runs stay small enough to inline. */
#if defined(__GNUC__)
#define RARE __attribute__((noinline, cold))
#else
#define RARE
#endif

/* The dotted path of a field, for a sub-schema's parent ("cost",
 * "tool_calls[2].function"). Only built when a value has a sub-schema. */
static const char *path_of(const where *w, char *buf, size_t size)
{
	if (!w->parent)
		return w->name;
	snprintf(buf, size, "%s.%s", w->parent, w->name);
	return buf;
}

RARE static int check_struct(const vctx *c, const char *path, const json_t *v, const schema *sc,
                        measure *m)
{
	measure sub = { mp_container_size(json_object_size(v)), 1, 1 };
	int rc = check_fields(c, path, v, sc, &sub);
	if (rc)
		return rc;
	m->size += sub.size;
	m->nodes += sub.nodes;
	return 0;
}

RARE static int check_list(const vctx *c, const where *w, const json_t *v, const schema *sc,
                      measure *m)
{
	size_t n = json_array_size(v);
	if (!json_is_array(v) || n == 0 || n > LIST_MAX)
		return refuse(CJ_EINVAL, w, "must be a non-empty array of at most %d objects", LIST_MAX);
	char base[96], path[128];
	const char *b = path_of(w, base, sizeof base);
	(*c->lists)++;
	m->size += mp_container_size(n);
	m->nodes++;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(v, i);
		snprintf(path, sizeof path, "%s[%zu]", b, i);
		if (!json_is_object(e)) {
			where we = { NULL, path };
			return bad(&we, "must be an object");
		}
		int rc = check_struct(c, path, e, sc, m);
		if (rc)
			return rc;
	}
	return 0;
}

RARE static int check_tz(const where *w, const json_t *v, measure *m)
{
	if (!json_is_string(v))
		return bad(w, "must be a string");
	if (!cji_tz_valid(json_string_value(v), NULL))
		return refuse(CJ_EINVAL, w, "'%.64s' is not a time zone of the tz database "
		              "(like Europe/Berlin or UTC)", json_string_value(v));
	m->size += mp_str_size(json_string_length(v));
	m->nodes++;
	return 0;
}

static int check_value(const vctx *c, const where *w, const rule *r, const json_t *v,
                       measure *m)
{
	const cj_limits *lim = c->lim;
	switch ((enum kind)r->kind) {
	case K_ID:      return check_string(w, v, 1, ID_MAX, 1, m);
	case K_IDENT:   return check_string(w, v, 1, IDENT_MAX, 1, m);
	case K_TEXT:    return check_string(w, v, 0, lim->max_string, 0, m);
	case K_URL:     return check_string(w, v, 1, lim->max_string, 0, m);
	case K_CONTENT: return check_string(w, v, 0, lim->max_content, 0, m);
	case K_ENUM:    return check_enum(w, v, r->arg, m);
	case K_ENUM_SET: return check_enum_set(w, v, r->arg, m);
	case K_TIME:    return check_time(w, v, 0, m);
	case K_TS:      return check_time(w, v, 1, m);
	case K_HASH:    return check_hash(w, v, m);
	case K_TZ_OFFSET:
		return check_int(w, v, -TZ_MAX, TZ_MAX,
		                 "must be an integer number of seconds from -64800 to 64800", m);
	case K_COUNT:
		return check_int(w, v, 0, INT64_MAX, "must be a non-negative integer", m);
	case K_AMOUNT:  return check_number(w, v, 1, m);
	case K_NUMBER:  return check_number(w, v, 0, m);
	case K_BOOL:
		if (!json_is_boolean(v))
			return bad(w, "must be true or false");
		m->size += 1;
		m->nodes++;
		return 0;
	case K_OBJECT:
		if (!json_is_object(v))
			return bad(w, "must be an object");
		return check_tree(c, w, v, m);
	case K_ANY:
		return check_tree(c, w, v, m);
	case K_STRUCT: {
		if (!json_is_object(v))
			return bad(w, "must be an object");
		char path[128];
		return check_struct(c, path_of(w, path, sizeof path), v, r->arg, m);
	}
	case K_LIST:
		return check_list(c, w, v, r->arg, m);
	case K_TZ:
		return check_tz(w, v, m);
	}
	return bad(w, "has no rule");  /* unreachable: every kind is handled */
}

static int find_rule(const rule *rules, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (rules[i].name[0] == key[0] && strcmp(rules[i].name, key) == 0)
			return (int)i;
	return -1;
}

/* One pass over the object's keys: each must have a rule (unknown fields are
 * refused first, so a misspelt field reads as what it is rather than as a
 * missing required one); its value is recorded by rule index, so the rules
 * then run in table order without hash lookups. */
static int collect(const char *parent, const json_t *obj, const schema *sc,
                   const json_t **vals)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val) {
		/* At the top level "type", "id" and "ts" first: no type's table has
		 * them, and every event carries some (the long tables of 0.3 would
		 * otherwise be scanned to their end for each). */
		if (!parent) {
			if (key[0] == 't' && strcmp(key, "type") == 0)
				continue;
			int i = find_rule(common_rules, COUNT(common_rules), key);
			if (i >= 0) {
				vals[sc->n + (size_t)i] = val;
				continue;
			}
		}
		int i = find_rule(sc->rules, sc->n, key);
		if (i >= 0) {
			vals[i] = val;
			continue;
		}
		where w = { parent, key };
		if (sc->extras)
			return refuse(CJ_EINVAL, &w, "unknown field (put extra data in '%s')",
			              sc->extras);
		return bad(&w, "unknown field");
	}
	return 0;
}

static int check_rules(const vctx *c, const char *parent, const rule *rules, size_t n,
                       const json_t *const *vals, measure *m)
{
	for (size_t i = 0; i < n; i++) {
		const rule *r = &rules[i];
		where w = { parent, r->name };
		if (!vals[i]) {
			if (r->flags & REQ)
				return bad(&w, "required");
			continue;
		}
		m->size += mp_str_size(strlen(r->name));
		int rc = check_value(c, &w, r, vals[i], m);
		if (rc)
			return rc;
	}
	return 0;
}

/* Was the field of sc named name given? (vals as collect filled it) */
static int given(const schema *sc, const json_t *const *vals, const char *name)
{
	int i = find_rule(sc->rules, sc->n, name);
	return i >= 0 && vals[i] != NULL;
}

/* The schema's rules across fields: one of a set present, two not together. */
RARE static int check_combined(const char *parent, const json_t *const *vals, const schema *sc)
{
	if (sc->one_of[0]) {
		int any = 0;
		for (size_t i = 0; sc->one_of[i] && !any; i++)
			any = given(sc, vals, sc->one_of[i]);
		if (!any) {
			char others[96] = "";
			size_t used = 0;
			for (size_t i = 1; sc->one_of[i] && used < sizeof others; i++) {
				int k = snprintf(others + used, sizeof others - used, "%s'%s'", i > 1 ? " or " : "",
				                 sc->one_of[i]);
				used += k > 0 ? (size_t)k : 0;
			}
			where w = { parent, sc->one_of[0] };
			return refuse(CJ_EINVAL, &w, "required (unless %s is given)", others);
		}
	}
	if (sc->not_both[0] && given(sc, vals, sc->not_both[0]) && given(sc, vals, sc->not_both[1])) {
		where w = { parent, sc->not_both[1] };
		return refuse(CJ_EINVAL, &w, "cannot be given with '%s' (one replaces, the other patches)",
		              sc->not_both[0]);
	}
	return 0;
}

/* The fields of obj against sc; at the top level (no parent) also "id" and
 * "ts", which every type may carry. */
static int check_fields(const vctx *c, const char *parent, const json_t *obj,
                        const schema *sc, measure *m)
{
	const json_t *vals[MAX_RULES] = { NULL };
	int rc = collect(parent, obj, sc, vals);
	if (rc)
		return rc;
	rc = check_rules(c, parent, sc->rules, sc->n, vals, m);
	if (!rc && (sc->one_of[0] || sc->not_both[0]))
		rc = check_combined(parent, vals, sc);
	if (rc || parent)
		return rc;
	return check_rules(c, parent, common_rules, COUNT(common_rules), vals + sc->n, m);
}

/* The field with the largest encoded value: what to shrink when the whole
 * event is over max_event. Only reached on that error path. */
static const char *largest_field(const vctx *c, const json_t *obj)
{
	const char *best = "type", *key;
	size_t best_size = 0;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val) {
		measure t = { 0, 0, 0 };
		measure_value(val, 1, c->max_depth, &t);
		if (t.size > best_size) {
			best_size = t.size;
			best = key;
		}
	}
	return best;
}

static int check_type(const json_t *obj, cj_event_type *type)
{
	static const where w = { NULL, "type" };
	const json_t *t = json_object_get(obj, "type");
	if (!t)
		return bad(&w, "required");
	if (!json_is_string(t))
		return bad(&w, "must be a string");
	*type = cj_event_type_from_name(json_string_value(t));
	if (*type == CJ_EVENT_UNKNOWN)
		return cji_err_field(CJ_EINVAL, "type",
		                     "field 'type': unknown event type '%.64s' (known: message, "
		                     "image, user, thread_config, delete_thread, clear_history, "
		                     "purge, setting, metric, edit_message, delete_message, reaction, "
		                     "thread, redact_edits)", json_string_value(t));
	return 0;
}

/* The whole body must fit the store's max_event and what the decoder reads. */
static int check_totals(const vctx *c, const json_t *obj, const measure *m)
{
	size_t max_event = c->lim->max_event;
	if (max_event > CJI_DECODE_MAX_BODY)
		max_event = CJI_DECODE_MAX_BODY;
	if (m->size > max_event) {
		const char *f = largest_field(c, obj);
		return cji_err_field(CJ_ETOOBIG, f,
		                     "field '%.100s': the event's encoded size %zu bytes exceeds the "
		                     "limit of %zu (this is its largest field)", f, m->size, max_event);
	}
	if (m->nodes > CJI_DECODE_MAX_NODES) {
		const char *f = largest_field(c, obj);
		return cji_err_field(CJ_ETOOBIG, f,
		                     "field '%.100s': the event holds more than %u JSON values "
		                     "(this is its largest field)", f, (unsigned)CJI_DECODE_MAX_NODES);
	}
	return 0;
}

static int validate(vctx *cp, const cj_event *ev);

/* A tag of a limits struct (never 0). */
static uint64_t limits_tag(const cj_limits *l)
{
	uint64_t v[5] = { l->max_content, l->max_string, l->max_object, l->max_depth, l->max_event };
	return XXH3_64bits(v, sizeof v) | 1;
}

int cj_event_validate(const cj_event *ev, const cj_limits *lim)
{
	static const cj_limits defaults = CJ_LIMITS_DEFAULT;
	if (!ev || !json_is_object(ev->obj))
		return cji_err(CJ_EINVAL, "cj_event_validate: no event");
	unsigned lists = 0;
	vctx c = { lim ? lim : &defaults, 0, &lists };
	int rc = validate(&c, ev);
	if (rc == 0) {
		cj_event *cache = (cj_event *)ev; /* the tag is a cache, not the event's value */
		atomic_store_explicit(&cache->has_lists, lists > 0, memory_order_relaxed);
		atomic_store_explicit(&cache->valid_tag, limits_tag(c.lim), memory_order_release);
	}
	return rc;
}

int cji_event_validate_once(const cj_event *ev, const cj_limits *lim)
{
	if (ev && lim && atomic_load_explicit(&((cj_event *)ev)->valid_tag, memory_order_acquire) ==
	              limits_tag(lim))
		return 0;
	return cj_event_validate(ev, lim);
}

int cji_event_has_lists(const cj_event *ev)
{
	return atomic_load_explicit(&((cj_event *)ev)->has_lists, memory_order_relaxed);
}

static int validate(vctx *cp, const cj_event *ev)
{
	vctx c = *cp;
	/* A field's containers sit one level below the event map; the decoder
	 * reads CJI_DECODE_MAX_DEPTH levels in all. */
	c.max_depth = c.lim->max_depth;
	if (c.max_depth > CJI_DECODE_MAX_DEPTH - 1)
		c.max_depth = CJI_DECODE_MAX_DEPTH - 1;

	const json_t *obj = ev->obj;
	cj_event_type type;
	int rc = check_type(obj, &type);
	if (rc)
		return rc;
	measure m = { mp_container_size(json_object_size(obj)), 1, 1 };
	m.size += mp_str_size(4) + mp_str_size(strlen(cj_event_type_name(type)));
	m.nodes++;
	rc = check_fields(&c, NULL, obj, &schemas[type], &m);
	if (rc)
		return rc;
	return check_totals(&c, obj, &m);
}
