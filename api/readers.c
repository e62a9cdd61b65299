/* api/readers.c — the read-only connection pool (bounded; extra connections
 * beyond the bound are closed on return). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "api/readers.h"
#include "materializer/db.h"
#include "materializer/schema.h"
#include "common/err.h"
#include "common/fsutil.h"

#define POOL_MAX 16

struct cji_readers {
	pthread_mutex_t mu;
	cji_reader *idle;
	int nidle;
	unsigned generation;   /* bumped when the file is replaced */
	char path[4200];
};

int cji_readers_new(struct cji_readers **out, const char *path)
{
	struct cji_readers *p = calloc(1, sizeof *p);
	if (!p)
		return cji_err(CJ_ENOMEM, "out of memory");
	pthread_mutex_init(&p->mu, NULL);
	snprintf(p->path, sizeof p->path, "%s", path);
	*out = p;
	return 0;
}

static void reader_close(cji_reader *r)
{
	for (int i = 0; i < CJI_READER_STMTS; i++)
		sqlite3_finalize(r->st[i]);
	sqlite3_close(r->db);
	free(r);
}

void cji_readers_free(struct cji_readers *p)
{
	if (!p)
		return;
	while (p->idle) {
		cji_reader *r = p->idle;
		p->idle = r->next;
		reader_close(r);
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int cji_reader_get(struct cji_readers *p, cji_reader **out)
{
	pthread_mutex_lock(&p->mu);
	cji_reader *r = p->idle;
	if (r) {
		p->idle = r->next;
		p->nidle--;
	}
	pthread_mutex_unlock(&p->mu);
	cji_file_id now = cji_scrub_file_id(p->path);
	if (r && !cji_file_id_eq(r->file, now)) {
		reader_close(r);
		r = NULL;
	}
	if (!r) {
		if (!cji_exists(p->path))
			return cji_err(CJ_ENOTFOUND, "no projection yet at %s (open the store read-write once)",
			               p->path);
		r = calloc(1, sizeof *r);
		if (!r)
			return cji_err(CJ_ENOMEM, "out of memory");
		pthread_mutex_lock(&p->mu);
		r->generation = p->generation;
		pthread_mutex_unlock(&p->mu);
		r->file = now;
		int rc = cji_db_open_ro(&r->db, p->path);
		if (rc) {
			free(r);
			return rc;
		}
		cji_schema_version(r->db, &r->schema); /* 0 on error: reads take the older paths */
	}
	r->next = NULL;
	*out = r;
	return 0;
}

void cji_readers_reset(struct cji_readers *p)
{
	pthread_mutex_lock(&p->mu);
	cji_reader *idle = p->idle;
	p->idle = NULL;
	p->nidle = 0;
	p->generation++;
	pthread_mutex_unlock(&p->mu);
	while (idle) {
		cji_reader *r = idle;
		idle = r->next;
		reader_close(r);
	}
}

void cji_reader_put(struct cji_readers *p, cji_reader *r)
{
	if (!r)
		return;
	for (int i = 0; i < CJI_READER_STMTS; i++)
		if (r->st[i]) {
			sqlite3_reset(r->st[i]);
			sqlite3_clear_bindings(r->st[i]);
		}
	pthread_mutex_lock(&p->mu);
	if (p->nidle < POOL_MAX && r->generation == p->generation) {
		r->next = p->idle;
		p->idle = r;
		p->nidle++;
		r = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	if (r)
		reader_close(r);
}

int cji_reader_stmt(cji_reader *r, int idx, const char *sql, sqlite3_stmt **out)
{
	if (!r->st[idx]) {
		int rc = cji_db_prepare(r->db, sql, &r->st[idx]);
		if (rc)
			return rc;
	}
	*out = r->st[idx];
	return 0;
}
