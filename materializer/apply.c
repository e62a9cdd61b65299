/* materializer/apply.c — one journal event -> rows in the projection.
 * Runs inside the materializer's (or replay's) open transaction; every
 * statement is prepared once. FTS rows are written explicitly (no triggers):
 * external-content FTS5 needs the exact old values on delete, which we read
 * from the content row just before deleting it. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "materializer/apply.h"
#include "materializer/db.h"
#include "journal/event_internal.h"
#include "journal/blob_info.h"
#include "common/err.h"
#include "common/timeutil.h"
#include "common/buf.h"
#include "materializer/rowcache.h"

enum {
	S_THREAD_UPSERT, S_THREAD_GET, S_THREAD_CONFIG_SET, S_USER_TOUCH, S_USER_SET, S_USER_GET,
	S_USER_THREAD, S_MSG_INSERT, S_MSG_FTS, S_COST, S_BLOB, S_IMG_INSERT, S_IMG_FTS,
	S_SETTING_GET, S_SETTING_PUT, S_AUDIT, S_METRIC, S_POSITION,
	S_THREAD_FLUSH, S_USER_FLUSH, S_UT_FLUSH, S_COUNT
};

static const char *const SQL[S_COUNT] = {
	[S_THREAD_UPSERT] =
	"INSERT INTO threads (thread, server, channel, created_ms, created, last_activity_ms,"
	" last_activity, message_count, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?5, ?6, ?7)"
	" ON CONFLICT (thread) DO UPDATE SET server = coalesce(excluded.server, server),"
	" channel = coalesce(excluded.channel, channel),"
	" last_activity = CASE WHEN ?8 AND excluded.created_ms > last_activity_ms"
	"   THEN excluded.created ELSE last_activity END,"
	" last_activity_ms = CASE WHEN ?8 AND excluded.created_ms > last_activity_ms"
	"   THEN excluded.created_ms ELSE last_activity_ms END,"
	" message_count = message_count + excluded.message_count, seq = excluded.seq"
	" RETURNING thread_rowid, config",
	[S_THREAD_GET] = "SELECT thread_rowid FROM threads WHERE thread = ?1",
	[S_THREAD_CONFIG_SET] = "UPDATE threads SET config = ?2, seq = ?3 WHERE thread_rowid = ?1",
	[S_USER_TOUCH] =
	"INSERT INTO users (user, first_seen_ms, first_seen, last_seen_ms, last_seen, seq)"
	" VALUES (?1, ?2, ?3, ?2, ?3, ?4) ON CONFLICT (user) DO UPDATE SET"
	" last_seen = CASE WHEN excluded.last_seen_ms > last_seen_ms THEN excluded.last_seen ELSE last_seen END,"
	" last_seen_ms = max(last_seen_ms, excluded.last_seen_ms), seq = excluded.seq"
	" RETURNING user_rowid, config",
	[S_USER_SET] =
	"UPDATE users SET username = coalesce(?2, username), timezone = coalesce(?3, timezone),"
	" tz_label = coalesce(?4, tz_label), tz_offset = coalesce(?5, tz_offset),"
	" config = CASE WHEN ?6 THEN ?7 ELSE config END WHERE user_rowid = ?1",
	[S_USER_GET] = "SELECT user_rowid FROM users WHERE user = ?1",
	[S_USER_THREAD] =
	"INSERT INTO user_threads (user_rowid, thread_rowid, last_activity_ms, message_count)"
	" VALUES (?1, ?2, ?3, 1) ON CONFLICT DO UPDATE SET"
	" last_activity_ms = max(last_activity_ms, excluded.last_activity_ms),"
	" message_count = message_count + 1",
	[S_MSG_INSERT] =
	"INSERT INTO messages (seq, thread_rowid, user_rowid, role, content, server, channel,"
	" message_ts, metadata, id, ts_ms, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[S_MSG_FTS] = "INSERT INTO messages_fts (rowid, content) VALUES (?1, ?2)",
	[S_COST] =
	"INSERT INTO message_costs (seq, user_rowid, model, input_tokens, output_tokens, usd, ts_ms, day)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_BLOB] =
	"INSERT INTO blobs (blob, size, mime_type, first_seq) VALUES (?1, ?2, ?3, ?4)"
	" ON CONFLICT (blob) DO NOTHING",
	[S_IMG_INSERT] =
	"INSERT INTO images (seq, thread_rowid, url, kind, prompt, analysis, original_analysis,"
	" metadata, blob, thumbnail, has_thumbnail, id, ts_ms, ts)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[S_IMG_FTS] = "INSERT INTO images_fts (rowid, prompt, analysis) VALUES (?1, ?2, ?3)",
	[S_SETTING_GET] = "SELECT value, sensitive FROM settings WHERE key = ?1",
	[S_SETTING_PUT] =
	"INSERT INTO settings (key, value, category, sensitive, actor, description, updated_ms,"
	" updated, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (key) DO UPDATE SET"
	" value = excluded.value, category = coalesce(excluded.category, category),"
	" sensitive = excluded.sensitive, actor = excluded.actor,"
	" description = coalesce(excluded.description, description),"
	" updated_ms = excluded.updated_ms, updated = excluded.updated, seq = excluded.seq",
	[S_AUDIT] =
	"INSERT INTO config_changes (seq, scope, subject, actor, old_value, new_value, sensitive,"
	" ts_ms, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[S_METRIC] =
	"INSERT INTO metrics (seq, name, value, unit, tags, ts_ms, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_POSITION] = "UPDATE journal_position SET seq = ?1, updated_ms = ?2 WHERE id = 1",
	[S_THREAD_FLUSH] =
	"UPDATE threads SET message_count = message_count + ?2,"
	" last_activity = CASE WHEN ?3 > last_activity_ms THEN ?4 ELSE last_activity END,"
	" last_activity_ms = max(last_activity_ms, ?3), server = coalesce(?5, server),"
	" channel = coalesce(?6, channel), seq = ?7 WHERE thread_rowid = ?1",
	[S_USER_FLUSH] =
	"UPDATE users SET last_seen = CASE WHEN ?2 > last_seen_ms THEN ?3 ELSE last_seen END,"
	" last_seen_ms = max(last_seen_ms, ?2), seq = ?4 WHERE user_rowid = ?1",
	[S_UT_FLUSH] =
	"UPDATE user_threads SET last_activity_ms = max(last_activity_ms, ?3),"
	" message_count = message_count + ?4 WHERE user_rowid = ?1 AND thread_rowid = ?2",
};

#define MASK "\"***\""

/* FTS rows wait here until the end of the batch (or the next deletion):
 * every other statement opens a statement savepoint, and FTS5 flushes its
 * pending terms to a new segment at every savepoint. Inserting the FTS rows
 * back to back lets FTS5 build large segments (PERFORMANCE.md). */
