/* chatjournal/journal.h — durable appends, reading the journal, blobs.
 *
 * Appends are group-committed: one writer thread takes every submission
 * waiting at that moment, writes them in one LMDB transaction and one fsync,
 * then acknowledges each. A sequence number returned by any function here is
 * durable: it survives a crash of the process and of the machine.
 * Sequence numbers start at 1 and have no gaps.
 *
 * Idempotency: an event with an "id" already in the store is not stored again;
 * its original sequence number is returned. The same id with a different
 * payload fails with CJ_ECONFLICT.
 *
 * All functions are thread-safe on one cj_store.
 */
#ifndef CHATJOURNAL_JOURNAL_H
#define CHATJOURNAL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "event.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Append one event and wait until it is durable; *seq_out (may be NULL) gets its
 * sequence number. The event is validated against the store's limits first.
 * Errors: CJ_EINVAL/CJ_ETOOBIG (field named), CJ_ECONFLICT, CJ_ENOSPC,
 * CJ_EFULL, CJ_EBUSY (queue full), CJ_EIO. On error nothing was stored. */
CJ_API int cj_journal_append(uint64_t *seq_out, cj_store *s, const cj_event *ev);

/* Append n events all-or-nothing (one after another, consecutive sequence
 * numbers unless some are idempotent repeats); seqs_out (may be NULL) gets n
 * numbers. A validation error names the event index and field; nothing stored. */
CJ_API int cj_journal_append_batch(uint64_t *seqs_out, cj_store *s, const cj_event *const *evs,
                                   size_t n);

/* Asynchronous form: validate and queue n events (all-or-nothing) and return at
 * once with a ticket; the events are copied, the caller may free them.
 * cj_ticket_wait blocks until the batch is durable (0, seqs_out filled) or has
 * failed (error code; message via cj_error_last on the waiting thread).
 * cj_ticket_done is 1 once the outcome is known (never blocks).
 * cj_ticket_free waits if needed, then frees; accepts NULL. */
typedef struct cj_ticket cj_ticket;
CJ_API int cj_journal_submit(cj_ticket **out, cj_store *s, const cj_event *const *evs, size_t n);
CJ_API int cj_ticket_wait(uint64_t *seqs_out, cj_ticket *t);
CJ_API int cj_ticket_done(const cj_ticket *t);
/* cj_journal_submit, and fn(arg) is called once the outcome is known (then
 * cj_ticket_wait returns at once). fn runs on the journal's writer thread: it
 * must only wake someone up (signal, eventfd, resume a suspended request) and
 * never call the library; the ticket is not freed before fn has returned. */
CJ_API int cj_journal_submit_notify(cj_ticket **out, cj_store *s, const cj_event *const *evs,
                                    size_t n, void (*fn)(void *arg), void *arg);
CJ_API void cj_ticket_free(cj_ticket *t);

/* What became of each event of a successful ticket (after cj_ticket_wait
 * returned 0): stored now, or the repeat of an event already stored (same id
 * and payload: cj_ticket_wait gave its original sequence number), or the
 * repeat of an event that a deletion has since removed (the projection no
 * longer has it, or compaction redacted it): nothing was stored, and the
 * caller should say so (the CLI counts them; HTTP answers "deleted": true).
 * out gets one value per event of the ticket. */
typedef enum cj_append_status {
	CJ_APPEND_NEW = 0,
	CJ_APPEND_DUPLICATE = 1,
	CJ_APPEND_DUPLICATE_DELETED = 2
} cj_append_status;
CJ_API int cj_ticket_status(cj_append_status *out, cj_store *s, const cj_ticket *t);

/* Highest durable sequence number (0: empty journal). */
CJ_API int cj_journal_last_seq(uint64_t *out, cj_store *s);

/* One journal record as read back. */
typedef struct cj_record {
	uint64_t seq;
	cj_event_type type;
	int64_t ts_ms;          /* event time, ms since the epoch */
	uint32_t flags;         /* CJ_RECORD_* */
	uint32_t body_len;      /* msgpack body length in bytes */
	const cj_event *event;  /* owned by the iterator; valid until the next call */
} cj_record;

