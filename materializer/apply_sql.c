/* materializer/apply_sql.c — the applier's statements (each prepared once
 * on the writer connection), the state's lifecycle, binding and stepping
 * helpers, and the two row makers several event types share. The files of
 * the applier: materializer/apply_sql.h. */
#include <stdlib.h>
#include <string.h>
#include "materializer/apply_sql.h"
#include "materializer/db.h"
#include "common/err.h"

static const char *const SQL[S_COUNT] = {
	/* A thread or user row is looked up (S_*_GET), then inserted or touched:
	 * an upsert with RETURNING made SQLite build an ephemeral table per
	 * statement, ~15 us a row (docs/performance.md). The touch is what the
	 * insert would have been merged into the row: same parameters. */
	[S_THREAD_INSERT] =
	"INSERT INTO threads (thread, server, channel, created_ms, created, last_activity_ms,"
	" last_activity, message_count, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?5, ?6, ?7)",
	[S_THREAD_TOUCH] =
	"UPDATE threads SET server = coalesce(?2, server), channel = coalesce(?3, channel),"
	" created = CASE WHEN ?4 < created_ms THEN ?5 ELSE created END,"
	" created_ms = min(created_ms, ?4),"
	" last_activity = CASE WHEN ?8 AND ?4 > last_activity_ms THEN ?5 ELSE last_activity END,"
	" last_activity_ms = CASE WHEN ?8 AND ?4 > last_activity_ms THEN ?4 ELSE last_activity_ms END,"
	" message_count = message_count + ?6, seq = ?7 WHERE thread_rowid = ?9",
	[S_THREAD_GET] = "SELECT thread_rowid, config FROM threads WHERE thread = ?1",
	[S_THREAD_CONFIG_SET] = "UPDATE threads SET config = ?2, seq = ?3 WHERE thread_rowid = ?1",
	[S_USER_INSERT] =
	"INSERT INTO users (user, first_seen_ms, first_seen, last_seen_ms, last_seen, seq)"
	" VALUES (?1, ?2, ?3, ?2, ?3, ?4)",
	[S_USER_TOUCH] =
	"UPDATE users SET first_seen = CASE WHEN ?2 < first_seen_ms THEN ?3 ELSE first_seen END,"
	" first_seen_ms = min(first_seen_ms, ?2),"
	" last_seen = CASE WHEN ?2 > last_seen_ms THEN ?3 ELSE last_seen END,"
	" last_seen_ms = max(last_seen_ms, ?2), seq = ?4 WHERE user_rowid = ?5",
	[S_USER_SET] =
	"UPDATE users SET username = coalesce(?2, username), timezone = coalesce(?3, timezone),"
	" tz_label = coalesce(?4, tz_label), tz_offset = coalesce(?5, tz_offset),"
	" config = CASE WHEN ?6 THEN ?7 ELSE config END, display_name = coalesce(?8, display_name),"
	" is_bot = coalesce(?9, is_bot), avatar_url = coalesce(?10, avatar_url),"
	" metadata = coalesce(?11, metadata) WHERE user_rowid = ?1",
	[S_USER_GET] = "SELECT user_rowid, config FROM users WHERE user = ?1",
	[S_USER_THREAD] =
	"INSERT INTO user_threads (user_rowid, thread_rowid, last_activity_ms, message_count)"
	" VALUES (?1, ?2, ?3, 1) ON CONFLICT DO UPDATE SET"
	" last_activity_ms = max(last_activity_ms, excluded.last_activity_ms),"
	" message_count = message_count + 1",
	[S_MSG_INSERT] =
	"INSERT INTO messages (seq, thread_rowid, user_rowid, role, content, server, channel,"
	" message_ts, metadata, id, ts_ms, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	/* the same with the fields of 0.3: only for messages that have some */
	[S_MSG_INSERT_X] =
	"INSERT INTO messages (seq, thread_rowid, user_rowid, role, content, server, channel,"
	" message_ts, metadata, id, ts_ms, ts, reply_to, parent, name, tool_call_id, tool_calls, extras)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
	[S_MSG_FTS] = "INSERT INTO messages_fts (rowid, content) VALUES (?1, ?2)",
	[S_COST] =
	"INSERT INTO message_costs (seq, user_rowid, model, input_tokens, output_tokens, usd, ts_ms, day)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_BLOB] =
	"INSERT INTO blobs (blob, size, mime_type, first_seq) VALUES (?1, ?2, ?3, ?4)"
	" ON CONFLICT (blob) DO NOTHING",
	[S_IMG_INSERT] =
	"INSERT INTO images (seq, thread_rowid, url, kind, prompt, analysis, original_analysis,"
	" metadata, blob, thumbnail, has_thumbnail, id, ts_ms, ts, message)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
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
	" channel = coalesce(?6, channel), seq = ?7,"
	" created = CASE WHEN ?8 < created_ms THEN ?9 ELSE created END,"
	" created_ms = min(created_ms, ?8) WHERE thread_rowid = ?1",
	[S_USER_FLUSH] =
	"UPDATE users SET last_seen = CASE WHEN ?2 > last_seen_ms THEN ?3 ELSE last_seen END,"
	" last_seen_ms = max(last_seen_ms, ?2), seq = ?4,"
	" first_seen = CASE WHEN ?5 < first_seen_ms THEN ?6 ELSE first_seen END,"
	" first_seen_ms = min(first_seen_ms, ?5) WHERE user_rowid = ?1",
	[S_UT_FLUSH] =
	"UPDATE user_threads SET last_activity_ms = max(last_activity_ms, ?3),"
	" message_count = message_count + ?4 WHERE user_rowid = ?1 AND thread_rowid = ?2",
	[S_MSG_BY_ID] =
	"SELECT m.seq, m.content FROM messages m JOIN threads t ON t.thread_rowid = m.thread_rowid"
	" WHERE m.seq = ?1 AND t.thread = ?2",
	/* an edit sets messages.extras bit 4 (008_message_extras_rare.sql) */
	[S_MSG_EDIT] = "UPDATE messages SET content = ?2, edited_ts_ms = ?3, edited_ts = ?4,"
	" extras = extras | 4 WHERE seq = ?1",
	[S_EDIT_INSERT] =
	"INSERT INTO message_edits (seq, message_seq, editor, old_content, content, id, ts_ms, ts)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_REACT_ADD] =
	"INSERT INTO reactions (message_seq, emoji, user, seq, ts_ms, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	" ON CONFLICT DO NOTHING",
	[S_REACT_DEL] = "DELETE FROM reactions WHERE message_seq = ?1 AND emoji = ?2 AND user = ?3",
	/* messages.extras bit 2 (007_message_extras.sql): set by a reaction,
	 * cleared with the message's last one; rows already right are not written */
	[S_REACT_MARK] = "UPDATE messages SET extras = extras | 2 WHERE seq = ?1 AND extras & 2 = 0",
	[S_REACT_UNMARK] =
	"UPDATE messages SET extras = extras & ~2 WHERE seq = ?1 AND extras & 2 = 2"
	" AND NOT EXISTS (SELECT 1 FROM reactions WHERE message_seq = ?1)",
	[S_ATTACH] =
	"INSERT INTO attachments (message_seq, idx, blob, url, name, mime, size)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_THREAD_SET] =
	"UPDATE threads SET title = coalesce(?2, title), topic = coalesce(?3, topic),"
	" metadata = coalesce(?4, metadata), seq = ?5 WHERE thread_rowid = ?1",
	[S_FTS_DELETE] = "INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', ?1, ?2)",
};

