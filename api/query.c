/* api/query.c — reads of the projection: history, images, search, effective
 * config, stats. Each query runs on a pooled read-only connection with
 * cached statements; every scope (thread, user, server) is a bound parameter;
 * results are JSON arrays of objects named like the event fields. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include "chatjournal/query.h"
#include "chatjournal/journal.h"
#include "api/store_internal.h"
#include "api/readers.h"
#include "api/fts_query.h"
#include "api/json_out.h"
#include "api/query_internal.h"
#include "materializer/schema.h"
#include "common/err.h"
#include "common/merge_patch.h"
#include "common/timeutil.h"

enum { Q_HIST_BEFORE, Q_HIST_AFTER, Q_IMG_BEFORE, Q_IMG_AFTER, Q_SEARCH_MSG, Q_SEARCH_IMG,
       Q_USER_CFG, Q_THREAD_CFG, Q_POSITION, Q_SEARCH_MSG_THREAD, Q_SEARCH_IMG_THREAD,
       Q_SEARCH_MSG_REL, Q_SEARCH_IMG_REL, Q_USER_BEFORE, Q_USER_AFTER, Q_USER_SRV_BEFORE,
       Q_USER_SRV_AFTER, Q_MSG_EXTRAS, Q_HIST_TAIL, Q_COUNT };
_Static_assert(Q_COUNT <= CJI_STMT_READ_BASE, "query.c's statements overlap query_read.c's");

/* A message row: its columns, then the extras bits (007_message_extras.sql,
 * 008_message_extras_rare.sql) saying whether other tables hold something
 * about it (bit 0 attachments, bit 1 reactions) or whether one of the seven
 * rare columns of 0.3 is set (bit 2). Most messages have none: the row
 * writer asks MSG_EXTRAS (one more statement, by seq) only for those that
 * do. Asking it of every row inside the statement, as three CASE columns,
 * was 6% of a history read's instructions (callgrind, 1M store). */
#define MSG_COLS \
	"m.seq, t.thread, m.role, m.content, u.user, m.server, m.channel, m.message_ts," \
	" m.metadata, m.id, m.ts_ms, m.ts, u.display_name, m.extras"
/* The rare columns, as one object whose members join the row; attachments
 * in order; reaction counts by emoji; NULL when none, so the key is left
 * out. json_patch('{}', ...) drops null fields (of an attachment, of the
 * rare columns). */
#define MSG_EXTRAS \
	" CASE WHEN m.extras & 4 THEN json_patch('{}', json_object('name', m.name," \
	"   'reply_to', m.reply_to, 'parent', m.parent, 'tool_call_id', m.tool_call_id," \
	"   'tool_calls', json(m.tool_calls), 'edited_ts_ms', m.edited_ts_ms," \
	"   'edited_ts', m.edited_ts)) END," \
	" CASE WHEN m.extras & 1 THEN" \
	" (SELECT json_group_array(json(j)) FROM (SELECT json_patch('{}'," \
	"   json_object('blob', a.blob, 'url', a.url, 'name', a.name, 'mime', a.mime, 'size', a.size))" \
	"   AS j FROM attachments a WHERE a.message_seq = m.seq ORDER BY a.idx)) END," \
	" CASE WHEN m.extras & 2 THEN" \
	" (SELECT json_group_object(emoji, n) FROM (SELECT emoji," \
	"   count(*) AS n FROM reactions r WHERE r.message_seq = m.seq GROUP BY emoji ORDER BY emoji)) END"
/* How many of each thread's newest messages messages_tail holds: the 64 of
 * 009_messages_tail.sql (its triggers and view), checked by projection/tail. */
#define MESSAGES_TAIL 64u
#define MSG_FROM \
	" FROM messages m JOIN threads t ON t.thread_rowid = m.thread_rowid" \
	" LEFT JOIN users u ON u.user_rowid = m.user_rowid"
#define MSG_SCOPE " AND (?4 IS NULL OR u.user = ?4) AND (?5 IS NULL OR m.server = ?5)"
#define IMG_COLS \
	"m.seq, t.thread, m.url, m.kind, m.prompt, m.analysis, m.original_analysis, m.metadata," \
	" m.blob, m.thumbnail, m.has_thumbnail, m.id, m.ts_ms, m.ts, b.size, b.mime_type, m.message"
#define IMG_FROM \
	" FROM images m JOIN threads t ON t.thread_rowid = m.thread_rowid" \
	" LEFT JOIN blobs b ON b.blob = m.blob"

