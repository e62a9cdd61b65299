/* export/export_internal.h — what the files of the export library share.
 * The library uses the public API (include/chatjournal/), jansson and, to
 * list threads with their titles, the projection's documented tables
 * (docs/schema.md) through a read-only SQLite connection.
 *   export.c         options, dispatch
 *   out.c            the output buffer
 *   jsonl.c          the journal's events as JSON Lines
 *   conversations.c  threads in scope, their messages a page at a time
 *   openai.c         a message row -> an OpenAI chat-completions message
 *   markdown.c       a thread and its messages for people */
#ifndef CJ_EXPORT_INTERNAL_H
#define CJ_EXPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/export.h"

#define EX_CHUNK 65536

/* Output in pieces of at most EX_CHUNK bytes through the caller's callback,
 * with a sticky error: after the first failure nothing more is written. */
typedef struct ex_out {
	const cj_export_options *o;
	char buf[EX_CHUNK];
	size_t len;
	int rc;
} ex_out;

void ex_put(ex_out *w, const char *s, size_t n);
void ex_puts(ex_out *w, const char *s);
int ex_flush(ex_out *w);

int ex_jsonl(cj_export_stats *st, cj_store *s, const cj_export_options *o, ex_out *w);
int ex_conversations(cj_export_stats *st, cj_store *s, const cj_export_options *o, ex_out *w);

/* One message row (cj_query_history's shape) as an OpenAI request message
 * (*out: a new reference). Errors: CJ_EINVAL (no role; the row's seq
 * named), CJ_ENOMEM. */
int ex_openai_message(json_t **out, const json_t *row);

/* A thread as the conversations walk sees it. */
typedef struct ex_thread {
	const char *thread, *title, *server, *channel, *topic;
} ex_thread;
void ex_md_thread(ex_out *w, const ex_thread *t, int first);
void ex_md_message(ex_out *w, const json_t *row);
void ex_md_empty(ex_out *w);

#endif
