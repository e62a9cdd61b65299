/* export/conversations.c — markdown and openai: the threads in scope, each
 * with its messages in ascending seq, read a page at a time through
 * cj_query_history (the rows GET /v1/threads/{t}/messages returns), so
 * memory is bounded by a page whatever the thread's size.
 *
 * The threads come from the projection's documented tables (docs/schema.md:
 * thread_titles, threads, user_threads, users), read in short statements
 * on a read-only connection, PAGE threads at a time by row id: no read
 * transaction is held across the export. Scope: one thread; a user's
 * threads (the ones user_threads lists) with only that user's messages,
 * on one server if given (the scope of history and search); or every
 * thread. A thread with no message in scope is skipped, except a single
 * thread asked for by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "export_internal.h"

#define PAGE_THREADS 100
#define PAGE_MESSAGES 200

#define THREAD_COLS "t.thread_rowid, t.thread, tt.title, t.server, t.channel, t.topic" \
	" FROM threads t JOIN thread_titles tt USING (thread_rowid)"

static int db_error(sqlite3 *db, const char *what)
{
	return cj_error_set(CJ_EDB, NULL, "export: %s: %s", what, sqlite3_errmsg(db));
}

static int open_projection(sqlite3 **db, cj_store *s)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/chat.sqlite", cj_store_path(s));
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		int rc = cj_error_set(CJ_EIO, NULL, "export: cannot open %s: %s", path,
		                      *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*db, 5000);
	return 0;
}

static char *dup_col(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	return v ? strdup(v) : NULL;
}

/* One thread's messages (in scope) through the format. */
static int one_thread(cj_export_stats *st, cj_store *s, const cj_export_options *o, ex_out *w,
                      const ex_thread *t, int named)
{
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = t->thread;
	q.user = o->user;
	q.server = o->server;
	q.limit = PAGE_MESSAGES;
	q.forward = 1;
	int rc = 0, started = 0;
	uint64_t written = 0; /* messages of this thread */
	for (;;) {
		char *text = NULL;
		if ((rc = cj_query_history(&text, s, &q)))
			break;
		json_t *rows = json_loads(text, 0, NULL);
		cj_free(text);
		if (!json_is_array(rows)) {
			json_decref(rows);
			rc = cj_error_set(CJ_ENOMEM, NULL, "export: history of thread %s does not read back",
			                  t->thread);
			break;
		}
		size_t n = json_array_size(rows), i;
		json_t *row;
		json_array_foreach(rows, i, row) {
			if (!started) {
				started = 1;
				if (o->format == CJ_EXPORT_MARKDOWN)
					ex_md_thread(w, t, st->threads == 0);
				else
					ex_puts(w, "{\"messages\":[");
				st->threads++;
			}
			if (o->format == CJ_EXPORT_MARKDOWN) {
				ex_md_message(w, row);
			} else {
				json_t *m;
				if ((rc = ex_openai_message(&m, row)))
					break;
				char *mt = json_dumps(m, JSON_COMPACT | JSON_REAL_PRECISION(17));
				json_decref(m);
				if (!mt) {
					rc = cj_error_set(CJ_ENOMEM, NULL, "export: out of memory");
					break;
				}
				if (written)
					ex_put(w, ",", 1);
				ex_puts(w, mt);
				free(mt);
			}
			st->messages++;
			written++;
			q.after = (uint64_t)json_integer_value(json_object_get(row, "seq"));
		}
		json_decref(rows);
		if (rc || w->rc || n < PAGE_MESSAGES)
			break;
	}
	if (rc || w->rc)
		return rc ? rc : w->rc;
	if (!started && named) {
		/* A thread asked for by name with no message in scope: say so. */
		started = 1;
		st->threads++;
		if (o->format == CJ_EXPORT_MARKDOWN) {
			ex_md_thread(w, t, 1);
			ex_md_empty(w);
		} else {
			ex_puts(w, "{\"messages\":[");
		}
	}
	if (started && o->format == CJ_EXPORT_OPENAI)
		ex_puts(w, "]}\n");
	return w->rc;
}

int ex_conversations(cj_export_stats *st, cj_store *s, const cj_export_options *o, ex_out *w)
{
	sqlite3 *db;
	int rc = open_projection(&db, s);
	if (rc)
		return rc;
	const char *sql = o->thread ? "SELECT " THREAD_COLS " WHERE t.thread = ?1 AND ?2 >= 0"
	                  : o->user ? "SELECT " THREAD_COLS " JOIN user_threads ut USING (thread_rowid)"
	                              " JOIN users u USING (user_rowid) WHERE u.user = ?1"
	                              " AND t.thread_rowid > ?2 ORDER BY t.thread_rowid LIMIT "
	                              "100"
	                  : "SELECT " THREAD_COLS " WHERE ?1 IS NULL AND t.thread_rowid > ?2"
	                    " ORDER BY t.thread_rowid LIMIT 100";
	_Static_assert(PAGE_THREADS == 100, "the LIMIT above");
	sqlite3_int64 after = 0;
	int found = 0;
	for (;;) {
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
			rc = db_error(db, "list the threads");
			break;
		}
		sqlite3_bind_text(q, 1, o->thread ? o->thread : o->user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, after);
		/* Copy the page, then end the statement: no read held meanwhile. */
		ex_thread page[PAGE_THREADS];
		char *cols[PAGE_THREADS][5];
		int n = 0, r;
		while (n < PAGE_THREADS && (r = sqlite3_step(q)) == SQLITE_ROW) {
			after = sqlite3_column_int64(q, 0);
			for (int c = 0; c < 5; c++)
				cols[n][c] = dup_col(q, c + 1);
			page[n] = (ex_thread){ cols[n][0], cols[n][1], cols[n][2], cols[n][3], cols[n][4] };
			n++;
		}
		if (n < PAGE_THREADS && r != SQLITE_DONE)
			rc = db_error(db, "list the threads");
		sqlite3_finalize(q);
		found += n;
		for (int i = 0; i < n && !rc; i++)
			rc = page[i].thread ? one_thread(st, s, o, w, &page[i], o->thread != NULL)
			                    : cj_error_set(CJ_ENOMEM, NULL, "export: out of memory");
		for (int i = 0; i < n; i++)
			for (int c = 0; c < 5; c++)
				free(cols[i][c]);
		if (rc || w->rc || o->thread || n < PAGE_THREADS)
			break;
	}
	sqlite3_close(db);
	if (!rc && !w->rc && !found && !o->all)
		return cj_error_set(CJ_ENOTFOUND, o->thread ? "thread" : "user", "export: the "
		                    "projection has no %s '%s'%s", o->thread ? "thread" : "user",
		                    o->thread ? o->thread : o->user,
		                    o->thread ? "" : " with messages in any thread");
	return rc ? rc : w->rc;
}
