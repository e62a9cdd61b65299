/* journal/append.c — durable appends by group commit.
 *
 * Callers validate, encode, checksum and frame their events in their own
 * thread (the CPU work), then queue a ticket. One writer thread takes every
 * ticket waiting at that moment (up to max_batch events), writes them in ONE
 * LMDB transaction with ONE fsync, and only then marks each ticket done: a
 * sequence number is never handed out before it is durable.
 *
 * A ticket is all-or-nothing: a multi-event ticket runs in a nested
 * transaction so that an idempotency conflict in its k-th event undoes its
 * first k-1. MDB_MAP_FULL (from put or commit) aborts the whole transaction,
 * grows the map with no transaction open, and retries; at the ceiling every
 * ticket of the batch fails with CJ_EFULL. A failed commit (ENOSPC, EIO)
 * fails every ticket of the batch: nothing of it was acknowledged. */
#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/event_internal.h"
#include "journal/keys.h"
#include "journal/record.h"
#include "common/err.h"
#include "common/timeutil.h"

enum { REQ_EVENTS = 1, REQ_BLOB = 2, REQ_JOB = 3 };

typedef struct req_idem {
	uint32_t off;          /* id bytes in ticket->ids */
	uint16_t len;          /* 0: the event has no id */
	uint8_t fp[16];        /* XXH3-128 of the body */
	uint8_t nblobs;        /* images: blobs the event names, re-checked in the commit */
	uint8_t blob_field[2]; /* 0: "blob", 1: "thumbnail" */
	uint8_t blobs[2][CJI_BLOB_KEY_LEN];
} req_idem;

struct cj_ticket {
	struct cj_ticket *next;
	cji_journal *j;
	int kind;
	size_t n;
	cji_buf recs;          /* framed records, back to back */
	cji_buf ids;           /* id bytes of events that have one */
	uint32_t *lens;
	req_idem *idem;
	uint64_t *seqs;
	uint8_t *status;       /* CJI_APPEND_* per event, once done */
	int has_ids;
	/* REQ_JOB: what the writer runs inside its transaction (the
	 * submitter's, who waits) */
	const cji_writer_job *job;
	/* blob */
	uint8_t blob_key[CJI_BLOB_KEY_LEN];
	const void *blob_data; /* the caller's bytes: it waits, so no copy */
	size_t blob_len;
	void (*notify)(void *arg);  /* called once the outcome is known */
	void *notify_arg;
	/* outcome, guarded by j->mu; `done` is also read without it: set last
	 * (release) after the outcome, so a reader that sees it set (acquire)
	 * sees the outcome and needs no lock (bench http: the event loop asks
	 * each decided ticket while the writer holds the lock) */
	_Atomic int done;
	int notifying;         /* notify is running: the ticket must not be freed */
	int rc;
	int rc_attempt;        /* per-attempt outcome inside the writer */
	cji_error_snapshot err;
	pthread_cond_t cond;
};

/* ---- caller side: prepare ---------------------------------------------- */

/* One allocation per ticket: the struct, then its n sequence numbers,
 * idempotency entries, lengths and statuses (an asynchronous append of one
 * event paid five allocations and their frees before, ~1.9k instructions
 * of malloc and free per event in async_4x256_j, callgrind). */
_Static_assert(_Alignof(req_idem) <= 8 && sizeof(req_idem) % _Alignof(uint32_t) == 0,
               "ticket_new lays the arrays out back to back");
static cj_ticket *ticket_new(cji_journal *j, int kind, size_t n)
{
	size_t per = sizeof(uint64_t) + sizeof(req_idem) + sizeof(uint32_t) + 1;
	size_t head = (sizeof(cj_ticket) + 15) & ~(size_t)15;
	if (n > (SIZE_MAX - head) / per)
		return NULL;
	cj_ticket *t = malloc(head + n * per);
	if (!t)
		return NULL;
	memset(t, 0, sizeof *t);
	t->j = j;
	t->kind = kind;
	t->n = n;
	if (n) {
		uint8_t *p = (uint8_t *)t + head;
		t->seqs = (uint64_t *)(void *)p;
		t->idem = (req_idem *)(void *)(p + n * sizeof(uint64_t));
		t->lens = (uint32_t *)(void *)(p + n * (sizeof(uint64_t) + sizeof(req_idem)));
		t->status = p + n * (sizeof(uint64_t) + sizeof(req_idem) + sizeof(uint32_t));
		memset(t->status, 0, n);
	}
	pthread_cond_init(&t->cond, NULL);
	return t;
}

