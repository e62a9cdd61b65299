/* api/query_read.c — the read API beyond history and search: threads by
 * last activity, one thread, one user, costs, metrics, settings (masked).
 * Each query runs on a pooled read-only connection with cached statements
 * (slots from CJI_STMT_READ_BASE); every scope is a bound parameter. The
 * listings by time page with a cursor "MS.N" (the ordering time, then the
 * row's tie-breaker), which stays right while rows are added: a page never
 * repeats or skips a row that did not move. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "chatjournal/query.h"
#include "api/store_internal.h"
#include "api/readers.h"
#include "api/json_out.h"
#include "api/query_internal.h"
#include "common/err.h"

enum { R_THREADS = CJI_STMT_READ_BASE, R_THREADS_AFTER, R_USER_THREADS, R_USER_THREADS_AFTER,
       R_THREAD, R_USER, R_COST_TOTAL, R_COST_DAY, R_COST_MODEL, R_COST_THREAD, R_MET_NAME,
       R_MET_NAME_AFTER, R_MET_ALL, R_MET_ALL_AFTER, R_SETTINGS, R_END };
_Static_assert(R_END <= CJI_READER_STMTS, "too many statements for the reader's cache");

/* A thread's columns (after the two cursor columns of a listing). The
 * title is the view thread_titles' (one rule: docs/schema.md). */
#define THREAD_COLS \
	" t.thread, t.server, t.channel, tt.title, tt.title_set, t.topic, t.metadata," \
	" t.message_count, (SELECT count(*) FROM images i WHERE i.thread_rowid = t.thread_rowid)," \
	" t.created_ms, t.created, t.last_activity_ms, t.last_activity"
#define THREAD_JOIN " JOIN thread_titles tt ON tt.thread_rowid = t.thread_rowid"
#define THREADS_ALL(cursor) \
	"SELECT t.last_activity_ms, t.thread_rowid," THREAD_COLS \
	" FROM threads t" THREAD_JOIN " WHERE (?2 IS NULL OR t.server = ?2)" cursor \
	" ORDER BY t.last_activity_ms DESC, t.thread_rowid DESC LIMIT ?5"
#define THREADS_OF_USER(cursor) \
	"SELECT ut.last_activity_ms, ut.thread_rowid," THREAD_COLS \
	", ut.message_count, ut.last_activity_ms" \
	" FROM user_threads ut JOIN threads t ON t.thread_rowid = ut.thread_rowid" THREAD_JOIN \
	" WHERE ut.user_rowid = (SELECT user_rowid FROM users WHERE user = ?1)" \
	" AND (?2 IS NULL OR t.server = ?2)" cursor \
	" ORDER BY ut.last_activity_ms DESC, ut.thread_rowid DESC LIMIT ?5"
/* Costs: ?1 user, ?2 thread, ?3 from (inclusive), ?4 to (exclusive). */
#define COST_SUMS \
	" count(*), coalesce(sum(c.input_tokens), 0), coalesce(sum(c.output_tokens), 0)," \
	" coalesce(sum(c.usd), 0.0)"
#define COST_FROM \
	" FROM message_costs c JOIN messages m ON m.seq = c.seq" \
	" WHERE (?1 IS NULL OR c.user_rowid = (SELECT user_rowid FROM users WHERE user = ?1))" \
	" AND (?2 IS NULL OR m.thread_rowid = (SELECT thread_rowid FROM threads WHERE thread = ?2))" \
	" AND c.ts_ms >= ?3 AND c.ts_ms < ?4"
#define METRICS(where) \
	"SELECT ts_ms, seq, seq, name, value, unit, tags, ts_ms, ts FROM metrics" \
	" WHERE ts_ms >= ?6" where " ORDER BY ts_ms, seq LIMIT ?5"

