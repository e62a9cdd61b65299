/* journal/journal_internal.h — the journal layer's own API: one cji_journal
 * (the LMDB environment, limits, and the group-commit queue served by one
 * writer thread) and every operation on it. Nothing in journal/ knows the
 * store: api/ owns a cji_journal inside each cj_store and wraps these calls
 * in the public cj_journal_* / cj_blob_* functions (api/journal.c).
 * Conventions as in the public API: out-parameters first, 0 or CJ_E*. */
#ifndef CJ_JOURNAL_INTERNAL_H
#define CJ_JOURNAL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include "chatjournal/journal.h"
#include "chatjournal/query.h"
#include "journal/env.h"

/* Threads waiting for commits past a sequence number (follow.c): woken by
 * this process's writer at once, and by a poll of the last sequence number
 * (one waiter polls on behalf of all) for other processes' commits. */
typedef struct cji_follow {
	pthread_mutex_t mu;
	pthread_cond_t cond;      /* CLOCK_MONOTONIC */
	uint64_t last;            /* highest sequence number known durable */
	unsigned waiters;         /* threads inside cji_journal_wait_past */
	int polling;              /* one of them polls the journal */
	uint64_t polls;           /* reads of the last sequence number made for waiters */
} cji_follow;

typedef struct cji_journal {
	cji_env env;
	cj_limits limits;
	size_t max_blob;
	unsigned max_batch;       /* events per group commit */
	unsigned max_queue;       /* events waiting before CJ_EBUSY */

	pthread_mutex_t mu;       /* guards the queue and every ticket's done flag */
	pthread_cond_t work;
	struct cj_ticket *head, *tail;
	size_t queued;
	int stopping;
	int writer_running;
	int committing;           /* a commit is under way: the writer's, or a lone synchronous caller's */
	size_t last_batch;        /* events in the last commit */
	pthread_t writer;

	_Atomic uint64_t commits, committed;
	void (*on_commit)(void *arg);  /* called after each durable commit, on the committing thread */
	void *on_commit_arg;

	cji_follow follow;        /* waiters for new commits (follow.c) */
} cji_journal;

/* Defaults of a journal's bounds (chatjournal.conf's "journal" section and
 * max_blob); the map sizes are journal/env.h's. */
#define CJI_DEFAULT_MAX_BATCH 8192u     /* events per group commit */
#define CJI_DEFAULT_MAX_QUEUE 262144u   /* events waiting for commit */
#define CJI_DEFAULT_MAX_BLOB  ((size_t)32 << 20)

typedef struct cji_journal_config {
	uint64_t map_initial, map_ceiling;  /* 0: the defaults in journal/env.h */
	cj_limits limits;
	size_t max_blob;
	unsigned max_batch, max_queue;      /* 0: the defaults above */
	int read_only;
	void (*on_commit)(void *arg);
	void *on_commit_arg;
	void (*on_swap)(void *arg);      /* this process followed a compaction's swap */
	void *on_swap_arg;
} cji_journal_config;

/* ---- lifecycle (append.c) ---- */

/* Open the journal in dir (create: make it) and start the writer thread
 * unless cfg->read_only. */
int cji_journal_open(cji_journal *j, const char *dir, const cji_journal_config *cfg, int create);
/* Drain every submitted append and stop the writer (the environment stays
 * open for readers). */
void cji_journal_stop(cji_journal *j);
/* Stop if needed, then close the environment. */
void cji_journal_close(cji_journal *j);

/* ---- appends (append.c): see the public journal.h for the contract ---- */

int cji_journal_submit(cj_ticket **out, cji_journal *j, const cj_event *const *evs, size_t n);
int cji_journal_submit_notify(cj_ticket **out, cji_journal *j, const cj_event *const *evs,
                              size_t n, void (*fn)(void *arg), void *arg);
int cji_ticket_wait(uint64_t *seqs_out, cj_ticket *t);
int cji_ticket_done(const cj_ticket *t);
void cji_ticket_free(cj_ticket *t);
int cji_journal_append_batch(uint64_t *seqs_out, cji_journal *j, const cj_event *const *evs,
                             size_t n);
int cji_blob_put(char hash_out[CJ_BLOB_HASH_LEN + 1], cji_journal *j, const void *data, size_t len);