/* The arrays live in the ticket's block (or are a writer job's caller's). */
static void ticket_destroy(cj_ticket *t)
{
	cji_buf_free(&t->recs);
	cji_buf_free(&t->ids);
	pthread_cond_destroy(&t->cond);
	free(t);
}

/* Prefix the current error with the event index, for batches. */
static int err_at_index(int rc, size_t i, size_t n)
{
	if (n <= 1)
		return rc;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", cj_error_last());
	const char *field = cj_error_field();
	char fld[64];
	if (field) {
		snprintf(fld, sizeof fld, "%s", field);
		return cji_err_field(rc, fld, "event %zu: %s", i, msg);
	}
	return cji_err(rc, "event %zu: %s", i, msg);
}

static const char *const BLOB_FIELDS[] = { "blob", "thumbnail" };

/* An image may only name blobs already stored: the projection records their
 * size and type, and a replay must see the same. Checked here for a clear
 * early error, and again inside the commit (a compaction may delete a blob
 * between the two: put_ticket). */
/* A message's attachments name stored blobs too; checked here only (up to
 * 256 of them; docs/format.md, "Blobs"). */
static int check_attachment_blobs(cji_journal *j, const cj_event *ev)
{
	const json_t *att = json_object_get(ev->obj, "attachments");
	size_t i;
	const json_t *e;
	json_array_foreach(att, i, e) {
		const char *h = json_string_value(json_object_get(e, "blob"));
		if (!h)
			continue;
		int rc = cji_blob_exists(j, h);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			char field[48];
			snprintf(field, sizeof field, "attachments[%zu].blob", i);
			return cji_err_field(CJ_EINVAL, field, "field '%s': no blob %s in this store; "
			                     "store the bytes first", field, h);
		}
	}
	return 0;
}

static int check_blobs(cji_journal *j, const cj_event *ev, req_idem *id)
{
	id->nblobs = 0;
	if (ev->type == CJ_EVENT_MESSAGE)
		return cji_event_has_lists(ev) ? check_attachment_blobs(j, ev) : 0;
	if (ev->type != CJ_EVENT_IMAGE)
		return 0;
	for (int f = 0; f < 2; f++) {
		const char *h = cj_event_get_string(ev, BLOB_FIELDS[f]);
		if (!h)
			continue;
		if (cji_blob_key_parse(h, id->blobs[id->nblobs]) == 0)
			id->blob_field[id->nblobs++] = (uint8_t)f;
		int rc = cji_blob_exists(j, h);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return cji_err_field(CJ_EINVAL, BLOB_FIELDS[f],
			                     "field '%s': no blob %s in this store; store the bytes first",
			                     BLOB_FIELDS[f], h);
	}
	return 0;
}

static int prepare_one(cj_ticket *t, size_t i, const cj_event *ev, int64_t now)
{
	cji_journal *j = t->j;
	int rc = cji_event_validate_once(ev, &j->limits);
	if (rc || (rc = check_blobs(j, ev, &t->idem[i])))
		return rc;
	size_t hdr_off = t->recs.len;
	if ((rc = cji_buf_reserve(&t->recs, CJI_RECORD_HDR_LEN)))
		return cji_err(rc, "out of memory encoding an event");
	t->recs.len += CJI_RECORD_HDR_LEN;
	int64_t ts = 0;
	int has_ts = 0;
	if ((rc = cji_event_encode(ev, &t->recs, &ts, &has_ts)))
		return rc;
	size_t body_len = t->recs.len - hdr_off - CJI_RECORD_HDR_LEN; /* <= max_event: validated */
	const uint8_t *body = t->recs.data + hdr_off + CJI_RECORD_HDR_LEN;
	cji_record_frame(t->recs.data + hdr_off, (uint8_t)ev->type, 0, has_ts ? ts : now,
	                 body, (uint32_t)body_len);
	t->lens[i] = (uint32_t)(body_len + CJI_RECORD_HDR_LEN);
	req_idem *id = &t->idem[i];
	id->len = 0;
	const char *idstr = cji_event_id(ev);
	if (idstr) {
		size_t len = strlen(idstr);
		if (len == 0 || len > CJI_ID_MAX)
			return cji_err_field(CJ_EINVAL, "id", "field 'id': must be 1..%d bytes", CJI_ID_MAX);
		id->off = (uint32_t)t->ids.len;
		id->len = (uint16_t)len;
		if ((rc = cji_buf_append(&t->ids, idstr, len)))
			return cji_err(rc, "out of memory");
		cji_idem_fingerprint(id->fp, body, body_len);
		t->has_ids = 1;
	}
	return 0;
}

