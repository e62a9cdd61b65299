/* materializer/schema.c — schema migrations, forward only, each migration in
 * the same transaction as its user_version bump. */
#include <stdio.h>
#include "materializer/schema.h"
#include "common/err.h"

int cji_schema_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc;
}

int cji_schema_migrate(sqlite3 *db, const char *path)
{
	int v = 0;
	int rc = cji_schema_version(db, &v);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "%s: cannot read schema version", path);
	if (v > cji_migrations_count)
		return cji_err(CJ_EVERSION, "%s: schema version %d is newer than this build (%d)", path, v,
		               cji_migrations_count);
	for (int i = v; i < cji_migrations_count; i++) {
		char *msg = NULL;
		char bump[64];
		snprintf(bump, sizeof bump, "PRAGMA user_version = %d", i + 1);
		if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg)) ||
		    (rc = sqlite3_exec(db, cji_migrations[i], NULL, NULL, &msg)) ||
		    (rc = sqlite3_exec(db, bump, NULL, NULL, &msg)) ||
		    (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg))) {
			int code = cji_err_sqlite(rc, msg, "%s: migration %d failed", path, i + 1);
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return code;
		}
	}
	/* A file created here has had secure_delete=FAST on every connection
	 * that wrote it (db.c): migration 006's flag can say so (a crash before
	 * this only costs its first compaction a full scrub). */
	if (v == 0 && (rc = sqlite3_exec(db, "UPDATE scrub_state SET zeroed = 1", NULL, NULL, NULL)))
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "%s: cannot mark the new file zeroed", path);
	return 0;
}
