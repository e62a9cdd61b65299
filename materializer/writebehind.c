/* materializer/writebehind.c — what a batch holds back until it ends.
 *
 * FTS rows: every statement but an FTS insert opens a statement savepoint,
 * and FTS5 flushes its pending terms to a new segment at each savepoint.
 * Interleaved with the content rows, FTS inserts were ~6x slower; queued here
 * and inserted back to back at the end of the batch (or before a deletion),
 * FTS5 builds large segments.
 *
 * Aggregates: a message changes its thread's, user's and (user, thread)'s
 * counts and latest activity. The first message of a batch for a row inserts
 * or updates it; later ones only update the cached aggregate (rowcache.h),
 * written once per row by cji_wb_settle.
 *
 * In a replay with a side file (fts_side.h) the queue also carries the
 * removals, in journal order, and goes to the side file's thread.
 *
 * Neither is visible in the result: the state hash of a projection built in
 * big replay batches equals that of one built live in small ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "materializer/apply_sql.h"
#include "common/err.h"

#define FTS_PENDING_BYTES ((size_t)64 << 20)

/* ---- FTS rows ------------------------------------------------------------ */

/* Copy t (may be NULL) into the text buffer; *off and *has describe it. */
static int keep_text(cji_apply *a, const char *t, size_t *off, unsigned char *has)
{
	*off = a->fts_text.len;
	*has = t != NULL;
	if (t && cji_buf_append(&a->fts_text, t, strlen(t) + 1))
		return cji_err(CJ_ENOMEM, "out of memory queueing FTS rows");
	return 0;
}

static const char *kept(const cji_apply *a, const cji_fts_row *f, int col)
{
	return f->has[col] ? (const char *)a->fts_text.data + f->off[col] : NULL;
}

int cji_apply_flush(cji_apply *a)
{
	if (a->side)
		return cji_fts_side_hand(a->side, a);
	int rc = 0;
	for (size_t i = 0; i < a->nfts && !rc; i++) {
		cji_fts_row *f = &a->fts[i];
		sqlite3_stmt *st = a->st[f->images ? S_IMG_FTS : S_MSG_FTS];
		sqlite3_bind_int64(st, 1, f->seq);
		cji_bind_str(st, 2, kept(a, f, 0));
		if (f->images)
			cji_bind_str(st, 3, kept(a, f, 1));
		rc = cji_step_done(a, st, f->images ? "images_fts" : "messages_fts", (uint64_t)f->seq);
	}
	a->nfts = 0;
	cji_buf_reset(&a->fts_text);
	return rc;
}

static int queue_fts(cji_apply *a, uint64_t seq, int images, int del, const char *t0, const char *t1)
{
	if (a->nfts == a->capfts) {
		size_t cap = a->capfts ? a->capfts * 2 : 1024;
		cji_fts_row *n = realloc(a->fts, cap * sizeof *n);
		if (!n)
			return cji_err(CJ_ENOMEM, "out of memory queueing FTS rows");
		a->fts = n;
		a->capfts = cap;
	}
	cji_fts_row *f = &a->fts[a->nfts];
	f->seq = (int64_t)seq;
	f->images = images;
	f->del = del;
	int rc = keep_text(a, t0, &f->off[0], &f->has[0]);
	if (!rc)
		rc = keep_text(a, t1, &f->off[1], &f->has[1]);
	if (rc)
		return rc;
	a->nfts++;
	/* Bounded memory: a huge batch writes its FTS rows in a few runs. */
	return a->fts_text.len > FTS_PENDING_BYTES ? cji_apply_flush(a) : 0;
}

int cji_wb_fts(cji_apply *a, uint64_t seq, int images, const char *t0, const char *t1)
{
	return queue_fts(a, seq, images, 0, t0, t1);
}

int cji_wb_fts_del(cji_apply *a, uint64_t seq, int images, const char *t0, const char *t1)
{
	return queue_fts(a, seq, images, 1, t0, t1);
}

/* ---- aggregates ---------------------------------------------------------- */

/* Forget every cached row id (after a rollback, a deletion, or when the
 * caches grew past their bound). */
static void forget_rows(cji_apply *a, int only_if_big)
{
	if (only_if_big && a->threads.used <= CJI_ROWCACHE_MAX && a->users.used <= CJI_ROWCACHE_MAX &&
	    a->user_threads.used <= CJI_ROWCACHE_MAX)
		return;
	cji_rowcache_clear(&a->threads);
	cji_rowcache_clear(&a->users);
	cji_rowcache_clear(&a->user_threads);
}

void cji_apply_discard(cji_apply *a)
{
	a->nfts = 0;
	cji_buf_reset(&a->fts_text);
	/* Row ids created by the rolled-back transaction are gone. */
	forget_rows(a, 0);
}

static void bind_thread_agg(sqlite3_stmt *st, const cji_rowagg *e)
{
	sqlite3_bind_int64(st, 1, e->rowid);
	sqlite3_bind_int64(st, 2, e->count);
	sqlite3_bind_int64(st, 3, e->act_ms);
	cji_bind_str(st, 4, e->act);
	cji_bind_str(st, 5, e->server);
	cji_bind_str(st, 6, e->channel);
	sqlite3_bind_int64(st, 7, e->seq);
	sqlite3_bind_int64(st, 8, e->first_ms);
	cji_bind_str(st, 9, e->first);
}