/* Per-event outcome of an append, once its ticket is done. */
enum { CJI_APPEND_NEW = 0, CJI_APPEND_DUPLICATE = 1, CJI_APPEND_DUP_REDACTED = 2 };
/* status_out gets one CJI_APPEND_* per event of a successful, done ticket. */
int cji_ticket_status(uint8_t *status_out, const cj_ticket *t);
size_t cji_ticket_count(const cj_ticket *t);

/* ---- compaction's writes, committed by the writer between appends ----
 * (append.c queues them; redact.c does them inside the writer's transaction) */

typedef struct cji_writer_result {
	uint64_t records;        /* records replaced by their tombstones */
	uint64_t bytes_before;   /* their size before, and after */
	uint64_t bytes_after;
	uint64_t blobs;          /* blobs deleted, and their bytes */
	uint64_t blob_bytes;
} cji_writer_result;

/* A job the writer thread runs inside its transaction, between appends:
 * run returns LMDB codes only. The job and its arrays are the submitter's,
 * who waits (compaction's redaction and blob deletion, redact.c). */
typedef struct cji_writer_job {
	int (*run)(cji_journal *j, MDB_txn *txn, const struct cji_writer_job *job);
	size_t n;               /* records (or keys) the job writes: the queue counts them */
	const uint64_t *seqs;
	const uint8_t *data;
	const uint32_t *lens;
	uint64_t after;
	cji_writer_result *res;
} cji_writer_job;
/* Queue job through the writer (append.c), so that it commits between
 * appends like any batch, and wait for its outcome. */
int cji_writer_run(cji_journal *j, const cji_writer_job *job);

/* Replace the records at seqs[0..n) by recs (framed tombstones back to back,
 * lens[i] bytes each). A record already redacted or missing is left alone. */
int cji_journal_redact_put(cji_writer_result *res, cji_journal *j, size_t n, const uint64_t *seqs,
                           const uint8_t *recs, const uint32_t *lens);
/* Delete the n blobs whose 16-byte keys are back to back in keys, except
 * those an event after sequence `after` names (found inside the commit). */
int cji_journal_blob_del(cji_writer_result *res, cji_journal *j, size_t n, const uint8_t *keys,
                         uint64_t after);

/* ---- compaction (redact.c, swap.c) ---- */

/* One record as the compaction's scan sees it (header only; settings are
 * decoded to learn whether they are sensitive). */
typedef struct cji_scan_rec {
	uint64_t seq;
	uint8_t type;
	uint16_t flags;
	uint32_t len;            /* header + body */
	int sensitive;           /* a setting with "sensitive": true */
	int damaged;             /* checksum or body unreadable: never redacted */
} cji_scan_rec;
/* Call fn for every record from..to (to 0: the end) in order, in short read
 * transactions; fn returns 0 to go on, non-zero to stop (returned). Every
 * page of the file is walked first: CJ_ECORRUPT naming a damaged page
 * before any record is read. */
int cji_journal_scan(cji_journal *j, uint64_t from, uint64_t to,
                     int (*fn)(void *arg, const cji_scan_rec *r), void *arg);

/* Redact the records at seqs[0..n) (messages, images, sensitive settings;
 * others are skipped): tombstones are built from the stored records and
 * committed through the writer. *out accumulates. */
int cji_journal_redact(cji_writer_result *out, cji_journal *j, const uint64_t *seqs, size_t n);
/* The same for messages that were edited and are still live: only their
 * superseded content goes ("" if they had any; flags REDACTED|PARTIAL). */
int cji_journal_redact_superseded(cji_writer_result *out, cji_journal *j, const uint64_t *seqs,
                                  size_t n);

/* The blob keys (16 bytes each, back to back, malloc'd) that the image and
 * message records at seqs name (blob, thumbnail, attachments[].blob),
 * tombstones included. */
int cji_journal_blob_refs(uint8_t **keys_out, size_t *n_out, cji_journal *j, const uint64_t *seqs,
                          size_t n);

/* Blobs in the journal, in key order: fn(arg, hex hash, size); non-zero stops. */
int cji_journal_blobs(cji_journal *j, int (*fn)(void *arg, const char *hash, uint64_t size),
                      void *arg);

