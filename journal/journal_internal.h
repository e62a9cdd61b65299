/* journal/journal_internal.h — the journal object inside a store: the LMDB
 * environment, limits, and the group-commit queue served by one writer thread. */
#ifndef CJ_JOURNAL_INTERNAL_H
#define CJ_JOURNAL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include "chatjournal/journal.h"
#include "journal/env.h"

typedef struct cji_journal {
	cji_env env;
	cj_limits limits;
	size_t max_blob;
	unsigned max_batch;       /* events per group commit */
	unsigned max_queue;       /* events waiting before CJ_EBUSY */

	pthread_mutex_t mu;       /* guards the queue and every ticket's done flag */
	pthread_cond_t work;
	struct cj_ticket *head, *tail;
	size_t queued;
	int stopping;
	int writer_running;
	pthread_t writer;

	_Atomic uint64_t commits, committed;
	void (*on_commit)(void *arg);  /* called by the writer after each durable commit */
	void *on_commit_arg;
} cji_journal;

typedef struct cji_journal_config {
	uint64_t map_initial, map_ceiling;
	cj_limits limits;
	size_t max_blob;
	unsigned max_batch, max_queue;
	int read_only;
	void (*on_commit)(void *arg);
	void *on_commit_arg;
} cji_journal_config;

/* Open the journal in dir (create: make it) and start the writer thread. */
int cji_journal_open(cji_journal *j, const char *dir, const cji_journal_config *cfg, int create);
/* Drain every submitted append and stop the writer (the environment stays
 * open for readers). */
void cji_journal_stop(cji_journal *j);
/* Stop if needed, then close the environment. */
void cji_journal_close(cji_journal *j);

/* The journal of a store (api/store.c). */
cji_journal *cji_store_journal(cj_store *s);

#endif
