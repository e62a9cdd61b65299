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
/* Append ,"key": then column i of st (int, real, string; raw JSON text if
 * is_json); nothing if the column is NULL. first: no leading comma. */
int cji_json_col(cji_buf *b, sqlite3_stmt *st, int i, const char *key, int is_json, int *first);

#endif
