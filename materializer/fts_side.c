/* materializer/fts_side.c — replay's FTS5 indexes on a thread of their own
 * (fts_side.h).
 *
 * The applier fills one queue; handed off, it joins a ring of SIDE_SLOTS
 * that the thread runs in order, and the applier takes back an empty one
 * (the arrays and the text buffer change hands, so each is freed and grown
 * by whichever thread holds it, never shared). The applier waits only when
 * the ring is full: with one slot it waited at most hand-offs (FTS5 is the
 * longer of the two threads while rows are loaded), and the FTS work left
 * at the end of the load runs while the secondary indexes are built. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "materializer/fts_side.h"
#include "materializer/apply_sql.h"
#include "materializer/db.h"
#include "common/err.h"

enum { F_MSG, F_MSG_DEL, F_IMG, F_IMG_DEL, F_COUNT };

/* Handed-off FTS operations and their texts. */
typedef struct side_queue {
	cji_fts_row *fts;
	size_t nfts, capfts;
	cji_buf text;
} side_queue;

#define SIDE_SLOTS 4

struct cji_fts_side {
	sqlite3 *db;
	sqlite3_stmt *st[F_COUNT];
	char path[4400];
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	int rc;             /* the thread's first error (sticky) */
	char err[512];
	/* slot[head] .. slot[head + queued - 1] (mod SIDE_SLOTS) wait or run;
	 * the others are empty, with their capacity, for the applier */
	side_queue slot[SIDE_SLOTS];
	unsigned head, queued;
};

static const char *text_of(const side_queue *q, const cji_fts_row *f, int col)
{
	return f->has[col] ? (const char *)q->text.data + f->off[col] : NULL;
}

static int run_queue(cji_fts_side *s, side_queue *q)
{
	int rc = cji_db_exec(s->db, "BEGIN", "replay: FTS side file");
	for (size_t i = 0; i < q->nfts && !rc; i++) {
		const cji_fts_row *f = &q->fts[i];
		sqlite3_stmt *st = s->st[f->images ? (f->del ? F_IMG_DEL : F_IMG) : (f->del ? F_MSG_DEL : F_MSG)];
		sqlite3_bind_int64(st, 1, f->seq);
		cji_bind_str(st, 2, text_of(q, f, 0));
		if (f->images)
			cji_bind_str(st, 3, text_of(q, f, 1));
		int r = sqlite3_step(st);
		sqlite3_reset(st);
		if (r != SQLITE_DONE)
			rc = cji_err_sqlite(r, sqlite3_errmsg(s->db), "replay: %s of record %lld",
			                    f->images ? "images_fts" : "messages_fts", (long long)f->seq);
	}
	if (!rc)
		rc = cji_db_exec(s->db, "COMMIT", "replay: FTS side file");
	else
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	q->nfts = 0;
	cji_buf_reset(&q->text);
	return rc;
}

static void *side_main(void *arg)
{
	cji_fts_side *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->queued && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->queued)
			break;
		side_queue *q = &s->slot[s->head];
		pthread_mutex_unlock(&s->mu);
		int rc = run_queue(s, q);
		pthread_mutex_lock(&s->mu);
		if (rc && !s->rc) {
			s->rc = rc;
			snprintf(s->err, sizeof s->err, "%s", cj_error_last());
		}
		s->head = (s->head + 1) % SIDE_SLOTS;
		s->queued--;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* FTS5 keeps the terms of the documents being inserted in memory until its
 * 'hashsize' (1 MB by default), then writes a segment; every segment is
 * merged again later (automerge). With 256 MB, a 400,000-message load took
 * 1.7 s instead of 3.1 s (sqlite3 shell, docs/performance.md). The setting
 * is a row of T_config: copy_shadows takes it out of the projection. */
#define SIDE_HASHSIZE "268435456"

