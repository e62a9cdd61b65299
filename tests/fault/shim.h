/* tests/fault/shim.h — write/sync fault injection by symbol interposition.
 *
 * The test executable itself defines write, pwrite, pwrite64, writev, pwritev,
 * pwritev64, fsync and fdatasync (exported with default visibility), so that
 * liblmdb.so and the statically linked library call them instead of libc's;
 * each forwards to the next definition (dlsym(RTLD_NEXT): libc, or the
 * sanitizer's interceptor under ASan). Only calls on file descriptors whose
 * path (readlink /proc/self/fd/N) lies under the armed folder are counted or
 * failed, so the test's own output is never affected. */
#ifndef CJ_TESTS_FAULT_SHIM_H
#define CJ_TESTS_FAULT_SHIM_H

#include <stdint.h>

enum shim_fn { SHIM_WRITE, SHIM_PWRITE, SHIM_WRITEV, SHIM_PWRITEV, SHIM_FSYNC, SHIM_FDATASYNC,
               SHIM_NFN };

/* What a call does, for shim_only(). A meta write is a write on a file
 * descriptor opened with O_DSYNC/O_SYNC: LMDB writes its meta page (the commit
 * point) through such a descriptor. */
enum shim_kind { SHIM_KIND_DATA = 1, SHIM_KIND_META = 2, SHIM_KIND_SYNC = 4,
                 SHIM_KIND_ALL = 7 };

/* Count (and fail) only calls of these kinds from the next count/arm on;
 * reset to SHIM_KIND_ALL by shim_disarm(). */
void shim_only(unsigned kinds);

/* Calls under prefix are counted from now on; none fails. */
void shim_count(const char *prefix);
/* Calls under prefix are counted; call number fail_at (1-based) fails with
 * err, and with sticky every later one too (a disk that stays full). */
void shim_arm(const char *prefix, uint64_t fail_at, int err, int sticky);
/* Like shim_arm, but the failing calls are short writes: a write (data or
 * meta) writes half of its first buffer and returns that count, a sync
 * fails with EIO; and while armed, statvfs of a path under prefix reports
 * no space available. That is how a full file system that accepts part of a
 * write (tmpfs) looks: LMDB turns the short write into EIO. */
void shim_arm_short(const char *prefix, uint64_t fail_at, int sticky);

/* Stop counting and failing. */
void shim_disarm(void);

uint64_t shim_calls(void);          /* calls under prefix since count/arm */
uint64_t shim_fired(void);          /* calls that were failed */
uint64_t shim_calls_of(enum shim_fn fn);
const char *shim_fn_name(enum shim_fn fn);

#endif
