/* materializer/schema.h — numbered migrations (migrations/NNN_*.sql, embedded
 * at build time) applied forward; PRAGMA user_version is the number applied. */
#ifndef CJ_MATERIALIZER_SCHEMA_H
#define CJ_MATERIALIZER_SCHEMA_H

#include <sqlite3.h>

extern const char *const cji_migrations[];
extern const int cji_migrations_count;

/* Bring db to the newest schema in one transaction. CJ_EVERSION if the file
 * was written by a newer schema. */
int cji_schema_migrate(sqlite3 *db, const char *path);

/* *v = the schema version of db (its PRAGMA user_version; 0 on error).
 * Returns 0 or SQLite's error code. */
int cji_schema_version(sqlite3 *db, int *v);

/* The first schema with messages_tail (migrations/009_messages_tail.sql):
 * a reader of an older file (opened read-only, not migrated) reads history
 * from messages alone. */
#define CJI_SCHEMA_MESSAGES_TAIL 9

#endif
