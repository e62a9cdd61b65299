/* api/json_out.c — minimal JSON writer for query results. Strings are
 * escaped as JSON requires (", \ and control characters); the projection
 * holds valid UTF-8 only (validated at append), so bytes >= 0x80 pass as is.
 * JSON columns (metadata, config, tags) were written by the materializer with
 * json_dumps and are embedded as they are.
 *
 * Speed matters here (two thirds of a history read was building JSON): the
 * escaper looks at 16 bytes at a time (8 without SSE2) and copies clean runs
 * whole, keys are plain ASCII copied with one fixed-size move, each column
 * is read once as a value, and integers are written two digits at a time
 * instead of through snprintf. */
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

#if defined(__SSE2__)
#include <emmintrin.h>
/* Bytes from s before the first of its 16 that needs an escape (16: none). */
static unsigned clean16(const char *s)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
	__m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x); /* x <= 0x1f */
	__m128i q = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
	__m128i bs = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
	unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_or_si128(q, bs)));
	return m ? (unsigned)__builtin_ctz(m) : 16;
}
#endif

/* Room for the worst case (every byte a six-byte escape) is reserved once;
 * then clean runs are copied whole and escapes written in place. The scan
 * looks at 16 bytes at a time where SSE2 is there (every x86-64), else 8. */
int cji_json_str(cji_buf *b, const char *s, size_t n)
{
	if (n > (SIZE_MAX - 2) / 6 || cji_buf_reserve(b, 6 * n + 2))
		return -1;
	char *o = (char *)b->data + b->len;
	*o++ = '"';
	size_t i = 0;
	while (i < n) {
		size_t run = i;
#if defined(__SSE2__)
		while (n - i >= 16) {
			unsigned k = clean16(s + i);
			i += k;
			if (k < 16)
				break; /* s[i] needs an escape: the loops below stop at once */
		}
#endif
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

/* Two decimal digits per step, "00" to "99". */
static const char DIGITS2[201] =
	"0001020304050607080910111213141516171819"
	"2021222324252627282930313233343536373839"
	"4041424344454647484950515253545556575859"
	"6061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Write v in decimal at o (room for 20 bytes); returns its length. */
static size_t put_i64(char *o, int64_t v)
{
	char tmp[24], *p = tmp + sizeof tmp;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	while (u >= 100) {
		p -= 2;
		memcpy(p, DIGITS2 + 2 * (u % 100), 2);
		u /= 100;
	}
	if (u >= 10) {
		p -= 2;
		memcpy(p, DIGITS2 + 2 * u, 2);
	} else {
		*--p = (char)('0' + u);
	}
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

/* Append lit (",\"key\":", padded to CJI_JSON_LIT bytes; without its comma
 * when *first) then the value v of type t (not NULL). The row writer reads
 * each column once as a value (sqlite3_column_value): asking the statement
 * for its type, text and length costs three API calls per column. The value
 * is "unprotected" in SQLite's terms, which matters only to connections
 * shared between threads; a reader connection is used by one thread at a
 * time (api/readers.c) and opened without a mutex (materializer/db.c). */
static int put_value(cji_buf *b, sqlite3_value *v, int t, const char *lit, size_t litlen,
                     unsigned flags, int *first)
{
	if (cji_buf_reserve(b, CJI_JSON_LIT + 40))
		return -1;
	char *o = (char *)b->data + b->len;
	if (*first) {
		memcpy(o, lit + 1, CJI_JSON_LIT - 1);
		o += litlen - 1;
		*first = 0;
	} else {
		memcpy(o, lit, CJI_JSON_LIT);
		o += litlen;
	}
	b->len = (size_t)((uint8_t *)o - b->data);
	if (flags & CJI_JF_BOOL) {
		int on = sqlite3_value_int64(v) != 0;
		memcpy(o, on ? "true" : "false", on ? 4 : 5);
		b->len += on ? 4 : 5;
		return 0;
	}
	switch (t) {
	case SQLITE_INTEGER:
		b->len += put_i64(o, sqlite3_value_int64(v));
		return 0;
	case SQLITE_FLOAT:
		b->len += (size_t)snprintf(o, 40, "%.17g", sqlite3_value_double(v));
		return 0;
	default: {
		const char *s = (const char *)sqlite3_value_text(v);
		size_t len = (size_t)sqlite3_value_bytes(v);
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
	sqlite3_value *v = sqlite3_column_value(st, i);
	int t = sqlite3_value_type(v);
	if (t == SQLITE_NULL)
		return 0;
	size_t kl = strlen(key);
	char lit[CJI_JSON_LIT] = { 0 };
	if (kl + 4 > sizeof lit)
		return -1; /* keys are ours, and short */
	lit[0] = ',';
	lit[1] = '"';
	memcpy(lit + 2, key, kl);
	lit[kl + 2] = '"';
	lit[kl + 3] = ':';
	return put_value(b, v, t, lit, kl + 4, flags, first);
}

/* Append the members of v, the text of a JSON object written by SQLite's
 * json_patch, to the row: nothing for {} (every rare column NULL). */
static int put_members(cji_buf *b, sqlite3_value *v, int *first)
{
	const char *s = (const char *)sqlite3_value_text(v);
	size_t n = (size_t)sqlite3_value_bytes(v);
	if (!s || n <= 2 || s[0] != '{' || s[n - 1] != '}')
		return 0;
	if (cji_buf_reserve(b, n)) /* the members and a comma */
		return -1;
	if (!*first)
		b->data[b->len++] = ',';
	*first = 0;
	memcpy(b->data + b->len, s + 1, n - 2);
	b->len += n - 2;
	return 0;
}

int cji_json_row(cji_buf *b, sqlite3_stmt *st, const cji_json_field *f, int n, int *first)
{
	for (int i = 0; i < n; i++) {
		unsigned fl = f[i].flags;
		sqlite3_value *v = sqlite3_column_value(st, i);
		int t = !(fl & CJI_JF_NOT_NULL) ? sqlite3_value_type(v)
		        : fl & CJI_JF_INT ? SQLITE_INTEGER : SQLITE_TEXT;
		if (t == SQLITE_NULL)
			continue;
		if (fl & CJI_JF_MEMBERS) {
			if (put_members(b, v, first))
				return -1;
			continue;
		}
		if (put_value(b, v, t, f[i].lit, f[i].len, fl, first))
			return -1;
	}
	return 0;
}
