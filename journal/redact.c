/* journal/redact.c — what compaction writes into the journal: tombstones in
 * place of records whose content a deletion removed, and the deletion of
 * blobs no image needs any more (docs/format.md, "Tombstones").
 *
 * Deciding WHICH records is the store's business (api/compact.c asks the
 * projection); this file knows what a tombstone of each type keeps, builds
 * it from the stored record, and does the writes inside the writer's
 * transaction so that they commit between appends like any batch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/event_internal.h"
#include "journal/keys.h"
#include "journal/lmdb_layout.h"
#include "journal/record.h"
#include "common/err.h"

#define SCAN_CHUNK 4096

/* ---- the scan --------------------------------------------------------- */

static int setting_sensitive(const uint8_t *body, uint32_t len, int64_t ts)
{
	cj_event *ev;
	if (cji_event_decode(&ev, body, len, ts) != 0) {
		cj_error_clear();
		return -1;
	}
	int s = json_is_true(json_object_get(ev->obj, "sensitive"));
	cj_event_free(ev);
	return s;
}

int cji_journal_scan(cji_journal *j, uint64_t from, uint64_t to,
                     int (*fn)(void *arg, const cji_scan_rec *r), void *arg)
{
	/* Every page of the records is read: walk them first. LMDB reads a
	 * damaged page blindly (a bad node offset is a segmentation fault) and
	 * an open checks only the edges of each database (journal/pages.h). */
	uint64_t pages = 0, bad = 0;
	int rc = cji_lmdb_layout_known() ? cji_journal_check_pages(&pages, &bad, j) : 0;
	if (rc)
		return rc;
	cji_scan_rec *buf = malloc(SCAN_CHUNK * sizeof *buf);
	if (!buf)
		return cji_err(CJ_ENOMEM, "out of memory");
	uint64_t next = from ? from : 1;
	for (;;) {
		MDB_txn *txn;
		if ((rc = cji_env_read_begin(&j->env, &txn)))
			break;
		MDB_cursor *c;
		size_t n = 0;
		if ((rc = mdb_cursor_open(txn, j->env.events, &c)) == 0) {
			uint8_t kb[CJI_SEQ_KEY_LEN];
			cji_key_seq(kb, next);
			MDB_val k = { sizeof kb, kb }, v;
			int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
			while (mrc == 0 && n < SCAN_CHUNK) {
				uint64_t seq = cji_key_seq_get(&k);
				if (to && seq > to)
					break;
				cji_scan_rec *r = &buf[n++];
				memset(r, 0, sizeof *r);
				r->seq = seq;
				r->len = (uint32_t)v.mv_size;
				cji_record_hdr h;
				const uint8_t *body;
				if (cji_record_parse(v.mv_data, v.mv_size, seq, &h, &body) != 0) {
					cj_error_clear();
					r->damaged = 1;
				} else {
					r->type = h.type;
					r->flags = h.flags;
					if (h.type == CJ_EVENT_SETTING && !(h.flags & CJI_RECORD_REDACTED)) {
						int s = setting_sensitive(body, h.body_len, h.ts_ms);
						r->damaged = s < 0;
						r->sensitive = s > 0;
					}
				}
				next = seq + 1;
				mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
			}
			mdb_cursor_close(c);
			if (mrc && mrc != MDB_NOTFOUND)
				rc = cji_err_mdb(mrc, "journal: scan failed near sequence %llu",
				                 (unsigned long long)next);
		} else {
			rc = cji_err_mdb(rc, "journal: cannot open cursor");
		}
		cji_env_read_end(&j->env, txn);
		for (size_t i = 0; i < n && !rc; i++)
			rc = fn(arg, &buf[i]);
		if (rc || n < SCAN_CHUNK)
			break;
	}
	free(buf);
	return rc;
}

/* ---- tombstones ------------------------------------------------------- */

/* What a tombstone keeps of each type: what the projection's surviving rows
 * were derived from (thread and user rows, their counts and activity, blob
 * rows, and everything a later deletion selects on), never content. */
static const char *const KEEP_MESSAGE[] = { "type", "id", "ts", "thread", "role", "user",
                                            "server", "channel", NULL };
static const char *const KEEP_IMAGE[] = { "type", "id", "ts", "thread", "blob", "thumbnail",
                                          NULL };
