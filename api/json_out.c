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

static int escape_one(cji_buf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6] = { '\\', 0 };
	size_t el = 2;
	switch (c) {
	case '"': esc[1] = '"'; break;
	case '\\': esc[1] = '\\'; break;
	case '\n': esc[1] = 'n'; break;
	case '\r': esc[1] = 'r'; break;
	case '\t': esc[1] = 't'; break;
	case '\b': esc[1] = 'b'; break;
	case '\f': esc[1] = 'f'; break;
	default:
		memcpy(esc, "\\u00", 4);
		esc[4] = hex[c >> 4];
		esc[5] = hex[c & 15];
		el = 6;
	}
	return cji_buf_append(b, esc, el);
}

int cji_json_str(cji_buf *b, const char *s, size_t n)
{
	if (cji_buf_reserve(b, n + 2))
		return -1;
	b->data[b->len++] = '"';
	size_t run = 0, i = 0;
	while (i < n) {
		if (n - i >= 8) {
			uint64_t x;
			memcpy(&x, s + i, 8);
			if (!needs_escape(x)) {
				i += 8;
				continue;
			}
		}
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (cji_buf_append(b, s + run, i - run) || escape_one(b, c))
			return -1;
		run = ++i;
	}
	if (cji_buf_append(b, s + run, n - run) || cji_buf_append(b, "\"", 1))
		return -1;
	return 0;
}

int cji_json_i64(cji_buf *b, int64_t v)
{
	char tmp[24], *p = tmp + sizeof tmp;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return cji_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

int cji_json_col(cji_buf *b, sqlite3_stmt *st, int i, const char *key, int is_json, int *first)
{
	int t = sqlite3_column_type(st, i);
	if (t == SQLITE_NULL)
		return 0;
	size_t kl = strlen(key);
	if (cji_buf_reserve(b, kl + 4))
		return -1;
	if (!*first)
		b->data[b->len++] = ',';
	b->data[b->len++] = '"';
	memcpy(b->data + b->len, key, kl); /* keys are ours: plain ASCII, nothing to escape */
	b->len += kl;
	b->data[b->len++] = '"';
	b->data[b->len++] = ':';
	*first = 0;
	switch (t) {
	case SQLITE_INTEGER:
		return cji_json_i64(b, sqlite3_column_int64(st, i));
	case SQLITE_FLOAT: {
		char num[40];
		int n = snprintf(num, sizeof num, "%.17g", sqlite3_column_double(st, i));
		return cji_buf_append(b, num, (size_t)n);
	}
	default: {
		const char *s = (const char *)sqlite3_column_text(st, i);
		size_t len = (size_t)sqlite3_column_bytes(st, i);
		if (is_json)
			return cji_buf_append(b, s, len);
		return cji_json_str(b, s, len);
	}
	}
}