/* Relevance with a bounded cost: BM25 scores every match it ranks, and a
 * common word matches half of a big store (0.93 s for 531k matches). So it
 * ranks only the newest REL_CANDIDATES matches in scope, themselves among the
 * newest REL_WINDOW matches of the store: a rowid range FTS5 walks from the
 * tail of its doclists. */
#define REL_CANDIDATES "2000"
#define REL_WINDOW "10000"
#define MSG_FTS_SCOPE(f, m, t, u) \
	" FROM messages_fts " f " JOIN messages " m " ON " m ".seq = " f ".rowid" \
	" JOIN threads " t " ON " t ".thread_rowid = " m ".thread_rowid" \
	" LEFT JOIN users " u " ON " u ".user_rowid = " m ".user_rowid" \
	" WHERE messages_fts MATCH ?1 AND (?2 IS NULL OR " t ".thread = ?2)" \
	" AND (?3 IS NULL OR " u ".user = ?3) AND (?4 IS NULL OR " m ".server = ?4)"
#define IMG_FTS_SCOPE(f, m, t, join) \
	" FROM images_fts " f " JOIN images " m " ON " m ".seq = " f ".rowid" \
	" JOIN threads " t " ON " t ".thread_rowid = " m ".thread_rowid" join \
	" WHERE images_fts MATCH ?1 AND (?2 IS NULL OR " t ".thread = ?2)" \
	" AND (?3 IS NULL OR EXISTS (SELECT 1 FROM user_threads ut JOIN users uu" \
	"   ON uu.user_rowid = ut.user_rowid WHERE uu.user = ?3 AND ut.thread_rowid = " m ".thread_rowid))" \
	" AND (?4 IS NULL OR " t ".server = ?4)"
#define REL_LOWEST(fts, scoped) \
	" AND f.rowid >= (SELECT coalesce(min(seq), 9223372036854775807) FROM (SELECT f2.rowid AS seq" \
	scoped " AND f2.rowid >= (SELECT coalesce(min(rowid), 0) FROM (SELECT rowid FROM " fts \
	" WHERE " fts " MATCH ?1 ORDER BY rowid DESC LIMIT " REL_WINDOW "))" \
	" ORDER BY f2.rowid DESC LIMIT " REL_CANDIDATES "))"

