/* tests/crash/power_log.h — the record format of the power-loss log, written
 * by the interposition shim (power_shim.c, inside the child) and read by the
 * parent (power_cut.c) after the child was killed.
 *
 * Every record is a pw_head, then path_len bytes of path (absolute, no NUL),
 * then len bytes of data (PW_WRITE only). Records are appended with one
 * writev under the shim's mutex, so their order in the file is the order in
 * which the shim saw the calls. A kill can cut the last record short: the
 * reader ignores a record that runs past the end of the file.
 *
 * Why "begin" and "done" records: the log must never claim more durability
 * than happened. A write is logged (PW_WRITE) before it is made and confirmed
 * (PW_DONE) after it returned; a sync is logged (PW_SYNC) before it starts and
 * confirmed (PW_DONE) after it returned. A sync makes durable exactly the
 * writes confirmed before the sync began; a write on an O_DSYNC/O_SYNC file
 * descriptor is durable once confirmed. */
#ifndef CJ_TESTS_CRASH_POWER_LOG_H
#define CJ_TESTS_CRASH_POWER_LOG_H

#include <stdint.h>

#define PW_MAGIC 0x57504a43u /* "CJPW" */

enum pw_op {
	PW_WRITE = 1,   /* off, len bytes of data follow the path */
	PW_TRUNC = 2,   /* the file's size becomes off (ftruncate, O_TRUNC) */
	PW_EXTEND = 3,  /* the file's size becomes at least off (fallocate) */
	PW_SYNC = 4,    /* fsync/fdatasync/syncfs begins on path (a file or a folder) */
	PW_DONE = 5,    /* the call of record ref returned res */
	PW_CREATE = 6,  /* an open is about to create path (PW_DONE: it did, res 0) */
	PW_UNSUPPORTED = 7, /* a call the model does not cover; data names it */
};

/* flags */
#define PW_F_DSYNC 1u   /* PW_WRITE on a descriptor opened O_DSYNC or O_SYNC */
#define PW_F_WEAK 2u    /* PW_SYNC that makes nothing durable (sync_file_range) */
#define PW_F_ALL 4u     /* PW_SYNC of everything (sync, syncfs) */

typedef struct pw_head {
	uint32_t magic;
	uint16_t op;
	uint16_t flags;
	uint32_t path_len;
	uint32_t reserved;
	uint64_t id;    /* this record's number, from 1, in file order */
	uint64_t ref;   /* PW_DONE: the id of the record it confirms */
	int64_t res;    /* PW_DONE: the call's return value (bytes written, or 0/-1) */
	uint64_t off;   /* PW_WRITE: file offset; PW_TRUNC, PW_EXTEND: size */
	uint64_t len;   /* bytes of data after the path */
} pw_head;

/* Environment of the child: the folder whose files are watched (an absolute
 * path without symbolic links, as /proc/self/fd shows it) and the log file
 * (outside that folder; the parent creates it empty, and the shim aborts the
 * process if it cannot open it). The shim does nothing unless both are set. */
#define PW_ENV_WATCH "CJ_POWER_WATCH"
#define PW_ENV_LOG "CJ_POWER_LOG"

#endif
