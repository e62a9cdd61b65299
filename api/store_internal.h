/* api/store_internal.h — the store handle. */
#ifndef CJ_API_STORE_INTERNAL_H
#define CJ_API_STORE_INTERNAL_H

#include "api/conf.h"
#include "journal/journal_internal.h"
#include "materializer/materializer.h"

#define CJI_JOURNAL_DIR "journal"
#define CJI_BACKUPS_DIR "backups"

struct cj_store {
	char path[4096];
	cji_conf conf;
	cji_journal journal;
	cji_materializer *mat;      /* NULL when opened read-only */
	char sqlite_path[4200];
	struct cji_readers *readers; /* pool of read-only SQLite connections (api/readers.c) */
};

#endif
