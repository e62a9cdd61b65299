/* tests/fuzz/fuzz_import.h — what the importers' harnesses share: one store
 * (made once per process, in a private temporary folder) and a dry-run
 * import of the input laid out as the format expects it. The checks: the
 * call never crashes; a failure carries a message; a success's report is
 * JSON whose totals add up (each item seen is imported, present or skipped,
 * exactly once) and appends nothing. */
#ifndef CJ_TESTS_FUZZ_IMPORT_H
#define CJ_TESTS_FUZZ_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include "chatjournal/import.h"

/* Write data to `file` under a scratch folder (after writing the extra
 * files, NULL-terminated name/content pairs), then import PATH (the
 * folder when as_folder, else the file) in the format. */
void fz_import(cj_import_format format, const uint8_t *data, size_t size, const char *file,
               const char *const *extra, int as_folder);

#endif