#define CJ_RECORD_REDACTED 0x1u  /* content removed by compaction after a deletion */
#define CJ_RECORD_PARTIAL  0x2u  /* with REDACTED: only superseded text removed (a message
                                    that was edited, still live); docs/format.md */

/* Iterate records with seq >= from_seq in order, using short read transactions
 * (never holding one between calls). next returns 1 and fills rec, 0 at the end,
 * or an error: CJ_ECORRUPT names the sequence number in the message and in
 * rec->seq (the iterator then moves past it). Records appended during iteration are seen. */
typedef struct cj_journal_iter cj_journal_iter;
CJ_API int cj_journal_iter_new(cj_journal_iter **out, cj_store *s, uint64_t from_seq);
CJ_API int cj_journal_iter_next(cj_record *rec, cj_journal_iter *it);
CJ_API void cj_journal_iter_free(cj_journal_iter *it);

/* Follow mode: block until cj_journal_iter_next has a record to return.
 * Returns 1 (the next call to cj_journal_iter_next returns a record, or an
 * error naming one), 0 when timeout_ms passed with nothing new (timeout_ms <
 * 0: no bound), or an error reading the journal. Returns 1 at once while the
 * iterator has not reached the end.
 *
 * It wakes right after a commit of this process (the writer signals its
 * waiters) and within CJ_JOURNAL_FOLLOW_POLL_MS of a commit made by another
 * process appending to the same store (while anyone waits, one waiting
 * thread per store handle looks at the journal's last sequence number that
 * often; nothing runs while nobody waits). A compaction's folder swap is
 * followed transparently: sequence numbers do not change, and records it
 * redacted come back as tombstones (CJ_RECORD_REDACTED).
 *
 * Threads: any number of threads may wait at once, each on its own
 * iterator (an iterator is used by one thread at a time). Every wait must
 * have returned before cj_store_close: stop waiters with a timeout.
 * The usual loop:
 *     while (!stop) {
 *         int r = cj_journal_iter_next(&rec, it);
 *         if (r == 1) { use(&rec); continue; }
 *         if (r < 0) { handle(r); continue; }   -- CJ_ECORRUPT names rec.seq
 *         if ((r = cj_journal_iter_wait(it, 1000)) < 0) handle(r);
 *     } */
#define CJ_JOURNAL_FOLLOW_POLL_MS 5
CJ_API int cj_journal_iter_wait(cj_journal_iter *it, int timeout_ms);

/* Follow mode without an iterator: block until the journal's last sequence
 * number is above `after`. Returns 1 with *last_out set to it (> after), 0
 * when timeout_ms passed first (*last_out: the last one known, <= after;
 * timeout_ms < 0: no bound), or an error reading the journal. It looks at
 * the journal first (so news from another process counts at once), then
 * waits exactly as cj_journal_iter_wait does, with the same wake-ups and
 * the same rules (any number of threads; every wait returned before
 * cj_store_close). For one thread that serves many followers (the HTTP
 * change feed: one wait per store, then each follower reads on its own),
 * where cj_journal_iter_wait would need a thread per follower.
 * docs/feed.md shows a consumer's whole loop and how it keeps its position
 * so that every event is handled exactly once. */
CJ_API int cj_journal_wait(uint64_t *last_out, cj_store *s, uint64_t after, int timeout_ms);

/* The sequence number of the event appended with this "id" (ids are kept
 * for ever, compaction included): 1 and *seq_out set, 0 when no event has
 * that id (*seq_out 0), or an error (CJ_EINVAL: NULL or empty id; CJ_EIO).
 * With cj_journal_get, an importer compares what it would append with what
 * is stored before appending (a different payload would be a conflict). */
CJ_API int cj_journal_find_id(uint64_t *seq_out, cj_store *s, const char *id);

/* Read one record by sequence number; *ev_out is a new event the caller frees.
 * Errors: CJ_ENOTFOUND, CJ_ECORRUPT. rec_out (may be NULL) gets the header
 * fields; its event pointer is set to *ev_out. */
