/* chatjournal/query.h — the SQLite projection: waiting for it, reading it,
 * rebuilding and verifying it.
 *
 * A materializer thread (started by cj_store_open unless read_only) applies
 * journal events in order, exactly once, to STORE/chat.sqlite; the last
 * applied sequence number is stored in the same SQLite transaction as the rows.
 * Reads use read-only connections and never block the materializer.
 *
 * Query results are JSON text (an array of objects carrying the event's field
 * names plus "seq"), the same shape as the CLI's --json output and the HTTP
 * API; free them with cj_free. Every query is scoped by its arguments with
 * bound parameters; search text is quoted so FTS5 syntax in it is never
 * interpreted. All functions are thread-safe on one cj_store.
 */
#ifndef CHATJOURNAL_QUERY_H
#define CHATJOURNAL_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Highest sequence number applied to the projection. */
CJ_API int cj_projection_position(uint64_t *out, cj_store *s);

/* Wait until the projection has applied seq (read-your-writes), at most
 * timeout_ms. Errors: CJ_ETIMEOUT, CJ_ECLOSED, CJ_EPERM (no materializer). */
CJ_API int cj_wait_applied(cj_store *s, uint64_t seq, int timeout_ms);

#define CJ_HISTORY_QUERY_VERSION 1
typedef struct cj_history_query {
	unsigned version;      /* CJ_HISTORY_QUERY_VERSION */
	const char *thread;    /* required */
	unsigned limit;        /* most messages (default 50, at most 1000) */
	uint64_t before;       /* only seq < before (0: no bound); newest first then reversed */
	uint64_t after;        /* only seq > after (0: no bound) */
	const char *user;      /* optional scope: only this user's messages */
	const char *server;    /* optional scope */
	int forward;           /* 1: the first `limit` with seq > after, even when after is 0
	                          (the oldest messages); 0: forward only if after > 0 */
} cj_history_query;
#define CJ_HISTORY_QUERY_INIT { CJ_HISTORY_QUERY_VERSION, NULL, 0, 0, 0, NULL, NULL, 0 }

/* Messages of a thread in ascending seq order (the last `limit` before
 * `before`, or the first `limit` after `after`). *json_out: a JSON array. */
CJ_API int cj_query_history(char **json_out, cj_store *s, const cj_history_query *q);

/* Images of a thread, ascending seq, same paging fields as history. */
CJ_API int cj_query_images(char **json_out, cj_store *s, const cj_history_query *q);

#define CJ_SEARCH_QUERY_VERSION 2
/* How results are ordered. */
#define CJ_RANK_RECENT    0   /* newest first (every match is a candidate) */
#define CJ_RANK_RELEVANCE 1   /* BM25, best first, among the newest 2000 matches in scope,
                                 themselves among the newest 10000 matches of the store:
                                 a bounded cost (~20 ms) whatever the word's frequency */
typedef struct cj_search_query {
	unsigned version;      /* CJ_SEARCH_QUERY_VERSION */
	const char *text;      /* user text: every word must match (quoted, never FTS5 syntax);
	                          a word ending in '*' is a prefix search (documented syntax) */
	const char *thread;    /* optional scope */
	const char *user;      /* optional scope */
	const char *server;    /* optional scope */
	unsigned limit;        /* default 20, at most 1000 */
	int images;            /* 0: messages; 1: image prompts and analyses */
	/* version 2 */
	int rank;              /* CJ_RANK_RECENT (default) or CJ_RANK_RELEVANCE */
} cj_search_query;
#define CJ_SEARCH_QUERY_INIT { CJ_SEARCH_QUERY_VERSION, NULL, NULL, NULL, NULL, 0, 0, 0 }

/* Full-text search, newest first (or by relevance: rank). *json_out: a JSON
 * array of messages (or images). Errors: CJ_EINVAL (empty or malformed text,
 * e.g. invalid UTF-8; an unknown rank). */
CJ_API int cj_query_search(char **json_out, cj_store *s, const cj_search_query *q);

/* Effective config of a thread for a user: store defaults <- user config <-
 * thread config (JSON merge patch, thread wins). user and thread may be NULL. */
CJ_API int cj_query_effective_config(char **json_out, cj_store *s, const char *thread,
                                     const char *user);

/* Projection statistics as one JSON object: messages, threads, users, servers,
 * images, messages_today, projection_bytes, journal_bytes, position, last_seq,
 * lag (events not yet applied). */