static const char *const KEEP_EDIT[] = { "type", "id", "ts", "thread", "target", "editor", NULL };

/* A deleted message's attachments, reduced to the blobs they name: the
 * projection's blobs rows (first_seq) were derived from them. NULL: none. */
static json_t *attachment_blobs(const json_t *att)
{
	json_t *out = NULL;
	size_t i;
	const json_t *e;
	json_array_foreach(att, i, e) {
		json_t *b = json_object_get(e, "blob");
		if (!json_is_string(b))
			continue;
		if (!out && !(out = json_array()))
			return NULL;
		json_array_append_new(out, json_pack("{sO}", "blob", b));
	}
	return out;
}

static json_t *keep_only(const json_t *o, const char *const *keep)
{
	json_t *t = json_object();
	if (!t)
		return NULL;
	for (size_t i = 0; keep[i]; i++) {
		json_t *v = json_object_get(o, keep[i]);
		if (v && json_object_set(t, keep[i], v) != 0) {
			json_decref(t);
			return NULL;
		}
	}
	return t;
}

/* The tombstone body of a decoded record, or NULL with *skip set when the
 * record has nothing to redact. partial: a live, edited message keeps
 * everything but its superseded content. */
static json_t *tombstone_of(const cj_event *ev, int partial, int *skip)
{
	*skip = 0;
	json_t *t = NULL;
	switch (ev->type) {
	case CJ_EVENT_MESSAGE:
		if (partial) {
			if ((t = json_deep_copy(ev->obj)) && json_object_get(t, "content"))
				json_object_set_new(t, "content", json_string(""));
			return t;
		}
		/* content stays, empty: a tombstone applies as a message with no
		 * words, so counts and a later deletion's selection come out the same */
		if ((t = keep_only(ev->obj, KEEP_MESSAGE))) {
			json_object_set_new(t, "content", json_string(""));
			json_t *blobs = attachment_blobs(json_object_get(ev->obj, "attachments"));
			if (blobs)
				json_object_set_new(t, "attachments", blobs);
		}
		return t;
	case CJ_EVENT_EDIT_MESSAGE:
		if ((t = keep_only(ev->obj, KEEP_EDIT)))
			json_object_set_new(t, "content", json_string(""));
		return t;
	case CJ_EVENT_IMAGE:
		if ((t = keep_only(ev->obj, KEEP_IMAGE)))
			json_object_set_new(t, "url", json_string(""));
		return t;
	case CJ_EVENT_SETTING:
		if (!json_is_true(json_object_get(ev->obj, "sensitive"))) {
			*skip = 1;
			return NULL;
		}
		if ((t = json_deep_copy(ev->obj)))
			json_object_set_new(t, "value", json_null());
		return t;
	default:
		*skip = 1;
		return NULL;
	}
}

/* Append the framed tombstone of one stored record to out; 1 if appended,
 * 0 if there is nothing to redact, or an error. */
static int build_one(cji_buf *out, uint32_t *len_out, const MDB_val *v, uint64_t seq, int partial)
{
	cji_record_hdr h;
	const uint8_t *body;
	int rc = cji_record_parse(v->mv_data, v->mv_size, seq, &h, &body);
	if (rc)
		return rc;
	/* A partial tombstone may become a whole one; nothing else is redacted twice. */
	if ((h.flags & CJI_RECORD_REDACTED) && (partial || !(h.flags & CJI_RECORD_PARTIAL)))
		return 0;
	cj_event *ev;
	if ((rc = cji_event_decode(&ev, body, h.body_len, h.ts_ms)))
		return rc;
	int skip;
	json_t *t = tombstone_of(ev, partial, &skip);
	cj_event_free(ev);
	if (skip)
		return 0;
	cj_event *tev;
	if (!t || cji_event_wrap(&tev, t) != 0)
		return cji_err(CJ_ENOMEM, "out of memory building a tombstone");
	size_t hdr_off = out->len;
	if ((rc = cji_buf_reserve(out, CJI_RECORD_HDR_LEN))) {
		cj_event_free(tev);
		return cji_err(rc, "out of memory");
	}
	out->len += CJI_RECORD_HDR_LEN;
	int64_t ts;
	int has_ts;
	rc = cji_event_encode(tev, out, &ts, &has_ts);
	cj_event_free(tev);
	if (rc)
		return rc;
	uint32_t blen = (uint32_t)(out->len - hdr_off - CJI_RECORD_HDR_LEN);
	/* The header keeps the record's type and time: only the body changes. */
	uint16_t flags = (uint16_t)((h.flags & ~CJI_RECORD_PARTIAL) | CJI_RECORD_REDACTED |
	                            (partial ? CJI_RECORD_PARTIAL : 0));
	cji_record_frame(out->data + hdr_off, h.type, flags,
	                 h.ts_ms, out->data + hdr_off + CJI_RECORD_HDR_LEN, blen);
	*len_out = blen + CJI_RECORD_HDR_LEN;
	return 1;
}