/* Refuse under j->mu held (stopping, read-only, queue full): 0 or the error,
 * with the lock released on error. */
static int admit(cji_journal *j, size_t n)
{
	if (j->stopping || !j->writer_running) {
		pthread_mutex_unlock(&j->mu);
		if (j->env.read_only)
			return cji_err(CJ_EPERM, "store opened read-only: appends are refused");
		return cji_err(CJ_ECLOSED, "store is closing: append refused, nothing stored");
	}
	if (j->queued > 0 && j->queued + n > j->max_queue) {
		size_t q = j->queued;
		pthread_mutex_unlock(&j->mu);
		return cji_err(CJ_EBUSY, "append queue full (%zu events waiting): nothing stored, retry", q);
	}
	return 0;
}

/* Queue t for the writer thread; called with j->mu held, released. */
static void queue_locked(cji_journal *j, cj_ticket *t)
{
	if (j->tail)
		j->tail->next = t;
	else
		j->head = t;
	j->tail = t;
	j->queued += t->n ? t->n : 1;
	pthread_cond_signal(&j->work);
	pthread_mutex_unlock(&j->mu);
}

/* Queue t; CJ_EBUSY if the queue is over its bound, CJ_ECLOSED if closing. */
static int enqueue(cji_journal *j, cj_ticket *t)
{
	pthread_mutex_lock(&j->mu);
	int rc = admit(j, t->n);
	if (rc)
		return rc;
	queue_locked(j, t);
	return 0;
}

static void commit_batch(cji_journal *j, cj_ticket *batch);

/* A synchronous append commits on the caller's own thread when nothing is
 * queued, no commit is under way and the last commit held one event: a lone
 * writer then skips the hand-off to the writer thread and back (two thread
 * wake-ups per append). Otherwise it queues like any other ticket and joins
 * the next group commit, whose gather window (below) keeps many writers in
 * large batches. One commit at a time either way: `committing` is the role,
 * held under j->mu by whoever runs commit_batch (docs/architecture.md, "The
 * hot path"). */
static int commit_or_enqueue(cji_journal *j, cj_ticket *t)
{
	pthread_mutex_lock(&j->mu);
	int rc = admit(j, t->n);
	if (rc)
		return rc;
	if (j->head || j->committing || j->last_batch > 1) {
		queue_locked(j, t);
		return 0;
	}
	j->committing = 1;
	j->last_batch = t->n;
	pthread_mutex_unlock(&j->mu);
	commit_batch(j, t);
	pthread_mutex_lock(&j->mu);
	j->committing = 0;
	if (j->head || j->stopping)
		pthread_cond_signal(&j->work);
	pthread_mutex_unlock(&j->mu);
	return 0;
}

int cji_journal_submit(cj_ticket **out, cji_journal *j, const cj_event *const *evs, size_t n)
{
	return cji_journal_submit_notify(out, j, evs, n, NULL, NULL);
}

/* A batch's records are reserved at once from the first one's size (with an
 * eighth more), instead of the buffer doubling its way up (~300
 * instructions an event at 1000 per batch, callgrind); only up to this
 * size: a huge first event says little about the rest. */
#define TICKET_RESERVE_MAX ((size_t)16 << 20)
/* Room for a usual record (~350 bytes framed) before the first is encoded. */
#define TICKET_FIRST_RESERVE 512