static int set_hashsize(sqlite3 *db, const char *table)
{
	char *sql = sqlite3_mprintf("INSERT INTO \"%w\" (\"%w\", rank) VALUES ('hashsize', " SIDE_HASHSIZE ")",
	                            table, table);
	int rc = sql ? cji_db_exec(db, sql, "replay: FTS side file") : cji_err(CJ_ENOMEM, "out of memory");
	sqlite3_free(sql);
	return rc;
}

/* The FTS5 tables of main's schema, created alike in the side file. */
static int create_tables(cji_fts_side *s, sqlite3 *main_db)
{
	sqlite3_stmt *st;
	int rc = cji_db_prepare(main_db, "SELECT sql, name FROM sqlite_schema WHERE " CJI_FTS5_TABLE_WHERE
	                        " ORDER BY name", &st);
	if (rc)
		return rc;
	while (!rc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = cji_db_exec(s->db, (const char *)sqlite3_column_text(st, 0), "replay: FTS side file");
		if (!rc)
			rc = set_hashsize(s->db, (const char *)sqlite3_column_text(st, 1));
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = cji_err_sqlite(rc, sqlite3_errmsg(main_db), "replay: the FTS5 tables");
	sqlite3_finalize(st);
	return rc;
}

int cji_fts_side_open(cji_fts_side **out, sqlite3 *main_db, const char *path)
{
	*out = NULL;
	cji_fts_side *s = calloc(1, sizeof *s);
	if (!s)
		return cji_err(CJ_ENOMEM, "out of memory");
	snprintf(s->path, sizeof s->path, "%s", path);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	unlink(path);
	cji_db_unlink_sidecars(path);
	static const char *const sql[F_COUNT] = {
		[F_MSG] = "INSERT INTO messages_fts (rowid, content) VALUES (?1, ?2)",
		[F_MSG_DEL] = "INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', ?1, ?2)",
		[F_IMG] = "INSERT INTO images_fts (rowid, prompt, analysis) VALUES (?1, ?2, ?3)",
		[F_IMG_DEL] = "INSERT INTO images_fts (images_fts, rowid, prompt, analysis)"
		              " VALUES ('delete', ?1, ?2, ?3)",
	};
	/* a private scratch file: no journal, no sync, 0600 (db.c's bulk mode
	 * would also run the projection's migrations in it) */
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = fd < 0 ? cji_err_errno(errno, "replay: cannot create %s", path) : 0;
	if (fd >= 0)
		close(fd);
	if (!rc && (rc = cji_sqlite_open(path, &s->db, SQLITE_OPEN_READWRITE)))
		rc = cji_err_sqlite(rc, s->db ? sqlite3_errmsg(s->db) : NULL, "replay: cannot open %s", path);
	if (!rc)
		rc = cji_db_exec(s->db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
		                 "PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-262144;"
		                 "PRAGMA temp_store=MEMORY", "replay: FTS side file");
	if (!rc)
		rc = create_tables(s, main_db);
	for (int i = 0; !rc && i < F_COUNT; i++)
		rc = cji_db_prepare(s->db, sql[i], &s->st[i]);
	if (!rc && pthread_create(&s->th, NULL, side_main, s) != 0)
		rc = cji_err(CJ_ENOMEM, "replay: cannot start the FTS thread");
	if (rc) {
		cji_fts_side_close(s);
		return rc;
	}
	s->started = 1;
	*out = s;
	return 0;
}

/* Wait until a slot is free; the thread's first error. mu held. */
static int slot_free(cji_fts_side *s)
{
	while (s->queued == SIDE_SLOTS)
		pthread_cond_wait(&s->cv, &s->mu);
	return s->rc;
}

static int thread_error(cji_fts_side *s, int rc)
{
	return rc ? cji_err(rc, "%s", s->err) : 0;
}

int cji_fts_side_hand(cji_fts_side *s, cji_apply *a)
{
	pthread_mutex_lock(&s->mu);
	int rc = slot_free(s);
	if (!rc && a->nfts) {
		side_queue *q = &s->slot[(s->head + s->queued) % SIDE_SLOTS];
		side_queue empty = *q;
		q->fts = a->fts;
		q->nfts = a->nfts;
		q->capfts = a->capfts;
		q->text = a->fts_text;
		a->fts = empty.fts;
		a->nfts = 0;
		a->capfts = empty.capfts;
		a->fts_text = empty.text;
		s->queued++;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return thread_error(s, rc);
}

/* Replace main's copy of every shadow table of the side file's FTS5
 * tables (names start with an FTS5 table's name and '_'). */
static int copy_shadows(sqlite3 *main_db, const char *path)
{
	sqlite3_stmt *st = NULL;
	int rc = cji_db_prepare(main_db, "ATTACH ?1 AS cj_fts_side", &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return cji_err_sqlite(rc, sqlite3_errmsg(main_db), "replay: cannot attach %s", path);
	rc = cji_db_prepare(main_db, "SELECT s.name FROM cj_fts_side.sqlite_schema s"
	                    " JOIN (SELECT name FROM cj_fts_side.sqlite_schema WHERE " CJI_FTS5_TABLE_WHERE
	                    ") v ON substr(s.name, 1, length(v.name) + 1) = v.name || '_'"
	                    " WHERE s.type = 'table' AND s.rootpage > 0 ORDER BY s.name", &st);
	int r = 0;
	while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
		char *sql = sqlite3_mprintf("DELETE FROM main.\"%w\";"
		                            " INSERT INTO main.\"%w\" SELECT * FROM cj_fts_side.\"%w\"",
		                            sqlite3_column_text(st, 0), sqlite3_column_text(st, 0),
		                            sqlite3_column_text(st, 0));
		rc = sql ? cji_db_exec(main_db, sql, "replay: the FTS index into the projection")
		         : cji_err(CJ_ENOMEM, "out of memory");
		sqlite3_free(sql);
	}
	if (!rc && r != SQLITE_DONE)
		rc = cji_err_sqlite(r, sqlite3_errmsg(main_db), "replay: the side file's tables");
	sqlite3_finalize(st);
	/* the side file's memory setting stays there (set_hashsize) */
	if (!rc)
		rc = cji_db_prepare(main_db, "SELECT name FROM cj_fts_side.sqlite_schema WHERE " CJI_FTS5_TABLE_WHERE,
		                    &st);
	while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
		char *sql = sqlite3_mprintf("DELETE FROM main.\"%w_config\" WHERE k = 'hashsize'",
		                            sqlite3_column_text(st, 0));
		rc = sql ? cji_db_exec(main_db, sql, "replay: the FTS index into the projection")
		         : cji_err(CJ_ENOMEM, "out of memory");
		sqlite3_free(sql);
	}
	sqlite3_finalize(st);
	sqlite3_exec(main_db, "DETACH cj_fts_side", NULL, NULL, NULL);
	return rc;
}

/* The thread finishes what it was handed and ends; its first error. */
static int stop_thread(cji_fts_side *s)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->started)
		pthread_join(s->th, NULL); /* after it, s->rc is the thread's last word */
	s->started = 0;
	return s->rc;
}

int cji_fts_side_finish(cji_fts_side *s, sqlite3 *main_db)
{
	int rc;
	if ((rc = thread_error(s, stop_thread(s))))
		return rc;
	for (int i = 0; i < F_COUNT; i++) {
		sqlite3_finalize(s->st[i]);
		s->st[i] = NULL;
	}
	sqlite3_close(s->db); /* the exclusive lock goes with it */
	s->db = NULL;
	return copy_shadows(main_db, s->path);
}

void cji_fts_side_close(cji_fts_side *s)
{
	if (!s)
		return;
	stop_thread(s);
	for (int i = 0; i < F_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	unlink(s->path);
	cji_db_unlink_sidecars(s->path);
	for (int i = 0; i < SIDE_SLOTS; i++) {
		free(s->slot[i].fts);
		cji_buf_free(&s->slot[i].text);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
