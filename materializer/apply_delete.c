/* materializer/apply_delete.c — deletions: delete_thread, clear_history and
 * purge remove messages, images, their FTS rows (FTS5 'delete' with the exact
 * stored values, read from the content rows just before they go) and costs,
 * then fix the counts they leave behind and drop blob rows no image names.
 *
 * Each deletion is a unit of work of several statements with a sticky error:
 * the first failure is kept and every later step does nothing, so the
 * sequence reads as a plain list and the batch rolls back on that first
 * error. */
#include <stdio.h>
#include <string.h>
#include "materializer/apply_sql.h"
#include "materializer/purge.h"
#include "materializer/db.h"
#include "common/err.h"
#include "common/timeutil.h"

typedef struct del_work {
	cji_apply *a;
	uint64_t seq;       /* the deletion event, named in errors */
	int rc;             /* first failure; later steps are skipped */
	int n;              /* bound values of every statement of the unit */
	const cji_arg *args;
} del_work;

static void step(del_work *w, const char *sql)
{
	if (!w->rc)
		w->rc = cji_run(w->a, sql, w->seq, w->n, w->args);
}

/* A statement that binds nothing. */
static void step_plain(del_work *w, const char *sql)
{
	if (!w->rc)
		w->rc = cji_run(w->a, sql, w->seq, 0, NULL);
}

/* A statement built around a WHERE clause over alias m. */
static void step_where(del_work *w, const char *fmt, const char *where)
{
	char sql[1024];
	snprintf(sql, sizeof sql, fmt, where);
	step(w, sql);
}

/* The FTS rows of the rows `select` returns ('delete', seq and the indexed
 * texts: the tail of fts_sql's INSERT),
 * removed with those texts: in place, or queued for the side file's thread
 * in a replay (fts_side.h). */
static void fts_delete(del_work *w, int images, const char *fts_sql, const char *select,
                       const char *where)
{
	if (w->rc)
		return;
	if (!w->a->side) {
		char sql[1200];
		snprintf(sql, sizeof sql, "%s %s", fts_sql, select);
		step_where(w, sql, where);
		return;
	}
	char sql[1024];
	snprintf(sql, sizeof sql, select, where);
	sqlite3_stmt *st;
	if ((w->rc = cji_db_prepare(w->a->db, sql, &st)))
		return;
	cji_bind_args(st, w->n, w->args);
	int rc;
	while (!w->rc && (rc = sqlite3_step(st)) == SQLITE_ROW)
		w->rc = cji_wb_fts_del(w->a, (uint64_t)sqlite3_column_int64(st, 1), images,
		                       (const char *)sqlite3_column_text(st, 2),
		                       images ? (const char *)sqlite3_column_text(st, 3) : NULL);
	if (!w->rc && rc != SQLITE_DONE)
		w->rc = cji_err_sqlite(rc, sqlite3_errmsg(w->a->db), "apply \"%.50s\" (journal record %llu)",
		                       sql, (unsigned long long)w->seq);
	sqlite3_finalize(st);
}

/* Remove images matching img_where (over alias m) with their FTS rows. */
static void delete_images(del_work *w, const char *img_where)
{
	fts_delete(w, 1, "INSERT INTO images_fts (images_fts, rowid, prompt, analysis)",
	           "SELECT 'delete', seq, prompt, analysis FROM images m WHERE %s", img_where);
	step_where(w, "DELETE FROM images AS m WHERE %s", img_where);
}

/* Remove messages matching msg_where (over alias m) with their FTS rows and
 * costs; images likewise if img_where is given. Their edits, reactions and
 * attachments go with them (ON DELETE CASCADE, 004_chat_model.sql). */
static void delete_rows(del_work *w, const char *msg_where, const char *img_where)
{
	fts_delete(w, 0, "INSERT INTO messages_fts (messages_fts, rowid, content)",
	           "SELECT 'delete', seq, content FROM messages m WHERE %s", msg_where);
	step_where(w, "DELETE FROM message_costs WHERE seq IN (SELECT seq FROM messages m WHERE %s)",
	           msg_where);
	step_where(w, "DELETE FROM messages AS m WHERE %s", msg_where);
	if (img_where)
		delete_images(w, img_where);
}

