/* journal/cut.c — a new journal made of another's first records: the
 * journal of a point-in-time restore. Records are copied byte for byte
 * (their checksums and flags, REDACTED included, stay as they were); the
 * idempotency entries of kept records come along, so a client's retry of
 * an event before the cut is still recognised and one after it is stored
 * anew; blobs come along only when a kept image names them, so a cut also
 * drops what was uploaded for later events. The source is a snapshot
 * nobody writes (a backup's journal), read in one read transaction; the
 * new journal is written in chunks, each a durable LMDB commit, growing
 * its map as appends do. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/event_internal.h"
#include "journal/keys.h"
#include "journal/record.h"
#include "common/err.h"

#define CHUNK_RECORDS 16384
#define CHUNK_BYTES   ((size_t)64 << 20)
#define AGAIN 1        /* the new journal's map is full: grow, run the chunk again */

typedef struct cut_ctx {
	cji_env dst;
	cji_journal *src;
	MDB_txn *rtxn;         /* the one read transaction on src */
	uint64_t cut;
	cji_commit *commits;   /* src's commits table, read before rtxn began */
	size_t ncommits;
	cji_journal_meta meta;
	cj_progress_fn progress;
	void *arg;
} cut_ctx;

/* Where a chunk starts: the next record, or the next idempotency key. */
typedef struct cut_pos {
	uint64_t seq;
	uint8_t key[CJI_ID_MAX];
	size_t key_len;        /* 0: from the first key */
	int done;
} cut_pos;

static int put_rc(cut_ctx *c, int rc, const char *what)
{
	if (rc == MDB_MAP_FULL)
		return AGAIN;
	return cji_err_write(rc, c->dst.dir, "journal %s: cannot write %s", c->dst.dir, what);
}

/* The blobs an image record names, copied from src into w. A damaged record
 * is copied as it is and names nothing: replay reports it, as it would have
 * in the original store. */
static int put_blobs_of(cut_ctx *c, MDB_txn *w, uint64_t seq, const MDB_val *rec)
{
	cji_record_hdr h;
	const uint8_t *body;
	if (cji_record_parse(rec->mv_data, rec->mv_size, seq, &h, &body) != 0) {
		cj_error_clear();
		return 0;
	}
	if (h.type != CJ_EVENT_IMAGE)
		return 0;
	cj_event *ev;
	if (cji_event_decode(&ev, body, h.body_len, h.ts_ms) != 0) {
		cj_error_clear();
		return 0;
	}
	static const char *const fields[] = { "blob", "thumbnail" };
	int rc = 0;
	for (int f = 0; f < 2 && !rc; f++) {
		const char *hex = cj_event_get_string(ev, fields[f]);
		uint8_t key[CJI_BLOB_KEY_LEN];
		if (!hex || cji_blob_key_parse(hex, key) != 0)
			continue;
		MDB_val k = { sizeof key, key }, v;
		int r = mdb_get(c->rtxn, c->src->env.blobs, &k, &v);
		if (r == MDB_NOTFOUND)
			rc = cji_err(CJ_ECORRUPT, "journal %s: record %llu names blob %s, which it does not hold",
			             c->src->env.dir, (unsigned long long)seq, hex);
		else if (r)
			rc = cji_err_mdb(r, "journal %s: cannot read blob %s", c->src->env.dir, hex);
		else if ((r = mdb_put(w, c->dst.blobs, &k, &v, MDB_NOOVERWRITE)) && r != MDB_KEYEXIST)
			rc = put_rc(c, r, "a blob");
	}
	cj_event_free(ev);
	return rc;
}

