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

/* ---- The read API: pages, a user's conversation, listings, details ----
 * (docs/http.md, "Reads"). Every function below answers JSON text (free with
 * cj_free), reads one store (the handle is the scope: a token of another
 * store cannot reach it) and binds every argument as a parameter. */

/* Where the next page starts, filled by the paged reads when page_out is not
 * NULL. A listing is read in one direction: a page asked without `after`
 * (the newest rows, or those before `before`) continues backward; a page
 * asked with `after` continues forward. */
typedef struct cj_page {
	int more;           /* 1: rows lie beyond this page in the direction read */
	uint64_t before;    /* paging backward: the next page's `before` (else 0) */
	uint64_t after;     /* paging forward by seq: the next page's `after` (else 0) */
	char cursor[48];    /* listings by time (threads, metrics): the next page's
	                       `after` cursor, "MS.N" (else "") */
} cj_page;

/* cj_query_history / cj_query_images that also say where the next page
 * starts (page_out may be NULL). */
CJ_API int cj_query_history_page(char **json_out, cj_page *page_out, cj_store *s,
                                 const cj_history_query *q);
CJ_API int cj_query_images_page(char **json_out, cj_page *page_out, cj_store *s,
                                const cj_history_query *q);

/* A user's conversation across threads: the messages whose `user` is the
 * given user (a DM assistant writes its replies with the user it talks to,
 * as clear_history scopes them), on one server or on all, in ascending seq
 * order, paged like a thread (the last `limit`, or the first `limit` after
 * `after`). */
#define CJ_USER_MESSAGES_QUERY_VERSION 1
typedef struct cj_user_messages_query {
	unsigned version;      /* CJ_USER_MESSAGES_QUERY_VERSION */
	const char *user;      /* required */
	const char *server;    /* NULL: every server */
	unsigned limit;        /* default 50, at most 1000 */
	uint64_t before;       /* only seq < before (0: no bound) */
	uint64_t after;        /* only seq > after (0: no bound) */
	int forward;           /* as in cj_history_query: 1 pages forward even from after = 0 */
} cj_user_messages_query;
#define CJ_USER_MESSAGES_QUERY_INIT { CJ_USER_MESSAGES_QUERY_VERSION, NULL, NULL, 0, 0, 0, 0 }
/* Errors: CJ_EINVAL (no user, field "user"; bad version). An unknown user
 * is an empty array. */
CJ_API int cj_query_user_messages(char **json_out, cj_page *page_out, cj_store *s,
                                  const cj_user_messages_query *q);

/* Threads by last activity, newest first: objects {thread, server, channel,
 * title, title_set, topic, metadata, message_count, image_count, created,
 * created_ms, last_activity, last_activity_ms}. With user: the threads that
 * user wrote in, ordered by the user's own last activity there, each with
 * user_message_count and user_last_activity(_ms) too. */
#define CJ_THREADS_QUERY_VERSION 1
typedef struct cj_threads_query {
	unsigned version;      /* CJ_THREADS_QUERY_VERSION */
	const char *user;      /* optional scope */
	const char *server;    /* optional scope */
	unsigned limit;        /* default 50, at most 1000 */
	const char *after;     /* cursor of the previous page (cj_page.cursor); NULL: the first */
} cj_threads_query;
#define CJ_THREADS_QUERY_INIT { CJ_THREADS_QUERY_VERSION, NULL, NULL, 0, NULL }
/* Errors: CJ_EINVAL (a malformed cursor, field "after"). */
CJ_API int cj_query_threads(char **json_out, cj_page *page_out, cj_store *s,
                            const cj_threads_query *q);

/* One thread: the listing's object plus its config (the thread's own, not
 * the effective one). Errors: CJ_ENOTFOUND (field "thread"). */
CJ_API int cj_query_thread(char **json_out, cj_store *s, const char *thread);

/* One user's profile: {user, username, display_name, is_bot, avatar_url,
 * timezone, tz_label, tz_offset, metadata, config, first_seen(_ms),
 * last_seen(_ms), message_count, thread_count}. Errors: CJ_ENOTFOUND
 * (field "user"). */
CJ_API int cj_query_user(char **json_out, cj_store *s, const char *user);

/* Costs of the messages that carried a `cost`, by message time from_ms
 * (inclusive) to to_ms (exclusive): {"total":{...}, "by_day":[...],
 * "by_model":[...], "by_thread":[...]} where each entry has messages,
 * input_tokens, output_tokens, usd; by_thread is the 100 costliest threads. */
#define CJ_COSTS_QUERY_VERSION 1
typedef struct cj_costs_query {
	unsigned version;      /* CJ_COSTS_QUERY_VERSION */
	const char *user;      /* optional scope */
	const char *thread;    /* optional scope */
	int64_t from_ms;       /* INT64_MIN: no bound */
	int64_t to_ms;         /* INT64_MAX: no bound */
} cj_costs_query;
#define CJ_COSTS_QUERY_INIT { CJ_COSTS_QUERY_VERSION, NULL, NULL, INT64_MIN, INT64_MAX }
CJ_API int cj_query_costs(char **json_out, cj_store *s, const cj_costs_query *q);

/* Metric events in time order (ts_ms, then seq), oldest first, paged
 * forward by cursor: objects {seq, name, value, unit, tags, ts_ms, ts}. */
#define CJ_METRICS_QUERY_VERSION 1
typedef struct cj_metrics_query {
	unsigned version;      /* CJ_METRICS_QUERY_VERSION */
	const char *name;      /* optional: one metric */
	int64_t since_ms;      /* only ts_ms >= since_ms; INT64_MIN: no bound */
	unsigned limit;        /* default 100, at most 1000 */
	const char *after;     /* cursor of the previous page (cj_page.cursor); NULL: the first */
} cj_metrics_query;
#define CJ_METRICS_QUERY_INIT { CJ_METRICS_QUERY_VERSION, NULL, INT64_MIN, 0, NULL }
CJ_API int cj_query_metrics(char **json_out, cj_page *page_out, cj_store *s,
                            const cj_metrics_query *q);

/* Settings (of `setting` events), by key, optionally of one category:
 * objects {key, value, category, sensitive, masked, actor, description,
 * updated, updated_ms, seq}. A value is "***" (and masked true) when the
 * setting said sensitive, or when its key names a secret
 * (cj_setting_key_sensitive). */
CJ_API int cj_query_settings(char **json_out, cj_store *s, const char *category);

/* 1 if a setting key names a secret. The key is split into words (on '.',
 * '_', '-', '/', ':', ' ' and lower-to-upper case changes, compared without
 * case); it names a secret when a word is token, secret, password, passwd,
 * pwd, passphrase, credential(s), apikey, privatekey or dsn, or two adjacent
 * words are "api key", "private key", "access key" or "signing key". Plural
 * "tokens" is not a secret (max_tokens is a model setting). docs/http.md,
 * "Sensitive settings". */
CJ_API int cj_setting_key_sensitive(const char *key);

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