static const char *const SQL[R_END] = {
	[R_THREADS] = THREADS_ALL(""),
	[R_THREADS_AFTER] = THREADS_ALL(" AND (t.last_activity_ms, t.thread_rowid) < (?3, ?4)"),
	[R_USER_THREADS] = THREADS_OF_USER(""),
	[R_USER_THREADS_AFTER] = THREADS_OF_USER(" AND (ut.last_activity_ms, ut.thread_rowid) < (?3, ?4)"),
	[R_THREAD] = "SELECT t.last_activity_ms, t.thread_rowid," THREAD_COLS ", t.config"
	" FROM threads t" THREAD_JOIN " WHERE t.thread = ?1",
	[R_USER] = "SELECT u.user, u.username, u.display_name, u.is_bot, u.avatar_url, u.timezone,"
	" u.tz_label, u.tz_offset, u.metadata, u.config, u.first_seen_ms, u.first_seen,"
	" u.last_seen_ms, u.last_seen,"
	" (SELECT coalesce(sum(message_count), 0) FROM user_threads ut WHERE ut.user_rowid = u.user_rowid),"
	" (SELECT count(*) FROM user_threads ut WHERE ut.user_rowid = u.user_rowid)"
	" FROM users u WHERE u.user = ?1",
	[R_COST_TOTAL] = "SELECT" COST_SUMS COST_FROM,
	[R_COST_DAY] = "SELECT c.day," COST_SUMS COST_FROM " GROUP BY c.day ORDER BY c.day",
	[R_COST_MODEL] = "SELECT c.model," COST_SUMS COST_FROM
	" GROUP BY c.model ORDER BY sum(c.usd) DESC, c.model",
	[R_COST_THREAD] = "SELECT (SELECT thread FROM threads t WHERE t.thread_rowid = m.thread_rowid),"
	COST_SUMS COST_FROM " GROUP BY m.thread_rowid ORDER BY sum(c.usd) DESC, m.thread_rowid LIMIT 100",
	[R_MET_NAME] = METRICS(" AND name = ?1"),
	[R_MET_NAME_AFTER] = METRICS(" AND name = ?1 AND (ts_ms, seq) > (?3, ?4)"),
	[R_MET_ALL] = METRICS(""),
	[R_MET_ALL_AFTER] = METRICS(" AND (ts_ms, seq) > (?3, ?4)"),
	[R_SETTINGS] = "SELECT key, value, category, sensitive, actor, description, updated_ms,"
	" updated, seq FROM settings WHERE (?1 IS NULL OR category = ?1) ORDER BY key LIMIT ?5",
};

/* Columns from..from+n of st under keys; JSON text columns (bit i of
 * json_mask) are embedded, 0/1 columns (bit i of bool_mask) become
 * true/false; NULL columns are left out. */
static int put_cols(cji_buf *b, sqlite3_stmt *st, int from, const char *const *keys, int n,
                    unsigned json_mask, unsigned bool_mask, int *first)
{
	int rc = 0;
	for (int i = 0; i < n && !rc; i++)
		rc = cji_json_col(b, st, from + i, keys[i],
		                  ((json_mask >> i) & 1 ? CJI_JF_JSON : 0u) |
		                  ((bool_mask >> i) & 1 ? CJI_JF_BOOL : 0u), first);
	return rc;
}

static const char *const THREAD_KEYS[] = {
	"thread", "server", "channel", "title", "title_set", "topic", "metadata", "message_count",
	"image_count", "created_ms", "created", "last_activity_ms", "last_activity",
	/* user listings, or the detail's config */
	"user_message_count", "user_last_activity_ms"
};
#define THREAD_NCOLS 13
#define THREAD_JSON (1u << 6)
#define THREAD_BOOL (1u << 4)

static int thread_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	(void)r;
	int first = 1;
	return cji_buf_append(b, "{", 1) ||
	       put_cols(b, st, 2, THREAD_KEYS, THREAD_NCOLS, THREAD_JSON, THREAD_BOOL, &first) ||
	       cji_buf_append(b, "}", 1);
}

static int user_thread_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	(void)r;
	int first = 1;
	return cji_buf_append(b, "{", 1) ||
	       put_cols(b, st, 2, THREAD_KEYS, THREAD_NCOLS + 2, THREAD_JSON, THREAD_BOOL, &first) ||
	       cji_buf_append(b, "}", 1);
}

static int thread_detail_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	(void)r;
	static const char *const cfg[] = { "config" };
	int first = 1;
	return cji_buf_append(b, "{", 1) ||
	       put_cols(b, st, 2, THREAD_KEYS, THREAD_NCOLS, THREAD_JSON, THREAD_BOOL, &first) ||
	       put_cols(b, st, 2 + THREAD_NCOLS, cfg, 1, 1, 0, &first) || cji_buf_append(b, "}", 1);
}

static int user_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	(void)r;
	static const char *const keys[] = {
		"user", "username", "display_name", "is_bot", "avatar_url", "timezone", "tz_label",
		"tz_offset", "metadata", "config", "first_seen_ms", "first_seen", "last_seen_ms",
		"last_seen", "message_count", "thread_count"
	};
	int first = 1;
	return cji_buf_append(b, "{", 1) ||
	       put_cols(b, st, 0, keys, 16, (1u << 8) | (1u << 9), 1u << 3, &first) ||
	       cji_buf_append(b, "}", 1);
}