static int chunk_events(cut_ctx *c, MDB_txn *w, cut_pos *p)
{
	MDB_cursor *cur;
	int r = mdb_cursor_open(c->rtxn, c->src->env.events, &cur);
	if (r)
		return cji_err_mdb(r, "journal %s: cannot open a cursor", c->src->env.dir);
	uint8_t kb[CJI_SEQ_KEY_LEN];
	cji_key_seq(kb, p->seq);
	MDB_val k = { sizeof kb, kb }, v;
	size_t n = 0, bytes = 0;
	int rc = 0;
	r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (!rc && p->seq <= c->cut && n < CHUNK_RECORDS && bytes < CHUNK_BYTES) {
		if (r == 0 && cji_key_seq_get(&k) != p->seq)
			r = MDB_NOTFOUND;
		if (r == MDB_NOTFOUND) {
			rc = cji_err(CJ_ECORRUPT, "journal %s: record %llu is missing (cutting at %llu)",
			             c->src->env.dir, (unsigned long long)p->seq, (unsigned long long)c->cut);
			break;
		}
		if (r) {
			rc = cji_err_mdb(r, "journal %s: read failed at record %llu", c->src->env.dir,
			                 (unsigned long long)p->seq);
			break;
		}
		if ((r = mdb_put(w, c->dst.events, &k, &v, MDB_APPEND))) {
			rc = put_rc(c, r, "a record");
			break;
		}
		if ((rc = put_blobs_of(c, w, p->seq, &v)))
			break;
		p->seq++;
		n++;
		bytes += v.mv_size;
		r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	p->done = p->seq > c->cut;
	return rc;
}

static int chunk_idem(cut_ctx *c, MDB_txn *w, cut_pos *p)
{
	MDB_cursor *cur;
	int r = mdb_cursor_open(c->rtxn, c->src->env.idem, &cur);
	if (r)
		return cji_err_mdb(r, "journal %s: cannot open a cursor", c->src->env.dir);
	MDB_val k = { p->key_len, p->key }, v;
	r = mdb_cursor_get(cur, &k, &v, p->key_len ? MDB_SET_RANGE : MDB_FIRST);
	if (r == 0 && p->key_len && k.mv_size == p->key_len && !memcmp(k.mv_data, p->key, p->key_len))
		r = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* p->key was the last one written */
	size_t n = 0;
	int rc = 0;
	for (; r == 0 && n < CHUNK_RECORDS; r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t seq;
		uint8_t fp[16];
		if (k.mv_size == 0 || k.mv_size > CJI_ID_MAX || cji_idem_val_get(&v, &seq, fp) != 0) {
			rc = cji_err(CJ_ECORRUPT, "journal %s: malformed idempotency entry", c->src->env.dir);
			break;
		}
		memcpy(p->key, k.mv_data, k.mv_size);
		p->key_len = k.mv_size;
		n++;
		if (seq > c->cut)
			continue;
		if ((r = mdb_put(w, c->dst.idem, &k, &v, MDB_APPEND))) {
			rc = put_rc(c, r, "an idempotency entry");
			r = 0;
			break;
		}
	}
	mdb_cursor_close(cur);
	if (!rc && r && r != MDB_NOTFOUND)
		rc = cji_err_mdb(r, "journal %s: cannot read idempotency entries", c->src->env.dir);
	p->done = !rc && r == MDB_NOTFOUND;
	return rc;
}

/* The commit times up to the cut, and the meta that says what they cover.
 * A group commit the cut splits keeps its time for the part kept, when
 * where it began is known (after an earlier entry, or at commits_from). */
static int chunk_commits(cut_ctx *c, MDB_txn *w, cut_pos *p)
{
	const cji_commit *v = c->commits;
	const cji_journal_meta meta = c->meta;
	size_t n = c->ncommits;
	int rc = 0;
	uint64_t prev = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		cji_commit_kv kv;
		int known_start = i > 0 || (meta.commits_from && meta.commits_from <= c->cut);
		if (v[i].last_seq <= c->cut) {
			cji_commit_entry(&kv, v[i].last_seq, v[i].ms);
		} else if (prev < c->cut && known_start) {
			cji_commit_entry(&kv, c->cut, v[i].ms);
			n = i + 1;
		} else {
			break;
		}
		int r = mdb_put(w, c->dst.commits, &kv.key, &kv.val, MDB_APPEND);
		if (r)
			rc = put_rc(c, r, "a commit time");
		prev = v[i].last_seq;
	}
	/* commits_from: src's when known (none recorded past the cut: cut + 1);
	 * a source without the table has no time for any kept record. */
	MDB_val name;
	cji_meta_name(&name, CJI_META_COMMITS_FROM);
	int r = 0;
	if (!rc && meta.commits_from == 0 && c->src->env.has_commits) {
		r = mdb_del(w, c->dst.meta, &name, NULL);
		if (r == MDB_NOTFOUND)
			r = 0;
	} else if (!rc) {
		uint64_t from = meta.commits_from ? meta.commits_from : c->cut + 1;
		if (from > c->cut + 1)
			from = c->cut + 1;
		cji_meta_kv kv;
		cji_meta_u64(&kv, CJI_META_COMMITS_FROM, from);
		r = mdb_put(w, c->dst.meta, &kv.key, &kv.val, 0);
	}
	if (!rc && !r && meta.created_ms) {
		cji_meta_kv kv;
		cji_meta_u64(&kv, CJI_META_CREATED, (uint64_t)meta.created_ms);
		r = mdb_put(w, c->dst.meta, &kv.key, &kv.val, 0);
	}
	if (!rc && r)
		rc = put_rc(c, r, "meta");
	p->done = !rc;
	return rc;
}

