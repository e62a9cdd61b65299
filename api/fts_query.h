/* api/fts_query.h — turning user search text into a safe FTS5 query. */
#ifndef CJ_API_FTS_QUERY_H
#define CJ_API_FTS_QUERY_H

#include <stddef.h>

#define CJI_FTS_MAX_TEXT 4096
#define CJI_FTS_MAX_TERMS 32

/* Split text on white space; each word becomes an FTS5 string ("..." with
 * every " doubled); a word that ends in '*' after at least one other
 * character becomes a prefix query ("wor"*). Words are ANDed. Nothing the
 * user types is ever read as FTS5 syntax (no OR/NOT/NEAR, column filters,
 * parentheses, ^). Errors (field "q"): CJ_EINVAL (empty, invalid UTF-8, NUL,
 * control characters only), CJ_ETOOBIG (over CJI_FTS_MAX_TEXT bytes or
 * CJI_FTS_MAX_TERMS words). *out is malloc'd. */
int cji_fts_quote(const char *text, size_t len, char **out);

#endif
