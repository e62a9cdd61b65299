/* materializer/hash.c — the canonical state hash of a projection, its first
 * difference with another, and its integrity checks. The hash covers every
 * table in primary-key order (value types and bytes) and the logical content
 * of the FTS indexes through fts5vocab 'instance' tables (term, row, column,
 * offset), which does not depend on how FTS5 happened to merge segments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <xxhash.h>
#include "chatjournal/query.h"
#include "materializer/db.h"
#include "materializer/hash.h"
#include "materializer/schema.h"
#include "journal/keys.h"
#include "common/err.h"
#include "common/buf.h"

typedef struct hashed_table {
	const char *name;
	const char *select;  /* canonical rows of the table */
} hashed_table;

static const hashed_table TABLES[] = {
	{ "journal_position", "SELECT id, seq FROM journal_position ORDER BY id" },
	{ "users", "SELECT * FROM users ORDER BY user_rowid" },
	{ "threads", "SELECT * FROM threads ORDER BY thread_rowid" },
	{ "user_threads", "SELECT * FROM user_threads ORDER BY user_rowid, thread_rowid" },
	{ "messages", "SELECT * FROM messages ORDER BY seq" },
	{ "messages_tail", "SELECT * FROM messages_tail ORDER BY thread_rowid, seq" },
	{ "message_costs", "SELECT * FROM message_costs ORDER BY seq" },
	{ "blobs", "SELECT * FROM blobs ORDER BY blob" },
	{ "images", "SELECT * FROM images ORDER BY seq" },
	{ "settings", "SELECT * FROM settings ORDER BY key" },
	{ "config_changes", "SELECT * FROM config_changes ORDER BY seq" },
	{ "metrics", "SELECT * FROM metrics ORDER BY seq" },
	{ "message_edits", "SELECT * FROM message_edits ORDER BY seq" },
	{ "reactions", "SELECT * FROM reactions ORDER BY message_seq, emoji, user" },
	{ "attachments", "SELECT * FROM attachments ORDER BY message_seq, idx" },
	{ "messages_fts", "SELECT term, doc, col, offset FROM temp.cj_vocab_messages"
	                  " ORDER BY term, doc, col, offset" },
	{ "images_fts", "SELECT term, doc, col, offset FROM temp.cj_vocab_images"
	                " ORDER BY term, doc, col, offset" },
};
#define NTABLES (sizeof TABLES / sizeof TABLES[0])

static int open_plain_ro(sqlite3 **db, const char *path)
{
	int rc = cji_sqlite_open(path, db, SQLITE_OPEN_READONLY);
	if (rc) {
		int code = cji_err_sqlite(rc, *db ? sqlite3_errmsg(*db) : NULL, "cannot open %s", path);
		sqlite3_close(*db);
		*db = NULL;
		return code;
	}
	sqlite3_busy_timeout(*db, 5000);
	return cji_db_exec(*db,
	                   "CREATE VIRTUAL TABLE temp.cj_vocab_messages USING fts5vocab(main, messages_fts, instance);"
	                   "CREATE VIRTUAL TABLE temp.cj_vocab_images USING fts5vocab(main, images_fts, instance);",
	                   "cannot inspect the FTS indexes");
}

static void hash_value(XXH3_state_t *h, sqlite3_stmt *st, int i)
{
	int t = sqlite3_column_type(st, i);
	uint8_t tag = (uint8_t)t;
	XXH3_128bits_update(h, &tag, 1);
	if (t == SQLITE_INTEGER) {
		int64_t v = sqlite3_column_int64(st, i);
		XXH3_128bits_update(h, &v, sizeof v);
	} else if (t == SQLITE_FLOAT) {
		double v = sqlite3_column_double(st, i);
		XXH3_128bits_update(h, &v, sizeof v);
	} else if (t != SQLITE_NULL) {
		const void *p = t == SQLITE_BLOB ? sqlite3_column_blob(st, i) : sqlite3_column_text(st, i);
		uint64_t n = (uint64_t)sqlite3_column_bytes(st, i);
		XXH3_128bits_update(h, &n, sizeof n);
		if (n)
			XXH3_128bits_update(h, p, (size_t)n);
	}
}

static void hex128(XXH128_hash_t v, char out[33])
{
	uint8_t b[16];
	cji_put_be64(b, v.high64);
	cji_put_be64(b + 8, v.low64);
	cji_blob_hex(b, out);
}

/* Columns whose derivation changed with a schema version: a projection of
 * an older schema holds the old meaning, so a comparison in its shape leaves
 * them out (schema 4: the earliest event time, not the first applied). */
static const struct { const char *table, *column; int changed_in; } CHANGED[] = {
	{ "users", "first_seen_ms", 4 }, { "users", "first_seen", 4 },
	{ "threads", "created_ms", 4 }, { "threads", "created", 4 },
};

