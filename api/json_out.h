/* api/json_out.h — writing JSON text straight from SQLite rows into a buffer
 * (a jansson tree per row cost 4x the query itself on history reads). */
#ifndef CJ_API_JSON_OUT_H
#define CJ_API_JSON_OUT_H

#include <stdint.h>
#include <sqlite3.h>
#include "common/buf.h"

/* Append s as a JSON string literal (quotes, escapes; UTF-8 passed through). */
int cji_json_str(cji_buf *b, const char *s, size_t n);
/* Append a JSON integer. */
int cji_json_i64(cji_buf *b, int64_t v);

/* One output field of a row: its ,"key": literal and how its column is
 * written. CJI_JSON_FIELD("seq", CJI_JF_NOT_NULL | CJI_JF_INT). */
enum {
	CJI_JF_JSON = 1,     /* text embedded as it is (JSON written by the materializer) */
	CJI_JF_BOOL = 2,     /* an integer written as true/false */
	CJI_JF_NOT_NULL = 4, /* declared NOT NULL: its type is not asked (text, or CJI_JF_INT) */
	CJI_JF_INT = 8,
	CJI_JF_MEMBERS = 16, /* a JSON object (written by SQLite's JSON functions) whose
	                        members join the row; the field's key is not used */
};
/* lit is padded to CJI_JSON_LIT bytes so that it is copied with one
 * fixed-size move; keys are ours and short (checked at compile time). */
#define CJI_JSON_LIT 32
typedef struct cji_json_field {
	char lit[CJI_JSON_LIT];
	unsigned char len;
	unsigned char flags;
} cji_json_field;
#define CJI_JSON_FIELD(key, flags) \
	{ ",\"" key "\":", sizeof(key) + 3 + 0 * sizeof(char[sizeof(key) + 3 <= CJI_JSON_LIT ? 1 : -1]), \
	  (flags) }
/* Append ,"key": then column i of st (int, real, string; as flags say:
 * CJI_JF_JSON, CJI_JF_BOOL); nothing if the column is NULL. first: no
 * leading comma. */
int cji_json_col(cji_buf *b, sqlite3_stmt *st, int i, const char *key, unsigned flags, int *first);
/* Append columns 0..n-1 of st as the fields f (NULL columns left out; a
 * CJI_JF_MEMBERS column adds its object's members); first: no leading comma
 * before the first field written. */
int cji_json_row(cji_buf *b, sqlite3_stmt *st, const cji_json_field *f, int n, int *first);

#endif
