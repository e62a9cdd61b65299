/* tests/compact/scan.h — searching every file under a folder for byte
 * strings: the canary scans of the compaction tests. */
#ifndef CJ_TESTS_COMPACT_SCAN_H
#define CJ_TESTS_COMPACT_SCAN_H

#include <stddef.h>

/* How many times needle occurs in all regular files under root (recursive,
 * symbolic links not followed); where (may be NULL) gets the first file
 * holding it. -1 on an I/O error. */
long cs_count(const char *root, const char *needle, char *where, size_t where_n);

#endif