typedef struct fts_row {
	int64_t seq;
	int images;
	size_t off[2];    /* text offsets in fts_text; SIZE_MAX = NULL */
} fts_row;

#define FTS_PENDING_BYTES ((size_t)64 << 20)

struct cji_apply {
	sqlite3 *db;
	cj_store *store;
	sqlite3_stmt *st[S_COUNT];
	fts_row *fts;
	size_t nfts, capfts;
	cji_buf fts_text;
	cji_rowcache threads, users, user_threads;  /* see rowcache.h */
};

int cji_apply_new(cji_apply **out, sqlite3 *db, cj_store *s)
{
	*out = NULL;
	cji_apply *a = calloc(1, sizeof *a);
	if (!a)
		return cji_err(CJ_ENOMEM, "out of memory");
	a->db = db;
	a->store = s;
	for (int i = 0; i < S_COUNT; i++) {
		int rc = cji_db_prepare(db, SQL[i], &a->st[i]);
		if (rc) {
			cji_apply_free(a);
			return rc;
		}
	}
	*out = a;
	return 0;
}

void cji_apply_free(cji_apply *a)
{
	if (!a)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(a->st[i]);
	free(a->fts);
	cji_buf_free(&a->fts_text);
	cji_rowcache_free(&a->threads);
	cji_rowcache_free(&a->users);
	cji_rowcache_free(&a->user_threads);
	free(a);
}

/* ---- binding helpers ---------------------------------------------------- */

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* JSON value as canonical text (sorted keys), or NULL; caller frees. */
static char *json_text(const json_t *v)
{
	if (!v)
		return NULL;
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void bind_owned(sqlite3_stmt *st, int i, char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, free);
	else
		sqlite3_bind_null(st, i);
}