/* A ticket for evs, each validated and encoded; not yet queued. */
static int make_ticket(cj_ticket **out, cji_journal *j, const cj_event *const *evs, size_t n,
                       void (*fn)(void *arg), void *arg)
{
	*out = NULL;
	if (!evs && n)
		return cji_err(CJ_EINVAL, "append: no events");
	if (n == 0)
		return cji_err(CJ_EINVAL, "append: empty batch");
	if (n > j->max_queue)
		return cji_err(CJ_ETOOBIG, "batch of %zu events is over the limit of %u", n, j->max_queue);
	cj_ticket *t = ticket_new(j, REQ_EVENTS, n);
	if (!t || cji_buf_reserve(&t->recs, TICKET_FIRST_RESERVE)) {
		if (t)
			ticket_destroy(t);
		return cji_err(CJ_ENOMEM, "out of memory");
	}
	t->notify = fn;
	t->notify_arg = arg;
	int64_t now = cji_now_ms();
	for (size_t i = 0; i < n; i++) {
		int rc;
		if (!evs[i])
			rc = cji_err(CJ_EINVAL, "event %zu is NULL", i);
		else if ((rc = prepare_one(t, i, evs[i], now)) || (rc = cji_check_target(j, evs, i)))
			rc = err_at_index(rc, i, n);
		else if (i == 0 && n > 1 && t->recs.len <= TICKET_RESERVE_MAX / n &&
		         cji_buf_reserve(&t->recs, t->recs.len * n + t->recs.len * n / 8))
			rc = cji_err(CJ_ENOMEM, "out of memory");
		if (rc) {
			ticket_destroy(t);
			return rc;
		}
	}
	*out = t;
	return 0;
}

/* make_ticket, then put: enqueue, or commit_or_enqueue for a caller that
 * waits at once. */
static int submit_via(cj_ticket **out, cji_journal *j, const cj_event *const *evs, size_t n,
                      void (*fn)(void *arg), void *arg, int (*put)(cji_journal *, cj_ticket *))
{
	*out = NULL;
	cj_ticket *t;
	int rc = make_ticket(&t, j, evs, n, fn, arg);
	if (rc)
		return rc;
	if ((rc = put(j, t))) {
		ticket_destroy(t);
		return rc;
	}
	*out = t;
	return 0;
}

int cji_journal_submit_notify(cj_ticket **out, cji_journal *j, const cj_event *const *evs,
                              size_t n, void (*fn)(void *arg), void *arg)
{
	return submit_via(out, j, evs, n, fn, arg, enqueue);
}

int cji_ticket_done(const cj_ticket *t)
{
	if (!t)
		return 1;
	return atomic_load_explicit(&t->done, memory_order_acquire);
}

int cji_ticket_wait(uint64_t *seqs_out, cj_ticket *t)
{
	if (!t)
		return cji_err(CJ_EINVAL, "no ticket");
	cji_journal *j = t->j;
	if (!atomic_load_explicit(&t->done, memory_order_acquire)) {
		pthread_mutex_lock(&j->mu);
		while (!t->done)
			pthread_cond_wait(&t->cond, &j->mu);
		pthread_mutex_unlock(&j->mu);
	}
	if (t->rc)
		return cji_err_restore(&t->err);
	if (seqs_out && t->n && t->kind == REQ_EVENTS)
		memcpy(seqs_out, t->seqs, t->n * sizeof *seqs_out);
	return 0;
}

int cji_ticket_status(uint8_t *status_out, const cj_ticket *t)
{
	if (!t || t->kind != REQ_EVENTS)
		return cji_err(CJ_EINVAL, "append status: not an append ticket");
	if (!atomic_load_explicit(&t->done, memory_order_acquire))
		return cji_err(CJ_EBUSY, "append status: the ticket is not decided yet (wait first)");
	if (t->rc)
		return cji_err(CJ_EINVAL, "append status: the append failed");
	memcpy(status_out, t->status, t->n);
	return 0;
}

size_t cji_ticket_count(const cj_ticket *t) { return t ? t->n : 0; }

void cji_ticket_free(cj_ticket *t)
{
	if (!t)
		return;
	cji_journal *j = t->j;
	pthread_mutex_lock(&j->mu);
	while (!t->done || t->notifying)
		pthread_cond_wait(&t->cond, &j->mu);
	pthread_mutex_unlock(&j->mu);
	ticket_destroy(t);
}

int cji_journal_append_batch(uint64_t *seqs_out, cji_journal *j, const cj_event *const *evs,
                             size_t n)
{
	cj_ticket *t;
	int rc = submit_via(&t, j, evs, n, NULL, NULL, commit_or_enqueue);
	if (rc)
		return rc;
	rc = cji_ticket_wait(seqs_out, t);
	cji_ticket_free(t);
	return rc;
}

