/* chatjournal/store.h — create, open and close a store.
 *
 * A store is one directory: STORE/journal/ (LMDB), STORE/chat.sqlite (the
 * projection), STORE/backups/, STORE/chatjournal.conf. Files are created 0600,
 * directories 0700, whatever the umask. One cj_store handle serves any number
 * of threads; several processes may open the same store (LMDB arbitrates).
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

#define CJ_STORE_OPTIONS_VERSION 1

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
} cj_store_options;

#define CJ_STORE_OPTIONS_INIT { CJ_STORE_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0 }

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

/* The store's directory as given to open. */
CJ_API const char *cj_store_path(const cj_store *s);

/* The limits appends are validated against (from chatjournal.conf/options). */
CJ_API const cj_limits *cj_store_limits(const cj_store *s);

#ifdef __cplusplus
}
#endif
#endif