typedef int (*chunk_fn)(cut_ctx *c, MDB_txn *w, cut_pos *p);

/* Run fn in write transactions until it is done; a full map is grown and
 * the chunk run again from where it began. */
static int run(cut_ctx *c, chunk_fn fn)
{
	cut_pos p = { 1, { 0 }, 0, 0 };
	while (!p.done) {
		cut_pos start = p;
		MDB_txn *w;
		int rc = cji_env_write_begin(&c->dst, &w);
		if (rc)
			return cji_err_mdb(rc, "journal %s: cannot begin a transaction", c->dst.dir);
		rc = fn(c, w, &p);
		if (rc) {
			cji_env_write_abort(&c->dst, w);
		} else if ((rc = cji_env_write_commit(&c->dst, w))) {
			rc = put_rc(c, rc, "a chunk");
		}
		if (rc == AGAIN) {
			p = start;
			if ((rc = cji_env_grow(&c->dst)))
				return rc;
			continue;
		}
		if (rc)
			return rc;
		if (fn == chunk_events && c->progress)
			c->progress(p.seq - 1, c->cut, c->arg);
	}
	return 0;
}

int cji_journal_cut(const char *dst_dir, cji_journal *src, uint64_t cut, cj_progress_fn progress,
                    void *arg)
{
	uint64_t last = 0;
	cj_journal_stats st;
	int rc = cji_journal_last_seq(&last, src);
	if (!rc)
		rc = cji_journal_stats(&st, src);
	if (rc)
		return rc;
	if (cut > last)
		return cji_err(CJ_ECORRUPT, "journal %s ends at record %llu, before the cut at %llu",
		               src->env.dir, (unsigned long long)last, (unsigned long long)cut);
	cut_ctx c;
	memset(&c, 0, sizeof c);
	c.src = src;
	c.cut = cut;
	c.progress = progress;
	c.arg = arg;
	/* Start the map at what the source uses, so a big cut grows it rarely. */
	uint64_t initial = st.map_used + st.map_used / 4;
	if (initial < CJI_MAP_DEFAULT_INITIAL)
		initial = CJI_MAP_DEFAULT_INITIAL;
	uint64_t ceiling = initial > CJI_MAP_DEFAULT_CEILING ? initial : CJI_MAP_DEFAULT_CEILING;
	if ((rc = cji_journal_meta_get(&c.meta, src)) ||
	    (rc = cji_commits_list(&c.commits, &c.ncommits, src)))
		return rc;
	if ((rc = cji_env_open(&c.dst, dst_dir, initial, ceiling, CJI_ENV_RW, 1)) == 0) {
		if ((rc = cji_env_read_begin(&src->env, &c.rtxn)) == 0) {
			if (!(rc = run(&c, chunk_events)) && !(rc = run(&c, chunk_idem)))
				rc = run(&c, chunk_commits);
			cji_env_read_end(&src->env, c.rtxn);
		}
		cji_env_close(&c.dst);
	}
	free(c.commits);
	return rc;
}
