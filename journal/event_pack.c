/* journal/event_pack.c — encode an event as its canonical msgpack body: map
 * keys sorted bytewise at every level, integers in their shortest form, reals
 * as float64, "ts" as integer ms. Equal events give equal bytes, so the
 * journal can compare payloads (idempotency) and hash them. */
#include <stdlib.h>
#include <string.h>
#include <msgpack.h>
#include "journal/event_internal.h"
#include "common/err.h"


/* Objects up to this many keys sort on the stack (every event and nearly
 * every metadata object); bigger ones take one heap array. */
#define STACK_KEYS 32

typedef struct packer {
	msgpack_packer pk;
	cji_buf *out;
	size_t start;      /* out->len before this body */
	size_t nodes;
	int too_big;       /* body over what the decoder accepts */
	int nomem;
	int err;           /* a CJ_E* code already reported (the "ts" field) */
	int has_ts;
	int64_t ts_ms;
} packer;

typedef struct entry {
	const char *key;
	size_t len;
	json_t *val;
} entry;

/* msgpack-c write callback: append to the caller's buffer, refusing to grow a
 * body past what the decoder would accept. Called for every header and every
 * string, so the common case (room left) is a bare memcpy. */
static int write_cb(void *data, const char *bytes, size_t len)
{
	packer *p = data;
	cji_buf *b = p->out;
	if (len == 0)
		return 0;  /* an empty string's body */
	if (b->len - p->start + len > CJI_DECODE_MAX_BODY) {
		p->too_big = 1;
		return -1;
	}
	if (b->cap - b->len >= len) {
		memcpy(b->data + b->len, bytes, len);
		b->len += len;
		return 0;
	}
	if (cji_buf_append(b, bytes, len) != 0) {
		p->nomem = 1;
		return -1;
	}
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/* Insertion sort: cheapest for the handful of keys an event has. */
static void sort_entries(entry *e, size_t n)
{
	if (n > STACK_KEYS) {
		qsort(e, n, sizeof *e, entry_cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		entry t = e[i];
		size_t j = i;
		while (j > 0 && entry_cmp(&e[j - 1], &t) > 0) {
			e[j] = e[j - 1];
			j--;
		}
		e[j] = t;
	}
}

static int pack_value(packer *p, const json_t *v, unsigned depth);

static int pack_str(packer *p, const char *s, size_t len)
{
	if (len > CJI_DECODE_MAX_BODY) {
		p->too_big = 1;
		return -1;
	}
	if (msgpack_pack_str(&p->pk, len) != 0)
		return -1;
	return msgpack_pack_str_body(&p->pk, s, len);
}

/* Count one value against the decoder's caps (depth matters for containers
 * only, as in the decoder): nothing is ever written that cannot be read back. */
static int admit(packer *p, int container, unsigned depth)
{
	if (++p->nodes > CJI_DECODE_MAX_NODES || (container && depth > CJI_DECODE_MAX_DEPTH)) {
		p->too_big = 1;
		return -1;
	}
	return 0;
}

/* The top-level "ts" goes out as integer ms whatever form it came in. */
static int pack_ts(packer *p, const json_t *v)
{
	if (admit(p, 0, 2) != 0)
		return -1;
	if (cji_event_time_value(v, &p->ts_ms) != 0) {
		p->err = cji_err_field(CJ_EINVAL, "ts",
		                       "field 'ts': must be an RFC 3339 time or integer "
		                       "milliseconds from 1970 to 9999");
		return -1;
	}
	p->has_ts = 1;
	return msgpack_pack_int64(&p->pk, p->ts_ms);
}

static int pack_entries(packer *p, const entry *e, size_t n, unsigned depth)
{
	if (msgpack_pack_map(&p->pk, n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int rc = pack_str(p, e[i].key, e[i].len);
		if (rc)
			return rc;
		if (depth == 1 && e[i].len == 2 && memcmp(e[i].key, "ts", 2) == 0)
			rc = pack_ts(p, e[i].val);
		else
			rc = pack_value(p, e[i].val, depth + 1);
		if (rc)
			return rc;
	}
	return 0;
}

static int pack_object(packer *p, const json_t *obj, unsigned depth)
{
	entry stack[STACK_KEYS];
	size_t n = json_object_size(obj);
	entry *e = stack;
	if (n > STACK_KEYS) {
		e = malloc(n * sizeof *e);
		if (!e) {
			p->nomem = 1;
			return -1;
		}
	}
	size_t i = 0;
	const char *key;
	size_t klen;
	json_t *val;
	json_object_keylen_foreach((json_t *)obj, key, klen, val) {
		e[i].key = key;
		e[i].len = klen;
		e[i].val = val;
		i++;
	}
	sort_entries(e, n);
	int rc = pack_entries(p, e, n, depth);
	if (e != stack)
		free(e);
	return rc;
}

static int pack_array(packer *p, const json_t *arr, unsigned depth)
{
	size_t n = json_array_size(arr);
	if (msgpack_pack_array(&p->pk, n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int rc = pack_value(p, json_array_get(arr, i), depth + 1);
		if (rc)
			return rc;
	}
	return 0;
}

/* depth: 1 for the event map. */
static int pack_value(packer *p, const json_t *v, unsigned depth)
{
	if (admit(p, json_is_object(v) || json_is_array(v), depth) != 0)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:  return pack_object(p, v, depth);
	case JSON_ARRAY:   return pack_array(p, v, depth);
	case JSON_STRING:  return pack_str(p, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: return msgpack_pack_int64(&p->pk, (int64_t)json_integer_value(v));
	case JSON_REAL:    return msgpack_pack_double(&p->pk, json_real_value(v));
	case JSON_TRUE:    return msgpack_pack_true(&p->pk);
	case JSON_FALSE:   return msgpack_pack_false(&p->pk);
	default:           return msgpack_pack_nil(&p->pk);
	}
}

int cji_event_encode(const cj_event *ev, cji_buf *out, int64_t *ts_ms, int *has_ts)
{
	*has_ts = 0;
	*ts_ms = 0;
	if (!ev || !json_is_object(ev->obj))
		return cji_err(CJ_EINVAL, "cji_event_encode: no event");
	packer p = { .out = out, .start = out->len };
	msgpack_packer_init(&p.pk, &p, write_cb);

	if (pack_value(&p, ev->obj, 1) == 0) {
		*ts_ms = p.ts_ms;
		*has_ts = p.has_ts;
		return 0;
	}
	out->len = p.start;  /* never leave half a body behind */
	if (p.err)
		return p.err;
	if (p.nomem)
		return cji_err(CJ_ENOMEM, "out of memory encoding an event");
	if (p.too_big)
		return cji_err(CJ_ETOOBIG,
		               "event too large to store: over %zu bytes, %u values or %d levels",
		               (size_t)CJI_DECODE_MAX_BODY, (unsigned)CJI_DECODE_MAX_NODES,
		               CJI_DECODE_MAX_DEPTH);
	return cji_err(CJ_EINVAL, "cji_event_encode: msgpack packer failed");
}
