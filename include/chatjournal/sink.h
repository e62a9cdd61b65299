/* chatjournal/sink.h — the PostgreSQL sink: one store's journal projected
 * into a shared PostgreSQL database, exactly once (libchatjournal-sink,
 * `pkg-config chatjournal-sink`; not in the umbrella header).
 *
 * The sink follows the journal (cj_journal_iter_wait) and applies its
 * events to tables that mirror the SQLite projection, with a store_id in
 * every key so that many stores (many hosts) land in one database. The
 * position reached is written in the same PostgreSQL transaction as the
 * rows, so every event is applied once across crashes of the sink and
 * restarts of PostgreSQL. The schema (PostgreSQL schema "chatjournal") is
 * created and migrated by the sink itself. docs/scale-out.md describes the
 * fleet, the tables and the queries.
 *
 * Ownership: a cj_sink belongs to its creator; it uses the cj_store given
 * to cj_sink_open, which must outlive it. Threads: one thread runs a sink;
 * cj_sink_stop may be called from any thread or a signal handler.
 * The library never prints: state changes go to the log callback.
 */
#ifndef CHATJOURNAL_SINK_H
#define CHATJOURNAL_SINK_H

#include <stdint.h>
#include "error.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cj_sink cj_sink;

/* How rows that map one event to one row (messages, images, costs,
 * metrics) are loaded. COPY is the default (the faster: docs/scale-out.md,
 * "Loading"); INSERT is kept for the benchmark's comparison. */
typedef enum cj_sink_load { CJ_SINK_LOAD_COPY = 0, CJ_SINK_LOAD_INSERT = 1 } cj_sink_load;

#define CJ_SINK_OPTIONS_VERSION 1
typedef struct cj_sink_options {
	unsigned version;          /* CJ_SINK_OPTIONS_VERSION */
	const char *dsn;           /* libpq connection string or URI (required) */
	const char *store_id;      /* the store's name in PostgreSQL, 1..200 bytes of UTF-8
	                              without control characters; NULL: "HOST:FOLDER" (this
	                              machine's host name and the store folder's name) */
	unsigned batch_max;        /* most events per PostgreSQL transaction (default 5000) */
	unsigned batch_ms;         /* most time gathering one batch (default 250) */
	cj_sink_load load;
	int give_up_ms;            /* cj_sink_run: fail after PostgreSQL was unreachable this
	                              long (0: retry for ever) */
	void (*log)(void *arg, const char *line);  /* NULL: silent; one line, no newline */
	void *log_arg;
	int test_split_position;   /* TESTS ONLY: commit the rows and the position in two
	                              transactions (the crash test's negative control) */
} cj_sink_options;
#define CJ_SINK_OPTIONS_INIT { CJ_SINK_OPTIONS_VERSION, NULL, NULL, 0, 0, CJ_SINK_LOAD_COPY, 0, \
                               NULL, NULL, 0 }

/* Connect, check the server (PostgreSQL 12 or newer), create or migrate the
 * schema, register the store id (or check that it belongs to this journal)
 * and take the store id's advisory lock (one sink per store id).
 * Errors: CJ_EINVAL (bad options, malformed DSN), CJ_EIO (cannot connect:
 * the message has libpq's reason), CJ_EVERSION (server too old, or a
 * schema written by a newer sink), CJ_EBUSY (another sink holds the store
 * id), CJ_ECONFLICT (the store id holds another journal's events),
 * CJ_EAHEAD (PostgreSQL is ahead of this journal), CJ_EDB. */
CJ_API int cj_sink_open(cj_sink **out, cj_store *s, const cj_sink_options *opts);

/* Apply what the journal holds now past the position, in batches; *applied
 * (may be NULL) gets the count. A failed batch is rolled back whole.
 * Errors as cj_sink_run's. */
CJ_API int cj_sink_step(uint64_t *applied, cj_sink *k);

/* Follow the journal and apply it until cj_sink_stop (0), or with once
 * until the position reaches the journal's last sequence number as it was
 * when the call began (0). While PostgreSQL is unreachable it reconnects
 * with backoff (0.1 s doubling to 5 s), losing nothing; give_up_ms bounds
 * that. Errors: CJ_EDB (PostgreSQL refused a row: the message names the
 * journal record), CJ_ECORRUPT (a damaged journal record, named), CJ_EINVAL
 * (an event type this sink does not know: "record N: event type 'T' ..."),
 * CJ_ETIMEOUT (gave up reconnecting), CJ_EBUSY (another sink took over). */
CJ_API int cj_sink_run(cj_sink *k, int once);

/* Ask cj_sink_run to return (async-signal-safe). */
CJ_API void cj_sink_stop(cj_sink *k);

/* The position PostgreSQL has for this store id (last applied sequence). */
CJ_API int cj_sink_position(uint64_t *out, cj_sink *k);

/* The store id in use. */
CJ_API const char *cj_sink_store_id(const cj_sink *k);

/* Disconnect and free; accepts NULL. */
CJ_API void cj_sink_close(cj_sink *k);

/* Compare this store id's rows in PostgreSQL with a SQLite projection of
 * the same store (sqlite_path, opened read-only) table by table: the same
 * logical rows (text keys instead of row ids, JSON and times in canonical
 * text, no FTS internals; docs/scale-out.md, "Checking"). Both must be at
 * the same position. *report (free with cj_free) gets one line per table:
 * "TABLE ROWS HASH" and "differs" where the sides differ. Returns 0 when
 * equal, CJ_ECONFLICT when some table differs, CJ_EBUSY when the positions
 * differ (the report says both), or another error. */
CJ_API int cj_sink_compare(char **report, cj_sink *k, const char *sqlite_path);

#ifdef __cplusplus
}
#endif
#endif
