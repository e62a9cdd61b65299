/* sink/compare.c — one store's rows in PostgreSQL against a SQLite
 * projection of the same store: per table, the row count and a hash of the
 * canonical rows, computed the same way on both sides from the column
 * lists of rows.c.
 *
 * A canonical row is its values as text, each behind a tag (NULL or
 * value), in column order: integers in decimal, reals as the double they
 * hold ("%.17g"), JSON re-serialized with sorted keys and no spaces (jsonb
 * reorders keys and adds spaces), times as ISO 8601 UTC with milliseconds,
 * booleans 0/1, dates YYYY-MM-DD. Row ids are not compared: the SQLite
 * side joins them back to text. The FTS indexes are not compared (they are
 * different engines). A table's hash is the sum of its rows' XXH3-128
 * hashes, so it does not depend on row order (no collation question). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <xxhash.h>
#include "sink_internal.h"

/* The projection schemas whose rows rows.c reads: 4 (004_chat_model.sql)
 * and 5 to 9 (005_read_api.sql: indexes; 006: scrub_state; 007 and 008:
 * messages.extras, derived from the other columns and tables; 009:
 * messages_tail, a copy of rows of messages). A migration that changes rows
 * must raise SK_SQLITE_SCHEMA_MIN with rows.c. */
#define SK_SQLITE_SCHEMA_MIN 4
#define SK_SQLITE_SCHEMA_MAX 9

typedef struct table_sum {
	uint64_t rows;
	uint64_t lo, hi;
} table_sum;

static int canon_value(sk_buf *row, sk_kind kind, const char *v)
{
	if (!v) {
		sk_buf_add(row, "\x01", 1);
		return 0;
	}
	sk_buf_add(row, "\x02", 1);
	if (kind == SK_REAL) {
		sk_buf_printf(row, "%.17g", strtod(v, NULL));
	} else if (kind == SK_JSON) {
		json_error_t e;
		json_t *j = json_loads(v, JSON_DECODE_ANY, &e);
		char *t = j ? sk_json_text(j) : NULL;
		json_decref(j);
		if (!t)
			return -1;
		sk_buf_str(row, t);
		free(t);
	} else {
		sk_buf_str(row, v);
	}
	sk_buf_add(row, "\x1f", 1);
	return 0;
}

static void add_row(table_sum *s, const sk_buf *row)
{
	XXH128_hash_t h = XXH3_128bits(row->p ? row->p : "", row->len);
	s->rows++;
	s->lo += h.low64;
	s->hi += h.high64;
}

/* PostgreSQL: the expression of one column's canonical text. */
static void pg_expr(sk_buf *q, const sk_col *c)
{
	switch (c->kind) {
	case SK_TIME:
		sk_buf_printf(q, "to_char(\"%s\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
		              c->name);
		break;
	case SK_BOOL: sk_buf_printf(q, "\"%s\"::int::text", c->name); break;
	case SK_DATE: sk_buf_printf(q, "to_char(\"%s\", 'YYYY-MM-DD')", c->name); break;
	default: sk_buf_printf(q, "\"%s\"::text", c->name); break;
	}
}

static int pg_table(cj_sink *k, const sk_table *t, table_sum *s)
{
	sk_buf q = { 0 }, row = { 0 };
	sk_buf_str(&q, "SELECT ");
	for (size_t i = 0; i < t->ncols; i++) {
		if (i)
			sk_buf_str(&q, ", ");
		pg_expr(&q, &t->cols[i]);
	}
	sk_buf_printf(&q, " FROM " SK_PG_SCHEMA ".%s WHERE store_id = $1", t->name);
	const char *p[1] = { k->store_id };
	PGresult *res;
	int rc = q.oom ? cj_error_set(CJ_ENOMEM, NULL, "out of memory")
	               : sk_exec(&res, k, "compare", 0, q.p, 1, p);
	for (int r = 0; !rc && r < PQntuples(res); r++) {
		sk_buf_reset(&row);
		for (size_t i = 0; i < t->ncols && !rc; i++)
			if (canon_value(&row, t->cols[i].kind,
			                PQgetisnull(res, r, (int)i) ? NULL : PQgetvalue(res, r, (int)i)))
				rc = cj_error_set(CJ_EDB, NULL, "compare %s: bad JSON in PostgreSQL", t->name);
		add_row(s, &row);
	}
	if (!rc)
		PQclear(res);
	sk_buf_free(&q);
	sk_buf_free(&row);
	return rc;
}

