/* api/json_out.c — minimal JSON writer for query results. Strings are
 * escaped as JSON requires (", \ and control characters); the projection
 * holds valid UTF-8 only (validated at append), so bytes >= 0x80 pass as is.
 * JSON columns (metadata, config, tags) were written by the materializer with
 * json_dumps and are embedded as they are.
 *
 * Speed matters here (two thirds of a history read was building JSON): the
 * escaper looks at eight bytes at a time and copies clean runs whole, keys
 * are plain ASCII written without escaping, and integers are written by
 * hand instead of through snprintf. */
#include <stdio.h>
#include <string.h>
#include "api/json_out.h"

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Non-zero iff one of the eight bytes of x needs an escape: below 0x20, '"'
 * or '\\'. (x - ONES*n) & ~x & HIGHS flags bytes below n (for bytes < 0x80;
 * bytes >= 0x80 have their high bit set in x and drop out through ~x). */
static uint64_t needs_escape(uint64_t x)
{
	uint64_t lt20 = (x - ONES * 0x20) & ~x & HIGHS;
	uint64_t q = x ^ (ONES * '"'), bs = x ^ (ONES * '\\');
	uint64_t eq = ((q - ONES) & ~q & HIGHS) | ((bs - ONES) & ~bs & HIGHS);
	return lt20 | eq;
}

/* Write the escape of c at o; returns its length (2 or 6). */
static size_t escape_one(char *o, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	o[0] = '\\';
	switch (c) {
	case '"': o[1] = '"'; return 2;
	case '\\': o[1] = '\\'; return 2;
	case '\n': o[1] = 'n'; return 2;
	case '\r': o[1] = 'r'; return 2;
	case '\t': o[1] = 't'; return 2;
	case '\b': o[1] = 'b'; return 2;
	case '\f': o[1] = 'f'; return 2;
	default:
		memcpy(o + 1, "u00", 3);
		o[4] = hex[c >> 4];
		o[5] = hex[c & 15];
		return 6;
	}
}

static int clean_byte(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

/* Room for the worst case (every byte a six-byte escape) is reserved once;
 * then clean runs are copied whole and escapes written in place. */
int cji_json_str(cji_buf *b, const char *s, size_t n)
{
	if (n > (SIZE_MAX - 2) / 6 || cji_buf_reserve(b, 6 * n + 2))
		return -1;
	char *o = (char *)b->data + b->len;
	*o++ = '"';
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		while (n - i >= 8) {
			uint64_t x;
			memcpy(&x, s + i, 8);
			if (needs_escape(x))
				break;
			i += 8;
		}
		while (i < n && clean_byte((unsigned char)s[i]))
			i++;
		memcpy(o, s + run, i - run);
		o += i - run;
		if (i < n)
			o += escape_one(o, (unsigned char)s[i++]);
	}
	*o++ = '"';
	b->len = (size_t)((uint8_t *)o - b->data);
	return 0;
}

/* Write v in decimal at o (room for 20 bytes); returns its length. */
static size_t put_i64(char *o, int64_t v)
{
	char tmp[24], *p = tmp + sizeof tmp;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	size_t n = (size_t)(tmp + sizeof tmp - p);
	memcpy(o, p, n);
	return n;
}

int cji_json_i64(cji_buf *b, int64_t v)
{
	if (cji_buf_reserve(b, 24))
		return -1;
	b->len += put_i64((char *)b->data + b->len, v);
	return 0;
}

/* Append lit (",\"key\":", without its comma when *first) then the value of
 * column i of type t (not NULL). */
static int put_value(cji_buf *b, sqlite3_stmt *st, int i, int t, const char *lit, size_t litlen,
                     unsigned flags, int *first)
{
	if (*first) {
		lit++;
		litlen--;
		*first = 0;
	}
	if (cji_buf_reserve(b, litlen + 40))
		return -1;
	memcpy(b->data + b->len, lit, litlen);
	b->len += litlen;
	char *o = (char *)b->data + b->len;
	if (flags & CJI_JF_BOOL) {
		int on = sqlite3_column_int64(st, i) != 0;
		memcpy(o, on ? "true" : "false", on ? 4 : 5);
		b->len += on ? 4 : 5;
		return 0;
	}
	switch (t) {
	case SQLITE_INTEGER:
		b->len += put_i64(o, sqlite3_column_int64(st, i));
		return 0;
	case SQLITE_FLOAT:
		b->len += (size_t)snprintf(o, 40, "%.17g", sqlite3_column_double(st, i));
		return 0;
	default: {
		const char *s = (const char *)sqlite3_column_text(st, i);
		size_t len = (size_t)sqlite3_column_bytes(st, i);
		if (!s) /* a NULL in a column declared NOT NULL, or out of memory */
			s = "", len = 0;
		if (flags & CJI_JF_JSON)
			return cji_buf_append(b, s, len);
		return cji_json_str(b, s, len);
	}
	}
}

int cji_json_col(cji_buf *b, sqlite3_stmt *st, int i, const char *key, unsigned flags, int *first)
{
	int t = sqlite3_column_type(st, i);
	if (t == SQLITE_NULL)
		return 0;
	size_t kl = strlen(key);
	char lit[64];
	if (kl + 4 > sizeof lit)
		return -1; /* keys are ours, and short */
	lit[0] = ',';
	lit[1] = '"';
	memcpy(lit + 2, key, kl);
	lit[kl + 2] = '"';
	lit[kl + 3] = ':';
	return put_value(b, st, i, t, lit, kl + 4, flags, first);
}

int cji_json_row(cji_buf *b, sqlite3_stmt *st, const cji_json_field *f, int n, int *first)
{
	for (int i = 0; i < n; i++) {
		unsigned fl = f[i].flags;
		int t = !(fl & CJI_JF_NOT_NULL) ? sqlite3_column_type(st, i)
		        : fl & CJI_JF_INT ? SQLITE_INTEGER : SQLITE_TEXT;
		if (t == SQLITE_NULL)
			continue;
		if (put_value(b, st, i, t, f[i].lit, f[i].len, f[i].flags, first))
			return -1;
	}
	return 0;
}