static const char *const SQL[] = {
	[Q_SEARCH_MSG_REL] = "SELECT " MSG_COLS MSG_FTS_SCOPE("f", "m", "t", "u")
	REL_LOWEST("messages_fts", MSG_FTS_SCOPE("f2", "m2", "t2", "u2"))
	" ORDER BY bm25(messages_fts), f.rowid DESC LIMIT ?5",
	[Q_SEARCH_IMG_REL] = "SELECT " IMG_COLS IMG_FTS_SCOPE("f", "m", "t", " LEFT JOIN blobs b ON b.blob = m.blob")
	REL_LOWEST("images_fts", IMG_FTS_SCOPE("f2", "m2", "t2", ""))
	" ORDER BY bm25(images_fts), f.rowid DESC LIMIT ?5",
	[Q_HIST_BEFORE] = "SELECT " MSG_COLS MSG_FROM
	" WHERE t.thread = ?1 AND m.seq < ?2 AND m.seq > ?3" MSG_SCOPE " ORDER BY m.seq DESC LIMIT ?6",
	/* A thread's newest rows with no user or server filter, from the copy of
	 * each thread's newest MESSAGES_TAIL messages clustered by thread
	 * (009_messages_tail.sql): a few adjacent pages instead of a page per
	 * row. Fewer than asked there means the thread has no more. */
	[Q_HIST_TAIL] = "SELECT " MSG_COLS " FROM messages_tail m JOIN threads t ON t.thread_rowid = m.thread_rowid"
	" LEFT JOIN users u ON u.user_rowid = m.user_rowid"
	" WHERE t.thread = ?1 ORDER BY m.seq DESC LIMIT ?6",
	[Q_HIST_AFTER] = "SELECT " MSG_COLS MSG_FROM
	" WHERE t.thread = ?1 AND m.seq < ?2 AND m.seq > ?3" MSG_SCOPE " ORDER BY m.seq ASC LIMIT ?6",
	/* A user's conversation: ?1 the user, ?5 the server. One statement per
	 * shape so that each walks its index in seq order: messages_by_user_seq
	 * (user_rowid, seq) across servers, messages_by_user (user_rowid, server,
	 * then the rowid seq) on one server (docs/schema.md). */
	[Q_USER_BEFORE] = "SELECT " MSG_COLS MSG_FROM
	" WHERE m.user_rowid = (SELECT user_rowid FROM users WHERE user = ?1)"
	" AND m.seq < ?2 AND m.seq > ?3 ORDER BY m.seq DESC LIMIT ?6",
	[Q_USER_AFTER] = "SELECT " MSG_COLS MSG_FROM
	" WHERE m.user_rowid = (SELECT user_rowid FROM users WHERE user = ?1)"
	" AND m.seq < ?2 AND m.seq > ?3 ORDER BY m.seq ASC LIMIT ?6",
	[Q_USER_SRV_BEFORE] = "SELECT " MSG_COLS MSG_FROM
	" WHERE m.user_rowid = (SELECT user_rowid FROM users WHERE user = ?1) AND m.server = ?5"
	" AND m.seq < ?2 AND m.seq > ?3 ORDER BY m.seq DESC LIMIT ?6",
	[Q_USER_SRV_AFTER] = "SELECT " MSG_COLS MSG_FROM
	" WHERE m.user_rowid = (SELECT user_rowid FROM users WHERE user = ?1) AND m.server = ?5"
	" AND m.seq < ?2 AND m.seq > ?3 ORDER BY m.seq ASC LIMIT ?6",
	[Q_IMG_BEFORE] = "SELECT " IMG_COLS IMG_FROM
	" WHERE t.thread = ?1 AND m.seq < ?2 AND m.seq > ?3 ORDER BY m.seq DESC LIMIT ?6",
	[Q_IMG_AFTER] = "SELECT " IMG_COLS IMG_FROM
	" WHERE t.thread = ?1 AND m.seq < ?2 AND m.seq > ?3 ORDER BY m.seq ASC LIMIT ?6",
	[Q_SEARCH_MSG] = "SELECT " MSG_COLS
	" FROM messages_fts f JOIN messages m ON m.seq = f.rowid"
	" JOIN threads t ON t.thread_rowid = m.thread_rowid"
	" LEFT JOIN users u ON u.user_rowid = m.user_rowid"
	" WHERE messages_fts MATCH ?1 AND (?2 IS NULL OR t.thread = ?2)"
	" AND (?3 IS NULL OR u.user = ?3) AND (?4 IS NULL OR m.server = ?4)"
	" ORDER BY f.rowid DESC LIMIT ?5",
	[Q_SEARCH_IMG] = "SELECT " IMG_COLS
	" FROM images_fts f JOIN images m ON m.seq = f.rowid"
	" JOIN threads t ON t.thread_rowid = m.thread_rowid"
	" LEFT JOIN blobs b ON b.blob = m.blob"
	" WHERE images_fts MATCH ?1 AND (?2 IS NULL OR t.thread = ?2)"
	" AND (?3 IS NULL OR EXISTS (SELECT 1 FROM user_threads ut JOIN users uu"
	"   ON uu.user_rowid = ut.user_rowid WHERE uu.user = ?3 AND ut.thread_rowid = m.thread_rowid))"
	" AND (?4 IS NULL OR t.server = ?4)"
	" ORDER BY f.rowid DESC LIMIT ?5",
	/* Thread scope: walk the thread newest first and ask FTS5 about each row
	 * (MATCH with rowid = is a seek). Driving from the FTS side would scan a
	 * common word's whole doclist to find the thread's few rows. */
	[Q_SEARCH_MSG_THREAD] = "SELECT " MSG_COLS MSG_FROM
	" WHERE t.thread = ?2 AND (?3 IS NULL OR u.user = ?3) AND (?4 IS NULL OR m.server = ?4)"
	" AND EXISTS (SELECT 1 FROM messages_fts f WHERE messages_fts MATCH ?1 AND f.rowid = m.seq)"
	" ORDER BY m.seq DESC LIMIT ?5",
	[Q_SEARCH_IMG_THREAD] = "SELECT " IMG_COLS IMG_FROM
	" WHERE t.thread = ?2"
	" AND (?3 IS NULL OR EXISTS (SELECT 1 FROM user_threads ut JOIN users uu"
	"   ON uu.user_rowid = ut.user_rowid WHERE uu.user = ?3 AND ut.thread_rowid = m.thread_rowid))"
	" AND (?4 IS NULL OR t.server = ?4)"
	" AND EXISTS (SELECT 1 FROM images_fts f WHERE images_fts MATCH ?1 AND f.rowid = m.seq)"
	" ORDER BY m.seq DESC LIMIT ?5",
	[Q_MSG_EXTRAS] = "SELECT" MSG_EXTRAS " FROM messages m WHERE m.seq = ?1",
	[Q_USER_CFG] = "SELECT config FROM users WHERE user = ?1",
	[Q_THREAD_CFG] = "SELECT config FROM threads WHERE thread = ?1",
	[Q_POSITION] = "SELECT seq FROM journal_position WHERE id = 1",
};

