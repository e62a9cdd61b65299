/* api/json_out.c — minimal JSON writer for query results. Strings are
 * escaped as JSON requires (", \ and control characters); the projection
 * holds valid UTF-8 only (validated at append), so bytes >= 0x80 pass as is.
 * JSON columns (metadata, config, tags) were written by the materializer with
 * json_dumps and are embedded as they are. */
#include <stdio.h>
#include <string.h>
#include "api/json_out.h"

int cji_json_str(cji_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (cji_buf_reserve(b, n + 2))
		return -1;
	b->data[b->len++] = '"';
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (cji_buf_append(b, s + run, i - run))
			return -1;
		char esc[8];
		size_t el = 2;
		esc[0] = '\\';
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
		if (cji_buf_append(b, esc, el))
			return -1;
		run = i + 1;
	}
	if (cji_buf_append(b, s + run, n - run) || cji_buf_append(b, "\"", 1))
		return -1;
	return 0;
}

int cji_json_col(cji_buf *b, sqlite3_stmt *st, int i, const char *key, int is_json, int *first)
{
	int t = sqlite3_column_type(st, i);
	if (t == SQLITE_NULL)
		return 0;
	if ((!*first && cji_buf_append(b, ",", 1)) || cji_json_str(b, key, strlen(key)) ||
	    cji_buf_append(b, ":", 1))
		return -1;
	*first = 0;
	char num[40];
	int n;
	switch (t) {
	case SQLITE_INTEGER:
		n = snprintf(num, sizeof num, "%lld", (long long)sqlite3_column_int64(st, i));
		return cji_buf_append(b, num, (size_t)n);
	case SQLITE_FLOAT:
		n = snprintf(num, sizeof num, "%.17g", sqlite3_column_double(st, i));
		return cji_buf_append(b, num, (size_t)n);
	default: {
		const char *s = (const char *)sqlite3_column_text(st, i);
		size_t len = (size_t)sqlite3_column_bytes(st, i);
		if (is_json)
			return cji_buf_append(b, s, len);
		return cji_json_str(b, s, len);
	}
	}
}