static int redact(cji_writer_result *out, cji_journal *j, const uint64_t *seqs, size_t n,
                  int partial)
{
	if (n == 0)
		return 0;
	uint64_t *ok = malloc(n * sizeof *ok);
	uint32_t *lens = malloc(n * sizeof *lens);
	cji_buf recs = CJI_BUF_INIT;
	int rc = ok && lens ? 0 : cji_err(CJ_ENOMEM, "out of memory");
	size_t m = 0;
	MDB_txn *txn = NULL;
	if (!rc)
		rc = cji_env_read_begin(&j->env, &txn);
	for (size_t i = 0; i < n && !rc; i++) {
		uint8_t kb[CJI_SEQ_KEY_LEN];
		cji_key_seq(kb, seqs[i]);
		MDB_val k = { sizeof kb, kb }, v;
		int mrc = mdb_get(txn, j->env.events, &k, &v);
		if (mrc == MDB_NOTFOUND)
			continue;
		if (mrc) {
			rc = cji_err_mdb(mrc, "journal record %llu: read failed", (unsigned long long)seqs[i]);
			break;
		}
		int r = build_one(&recs, &lens[m], &v, seqs[i], partial);
		if (r == 1)
			ok[m++] = seqs[i];
		else if (r < 0)
			rc = r;
	}
	if (txn)
		cji_env_read_end(&j->env, txn);
	cji_writer_result res;
	if (!rc && m && (rc = cji_journal_redact_put(&res, j, m, ok, recs.data, lens)) == 0) {
		out->records += res.records;
		out->bytes_before += res.bytes_before;
		out->bytes_after += res.bytes_after;
	}
	cji_buf_free(&recs);
	free(ok);
	free(lens);
	return rc;
}

int cji_journal_redact(cji_writer_result *out, cji_journal *j, const uint64_t *seqs, size_t n)
{
	return redact(out, j, seqs, n, 0);
}

int cji_journal_redact_superseded(cji_writer_result *out, cji_journal *j, const uint64_t *seqs,
                                  size_t n)
{
	return redact(out, j, seqs, n, 1);
}

/* ---- inside the writer's transaction ---------------------------------- */

static int redact_run(cji_journal *j, MDB_txn *txn, const cji_writer_job *job)
{
	size_t n = job->n;
	const uint64_t *seqs = job->seqs;
	const uint8_t *recs = job->data;
	const uint32_t *lens = job->lens;
	cji_writer_result *res = job->res;
	memset(res, 0, sizeof *res); /* per attempt: a retried batch counts again */
	const uint8_t *rec = recs;
	for (size_t i = 0; i < n; rec += lens[i], i++) {
		uint8_t kb[CJI_SEQ_KEY_LEN];
		cji_key_seq(kb, seqs[i]);
		MDB_val k = { sizeof kb, kb }, v;
		int rc = mdb_get(txn, j->env.events, &k, &v);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return rc;
		/* flags are byte 2 of the header (record.c); already redacted: leave it */
		cji_record_hdr h;
		const uint8_t *body;
		const uint8_t *nb;
		cji_record_hdr nh;
		int was_partial = 0;
		if (cji_record_parse(v.mv_data, v.mv_size, seqs[i], &h, &body) == 0 &&
		    (h.flags & CJI_RECORD_REDACTED)) {
			/* only a partial tombstone is replaced, and only by a whole one */
			was_partial = (h.flags & CJI_RECORD_PARTIAL) != 0;
			if (!was_partial || cji_record_parse(rec, lens[i], seqs[i], &nh, &nb) != 0 ||
			    (nh.flags & CJI_RECORD_PARTIAL))
				continue;
		}
		cj_error_clear();
		uint64_t before = v.mv_size;
		MDB_val nv = { lens[i], (void *)rec };
		if ((rc = mdb_put(txn, j->env.events, &k, &nv, 0)))
			return rc;
		res->records++;
		res->bytes_before += before;
		res->bytes_after += lens[i];
	}
	return 0;
}

