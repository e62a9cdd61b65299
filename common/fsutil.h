/* common/fsutil.h — files 0600 and folders 0700 whatever the umask; durable
 * whole-file writes (write temp, fsync, rename, fsync folder). */
#ifndef CJ_COMMON_FSUTIL_H
#define CJ_COMMON_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

/* mkdir with mode 0700 (chmod'ed after, so the umask does not matter).
 * 0 if created, CJ_EEXIST if it was there (mode left as is), or an error. */
int cji_mkdir_private(const char *path);
/* Write data to path atomically and durably with mode 0600. */
int cji_write_file_atomic(const char *path, const void *data, size_t len);
/* Read a whole file (up to max bytes) into a NUL-terminated malloc'd buffer. */
int cji_read_file(const char *path, size_t max, char **out, size_t *len);
/* fsync a directory; a file; the folder that holds path (after a rename). */
int cji_fsync_dir(const char *path);
int cji_fsync_path(const char *path);
int cji_fsync_parent(const char *path);
/* Flush-behind for a big file being written (a backup): once more than
 * CJI_FLUSH_BEHIND bytes past *flushed are written, write them back and wait
 * (sync_file_range, no metadata), and move *flushed to size. A copy that
 * keeps its dirty pages few never makes another writer's fsync wait behind
 * a long backlog on the same disk. Advice only: failures are ignored (the
 * final fsync reports real errors). */
#define CJI_FLUSH_BEHIND ((uint64_t)4 << 20)
void cji_flush_behind(int fd, uint64_t *flushed, uint64_t size);

/* 1 if path exists (any type), 0 if not. */
int cji_exists(const char *path);
/* snprintf into out (size n) "a/b"; CJ_ETOOBIG if it does not fit. */
int cji_path_join(char *out, size_t n, const char *a, const char *b);

#endif
