/* materializer/db.c — opening SQLite connections with the project's pragmas. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "materializer/db.h"
#include "materializer/schema.h"
#include "common/err.h"

int cji_db_exec(sqlite3 *db, const char *sql, const char *ctx)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		return 0;
	int code = cji_err_sqlite(rc, msg ? msg : sqlite3_errmsg(db), "%s", ctx);
	sqlite3_free(msg);
	return code;
}

int cji_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "cannot prepare \"%.60s\"", sql);
	return 0;
}

/* SQLite's memory statistics are off for the process: with them on (the
 * default of Debian's build, which also omits the lookaside allocator),
 * every allocation and free of every connection takes one global mutex,
 * and replay's two threads, or the server's readers beside the
 * materializer, queue on it (docs/performance.md, "SQLite's memory
 * statistics"). sqlite3_config must come before SQLite initializes: if
 * the host program used SQLite first, the call fails and nothing changes
 * but the speed. */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void sqlite_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int cji_sqlite_open(const char *path, sqlite3 **db, int flags)
{
	pthread_once(&sqlite_once, sqlite_setup);
	return sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL);
}

static int create_private(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return cji_err_errno(errno, "cannot create %s", path);
	fchmod(fd, 0600);
	close(fd);
	return 0;
}

static int open_with(sqlite3 **out, const char *path, int flags, const char *pragmas, int migrate)
{
	*out = NULL;
	if ((flags & SQLITE_OPEN_CREATE)) {
		int rc = create_private(path);
		if (rc)
			return rc;
	}
	sqlite3 *db;
	int rc = cji_sqlite_open(path, &db, flags);
	if (rc) {
		int code = cji_err_sqlite(rc, db ? sqlite3_errmsg(db) : NULL, "cannot open %s", path);
		sqlite3_close(db);
		return code;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	if ((rc = cji_db_exec(db, pragmas, path)) || (migrate && (rc = cji_schema_migrate(db, path)))) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

int cji_db_open_rw(sqlite3 **out, const char *path)
{
	return open_with(out, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	                 "PRAGMA secure_delete=FAST; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	                 "PRAGMA foreign_keys=ON;"
	                 "PRAGMA journal_size_limit=67108864; PRAGMA cache_size=-65536;"
	                 "PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=4000;", 1);
}

int cji_db_open_bulk(sqlite3 **out, const char *path)
{
	return open_with(out, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	                 "PRAGMA secure_delete=FAST; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
	                 "PRAGMA foreign_keys=ON; PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;"
	                 "PRAGMA locking_mode=EXCLUSIVE;", 1);
}

/* Readers map the whole file, up to SQLite's default ceiling for mmap_size
 * (SQLITE_MAX_MMAP_SIZE, just under 2 GB): a 1M-message projection is 435 MB
 * and pages past the old 256 MB were read with one system call each. */
int cji_db_open_ro(sqlite3 **out, const char *path)
{
	return open_with(out, path, SQLITE_OPEN_READONLY,
	                 "PRAGMA query_only=ON; PRAGMA mmap_size=2147418112; PRAGMA cache_size=-16384;", 0);
}

void cji_db_unlink_sidecars(const char *path)
{
	static const char *const ext[] = { "-wal", "-shm", "-journal" };
	char p[4400];
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", path, ext[i]);
		unlink(p);
	}
}
