/* chatjournal/error.h — error codes and the thread-local error message.
 *
 * Every fallible function returns int: 0 on success or a negative CJ_E* code.
 * Codes are append-only; docs/errors.md lists each one. After a failure,
 * cj_error_last() gives a message with context (path, sequence number, field)
 * and cj_error_field() the event field at fault, if any. Both are per thread
 * and stay valid until the next failing call on that thread.
 */
#ifndef CHATJOURNAL_ERROR_H
#define CHATJOURNAL_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CJ_API __attribute__((visibility("default")))
#else
#define CJ_API
#endif

typedef enum cj_error_code {
	CJ_OK        = 0,
	CJ_EINVAL    = -1,  /* bad argument or invalid event (field named) */
	CJ_ENOMEM    = -2,  /* out of memory */
	CJ_EIO       = -3,  /* I/O error from the file system */
	CJ_ENOSPC    = -4,  /* disk full: nothing was stored, retry later */
	CJ_EFULL     = -5,  /* journal reached its configured size ceiling */
	CJ_ECONFLICT = -6,  /* idempotency id reused with a different payload */
	CJ_ENOTFOUND = -7,  /* no such store, blob, record */
	CJ_ECORRUPT  = -8,  /* checksum mismatch or malformed record */
	CJ_EVERSION  = -9,  /* unknown journal format version */
	CJ_EEXIST    = -10, /* already exists */
	CJ_ETOOBIG   = -11, /* over a size limit (field named) */
	CJ_EBUSY     = -12, /* overloaded or locked: nothing stored, retry */
	CJ_ECLOSED   = -13, /* the store is closing */
	CJ_ETIMEOUT  = -14, /* a bounded wait expired */
	CJ_EDB       = -15, /* unexpected database engine error */
	CJ_EPERM     = -16, /* permission denied */
	CJ_EAHEAD    = -17  /* projection ahead of the journal: run replay */
} cj_error_code;

/* Static description of a code ("invalid argument", ...). Never NULL. */
CJ_API const char *cj_strerror(int code);

/* Message of the last failure on this thread, with context; "" if none. */
CJ_API const char *cj_error_last(void);

/* Event field named by the last validation failure on this thread, or NULL. */
CJ_API const char *cj_error_field(void);

/* Forget the last error on this thread. */
CJ_API void cj_error_clear(void);

/* Set this thread's error (message formatted like printf; field may be
 * NULL) and return code: for code built on the library (a service, a
 * callback) that reports through the same channel as the library does. */
CJ_API int cj_error_set(int code, const char *field, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

/* Free memory the library returned to the caller (strings, blob bytes). */
CJ_API void cj_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
