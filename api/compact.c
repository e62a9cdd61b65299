/* api/compact.c — compaction of a store (include/chatjournal/compact.h),
 * and what the projection says about deleted events.
 *
 * The projection knows exactly what deletions removed: at its position P, a
 * message or image record with seq <= P that has no row any more was removed
 * by a deletion (damaged records, listed in damaged_records, excepted). The
 * decisions are read from ONE read transaction of the projection (position,
 * live row ids, blobs live images name), then carried out on the journal:
 * tombstones in batches through the writer (appends interleave), blob
 * deletion inside a commit that re-checks newer images, the compacting copy
 * and the swap (journal/swap.c), and the projection's scrub by whichever
 * process materializes it (materializer.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "chatjournal/compact.h"
#include "api/store_internal.h"
#include "api/readers.h"
#include "journal/keys.h"
#include "materializer/db.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

#define DEFAULT_BATCH 1000
#define DEFAULT_WAIT_MS 600000
#define CJI_COMPACT_LOCK "compact.lock"

/* ---- growing arrays ------------------------------------------------------ */

typedef struct u64s { uint64_t *v; size_t n, cap; } u64s;

static int u64s_push(u64s *a, uint64_t x)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 1024;
		uint64_t *nv = realloc(a->v, cap * sizeof *nv);
		if (!nv)
			return cji_err(CJ_ENOMEM, "out of memory");
		a->v = nv;
		a->cap = cap;
	}
	a->v[a->n++] = x;
	return 0;
}

static int has_u64(const u64s *a, uint64_t x)
{
	size_t lo = 0, hi = a->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < a->n && a->v[lo] == x;
}

static int cmp_key(const void *a, const void *b) { return memcmp(a, b, CJI_BLOB_KEY_LEN); }

/* ---- the projection's snapshot ----------------------------------------- */

typedef struct snapshot {
	uint64_t position;
	u64s messages, images, damaged;   /* live row ids, ascending */
	u64s edits;                       /* live message_edits rows */
	u64s edited;                      /* live messages that have edits */
	u64s superseded;                  /* edits a newer edit of the same message replaced */
	uint8_t *blob_keys;               /* blobs live images name, sorted */
	size_t nblob_keys;
} snapshot;

static void snapshot_free(snapshot *sn)
{
	free(sn->messages.v);
	free(sn->images.v);
	free(sn->damaged.v);
	free(sn->edits.v);
	free(sn->edited.v);
	free(sn->superseded.v);
	free(sn->blob_keys);
	memset(sn, 0, sizeof *sn);
}

static int column_list(sqlite3 *db, const char *sql, u64s *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "compact: %s", sql);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (u64s_push(out, (uint64_t)sqlite3_column_int64(st, 0))) {
			sqlite3_finalize(st);
			return CJ_ENOMEM;
		}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cji_err_sqlite(rc, sqlite3_errmsg(db), "compact: %s", sql);
}

static int blob_list(sqlite3 *db, snapshot *sn)
{
	sqlite3_stmt *st;
	const char *sql = "SELECT blob FROM images WHERE blob IS NOT NULL"
	                  " UNION SELECT thumbnail FROM images WHERE thumbnail IS NOT NULL"
	                  " UNION SELECT blob FROM attachments WHERE blob IS NOT NULL";
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "compact: live blobs");
	cji_buf keys = CJI_BUF_INIT;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint8_t k[CJI_BLOB_KEY_LEN];
		if (cji_blob_key_parse((const char *)sqlite3_column_text(st, 0), k) == 0 &&
		    cji_buf_append(&keys, k, sizeof k)) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cji_buf_free(&keys);
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "compact: live blobs");
	}
	sn->blob_keys = keys.data;
	sn->nblob_keys = keys.len / CJI_BLOB_KEY_LEN;
	if (sn->nblob_keys)
		qsort(sn->blob_keys, sn->nblob_keys, CJI_BLOB_KEY_LEN, cmp_key);
	return 0;
}

/* Everything in one read transaction: the rows are those of the position. */
/* no_edits (may be NULL) is called as soon as the snapshot is known to hold
 * no message_edits row, before the long lists are read. */
