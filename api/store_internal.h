/* api/store_internal.h — the store handle. */
#ifndef CJ_API_STORE_INTERNAL_H
#define CJ_API_STORE_INTERNAL_H

#include <pthread.h>
#include "api/conf.h"
#include "journal/journal_internal.h"
#include "materializer/materializer.h"

#define CJI_JOURNAL_DIR "journal"
#define CJI_BACKUPS_DIR "backups"
#define CJI_TOKENS_NAME "tokens.json"   /* access tokens, hashed (tokens.c) */

struct cj_store {
	char path[4096];
	pthread_mutex_t health_mu;
	int projection_damaged;      /* a query or the check at open saw SQLITE_CORRUPT */
	char damage[512];            /* what it saw */
	cji_conf conf;
	cji_journal journal;
	cji_materializer *mat;      /* NULL when opened read-only */
	char sqlite_path[4200];
	struct cji_readers *readers; /* pool of read-only SQLite connections (api/readers.c) */
};

/* A query's result code, noted: CJ_ECORRUPT from SQLite marks the projection
 * damaged (health degraded: health.c) and the message tells to run replay. */
int cji_store_projection_result(cj_store *s, int rc);

#endif
