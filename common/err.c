/* common/err.c — the thread-local error state and the single mapping of
 * errno, LMDB and SQLite codes to CJ_E* codes. No other file interprets a
 * foreign error code. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <lmdb.h>
#include <sqlite3.h>
#include "common/err.h"

static _Thread_local char t_msg[512];
static _Thread_local char t_field[64];
static _Thread_local int t_has_field;

const char *cj_strerror(int code)
{
	switch (code) {
	case CJ_OK:        return "success";
	case CJ_EINVAL:    return "invalid argument";
	case CJ_ENOMEM:    return "out of memory";
	case CJ_EIO:       return "I/O error";
	case CJ_ENOSPC:    return "no space left on device";
	case CJ_EFULL:     return "journal full";
	case CJ_ECONFLICT: return "idempotency conflict";
	case CJ_ENOTFOUND: return "not found";
	case CJ_ECORRUPT:  return "corrupt data";
	case CJ_EVERSION:  return "unsupported format version";
	case CJ_EEXIST:    return "already exists";
	case CJ_ETOOBIG:   return "too large";
	case CJ_EBUSY:     return "busy";
	case CJ_ECLOSED:   return "store closed";
	case CJ_ETIMEOUT:  return "timed out";
	case CJ_EDB:       return "database error";
	case CJ_EPERM:     return "permission denied";
	case CJ_EAHEAD:    return "projection ahead of journal";
	default:           return "unknown error";
	}
}

const char *cj_error_last(void) { return t_msg; }
const char *cj_error_field(void) { return t_has_field ? t_field : NULL; }

void cj_error_clear(void)
{
	t_msg[0] = '\0';
	t_has_field = 0;
}

void cj_free(void *p) { free(p); }

static int vset(int code, const char *field, const char *suffix, const char *fmt, va_list ap)
{
	int n = vsnprintf(t_msg, sizeof t_msg, fmt, ap);
	if (suffix && n >= 0 && (size_t)n < sizeof t_msg)
		snprintf(t_msg + n, sizeof t_msg - (size_t)n, ": %s", suffix);
	if (field) {
		snprintf(t_field, sizeof t_field, "%s", field);
		t_has_field = 1;
	} else {
		t_has_field = 0;
	}
	return code;
}

int cji_err(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(code, NULL, NULL, fmt, ap);
	va_end(ap);
	return code;
}

int cj_error_set(int code, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(code, field, NULL, fmt, ap);
	va_end(ap);
	return code;
}

int cji_err_field(int code, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(code, field, NULL, fmt, ap);
	va_end(ap);
	return code;
}

int cji_code_from_errno(int e)
{
	switch (e) {
	case 0:       return CJ_OK;
	case ENOMEM:  return CJ_ENOMEM;
	case ENOSPC:
	case EDQUOT:  return CJ_ENOSPC;
	case ENOENT:
	case ENOTDIR: return CJ_ENOTFOUND;
	case EEXIST:  return CJ_EEXIST;
	case EACCES:
	case EPERM:
	case EROFS:   return CJ_EPERM;
	case EINVAL:  return CJ_EINVAL;
	case EBUSY:
	case EAGAIN:  return CJ_EBUSY;
	case EFBIG:   return CJ_ETOOBIG;
	default:      return CJ_EIO;
	}
}

int cji_code_from_mdb(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:          return CJ_OK;
	case MDB_NOTFOUND:         return CJ_ENOTFOUND;
	case MDB_KEYEXIST:         return CJ_EEXIST;
	case MDB_MAP_FULL:         return CJ_EFULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_PANIC:
	case MDB_INVALID:          return CJ_ECORRUPT;
	case MDB_VERSION_MISMATCH: return CJ_EVERSION;
	case MDB_READERS_FULL:
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
	case MDB_DBS_FULL:         return CJ_EBUSY;
	case MDB_BAD_VALSIZE:      return CJ_ETOOBIG;
	default:
		if (rc > 0)
			return cji_code_from_errno(rc);
		return CJ_EDB;
	}
}

int cji_code_from_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:      return CJ_OK;
	case SQLITE_NOMEM:    return CJ_ENOMEM;
	case SQLITE_FULL:     return CJ_ENOSPC;
	case SQLITE_IOERR:    return CJ_EIO;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:   return CJ_ECORRUPT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:   return CJ_EBUSY;
	case SQLITE_CANTOPEN: return CJ_ENOTFOUND;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:     return CJ_EPERM;
	case SQLITE_TOOBIG:   return CJ_ETOOBIG;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:    return CJ_EINVAL;
	default:              return CJ_EDB;
	}
}

int cji_err_errno(int e, const char *fmt, ...)
{
	int code = cji_code_from_errno(e);
	va_list ap;
	va_start(ap, fmt);
	vset(code, NULL, strerror(e), fmt, ap);
	va_end(ap);
	return code;
}

int cji_err_mdb(int rc, const char *fmt, ...)
{
	int code = cji_code_from_mdb(rc);
	const char *why = code == CJ_EFULL ? "journal map full" : mdb_strerror(rc);
	va_list ap;
	va_start(ap, fmt);
	vset(code, NULL, why, fmt, ap);
	va_end(ap);
	return code;
}

/* Free space on the file system holding dir under 1 MiB: a write there
 * failed for want of space, whatever code reported it. */
static int nearly_full(const char *dir)
{
	struct statvfs st;
	return dir && statvfs(dir, &st) == 0 &&
	       (uint64_t)st.f_bavail * (uint64_t)st.f_frsize < ((uint64_t)1 << 20);
}

int cji_err_write(int rc, const char *dir, const char *fmt, ...)
{
	int code = cji_code_from_mdb(rc);
	const char *why = code == CJ_EFULL ? "journal map full" : mdb_strerror(rc);
	if ((code == CJ_EIO || code == CJ_ENOSPC) && nearly_full(dir)) {
		/* LMDB turns a short write into EIO; tmpfs reports a full disk that
		 * way. One cause, one code: CJ_ENOSPC. */
		code = CJ_ENOSPC;
		why = "no space left on device (the file system is full)";
	}
	va_list ap;
	va_start(ap, fmt);
	vset(code, NULL, why, fmt, ap);
	va_end(ap);
	return code;
}

int cji_err_sqlite(int rc, const char *errmsg, const char *fmt, ...)
{
	int code = cji_code_from_sqlite(rc);
	va_list ap;
	va_start(ap, fmt);
	vset(code, NULL, errmsg ? errmsg : sqlite3_errstr(rc), fmt, ap);
	va_end(ap);
	return code;
}

void cji_err_save(cji_error_snapshot *snap, int code)
{
	snap->code = code;
	snprintf(snap->msg, sizeof snap->msg, "%s", t_msg);
	if (t_has_field)
		snprintf(snap->field, sizeof snap->field, "%s", t_field);
	else
		snap->field[0] = '\0';
}

int cji_err_restore(const cji_error_snapshot *snap)
{
	snprintf(t_msg, sizeof t_msg, "%s", snap->msg);
	snprintf(t_field, sizeof t_field, "%s", snap->field);
	t_has_field = snap->field[0] != '\0';
	return snap->code;
}