int cji_apply_new(cji_apply **out, sqlite3 *db, cji_journal *j)
{
	*out = NULL;
	cji_apply *a = calloc(1, sizeof *a);
	if (!a)
		return cji_err(CJ_ENOMEM, "out of memory");
	a->db = db;
	a->journal = j;
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

char *cji_json_text(const json_t *v)
{
	if (!v)
		return NULL;
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

void cji_bind_owned(sqlite3_stmt *st, int i, char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, free);
	else
		sqlite3_bind_null(st, i);
}

void cji_bind_int_or_null(sqlite3_stmt *st, int i, const json_t *v)
{
	if (json_is_integer(v))
		sqlite3_bind_int64(st, i, json_integer_value(v));
	else
		sqlite3_bind_null(st, i);
}

int cji_step_done(cji_apply *a, sqlite3_stmt *st, const char *what, uint64_t seq)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return cji_err_sqlite(rc, sqlite3_errmsg(a->db), "apply %s (journal record %llu)", what,
	                      (unsigned long long)seq);
}

int cji_step_row(cji_apply *a, sqlite3_stmt *st, int64_t *id, char **text, const char *what,
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

void cji_bind_args(sqlite3_stmt *st, int n, const cji_arg *args)
{
	for (int i = 0; i < n; i++) {
		if (args[i].t == 'i')
			sqlite3_bind_int64(st, i + 1, args[i].i);
		else if (args[i].t == 's')
			sqlite3_bind_text(st, i + 1, args[i].s, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, i + 1);
	}
}

int cji_run(cji_apply *a, const char *sql, uint64_t seq, int n, const cji_arg *args)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(a->db, sql, -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(a->db), "prepare \"%.50s\"", sql);
	cji_bind_args(st, n, args);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return cji_err_sqlite(rc, sqlite3_errmsg(a->db), "apply \"%.50s\" (journal record %llu)",
		                      sql, (unsigned long long)seq);
	return 0;
}