/* Append the blob keys ev names to *keys (n used, cap allocated): an
 * image's blob and thumbnail, a message's attachments[].blob. 0 or ENOMEM. */
static int event_blob_keys(const cj_event *ev, uint8_t **keys, size_t *n, size_t *cap)
{
	const char *hex[2 + 256];
	size_t nh = 0;
	if (ev->type == CJ_EVENT_IMAGE) {
		hex[nh++] = json_string_value(json_object_get(ev->obj, "blob"));
		hex[nh++] = json_string_value(json_object_get(ev->obj, "thumbnail"));
	} else if (ev->type == CJ_EVENT_MESSAGE) {
		size_t i;
		const json_t *e;
		json_array_foreach(json_object_get(ev->obj, "attachments"), i, e)
			if (nh < sizeof hex / sizeof hex[0])
				hex[nh++] = json_string_value(json_object_get(e, "blob"));
	}
	for (size_t i = 0; i < nh; i++) {
		if (!hex[i])
			continue;
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 64;
			uint8_t *nk = realloc(*keys, c * CJI_BLOB_KEY_LEN);
			if (!nk)
				return ENOMEM;
			*keys = nk;
			*cap = c;
		}
		if (cji_blob_key_parse(hex[i], *keys + *n * CJI_BLOB_KEY_LEN) == 0)
			(*n)++;
	}
	return 0;
}

/* Blob keys an image or message after `after` names. */
static int named_after(cji_journal *j, MDB_txn *txn, uint64_t after, uint8_t **keys, size_t *n)
{
	*keys = NULL;
	*n = 0;
	size_t cap = 0;
	MDB_cursor *c;
	int rc = mdb_cursor_open(txn, j->env.events, &c);
	if (rc)
		return rc;
	uint8_t kb[CJI_SEQ_KEY_LEN];
	cji_key_seq(kb, after + 1);
	MDB_val k = { sizeof kb, kb }, v;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		cji_record_hdr h;
		const uint8_t *body;
		cj_event *ev = NULL;
		if (cji_record_parse(v.mv_data, v.mv_size, cji_key_seq_get(&k), &h, &body) == 0 &&
		    (h.type == CJ_EVENT_IMAGE || h.type == CJ_EVENT_MESSAGE) &&
		    cji_event_decode(&ev, body, h.body_len, h.ts_ms) == 0 &&
		    event_blob_keys(ev, keys, n, &cap) != 0) {
			cj_event_free(ev);
			mdb_cursor_close(c);
			return ENOMEM;
		}
		cj_event_free(ev);
		cj_error_clear();
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int in_keys(const uint8_t *keys, size_t n, const uint8_t *key)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(keys + i * CJI_BLOB_KEY_LEN, key, CJI_BLOB_KEY_LEN))
			return 1;
	return 0;
}

static int blob_del_run(cji_journal *j, MDB_txn *txn, const cji_writer_job *job)
{
	size_t n = job->n;
	const uint8_t *keys = job->data;
	uint64_t after = job->after;
	cji_writer_result *res = job->res;
	memset(res, 0, sizeof *res); /* per attempt */
	uint8_t *named;
	size_t nn;
	/* An image committed since the projection's snapshot may name a blob the
	 * snapshot thought unused: it keeps it. One not committed yet re-checks
	 * its blobs inside its own commit (append.c) and fails cleanly. */
	int rc = named_after(j, txn, after, &named, &nn);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		const uint8_t *key = keys + i * CJI_BLOB_KEY_LEN;
		if (in_keys(named, nn, key))
			continue;
		MDB_val k = { CJI_BLOB_KEY_LEN, (void *)key }, v;
		rc = mdb_get(txn, j->env.blobs, &k, &v);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		uint64_t size = v.mv_size;
		if ((rc = mdb_del(txn, j->env.blobs, &k, NULL)))
			break;
		res->blobs++;
		res->blob_bytes += size;
	}
	free(named);
	return rc;
}