int cji_blob_put(char hash_out[CJ_BLOB_HASH_LEN + 1], cji_journal *j, const void *data, size_t len)
{
	if (!data && len)
		return cji_err(CJ_EINVAL, "blob put: no data");
	if (len > j->max_blob)
		return cji_err(CJ_ETOOBIG, "blob of %zu bytes is over the limit of %zu", len, j->max_blob);
	cj_ticket *t = ticket_new(j, REQ_BLOB, 0);
	if (!t)
		return cji_err(CJ_ENOMEM, "out of memory");
	cji_blob_key(t->blob_key, data, len);
	t->blob_data = data ? data : "";
	t->blob_len = len;
	int rc = enqueue(j, t);
	if (rc) {
		ticket_destroy(t);
		return rc;
	}
	rc = cji_ticket_wait(NULL, t);
	if (rc == 0 && hash_out)
		cji_blob_hex(t->blob_key, hash_out);
	cji_ticket_free(t);
	return rc;
}

/* Queue job through the writer, so that it commits between appends like
 * any batch, and wait. The job and its arrays are the caller's: it waits,
 * so nothing is copied. */
int cji_writer_run(cji_journal *j, const cji_writer_job *job)
{
	cj_ticket *t = ticket_new(j, REQ_JOB, 0);
	if (!t)
		return cji_err(CJ_ENOMEM, "out of memory");
	t->job = job;
	t->n = job->n; /* counted as n events by the queue's bound and the batching */
	int rc = enqueue(j, t);
	if (rc == 0) {
		rc = cji_ticket_wait(NULL, t);
		pthread_mutex_lock(&j->mu);
		while (!t->done || t->notifying)
			pthread_cond_wait(&t->cond, &j->mu);
		pthread_mutex_unlock(&j->mu);
	}
	ticket_destroy(t);
	return rc;
}

/* ---- writer side: commit ---------------------------------------------- */

static int last_seq_in(cji_journal *j, MDB_txn *txn, uint64_t *last)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(txn, j->env.events, &c);
	if (rc)
		return rc;
	MDB_val k, v;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND) {
		*last = 0;
		return 0;
	}
	if (rc)
		return rc;
	*last = cji_key_seq_get(&k);
	return 0;
}

/* Idempotency check for event i: 0 = new, 1 = repeat (seq set), or a CJ error
 * (conflict). mdb errors come back through *mrc. */
static int idem_check(cji_journal *j, MDB_txn *txn, cj_ticket *t, size_t i, int *mrc)
{
	req_idem *id = &t->idem[i];
	MDB_val k = { id->len, t->ids.data + id->off }, v;
	int rc = mdb_get(txn, j->env.idem, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc) {
		*mrc = rc;
		return 0;
	}
	uint64_t seq;
	uint8_t fp[16];
	if (cji_idem_val_get(&v, &seq, fp) != 0)
		return cji_err(CJ_ECORRUPT, "idempotency entry for id '%.*s' is malformed", (int)id->len,
		               (const char *)t->ids.data + id->off);
	if (memcmp(fp, id->fp, 16) != 0)
	{
		char where[32] = "";
		if (t->n > 1)
			snprintf(where, sizeof where, "event %zu: ", i);
		return cji_err_field(CJ_ECONFLICT, "id",
		                     "%sid '%.*s' was already used for a different event (sequence %llu)",
		                     where, (int)id->len, (const char *)t->ids.data + id->off,
		                     (unsigned long long)seq);
	}
	t->seqs[i] = seq;
	/* A repeat of an event a compaction has since redacted: say so. */
	uint8_t kb[CJI_SEQ_KEY_LEN];
	cji_key_seq(kb, seq);
	MDB_val rk = { sizeof kb, kb }, rv;
	cji_record_hdr h;
	const uint8_t *body;
	int redacted = mdb_get(txn, j->env.events, &rk, &rv) == 0 &&
	               cji_record_parse(rv.mv_data, rv.mv_size, seq, &h, &body) == 0 &&
	               (h.flags & CJI_RECORD_REDACTED);
	cj_error_clear();
	t->status[i] = redacted ? CJI_APPEND_DUP_REDACTED : CJI_APPEND_DUPLICATE;
	return 1;
}

/* The blobs an image names must still exist when it commits. 0, a CJ error
 * (saved for the ticket), or an LMDB code through *mrc. */
