/* api/backup_internal.h — what taking, listing, pruning, verifying and
 * restoring backups share: the layout of a backup, its manifest, file
 * checksums and copies, and the temporary names of unfinished work. The
 * layout is described for humans in docs/format.md, "Backups". */
#ifndef CJ_API_BACKUP_INTERNAL_H
#define CJ_API_BACKUP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "chatjournal/backup.h"

#define CJI_MANIFEST_NAME "MANIFEST.json"
#define CJI_BACKUP_FORMAT 1                  /* the layout this build writes and reads */
#define CJI_BACKUP_JOURNAL "journal/data.mdb"
#define CJI_BACKUP_MAX_FILES 8

/* Temporary files and folders: "DIR/.tmp-KIND-PID-N[...]". The PID says
 * whose they are; a leftover whose process is gone (or older than
 * CJI_TEMP_STALE_MS, against PID reuse) is removed by the next backup,
 * prune or restore. */
#define CJI_TEMP_PREFIX ".tmp-"
#define CJI_TEMP_STALE_MS (24LL * 3600 * 1000)

/* ---- files (backup_files.c) ---- */

/* XXH3-128 of a whole file as 32 hex digits (the blob hash notation of
 * docs/format.md) and its size. progress gets bytes, offset by base. */
int cji_file_xxh3(char hex[33], uint64_t *size, const char *path, cj_progress_fn progress,
                  void *arg, uint64_t base, uint64_t total);
/* Copy src to the new file dst (0600, fsynced), hashing the bytes as they
 * are written. */
int cji_file_copy(char hex[33], uint64_t *size, const char *src, const char *dst,
                  cj_progress_fn progress, void *arg, uint64_t base, uint64_t total);
/* Remove path and everything below it (symbolic links are not followed). */
int cji_rmtree(const char *path);
/* 1 if path is a folder with nothing in it, 0 if it has entries, or an error. */
int cji_dir_empty(const char *path);

/* A fresh temporary name "DIR/.tmp-KIND-PID-N[-tail]" into out, registered
 * as this process's work in progress until cji_temp_done. */
int cji_temp_name(char *out, size_t n, const char *dir, const char *kind, const char *tail);
void cji_temp_done(const char *path);
/* Remove the leftovers in dir: temporary entries of dead processes, of this
 * process but not in progress, or older than CJI_TEMP_STALE_MS. kind (may be
 * NULL: any) and tail (may be NULL) narrow the match. *removed (may be NULL)
 * gets the count. Errors only when dir cannot be read. */
int cji_temp_clean(unsigned *removed, const char *dir, const char *kind, const char *tail,
                   int64_t now_ms);

/* ---- the manifest (manifest.c) ---- */

typedef struct cji_manifest_file {
	char name[64];         /* relative to the backup folder: "journal/data.mdb" */
	uint64_t size;
	char xxh3[33];
} cji_manifest_file;

typedef struct cji_manifest {
	unsigned format_version;     /* the backup layout */
	char created[40];            /* RFC 3339 */
	int64_t created_ms;
	char version[32];            /* the chatjournal that wrote it */
	uint64_t last_seq;           /* the journal's */
	uint32_t journal_format;
	uint64_t position;           /* the projection's */
	int schema_version;
	size_t nfiles;
	cji_manifest_file files[CJI_BACKUP_MAX_FILES];
	uint64_t bytes;              /* sum of the file sizes */
} cji_manifest;

/* MANIFEST.json of m into dir (0600, fsynced), its checksum filled in;
 * *json_out (may be NULL) gets the object written. */
int cji_manifest_write(json_t **json_out, const char *dir, const char *name,
                       const cji_manifest *m);
/* Read and check dir/MANIFEST.json: its own checksum, its fields. A damaged
 * manifest is CJ_ECORRUPT naming it; a layout newer than this build knows
 * is CJ_EVERSION. *json_out (may be NULL) gets the parsed object. */
int cji_manifest_read(cji_manifest *m, json_t **json_out, const char *dir);
/* Every file's size and XXH3-128 against m, in manifest order: the first
 * that differs (or is missing) is CJ_ECORRUPT naming it. results (may be
 * NULL): a JSON array that gets {"name", "size", "ok"} per file checked. */
int cji_manifest_check_files(const cji_manifest *m, const char *dir, json_t *results,
                             cj_progress_fn progress, void *arg, uint64_t base, uint64_t total);
/* The manifest entry called name, or NULL. */
const cji_manifest_file *cji_manifest_find(const cji_manifest *m, const char *name);

#endif