static int take_snapshot(snapshot *sn, const char *sqlite_path, void (*no_edits)(void *), void *arg)
{
	memset(sn, 0, sizeof *sn);
	sqlite3 *db;
	int rc = cji_db_open_ro(&db, sqlite_path);
	if (rc)
		return rc;
	u64s pos = { 0 };
	if (!(rc = cji_db_exec(db, "BEGIN", "compact: begin")) &&
	    !(rc = column_list(db, "SELECT seq FROM journal_position WHERE id = 1", &pos)) &&
	    !(rc = column_list(db, "SELECT seq FROM message_edits ORDER BY seq", &sn->edits)) &&
	    (sn->edits.n || !no_edits || (no_edits(arg), 1)) &&
	    !(rc = column_list(db, "SELECT seq FROM messages ORDER BY seq", &sn->messages)) &&
	    !(rc = column_list(db, "SELECT seq FROM images ORDER BY seq", &sn->images)) &&
	    !(rc = column_list(db, "SELECT seq FROM damaged_records ORDER BY seq", &sn->damaged)) &&
	    !(rc = column_list(db, "SELECT DISTINCT message_seq FROM message_edits ORDER BY 1",
	                       &sn->edited)) &&
	    !(rc = column_list(db, "SELECT e.seq FROM message_edits e WHERE EXISTS (SELECT 1 FROM"
	                       " message_edits n WHERE n.message_seq = e.message_seq AND n.seq > e.seq)"
	                       " ORDER BY e.seq", &sn->superseded)))
		rc = blob_list(db, sn);
	sn->position = pos.n ? pos.v[0] : 0;
	free(pos.v);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	if (rc)
		snapshot_free(sn);
	return rc;
}

/* ---- what to redact ------------------------------------------------------ */

typedef struct plan {
	const snapshot *sn;
	u64s redact;            /* records to turn into tombstones */
	u64s superseded;        /* live edited messages: partial tombstones (content only) */
	u64s gone;              /* every deleted image or message record (tombstones too): their blobs */
	uint64_t messages, images, settings, edits, bytes, damaged;
	uint64_t scanned;
	cj_progress_fn progress;
	void *progress_arg;
} plan;

static int plan_one(void *arg, const cji_scan_rec *r)
{
	plan *p = arg;
	const snapshot *sn = p->sn;
	if ((++p->scanned & 65535) == 0 && p->progress)
		p->progress(p->scanned, sn->position, p->progress_arg);
	if (r->damaged) {
		p->damaged++;
		return 0;
	}
	int redacted = (r->flags & CJ_RECORD_REDACTED) != 0;
	int partial = (r->flags & CJ_RECORD_PARTIAL) != 0;
	int rc = 0;
	if (r->type == CJ_EVENT_MESSAGE || r->type == CJ_EVENT_IMAGE) {
		int image = r->type == CJ_EVENT_IMAGE;
		if (has_u64(&sn->damaged, r->seq))
			return 0;
		if (has_u64(image ? &sn->images : &sn->messages, r->seq)) {
			/* live: an edited message's original text is superseded */
			if (image || redacted || !has_u64(&sn->edited, r->seq))
				return 0;
			p->bytes += r->len;
			p->edits++;
			return u64s_push(&p->superseded, r->seq);
		}
		rc = u64s_push(&p->gone, r->seq);
		if (!rc && (!redacted || partial)) {
			rc = u64s_push(&p->redact, r->seq);
			p->bytes += r->len;
			if (image)
				p->images++;
			else
				p->messages++;
		}
	} else if (r->type == CJ_EVENT_EDIT_MESSAGE && !redacted) {
		/* its message was deleted (no row), or a newer edit replaced it */
		if (has_u64(&sn->edits, r->seq) && !has_u64(&sn->superseded, r->seq))
			return 0;
		rc = u64s_push(&p->redact, r->seq);
		p->bytes += r->len;
		p->edits++;
	} else if (r->type == CJ_EVENT_SETTING && r->sensitive && !redacted) {
		rc = u64s_push(&p->redact, r->seq);
		p->bytes += r->len;
		p->settings++;
	}
	return rc;
}

/* Blob keys deleted images and messages name and no live image or
 * attachment does, sorted, unique. */
static int orphan_blobs(uint8_t **out, size_t *nout, cji_journal *j, const plan *p)
{
	*out = NULL;
	*nout = 0;
	uint8_t *keys;
	size_t n;
	int rc = cji_journal_blob_refs(&keys, &n, j, p->gone.v, p->gone.n);
	if (rc)
		return rc;
	if (n)
		qsort(keys, n, CJI_BLOB_KEY_LEN, cmp_key);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *k = keys + i * CJI_BLOB_KEY_LEN;
		if (m && !memcmp(keys + (m - 1) * CJI_BLOB_KEY_LEN, k, CJI_BLOB_KEY_LEN))
			continue;
		if (p->sn->nblob_keys && bsearch(k, p->sn->blob_keys, p->sn->nblob_keys, CJI_BLOB_KEY_LEN,
		                                 cmp_key))
			continue;
		memmove(keys + m * CJI_BLOB_KEY_LEN, k, CJI_BLOB_KEY_LEN);
		m++;
	}
	*out = keys;
	*nout = m;
	return 0;
}

