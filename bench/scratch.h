/* bench/scratch.h — the benchmark's scratch directory: created with mkdtemp
 * under the chosen base, one fresh subdirectory per measurement, everything
 * removed at the end. Only what the bench created is ever removed. */
#ifndef CJB_SCRATCH_H
#define CJB_SCRATCH_H

#include <stddef.h>

/* mkdtemp BASE/cjbench-XXXXXX (base NULL: $TMPDIR, else /tmp) into out.
 * 0, or -1 with a message in err. */
int cjb_scratch_new(char *out, size_t n, const char *base, char *err, size_t errn);

/* Create SCRATCH/NAME into out. 0 or -1 with a message in err. */
int cjb_scratch_sub(char *out, size_t n, const char *scratch, const char *name,
                    char *err, size_t errn);

/* Remove path and everything below it (never following symlinks). 0 or -1. */
int cjb_scratch_remove(const char *path);

/* Flush the file system holding path, so the previous measurement's dirty
 * pages and deletions are not written back during the next one. */
void cjb_scratch_settle(const char *path);

/* The file system type of path ("ext4", "tmpfs", ... or "unknown"). */
const char *cjb_scratch_fstype(const char *path);

#endif