CJ_API int cj_query_stats(char **json_out, cj_store *s);

/* cj_query_stats with options: "messages today" counted from day_start_ms
 * (ms since the epoch; < 0: midnight UTC of the current day), and the
 * result also names the zone (key "timezone": the label given, default
 * "UTC") and the start used ("day_start", RFC 3339 UTC). The caller
 * computes the local midnight of its zone (the library cannot switch the
 * process's TZ under other threads); `chatjournal stats --tz` does. */
#define CJ_STATS_OPTIONS_VERSION 1
typedef struct cj_stats_options {
	unsigned version;          /* CJ_STATS_OPTIONS_VERSION */
	int64_t day_start_ms;      /* < 0: midnight UTC today */
	const char *timezone;      /* label for the output; NULL: "UTC" */
} cj_stats_options;
#define CJ_STATS_OPTIONS_INIT { CJ_STATS_OPTIONS_VERSION, -1, NULL }
CJ_API int cj_query_stats_opts(char **json_out, cj_store *s, const cj_stats_options *opts);

/* Canonical state hash of a projection file (every table in primary-key
 * order and the FTS indexes' logical contents via fts5vocab; not
 * journal_position.updated_ms). hex_out: 32 hex characters + NUL. tables_out
 * (may be NULL): a JSON object {table: hash} to find which table differs. */
CJ_API int cj_projection_hash(char hex_out[33], char **tables_out, const char *sqlite_path);

/* First difference between two projection files, as one line of text in
 * *report ("" if equal); free with cj_free. */
CJ_API int cj_projection_diff(char **report, const char *path_a, const char *path_b);

/* PRAGMA integrity_check plus FTS5 'integrity-check' of both FTS tables on a
 * projection file that no other connection is writing. *report: "ok" or the
 * problems found. Returns 0 if ok, CJ_ECORRUPT otherwise. */
CJ_API int cj_projection_check(char **report, const char *sqlite_path);

/* Rebuild the projection from the journal alone, fast (no WAL, relaxed
 * sync, indexes built at the end, one fsync and rename). */
typedef void (*cj_progress_fn)(uint64_t done, uint64_t total, void *arg);
#define CJ_REPLAY_OPTIONS_VERSION 1
typedef struct cj_replay_options {
	unsigned version;        /* CJ_REPLAY_OPTIONS_VERSION */
	const char *out_path;    /* a new file; NULL: replace the store's own chat.sqlite
	                            atomically (this process must be the one that
	                            materializes; its materializer is paused meanwhile) */
	uint64_t up_to;          /* stop at this sequence number (0: the journal's end) */
	int skip_damaged;        /* a record that fails its checksum or cannot be decoded
	                            is listed in the table damaged_records and skipped;
	                            without it replay stops there, naming the sequence */
	cj_progress_fn progress; /* may be NULL: called now and then with (applied, total) */
	void *progress_arg;
} cj_replay_options;
#define CJ_REPLAY_OPTIONS_INIT { CJ_REPLAY_OPTIONS_VERSION, NULL, 0, 0, NULL, NULL }

/* Errors: CJ_ECORRUPT (a damaged record, named; see skip_damaged), CJ_EBUSY
 * (in place, while another process materializes), CJ_EPERM (in place on a
 * read-only handle), CJ_EIO/CJ_ENOSPC. opts NULL: the defaults (in place). */
CJ_API int cj_projection_replay(cj_store *s, const cj_replay_options *opts);

/* Asynchronous read-your-writes: fn(arg) is called once the projection has
 * applied seq, or when the store closes (check the position again then). fn
 * runs on a library thread holding an internal lock: it must only wake
 * someone up (signal a condition, write an eventfd, resume a suspended
 * request) and never call the library. Returns 1 if seq is applied already
 * (*out NULL; fn is never called), 0 with *out armed, or an error: CJ_EPERM
 * (read-only handle: no materializer), CJ_ECLOSED, CJ_ENOMEM. */
typedef struct cj_watch cj_watch;
CJ_API int cj_projection_watch(cj_watch **out, cj_store *s, uint64_t seq,
                               void (*fn)(void *arg), void *arg);
/* Disarm and free a watch (fired or not). After it returns fn is not running
 * and will not run. Accepts NULL. Call it before the store closes. */
CJ_API void cj_watch_free(cj_store *s, cj_watch *w);

#ifdef __cplusplus
}
#endif
#endif
