/* journal/event_pack.c — encode an event as its canonical msgpack body: map
 * keys sorted bytewise at every level, integers in their shortest form, reals
 * as float64, "ts" as integer ms. Equal events give equal bytes, so the
 * journal can compare payloads (idempotency) and hash them.
 *
 * The bytes are written here, straight into the caller's buffer (the
 * msgpack format's forms as msgpack-c 4.0 chooses them, the ones validation
 * measures with its mp_*_size functions): through msgpack-c's packer an
 * event took 39 write callbacks, half of an append's CPU. */
#include <stdlib.h>
#include <string.h>
#include "journal/event_internal.h"
#include "common/err.h"


/* Objects up to this many keys sort on the stack (every event and nearly
 * every metadata object); bigger ones take one heap array. */
#define STACK_KEYS 32

typedef struct packer {
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
	uint64_t pre;      /* the key's first 8 bytes, big-endian, zero-padded */
	const char *key;
	size_t len;
	json_t *val;
} entry;

/* n (4 or 8) bytes of k as a big-endian number. */
static inline uint64_t load_be(const char *k, int n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n == 8) {
		uint64_t v;
		memcpy(&v, k, 8);
		return __builtin_bswap64(v);
	}
	uint32_t v;
	memcpy(&v, k, 4);
	return __builtin_bswap32(v);
#else
	uint64_t r = 0;
	for (int i = 0; i < n; i++)
		r = r << 8 | (unsigned char)k[i];
	return r;
#endif
}

/* The first min(len, 8) bytes of k as a big-endian number, zero-padded:
 * comparing two prefixes as numbers compares those bytes bytewise, so most
 * comparisons of a sort need no memcmp. */
static inline uint64_t key_prefix(const char *k, size_t len)
{
	if (len >= 8)
		return load_be(k, 8);
	if (len >= 4) /* bytes 0..3 and len-4..len-1, overlapping where equal */
		return load_be(k, 4) << 32 | load_be(k + len - 4, 4) << (8 * (8 - len));
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++)
		v |= (uint64_t)(unsigned char)k[i] << (56 - 8 * i);
	return v;
}

/* Copy n bytes; short ones (most keys and many values) without a call:
 * two overlapping moves cover 4..16 bytes. */
static inline void copy_bytes(uint8_t *d, const char *s, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t a, b;
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t a, b;
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
	} else if (n < 4) {
		for (size_t i = 0; i < n; i++)
			d[i] = (uint8_t)s[i];
	} else {
		memcpy(d, s, n);
	}
}

/* Room for n more bytes: 0, or -1 (the body would exceed what the decoder
 * accepts, or out of memory). Almost always a comparison. */
static inline int room(packer *p, size_t n)
{
	cji_buf *b = p->out;
	if (b->cap - b->len >= n && b->len - p->start + n <= CJI_DECODE_MAX_BODY)
		return 0;
	if (b->len - p->start + n > CJI_DECODE_MAX_BODY) {
		p->too_big = 1;
		return -1;
	}
	if (cji_buf_reserve(b, n) != 0) {
		p->nomem = 1;
		return -1;
	}
	return 0;
}

