/* api/http/body.h — the POST /v1/events body parser (an HTTP input path with
 * its own fuzz harness): depth check on the raw bytes, then
 * cj_event_parse_many. */
#ifndef CJ_HTTP_BODY_H
#define CJ_HTTP_BODY_H

#include <stddef.h>
#include "chatjournal/event.h"
#include "chatjournal/error.h"

/* Errors name the problem (syntax line/column, event index, field); on
 * success *evs holds *n events (cj_events_free). */
int cjh_parse_events(const char *body, size_t len, const cj_limits *lim, unsigned max_depth,
                     unsigned max_batch, cj_event ***evs, size_t *n, int *is_array, long *bad_index);

/* Deepest [ / { nesting of JSON text outside strings (stops counting past cap). */
unsigned cjh_json_depth(const char *p, size_t n, unsigned cap);

#endif
