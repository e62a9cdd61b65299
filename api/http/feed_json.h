/* api/http/feed_json.h — what the change feed writes: an event's JSON form
 * (its canonical JSON with "seq", and "redacted" for a tombstone, in their
 * sorted places) and the Server-Sent Events frames of a stream. No
 * libmicrohttpd here (the unit test and the fuzz harness compile it in).
 * The shapes are documented in docs/http.md, "Change feed". */
#ifndef CJ_HTTP_FEED_JSON_H
#define CJ_HTTP_FEED_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "chatjournal/journal.h"

/* A growing byte buffer; a failed allocation is sticky (oom) and makes
 * every later add a no-op. */
typedef struct cjh_buf {
	char *p;
	size_t len, cap;
	int oom;
} cjh_buf;

void cjh_buf_add(cjh_buf *b, const void *data, size_t n);
void cjh_buf_str(cjh_buf *b, const char *s);
void cjh_buf_u64(cjh_buf *b, uint64_t x);
void cjh_buf_free(cjh_buf *b);

/* The record as the feed shows it: cj_event_to_canonical_json of its
 * event, with "seq": N and, for a tombstone (CJ_RECORD_REDACTED),
 * "redacted": true inserted where bytewise key order puts them (keys stay
 * sorted; an event has neither field). Appended to b; 0 or an error code
 * (CJ_ENOMEM, or the canonical form's CJ_EINVAL). */
int cjh_feed_event_json(cjh_buf *b, const cj_record *rec);

/* The same inserted into a canonical JSON object text (exposed for tests):
 * extra keys "redacted" (if redacted) and "seq". */
void cjh_feed_inject(cjh_buf *b, const char *canon, size_t len, uint64_t seq, int redacted);

/* Frames (each ends with the blank line that dispatches it):
 *   id: SEQ \n event: TYPE \n data: EVENT-JSON \n\n
 *   id: POS \n event: position \n data: {"after":POS} \n\n
 *   id: POS \n event: resume \n data: {"after":POS,"reason":"..."} \n\n
 *   : ping \n\n
 *   event: error \n data: {"error":"...","seq":N} \n\n */
int cjh_sse_event(cjh_buf *b, const cj_record *rec);
void cjh_sse_position(cjh_buf *b, uint64_t pos);
void cjh_sse_resume(cjh_buf *b, uint64_t pos, const char *reason);
void cjh_sse_ping(cjh_buf *b);
void cjh_sse_error(cjh_buf *b, const char *message, uint64_t seq);

#endif