static int metric_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	(void)r;
	static const char *const keys[] = { "seq", "name", "value", "unit", "tags", "ts_ms", "ts" };
	int first = 1;
	return cji_buf_append(b, "{", 1) || put_cols(b, st, 2, keys, 7, 1u << 4, 0, &first) ||
	       cji_buf_append(b, "}", 1);
}

/* A cost group: its key column (if any) then the four sums. */
static int cost_sums(cji_buf *b, sqlite3_stmt *st, int from, int *first)
{
	static const char *const keys[] = { "messages", "input_tokens", "output_tokens", "usd" };
	return put_cols(b, st, from, keys, 4, 0, 0, first);
}

static int cost_row(cji_buf *b, sqlite3_stmt *st, const char *key)
{
	int first = 1;
	return cji_buf_append(b, "{", 1) || put_cols(b, st, 0, &key, 1, 0, 0, &first) ||
	       cost_sums(b, st, 1, &first) || cji_buf_append(b, "}", 1);
}
static int cost_day_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	(void)r;
	return cost_row(b, st, "day");
}
static int cost_model_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	(void)r;
	return cost_row(b, st, "model");
}
static int cost_thread_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	(void)r;
	return cost_row(b, st, "thread");
}
static int cost_total_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	(void)r;
	int first = 1;
	return cji_buf_append(b, "{", 1) || cost_sums(b, st, 0, &first) || cji_buf_append(b, "}", 1);
}

/* ---- cursors and statements ---------------------------------------------- */

/* "MS.N" (two decimal integers, each at most INT64_MAX) into a, b. */
static int parse_cursor(const char *text, int64_t *a, int64_t *b)
{
	const char *p = text;
	int64_t v[2];
	for (int k = 0; k < 2; k++) {
		if (!isdigit((unsigned char)*p))
			goto bad;
		uint64_t x = 0;
		for (; isdigit((unsigned char)*p); p++) {
			uint64_t d = (uint64_t)(*p - '0');
			if (x > ((uint64_t)INT64_MAX - d) / 10) /* before it can wrap */
				goto bad;
			x = x * 10 + d;
		}
		v[k] = (int64_t)x;
		if (k == 0 && *p++ != '.')
			goto bad;
	}
	if (*p)
		goto bad;
	*a = v[0];
	*b = v[1];
	return 0;
bad:
	return cji_err_field(CJ_EINVAL, "after", "'after' must be the cursor of the previous page "
	                     "(two integers joined by '.', as its Link header or note gave it)");
}

/* Run statement q->idx of r into *out: ?1 ?2 texts (NULL: unbound scope),
 * ?3 ?4 integers (a cursor, or a time range), ?5 the page size plus one,
 * ?6 an integer (a lower time bound). */
typedef struct one_query {
	int idx;
	cji_row_fn row;
	unsigned limit;
	cji_rows_info info;
} one_query;

static int run(cji_reader *r, one_query *q, const char *a1, const char *a2, int64_t a3,
               int64_t a4, int64_t a6, char **out)
{
	sqlite3_stmt *st;
	int rc = cji_reader_stmt(r, q->idx, SQL[q->idx], &st);
	if (rc)
		return rc;
	cji_bind_opt(st, 1, a1);
	cji_bind_opt(st, 2, a2);
	sqlite3_bind_int64(st, 3, a3);
	sqlite3_bind_int64(st, 4, a4);
	sqlite3_bind_int(st, 5, (int)q->limit + 1);
	sqlite3_bind_int64(st, 6, a6);
	return cji_query_collect(r, st, q->row, 0, q->limit, out, &q->info);
}

/* One query on a pooled reader; the reader's errors pass through the
 * store's projection check (a damaged file marks the store degraded). */
static int run_one(cj_store *s, one_query *q, const char *a1, const char *a2, int64_t a3,
                   int64_t a4, int64_t a6, char **out)
{
	cji_reader *r;
	int rc = cji_reader_get(s->readers, &r);
	if (!rc) {
		rc = run(r, q, a1, a2, a3, a4, a6, out);
		cji_reader_put(s->readers, r);
	}
	return cji_store_projection_result(s, rc);
}

static unsigned page_limit(unsigned limit, unsigned dflt)
{
	return !limit ? dflt : limit > CJI_QUERY_MAX_LIMIT ? CJI_QUERY_MAX_LIMIT : limit;
}

/* The last row's cursor columns (0: time, 1: tie-breaker) as "MS.N". */
static void page_cursor(cj_page *page, const one_query *q, int64_t t, int64_t n)
{
	if (!page || !q->info.more)
		return;
	page->more = 1;
	snprintf(page->cursor, sizeof page->cursor, "%" PRId64 ".%" PRId64, t, n);
}

