/* journal/event_unpack.c — decode a stored msgpack body into an event. Bodies
 * are hostile input (a damaged disk, a crafted backup): this reader checks
 * every declared length against the bytes left and the CJI_DECODE_MAX_* caps
 * before allocating, and builds jansson values directly. msgpack-c's unpacker
 * is not used because it trusts container length headers. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "journal/event_internal.h"
#include "common/err.h"
#include "common/utf8.h"


typedef struct reader {
	const uint8_t *p;
	size_t len;
	size_t pos;
	size_t nodes;   /* values decoded so far, against CJI_DECODE_MAX_NODES */
} reader;

static int fail(size_t at, const char *fmt, ...) CJI_PRINTF(2, 3);
static int fail(size_t at, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return cji_err(CJ_ECORRUPT, "record body byte %zu: %s", at, why);
}

static int nomem(void)
{
	return cji_err(CJ_ENOMEM, "out of memory decoding a record body");
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Read an n-byte big-endian field after the tag at r->pos (tag included in at). */
static int take_be(reader *r, size_t at, size_t n, const char *what, uint64_t *v)
{
	if (r->len - r->pos < n)
		return fail(at, "truncated %s: needs %zu bytes, %zu left", what, n, r->len - r->pos);
	*v = load_be(r->p + r->pos, n);
	r->pos += n;
	return 0;
}

static int count_node(reader *r, size_t at)
{
	if (++r->nodes > CJI_DECODE_MAX_NODES)
		return fail(at, "more than %u values in one body", (unsigned)CJI_DECODE_MAX_NODES);
	return 0;
}

/* The bytes of a string whose length header is already read. */
static int str_bytes(reader *r, size_t at, uint64_t n, const uint8_t **s)
{
	size_t left = r->len - r->pos;
	if (n > left)
		return fail(at, "string length %llu exceeds the %zu bytes left",
		            (unsigned long long)n, left);
	*s = r->p + r->pos;
	if (!cji_utf8_valid(*s, (size_t)n))
		return fail(at, "string is not valid UTF-8 (or contains NUL)");
	r->pos += (size_t)n;
	return 0;
}

/* Length of a str item starting with tag (fix/8/16/32): 0, an error, or 1 if
 * tag is not a str type at all. */
static int str_len(reader *r, size_t at, uint8_t tag, uint64_t *n)
{
	if ((tag & 0xe0u) == 0xa0u) {
		*n = tag & 0x1fu;
		return 0;
	}
	switch (tag) {
	case 0xd9: return take_be(r, at, 1, "str8 length", n);
	case 0xda: return take_be(r, at, 2, "str16 length", n);
	case 0xdb: return take_be(r, at, 4, "str32 length", n);
	default:   return 1;
	}
}

static int read_value(reader *r, unsigned depth, json_t **out);

static int read_array(reader *r, size_t at, uint64_t n, unsigned depth, json_t **out)
{
	size_t left = r->len - r->pos;
	/* Every element takes at least one byte: a count above that is a lie. */
	if (n > left)
		return fail(at, "array of %llu elements exceeds the %zu bytes left",
		            (unsigned long long)n, left);
	if (depth > CJI_DECODE_MAX_DEPTH)
		return fail(at, "nested deeper than %d levels", CJI_DECODE_MAX_DEPTH);
	json_t *arr = json_array();
	if (!arr)
		return nomem();
	for (uint64_t i = 0; i < n; i++) {
		json_t *v;
		int rc = read_value(r, depth + 1, &v);
		if (rc == 0 && json_array_append_new(arr, v) != 0)
			rc = nomem();
		if (rc) {
			json_decref(arr);
			return rc;
		}
	}
	*out = arr;
	return 0;
}

/* One map entry: a string key, then its value, stored into obj. */
static int read_entry(reader *r, unsigned depth, json_t *obj)
{
	size_t at = r->pos;
	if (at >= r->len)
		return fail(at, "truncated: expected a map key, 0 bytes left");
	uint8_t tag = r->p[r->pos++];
	uint64_t klen = 0;
	int rc = str_len(r, at, tag, &klen);
	if (rc == 1)
		return fail(at, "map key is not a string (type byte 0x%02x)", tag);
	if (rc)
		return rc;
	/* NULL: gcc -O2 cannot tell that str_bytes sets it whenever it returns 0. */
	const uint8_t *key = NULL;
	rc = str_bytes(r, at, klen, &key);
	if (rc)
		return rc;
	if (json_object_getn(obj, (const char *)key, (size_t)klen))
		return fail(at, "duplicate map key '%.*s'", (int)(klen > 64 ? 64 : klen),
		            (const char *)key);
	json_t *v;
	rc = read_value(r, depth, &v);
	if (rc)
		return rc;
	if (json_object_setn_new_nocheck(obj, (const char *)key, (size_t)klen, v) != 0)
		return nomem();
	return 0;
}

static int read_map(reader *r, size_t at, uint64_t n, unsigned depth, json_t **out)
{
	size_t left = r->len - r->pos;
	/* Every entry takes at least two bytes (a key and a value). */
	if (n > left / 2)
		return fail(at, "map of %llu entries exceeds the %zu bytes left",
		            (unsigned long long)n, left);
	if (depth > CJI_DECODE_MAX_DEPTH)
		return fail(at, "nested deeper than %d levels", CJI_DECODE_MAX_DEPTH);
	json_t *obj = json_object();
	if (!obj)
		return nomem();
	for (uint64_t i = 0; i < n; i++) {
		int rc = read_entry(r, depth + 1, obj);
		if (rc) {
			json_decref(obj);
			return rc;
		}
	}
	*out = obj;
	return 0;
}

static int make(json_t *v, json_t **out)
{
	if (!v)
		return nomem();
	*out = v;
	return 0;
}

static int read_float(reader *r, size_t at, int wide, json_t **out)
{
	uint64_t bits = 0;
	int rc = take_be(r, at, wide ? 8 : 4, wide ? "float64" : "float32", &bits);
	if (rc)
		return rc;
	double d;
	if (wide) {
		memcpy(&d, &bits, sizeof d);
	} else {
		uint32_t b32 = (uint32_t)bits;
		float f;
		memcpy(&f, &b32, sizeof f);
		d = f;
	}
	if (!isfinite(d))
		return fail(at, "float is NaN or infinite");
	return make(json_real(d), out);
}

static int read_uint(reader *r, size_t at, size_t n, json_t **out)
{
	uint64_t v = 0;
	int rc = take_be(r, at, n, "unsigned integer", &v);
	if (rc)
		return rc;
	if (v > (uint64_t)INT64_MAX)
		return fail(at, "unsigned integer %llu exceeds the signed 64-bit range",
		            (unsigned long long)v);
	return make(json_integer((json_int_t)v), out);
}

static int read_int(reader *r, size_t at, size_t n, json_t **out)
{
	uint64_t u = 0;
	int rc = take_be(r, at, n, "signed integer", &u);
	if (rc)
		return rc;
	/* Sign-extend the n-byte two's complement value. */
	unsigned shift = (unsigned)(64 - 8 * n);
	int64_t v = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
	return make(json_integer((json_int_t)v), out);
}

static int read_str(reader *r, size_t at, uint8_t tag, json_t **out)
{
	uint64_t n = 0;
	int rc = str_len(r, at, tag, &n);
	if (rc)
		return rc;
	const uint8_t *s = NULL; /* as key in read_entry */
	rc = str_bytes(r, at, n, &s);
	if (rc)
		return rc;
	return make(json_stringn_nocheck((const char *)s, (size_t)n), out);
}

static int read_container(reader *r, size_t at, uint8_t tag, unsigned depth, json_t **out)
{
	uint64_t n = 0;
	int rc;
	switch (tag) {
	case 0xdc: rc = take_be(r, at, 2, "array16 count", &n); break;
	case 0xdd: rc = take_be(r, at, 4, "array32 count", &n); break;
	case 0xde: rc = take_be(r, at, 2, "map16 count", &n); break;
	case 0xdf: rc = take_be(r, at, 4, "map32 count", &n); break;
	default:
		n = tag & 0x0fu;
		rc = 0;
	}
	if (rc)
		return rc;
	int is_map = tag == 0xde || tag == 0xdf || (tag & 0xf0u) == 0x80u;
	return is_map ? read_map(r, at, n, depth, out) : read_array(r, at, n, depth, out);
}

static int read_value(reader *r, unsigned depth, json_t **out)
{
	size_t at = r->pos;
	if (at >= r->len)
		return fail(at, "truncated: expected a value, 0 bytes left");
	int rc = count_node(r, at);
	if (rc)
		return rc;
	uint8_t tag = r->p[r->pos++];
	if (tag <= 0x7f)
		return make(json_integer(tag), out);
	if (tag >= 0xe0)
		return make(json_integer((int8_t)tag), out);
	if (tag <= 0x9f || (tag >= 0xdc && tag <= 0xdf))
		return read_container(r, at, tag, depth, out);
	if (tag <= 0xbf || (tag >= 0xd9 && tag <= 0xdb))
		return read_str(r, at, tag, out);
	switch (tag) {
	case 0xc0: return make(json_null(), out);
	case 0xc2: return make(json_false(), out);
	case 0xc3: return make(json_true(), out);
	case 0xca: return read_float(r, at, 0, out);
	case 0xcb: return read_float(r, at, 1, out);
	case 0xcc: return read_uint(r, at, 1, out);
	case 0xcd: return read_uint(r, at, 2, out);
	case 0xce: return read_uint(r, at, 4, out);
	case 0xcf: return read_uint(r, at, 8, out);
	case 0xd0: return read_int(r, at, 1, out);
	case 0xd1: return read_int(r, at, 2, out);
	case 0xd2: return read_int(r, at, 4, out);
	case 0xd3: return read_int(r, at, 8, out);
	case 0xc4: case 0xc5: case 0xc6:
		return fail(at, "bin values are not used in event bodies (type byte 0x%02x)", tag);
	case 0xc1:
		return fail(at, "type byte 0xc1 is never used in msgpack");
	default:
		return fail(at, "ext values are not used in event bodies (type byte 0x%02x)", tag);
	}
}

/* The decoded top-level map must be an event: a string "type"; "ts" added from
 * the record header when the body has none. */
static int finish(json_t *obj, int64_t ts_ms)
{
	if (!json_is_string(json_object_get(obj, "type")))
		return cji_err(CJ_ECORRUPT, "record body: \"type\" is missing or not a string");
	if (json_object_get(obj, "ts"))
		return 0;
	json_t *ts = json_integer((json_int_t)ts_ms);
	if (!ts || json_object_set_new_nocheck(obj, "ts", ts) != 0)
		return nomem();
	return 0;
}

int cji_event_decode_value(json_t **out, size_t *used, const uint8_t *body, size_t len, size_t at,
                           unsigned depth, size_t *nodes)
{
	*out = NULL;
	reader r = { body, len, at, *nodes };
	int rc = read_value(&r, depth, out);
	if (!rc) {
		*used = r.pos - at;
		*nodes = r.nodes;
	}
	return rc;
}

int cji_event_decode(cj_event **out, const uint8_t *body, size_t len, int64_t ts_ms)
{
	*out = NULL;
	if (!body && len > 0)
		return cji_err(CJ_EINVAL, "cji_event_decode: body is NULL");
	if (len > CJI_DECODE_MAX_BODY)
		return cji_err(CJ_ECORRUPT, "record body of %zu bytes exceeds %zu bytes",
		               len, (size_t)CJI_DECODE_MAX_BODY);
	if (len == 0)
		return cji_err(CJ_ECORRUPT, "record body is empty");
	uint8_t tag = body[0];
	if ((tag & 0xf0u) != 0x80u && tag != 0xde && tag != 0xdf)
		return fail(0, "top-level value is not a map (type byte 0x%02x)", tag);

	reader r = { body, len, 0, 0 };
	json_t *obj = NULL;
	int rc = read_value(&r, 1, &obj);
	if (rc)
		return rc;
	if (r.pos != len) {
		rc = fail(r.pos, "%zu trailing bytes after the event map", len - r.pos);
		goto fail;
	}
	rc = finish(obj, ts_ms);
	if (rc)
		goto fail;
	return cji_event_wrap(out, obj);
fail:
	json_decref(obj);
	return rc;
}