static void bind_int_or_null(sqlite3_stmt *st, int i, const json_t *v)
{
	if (json_is_integer(v))
		sqlite3_bind_int64(st, i, json_integer_value(v));
	else
		sqlite3_bind_null(st, i);
}

static int step_done(cji_apply *a, sqlite3_stmt *st, const char *what, uint64_t seq)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return cji_err_sqlite(rc, sqlite3_errmsg(a->db), "apply %s (journal record %llu)", what,
	                      (unsigned long long)seq);
}

/* Step a RETURNING/SELECT statement; *id gets column 0 (0 if no row); *text
 * a copy of column 1 if asked. */
static int step_row(cji_apply *a, sqlite3_stmt *st, int64_t *id, char **text, const char *what,
                    uint64_t seq)
{
	int rc = sqlite3_step(st);
	*id = 0;
	if (text)
		*text = NULL;
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		if (text && sqlite3_column_type(st, 1) != SQLITE_NULL)
			*text = strdup((const char *)sqlite3_column_text(st, 1));
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE)
		return 0;
	return cji_err_sqlite(rc, sqlite3_errmsg(a->db), "apply %s (journal record %llu)", what,
	                      (unsigned long long)seq);
}

/* Run a one-off statement with up to 3 bound values: 'i' int64, 's' text, 'n' null. */
typedef struct arg { char t; int64_t i; const char *s; } arg;
static int run(cji_apply *a, const char *sql, uint64_t seq, int n, const arg *args)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(a->db, sql, -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(a->db), "prepare \"%.50s\"", sql);
	for (int i = 0; i < n; i++) {
		if (args[i].t == 'i')
			sqlite3_bind_int64(st, i + 1, args[i].i);
		else if (args[i].t == 's')
			sqlite3_bind_text(st, i + 1, args[i].s, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, i + 1);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return cji_err_sqlite(rc, sqlite3_errmsg(a->db), "apply \"%.50s\" (journal record %llu)",
		                      sql, (unsigned long long)seq);
	return 0;
}

/* ---- deferred FTS rows ------------------------------------------------ */

static size_t keep_text(cji_apply *a, const char *t)
{
	if (!t)
		return SIZE_MAX;
	size_t off = a->fts_text.len;
	if (cji_buf_append(&a->fts_text, t, strlen(t) + 1))
		return SIZE_MAX - 1;
	return off;
}

static const char *kept(cji_apply *a, size_t off)
{
	return off == SIZE_MAX ? NULL : (const char *)a->fts_text.data + off;
}

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

int cji_apply_flush(cji_apply *a)
{
	int rc = 0;
	for (size_t i = 0; i < a->nfts && !rc; i++) {
		fts_row *f = &a->fts[i];
		sqlite3_stmt *st = a->st[f->images ? S_IMG_FTS : S_MSG_FTS];
		sqlite3_bind_int64(st, 1, f->seq);
		bind_str(st, 2, kept(a, f->off[0]));
		if (f->images)
			bind_str(st, 3, kept(a, f->off[1]));
		rc = step_done(a, st, f->images ? "images_fts" : "messages_fts", (uint64_t)f->seq);
	}
	a->nfts = 0;
	cji_buf_reset(&a->fts_text);
	return rc;
}

/* Queue an FTS row; flushes when the queue holds too much text. */
static int fts_later(cji_apply *a, uint64_t seq, int images, const char *t0, const char *t1)
{
	if (a->nfts == a->capfts) {
		size_t cap = a->capfts ? a->capfts * 2 : 1024;
		fts_row *n = realloc(a->fts, cap * sizeof *n);
		if (!n)
			return cji_err(CJ_ENOMEM, "out of memory queueing FTS rows");
		a->fts = n;
		a->capfts = cap;
	}
	fts_row *f = &a->fts[a->nfts];
	f->seq = (int64_t)seq;
	f->images = images;
	f->off[0] = keep_text(a, t0);
	f->off[1] = keep_text(a, t1);
	if (f->off[0] == SIZE_MAX - 1 || f->off[1] == SIZE_MAX - 1)
		return cji_err(CJ_ENOMEM, "out of memory queueing FTS rows");
	a->nfts++;
	return a->fts_text.len > FTS_PENDING_BYTES ? cji_apply_flush(a) : 0;
}

/* ---- shared row makers -------------------------------------------------- */

