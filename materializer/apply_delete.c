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
#include "materializer/apply_sql.h"
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

/* Remove messages matching msg_where (over alias m) with their FTS rows and
 * costs; images likewise if img_where is given. */
static void delete_rows(del_work *w, const char *msg_where, const char *img_where)
{
	step_where(w, "INSERT INTO messages_fts (messages_fts, rowid, content)"
	              " SELECT 'delete', seq, content FROM messages m WHERE %s", msg_where);
	step_where(w, "DELETE FROM message_costs WHERE seq IN (SELECT seq FROM messages m WHERE %s)",
	           msg_where);
	step_where(w, "DELETE FROM messages AS m WHERE %s", msg_where);
	if (!img_where)
		return;
	step_where(w, "INSERT INTO images_fts (images_fts, rowid, prompt, analysis)"
	              " SELECT 'delete', seq, prompt, analysis FROM images m WHERE %s", img_where);
	step_where(w, "DELETE FROM images AS m WHERE %s", img_where);
}

static void drop_orphan_blobs(del_work *w)
{
	step_plain(w, "DELETE FROM blobs WHERE blob NOT IN (SELECT blob FROM images WHERE blob IS NOT NULL"
	        " UNION SELECT thumbnail FROM images WHERE thumbnail IS NOT NULL)");
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

int cji_apply_purge(cji_apply *a, const json_t *o, uint64_t seq)
{
	int64_t before;
	const json_t *b = json_object_get(o, "before");
	if (json_is_integer(b))
		before = json_integer_value(b);
	else if (!json_is_string(b) || cji_time_parse(json_string_value(b), &before) != 0)
		return cji_err(CJ_ECORRUPT, "journal record %llu: purge without a valid 'before'",
		               (unsigned long long)seq);
	cji_arg args[1] = { { 'i', before, NULL } };
	del_work w = { a, seq, 0, 1, args };
	delete_rows(&w, "m.ts_ms < ?1", "m.ts_ms < ?1");
	step(&w, "DELETE FROM metrics WHERE ts_ms < ?1");
	fix_all_counts(&w);
	drop_orphan_blobs(&w);
	return w.rc;
}
