/* api/query_internal.h — what the reads of the projection share (query.c,
 * query_read.c): writing rows as JSON, collecting a page of them, binding an
 * optional text. Internal to the library. */
#ifndef CJ_API_QUERY_INTERNAL_H
#define CJ_API_QUERY_INTERNAL_H

#include <stdint.h>
#include <sqlite3.h>
#include "common/buf.h"

/* The largest page any read returns. */
#define CJI_QUERY_MAX_LIMIT 1000u

struct cji_reader;

/* One row of st as a JSON object appended to b; r is the connection st runs
 * on (for what a row reads beside it). 0, -1 (out of memory, no message set)
 * or another error code with its message set. */
typedef int (*cji_row_fn)(cji_buf *b, sqlite3_stmt *st, struct cji_reader *r);
int cji_message_row(cji_buf *b, sqlite3_stmt *st, struct cji_reader *r);
int cji_image_row(cji_buf *b, sqlite3_stmt *st, struct cji_reader *r);

/* What cji_query_collect saw: whether a row lay beyond the page, the
 * integer in column 0 of the first and last row written (in output order)
 * and, when the caller set want_b, column 1 of the last row (listings by
 * time keep their cursor in columns 0 and 1). */
typedef struct cji_rows_info {
	int more;
	int64_t first, last;
	int want_b;
	int64_t last_b;
} cji_rows_info;
#define CJI_ROWS_INFO_INIT { 0, 0, 0, 0, 0 }

/* Step st (which asks for limit + 1 rows) into *out, a JSON array of at most
 * limit rows, reversed if reverse (a newest-first walk answered oldest
 * first). info may be NULL. 0, CJ_ENOMEM or a CJ_EDB-family error. */
int cji_query_collect(struct cji_reader *r, sqlite3_stmt *st, cji_row_fn mk, int reverse,
                      unsigned limit, char **out, cji_rows_info *info);

/* Bind s as text at i, or NULL when s is NULL. */
void cji_bind_opt(sqlite3_stmt *st, int i, const char *s);

#endif