static void bind_user_agg(sqlite3_stmt *st, const cji_rowagg *e)
{
	sqlite3_bind_int64(st, 1, e->rowid);
	sqlite3_bind_int64(st, 2, e->act_ms);
	cji_bind_str(st, 3, e->act);
	sqlite3_bind_int64(st, 4, e->seq);
	sqlite3_bind_int64(st, 5, e->first_ms);
	cji_bind_str(st, 6, e->first);
}

static void bind_user_thread_agg(sqlite3_stmt *st, const cji_rowagg *e)
{
	sqlite3_bind_int64(st, 1, e->rowid);
	sqlite3_bind_int64(st, 2, e->rowid2);
	sqlite3_bind_int64(st, 3, e->act_ms);
	sqlite3_bind_int64(st, 4, e->count);
}

/* Write the pending aggregates of one cache (one UPDATE per dirty row). */
static int flush_cache(cji_apply *a, cji_rowcache *c, int stmt,
                       void (*bind)(sqlite3_stmt *, const cji_rowagg *), const char *what)
{
	int rc = 0;
	for (size_t i = 0; i < c->cap && !rc; i++) {
		cji_rowagg *e = &c->slots[i];
		if (!e->key || !e->dirty)
			continue;
		bind(a->st[stmt], e);
		rc = cji_step_done(a, a->st[stmt], what, (uint64_t)e->seq);
		e->dirty = 0;
		e->count = 0;
		free(e->server);
		free(e->channel);
		e->server = e->channel = NULL;
	}
	return rc;
}

static int flush_aggregates(cji_apply *a)
{
	int rc = flush_cache(a, &a->threads, S_THREAD_FLUSH, bind_thread_agg, "threads");
	if (!rc)
		rc = flush_cache(a, &a->users, S_USER_FLUSH, bind_user_agg, "users");
	if (!rc)
		rc = flush_cache(a, &a->user_threads, S_UT_FLUSH, bind_user_thread_agg, "user_threads");
	return rc;
}

int cji_wb_settle(cji_apply *a, enum cji_wb_point at)
{
	int rc = flush_aggregates(a);
	/* with a side file a deletion's FTS removals queue behind the inserts:
	 * only the end of the batch hands them over */
	if (!rc && (at == CJI_WB_END || (at == CJI_WB_DELETE && !a->side)))
		rc = cji_apply_flush(a);
	if (!rc)
		forget_rows(a, at != CJI_WB_DELETE);
	return rc;
}

static int keep_latest(char **slot, const char *v)
{
	if (!v || (*slot && strcmp(*slot, v) == 0))
		return 0;
	char *c = strdup(v);
	if (!c)
		return cji_err(CJ_ENOMEM, "out of memory");
	free(*slot);
	*slot = c;
	return 0;
}

int cji_wb_message_thread(cji_apply *a, const cji_message_fields *m, uint64_t seq, int64_t ts,
                          const char *tstext, int64_t *tid)
{
	cji_rowagg *e = cji_rowcache_get(&a->threads, m->thread);
	if (e) {
		*tid = e->rowid;
		cji_rowagg_touch(e, ts, tstext, (int64_t)seq);
		e->count++;
		int rc = keep_latest(&e->server, m->server);
		return rc ? rc : keep_latest(&e->channel, m->channel);
	}
	int rc = cji_row_thread_upsert(a, m->thread, m->server, m->channel, seq, ts, tstext, 1, 1, tid,
	                               NULL);
	if (!rc && !cji_rowcache_put(&a->threads, m->thread, *tid))
		rc = cji_err(CJ_ENOMEM, "out of memory");
	return rc;
}

int cji_wb_message_user(cji_apply *a, const char *user, int64_t tid, uint64_t seq, int64_t ts,
                        const char *tstext, int64_t *uid)
{
	cji_rowagg *e = cji_rowcache_get(&a->users, user);
	int rc = 0;
	if (e) {
		*uid = e->rowid;
		cji_rowagg_touch(e, ts, tstext, (int64_t)seq);
	} else if ((rc = cji_row_user_touch(a, user, seq, ts, tstext, uid, NULL)) == 0 &&
	           !cji_rowcache_put(&a->users, user, *uid)) {
		return cji_err(CJ_ENOMEM, "out of memory");
	}
	if (rc)
		return rc;
	char key[48];
	snprintf(key, sizeof key, "%lld:%lld", (long long)*uid, (long long)tid);
	cji_rowagg *ut = cji_rowcache_get(&a->user_threads, key);
	if (ut) {
		cji_rowagg_touch(ut, ts, tstext, (int64_t)seq);
		ut->count++;
		return 0;
	}
	sqlite3_stmt *st = a->st[S_USER_THREAD];
	sqlite3_bind_int64(st, 1, *uid);
	sqlite3_bind_int64(st, 2, tid);
	sqlite3_bind_int64(st, 3, ts);
	if ((rc = cji_step_done(a, st, "user_threads", seq)))
		return rc;
	if (!(ut = cji_rowcache_put(&a->user_threads, key, *uid)))
		return cji_err(CJ_ENOMEM, "out of memory");
	ut->rowid2 = tid;
	return 0;
}