typedef struct blob_size_ctx { const uint8_t *keys; size_t n; uint64_t count, bytes; } blob_size_ctx;

static int count_blob(void *arg, const char *hash, uint64_t size)
{
	blob_size_ctx *c = arg;
	uint8_t k[CJI_BLOB_KEY_LEN];
	if (cji_blob_key_parse(hash, k) == 0 && c->n && bsearch(k, c->keys, c->n, CJI_BLOB_KEY_LEN, cmp_key)) {
		c->count++;
		c->bytes += size;
	}
	return 0;
}

static int make_plan(plan *p, const snapshot *sn, cji_journal *j, cj_progress_fn fn, void *arg)
{
	memset(p, 0, sizeof *p);
	p->sn = sn;
	p->progress = fn;
	p->progress_arg = arg;
	if (sn->position == 0)
		return 0;
	return cji_journal_scan(j, 1, sn->position, plan_one, p);
}

static void plan_free(plan *p)
{
	free(p->redact.v);
	free(p->superseded.v);
	free(p->gone.v);
}

/* ---- sizes ------------------------------------------------------------- */

static uint64_t size_of(const char *path, const char *suffix)
{
	char p[4400];
	struct stat st;
	snprintf(p, sizeof p, "%s%s", path, suffix);
	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static uint64_t projection_bytes(const cj_store *s)
{
	return size_of(s->sqlite_path, "") + size_of(s->sqlite_path, "-wal");
}

/* ---- the public calls ---------------------------------------------------- */

int cj_compact_pending(uint64_t *bytes_out, uint64_t *records_out, cj_store *s)
{
	*bytes_out = 0;
	if (records_out)
		*records_out = 0;
	if (!s)
		return cji_err(CJ_EINVAL, "compact: no store");
	snapshot sn;
	int rc = take_snapshot(&sn, s->sqlite_path, NULL, NULL);
	if (rc)
		return rc;
	plan p;
	uint8_t *orphans = NULL;
	size_t norph = 0;
	if ((rc = make_plan(&p, &sn, &s->journal, NULL, NULL)) == 0 &&
	    (rc = orphan_blobs(&orphans, &norph, &s->journal, &p)) == 0) {
		blob_size_ctx c = { orphans, norph, 0, 0 };
		if ((rc = cji_journal_blobs(&s->journal, count_blob, &c)) == 0) {
			*bytes_out = p.bytes + c.bytes;
			if (records_out)
				*records_out = p.redact.n + p.superseded.n + c.count;
		}
	}
	free(orphans);
	plan_free(&p);
	snapshot_free(&sn);
	return rc;
}

/* One compaction per store at a time, across processes. */
static int lock_store(int *fd, const cj_store *s)
{
	char p[4200];
	int rc = cji_path_join(p, sizeof p, s->path, CJI_COMPACT_LOCK);
	if (rc)
		return rc;
	*fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return cji_err_errno(errno, "cannot open %s", p);
	fchmod(*fd, 0600);
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(*fd);
		*fd = -1;
		if (e == EWOULDBLOCK)
			return cji_err(CJ_EBUSY, "compact: another compaction of this store is running");
		return cji_err_errno(e, "cannot lock %s", p);
	}
	return 0;
}

static int check_opts(cj_compact_options *o, const cj_compact_options *user)
{
	static const cj_compact_options defaults = CJ_COMPACT_OPTIONS_INIT;
	*o = user ? *user : defaults;
	if (o->version != CJ_COMPACT_OPTIONS_VERSION)
		return cji_err(CJ_EINVAL, "compact options version %u, this build knows %u "
		               "(use CJ_COMPACT_OPTIONS_INIT)", o->version, CJ_COMPACT_OPTIONS_VERSION);
	if (!o->batch)
		o->batch = DEFAULT_BATCH;
	if (o->wait_ms <= 0)
		o->wait_ms = DEFAULT_WAIT_MS;
	return 0;
}

/* Superseded texts of live, edited messages: the projection blanks its
 * copies of them when it applies a redact_edits event (apply_delete.c), the
 * same whether or not the tombstones below get written; appended first, so
 * that a crash anywhere leaves the projection equal to a replay. *seq_out:
 * its sequence number (0: nothing superseded). */
