/* api/store_internal.h — the store handle. */
#ifndef CJ_API_STORE_INTERNAL_H
#define CJ_API_STORE_INTERNAL_H

#include "api/conf.h"
#include "journal/journal_internal.h"

#define CJI_JOURNAL_DIR "journal"
#define CJI_BACKUPS_DIR "backups"

struct cj_store {
	char path[4096];
	cji_conf conf;
	cji_journal journal;
};

#endif
