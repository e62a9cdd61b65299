/* bench/measure.h — one function per measured system. Each runs in its own
 * fresh directory `dir` (created by the caller, removed after), stops at the
 * bounds b, and fills res; it returns 0 or -1 (res->error says why). */
#ifndef CJB_MEASURE_H
#define CJB_MEASURE_H

#include "harness.h"

/* The seed designs' way: SQLite WAL, synchronous=FULL, one autocommit INSERT
 * per message, one thread; with fts, also an autocommit thread upsert before
 * it and an FTS5 index kept by a trigger. */
int cjb_measure_seed(const char *dir, int fts, const cjb_bounds *b, cjb_result *res);

/* Raw LMDB, default (durable) flags, per_txn records per transaction with
 * MDB_APPEND, one thread. Latency is per transaction. */
int cjb_measure_lmdb_raw(const char *dir, unsigned per_txn, const cjb_bounds *b,
                         cjb_result *res);

/* The chatjournal measurements: journal_only opens the store with
 * no_materializer (the journal alone; else the projection runs beside). */

/* chatjournal: `threads` threads each calling cj_journal_append in a loop. */
int cjb_measure_cj_sync(const char *dir, unsigned threads, int journal_only, const cjb_bounds *b,
                        cjb_result *res);

/* chatjournal: `threads` threads each keeping up to in_flight one-event
 * tickets (cj_journal_submit / cj_ticket_wait) outstanding. */
int cjb_measure_cj_async(const char *dir, unsigned threads, unsigned in_flight,
                         int journal_only, const cjb_bounds *b, cjb_result *res);

/* chatjournal: `threads` threads each calling cj_journal_append_batch with
 * per_call events. Latency is per call. */
int cjb_measure_cj_batch(const char *dir, unsigned threads, unsigned per_call,
                         int journal_only, const cjb_bounds *b, cjb_result *res);

#endif
