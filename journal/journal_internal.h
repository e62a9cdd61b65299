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
#include "journal/env.h"

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
	pthread_t writer;

	_Atomic uint64_t commits, committed;
	void (*on_commit)(void *arg);  /* called by the writer after each durable commit */
	void *on_commit_arg;
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
int cji_ticket_wait(uint64_t *seqs_out, cj_ticket *t);
int cji_ticket_done(const cj_ticket *t);
void cji_ticket_free(cj_ticket *t);
int cji_journal_append_batch(uint64_t *seqs_out, cji_journal *j, const cj_event *const *evs,
                             size_t n);
int cji_blob_put(char hash_out[CJ_BLOB_HASH_LEN + 1], cji_journal *j, const void *data, size_t len);

/* ---- reading (iter.c) ---- */

int cji_journal_last_seq(uint64_t *out, cji_journal *j);
int cji_journal_get(cj_event **ev_out, cj_record *rec_out, cji_journal *j, uint64_t seq);
int cji_journal_iter_new(cj_journal_iter **out, cji_journal *j, uint64_t from_seq);
int cji_journal_iter_next(cj_record *rec, cj_journal_iter *it);
void cji_journal_iter_free(cj_journal_iter *it);

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

int cji_journal_check_pages(uint64_t *pages, uint64_t *bad_page, cji_journal *j);
int cji_journal_check_ids(uint64_t *checked, uint64_t *bad, cji_journal *j);
int cji_blob_check(uint64_t *checked, char first_bad[CJ_BLOB_HASH_LEN + 1], cji_journal *j);

#endif
