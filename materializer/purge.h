/* materializer/purge.h — what a purge event removes, for the store's dry run
 * (`chatjournal purge --dry-run`) and retention: the predicates themselves
 * live once, in apply_delete.c, beside the purge they drive. */
#ifndef CJ_MATERIALIZER_PURGE_H
#define CJ_MATERIALIZER_PURGE_H

#include <sqlite3.h>
#include <stdint.h>

enum { CJI_PURGE_MESSAGES = 1, CJI_PURGE_IMAGES = 2, CJI_PURGE_METRICS = 4, CJI_PURGE_ALL = 7 };

typedef struct cji_purge_scope {
	int64_t before_ms;
	const char *thread, *user, *server;  /* NULL: no such scope */
	unsigned kinds;                      /* CJI_PURGE_* bits */
} cji_purge_scope;

typedef struct cji_purge_counts {
	uint64_t messages, images, metrics;
} cji_purge_counts;

/* Rows a purge of this scope would remove now, counted on db (any
 * connection, read-only is enough). */
int cji_purge_count(cji_purge_counts *out, sqlite3 *db, const cji_purge_scope *sc);

#endif