/* A one-object read: the single row, or CJ_ENOTFOUND naming field. */
static int one_object(char **out, cj_store *s, int idx, cji_row_fn row, const char *key,
                      const char *field)
{
	*out = NULL;
	if (!s)
		return cji_err(CJ_EINVAL, "%s: no store", field);
	if (!key || !*key)
		return cji_err_field(CJ_EINVAL, field, "%s is required", field);
	one_query q = { idx, row, 1, CJI_ROWS_INFO_INIT };
	char *arr;
	int rc = run_one(s, &q, key, NULL, 0, 0, 0, &arr);
	if (rc)
		return rc;
	size_t n = strlen(arr);
	if (n <= 2) {
		cj_free(arr);
		return cji_err_field(CJ_ENOTFOUND, field, "no %s '%s' in this store", field, key);
	}
	memmove(arr, arr + 1, n - 2); /* "[{...}]" -> "{...}" */
	arr[n - 2] = '\0';
	*out = arr;
	return 0;
}

/* ---- public ---------------------------------------------------------------- */

/* A listing by time, paged by cursor: the statement idx (or idx_after
 * with a cursor) bound with ?1 text, ?2 text, ?3 ?4 the cursor, ?6 an
 * integer; the next page's cursor into page_out. */
typedef struct listing {
	int idx, idx_after;
	cji_row_fn row;
	unsigned limit;
	const char *after, *t1, *t2;
	int64_t i6;
} listing;

static int list_by_time(char **json_out, cj_page *page_out, cj_store *s, const listing *l)
{
	int64_t t = 0, n = 0;
	int rc = l->after ? parse_cursor(l->after, &t, &n) : 0;
	if (rc)
		return rc;
	one_query oq = { l->after ? l->idx_after : l->idx, l->row, l->limit, CJI_ROWS_INFO_INIT };
	oq.info.want_b = 1;
	rc = run_one(s, &oq, l->t1, l->t2, t, n, l->i6, json_out);
	if (!rc)
		page_cursor(page_out, &oq, oq.info.last, oq.info.last_b);
	return rc;
}

int cj_query_threads(char **json_out, cj_page *page_out, cj_store *s, const cj_threads_query *q)
{
	*json_out = NULL;
	if (page_out)
		memset(page_out, 0, sizeof *page_out);
	if (!s || !q || q->version != CJ_THREADS_QUERY_VERSION)
		return cji_err(CJ_EINVAL, "threads: bad arguments (use CJ_THREADS_QUERY_INIT)");
	listing l = { q->user ? R_USER_THREADS : R_THREADS,
	              q->user ? R_USER_THREADS_AFTER : R_THREADS_AFTER,
	              q->user ? user_thread_row : thread_row, page_limit(q->limit, 50), q->after,
	              q->user, q->server, 0 };
	return list_by_time(json_out, page_out, s, &l);
}

int cj_query_metrics(char **json_out, cj_page *page_out, cj_store *s, const cj_metrics_query *q)
{
	*json_out = NULL;
	if (page_out)
		memset(page_out, 0, sizeof *page_out);
	if (!s || !q || q->version != CJ_METRICS_QUERY_VERSION)
		return cji_err(CJ_EINVAL, "metrics: bad arguments (use CJ_METRICS_QUERY_INIT)");
	listing l = { q->name ? R_MET_NAME : R_MET_ALL, q->name ? R_MET_NAME_AFTER : R_MET_ALL_AFTER,
	              metric_row, page_limit(q->limit, 100), q->after, q->name, NULL, q->since_ms };
	return list_by_time(json_out, page_out, s, &l);
}

int cj_query_thread(char **json_out, cj_store *s, const char *thread)
{
	return one_object(json_out, s, R_THREAD, thread_detail_row, thread, "thread");
}

int cj_query_user(char **json_out, cj_store *s, const char *user)
{
	return one_object(json_out, s, R_USER, user_row, user, "user");
}

