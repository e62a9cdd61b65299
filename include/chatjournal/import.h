/* chatjournal/import.h — loading chat history exported by other systems
 * (libchatjournal-import, `pkg-config chatjournal-import`; not in the
 * umbrella header). `chatjournal import` is its command.
 *
 * Formats: a Slack export (folder or .zip), DiscordChatExporter JSON (a
 * file or a folder of them), a ChatGPT conversations.json, and JSONL (one
 * event per line, as `chatjournal append` takes, or as an export writes it).
 * docs/import.md gives each format's field map and the id scheme.
 *
 * How an import runs: the whole source is read and every event built from
 * it is validated first (the plan; nothing is appended); only then is it
 * read again and appended. Every event gets an id derived from the source,
 * so importing twice stores nothing new, a newer export of the same
 * channel yields edit_message events, and a rerun after a failure appends
 * what is missing. Sources are streamed: memory is bounded by the largest
 * element (a message, a conversation: max_element), plus 16-32 bytes per event
 * with an id (the ids seen, for --sync and for repeats within one source).
 *
 * Nothing is dropped silently: every source item is counted per file and per
 * kind as imported, already present or skipped (with its reason). Unless
 * allow_skips is set, a plan with any skip appends nothing and the call
 * fails with CJ_EINVAL.
 *
 * Ownership: the caller owns the options and the store (which must stay
 * open). Threads: one call uses the calling thread and the store's own
 * threads; several imports into one store may run at once (ids keep them
 * apart), but reports then count each other's events as already present.
 * The library never prints: progress goes to the callback, the outcome to
 * the report.
 */
#ifndef CHATJOURNAL_IMPORT_H
#define CHATJOURNAL_IMPORT_H

#include <stdint.h>
#include "error.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cj_import_format {
	CJ_IMPORT_JSONL   = 1,
	CJ_IMPORT_SLACK   = 2,
	CJ_IMPORT_DISCORD = 3,
	CJ_IMPORT_CHATGPT = 4
} cj_import_format;

/* "jsonl", "slack", "discord", "chatgpt" -> the format; 0 when unknown. */
CJ_API cj_import_format cj_import_format_from_name(const char *name);

#define CJ_IMPORT_OPTIONS_VERSION 1
typedef struct cj_import_options {
	unsigned version;            /* CJ_IMPORT_OPTIONS_VERSION */
	cj_import_format format;
	const char *path;            /* a file, a folder, or (slack) a .zip */
	const char *server;          /* the events' "server" (NULL: the source's own:
	                                docs/import.md); use the same one every time */
	int dry_run;                 /* plan only: count, append nothing */
	int sync;                    /* also delete (delete_message) messages of the source's
	                                threads, within the time each covers, that the
	                                source no longer has */
	int allow_skips;             /* append the rest when some items must be skipped */
	uint64_t max_element;        /* one JSON element (a message, a conversation, a line);
	                                0: 64 MiB; larger ones are skipped */
	uint64_t max_entry;          /* .zip: one entry's uncompressed size; 0: 1 GiB */
	uint64_t max_total;          /* .zip: all entries together; 0: 16 GiB */
	/* Called now and then: phase "plan" or "import", bytes of the source read
	 * so far and in all (0: unknown). May be NULL. */
	void (*progress)(void *arg, const char *phase, uint64_t done, uint64_t total);
	void *progress_arg;
} cj_import_options;
#define CJ_IMPORT_OPTIONS_INIT { CJ_IMPORT_OPTIONS_VERSION, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, \
                                 NULL, NULL }

/* The totals; the report holds the same per file and per kind. */
typedef struct cj_import_summary {
	uint64_t seen;               /* source items read (events built, and items skipped) */
	uint64_t imported;           /* events appended now (dry run: that would be) */
	uint64_t present;            /* already in the store (same id and payload) */
	uint64_t skipped;            /* not imported, each with a reason in the report */
	uint64_t edits;              /* edit_message events made from changed messages */
	uint64_t deletes;            /* delete_message events of --sync */
	uint64_t retention_dropped;  /* imported events older than the store's
	                                retention.messages_days: its next run removes them */
	uint64_t last_seq;           /* the last sequence number appended (0: none) */
} cj_import_summary;

/* Run one import into the open store s. *summary (may be NULL) gets the
 * totals; *report_json (may be NULL; free with cj_free) the report as JSON
 * text (docs/import.md, "The report"), set on failure too when the failure
 * came after the source was opened.
 * Errors: CJ_EINVAL (bad options; the source is malformed: the message names
 * the file, line and byte; or skips without allow_skips), CJ_ETOOBIG (a .zip
 * entry or the whole archive over its cap), CJ_ENOTFOUND (no such path),
 * CJ_EIO, and the append's errors (then the events before are durable: a
 * rerun appends the rest). */
CJ_API int cj_import_run(cj_import_summary *summary, char **report_json, cj_store *s,
                         const cj_import_options *opts);

#ifdef __cplusplus
}
#endif
#endif