static int changed_since(const char *table, const char *column, int shape_version)
{
	for (size_t i = 0; i < sizeof CHANGED / sizeof CHANGED[0]; i++)
		if (shape_version < CHANGED[i].changed_in && strcmp(CHANGED[i].table, table) == 0 &&
		    strcmp(CHANGED[i].column, column) == 0)
			return 1;
	return 0;
}

/* The SELECT of table t; with shape (an attached schema "shape"), only the
 * columns that schema's table has, in its order (*skip = 1 when it has no
 * such table): a projection of an older schema hashed as that schema sees it. */
static int select_of(sqlite3 *db, const hashed_table *t, int shape, char *sql, size_t n, int *skip)
{
	*skip = 0;
	if (!shape || strncmp(t->select, "SELECT * ", 9) != 0) {
		snprintf(sql, n, "%s", t->select);
		return 0;
	}
	int version = 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA shape.user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	char q[160];
	snprintf(q, sizeof q, "SELECT name FROM pragma_table_info('%s', 'shape')", t->name);
	int rc = sqlite3_prepare_v2(db, q, -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "hash: cannot read the columns of %s", t->name);
	size_t o = (size_t)snprintf(sql, n, "SELECT ");
	int cols = 0;
	while (sqlite3_step(st) == SQLITE_ROW && o < n) {
		const char *c = (const char *)sqlite3_column_text(st, 0);
		if (!changed_since(t->name, c, version))
			o += (size_t)snprintf(sql + o, n - o, "%s\"%s\"", cols++ ? ", " : "", c);
	}
	sqlite3_finalize(st);
	if (!cols) {
		*skip = 1;
		return 0;
	}
	if (o < n)
		o += (size_t)snprintf(sql + o, n - o, "%s", t->select + 8);
	if (o >= n)
		return cji_err(CJ_EINVAL, "hash: the column list of %s is too long", t->name);
	return 0;
}

static int hash_table(sqlite3 *db, const hashed_table *t, int shape, XXH3_state_t *total,
                      char out[33], int *skip)
{
	char sql[2048];
	int rc = select_of(db, t, shape, sql, sizeof sql, skip);
	if (rc || *skip)
		return rc;
	sqlite3_stmt *st;
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "hash: cannot read %s", t->name);
	XXH3_state_t *h = XXH3_createState();
	XXH3_128bits_reset(h);
	XXH3_128bits_update(h, t->name, strlen(t->name) + 1);
	int ncol = sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		for (int i = 0; i < ncol; i++)
			hash_value(h, st, i);
	sqlite3_finalize(st);
	XXH128_hash_t v = XXH3_128bits_digest(h);
	XXH3_freeState(h);
	if (rc != SQLITE_DONE)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "hash: cannot read %s", t->name);
	XXH3_128bits_update(total, &v, sizeof v);
	hex128(v, out);
	return 0;
}

static int uri_path(const char *p, char *out, size_t n);

