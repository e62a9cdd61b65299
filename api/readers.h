/* api/readers.h — a pool of read-only SQLite connections to the projection,
 * each with its own cache of prepared statements. Readers never write or
 * checkpoint (docs/reliability.md, S1: one read-write connection only). */
#ifndef CJ_API_READERS_H
#define CJ_API_READERS_H

#include <sqlite3.h>
#include "materializer/scrub.h"

/* Statement slots: query.c uses [0, CJI_STMT_READ_BASE), query_read.c the
 * rest. */
#define CJI_READER_STMTS 40
#define CJI_STMT_READ_BASE 20

typedef struct cji_reader {
	sqlite3 *db;
	sqlite3_stmt *st[CJI_READER_STMTS];
	unsigned generation;
	cji_file_id file;      /* the file it was opened on */
	int schema;            /* its schema version when opened (materializer/schema.h) */
	struct cji_reader *next;
} cji_reader;

struct cji_readers;
int cji_readers_new(struct cji_readers **out, const char *path);
void cji_readers_free(struct cji_readers *p);

/* Take a connection (opened on first use). An idle one opened on a file
 * that is no longer at the path (another process's scrub replaced it) is
 * closed and a new one opened: one stat per call. Errors: CJ_ENOTFOUND (no
 * projection yet), CJ_EIO. */
int cji_reader_get(struct cji_readers *p, cji_reader **out);
/* The file was replaced: close idle connections; busy ones are closed when
 * given back (they finish on the old file). Safe while others query. */
void cji_readers_reset(struct cji_readers *p);
/* Give it back (reset statements first). */
void cji_reader_put(struct cji_readers *p, cji_reader *r);
/* Prepared statement slot idx of r, prepared from sql on first use. */
int cji_reader_stmt(cji_reader *r, int idx, const char *sql, sqlite3_stmt **out);

#endif