static int mark_superseded(uint64_t *seq_out, cj_store *s, const plan *p)
{
	*seq_out = 0;
	if (!p->edits)
		return 0;
	cj_event *ev;
	int rc = cj_event_new(&ev, "redact_edits");
	if (!rc)
		rc = cj_event_set_int(ev, "through_seq", (int64_t)p->sn->position);
	if (!rc) {
		const cj_event *evs[1] = { ev };
		rc = cji_journal_append_batch(seq_out, &s->journal, evs, 1);
	}
	cj_event_free(ev);
	return rc;
}

static int redact_all(cj_compact_report *out, cj_store *s, const plan *p, unsigned batch)
{
	cji_writer_result res = { 0 };
	for (size_t i = 0; i < p->redact.n; i += batch) {
		size_t k = p->redact.n - i < batch ? p->redact.n - i : batch;
		int rc = cji_journal_redact(&res, &s->journal, p->redact.v + i, k);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < p->superseded.n; i += batch) {
		size_t k = p->superseded.n - i < batch ? p->superseded.n - i : batch;
		int rc = cji_journal_redact_superseded(&res, &s->journal, p->superseded.v + i, k);
		if (rc)
			return rc;
	}
	out->record_bytes_before = res.bytes_before;
	out->record_bytes_after = res.bytes_after;
	return 0;
}

typedef struct early_scrub {
	cj_store *s;
	uint64_t ticket;
	int scrub;
} early_scrub;

static void start_scrub(void *arg)
{
	early_scrub *e = arg;
	e->scrub = cji_mat_scrub_start(&e->ticket, e->s->mat);
}

static int compact_locked(cj_compact_report *out, cj_store *s, const cj_compact_options *o)
{
	/* A folder left by an interrupted compaction holds old bytes. */
	int rc = o->dry_run ? 0 : cji_journal_swap_cleanup(&s->journal);
	if (rc)
		return rc;
	/* Decide at the journal's end, so that recent deletions count. */
	uint64_t last = 0;
	if ((rc = cji_journal_last_seq(&last, &s->journal)))
		return rc;
	if (s->mat && cji_mat_wait(s->mat, last, o->wait_ms) != 0)
		cj_error_clear(); /* decide at the position reached */
	/* The projection's scrub runs on the materializer's thread while this
	 * one works on the journal: the projection has applied every deletion
	 * the plan acts on (the snapshot's position, or later). Only the
	 * redact_edits mark (mark_superseded) may change it still, and only
	 * rows of message_edits: with none in the snapshot, the scrub begins
	 * while the snapshot's lists are read. */
	early_scrub es = { s, 0, -1 }; /* scrub: -1 not asked, 0 asked (ticket), 1 another process's */
	snapshot sn;
	if ((rc = take_snapshot(&sn, s->sqlite_path, s->mat && !o->dry_run ? start_scrub : NULL, &es))) {
		if (es.scrub == 0)
			cji_mat_scrub_wait(&out->scrub_ms, s->mat, es.ticket, o->wait_ms);
		return rc;
	}
	out->position = sn.position;
	uint64_t ticket = es.ticket;
	int scrub = es.scrub;
	int mark_rc = 0;
	uint64_t t0 = cji_mono_ns();
	plan p;
	uint8_t *orphans = NULL;
	size_t norph = 0;
	if ((rc = make_plan(&p, &sn, &s->journal, o->progress, o->progress_arg)) ||
	    (rc = orphan_blobs(&orphans, &norph, &s->journal, &p)))
		goto out;
	uint64_t t1 = cji_mono_ns();
	out->plan_ms = (t1 - t0) / 1000000u;
	out->messages = p.messages;
	out->images = p.images;
	out->settings = p.settings;
	out->edits = p.edits;
	out->damaged = p.damaged;
	if (o->dry_run) {
		blob_size_ctx c = { orphans, norph, 0, 0 };
		rc = cji_journal_blobs(&s->journal, count_blob, &c);
		out->record_bytes_before = p.bytes;
		out->blobs = c.count;
		out->blob_bytes = c.bytes;
		goto out;
	}
	uint64_t mark;
	if ((rc = mark_superseded(&mark, s, &p)))
		goto out;
	if (s->mat && scrub < 0) {
		/* the scrub's copy must find the superseded texts already blanked;
		 * if they are not in time, the journal's part goes on without it */
		mark_rc = mark ? cji_mat_wait(s->mat, mark, o->wait_ms) : 0;
		if (!mark_rc)
			scrub = cji_mat_scrub_start(&ticket, s->mat);
	}
	if ((rc = redact_all(out, s, &p, o->batch)))
		goto out;
	cji_writer_result br;
	if ((rc = cji_journal_blob_del(&br, &s->journal, norph, orphans, sn.position)))
		goto out;
	out->blobs = br.blobs;
	out->blob_bytes = br.blob_bytes;
	uint64_t t2 = cji_mono_ns();
	out->redact_ms = (t2 - t1) / 1000000u;
	cji_swap_report sw;
	if ((rc = cji_journal_swap(&sw, &s->journal)))
		goto out;
	uint64_t t3 = cji_mono_ns();
	out->swap_ms = (t3 - t2) / 1000000u;
	out->file_before = sw.size_before;
	out->file_after = sw.size_after;
	out->pause_ms = sw.pause_ns / 1000000u;
	rc = mark_rc;
out:
	if (scrub == 0) {
		/* waited for even after an error: it claimed the swap's scrub */
		int r = cji_mat_scrub_wait(&out->scrub_ms, s->mat, ticket, o->wait_ms);
		if (r < 0 && !rc)
			rc = r;
		out->projection_scrubbed = r == 0;
	}
	free(orphans);
	plan_free(&p);
	snapshot_free(&sn);
	return rc;
}