int cji_journal_blobs(cji_journal *j, int (*fn)(void *arg, const char *hash, uint64_t size),
                      void *arg)
{
	/* Keys and sizes copied in one read transaction (blobs are few next to
	 * events; each is one key), then handed out with none open. */
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	cji_buf keys = CJI_BUF_INIT;
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(txn, j->env.blobs, &c)) == 0) {
		MDB_val k, v;
		int mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		while (mrc == 0) {
			uint8_t item[CJI_BLOB_KEY_LEN + 8];
			if (k.mv_size == CJI_BLOB_KEY_LEN) {
				memcpy(item, k.mv_data, CJI_BLOB_KEY_LEN);
				cji_put_be64(item + CJI_BLOB_KEY_LEN, v.mv_size);
				if (cji_buf_append(&keys, item, sizeof item)) {
					mrc = ENOMEM;
					break;
				}
			}
			mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(c);
		if (mrc != MDB_NOTFOUND)
			rc = cji_err_mdb(mrc, "journal: cannot list blobs");
	} else {
		rc = cji_err_mdb(rc, "journal: cannot list blobs");
	}
	cji_env_read_end(&j->env, txn);
	for (size_t off = 0; !rc && off + CJI_BLOB_KEY_LEN + 8 <= keys.len; off += CJI_BLOB_KEY_LEN + 8) {
		char hex[33];
		cji_blob_hex(keys.data + off, hex);
		rc = fn(arg, hex, cji_get_be64(keys.data + off + CJI_BLOB_KEY_LEN));
	}
	cji_buf_free(&keys);
	return rc;
}

int cji_journal_blob_refs(uint8_t **keys_out, size_t *n_out, cji_journal *j, const uint64_t *seqs,
                          size_t n)
{
	*keys_out = NULL;
	*n_out = 0;
	cji_buf keys = CJI_BUF_INIT;
	int rc = 0;
	for (size_t i0 = 0; i0 < n && !rc; i0 += 1024) {
		/* Short read transactions, as everywhere (docs/reliability.md, L7). */
		MDB_txn *txn;
		if ((rc = cji_env_read_begin(&j->env, &txn)))
			break;
		for (size_t i = i0; i < n && i < i0 + 1024 && !rc; i++) {
			uint8_t kb[CJI_SEQ_KEY_LEN];
			cji_key_seq(kb, seqs[i]);
			MDB_val k = { sizeof kb, kb }, v;
			cji_record_hdr h;
			const uint8_t *body;
			cj_event *ev = NULL;
			if (mdb_get(txn, j->env.events, &k, &v) != 0 ||
			    cji_record_parse(v.mv_data, v.mv_size, seqs[i], &h, &body) != 0 ||
			    (h.type != CJ_EVENT_IMAGE && h.type != CJ_EVENT_MESSAGE) ||
			    cji_event_decode(&ev, body, h.body_len, h.ts_ms) != 0) {
				cj_error_clear();
				continue;
			}
			uint8_t *ek = NULL;
			size_t en = 0, ecap = 0;
			if (event_blob_keys(ev, &ek, &en, &ecap) != 0 ||
			    (en && cji_buf_append(&keys, ek, en * CJI_BLOB_KEY_LEN)))
				rc = cji_err(CJ_ENOMEM, "out of memory");
			free(ek);
			cj_event_free(ev);
		}
		cji_env_read_end(&j->env, txn);
	}
	if (rc) {
		cji_buf_free(&keys);
		return rc;
	}
	*keys_out = keys.data;
	*n_out = keys.len / CJI_BLOB_KEY_LEN;
	return 0;
}

/* ---- through the writer ------------------------------------------------ */

int cji_journal_redact_put(cji_writer_result *res, cji_journal *j, size_t n, const uint64_t *seqs,
                           const uint8_t *recs, const uint32_t *lens)
{
	memset(res, 0, sizeof *res);
	cji_writer_job job = { redact_run, n, seqs, recs, lens, 0, res };
	return n ? cji_writer_run(j, &job) : 0;
}

int cji_journal_blob_del(cji_writer_result *res, cji_journal *j, size_t n, const uint8_t *keys,
                         uint64_t after)
{
	memset(res, 0, sizeof *res);
	cji_writer_job job = { blob_del_run, n, NULL, keys, NULL, after, res };
	return n ? cji_writer_run(j, &job) : 0;
}
