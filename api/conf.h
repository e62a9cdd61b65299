/* api/conf.h — chatjournal.conf: the store's settings (limits, journal map
 * sizes, retention, config defaults). JSON; docs/operations.md documents it. */
#ifndef CJ_API_CONF_H
#define CJ_API_CONF_H

#include <jansson.h>
#include "chatjournal/store.h"
#include "journal/journal_internal.h"

#define CJI_CONF_NAME "chatjournal.conf"
#define CJI_CONF_FORMAT 1

typedef struct cji_conf {
	cji_journal_config journal;
	unsigned backup_keep_days;
	unsigned retention_messages_days;        /* 0: keep messages and images forever */
	unsigned retention_inactive_threads_days; /* 0: never delete idle threads */
	unsigned retention_metrics_days;         /* 0: keep metrics forever */
	uint64_t compact_interval_s;   /* compaction.interval_seconds */
	uint64_t compact_threshold;    /* compaction.threshold_bytes */
	json_t *defaults;          /* config hierarchy defaults (object), owned */
} cji_conf;

/* Built-in defaults, then opts (non-zero fields) on top. */
void cji_conf_defaults(cji_conf *c, const cj_store_options *opts);
/* Read STORE/chatjournal.conf over c's values (unknown keys refused with
 * their name), then apply opts again (options win). */
int cji_conf_load(cji_conf *c, const char *store, const cj_store_options *opts);
/* Write c as STORE/chatjournal.conf (0600, atomic). */
int cji_conf_save(const cji_conf *c, const char *store);
void cji_conf_free(cji_conf *c);

#endif
