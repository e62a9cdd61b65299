/* chatjournal/backup.h — hot backups of a store, listing and pruning them,
 * verifying one, and restoring one into a new store, whole or cut at a
 * sequence number or a time (point-in-time recovery).
 *
 * A backup is one folder (docs/format.md, "Backups"):
 *
 *     DIR/20250102T030405.678Z-seq1234/     0700
 *       MANIFEST.json      what the backup holds, with a checksum of itself
 *       chatjournal.conf   the store's settings
 *       tokens.json        the store's access tokens, as SHA-256 only (if any)
 *       chat.sqlite        the projection at some position L
 *       journal/data.mdb   the journal up to its last sequence number J >= L
 *
 * It is written in a temporary folder "DIR/.tmp-backup-PID-N", fsynced and
 * renamed: a backup exists whole or not at all. Leftovers of a process that
 * died are removed by the next backup or prune (docs/operations.md).
 *
 * Every file is 0600 and every folder 0700, whatever the umask. Every
 * function returns 0 or a negative CJ_E* code with cj_error_last() naming the
 * file at fault. JSON text returned through an out-parameter is freed with
 * cj_free. The functions are thread-safe; cj_backup may run while other
 * threads and processes append to and read the store.
 */
#ifndef CHATJOURNAL_BACKUP_H
#define CHATJOURNAL_BACKUP_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "store.h"
#include "query.h"