static int thread_upsert(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext,
                         int count, int activity, int64_t *tid, char **config)
{
	sqlite3_stmt *st = a->st[S_THREAD_UPSERT];
	bind_str(st, 1, str(o, "thread"));
	bind_str(st, 2, str(o, "server"));
	bind_str(st, 3, str(o, "channel"));
	sqlite3_bind_int64(st, 4, ts);
	bind_str(st, 5, tstext);
	sqlite3_bind_int(st, 6, count);
	sqlite3_bind_int64(st, 7, (int64_t)seq);
	sqlite3_bind_int(st, 8, activity);
	return step_row(a, st, tid, config, "thread", seq);
}

static int user_touch(cji_apply *a, const char *user, uint64_t seq, int64_t ts, const char *tstext,
                      int64_t *uid, char **config)
{
	sqlite3_stmt *st = a->st[S_USER_TOUCH];
	bind_str(st, 1, user);
	sqlite3_bind_int64(st, 2, ts);
	bind_str(st, 3, tstext);
	sqlite3_bind_int64(st, 4, (int64_t)seq);
	return step_row(a, st, uid, config, "user", seq);
}

static int audit(cji_apply *a, uint64_t seq, const char *scope, const char *subject,
                 const char *actor, const char *old_v, const char *new_v, int sensitive,
                 int64_t ts, const char *tstext)
{
	sqlite3_stmt *st = a->st[S_AUDIT];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	bind_str(st, 2, scope);
	bind_str(st, 3, subject);
	bind_str(st, 4, actor);
	bind_str(st, 5, old_v && sensitive ? MASK : old_v);
	bind_str(st, 6, new_v && sensitive ? MASK : new_v);
	sqlite3_bind_int(st, 7, sensitive);
	sqlite3_bind_int64(st, 8, ts);
	bind_str(st, 9, tstext);
	return step_done(a, st, "config_changes", seq);
}

static int blob_row(cji_apply *a, const char *hash, uint64_t seq)
{
	if (!hash)
		return 0;
	uint64_t size = 0;
	const char *mime = NULL;
	int have = cji_blob_info(a->store, hash, &size, &mime) == 0;
	sqlite3_stmt *st = a->st[S_BLOB];
	bind_str(st, 1, hash);
	if (have)
		sqlite3_bind_int64(st, 2, (int64_t)size);
	else
		sqlite3_bind_null(st, 2);
	bind_str(st, 3, have ? mime : NULL);
	sqlite3_bind_int64(st, 4, (int64_t)seq);
	return step_done(a, st, "blobs", seq);
}

/* ---- per type ----------------------------------------------------------- */

static void bind_thread_agg(sqlite3_stmt *st, const cji_rowagg *e)
{
	sqlite3_bind_int64(st, 1, e->rowid);
	sqlite3_bind_int64(st, 2, e->count);
	sqlite3_bind_int64(st, 3, e->act_ms);
	bind_str(st, 4, e->act);
	bind_str(st, 5, e->server);
	bind_str(st, 6, e->channel);
	sqlite3_bind_int64(st, 7, e->seq);
}

