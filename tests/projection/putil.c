/* tests/projection/putil.c — helpers of the projection tests (see putil.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <sqlite3.h>
#include "putil.h"

int pu_append(cj_store *s, const char *json, uint64_t *seq)
{
	cj_event *ev = NULL;
	int rc = cj_event_parse(&ev, json, strlen(json));
	if (rc == 0)
		rc = cj_journal_append(seq, s, ev);
	cj_event_free(ev);
	return rc;
}

int pu_appendf(cj_store *s, uint64_t *seq, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = NULL;
	int w = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (w < 0)
		return CJ_ENOMEM;
	int rc = pu_append(s, text, seq);
	free(text);
	return rc;
}

/* A growing string; aborts on ENOMEM (test helper). */
typedef struct sbuf { char *p; size_t len, cap; } sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			abort();
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static char *error_text(const char *what, sqlite3 *db)
{
	sbuf b = { 0 };
	sb_str(&b, "ERROR: ");
	sb_str(&b, what);
	sb_str(&b, ": ");
	sb_str(&b, db ? sqlite3_errmsg(db) : "no connection");
	return b.p;
}

static int open_ro(const char *path, sqlite3 **db)
{
	int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		sqlite3_busy_timeout(*db, 10000);
	return rc;
}

static void render_value(sbuf *b, sqlite3_stmt *st, int i)
{
	char num[64];
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		sb_str(b, "NULL");
		break;
	case SQLITE_INTEGER:
		snprintf(num, sizeof num, "%lld", (long long)sqlite3_column_int64(st, i));
		sb_str(b, num);
		break;
	case SQLITE_FLOAT:
		snprintf(num, sizeof num, "%.15g", sqlite3_column_double(st, i));
		if (!strpbrk(num, ".eni"))
			strcat(num, ".0");
		sb_str(b, num);
		break;
	default:
		sb_add(b, (const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
	}
}

char *pu_rows(const char *db_path, const char *sql)
{
	sqlite3 *db = NULL;
	if (open_ro(db_path, &db) != SQLITE_OK) {
		char *e = error_text("open", db);
		sqlite3_close(db);
		return e;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		char *e = error_text("prepare", db);
		sqlite3_close(db);
		return e;
	}
	sbuf b = { 0 };
	sb_str(&b, "");
	int rc, rows = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rows++)
			sb_str(&b, "\n");
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			if (i)
				sb_str(&b, "|");
			render_value(&b, st, i);
		}
	}
	if (rc != SQLITE_DONE) {
		free(b.p);
		b.p = error_text("step", db);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return b.p;
}

long long pu_int(const char *db_path, const char *sql)
{
	sqlite3 *db = NULL;
	long long v = -1;
	sqlite3_stmt *st = NULL;
	if (open_ro(db_path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

long long pu_vocab_count(const char *db_path, const char *fts_table, const char *term)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;
	char *ddl = sqlite3_mprintf("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, %Q, instance)",
	                            fts_table);
	if (open_ro(db_path, &db) == SQLITE_OK &&
	    sqlite3_exec(db, ddl, NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM temp.vocab WHERE term = ?1", -1, &st,
	                       NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, term, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
	}
	sqlite3_free(ddl);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

char *pu_seqs(const char *json)
{
	json_error_t e;
	json_t *a = json ? json_loads(json, 0, &e) : NULL;
	sbuf b = { 0 };
	sb_str(&b, "");
	if (!json_is_array(a)) {
		sb_str(&b, "ERROR: not a JSON array");
		json_decref(a);
		return b.p;
	}
	size_t i;
	json_t *o;
	json_array_foreach(a, i, o) {
		json_t *v = json_object_get(o, "seq");
		char num[32];
		if (json_is_integer(v))
			snprintf(num, sizeof num, "%s%lld", i ? "," : "", (long long)json_integer_value(v));
		else
			snprintf(num, sizeof num, "%s?", i ? "," : "");
		sb_str(&b, num);
	}
	json_decref(a);
	return b.p;
}

long pu_count_not(const char *json, const char *field, const char *want)
{
	json_t *a = json ? json_loads(json, 0, NULL) : NULL;
	if (!json_is_array(a)) {
		json_decref(a);
		return -1;
	}
	long bad = 0;
	size_t i;
	json_t *o;
	json_array_foreach(a, i, o) {
		if (!json_is_object(o)) {
			bad = -1;
			break;
		}
		const char *v = json_string_value(json_object_get(o, field));
		if (!v || strcmp(v, want) != 0)
			bad++;
	}
	json_decref(a);
	return bad;
}

int pu_copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	if (n < 0 || fsync(out) != 0)
		rc = -1;
	close(in);
	if (close(out) != 0)
		rc = -1;
	return rc;
}

int pu_exec_rw(const char *db_path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		fprintf(stderr, "pu_exec_rw(%s): %s\n", sql, db ? sqlite3_errmsg(db) : "no connection");
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

int pu_set_conf_defaults(const char *store, const char *defaults_json)
{
	return tu_set_conf(store, "defaults", NULL, defaults_json);
}

int pu_json_equal(const char *a, const char *b)
{
	json_t *x = json_loads(a, JSON_DECODE_ANY, NULL);
	json_t *y = json_loads(b, JSON_DECODE_ANY, NULL);
	int eq = x && y && json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return eq;
}

void pu_sqlite_path(char *out, size_t n, const char *store)
{
	tu_path(out, n, store, "chat.sqlite");
}

int pu_replay_matches(tu_fixture *tu, int wait_ms)
{
	uint64_t last = 0;
	int ok = cj_journal_last_seq(&last, tu->s) == 0 &&
	         (last == 0 || cj_wait_applied(tu->s, last, wait_ms) == 0);
	char db[PATH_MAX], out[PATH_MAX], live[33], replayed[33];
	pu_sqlite_path(db, sizeof db, tu->store);
	tu_path(out, sizeof out, tu->dir, "replayed.sqlite");
	char *report = NULL;
	ok = ok && cj_projection_replay(tu->s, &(cj_replay_options){
	                 CJ_REPLAY_OPTIONS_VERSION, out, 0, 0, NULL, NULL }) == 0 &&
	     cj_projection_hash(live, NULL, db) == 0 &&
	     cj_projection_hash(replayed, NULL, out) == 0 && strcmp(live, replayed) == 0 &&
	     cj_projection_check(&report, db) == 0;
	if (ok) {
		cj_free(report);
		report = NULL;
		ok = cj_projection_check(&report, out) == 0;
	}
	if (!ok) {
		char *diff = NULL;
		cj_projection_diff(&diff, db, out);
		fprintf(stderr, "replay differs from the live projection or a check failed: %s / %s / %s\n",
		        cj_error_last(), diff ? diff : "-", report ? report : "-");
		cj_free(diff);
	}
	cj_free(report);
	return ok ? 0 : -1;
}
