/* common/err.h — setting the thread-local error, and the ONE place that maps
 * errno, MDB_* and SQLITE_* codes to CJ_E* codes (common/err.c). */
#ifndef CJ_COMMON_ERR_H
#define CJ_COMMON_ERR_H

#include "chatjournal/error.h"

#if defined(__GNUC__)
#define CJI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CJI_PRINTF(a, b)
#endif

/* Set this thread's error (message formatted, no field) and return code. */
int cji_err(int code, const char *fmt, ...) CJI_PRINTF(2, 3);
/* Same, naming the event field at fault. */
int cji_err_field(int code, const char *field, const char *fmt, ...) CJI_PRINTF(3, 4);
/* Map errno value e; message "ctx: strerror(e)". */
int cji_err_errno(int e, const char *fmt, ...) CJI_PRINTF(2, 3);
/* Map an LMDB return code (MDB_* or errno); message "ctx: mdb_strerror". */
int cji_err_mdb(int rc, const char *fmt, ...) CJI_PRINTF(2, 3);
/* A failed write (an LMDB code or errno) under the folder dir: as
 * cji_err_mdb, except that any I/O failure while the file system holding dir
 * has (almost) no space left is CJ_ENOSPC ("no space left on device"):
 * LMDB reports a short write as EIO. */
int cji_err_write(int rc, const char *dir, const char *fmt, ...) CJI_PRINTF(3, 4);
/* Map an SQLite result code; message "ctx: sqlite message". */
int cji_err_sqlite(int rc, const char *errmsg, const char *fmt, ...) CJI_PRINTF(3, 4);

/* Pure mappings (no message set). */
int cji_code_from_errno(int e);
int cji_code_from_mdb(int rc);
int cji_code_from_sqlite(int rc);

/* Copy of the current thread's error (to move it across threads). */
typedef struct cji_error_snapshot {
	int code;
	char msg[512];
	char field[64];
} cji_error_snapshot;
void cji_err_save(cji_error_snapshot *snap, int code);
int cji_err_restore(const cji_error_snapshot *snap);

#endif