static void bind_user_agg(sqlite3_stmt *st, const cji_rowagg *e)
{
	sqlite3_bind_int64(st, 1, e->rowid);
	sqlite3_bind_int64(st, 2, e->act_ms);
	bind_str(st, 3, e->act);
	sqlite3_bind_int64(st, 4, e->seq);
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
		rc = step_done(a, a->st[stmt], what, (uint64_t)e->seq);
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

static int keep_latest(char **slot, const char *v)
{
	if (!v)
		return 0;
	char *c = strdup(v);
	if (!c)
		return cji_err(CJ_ENOMEM, "out of memory");
	free(*slot);
	*slot = c;
	return 0;
}

/* The thread row of a message: inserted at first sight, else aggregated. */
static int message_thread(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts,
                          const char *tstext, int64_t *tid)
{
	const char *thread = str(o, "thread");
	cji_rowagg *e = cji_rowcache_get(&a->threads, thread);
	if (e) {
		*tid = e->rowid;
		cji_rowagg_touch(e, ts, tstext, (int64_t)seq);
		e->count++;
		int rc = keep_latest(&e->server, str(o, "server"));
		return rc ? rc : keep_latest(&e->channel, str(o, "channel"));
	}
	int rc = thread_upsert(a, o, seq, ts, tstext, 1, 1, tid, NULL);
	if (!rc && !cji_rowcache_put(&a->threads, thread, *tid))
		rc = cji_err(CJ_ENOMEM, "out of memory");
	return rc;
}

static int message_user(cji_apply *a, const char *user, int64_t tid, uint64_t seq, int64_t ts,
                        const char *tstext, int64_t *uid)
{
	cji_rowagg *e = cji_rowcache_get(&a->users, user);
	int rc = 0;
	if (e) {
		*uid = e->rowid;
		cji_rowagg_touch(e, ts, tstext, (int64_t)seq);
	} else if ((rc = user_touch(a, user, seq, ts, tstext, uid, NULL)) == 0 &&
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
	if ((rc = step_done(a, st, "user_threads", seq)))
		return rc;
	if (!(ut = cji_rowcache_put(&a->user_threads, key, *uid)))
		return cji_err(CJ_ENOMEM, "out of memory");
	ut->rowid2 = tid;
	return 0;
}

static int apply_message(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext)
{
	int64_t tid, uid = 0;
	int rc = message_thread(a, o, seq, ts, tstext, &tid);
	const char *user = str(o, "user");
	if (!rc && user)
		rc = message_user(a, user, tid, seq, ts, tstext, &uid);
	if (rc)
		return rc;
	sqlite3_stmt *st = a->st[S_MSG_INSERT];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int64(st, 2, tid);
	if (uid)
		sqlite3_bind_int64(st, 3, uid);
	else
		sqlite3_bind_null(st, 3);
	bind_str(st, 4, str(o, "role"));
	bind_str(st, 5, str(o, "content"));
	bind_str(st, 6, str(o, "server"));
	bind_str(st, 7, str(o, "channel"));
	bind_str(st, 8, str(o, "message_ts"));
	bind_owned(st, 9, json_text(json_object_get(o, "metadata")));
	bind_str(st, 10, str(o, "id"));
	sqlite3_bind_int64(st, 11, ts);
	bind_str(st, 12, tstext);
	if ((rc = step_done(a, st, "messages", seq)))
		return rc;
	if ((rc = fts_later(a, seq, 0, str(o, "content"), NULL)))
		return rc;
	const json_t *cost = json_object_get(o, "cost");
	if (!json_is_object(cost))
		return 0;
	char day[32];
	snprintf(day, sizeof day, "%.10s", tstext);
	st = a->st[S_COST];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	if (uid)
		sqlite3_bind_int64(st, 2, uid);
	else
		sqlite3_bind_null(st, 2);
	bind_str(st, 3, str(cost, "model"));
	bind_int_or_null(st, 4, json_object_get(cost, "input_tokens"));
	bind_int_or_null(st, 5, json_object_get(cost, "output_tokens"));
	const json_t *usd = json_object_get(cost, "usd");
	if (json_is_number(usd))
		sqlite3_bind_double(st, 6, json_number_value(usd));
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, ts);
	bind_str(st, 8, day);
	return step_done(a, st, "message_costs", seq);
}

static int apply_image(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext)
{
	int64_t tid;
	int rc = thread_upsert(a, o, seq, ts, tstext, 0, 1, &tid, NULL);
	if (!rc)
		rc = blob_row(a, str(o, "blob"), seq);
	if (!rc)
		rc = blob_row(a, str(o, "thumbnail"), seq);
	if (rc)
		return rc;
	sqlite3_stmt *st = a->st[S_IMG_INSERT];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int64(st, 2, tid);
	bind_str(st, 3, str(o, "url"));
	bind_str(st, 4, str(o, "kind"));
	bind_str(st, 5, str(o, "prompt"));
	bind_str(st, 6, str(o, "analysis"));
	bind_str(st, 7, str(o, "original_analysis"));
	bind_owned(st, 8, json_text(json_object_get(o, "metadata")));
	bind_str(st, 9, str(o, "blob"));
	bind_str(st, 10, str(o, "thumbnail"));
	sqlite3_bind_int(st, 11, str(o, "thumbnail") != NULL);
	bind_str(st, 12, str(o, "id"));
	sqlite3_bind_int64(st, 13, ts);
	bind_str(st, 14, tstext);
	if ((rc = step_done(a, st, "images", seq)))
		return rc;
	return fts_later(a, seq, 1, str(o, "prompt"), str(o, "analysis"));
}

static int apply_user(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext)
{
	int64_t uid;
	char *old = NULL;
	const char *user = str(o, "user");
	int rc = user_touch(a, user, seq, ts, tstext, &uid, &old);
	if (rc)
		return rc;
	const json_t *cfg = json_object_get(o, "config");
	char *new_cfg = json_text(cfg);
	sqlite3_stmt *st = a->st[S_USER_SET];
	sqlite3_bind_int64(st, 1, uid);
	bind_str(st, 2, str(o, "username"));
	bind_str(st, 3, str(o, "timezone"));
	bind_str(st, 4, str(o, "tz_label"));
	bind_int_or_null(st, 5, json_object_get(o, "tz_offset"));
	sqlite3_bind_int(st, 6, cfg != NULL);
	bind_str(st, 7, new_cfg);
	rc = step_done(a, st, "users", seq);
	if (!rc && cfg)
		rc = audit(a, seq, "user", user, str(o, "actor"), old, new_cfg, 0, ts, tstext);
	free(new_cfg);
	free(old);
	return rc;
}

static int apply_thread_config(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts,
                               const char *tstext)
{
	int64_t tid;
	char *old = NULL;
	int rc = thread_upsert(a, o, seq, ts, tstext, 0, 0, &tid, &old);
	if (rc)
		return rc;
	char *new_cfg = json_text(json_object_get(o, "config"));
	sqlite3_stmt *st = a->st[S_THREAD_CONFIG_SET];
	sqlite3_bind_int64(st, 1, tid);
	bind_str(st, 2, new_cfg);
	sqlite3_bind_int64(st, 3, (int64_t)seq);
	rc = step_done(a, st, "threads", seq);
	if (!rc)
		rc = audit(a, seq, "thread", str(o, "thread"), NULL, old, new_cfg, 0, ts, tstext);
	free(new_cfg);
	free(old);
	return rc;
}

static int apply_setting(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext)
{
	const char *key = str(o, "key");
	int sensitive = json_is_true(json_object_get(o, "sensitive"));
	sqlite3_stmt *st = a->st[S_SETTING_GET];
	bind_str(st, 1, key);
	char *old = NULL;
	int old_sensitive = 0;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		old = strdup((const char *)sqlite3_column_text(st, 0));
		old_sensitive = sqlite3_column_int(st, 1);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		free(old);
		return cji_err_sqlite(rc, sqlite3_errmsg(a->db), "apply settings (journal record %llu)",
		                      (unsigned long long)seq);
	}
	char *value = json_text(json_object_get(o, "value"));
	st = a->st[S_SETTING_PUT];
	bind_str(st, 1, key);
	bind_str(st, 2, sensitive ? MASK : value);
	bind_str(st, 3, str(o, "category"));
	sqlite3_bind_int(st, 4, sensitive);
	bind_str(st, 5, str(o, "actor"));
	bind_str(st, 6, str(o, "description"));
	sqlite3_bind_int64(st, 7, ts);
	bind_str(st, 8, tstext);
	sqlite3_bind_int64(st, 9, (int64_t)seq);
	rc = step_done(a, st, "settings", seq);
	if (!rc)
		rc = audit(a, seq, "setting", key, str(o, "actor"), old, value, sensitive || old_sensitive,
		           ts, tstext);
	free(value);
	free(old);
	return rc;
}

