/* chatjournal/store.h — create, open and close a store.
 *
 * A store is one directory: STORE/journal/ (LMDB), STORE/chat.sqlite (the
 * projection), STORE/backups/, STORE/chatjournal.conf. Files are created 0600,
 * directories 0700, whatever the umask. One cj_store handle serves any number
 * of threads; several processes may open the same store (LMDB arbitrates).
 *
 * SQLite is shared with the host program: the library's first SQLite
 * connection turns SQLite's memory statistics off for the whole process
 * (sqlite3_memory_used() then reports 0), unless the host initialized SQLite
 * before; docs/architecture.md, "Decisions".
 */
#ifndef CHATJOURNAL_STORE_H
#define CHATJOURNAL_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cj_store cj_store;

#define CJ_STORE_OPTIONS_VERSION 2

/* Options for cj_store_init / cj_store_open. A zero field means "the store's
 * chatjournal.conf value, else the built-in default". */
typedef struct cj_store_options {
	unsigned version;          /* CJ_STORE_OPTIONS_VERSION */
	uint64_t map_initial;      /* initial LMDB map size, bytes (default 64 MiB) */
	uint64_t map_ceiling;      /* the map never grows past this (default 64 GiB) */
	size_t max_content;        /* content limit (default 1 MiB) */
	size_t max_blob;           /* blob limit (default 32 MiB) */
	unsigned max_batch;        /* most events in one group commit (default 8192) */
	unsigned max_queue;        /* most events waiting for commit before CJ_EBUSY (default 262144) */
	int read_only;             /* open without the writer thread; appends fail with CJ_EPERM */
	/* version 2 */
	int check_projection;      /* run SQLite's quick_check on chat.sqlite at open and refuse a
	                              damaged projection (CJ_ECORRUPT, "run 'chatjournal replay'");
	                              reads every page: ~4 ms per MB from the page cache */
	int no_materializer;       /* read-write, but this process never projects the journal
	                              (another process does, or nobody: appends only, as a
	                              benchmark of the journal alone); waits for a position
	                              then fail with CJ_EPERM */
} cj_store_options;

#define CJ_STORE_OPTIONS_INIT { CJ_STORE_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/* Create a new store at path (parents must exist). Writes chatjournal.conf with
 * the defaults, creates the journal. Errors: CJ_EEXIST (already a store),
 * CJ_EIO/CJ_EPERM (file system). opts may be NULL. */
CJ_API int cj_store_init(const char *path, const cj_store_options *opts);

/* Open an existing store. Starts the group-commit writer thread (unless
 * read_only). Errors: CJ_ENOTFOUND (not a store), CJ_EVERSION (journal written
 * by a newer format), CJ_ECORRUPT (the journal file is shorter than its meta
 * pages say, "journal file truncated: N bytes, needs M", or damaged in a meta
 * page or in the pages every open reads), CJ_EIO. opts may be NULL. Read-write
 * opens also remove what a killed replay or verify left in the store's
 * folder (docs/operations.md, "Leftovers"). */
CJ_API int cj_store_open(cj_store **out, const char *path, const cj_store_options *opts);

/* Stop accepting appends, finish every append already submitted (they are
 * committed and acknowledged), stop threads, close. Accepts NULL. No other
 * thread may use the store during or after this call. */
CJ_API void cj_store_close(cj_store *s);

/* Hold (defer = 1) or release (0) this process's projection work: while
 * held, appends go on and are durable as always, but this handle's
 * materializer applies nothing, so a bulk load has both CPUs; released, it
 * catches up from where it stopped (cj_store_close waits up to 2 s for it
 * when at most 50,000 events are left, else the next open does the rest).
 * No effect when another process projects the store, nor on a store opened
 * read-only or with no_materializer. Reads that wait for a position (min_seq)
 * wait meanwhile. Returns 0, or CJ_EINVAL (NULL store). Thread-safe. */
CJ_API int cj_store_defer_projection(cj_store *s, int defer);

/* The store's directory as given to open. */
CJ_API const char *cj_store_path(const cj_store *s);

/* The limits appends are validated against (from chatjournal.conf/options). */
CJ_API const cj_limits *cj_store_limits(const cj_store *s);

/* Is the store able to keep its promises now? */
typedef struct cj_health {
	int ok;                  /* 1: healthy; 0: degraded, see reason */
	char reason[128];        /* a sentence fit for an unauthenticated health check: names
	                            no store, no path, no figure ("" when ok) */
	char detail[512];        /* the underlying error, for operators ("" when ok) */
	uint64_t last_seq;       /* the journal's last sequence number */
	uint64_t position;       /* the projection's position */
	uint64_t lag;            /* last_seq - position */
	int materializing;       /* 1: this process applies the journal */
	uint64_t still_ms;       /* since the position last moved */
} cj_health;

/* Degraded when: the projection was found damaged (at open or by a query);
 * the materializer stopped on an error; or the projection lags and has not
 * moved for CJ_HEALTH_STALL_MS (no process is materializing). Read-only
 * handles report the journal and the position only. */
#define CJ_HEALTH_STALL_MS 10000
CJ_API int cj_store_health(cj_health *out, cj_store *s);

#ifdef __cplusplus
}
#endif
#endif
