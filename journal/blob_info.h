/* journal/blob_info.h — blob metadata for the projection: size and a mime
 * type sniffed from the first bytes (the bytes themselves never leave the
 * journal). */
#ifndef CJ_JOURNAL_BLOB_INFO_H
#define CJ_JOURNAL_BLOB_INFO_H

#include <stdint.h>
#include "chatjournal/store.h"

/* 0 and size/mime (cj_blob_mime_type), or CJ_ENOTFOUND / CJ_EINVAL. */
int cji_blob_info(cj_store *s, const char *hash, uint64_t *size, const char **mime);

#endif