static int apply_metric(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext)
{
	sqlite3_stmt *st = a->st[S_METRIC];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	bind_str(st, 2, str(o, "name"));
	sqlite3_bind_double(st, 3, json_number_value(json_object_get(o, "value")));
	bind_str(st, 4, str(o, "unit"));
	bind_owned(st, 5, json_text(json_object_get(o, "tags")));
	sqlite3_bind_int64(st, 6, ts);
	bind_str(st, 7, tstext);
	return step_done(a, st, "metrics", seq);
}

/* Remove messages matching `where` (over alias m, params ?1..?3) with their
 * FTS rows and costs, images likewise if img_where is given, then fix counts. */
static int delete_rows(cji_apply *a, uint64_t seq, const char *msg_where, const char *img_where,
                       int n, const arg *args)
{
	char sql[1024];
	int rc = 0;
	snprintf(sql, sizeof sql,
	         "INSERT INTO messages_fts (messages_fts, rowid, content)"
	         " SELECT 'delete', seq, content FROM messages m WHERE %s", msg_where);
	if (!rc) rc = run(a, sql, seq, n, args);
	snprintf(sql, sizeof sql,
	         "DELETE FROM message_costs WHERE seq IN (SELECT seq FROM messages m WHERE %s)", msg_where);
	if (!rc) rc = run(a, sql, seq, n, args);
	snprintf(sql, sizeof sql, "DELETE FROM messages AS m WHERE %s", msg_where);
	if (!rc) rc = run(a, sql, seq, n, args);
	if (img_where) {
		snprintf(sql, sizeof sql,
		         "INSERT INTO images_fts (images_fts, rowid, prompt, analysis)"
		         " SELECT 'delete', seq, prompt, analysis FROM images m WHERE %s", img_where);
		if (!rc) rc = run(a, sql, seq, n, args);
		snprintf(sql, sizeof sql, "DELETE FROM images AS m WHERE %s", img_where);
		if (!rc) rc = run(a, sql, seq, n, args);
	}
	return rc;
}