void cji_bind_opt(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

#define NN CJI_JF_NOT_NULL
#define F CJI_JSON_FIELD
/* The extras of message seq (MSG_EXTRAS) as members of its row. */
static int message_extras(cji_buf *b, cji_reader *r, int64_t seq, int *first)
{
	static const cji_json_field f[] = {
		F("", CJI_JF_MEMBERS), /* name, reply_to, parent, tool_call_id, tool_calls, edited_ts_ms, edited_ts */
		F("attachments", CJI_JF_JSON), F("reactions", CJI_JF_JSON),
	};
	sqlite3_stmt *st;
	int rc = cji_reader_stmt(r, Q_MSG_EXTRAS, SQL[Q_MSG_EXTRAS], &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, seq);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		rc = cji_json_row(b, st, f, (int)(sizeof f / sizeof f[0]), first);
	else if (rc == SQLITE_DONE)
		rc = 0; /* deleted since the row was read: cannot happen in one read transaction */
	else if ((rc = cji_err_sqlite(rc, sqlite3_errmsg(r->db), "query failed (a message's extras)")) == -1)
		rc = CJ_EDB; /* -1 from a row writer means out of memory (query_internal.h) */
	sqlite3_reset(st);
	return rc;
}

int cji_message_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	/* MSG_COLS in order, but the extras bits; JSON text columns are embedded as they are */
	static const cji_json_field f[] = {
		F("seq", NN | CJI_JF_INT), F("thread", NN), F("role", NN), F("content", 0), F("user", 0),
		F("server", 0), F("channel", 0), F("message_ts", 0), F("metadata", CJI_JF_JSON),
		F("id", 0), F("ts_ms", NN | CJI_JF_INT), F("ts", NN), F("display_name", 0),
	};
	enum { EXTRAS = sizeof f / sizeof f[0] };
	int first = 1;
	if (cji_buf_append(b, "{", 1) || cji_json_row(b, st, f, EXTRAS, &first))
		return -1;
	if (sqlite3_column_int(st, EXTRAS) & 7) {
		int rc = message_extras(b, r, sqlite3_column_int64(st, 0), &first);
		if (rc)
			return rc;
	}
	return cji_buf_append(b, ",\"type\":\"message\"}", 18);
}

int cji_image_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	(void)r;
	/* IMG_COLS in order; has_thumbnail is an integer in the table */
	static const cji_json_field f[] = {
		F("seq", NN | CJI_JF_INT), F("thread", NN), F("url", 0), F("kind", 0), F("prompt", 0),
		F("analysis", 0), F("original_analysis", 0), F("metadata", CJI_JF_JSON), F("blob", 0),
		F("thumbnail", 0), F("has_thumbnail", NN | CJI_JF_INT | CJI_JF_BOOL), F("id", 0),
		F("ts_ms", NN | CJI_JF_INT), F("ts", NN), F("size", 0), F("mime_type", 0), F("message", 0),
	};
	int first = 1;
	if (cji_buf_append(b, "{", 1) || cji_json_row(b, st, f, (int)(sizeof f / sizeof f[0]), &first))
		return -1;
	return cji_buf_append(b, ",\"type\":\"image\"}", 16);
}
#undef F
#undef NN

static int dump(json_t *v, char **out)
{
	*out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	return *out ? 0 : cji_err(CJ_ENOMEM, "out of memory");
}

/* Step st, writing a JSON array of at most limit rows; reversed when the
 * query ran newest-first for "the last N" (the API answers in ascending seq
 * order). A row beyond limit (the statement asks for limit + 1) sets *more
 * and is left out. */