#ifdef __cplusplus
extern "C" {
#endif

/* chatjournal.conf's retention.backup_keep_days when the file does not say. */
#define CJ_DEFAULT_BACKUP_KEEP_DAYS 7

#define CJ_BACKUP_OPTIONS_VERSION 1
typedef struct cj_backup_options {
	unsigned version;          /* CJ_BACKUP_OPTIONS_VERSION */
	const char *dir;           /* the folder of backups (made 0700 if missing; its parent
	                              must exist); NULL: STORE/backups */
	cj_progress_fn progress;   /* may be NULL: (bytes done, bytes expected), called on the
	                              calling thread now and then */
	void *progress_arg;
} cj_backup_options;
#define CJ_BACKUP_OPTIONS_INIT { CJ_BACKUP_OPTIONS_VERSION, NULL, NULL, NULL }

/* Take a hot backup of s: first a snapshot of the projection (one SQLite
 * read transaction, at position L), then a compacted copy of the journal
 * (one LMDB read transaction, last sequence number J >= L), then
 * chatjournal.conf and tokens.json as they are. Every event acknowledged
 * before the call is in the backup. Appends go on meanwhile (a read
 * transaction never blocks LMDB's writer); only growth of the journal's
 * map by this process waits for the copy, so a map more than three
 * quarters full is grown once before it (docs/operations.md, "Backups").
 * Leftover temporary folders of dead processes in the folder of backups are
 * removed first. s may be read-only.
 * *manifest_json_out (may be NULL): the manifest as written, plus "path",
 * where the backup now is. Errors: CJ_EIO/CJ_ENOSPC/CJ_EPERM (file system,
 * the path named), CJ_EAHEAD (the projection is ahead of the journal: a
 * damaged store; run replay), CJ_EDB. On error nothing is left behind. */
CJ_API int cj_backup(char **manifest_json_out, cj_store *s, const cj_backup_options *opts);

/* The backups in path: a store (its backups/ folder) or a folder of
 * backups. *json_out: a JSON array, oldest first, of {"name", "path",
 * "created", "last_seq", "position", "bytes", "journal_format",
 * "chatjournal_version", "ok": true} for each folder holding a sound
 * MANIFEST.json, and {"name", "path", "ok": false, "error"} for one whose
 * manifest is damaged. Temporary folders (".tmp-...") are never listed.
 * Only the manifests are read: cj_backup_verify checks the files. */
CJ_API int cj_backup_list(char **json_out, const char *path);

/* Remove the backups in path (a store or a folder of backups, as for
 * cj_backup_list) created more than keep_days days before now_ms; keep_days
 * < 0: the store's retention.backup_keep_days (path must then be a store).
 * now_ms 0: the current time (tests pass their own clock). The newest
 * backup is never removed, whatever its age, so a stopped backup schedule
 * cannot prune every backup away; a backup whose manifest is damaged is
 * left alone. Each backup is first renamed to a temporary name, then
 * deleted: a prune killed halfway never leaves a half backup listed.
 * Leftovers of dead processes are removed too. *json_out (may be NULL):
 * {"removed": [names], "kept": [names], "leftovers_removed": N}. */
CJ_API int cj_backup_prune(char **json_out, const char *path, int keep_days, int64_t now_ms);

/* Check the backup in backup_dir: MANIFEST.json against its own checksum,
 * then every file's size and XXH3-128 against the manifest, then a replay
 * of the backup's journal up to the projection's position L must have the
 * same canonical state hash as the backup's chat.sqlite (cj_projection_hash).
 * Nothing is written into the backup; the replay goes to a temporary file
 * beside it (in its parent folder, else $TMPDIR or /tmp), removed after.
 * *report_out (may be NULL; set on failure too when the manifest could be
 * read): {"backup", "ok", "files": [{"name", "size", "ok"}], "last_seq",
 * "position", "projection_hash", "replay_hash", "equal"}. Returns 0 if
 * sound, CJ_ECORRUPT naming the first damaged file (or the state that
 * differs), CJ_EVERSION for a backup layout newer than this build knows.
 * progress (may be NULL): (bytes checked, bytes in all), then the replay. */
CJ_API int cj_backup_verify(char **report_out, const char *backup_dir, cj_progress_fn progress,
                            void *arg);

#define CJ_RESTORE_OPTIONS_VERSION 1
typedef struct cj_restore_options {
	unsigned version;          /* CJ_RESTORE_OPTIONS_VERSION */
	uint64_t until_seq;        /* > 0: keep only the events 1..until_seq (at most the
	                              backup's last sequence number) */
	int until_time;            /* 1: keep only what was committed at or before until_ms */
	int64_t until_ms;          /* ms since the epoch (cj_time_parse reads RFC 3339) */
	int without_tokens;        /* leave the backup's tokens.json out */
	int skip_damaged;          /* with a cut: as cj_replay_options.skip_damaged */
	cj_progress_fn progress;   /* may be NULL: (work done, work in all), in bytes of the
	                              backup, on the calling thread */
	void *progress_arg;
} cj_restore_options;
#define CJ_RESTORE_OPTIONS_INIT { CJ_RESTORE_OPTIONS_VERSION, 0, 0, 0, 0, 0, NULL, NULL }

/* Restore the backup in backup_dir as a new store at dest: a folder that
 * does not exist (its parent must) or is empty; anything else is refused
 * (CJ_EEXIST). Every checksum is checked first: a damaged backup is refused
 * (CJ_ECORRUPT) naming the file, and nothing is created. The store is built
 * in a temporary folder beside dest ("PARENT/.tmp-restore-PID-NAME", removed
 * by the next restore into dest if this one dies) and renamed into place.
 *
 * Without a cut the store gets the backup's journal and projection; the
 * projection catches up with the journal (L+1..J) at the first read-write
 * open. With until_seq or until_time, only events up to the cut survive:
 * the journal is rebuilt from the backup's records 1..cut (with their
 * idempotency keys and the blobs their images name), and the projection is
 * replayed to match. A time cut keeps every group commit up to the last one
 * at or before until_ms (event "ts" values are the clients' and prove
 * nothing); it is refused (CJ_EINVAL, saying why) when the journal records
 * no commit time (written by 0.1.0) or until_ms is before the first one.
 * The restored store passes verification and serves at once.
 * *report_out (may be NULL): {"dest", "backup", "last_seq", "position",
 * "cut": false | {"until_seq" | "until", "commit_time"}, "tokens"}.
 * Errors: CJ_EEXIST, CJ_ENOTFOUND (no backup, no parent folder), CJ_ECORRUPT,
 * CJ_EVERSION, CJ_EINVAL (the cut, named), CJ_EIO/CJ_ENOSPC. */
CJ_API int cj_restore(char **report_out, const char *backup_dir, const char *dest,
                      const cj_restore_options *opts);

#ifdef __cplusplus
}
#endif
#endif