static int drop_orphan_blobs(cji_apply *a, uint64_t seq)
{
	return run(a,
	           "DELETE FROM blobs WHERE blob NOT IN (SELECT blob FROM images WHERE blob IS NOT NULL"
	           " UNION SELECT thumbnail FROM images WHERE thumbnail IS NOT NULL)", seq, 0, NULL);
}

/* After deletions: message counts of threads and user-thread pairs, and
 * blob rows no image refers to. uid > 0 limits the work to one user's
 * threads (clear_history deletes only that user's messages); uid == 0
 * recounts everything in single grouped passes (purge). delete_thread needs
 * only the blob part: it removes its thread's rows entirely. Per-pair
 * correlated counts made one deletion take ~30 s at 100k messages. */
static int fix_counts(cji_apply *a, uint64_t seq, int64_t uid)
{
	arg args[1] = { { 'i', uid, NULL } };
	int rc = 0;
	if (uid > 0) {
		rc = run(a,
		         "UPDATE threads SET message_count = (SELECT count(*) FROM messages m"
		         " WHERE m.thread_rowid = threads.thread_rowid)"
		         " WHERE thread_rowid IN (SELECT thread_rowid FROM user_threads WHERE user_rowid = ?1)",
		         seq, 1, args);
		if (!rc)
			rc = run(a,
			         "UPDATE user_threads SET message_count = (SELECT count(*) FROM messages m"
			         " WHERE m.user_rowid = ?1 AND m.thread_rowid = user_threads.thread_rowid)"
			         " WHERE user_rowid = ?1", seq, 1, args);
		if (!rc)
			rc = run(a, "DELETE FROM user_threads WHERE user_rowid = ?1 AND message_count = 0",
			         seq, 1, args);
	} else {
		static const char *const all[] = {
			"UPDATE threads SET message_count = 0",
			"UPDATE threads SET message_count = c.n FROM (SELECT thread_rowid, count(*) AS n"
			" FROM messages GROUP BY thread_rowid) AS c WHERE c.thread_rowid = threads.thread_rowid",
			"UPDATE user_threads SET message_count = 0",
			"UPDATE user_threads SET message_count = c.n FROM (SELECT user_rowid, thread_rowid,"
			" count(*) AS n FROM messages WHERE user_rowid IS NOT NULL GROUP BY user_rowid, thread_rowid)"
			" AS c WHERE c.user_rowid = user_threads.user_rowid"
			" AND c.thread_rowid = user_threads.thread_rowid",
			"DELETE FROM user_threads WHERE message_count = 0",
		};
		for (size_t i = 0; i < sizeof all / sizeof all[0] && !rc; i++)
			rc = run(a, all[i], seq, 0, NULL);
	}
	if (!rc)
		rc = drop_orphan_blobs(a, seq);
	return rc;
}

/* Row id of a thread or user by its text id (0 if unknown). */
static int rowid_of(cji_apply *a, int stmt, const char *key, uint64_t seq, int64_t *id)
{
	sqlite3_stmt *st = a->st[stmt];
	bind_str(st, 1, key);
	return step_row(a, st, id, NULL, stmt == S_THREAD_GET ? "threads" : "users", seq);
}

