/* journal/json_parse.h — strict JSON text to jansson values (json_parse.c),
 * the parser behind every event parsed from JSON. */
#ifndef CJ_JOURNAL_JSON_PARSE_H
#define CJ_JOURNAL_JSON_PARSE_H

#include <stddef.h>
#include <jansson.h>

typedef struct cji_json_error {
	int line, column;     /* 1-based; the column counts characters */
	int nomem;            /* the failure was an allocation */
	char text[160];       /* "string or '}' expected near '}'" */
} cji_json_error;

/* Parse len bytes of text (need not be NUL-terminated). any: the top value
 * may be any JSON value; else an object or an array. A new reference, or
 * NULL with *err filled. */
json_t *cji_json_parse(const char *text, size_t len, int any, cji_json_error *err);

/* cji_json_parse with the library's error set: CJ_EINVAL "[field 'F': ]invalid
 * JSON at line L, column C: TEXT" (naming field when given), or CJ_ENOMEM. */
int cji_json_load(json_t **out, const char *text, size_t len, int any, const char *field);

#endif
