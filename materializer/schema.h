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

/* messages_recent (migrations/009_messages_recent.sql) holds the newest
 * CJI_RECENT_KEEP messages of each thread (more between two trims). A
 * history page of at most that many rows is read from it first. */
#define CJI_RECENT_KEEP 64

/* messages_recent filled again from messages: the newest CJI_RECENT_KEEP of
 * each thread (a replay drops its triggers while it loads, then calls this
 * before it puts them back). Inside the caller's transaction, if any. */
int cji_schema_refill_recent(sqlite3 *db);

#endif
