/* tests/compact/scan.h — searching every file under a folder for byte
 * strings: the canary scans of the compaction tests. */
#ifndef CJ_TESTS_COMPACT_SCAN_H
#define CJ_TESTS_COMPACT_SCAN_H

#include <stddef.h>

/* How many times needle occurs in all regular files under root (recursive,
 * symbolic links not followed); where (may be NULL) gets the first file
 * holding it. -1 on an I/O error. */
long cs_count(const char *root, const char *needle, char *where, size_t where_n);

/* Walk the free list of the SQLite file at path (read from the file itself:
 * its WAL must be empty) and count the pages that hold a byte other than
 * zero, beyond a trunk page's list of page numbers; *pages gets the free
 * list's length (checked against the header's). -1 on an I/O error or a
 * malformed list. */
long cs_free_pages_dirty(const char *path, long *pages);

#endif