static void drop_orphan_blobs(del_work *w)
{
	step_plain(w, "DELETE FROM blobs WHERE blob NOT IN (SELECT blob FROM images WHERE blob IS NOT NULL"
	        " UNION SELECT thumbnail FROM images WHERE thumbnail IS NOT NULL"
	        " UNION SELECT blob FROM attachments WHERE blob IS NOT NULL)");
}

/* After clear_history: message counts of one user's threads and (user,
 * thread) pairs (?1 is the user's row id). Per-pair correlated counts over
 * every thread made one deletion take ~30 s at 100k messages. */
static void fix_user_counts(del_work *w)
{
	step(w, "UPDATE threads SET message_count = (SELECT count(*) FROM messages m"
	        " WHERE m.thread_rowid = threads.thread_rowid)"
	        " WHERE thread_rowid IN (SELECT thread_rowid FROM user_threads WHERE user_rowid = ?1)");
	step(w, "UPDATE user_threads SET message_count = (SELECT count(*) FROM messages m"
	        " WHERE m.user_rowid = ?1 AND m.thread_rowid = user_threads.thread_rowid)"
	        " WHERE user_rowid = ?1");
	step(w, "DELETE FROM user_threads WHERE user_rowid = ?1 AND message_count = 0");
}

/* After purge: every count, recounted in single grouped passes. */
static void fix_all_counts(del_work *w)
{
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
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		step_plain(w, all[i]);
}

/* Row id of a thread or user by its text id (0 if unknown). */
static int rowid_of(cji_apply *a, int stmt, const char *key, uint64_t seq, int64_t *id)
{
	sqlite3_stmt *st = a->st[stmt];
	cji_bind_str(st, 1, key);
	return cji_step_row(a, st, id, NULL, stmt == S_THREAD_GET ? "threads" : "users", seq);
}

int cji_apply_delete_thread(cji_apply *a, const json_t *o, uint64_t seq)
{
	int64_t tid;
	int rc = rowid_of(a, S_THREAD_GET, cji_str(o, "thread"), seq, &tid);
	if (rc || tid == 0)
		return rc;
	/* The thread's rows go entirely: no count needs fixing. */
	cji_arg args[1] = { { 'i', tid, NULL } };
	del_work w = { a, seq, 0, 1, args };
	delete_rows(&w, "m.thread_rowid = ?1", "m.thread_rowid = ?1");
	step(&w, "DELETE FROM user_threads WHERE thread_rowid = ?1");
	step(&w, "DELETE FROM threads WHERE thread_rowid = ?1");
	drop_orphan_blobs(&w);
	return w.rc;
}

/* One message: its rows go (as delete_rows), its thread's and (user,
 * thread)'s counts go down by one. The thread's last activity stays, as for
 * every deletion. */
int cji_apply_delete_message(cji_apply *a, const json_t *o, uint64_t seq)
{
	int64_t mseq;
	int rc = cji_row_target(a, o, seq, &mseq, NULL);
	if (rc || !mseq)
		return rc;
	cji_arg args[1] = { { 'i', mseq, NULL } };
	del_work w = { a, seq, 0, 1, args };
	step(&w, "UPDATE threads SET message_count = message_count - 1"
	         " WHERE thread_rowid = (SELECT thread_rowid FROM messages WHERE seq = ?1)");
	step(&w, "UPDATE user_threads SET message_count = message_count - 1"
	         " WHERE (user_rowid, thread_rowid) = (SELECT user_rowid, thread_rowid FROM messages"
	         " WHERE seq = ?1)");
	step(&w, "DELETE FROM user_threads WHERE message_count = 0 AND (user_rowid, thread_rowid) ="
	         " (SELECT user_rowid, thread_rowid FROM messages WHERE seq = ?1)");
	int64_t files = 0;
	if (!w.rc) {
		sqlite3_stmt *st;
		w.rc = cji_db_prepare(a->db, "SELECT count(*) FROM attachments WHERE message_seq = ?1"
		                      " AND blob IS NOT NULL", &st);
		if (!w.rc) {
			sqlite3_bind_int64(st, 1, mseq);
			w.rc = cji_step_row(a, st, &files, NULL, "attachments", seq);
			sqlite3_finalize(st);
		}
	}
	delete_rows(&w, "m.seq = ?1", NULL);
	if (files) /* the scan of every blob only when this message named some */
		drop_orphan_blobs(&w);
	return w.rc;
}