int cji_query_collect(cji_reader *r, sqlite3_stmt *st, cji_row_fn mk, int reverse,
                      unsigned limit, char **out, cji_rows_info *info)
{
	cji_buf rows = CJI_BUF_INIT, b = CJI_BUF_INIT;
	size_t offs[CJI_QUERY_MAX_LIMIT + 1], n = 0;
	int rc, err = 0;
	if (limit > CJI_QUERY_MAX_LIMIT)
		limit = CJI_QUERY_MAX_LIMIT;
	cji_rows_info seen = CJI_ROWS_INFO_INIT;
	seen.want_b = info && info->want_b;
	if (cji_buf_reserve(&rows, 512 * (size_t)limit)) /* a page's usual size, grown if needed */
		return cji_err(CJ_ENOMEM, "out of memory");
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == limit) {
			seen.more = 1;
			rc = SQLITE_DONE;
			break;
		}
		int64_t key = sqlite3_column_int64(st, 0);
		if (!n)
			seen.first = key;
		seen.last = key;
		if (seen.want_b)
			seen.last_b = sqlite3_column_int64(st, 1);
		offs[n++] = rows.len;
		err = mk(&rows, st, r);
	}
	offs[n] = rows.len;
	if (err || rc != SQLITE_DONE) {
		cji_buf_free(&rows);
		if (err)
			return err == -1 ? cji_err(CJ_ENOMEM, "out of memory") : err;
		return cji_err_sqlite(rc, sqlite3_errmsg(r->db), "query failed");
	}
	err = cji_buf_reserve(&b, rows.len + n + 3) || cji_buf_append(&b, "[", 1);
	for (size_t k = 0; k < n && !err; k++) {
		size_t i = reverse ? n - 1 - k : k;
		err = (k && cji_buf_append(&b, ",", 1)) ||
		      cji_buf_append(&b, rows.data + offs[i], offs[i + 1] - offs[i]);
	}
	err = err || cji_buf_append(&b, "]", 2);
	cji_buf_free(&rows);
	if (err) {
		cji_buf_free(&b);
		return cji_err(CJ_ENOMEM, "out of memory");
	}
	*out = (char *)b.data;
	if (info) {
		*info = seen;
		if (reverse) {
			info->first = seen.last;
			info->last = seen.first;
		}
	}
	return 0;
}

/* What a paged read of messages or images asks: a thread's rows (of one
 * user or server, optionally) or one user's rows across threads. */
typedef struct page_args {
	int kind;              /* PAGE_THREAD_MSG, PAGE_THREAD_IMG, PAGE_USER_MSG */
	const char *key;       /* the thread, or the user */
	const char *user, *server;
	unsigned limit;
	uint64_t before, after;
	int forward;
} page_args;
enum { PAGE_THREAD_MSG, PAGE_THREAD_IMG, PAGE_USER_MSG };

static int page_query(cj_store *s, const page_args *a, char **out, cj_page *page)
{
	*out = NULL;
	if (page)
		memset(page, 0, sizeof *page);
	unsigned limit = a->limit ? a->limit : 50;
	if (limit > CJI_QUERY_MAX_LIMIT)
		limit = CJI_QUERY_MAX_LIMIT;
	int newest = a->after == 0 && !a->forward; /* "last N" unless paging forward */
	int idx;
	switch (a->kind) {
	case PAGE_THREAD_IMG: idx = newest ? Q_IMG_BEFORE : Q_IMG_AFTER; break;
	case PAGE_USER_MSG:
		idx = a->server ? (newest ? Q_USER_SRV_BEFORE : Q_USER_SRV_AFTER)
		                : (newest ? Q_USER_BEFORE : Q_USER_AFTER);
		break;
	default: idx = newest ? Q_HIST_BEFORE : Q_HIST_AFTER;
	}
	cji_reader *r;
	int rc = cji_reader_get(s->readers, &r);
	if (rc)
		return rc;
	/* the statement asks limit + 1 rows: the one beyond says "more" */
	if (idx == Q_HIST_BEFORE && !a->before && !a->user && !a->server && limit + 1 <= MESSAGES_TAIL &&
	    r->schema >= CJI_SCHEMA_MESSAGES_TAIL)
		idx = Q_HIST_TAIL;
	sqlite3_stmt *st;
	cji_rows_info info = CJI_ROWS_INFO_INIT;
	if ((rc = cji_reader_stmt(r, idx, SQL[idx], &st)) == 0) {
		cji_bind_opt(st, 1, a->key);
		sqlite3_bind_int64(st, 2, a->before ? (int64_t)a->before : INT64_MAX);
		sqlite3_bind_int64(st, 3, (int64_t)a->after);
		cji_bind_opt(st, 4, a->user);
		cji_bind_opt(st, 5, a->server);
		sqlite3_bind_int(st, 6, (int)limit + 1);
		rc = cji_query_collect(r, st, a->kind == PAGE_THREAD_IMG ? cji_image_row : cji_message_row,
		                       newest, limit, out, &info);
	}
	cji_reader_put(s->readers, r);
	if (!rc && page && info.more) {
		page->more = 1;
		if (newest)
			page->before = (uint64_t)info.first;
		else
			page->after = (uint64_t)info.last;
	}
	return rc;
}