typedef struct cji_swap_report {
	uint64_t size_before, size_after;   /* data.mdb on disk */
	uint64_t pause_ns;                  /* how long appends waited (writer lock held) */
} cji_swap_report;
/* The compacting copy and the swap (docs/format.md, "Compaction and the
 * swap"): under LMDB's writer lock, copy with MDB_CP_COMPACT into
 * DIR.compact/data.mdb (0600, fsync'd), exchange the folders atomically,
 * fsync the store's folder, release the lock, reopen, remove the old folder. */
int cji_journal_swap(cji_swap_report *out, cji_journal *j);
/* Remove a DIR.compact folder left by an interrupted compaction. */
int cji_journal_swap_cleanup(cji_journal *j);

/* ---- targets (target.c) ---- */

/* evs[i], if it is an edit_message, delete_message or reaction, must target
 * a message of its thread: earlier in evs, or stored. 0, or CJ_EINVAL naming
 * "target" (no such id, not a message, another thread), or a read error. */
int cji_check_target(cji_journal *j, const cj_event *const *evs, size_t i);
/* The sequence number of the event appended with id: 1 and *seq, 0 if no
 * event has that id, or an error. Ids are never removed, so the answer for
 * a stored event never changes (the materializer finds targets this way). */
int cji_journal_id_seq(uint64_t *seq, cji_journal *j, const char *id);

/* ---- reading (iter.c) ---- */

int cji_journal_last_seq(uint64_t *out, cji_journal *j);
int cji_journal_get(cj_event **ev_out, cj_record *rec_out, cji_journal *j, uint64_t seq);
int cji_journal_iter_new(cj_journal_iter **out, cji_journal *j, uint64_t from_seq);
int cji_journal_iter_next(cj_record *rec, cj_journal_iter *it);
/* cji_journal_iter_next in two steps, for a reader that takes plain
 * messages apart itself (materializer/batch.c, event_fields.c): _next_body
 * fills rec but not rec->event and points *body at the record's msgpack
 * body (rec->body_len bytes, valid until the next call); _decode then
 * decodes it into rec->event, when wanted. Return values and errors as
 * cji_journal_iter_next's, the decode's in the second step. */
int cji_journal_iter_next_body(cj_record *rec, const uint8_t **body, cj_journal_iter *it);
int cji_journal_iter_decode(cj_record *rec, cj_journal_iter *it, const uint8_t *body);
void cji_journal_iter_free(cj_journal_iter *it);

/* ---- following (follow.c) ---- */

/* How often a waiting thread looks at the journal for other processes'
 * commits (this process's own commits wake waiters at once). */
#define CJI_FOLLOW_POLL_MS CJ_JOURNAL_FOLLOW_POLL_MS

void cji_follow_init(cji_follow *f);
void cji_follow_destroy(cji_follow *f);
/* The writer committed records up to seq (wakes waiters). */
void cji_follow_committed(cji_journal *j, uint64_t seq);
/* Block until a record with a sequence number above seq is durable: 1; 0
 * when timeout_ms passed first (timeout_ms < 0: no bound); or an error
 * reading the journal. */
int cji_journal_wait_past(cji_journal *j, uint64_t seq, int timeout_ms);
/* The public cj_journal_wait (journal.h): the journal's last sequence
 * number read first, then cji_journal_wait_past if it is not past after. */
int cji_journal_wait_after(uint64_t *last_out, cji_journal *j, uint64_t after, int timeout_ms);
/* Iterator side: 1 if cji_journal_iter_next has a record to return now (or
 * an error about one), 0 if the iterator is at the end of the journal. */
int cji_journal_iter_ready(cj_journal_iter *it);
/* The public cj_journal_iter_wait (journal.h). */
int cji_journal_iter_wait(cj_journal_iter *it, int timeout_ms);
/* The sequence number below which the iterator has read everything. */
uint64_t cji_journal_iter_next_seq(const cj_journal_iter *it);
cji_journal *cji_journal_iter_journal(const cj_journal_iter *it);

/* ---- blobs (blob.c) ---- */

int cji_blob_get(void **data_out, size_t *len_out, cji_journal *j, const char *hash);
/* 1, 0, or an error (CJ_EINVAL for a malformed hash). */
int cji_blob_exists(cji_journal *j, const char *hash);
/* Metadata for the projection: size and a mime type sniffed from the first
 * bytes (the bytes never leave the journal). CJ_ENOTFOUND / CJ_EINVAL. */