static int blobs_present(cji_journal *j, MDB_txn *txn, const req_idem *id, size_t i, size_t n,
                         int *mrc)
{
	for (unsigned b = 0; b < id->nblobs; b++) {
		MDB_val k = { CJI_BLOB_KEY_LEN, (void *)id->blobs[b] }, v;
		int rc = mdb_get(txn, j->env.blobs, &k, &v);
		if (rc == 0)
			continue;
		if (rc != MDB_NOTFOUND) {
			*mrc = rc;
			return 0;
		}
		char hex[33], where[32] = "";
		const char *f = BLOB_FIELDS[id->blob_field[b]];
		cji_blob_hex(id->blobs[b], hex);
		if (n > 1)
			snprintf(where, sizeof where, "event %zu: ", i);
		return cji_err_field(CJ_EINVAL, f, "%sfield '%s': no blob %s in this store (a compaction "
		                     "deleted it); store the bytes again", where, f, hex);
	}
	return 0;
}

/* Put every event of t. Returns an LMDB code (the batch must abort) or 0;
 * a per-ticket failure is left in t->rc_attempt with the error saved. */
static int put_ticket(cji_journal *j, MDB_txn *parent, cj_ticket *t, uint64_t *last)
{
	MDB_txn *txn = parent;
	int rc;
	int has_blobs = 0;
	for (size_t i = 0; i < t->n && !has_blobs; i++)
		has_blobs = t->idem[i].nblobs > 0;
	if (t->n > 1 && (t->has_ids || has_blobs)) {
		if ((rc = mdb_txn_begin(j->env.env, parent, 0, &txn)))
			return rc;
	}
	uint64_t start = *last;
	const uint8_t *rec = t->recs.data;
	int mrc = 0;
	for (size_t i = 0; i < t->n; rec += t->lens[i], i++) {
		t->status[i] = CJI_APPEND_NEW;
		int r = 0;
		if (t->idem[i].len) {
			r = idem_check(j, txn, t, i, &mrc);
			if (mrc)
				goto mdb_fail;
			if (r == 1)
				continue;
		}
		if (r == 0 && t->idem[i].nblobs) {
			r = blobs_present(j, txn, &t->idem[i], i, t->n, &mrc);
			if (mrc)
				goto mdb_fail;
		}
		if (r < 0) {
			t->rc_attempt = r;
			cji_err_save(&t->err, r);
			if (txn != parent)
				mdb_txn_abort(txn);
			*last = start;
			return 0;
		}
		uint64_t seq = ++*last;
		uint8_t kb[CJI_SEQ_KEY_LEN];
		cji_key_seq(kb, seq);
		MDB_val k = { sizeof kb, kb }, v = { t->lens[i], (void *)rec };
		if ((mrc = mdb_put(txn, j->env.events, &k, &v, MDB_APPEND)))
			goto mdb_fail;
		t->seqs[i] = seq;
		if (t->idem[i].len) {
			uint8_t iv[CJI_IDEM_VAL_LEN];
			cji_idem_val(iv, seq, t->idem[i].fp);
			MDB_val ik = { t->idem[i].len, t->ids.data + t->idem[i].off }, ivv = { sizeof iv, iv };
			if ((mrc = mdb_put(txn, j->env.idem, &ik, &ivv, 0)))
				goto mdb_fail;
		}
	}
	if (txn != parent && (mrc = mdb_txn_commit(txn)))
		return mrc;
	return 0;
mdb_fail:
	if (txn != parent)
		mdb_txn_abort(txn);
	return mrc;
}

static int put_blob(cji_journal *j, MDB_txn *txn, cj_ticket *t)
{
	MDB_val k = { CJI_BLOB_KEY_LEN, t->blob_key }, v = { t->blob_len, (void *)t->blob_data };
	int rc = mdb_put(txn, j->env.blobs, &k, &v, MDB_NOOVERWRITE);
	return rc == MDB_KEYEXIST ? 0 : rc;
}