static void put_be(uint8_t *d, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		d[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* A one-byte tag followed by n bytes of v, big-endian. */
static inline int put_tagged(packer *p, uint8_t tag, uint64_t v, int n)
{
	if (room(p, (size_t)n + 1))
		return -1;
	uint8_t *d = p->out->data + p->out->len;
	d[0] = tag;
	put_be(d + 1, v, n);
	p->out->len += (size_t)n + 1;
	return 0;
}

static inline int put_byte(packer *p, uint8_t c) { return put_tagged(p, c, 0, 0); }

static int put_int(packer *p, int64_t v)
{
	if (v < -(INT64_C(1) << 5)) {
		if (v < -(INT64_C(1) << 15))
			return v < -(INT64_C(1) << 31) ? put_tagged(p, 0xd3, (uint64_t)v, 8)
			                               : put_tagged(p, 0xd2, (uint64_t)v & 0xffffffffu, 4);
		return v < -(INT64_C(1) << 7) ? put_tagged(p, 0xd1, (uint64_t)v & 0xffffu, 2)
		                              : put_tagged(p, 0xd0, (uint64_t)v & 0xffu, 1);
	}
	if (v < (INT64_C(1) << 7))
		return put_byte(p, (uint8_t)(v & 0xff)); /* positive or negative fixint */
	if (v < (INT64_C(1) << 16))
		return v < (INT64_C(1) << 8) ? put_tagged(p, 0xcc, (uint64_t)v, 1)
		                             : put_tagged(p, 0xcd, (uint64_t)v, 2);
	return v < (INT64_C(1) << 32) ? put_tagged(p, 0xce, (uint64_t)v, 4)
	                              : put_tagged(p, 0xcf, (uint64_t)v, 8);
}

static int put_double(packer *p, double d)
{
	uint64_t bits;
	memcpy(&bits, &d, sizeof bits);
	return put_tagged(p, 0xcb, bits, 8);
}

/* A map (map: 1) or array (map: 0) header of n entries. */
static int put_container(packer *p, size_t n, int map)
{
	if (n < 16)
		return put_byte(p, (uint8_t)((map ? 0x80 : 0x90) | n));
	if (n < 65536)
		return put_tagged(p, map ? 0xde : 0xdc, n, 2);
	return put_tagged(p, map ? 0xdf : 0xdd, n, 4);
}

static int entry_cmp(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	if (x->pre != y->pre)
		return x->pre < y->pre ? -1 : 1;
	/* the first min(len, 8) bytes are equal (a shorter key's padding is
	 * zeros, so a key that is a prefix of the other sorts first below) */
	size_t n = x->len < y->len ? x->len : y->len;
	if (n > 8) {
		int c = memcmp(x->key + 8, y->key + 8, n - 8);
		if (c)
			return c;
	}
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
	/* the header and the bytes under one check for room */
	size_t h = len < 32 ? 1 : len < 256 ? 2 : len < 65536 ? 3 : 5;
	if (room(p, h + len))
		return -1;
	uint8_t *d = p->out->data + p->out->len;
	if (h == 1)
		d[0] = (uint8_t)(0xa0 | len);
	else if (h == 2) {
		d[0] = 0xd9;
		d[1] = (uint8_t)len;
	} else if (h == 3) {
		d[0] = 0xda;
		put_be(d + 1, len, 2);
	} else {
		d[0] = 0xdb;
		put_be(d + 1, len, 4);
	}
	copy_bytes(d + h, s, len);
	p->out->len += h + len;
	return 0;
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
	return put_int(p, p->ts_ms);
}

static int pack_entries(packer *p, const entry *e, size_t n, unsigned depth)
{
	if (put_container(p, n, 1) != 0)
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
	/* the iterator walked by hand: json_object_keylen_foreach looks each
	 * key up again (json_object_key_to_iter) three times per member */
	size_t i = 0;
	for (void *it = json_object_iter((json_t *)obj); it && i < n;
	     it = json_object_iter_next((json_t *)obj, it), i++) {
		e[i].key = json_object_iter_key(it);
		e[i].len = json_object_iter_key_len(it);
		e[i].val = json_object_iter_value(it);
		e[i].pre = key_prefix(e[i].key, e[i].len);
	}
	n = i;
	sort_entries(e, n);
	int rc = pack_entries(p, e, n, depth);
	if (e != stack)
		free(e);
	return rc;
}

static int pack_array(packer *p, const json_t *arr, unsigned depth)
{
	size_t n = json_array_size(arr);
	if (put_container(p, n, 0) != 0)
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
	case JSON_INTEGER: return put_int(p, (int64_t)json_integer_value(v));
	case JSON_REAL:    return put_double(p, json_real_value(v));
	case JSON_TRUE:    return put_byte(p, 0xc3);
	case JSON_FALSE:   return put_byte(p, 0xc2);
	default:           return put_byte(p, 0xc0);
	}
}

int cji_event_encode(const cj_event *ev, cji_buf *out, int64_t *ts_ms, int *has_ts)
{
	*has_ts = 0;
	*ts_ms = 0;
	if (!ev || !json_is_object(ev->obj))
		return cji_err(CJ_EINVAL, "cji_event_encode: no event");
	packer p = { .out = out, .start = out->len };

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
	return cji_err(CJ_EINVAL, "cji_event_encode: encoding failed");
}
