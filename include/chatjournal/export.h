/* chatjournal/export.h — a store's events and conversations out
 * (libchatjournal-export, `pkg-config chatjournal-export`; not in the
 * umbrella header). docs/export.md describes the formats.
 *
 *   CJ_EXPORT_JSONL     the journal's events in order, one canonical JSON
 *                       object per line with "seq" (and "redacted": true
 *                       for a tombstone): lossless, the shape of the change
 *                       feed (GET /v1/events)
 *   CJ_EXPORT_MARKDOWN  conversations for people: thread title, names,
 *                       times, edits, attachments, reactions
 *   CJ_EXPORT_OPENAI    the "messages" array of an OpenAI chat-completions
 *                       request, {"messages":[...]} per thread and line
 *
 * Scope: one thread, one user's messages (on one server), or the whole
 * store; nothing outside it is written. Output goes through the caller's
 * write callback in pieces of at most 64 KiB, so memory stays bounded
 * whatever the store's size (the journal is read in short transactions,
 * the projection a page of messages at a time).
 *
 * Threads: a cj_export call uses its store like the query functions (any
 * thread). The library never prints.
 */
#ifndef CHATJOURNAL_EXPORT_H
#define CHATJOURNAL_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cj_export_format {
	CJ_EXPORT_JSONL = 0,
	CJ_EXPORT_MARKDOWN = 1,
	CJ_EXPORT_OPENAI = 2
} cj_export_format;

#define CJ_EXPORT_OPTIONS_VERSION 1
typedef struct cj_export_options {
	unsigned version;          /* CJ_EXPORT_OPTIONS_VERSION */
	cj_export_format format;
	/* Exactly one scope: thread, or user (server optional, with user only),
	 * or all = 1. */
	const char *thread;
	const char *user;
	const char *server;
	int all;
	/* Called with each piece of output; returns 0, or an error code that
	 * stops the export and is returned by cj_export (say CJ_EIO, with
	 * cj_error_set). Required. */
	int (*write)(void *arg, const char *data, size_t len);
	void *write_arg;
} cj_export_options;
#define CJ_EXPORT_OPTIONS_INIT { CJ_EXPORT_OPTIONS_VERSION, CJ_EXPORT_JSONL, NULL, NULL, NULL, \
                                 0, NULL, NULL }

typedef struct cj_export_stats {
	uint64_t events;           /* jsonl: events written */
	uint64_t redacted;         /* jsonl: of which tombstones */
	uint64_t messages;         /* markdown, openai: messages written */
	uint64_t threads;          /* markdown, openai: threads written */
} cj_export_stats;

/* Write the scope's export through o->write. stats (may be NULL) gets the
 * counts. Errors: CJ_EINVAL (no scope or two, server without user, an
 * unknown format: the field is named), CJ_ENOTFOUND (markdown or openai
 * of a thread or user the projection does not have; jsonl writes what the
 * journal holds, maybe nothing), CJ_ECORRUPT (a damaged record, named),
 * the write callback's error. On error, part of the output may have been
 * written. */
CJ_API int cj_export(cj_export_stats *stats, cj_store *s, const cj_export_options *o);

/* The OpenAI conversion of message rows (a JSON array as cj_query_history
 * returns it, ascending seq) into {"messages":[...]}: role, content
 * (attachments as content parts), name, tool_calls, tool_call_id
 * (docs/export.md, "openai"). GET /v1/threads/{t}/messages?format=openai
 * and cj_export use it. *json_out: free with cj_free. Errors: CJ_EINVAL
 * (not an array of message rows), CJ_ENOMEM. */
CJ_API int cj_export_openai_messages(char **json_out, const char *rows_json);

#ifdef __cplusplus
}
#endif
#endif