static int history_args(page_args *a, const cj_history_query *q, int kind)
{
	if (!q || q->version != CJ_HISTORY_QUERY_VERSION)
		return cji_err(CJ_EINVAL, "history: bad arguments (use CJ_HISTORY_QUERY_INIT)");
	if (!q->thread || !*q->thread)
		return cji_err_field(CJ_EINVAL, "thread", "thread is required");
	*a = (page_args){ kind, q->thread, q->user, q->server, q->limit, q->before, q->after,
	                  q->forward };
	return 0;
}

static int history_page(char **out, cj_page *page, cj_store *s, const cj_history_query *q, int kind)
{
	*out = NULL;
	page_args a;
	if (!s)
		return cji_err(CJ_EINVAL, "history: no store");
	int rc = history_args(&a, q, kind);
	return rc ? rc : cji_store_projection_result(s, page_query(s, &a, out, page));
}

int cj_query_history(char **json_out, cj_store *s, const cj_history_query *q)
{
	return history_page(json_out, NULL, s, q, PAGE_THREAD_MSG);
}

int cj_query_images(char **json_out, cj_store *s, const cj_history_query *q)
{
	return history_page(json_out, NULL, s, q, PAGE_THREAD_IMG);
}

int cj_query_history_page(char **json_out, cj_page *page_out, cj_store *s, const cj_history_query *q)
{
	return history_page(json_out, page_out, s, q, PAGE_THREAD_MSG);
}

int cj_query_images_page(char **json_out, cj_page *page_out, cj_store *s, const cj_history_query *q)
{
	return history_page(json_out, page_out, s, q, PAGE_THREAD_IMG);
}

int cj_query_user_messages(char **json_out, cj_page *page_out, cj_store *s,
                           const cj_user_messages_query *q)
{
	*json_out = NULL;
	if (!s || !q || q->version != CJ_USER_MESSAGES_QUERY_VERSION)
		return cji_err(CJ_EINVAL, "user messages: bad arguments (use CJ_USER_MESSAGES_QUERY_INIT)");
	if (!q->user || !*q->user)
		return cji_err_field(CJ_EINVAL, "user", "user is required");
	page_args a = { PAGE_USER_MSG, q->user, NULL, q->server, q->limit, q->before, q->after,
	                q->forward };
	return cji_store_projection_result(s, page_query(s, &a, json_out, page_out));
}

int cj_query_search(char **json_out, cj_store *s, const cj_search_query *user_q)
{
	*json_out = NULL;
	/* A caller built against version 1 passed the struct without rank. */
	cj_search_query qv = CJ_SEARCH_QUERY_INIT;
	if (!s || !user_q || user_q->version < 1 || user_q->version > CJ_SEARCH_QUERY_VERSION)
		return cji_err(CJ_EINVAL, "search: bad arguments (use CJ_SEARCH_QUERY_INIT)");
	memcpy(&qv, user_q, user_q->version == 1 ? offsetof(cj_search_query, rank) : sizeof qv);
	qv.version = CJ_SEARCH_QUERY_VERSION;
	const cj_search_query *q = &qv;
	if (q->rank != CJ_RANK_RECENT && q->rank != CJ_RANK_RELEVANCE)
		return cji_err_field(CJ_EINVAL, "rank", "search: rank must be recent or relevance");
	char *match;
	int rc = cji_fts_quote(q->text, q->text ? strlen(q->text) : 0, &match);
	if (rc)
		return rc;
	unsigned limit = q->limit ? q->limit : 20;
	if (limit > 1000)
		limit = 1000;
	cji_reader *r;
	if ((rc = cji_reader_get(s->readers, &r))) {
		free(match);
		return cji_store_projection_result(s, rc);
	}
	int idx = q->rank == CJ_RANK_RELEVANCE ? (q->images ? Q_SEARCH_IMG_REL : Q_SEARCH_MSG_REL)
	          : q->thread ? (q->images ? Q_SEARCH_IMG_THREAD : Q_SEARCH_MSG_THREAD)
	                      : (q->images ? Q_SEARCH_IMG : Q_SEARCH_MSG);
	sqlite3_stmt *st;
	if ((rc = cji_reader_stmt(r, idx, SQL[idx], &st)) == 0) {
		sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
		cji_bind_opt(st, 2, q->thread);
		cji_bind_opt(st, 3, q->user);
		cji_bind_opt(st, 4, q->server);
		sqlite3_bind_int(st, 5, (int)limit);
		rc = cji_query_collect(r, st, q->images ? cji_image_row : cji_message_row, 0, limit,
		                       json_out, NULL);
		if (rc == CJ_EDB) /* FTS5 refused the quoted text (e.g. no token in it) */
			rc = cji_err_field(CJ_EINVAL, "q", "search text has no searchable words");
	}
	cji_reader_put(s->readers, r);
	free(match);
	return cji_store_projection_result(s, rc);
}

