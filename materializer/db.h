/* materializer/db.h — SQLite connections. Exactly one read-write connection
 * (the materializer's, or replay's private file) writes and checkpoints;
 * every other connection is opened read-only (SQLite 3.40.1 WAL-reset bug:
 * docs/reliability.md, S1). */
#ifndef CJ_MATERIALIZER_DB_H
#define CJ_MATERIALIZER_DB_H

#include <sqlite3.h>

#define CJI_SQLITE_NAME "chat.sqlite"

/* sqlite3_open_v2 for every connection of the library, with
 * SQLITE_OPEN_NOMUTEX (a connection is used by one thread at a time): the
 * first call also turns SQLite's memory statistics off for the process
 * (db.c). */
int cji_sqlite_open(const char *path, sqlite3 **db, int flags);

/* The writer: WAL, synchronous=NORMAL (the journal is the truth and the
 * position commits with the rows), foreign keys, bounded WAL; migrated. The
 * file is created 0600 (its -wal and -shm inherit that mode). Both writers
 * run with secure_delete=FAST (deleted bytes zeroed inside their pages:
 * what a compaction's in-place scrub relies on, scrub.h). */
int cji_db_open_rw(sqlite3 **out, const char *path);
/* replay's private file: no WAL, synchronous=OFF, big cache; migrated. */
int cji_db_open_bulk(sqlite3 **out, const char *path);
/* A reader: read-only, busy timeout, mmap. */
int cji_db_open_ro(sqlite3 **out, const char *path);

/* The rows of sqlite_schema that are FTS5 tables (the scrub, replay's FTS
 * side file): a condition over its columns type and sql. */
#define CJI_FTS5_TABLE_WHERE "type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%USING FTS5%'"

/* Remove path's -wal, -shm and -journal files. */
void cji_db_unlink_sidecars(const char *path);

/* sqlite3_exec with the error mapped and context. */
int cji_db_exec(sqlite3 *db, const char *sql, const char *ctx);
/* Prepare with the error mapped. */
int cji_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st);

#endif