int cji_apply_clear_history(cji_apply *a, const json_t *o, uint64_t seq)
{
	int64_t uid;
	int rc = rowid_of(a, S_USER_GET, cji_str(o, "user"), seq, &uid);
	if (rc || uid == 0)
		return rc;
	const char *server = cji_str(o, "server");
	cji_arg args[2] = { { 'i', uid, NULL }, { server ? 's' : 'n', 0, server } };
	del_work w = { a, seq, 0, 2, args };
	delete_rows(&w, "m.user_rowid = ?1 AND (?2 IS NULL OR m.server = ?2)", NULL);
	w.n = 1; /* the count fixes bind the user only */
	fix_user_counts(&w);
	drop_orphan_blobs(&w);
	return w.rc;
}

/* purge's kinds as bits; none given: all three. */
static unsigned purge_kinds(const json_t *kinds)
{
	if (!json_is_array(kinds))
		return CJI_PURGE_ALL;
	unsigned bits = 0;
	size_t i;
	const json_t *k;
	json_array_foreach(kinds, i, k) {
		const char *v = json_string_value(k);
		bits |= !v ? 0 : !strcmp(v, "messages") ? CJI_PURGE_MESSAGES : !strcmp(v, "images") ?
		        CJI_PURGE_IMAGES : !strcmp(v, "metrics") ? CJI_PURGE_METRICS : 0;
	}
	return bits;
}

/* What a purge removes, over alias m, with ?1 before, ?2 thread_rowid, ?3
 * user_rowid, ?4 server (NULL: no such scope). Shared by the purge itself
 * and its dry run (cji_purge_count), so the count is what would go. Images
 * have no user (a user-scoped purge keeps them) and metrics have no scope
 * at all (only an unscoped purge removes them). */
#define PURGE_MSG_WHERE "m.ts_ms < ?1 AND (?2 IS NULL OR m.thread_rowid = ?2)" \
	" AND (?3 IS NULL OR m.user_rowid = ?3) AND (?4 IS NULL OR m.server = ?4)"
#define PURGE_IMG_WHERE "m.ts_ms < ?1 AND (?2 IS NULL OR m.thread_rowid = ?2) AND (?4 IS NULL" \
	" OR m.thread_rowid IN (SELECT thread_rowid FROM threads WHERE server = ?4))"
#define PURGE_METRIC_WHERE "m.ts_ms < ?1"

static int purge_images(const cji_purge_scope *sc) { return (sc->kinds & CJI_PURGE_IMAGES) && !sc->user; }
static int purge_metrics(const cji_purge_scope *sc)
{
	return (sc->kinds & CJI_PURGE_METRICS) && !sc->thread && !sc->user && !sc->server;
}

static void scope_args(cji_arg args[4], const cji_purge_scope *sc, int64_t tid, int64_t uid)
{
	args[0] = (cji_arg){ 'i', sc->before_ms, NULL };
	args[1] = (cji_arg){ tid ? 'i' : 'n', tid, NULL };
	args[2] = (cji_arg){ uid ? 'i' : 'n', uid, NULL };
	args[3] = (cji_arg){ sc->server ? 's' : 'n', 0, sc->server };
}