/* ---- shared row makers -------------------------------------------------- */

/* The row key names (get: S_THREAD_GET or S_USER_GET): *id and its config
 * (if asked), or *id 0 when there is none. */
static int find_row(cji_apply *a, int get, const char *key, int64_t *id, char **config,
                    const char *what, uint64_t seq)
{
	sqlite3_stmt *st = a->st[get];
	cji_bind_str(st, 1, key);
	return cji_step_row(a, st, id, config, what, seq);
}

/* Run the bound insert or touch; after an insert (*id 0), *id is the new row's. */
static int write_row(cji_apply *a, sqlite3_stmt *st, int64_t *id, const char *what, uint64_t seq)
{
	int rc = cji_step_done(a, st, what, seq);
	if (!rc && !*id)
		*id = sqlite3_last_insert_rowid(a->db);
	return rc;
}

int cji_row_thread_upsert(cji_apply *a, const char *thread, const char *server, const char *channel,
                          uint64_t seq, int64_t ts, const char *tstext, int count, int activity,
                          int64_t *tid, char **config)
{
	int rc = find_row(a, S_THREAD_GET, thread, tid, config, "thread", seq);
	if (rc)
		return rc;
	sqlite3_stmt *st = a->st[*tid ? S_THREAD_TOUCH : S_THREAD_INSERT];
	cji_bind_str(st, 1, thread);
	cji_bind_str(st, 2, server);
	cji_bind_str(st, 3, channel);
	sqlite3_bind_int64(st, 4, ts);
	cji_bind_str(st, 5, tstext);
	sqlite3_bind_int(st, 6, count);
	sqlite3_bind_int64(st, 7, (int64_t)seq);
	if (*tid) {
		sqlite3_bind_int(st, 8, activity);
		sqlite3_bind_int64(st, 9, *tid);
	}
	return write_row(a, st, tid, "thread", seq);
}

int cji_row_thread_upsert_of(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts,
                             const char *tstext, int count, int activity, int64_t *tid, char **config)
{
	return cji_row_thread_upsert(a, cji_str(o, "thread"), cji_str(o, "server"), cji_str(o, "channel"),
	                             seq, ts, tstext, count, activity, tid, config);
}

int cji_row_user_touch(cji_apply *a, const char *user, uint64_t seq, int64_t ts,
                       const char *tstext, int64_t *uid, char **config)
{
	int rc = find_row(a, S_USER_GET, user, uid, config, "user", seq);
	if (rc)
		return rc;
	sqlite3_stmt *st = a->st[*uid ? S_USER_TOUCH : S_USER_INSERT];
	cji_bind_str(st, 1, user);
	sqlite3_bind_int64(st, 2, ts);
	cji_bind_str(st, 3, tstext);
	sqlite3_bind_int64(st, 4, (int64_t)seq);
	if (*uid)
		sqlite3_bind_int64(st, 5, *uid);
	return write_row(a, st, uid, "user", seq);
}

/* The journal's idempotency table maps the target id to the sequence number
 * of the message (an index on messages.id would cost every message an index
 * entry; ids are never removed, so replay finds the same). */
int cji_row_target(cji_apply *a, const json_t *o, uint64_t seq, int64_t *mseq, char **content)
{
	*mseq = 0;
	if (content)
		*content = NULL;
	const char *target = cji_str(o, "target");
	uint64_t tseq = 0;
	int rc = target ? cji_journal_id_seq(&tseq, a->journal, target) : 0;
	if (rc <= 0 || tseq >= seq) /* not found (or not before the event: never a message it names) */
		return rc < 0 ? rc : 0;
	sqlite3_stmt *st = a->st[S_MSG_BY_ID];
	sqlite3_bind_int64(st, 1, (int64_t)tseq);
	cji_bind_str(st, 2, cji_str(o, "thread"));
	return cji_step_row(a, st, mseq, content, "messages", seq);
}
