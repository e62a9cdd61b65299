/* bench/base_sqlite.c — baselines "seed" and "seed_fts": how the seed designs
 * persisted chat messages. SQLite in WAL mode, synchronous=FULL, autocommit:
 * every statement is its own transaction, so every message pays at least one
 * WAL append and one fsync. "seed" is one INSERT per message; "seed_fts" adds
 * what the seeds also did per message (docs/performance.md, design figures: "the seed designs' way"):
 * a thread upsert (its own autocommit) and an FTS5 index kept by a trigger. */
#include <stdio.h>
#include <sqlite3.h>
#include "measure.h"
#include "workload.h"

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE messages("
	" id INTEGER PRIMARY KEY, thread TEXT NOT NULL, role TEXT NOT NULL,"
	" content TEXT NOT NULL, user TEXT, server TEXT, channel TEXT,"
	" metadata TEXT, ts INTEGER NOT NULL);"
	"CREATE INDEX messages_thread_ts ON messages(thread, ts);";

static const char schema_fts[] =
	"CREATE TABLE threads("
	" id INTEGER PRIMARY KEY, thread TEXT NOT NULL UNIQUE, server TEXT, channel TEXT,"
	" updated_at INTEGER, message_count INTEGER NOT NULL DEFAULT 0);"
	"CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id');"
	"CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN"
	" INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END;";

static const char insert_sql[] =
	"INSERT INTO messages(thread, role, content, user, server, channel, metadata, ts)"
	" VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

static const char upsert_sql[] =
	"INSERT INTO threads(thread, server, channel, updated_at, message_count)"
	" VALUES (?, ?, ?, ?, 1) ON CONFLICT(thread) DO UPDATE SET"
	" updated_at = excluded.updated_at, message_count = message_count + 1";

typedef struct seed_ctx {
	sqlite3_stmt *insert;
	sqlite3_stmt *upsert;    /* NULL for the plain "seed" */
} seed_ctx;

static void bind_msg(sqlite3_stmt *st, const cjb_msg *m)
{
	sqlite3_bind_text(st, 1, m->thread, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, m->content, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, m->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, m->server, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, m->channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, m->metadata, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, m->ts_ms);
}

static void bind_thread(sqlite3_stmt *st, const cjb_msg *m)
{
	sqlite3_bind_text(st, 1, m->thread, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m->server, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, m->channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, m->ts_ms);
}

/* Run one bound statement as its own (autocommit) transaction. */
static int step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int seed_work(cjb_worker *w)
{
	seed_ctx *c = w->ctx;
	cjb_msg m;
	for (uint64_t i = 0; cjb_claim(w, 1); i++) {
		cjb_msg_fill(&m, 0, i);   /* building the row is the caller's cost, as in the seeds */
		uint64_t t = cjb_now_ns();
		int rc = SQLITE_OK;
		if (c->upsert) {
			bind_thread(c->upsert, &m);
			rc = step(c->upsert);
		}
		if (rc == SQLITE_OK) {
			bind_msg(c->insert, &m);
			rc = step(c->insert);
		}
		if (rc != SQLITE_OK)
			return cjb_fail(w, "sqlite insert: %s", sqlite3_errstr(rc));
		if (cjb_done(w, 1, cjb_now_ns() - t) != 0)
			return -1;
	}
	return 0;
}

static int setup(sqlite3 *db, int fts, seed_ctx *c)
{
	int rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
	if (rc == SQLITE_OK && fts)
		rc = sqlite3_exec(db, schema_fts, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, insert_sql, -1, &c->insert, NULL);
	if (rc == SQLITE_OK && fts)
		rc = sqlite3_prepare_v2(db, upsert_sql, -1, &c->upsert, NULL);
	return rc;
}

int cjb_measure_seed(const char *dir, int fts, const cjb_bounds *b, cjb_result *res)
{
	char path[4096];
	sqlite3 *db = NULL;
	seed_ctx c = { NULL, NULL };
	snprintf(path, sizeof(path), "%s/seed.sqlite", dir);
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK)
		rc = setup(db, fts, &c);
	int ret = -1;
	if (rc != SQLITE_OK)
		cjb_result_fail(res, "sqlite setup %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	else
		ret = cjb_run_workers(1, seed_work, &c, b, res);
	sqlite3_finalize(c.insert);
	sqlite3_finalize(c.upsert);
	sqlite3_close(db);
	return ret;
}