int cji_blob_info(uint64_t *size, const char **mime, cji_journal *j, const char *hash);
const char *cji_blob_mime_type(const void *data, size_t len);

/* ---- statistics and verification (meta.c, check.c) ---- */

int cji_journal_stats(cj_journal_stats *out, cji_journal *j);
int cji_journal_check(uint64_t *checked, uint64_t *first_bad, cji_journal *j);

/* ---- verify's deeper checks (pages.c, check_ids.c, check_blobs.c) ---- */

/* The commits table's entries are possible: sequence numbers the journal
 * holds, in order; times within the journal's life
 * (check_commits.c). Part of cji_journal_check. */
int cji_journal_check_commits(uint64_t *checked, cji_journal *j);
int cji_journal_check_pages(uint64_t *pages, uint64_t *bad_page, cji_journal *j);
int cji_journal_check_ids(uint64_t *checked, uint64_t *bad, cji_journal *j);
int cji_blob_check(uint64_t *checked, char first_bad[CJ_BLOB_HASH_LEN + 1], cji_journal *j);

/* What the journal's meta table says (meta.c). */
typedef struct cji_journal_meta {
	uint32_t format_version;
	int64_t created_ms;       /* 0 if not recorded */
	uint64_t commits_from;    /* first sequence number whose group commit has its time in
	                             the commits table; 0: unknown, or no commits table */
} cji_journal_meta;
int cji_journal_meta_get(cji_journal_meta *out, cji_journal *j);

/* ---- backups: copy, commit times, cut (copy.c, commits.c, cut.c) ---- */

/* Write a compacted copy of the journal (data.mdb of a new environment) to
 * fd (opened read-write, empty) and fsync it; hex_out gets the XXH3-128 of
 * the file (32 hex digits, the blob hash notation), *size_out its size.
 * One LMDB read transaction: writers go on, but this process's map growth
 * waits for the whole copy (cji_env_copy_fd), so a map more than three
 * quarters full is grown once first. LMDB writes into a pipe that this
 * thread drains into fd, writing the file back as it grows (flush-behind,
 * common/fsutil.h): the copy never runs far ahead of the disk. progress
 * (may be NULL) is called on the calling thread now and then with (bytes
 * written, bytes in use in the map). */
int cji_journal_copy(char hex_out[33], uint64_t *size_out, cji_journal *j, int fd,
                     cj_progress_fn progress, void *arg);

/* The commits table in key order. *out is malloc'd (NULL when empty). A
 * journal without the table (format 1 opened read-only) gives 0 entries. */
typedef struct cji_commit {
	uint64_t last_seq;        /* last sequence number of a group commit */
	int64_t ms;               /* its commit time */
} cji_commit;
int cji_commits_list(cji_commit **out, size_t *n, cji_journal *j);

/* Where a point-in-time restore to until_ms cuts: the longest prefix of
 * group commits whose times are all <= until_ms (with a wall clock that
 * never steps back: the last commit at or before until_ms). *cut_out is
 * its last sequence number, *commit_ms_out that commit's time. CJ_EINVAL
 * (message says what to do) when the journal records no commit time, or
 * until_ms is before the first recorded commit. */
int cji_commits_cut(uint64_t *cut_out, int64_t *commit_ms_out, cji_journal *j, int64_t until_ms);

/* Make a new journal in dst_dir (an existing empty folder) holding src's
 * records 1..cut byte for byte (flags such as REDACTED kept), the
 * idempotency entries of those records, the blobs their image events name,
 * the commit times up to cut (a group commit that cut splits keeps its time
 * for its first part, when its start is known) and src's creation time.
 * Written in chunks, each one durable commit; on failure dst_dir may hold a
 * partial journal (the caller removes it). progress: (records, cut).
 * Errors: CJ_ECORRUPT (the journal ends before cut; an image names a blob
 * src does not hold), CJ_ENOSPC, CJ_EIO. */
int cji_journal_cut(const char *dst_dir, cji_journal *src, uint64_t cut, cj_progress_fn progress,
                    void *arg);

#endif
