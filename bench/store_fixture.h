/* bench/store_fixture.h — a fresh chatjournal store for one measurement, and
 * the group-commit figures read from it before it is closed. */
#ifndef CJB_STORE_FIXTURE_H
#define CJB_STORE_FIXTURE_H

#include "chatjournal/chatjournal.h"
#include "harness.h"

/* Create and open a new store at DIR/store with default options (with
 * journal_only: no_materializer, the journal alone). 0, or -1 with
 * res->error naming the step and the library's message. */
int cjb_store_fresh(cj_store **out, const char *dir, int journal_only, cjb_result *res);

/* Copy the journal's commit counters into res, then close the store. */
void cjb_store_finish(cj_store *s, cjb_result *res);

/* Per-thread event pools for the chatjournal measurements. */
typedef struct cjb_pools {
	cj_event **pool[64];
	size_t n;                /* events per pool */
	unsigned threads;
} cjb_pools;

/* Build `threads` pools of n events (writer i gets pool i). 0 or -1. */
int cjb_pools_new(cjb_pools *p, unsigned threads, size_t n, cjb_result *res);
void cjb_pools_free(cjb_pools *p);

#endif