int cj_compact(cj_compact_report *out, cj_store *s, const cj_compact_options *opts)
{
	memset(out, 0, sizeof *out);
	cj_compact_options o;
	int rc = check_opts(&o, opts);
	if (rc)
		return rc;
	if (!s)
		return cji_err(CJ_EINVAL, "compact: no store");
	if (!s->mat && !o.dry_run)
		return cji_err(CJ_EPERM, "compact needs the store opened read-write");
	uint64_t t0 = cji_mono_ns();
	int fd = -1;
	if (!o.dry_run && (rc = lock_store(&fd, s)))
		return rc;
	out->file_before = out->file_after = 0;
	out->projection_before = projection_bytes(s);
	rc = compact_locked(out, s, &o);
	out->projection_after = projection_bytes(s);
	if (fd >= 0)
		close(fd);
	out->seconds = (double)(cji_mono_ns() - t0) / 1e9;
	return rc;
}

int cj_compact_schedule_get(cj_compact_schedule *out, const cj_store *s)
{
	memset(out, 0, sizeof *out);
	if (!s)
		return cji_err(CJ_EINVAL, "compact: no store");
	out->interval_s = s->conf.compact_interval_s;
	out->threshold_bytes = s->conf.compact_threshold;
	return 0;
}

/* ---- duplicates of deleted events ---------------------------------------- */

/* 1 if the projection says a deletion removed the event at seq (at or below
 * its position, and no message or image row any more), 0 if not. */
static int deleted_in_projection(cj_store *s, uint64_t seq)
{
	cji_reader *r;
	if (cji_reader_get(s->readers, &r) != 0) {
		cj_error_clear();
		return 0;
	}
	sqlite3_stmt *st;
	int deleted = 0;
	if (sqlite3_prepare_v2(r->db, "SELECT (SELECT seq FROM journal_position WHERE id = 1) >= ?1"
	                       " AND NOT EXISTS (SELECT 1 FROM messages WHERE seq = ?1)"
	                       " AND NOT EXISTS (SELECT 1 FROM images WHERE seq = ?1)", -1, &st,
	                       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (int64_t)seq);
		if (sqlite3_step(st) == SQLITE_ROW)
			deleted = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	cji_reader_put(s->readers, r);
	return deleted;
}

int cj_ticket_status(cj_append_status *out, cj_store *s, const cj_ticket *t)
{
	if (!out || !s || !t)
		return cji_err(CJ_EINVAL, "append status: NULL argument");
	size_t n = cji_ticket_count(t);
	uint8_t *st = malloc(n ? n : 1);
	uint64_t *seqs = malloc((n ? n : 1) * sizeof *seqs);
	int rc = st && seqs ? cji_ticket_status(st, t) : cji_err(CJ_ENOMEM, "out of memory");
	if (!rc)
		rc = cji_ticket_wait(seqs, (cj_ticket *)t);
	for (size_t i = 0; i < n && !rc; i++) {
		out[i] = (cj_append_status)st[i];
		if (st[i] != CJI_APPEND_DUPLICATE)
			continue;
		/* Only messages and images are ever deleted; a repeat of another
		 * type names a row the projection never had. */
		cj_event *ev;
		cj_record rec;
		if (cji_journal_get(&ev, &rec, &s->journal, seqs[i]) != 0) {
			cj_error_clear();
			continue;
		}
		cj_event_free(ev);
		if ((rec.type == CJ_EVENT_MESSAGE || rec.type == CJ_EVENT_IMAGE) &&
		    deleted_in_projection(s, seqs[i]))
			out[i] = CJ_APPEND_DUPLICATE_DELETED;
	}
	free(st);
	free(seqs);
	return rc;
}