static int apply_delete_thread(cji_apply *a, const json_t *o, uint64_t seq)
{
	int64_t tid;
	int rc = rowid_of(a, S_THREAD_GET, str(o, "thread"), seq, &tid);
	if (rc || tid == 0)
		return rc;
	arg args[1] = { { 'i', tid, NULL } };
	rc = delete_rows(a, seq, "m.thread_rowid = ?1", "m.thread_rowid = ?1", 1, args);
	if (!rc) rc = run(a, "DELETE FROM user_threads WHERE thread_rowid = ?1", seq, 1, args);
	if (!rc) rc = run(a, "DELETE FROM threads WHERE thread_rowid = ?1", seq, 1, args);
	if (!rc) rc = drop_orphan_blobs(a, seq);
	return rc;
}

static int apply_clear_history(cji_apply *a, const json_t *o, uint64_t seq)
{
	int64_t uid;
	int rc = rowid_of(a, S_USER_GET, str(o, "user"), seq, &uid);
	if (rc || uid == 0)
		return rc;
	const char *server = str(o, "server");
	arg args[2] = { { 'i', uid, NULL }, { server ? 's' : 'n', 0, server } };
	rc = delete_rows(a, seq, "m.user_rowid = ?1 AND (?2 IS NULL OR m.server = ?2)", NULL, 2, args);
	if (!rc)
		rc = fix_counts(a, seq, uid);
	return rc;
}

static int apply_purge(cji_apply *a, int64_t before, uint64_t seq)
{
	arg args[1] = { { 'i', before, NULL } };
	int rc = delete_rows(a, seq, "m.ts_ms < ?1", "m.ts_ms < ?1", 1, args);
	if (!rc) rc = run(a, "DELETE FROM metrics WHERE ts_ms < ?1", seq, 1, args);
	if (!rc) rc = fix_counts(a, seq, 0);
	return rc;
}

int cji_apply_event(cji_apply *a, uint64_t seq, const cj_event *ev, int64_t ts_ms)
{
	const json_t *o = ev->obj;
	char tstext[32];
	cji_time_format(ts_ms, tstext);
	if (ev->type != CJ_EVENT_MESSAGE) {
		/* Other events read or change the rows messages aggregate into. */
		int rc = flush_aggregates(a);
		if (rc)
			return rc;
		forget_rows(a, 1);
	}
	if (ev->type == CJ_EVENT_DELETE_THREAD || ev->type == CJ_EVENT_CLEAR_HISTORY ||
	    ev->type == CJ_EVENT_PURGE) {
		/* FTS5 'delete' needs the rows in the index first; deleted rows
		 * must not stay cached. */
		int rc = cji_apply_flush(a);
		if (rc)
			return rc;
		forget_rows(a, 0);
	}
	switch (ev->type) {
	case CJ_EVENT_MESSAGE: return apply_message(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_IMAGE: return apply_image(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_USER: return apply_user(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_THREAD_CONFIG: return apply_thread_config(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_DELETE_THREAD: return apply_delete_thread(a, o, seq);
	case CJ_EVENT_CLEAR_HISTORY: return apply_clear_history(a, o, seq);
	case CJ_EVENT_PURGE: {
		int64_t before;
		const json_t *b = json_object_get(o, "before");
		if (json_is_integer(b))
			before = json_integer_value(b);
		else if (!json_is_string(b) || cji_time_parse(json_string_value(b), &before) != 0)
			return cji_err(CJ_ECORRUPT, "journal record %llu: purge without a valid 'before'",
			               (unsigned long long)seq);
		return apply_purge(a, before, seq);
	}
	case CJ_EVENT_SETTING: return apply_setting(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_METRIC: return apply_metric(a, o, seq, ts_ms, tstext);
	default:
		return cji_err(CJ_ECORRUPT, "journal record %llu: unknown event type %d",
		               (unsigned long long)seq, (int)ev->type);
	}
}

int cji_apply_position(cji_apply *a, uint64_t seq, int64_t now_ms)
{
	int rc = flush_aggregates(a);
	if (!rc)
		rc = cji_apply_flush(a);
	if (!rc)
		forget_rows(a, 1);
	if (rc)
		return rc;
	sqlite3_stmt *st = a->st[S_POSITION];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int64(st, 2, now_ms);
	return step_done(a, st, "journal_position", seq);
}
