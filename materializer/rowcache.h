/* materializer/rowcache.h — a string-keyed map from thread / user ids to
 * their row ids, with the per-batch aggregate of the changes messages make
 * to those rows (counts, latest activity, latest server/channel). The
 * aggregate is written once per row at the end of a batch instead of once
 * per message: fewer statements and far less index churn. */
#ifndef CJ_MATERIALIZER_ROWCACHE_H
#define CJ_MATERIALIZER_ROWCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cji_rowagg {
	char *key;
	uint64_t hash;
	int64_t rowid;
	int64_t rowid2;       /* user_threads: thread_rowid */
	int dirty;
	int64_t count;        /* messages added since the last flush */
	int64_t act_ms;       /* latest activity / last seen */
	char act[32];
	int64_t first_ms;     /* earliest event time (threads.created, users.first_seen) */
	char first[32];
	int64_t seq;          /* latest event */
	char *server, *channel; /* latest non-null values (threads) */
} cji_rowagg;

typedef struct cji_rowcache {
	cji_rowagg *slots;
	size_t cap, used;
} cji_rowcache;

#define CJI_ROWCACHE_MAX 65536

/* Entry for key, or NULL. */
cji_rowagg *cji_rowcache_get(cji_rowcache *c, const char *key);
/* New entry (key copied); NULL on ENOMEM. The cache must not hold key. */
cji_rowagg *cji_rowcache_put(cji_rowcache *c, const char *key, int64_t rowid);
/* Forget everything. */
void cji_rowcache_clear(cji_rowcache *c);
void cji_rowcache_free(cji_rowcache *c);
/* Remember an activity on e (ms, ISO text) and seq: the latest and the
 * earliest time seen. */
void cji_rowagg_touch(cji_rowagg *e, int64_t ms, const char *text, int64_t seq);

#endif