static int sqlite_table(sqlite3 *db, const sk_table *t, table_sum *s)
{
	sk_buf q = { 0 }, row = { 0 };
	sk_buf_str(&q, "SELECT ");
	for (size_t i = 0; i < t->ncols; i++)
		sk_buf_printf(&q, "%s%s", i ? ", " : "", t->cols[i].sqlite);
	sk_buf_printf(&q, " FROM %s", t->sqlite_from);
	sqlite3_stmt *st;
	if (q.oom || sqlite3_prepare_v2(db, q.p, -1, &st, NULL) != SQLITE_OK) {
		int rc = cj_error_set(CJ_EDB, NULL, "compare %s: SQLite: %s", t->name, sqlite3_errmsg(db));
		sk_buf_free(&q);
		return rc;
	}
	int rc = 0, r;
	while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
		sk_buf_reset(&row);
		for (size_t i = 0; i < t->ncols && !rc; i++) {
			/* Reals as the double SQLite holds: its text form has only
			 * 15 significant digits. */
			char real[40];
			const char *v;
			if (t->cols[i].kind == SK_REAL && sqlite3_column_type(st, (int)i) != SQLITE_NULL) {
				snprintf(real, sizeof real, "%.17g", sqlite3_column_double(st, (int)i));
				v = real;
			} else {
				v = (const char *)sqlite3_column_text(st, (int)i);
			}
			if (canon_value(&row, t->cols[i].kind, v))
				rc = cj_error_set(CJ_EDB, NULL, "compare %s: bad JSON in SQLite", t->name);
		}
		add_row(s, &row);
	}
	if (!rc && r != SQLITE_DONE)
		rc = cj_error_set(CJ_EDB, NULL, "compare %s: SQLite: %s", t->name, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sk_buf_free(&q);
	sk_buf_free(&row);
	return rc;
}

int cj_sink_compare(char **report, cj_sink *k, const char *sqlite_path)
{
	*report = NULL;
	if (!k || !sqlite_path)
		return cj_error_set(CJ_EINVAL, NULL, "compare: NULL argument");
	if (!k->pg)
		return cj_error_set(CJ_EIO, NULL, "compare %s: not connected to PostgreSQL", k->store_id);
	sqlite3 *db;
	if (sqlite3_open_v2(sqlite_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		int rc = cj_error_set(CJ_EIO, NULL, "compare: cannot open %s: %s", sqlite_path,
		                      sqlite3_errmsg(db));
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, 5000);
	/* The columns of rows.c are those of projection schema 4 (event schema
	 * 0.3); an older projection is upgraded by opening the store read-write. */
	sqlite3_stmt *vs;
	int version = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &vs, NULL) == SQLITE_OK) {
		if (sqlite3_step(vs) == SQLITE_ROW)
			version = sqlite3_column_int(vs, 0);
		sqlite3_finalize(vs);
	}
	if (version < SK_SQLITE_SCHEMA_MIN || version > SK_SQLITE_SCHEMA_MAX) {
		int rc = cj_error_set(CJ_EVERSION, NULL, "compare %s: the SQLite projection %s is at "
		                      "schema version %d, the sink compares with versions %d to %d%s",
		                      k->store_id, sqlite_path, version, SK_SQLITE_SCHEMA_MIN,
		                      SK_SQLITE_SCHEMA_MAX,
		                      version >= 0 && version < SK_SQLITE_SCHEMA_MIN ? " (open the store "
		                      "read-write with this build once, e.g. chatjournal vacuum, to upgrade it)" : "");
		sqlite3_close(db);
		return rc;
	}
	sk_buf out = { 0 };
	int rc = 0, differ = 0;
	/* One snapshot on each side. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    (rc = sk_exec(NULL, k, "compare", 0, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL))) {
		if (!rc)
			rc = cj_error_set(CJ_EDB, NULL, "compare: SQLite: %s", sqlite3_errmsg(db));
		sqlite3_close(db);
		return rc;
	}
	sqlite3_stmt *st;
	uint64_t spos = 0, ppos = 0;
	if (sqlite3_prepare_v2(db, "SELECT seq FROM journal_position WHERE id = 1", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			spos = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	PGresult *res;
	const char *p[1] = { k->store_id };
	if (!(rc = sk_exec(&res, k, "compare", 0, "SELECT seq FROM " SK_PG_SCHEMA ".sink_position"
	                   " WHERE store_id = $1", 1, p))) {
		ppos = PQntuples(res) ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
		PQclear(res);
	}
	sk_buf_printf(&out, "position postgresql %llu sqlite %llu\n", (unsigned long long)ppos,
	              (unsigned long long)spos);
	for (int ti = 0; ti < SK_NTABLES && !rc; ti++) {
		table_sum a = { 0, 0, 0 }, b = { 0, 0, 0 };
		if ((rc = pg_table(k, &sk_tables[ti], &a)) || (rc = sqlite_table(db, &sk_tables[ti], &b)))
			break;
		int same = a.rows == b.rows && a.lo == b.lo && a.hi == b.hi;
		differ |= !same;
		sk_buf_printf(&out, "%s %llu %016llx%016llx%s", sk_tables[ti].name,
		              (unsigned long long)a.rows, (unsigned long long)a.hi, (unsigned long long)a.lo,
		              same ? "\n" : "");
		if (!same)
			sk_buf_printf(&out, " differs: sqlite %llu %016llx%016llx\n", (unsigned long long)b.rows,
			              (unsigned long long)b.hi, (unsigned long long)b.lo);
	}
	PQclear(PQexec(k->pg, "COMMIT"));
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	if (rc || out.oom) {
		sk_buf_free(&out);
		return rc ? rc : cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	}
	*report = out.p;
	if (ppos != spos)
		return cj_error_set(CJ_EBUSY, NULL, "compare %s: PostgreSQL is at %llu, the SQLite "
		                    "projection at %llu: not comparable", k->store_id,
		                    (unsigned long long)ppos, (unsigned long long)spos);
	if (differ)
		return cj_error_set(CJ_ECONFLICT, NULL, "compare %s: PostgreSQL and SQLite differ",
		                    k->store_id);
	return 0;
}