int cji_apply_purge(cji_apply *a, const json_t *o, uint64_t seq)
{
	cji_purge_scope sc = { 0, cji_str(o, "thread"), cji_str(o, "user"), cji_str(o, "server"),
	                       purge_kinds(json_object_get(o, "kinds")) };
	const json_t *b = json_object_get(o, "before");
	if (json_is_integer(b))
		sc.before_ms = json_integer_value(b);
	else if (!json_is_string(b) || cji_time_parse(json_string_value(b), &sc.before_ms) != 0)
		return cji_err(CJ_ECORRUPT, "journal record %llu: purge without a valid 'before'",
		               (unsigned long long)seq);
	int64_t tid = 0, uid = 0;
	int rc = 0;
	if (sc.thread && (rc = rowid_of(a, S_THREAD_GET, sc.thread, seq, &tid)))
		return rc;
	if (sc.user && (rc = rowid_of(a, S_USER_GET, sc.user, seq, &uid)))
		return rc;
	if ((sc.thread && !tid) || (sc.user && !uid))
		return 0; /* a scope nobody ever wrote in: nothing to remove */
	cji_arg args[4];
	scope_args(args, &sc, tid, uid);
	del_work w = { a, seq, 0, 4, args };
	if (sc.kinds & CJI_PURGE_MESSAGES)
		delete_rows(&w, PURGE_MSG_WHERE, NULL);
	if (purge_images(&sc))
		delete_images(&w, PURGE_IMG_WHERE);
	if (purge_metrics(&sc))
		step(&w, "DELETE FROM metrics AS m WHERE " PURGE_METRIC_WHERE);
	if (sc.user && !sc.thread && !sc.server) {
		cji_arg uarg[1] = { { 'i', uid, NULL } };
		w.n = 1;
		w.args = uarg;
		fix_user_counts(&w);
	} else {
		fix_all_counts(&w);
	}
	drop_orphan_blobs(&w);
	return w.rc;
}

/* One count over db with the purge's bound scope. */
static int count_where(sqlite3 *db, const char *table, const char *where, const cji_arg *args,
                       uint64_t *out)
{
	char sql[512];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s AS m WHERE %s", table, where);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "purge count");
	for (int i = 0; i < 4; i++) {
		if (args[i].t == 'i')
			sqlite3_bind_int64(st, i + 1, args[i].i);
		else if (args[i].t == 's')
			sqlite3_bind_text(st, i + 1, args[i].s, -1, SQLITE_STATIC);
	}
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : cji_err_sqlite(rc, sqlite3_errmsg(db), "purge count");
}

static int rowid_by_text(sqlite3 *db, const char *sql, const char *key, int64_t *id)
{
	*id = 0;
	if (!key)
		return 0;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "purge count");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0
	       : cji_err_sqlite(rc, sqlite3_errmsg(db), "purge count");
}

int cji_purge_count(cji_purge_counts *out, sqlite3 *db, const cji_purge_scope *sc)
{
	memset(out, 0, sizeof *out);
	int64_t tid = 0, uid = 0;
	int rc = rowid_by_text(db, "SELECT thread_rowid FROM threads WHERE thread = ?1", sc->thread, &tid);
	if (!rc)
		rc = rowid_by_text(db, "SELECT user_rowid FROM users WHERE user = ?1", sc->user, &uid);
	if (rc || (sc->thread && !tid) || (sc->user && !uid))
		return rc;
	cji_arg args[4];
	scope_args(args, sc, tid, uid);
	if (sc->kinds & CJI_PURGE_MESSAGES)
		rc = count_where(db, "messages", PURGE_MSG_WHERE, args, &out->messages);
	if (!rc && purge_images(sc))
		rc = count_where(db, "images", PURGE_IMG_WHERE, args, &out->images);
	if (!rc && purge_metrics(sc))
		rc = count_where(db, "metrics", PURGE_METRIC_WHERE, args, &out->metrics);
	return rc;
}

/* Compaction's mark: the texts its tombstones blank in the journal (the
 * original of every message edited up to P, every edit up to P that a newer
 * one up to P replaced) are blanked here too, so the projection is the same
 * whether it was built before or after the tombstones were written
 * (docs/format.md, "Superseded text"). Every row up to P replaced a text
 * that is now a tombstone: its old_content goes; a row up to P with a newer
 * row up to P for its message was itself superseded: its content goes. */
int cji_apply_redact_edits(cji_apply *a, const json_t *o, uint64_t seq)
{
	json_int_t p = json_integer_value(json_object_get(o, "through_seq"));
	cji_arg args[1] = { { 'i', (int64_t)p, NULL } };
	del_work w = { a, seq, 0, 1, args };
	step(&w, "UPDATE message_edits SET old_content = '' WHERE seq <= ?1 AND old_content <> ''");
	step(&w, "UPDATE message_edits SET content = '' WHERE seq <= ?1 AND content <> ''"
	         " AND EXISTS (SELECT 1 FROM message_edits n WHERE n.message_seq ="
	         " message_edits.message_seq AND n.seq > message_edits.seq AND n.seq <= ?1)");
	return w.rc;
}