static int config_of(cji_reader *r, int idx, const char *key, json_t **out)
{
	*out = NULL;
	if (!key)
		return 0;
	sqlite3_stmt *st;
	int rc = cji_reader_stmt(r, idx, SQL[idx], &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*out = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cji_err_sqlite(rc, sqlite3_errmsg(r->db), "config query failed");
	return 0;
}

int cj_query_effective_config(char **json_out, cj_store *s, const char *thread, const char *user)
{
	*json_out = NULL;
	if (!s)
		return cji_err(CJ_EINVAL, "config: no store");
	cji_reader *r;
	int rc = cji_reader_get(s->readers, &r);
	if (rc)
		return cji_store_projection_result(s, rc);
	json_t *ucfg = NULL, *tcfg = NULL;
	if ((rc = config_of(r, Q_USER_CFG, user, &ucfg)) == 0)
		rc = config_of(r, Q_THREAD_CFG, thread, &tcfg);
	cji_reader_put(s->readers, r);
	if (rc) {
		json_decref(ucfg);
		json_decref(tcfg);
		return cji_store_projection_result(s, rc);
	}
	json_t *eff = json_deep_copy(s->conf.defaults ? s->conf.defaults : json_object());
	if (!eff)
		eff = json_object();
	if (ucfg)
		eff = cji_merge_patch(eff, ucfg);
	if (tcfg)
		eff = cji_merge_patch(eff, tcfg);
	json_decref(ucfg);
	json_decref(tcfg);
	return dump(eff, json_out);
}

int cj_projection_position(uint64_t *out, cj_store *s)
{
	*out = 0;
	if (!s)
		return cji_err(CJ_EINVAL, "position: no store");
	if (s->mat) {
		*out = cji_mat_position(s->mat);
		return 0;
	}
	cji_reader *r;
	int rc = cji_reader_get(s->readers, &r);
	if (rc)
		return rc;
	sqlite3_stmt *st;
	if ((rc = cji_reader_stmt(r, Q_POSITION, SQL[Q_POSITION], &st)) == 0) {
		if (sqlite3_step(st) == SQLITE_ROW)
			*out = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	cji_reader_put(s->readers, r);
	return rc;
}

int cj_wait_applied(cj_store *s, uint64_t seq, int timeout_ms)
{
	if (!s)
		return cji_err(CJ_EINVAL, "wait: no store");
	if (!s->mat)
		return cji_err(CJ_EPERM, "this handle does not materialize (read-only or no_materializer): "
		               "nothing to wait for");
	return cji_mat_wait(s->mat, seq, timeout_ms < 0 ? 0 : timeout_ms);
}

/* Counts for stats, as a unit of work with a sticky error: after the first
 * failure the rest are skipped. */
typedef struct counter {
	sqlite3 *db;
	int rc;
} counter;

static json_int_t count(counter *c, const char *sql, int64_t arg)
{
	if (c->rc)
		return -1;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	json_int_t v = -1;
	if (rc == SQLITE_OK) {
		if (sqlite3_bind_parameter_count(st) > 0)
			sqlite3_bind_int64(st, 1, arg);
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			v = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		c->rc = cji_err_sqlite(rc, sqlite3_errmsg(c->db), "stats query failed");
	return v;
}

static uint64_t file_size(const char *path, const char *suffix)
{
	char p[4300];
	snprintf(p, sizeof p, "%s%s", path, suffix);
	struct stat st;
	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int cj_query_stats(char **json_out, cj_store *s)
{
	return cj_query_stats_opts(json_out, s, NULL);
}

int cj_query_stats_opts(char **json_out, cj_store *s, const cj_stats_options *opts)
{
	static const cj_stats_options defaults = CJ_STATS_OPTIONS_INIT;
	*json_out = NULL;
	if (!s)
		return cji_err(CJ_EINVAL, "stats: no store");
	if (!opts)
		opts = &defaults;
	if (opts->version != CJ_STATS_OPTIONS_VERSION)
		return cji_err(CJ_EINVAL, "stats: options version %u, this build knows %u "
		               "(use CJ_STATS_OPTIONS_INIT)", opts->version, CJ_STATS_OPTIONS_VERSION);
	int64_t day0 = opts->day_start_ms >= 0 ? opts->day_start_ms
	                                       : cji_now_ms() / 86400000 * 86400000;
	cj_journal_stats js;
	int rc = cji_journal_stats(&js, &s->journal);
	if (rc)
		return rc;
	uint64_t pos = 0;
	json_t *o = json_object();
	cji_reader *r;
	if ((rc = cji_reader_get(s->readers, &r)) == 0) {
		counter c = { r->db, 0 };
		json_int_t v[7] = {
			count(&c, "SELECT count(*) FROM messages", 0),
			count(&c, "SELECT count(*) FROM threads", 0),
			count(&c, "SELECT count(*) FROM users", 0),
			count(&c, "SELECT count(*) FROM (SELECT server FROM threads WHERE server IS NOT NULL"
			          " UNION SELECT server FROM messages WHERE server IS NOT NULL)", 0),
			count(&c, "SELECT count(*) FROM images", 0),
			count(&c, "SELECT count(*) FROM messages WHERE ts_ms >= ?1", day0),
			count(&c, "SELECT seq FROM journal_position WHERE id = 1", 0),
		};
		static const char *const names[6] = { "messages", "threads", "users", "servers",
		                                       "images", "messages_today" };
		cji_reader_put(s->readers, r);
		rc = cji_store_projection_result(s, c.rc);
		for (int i = 0; i < 6 && !rc; i++)
			json_object_set_new(o, names[i], json_integer(v[i]));
		pos = !rc && v[6] > 0 ? (uint64_t)v[6] : 0;
	}
	rc = cji_store_projection_result(s, rc);
	if (rc == CJ_ENOTFOUND) {
		cj_error_clear(); /* no projection yet: the journal's figures stand alone */
	} else if (rc) {
		/* The journal's figures still stand; the projection's error says why
		 * its own are missing (a damaged file: "run 'chatjournal replay'"). */
		json_object_set_new(o, "projection_error", json_string(cj_error_last()));
	}
	if (s->mat)
		pos = cji_mat_position(s->mat);
	char day_text[32];
	cji_time_format(day0, day_text);
	json_object_set_new(o, "timezone", json_string(opts->timezone ? opts->timezone : "UTC"));
	json_object_set_new(o, "day_start", json_string(day_text));
	json_object_set_new(o, "position", json_integer((json_int_t)pos));
	json_object_set_new(o, "last_seq", json_integer((json_int_t)js.last_seq));
	json_object_set_new(o, "lag", json_integer((json_int_t)(js.last_seq > pos ? js.last_seq - pos : 0)));
	json_object_set_new(o, "events", json_integer((json_int_t)js.events));
	json_object_set_new(o, "projection_bytes", json_integer((json_int_t)(
		file_size(s->sqlite_path, "") + file_size(s->sqlite_path, "-wal"))));
	json_object_set_new(o, "journal_bytes", json_integer((json_int_t)js.file_size));
	json_object_set_new(o, "blobs", json_integer((json_int_t)js.blobs));
	json_object_set_new(o, "blob_bytes", json_integer((json_int_t)js.blob_bytes));
	json_object_set_new(o, "idempotency_keys", json_integer((json_int_t)js.idempotency_keys));
	json_object_set_new(o, "map_size", json_integer((json_int_t)js.map_size));
	json_object_set_new(o, "map_used", json_integer((json_int_t)js.map_used));
	json_object_set_new(o, "map_ceiling", json_integer((json_int_t)js.map_ceiling));
	if (s->mat) {
		char err[512];
		cji_mat_error(s->mat, err, sizeof err);
		if (err[0])
			json_object_set_new(o, "materializer_error", json_string(err));
	}
	return dump(o, json_out);
}