CJ_API int cj_journal_get(cj_event **ev_out, cj_record *rec_out, cj_store *s, uint64_t seq);

typedef struct cj_journal_stats {
	uint64_t events;        /* records in the journal */
	uint64_t last_seq;
	uint64_t blobs;
	uint64_t blob_bytes;
	uint64_t idempotency_keys;
	uint64_t map_size;      /* current LMDB map size, bytes */
	uint64_t map_used;      /* bytes of the map in use (last page) */
	uint64_t map_ceiling;
	uint64_t file_size;     /* data.mdb size on disk */
	uint64_t commits;       /* group commits by this handle */
	uint64_t committed;     /* events committed by this handle */
	uint64_t map_growths;   /* map growths by this handle */
} cj_journal_stats;

CJ_API int cj_journal_stats_get(cj_journal_stats *out, cj_store *s);

/* Read every record and check its checksum and body, after the meta table
 * and the commit-time table (entries that cannot be: unknown sequence
 * numbers, times outside the journal's life). *checked gets the count,
 * *first_bad the first bad sequence number (0 if none). Returns 0 if all good,
 * CJ_ECORRUPT otherwise (message names the sequence number). */
CJ_API int cj_journal_check(uint64_t *checked, uint64_t *first_bad, cj_store *s);

/* verify's deeper checks (docs/reliability.md, P5; docs/operations.md,
 * "Damaged journal files").
 *
 * cj_journal_check_pages walks the LMDB pages of the journal file itself,
 * with pread and bounds of its own (nothing mapped): the free list, the main
 * database and every named database, from the newest meta page. It checks
 * page numbers, page types, node bounds, key order, overflow runs, the
 * databases' page and entry counts, and that every page is used exactly
 * once. *pages gets the pages accounted for; on damage it returns
 * CJ_ECORRUPT with the message naming the page and what is wrong, and
 * *bad_page that page (0 when the damage is not of one page). It holds one
 * read transaction for the walk (the snapshot stays pinned: the file may
 * grow meanwhile). Run it before anything else reads a journal that may be
 * damaged: LMDB itself follows page numbers without bounds (a damaged page
 * can crash or loop any reader), this walk cannot. */
CJ_API int cj_journal_check_pages(uint64_t *pages, uint64_t *bad_page, cj_store *s);

/* Every idempotency entry names a record that passes its checksum, carries
 * that id and has that fingerprint. *checked and *bad count entries;
 * CJ_ECORRUPT names the first bad one. */
CJ_API int cj_journal_check_ids(uint64_t *checked, uint64_t *bad, cj_store *s);

/* Blobs: bytes stored once, addressed by their XXH3-128 as 32 lowercase hex
 * characters. put is durable when it returns (group-committed like appends).
 * Errors: CJ_ETOOBIG (over max_blob), CJ_ENOSPC, CJ_EFULL; get: CJ_ENOTFOUND,
 * CJ_EINVAL (malformed hash), CJ_ECORRUPT (bytes do not match their hash). */
#define CJ_BLOB_HASH_LEN 32
CJ_API int cj_blob_put(char hash_out[CJ_BLOB_HASH_LEN + 1], cj_store *s, const void *data,
                       size_t len);
CJ_API int cj_blob_get(void **data_out, size_t *len_out, cj_store *s, const char *hash);
CJ_API int cj_blob_exists(cj_store *s, const char *hash);  /* 1, 0, or error */

/* verify's check of every blob's bytes against its hash (its key), in short
 * read transactions. *checked counts blobs; on a mismatch CJ_ECORRUPT, and
 * first_bad gets the first bad blob's hash ("" when all match). */
CJ_API int cj_blob_check(uint64_t *checked, char first_bad[CJ_BLOB_HASH_LEN + 1], cj_store *s);

/* Mime type sniffed from the first bytes: image/png, image/jpeg, image/gif,
 * image/webp, application/pdf, else application/octet-stream. */
CJ_API const char *cj_blob_mime_type(const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