/* One attempt at writing the whole batch; returns an LMDB code. */
static int attempt(cji_journal *j, cj_ticket *batch, const char **where, uint64_t *stored,
                   uint64_t *last_out)
{
	MDB_txn *txn;
	*where = "begin";
	int rc = cji_env_write_begin(&j->env, &txn);
	if (rc)
		return rc;
	uint64_t last, first;
	*where = "read last sequence";
	if ((rc = last_seq_in(j, txn, &last)))
		goto abort;
	first = last;
	*where = "put";
	for (cj_ticket *t = batch; t; t = t->next) {
		t->rc_attempt = 0;
		switch (t->kind) {
		case REQ_BLOB: rc = put_blob(j, txn, t); break;
		case REQ_JOB: rc = t->job->run(j, txn, t->job); break;
		default: rc = put_ticket(j, txn, t, &last); break;
		}
		if (rc)
			goto abort;
	}
	*stored = last - first;
	*last_out = last;
	if (*stored && j->env.has_commits) {
		/* When each group commit happened: point-in-time restore cuts the
		 * journal at the last commit before a given time. */
		cji_commit_kv kv;
		cji_commit_entry(&kv, last, cji_now_ms());
		*where = "put commit time";
		if ((rc = mdb_put(txn, j->env.commits, &kv.key, &kv.val, MDB_APPEND)))
			goto abort;
	}
	*where = "commit";
	if ((rc = cji_env_write_commit(&j->env, txn)))
		return rc;
	for (cj_ticket *t = batch; t; t = t->next)
		if (t->kind == REQ_JOB) {
			if (cji_env_fill_tail(&j->env))
				cj_error_clear(); /* the commit stands; the next one tries again */
			break;
		}
	return 0;
abort:
	cji_env_write_abort(&j->env, txn);
	return rc;
}

static void commit_batch(cji_journal *j, cj_ticket *batch)
{
	const char *where = "";
	uint64_t stored = 0, last = 0;
	int rc, reopened = 0;
	for (;;) {
		rc = attempt(j, batch, &where, &stored, &last);
		if (rc == MDB_PANIC && !reopened && !strcmp(where, "begin")) {
			/* An earlier failed meta write (disk full, EIO) left the
			 * environment unusable; reopen it and go on. */
			reopened = 1;
			if (cji_env_reopen(&j->env) == 0)
				continue;
		}
		if (rc == MDB_MAP_FULL) {
			int g = cji_env_grow(&j->env);
			if (g == 0)
				continue;
			rc = g; /* CJ_EFULL with its message set */
			break;
		}
		if (rc == MDB_PANIC) {
			/* A failed meta write leaves the environment unusable; reopening
			 * it makes the next batch possible. This batch fails. */
			cji_env_reopen(&j->env);
			rc = cji_err_write(EIO, j->env.dir, "journal %s: write failed (%s; the environment "
			                   "was reopened); nothing of this batch was stored", j->env.dir, where);
			break;
		}
		if (rc) {
			rc = cji_err_write(rc, j->env.dir, "journal %s: write failed (%s); nothing of this "
			                   "batch was stored", j->env.dir, where);
		}
		break;
	}
	cji_error_snapshot batch_err;
	if (rc)
		cji_err_save(&batch_err, rc);
	else {
		atomic_fetch_add(&j->commits, 1);
		atomic_fetch_add(&j->committed, stored);
		if (j->on_commit)
			j->on_commit(j->on_commit_arg);
		if (stored)
			cji_follow_committed(j, last);
	}
	/* Tickets whose submitter asked to be told: told after the lock is
	 * dropped (their callback may take locks of its own), kept alive by
	 * `notifying` until it has returned. */
	cj_ticket *tell = NULL;
	pthread_mutex_lock(&j->mu);
	for (cj_ticket *t = batch, *next; t; t = next) {
		next = t->next;
		if (rc) {
			t->rc = rc;
			t->err = batch_err;
		} else {
			t->rc = t->rc_attempt; /* error already saved in t->err */
		}
		atomic_store_explicit(&t->done, 1, memory_order_release);
		if (t->notify) {
			t->notifying = 1;
			t->next = tell;
			tell = t;
		}
		pthread_cond_signal(&t->cond);
	}
	pthread_mutex_unlock(&j->mu);
	if (!tell)
		return;
	for (cj_ticket *t = tell; t; t = t->next)
		t->notify(t->notify_arg);
	pthread_mutex_lock(&j->mu);
	for (cj_ticket *t = tell; t; t = t->next) {
		t->notifying = 0;
		pthread_cond_signal(&t->cond);
	}
	pthread_mutex_unlock(&j->mu);
}

/* Take up to max_batch events of tickets off the queue (at least one ticket). */
static cj_ticket *take_batch(cji_journal *j, size_t *nevents)
{
	cj_ticket *first = j->head, *last = NULL;
	size_t n = 0;
	for (cj_ticket *t = j->head; t; t = t->next) {
		size_t tn = t->n ? t->n : 1;
		if (last && n + tn > j->max_batch)
			break;
		n += tn;
		last = t;
	}
	j->head = last->next;
	if (!j->head)
		j->tail = NULL;
	last->next = NULL;
	j->queued -= n;
	*nevents = n;
	return first;
}