static int hash_file(char hex_out[33], char **tables_out, const char *sqlite_path,
                     const char *shape_path)
{
	if (tables_out)
		*tables_out = NULL;
	sqlite3 *db = NULL;
	int rc = open_plain_ro(&db, sqlite_path);
	if (rc) {
		sqlite3_close(db);
		return rc;
	}
	if (shape_path) {
		char uri[8900], sql[9000];
		if (uri_path(shape_path, uri, sizeof uri)) {
			sqlite3_close(db);
			return cji_err(CJ_ETOOBIG, "hash: path too long");
		}
		snprintf(sql, sizeof sql, "ATTACH 'file:%s?mode=ro' AS shape", uri);
		if ((rc = cji_db_exec(db, sql, "hash: cannot open the projection whose shape to follow"))) {
			sqlite3_close(db);
			return rc;
		}
	}
	/* One read transaction: every table from the same snapshot. */
	if ((rc = cji_db_exec(db, "BEGIN", "hash: begin"))) {
		sqlite3_close(db);
		return rc;
	}
	XXH3_state_t *total = XXH3_createState();
	XXH3_128bits_reset(total);
	json_t *detail = json_object();
	for (size_t i = 0; i < NTABLES && !rc; i++) {
		char hx[33];
		int skip = 0;
		if ((rc = hash_table(db, &TABLES[i], shape_path != NULL, total, hx, &skip)) == 0 && !skip)
			json_object_set_new(detail, TABLES[i].name, json_string(hx));
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	if (!rc) {
		hex128(XXH3_128bits_digest(total), hex_out);
		if (tables_out)
			*tables_out = json_dumps(detail, JSON_COMPACT);
	}
	XXH3_freeState(total);
	json_decref(detail);
	return rc;
}

int cj_projection_hash(char hex_out[33], char **tables_out, const char *sqlite_path)
{
	return hash_file(hex_out, tables_out, sqlite_path, NULL);
}

int cji_projection_hash_like(char hex_out[33], const char *sqlite_path, const char *shape_path)
{
	return hash_file(hex_out, NULL, sqlite_path, shape_path);
}

/* First row of `a` not in `b` or the other way, for one table. */
static int diff_table(sqlite3 *db, const hashed_table *t, char **report)
{
	const char *from = strstr(t->select, " FROM ");
	const char *order = strstr(t->select, " ORDER BY");
	char cols[256], src[128];
	snprintf(cols, sizeof cols, "%.*s", (int)(from - t->select - 7), t->select + 7);
	snprintf(src, sizeof src, "%.*s", (int)(order - from - 6), from + 6);
	int fts = strncmp(src, "temp.", 5) == 0;
	for (int dir = 0; dir < 2; dir++) {
		const char *x = dir ? "b" : "a", *y = dir ? "a" : "b";
		char sql[1024];
		if (fts) /* vocab tables exist per schema: temp.cj_vocab_X_a / _b */
			snprintf(sql, sizeof sql, "SELECT %s FROM %s_%s EXCEPT SELECT %s FROM %s_%s LIMIT 1",
			         cols, src, x, cols, src, y);
		else
			snprintf(sql, sizeof sql, "SELECT %s FROM %s.%s EXCEPT SELECT %s FROM %s.%s LIMIT 1",
			         cols, x, src, cols, y, src);
		sqlite3_stmt *st;
		int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
		if (rc)
			return cji_err_sqlite(rc, sqlite3_errmsg(db), "diff: cannot compare %s", t->name);
		if (sqlite3_step(st) == SQLITE_ROW) {
			cji_buf b = CJI_BUF_INIT;
			char head[160];
			snprintf(head, sizeof head, "table %s: row only in the %s projection: ", t->name,
			         dir ? "second" : "first");
			cji_buf_append(&b, head, strlen(head));
			for (int i = 0; i < sqlite3_column_count(st); i++) {
				const char *v = (const char *)sqlite3_column_text(st, i);
				char cell[140];
				snprintf(cell, sizeof cell, "%s%s=%.100s", i ? ", " : "", sqlite3_column_name(st, i),
				         v ? v : "NULL");
				cji_buf_append(&b, cell, strlen(cell));
			}
			cji_buf_append(&b, "", 1);
			*report = (char *)b.data;
		}
		sqlite3_finalize(st);
		if (*report)
			return 0;
	}
	return 0;
}

/* A path as the path part of a file: URI (every byte but unreserved ones and
 * '/' percent-encoded, so '?', '#' and '%' in folder names survive). */
static int uri_path(const char *p, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		            c == '/' || c == '-' || c == '_' || c == '.' || c == '~';
		if (o + 4 >= n)
			return -1;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

int cj_projection_diff(char **report, const char *path_a, const char *path_b)
{
	*report = NULL;
	sqlite3 *db;
	int rc = cji_sqlite_open(":memory:", &db, SQLITE_OPEN_READWRITE);
	if (rc) {
		sqlite3_close(db);
		return cji_err(CJ_ENOMEM, "diff: cannot open a scratch database");
	}
	char ua[8400], ub[8400];
	if (uri_path(path_a, ua, sizeof ua) || uri_path(path_b, ub, sizeof ub)) {
		sqlite3_close(db);
		return cji_err(CJ_ETOOBIG, "diff: path too long");
	}
	char *sql = sqlite3_mprintf(
		"ATTACH 'file:%q?mode=ro' AS a; ATTACH 'file:%q?mode=ro' AS b;"
		"CREATE VIRTUAL TABLE temp.cj_vocab_messages_a USING fts5vocab(a, messages_fts, instance);"
		"CREATE VIRTUAL TABLE temp.cj_vocab_messages_b USING fts5vocab(b, messages_fts, instance);"
		"CREATE VIRTUAL TABLE temp.cj_vocab_images_a USING fts5vocab(a, images_fts, instance);"
		"CREATE VIRTUAL TABLE temp.cj_vocab_images_b USING fts5vocab(b, images_fts, instance);",
		ua, ub);
	rc = cji_db_exec(db, sql, "diff: cannot attach the projections");
	sqlite3_free(sql);
	for (size_t i = 0; i < NTABLES && !rc && !*report; i++)
		rc = diff_table(db, &TABLES[i], report);
	sqlite3_close(db);
	if (!rc && !*report)
		*report = strdup("");
	return rc;
}

static int check_fts(sqlite3 *db, const char *table, cji_buf *out)
{
	char sql[128];
	/* rank = 1 also compares the index with the content table (SQLite >= 3.38). */
	snprintf(sql, sizeof sql, "INSERT INTO %s (%s, rank) VALUES ('integrity-check', 1)", table, table);
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		return 0;
	char line[600];
	snprintf(line, sizeof line, "%s%s: %s", out->len ? "; " : "", table, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	cji_buf_append(out, line, strlen(line));
	return 1;
}

/* messages_tail against its rule (009_messages_tail.sql): the rows one has
 * and the other has not; a file of an older schema has neither. */
static int check_tail(sqlite3 *db, cji_buf *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM (SELECT * FROM messages_tail EXCEPT"
	                            " SELECT * FROM messages_tail_newest)), (SELECT count(*) FROM"
	                            " (SELECT * FROM messages_tail_newest EXCEPT SELECT * FROM messages_tail))",
	                            -1, &st, NULL);
	if (rc != SQLITE_OK) {
		int version = 0;
		cji_schema_version(db, &version);
		if (version < CJI_SCHEMA_MESSAGES_TAIL)
			return sqlite3_finalize(st), 0;
	}
	char line[600];
	line[0] = 0;
	if (rc != SQLITE_OK || (rc = sqlite3_step(st)) != SQLITE_ROW)
		snprintf(line, sizeof line, "%smessages_tail: %s", out->len ? "; " : "", sqlite3_errmsg(db));
	else if (sqlite3_column_int64(st, 0) || sqlite3_column_int64(st, 1))
		snprintf(line, sizeof line, "%smessages_tail: %lld rows that are not (or no longer) among"
		         " their thread's newest messages, %lld such rows missing", out->len ? "; " : "",
		         (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	cji_buf_append(out, line, strlen(line));
	return line[0] != 0;
}

/* Every row's parents are there (foreign_key_check): the writers enforce
 * the foreign keys, except replay's load before its first deletion
 * (replay.c), which this proves. The count, and the first row found. */
static int check_fk(sqlite3 *db, cji_buf *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL);
	char line[600];
	line[0] = 0;
	if (rc != SQLITE_OK) {
		snprintf(line, sizeof line, "%sforeign_key_check: %s", out->len ? "; " : "", sqlite3_errmsg(db));
	} else {
		long long n = 0;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (n++ == 0) /* follows the head below, which carries the separator */
				snprintf(line, sizeof line, " table %s, rowid %lld, refers to a missing row of %s",
				         (const char *)sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 1),
				         (const char *)sqlite3_column_text(st, 2));
		}
		if (rc != SQLITE_DONE)
			snprintf(line, sizeof line, "%sforeign_key_check: %s", out->len ? "; " : "",
			         sqlite3_errmsg(db));
		else if (n) {
			char head[128];
			snprintf(head, sizeof head, "%sforeign_key_check: %lld rows without their parent, first:",
			         out->len ? "; " : "", n);
			cji_buf_append(out, head, strlen(head));
		}
	}
	sqlite3_finalize(st);
	cji_buf_append(out, line, strlen(line));
	return line[0] != 0;
}

int cj_projection_check(char **report, const char *sqlite_path)
{
	*report = NULL;
	sqlite3 *db;
	int rc = cji_sqlite_open(sqlite_path, &db, SQLITE_OPEN_READWRITE);
	if (rc) {
		int code = cji_err_sqlite(rc, db ? sqlite3_errmsg(db) : NULL, "cannot open %s", sqlite_path);
		sqlite3_close(db);
		return code;
	}
	/* This connection must not checkpoint: the materializer owns that. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_busy_timeout(db, 5000);
	cji_buf out = CJI_BUF_INIT;
	sqlite3_stmt *st;
	int bad = 0;
	int prc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
	if (prc != SQLITE_OK) {
		const char *m = sqlite3_errmsg(db);
		bad = 1;
		cji_buf_append(&out, "integrity_check: ", 17);
		cji_buf_append(&out, m, strlen(m));
	} else {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *r = (const char *)sqlite3_column_text(st, 0);
			if (r && strcmp(r, "ok") != 0) {
				bad = 1;
				if (out.len)
					cji_buf_append(&out, "; ", 2);
				cji_buf_append(&out, r, strlen(r));
			}
		}
		sqlite3_finalize(st);
	}
	bad |= check_fts(db, "messages_fts", &out);
	bad |= check_fts(db, "images_fts", &out);
	bad |= check_tail(db, &out);
	bad |= check_fk(db, &out);
	sqlite3_close(db);
	if (!bad)
		cji_buf_append(&out, "ok", 2);
	cji_buf_append(&out, "", 1);
	*report = (char *)out.data;
	if (bad)
		return cji_err(CJ_ECORRUPT, "%s: %s", sqlite_path, *report);
	return 0;
}