int cj_query_costs(char **json_out, cj_store *s, const cj_costs_query *q)
{
	*json_out = NULL;
	if (!s || !q || q->version != CJ_COSTS_QUERY_VERSION)
		return cji_err(CJ_EINVAL, "costs: bad arguments (use CJ_COSTS_QUERY_INIT)");
	if (q->from_ms > q->to_ms)
		return cji_err_field(CJ_EINVAL, "from", "costs: 'from' is after 'to'");
	static const struct { int idx; cji_row_fn row; const char *key; } parts[] = {
		{ R_COST_TOTAL, cost_total_row, "total" },
		{ R_COST_DAY, cost_day_row, "by_day" },
		{ R_COST_MODEL, cost_model_row, "by_model" },
		{ R_COST_THREAD, cost_thread_row, "by_thread" },
	};
	cji_reader *r;
	int rc = cji_reader_get(s->readers, &r);
	if (rc)
		return cji_store_projection_result(s, rc);
	cji_buf b = CJI_BUF_INIT;
	int err = cji_buf_append(&b, "{", 1);
	/* One read transaction: the parts agree with each other. */
	if (!err && sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		rc = cji_err_sqlite(sqlite3_errcode(r->db), sqlite3_errmsg(r->db), "costs: cannot begin");
	for (size_t i = 0; i < sizeof parts / sizeof parts[0] && !rc && !err; i++) {
		one_query oq = { parts[i].idx, parts[i].row, CJI_QUERY_MAX_LIMIT, CJI_ROWS_INFO_INIT };
		char *arr = NULL;
		rc = run(r, &oq, q->user, q->thread, q->from_ms, q->to_ms, 0, &arr);
		if (rc)
			break;
		err = (i && cji_buf_append(&b, ",", 1)) || cji_json_str(&b, parts[i].key, strlen(parts[i].key)) ||
		      cji_buf_append(&b, ":", 1);
		if (!err && i == 0) /* the total: one row, always */
			err = cji_buf_append(&b, arr + 1, strlen(arr) - 2);
		else if (!err)
			err = cji_buf_append(&b, arr, strlen(arr));
		cj_free(arr);
	}
	sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
	cji_reader_put(s->readers, r);
	err = err || cji_buf_append(&b, "}", 2);
	if (rc || err) {
		cji_buf_free(&b);
		return rc ? cji_store_projection_result(s, rc) : cji_err(CJ_ENOMEM, "out of memory");
	}
	*json_out = (char *)b.data;
	return 0;
}

/* ---- settings ----------------------------------------------------------- */

static int word_is(const char *w, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(w, name, n) == 0;
}

int cj_setting_key_sensitive(const char *key)
{
	static const char *const secret[] = { "token", "secret", "password", "passwd", "pwd",
	                                      "passphrase", "credential", "credentials", "apikey",
	                                      "privatekey", "dsn" };
	static const char *const first[] = { "api", "private", "access", "signing" };
	if (!key)
		return 0;
	const char *prev = NULL;
	size_t prev_n = 0;
	for (const char *p = key; *p;) {
		while (*p && strchr("._-/: ", *p))
			p++;
		if (!*p)
			break;
		const char *w = p++;
		/* a word ends at a separator or where a lower-case letter meets an upper-case one */
		while (*p && !strchr("._-/: ", *p) &&
		       !(islower((unsigned char)p[-1]) && isupper((unsigned char)*p)))
			p++;
		size_t n = (size_t)(p - w);
		for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
			if (word_is(w, n, secret[i]))
				return 1;
		if (prev && word_is(w, n, "key"))
			for (size_t i = 0; i < sizeof first / sizeof first[0]; i++)
				if (word_is(prev, prev_n, first[i]))
					return 1;
		prev = w;
		prev_n = n;
	}
	return 0;
}

static int setting_row(cji_buf *b, sqlite3_stmt *st, cji_reader *r)
{
	(void)r;
	static const char *const keys[] = { "key", "value", "category", "sensitive", "actor",
	                                    "description", "updated_ms", "updated", "seq" };
	const char *key = (const char *)sqlite3_column_text(st, 0);
	int flagged = sqlite3_column_int(st, 3) != 0;
	int masked = flagged || cj_setting_key_sensitive(key);
	int first = 1;
	int err = cji_buf_append(b, "{", 1) || put_cols(b, st, 0, keys, 1, 0, 0, &first);
	if (!err && masked)
		err = cji_buf_append(b, ",\"value\":\"***\"", 14);
	else if (!err)
		err = put_cols(b, st, 1, keys + 1, 1, 1, 0, &first);
	err = err || put_cols(b, st, 2, keys + 2, 7, 0, 1u << 1, &first);
	err = err || cji_buf_append(b, masked ? ",\"masked\":true}" : ",\"masked\":false}",
	                            masked ? 15 : 16);
	return err;
}

int cj_query_settings(char **json_out, cj_store *s, const char *category)
{
	*json_out = NULL;
	if (!s)
		return cji_err(CJ_EINVAL, "settings: no store");
	one_query q = { R_SETTINGS, setting_row, CJI_QUERY_MAX_LIMIT, CJI_ROWS_INFO_INIT };
	/* Settings are few (keys of one store's configuration); the page is the
	 * whole table up to CJI_QUERY_MAX_LIMIT keys. */
	return run_one(s, &q, category, NULL, 0, 0, 0, json_out);
}