/* Group commit's gather window. Writers acknowledged by the last commit are
 * still waking up and encoding their next event when the writer thread is
 * ready for the next commit; committing at once would catch only some of
 * them. When fewer events wait than the last batch held, wait a little (at
 * most GATHER_NS, called with j->mu held) for them. A lone writer (last batch
 * of one) never waits. */
#define GATHER_NS 200000u

static void gather(cji_journal *j, size_t last_n)
{
	if (last_n < 2 || j->queued >= last_n || j->queued >= j->max_batch)
		return;
	struct timespec ts = cji_deadline_ns(GATHER_NS);
	while (j->queued < last_n && !j->stopping)
		if (pthread_cond_timedwait(&j->work, &j->mu, &ts) != 0)
			break;
}

/* The writer thread: takes the queue's tickets in group commits. It waits
 * while a synchronous caller holds the commit role (commit_or_enqueue), and
 * at stop it drains the queue and lets such a commit finish before it ends:
 * the environment stays open until then. */
static void *writer_main(void *arg)
{
	cji_journal *j = arg;
	uint64_t last_check = cji_mono_ns();
	pthread_mutex_lock(&j->mu);
	for (;;) {
		while ((!j->head || j->committing) && !(j->stopping && !j->head && !j->committing)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 10;
			if (pthread_cond_timedwait(&j->work, &j->mu, &ts) != 0 && !j->committing)
				break; /* ten idle seconds: the reader check below */
		}
		/* every way out of the wait leaves no caller committing */
		if (j->stopping && !j->head)
			break;
		if (j->head)
			gather(j, j->last_batch); /* the last commit's, whoever made it */
		cj_ticket *batch = NULL;
		size_t n = 0;
		if (j->head)
			batch = take_batch(j, &n);
		j->last_batch = n; /* 0 after ten idle seconds: the next writer is a lone one */
		j->committing = 1;
		pthread_mutex_unlock(&j->mu);
		if (batch)
			commit_batch(j, batch);
		uint64_t now = cji_mono_ns();
		if (now - last_check > 10000000000ull) {
			/* Stale reader slots of crashed processes pin old pages. */
			cji_env_reader_check(&j->env);
			last_check = now;
		}
		pthread_mutex_lock(&j->mu);
		j->committing = 0;
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

int cji_journal_open(cji_journal *j, const char *dir, const cji_journal_config *cfg, int create)
{
	memset(j, 0, sizeof *j);
	j->limits = cfg->limits;
	j->max_blob = cfg->max_blob;
	j->on_commit = cfg->on_commit;
	j->on_commit_arg = cfg->on_commit_arg;
	j->max_batch = cfg->max_batch ? cfg->max_batch : CJI_DEFAULT_MAX_BATCH;
	j->max_queue = cfg->max_queue ? cfg->max_queue : CJI_DEFAULT_MAX_QUEUE;
	if (j->max_queue < j->max_batch)
		j->max_queue = j->max_batch;
	int rc = cji_env_open(&j->env, dir, cfg->map_initial, cfg->map_ceiling, cfg->read_only, create);
	if (rc)
		return rc;
	j->env.on_swap = cfg->on_swap;
	j->env.on_swap_arg = cfg->on_swap_arg;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->work, NULL);
	cji_follow_init(&j->follow);
	if (!cfg->read_only) {
		if (pthread_create(&j->writer, NULL, writer_main, j) != 0) {
			cji_env_close(&j->env);
			return cji_err(CJ_ENOMEM, "cannot start the journal writer thread");
		}
		j->writer_running = 1;
	}
	return 0;
}

void cji_journal_stop(cji_journal *j)
{
	if (j->writer_running) {
		pthread_mutex_lock(&j->mu);
		j->stopping = 1;
		pthread_cond_broadcast(&j->work);
		pthread_mutex_unlock(&j->mu);
		pthread_join(j->writer, NULL);
		j->writer_running = 0;
	}
}

void cji_journal_close(cji_journal *j)
{
	cji_journal_stop(j);
	pthread_cond_destroy(&j->work);
	pthread_mutex_destroy(&j->mu);
	cji_follow_destroy(&j->follow);
	cji_env_close(&j->env);
}
