/* journal/pages.h — walking the journal file's LMDB pages with bounds of
 * our own (pages.c), for the check at every open (env.c) and verify's full
 * walk (cji_journal_check_pages, journal_internal.h). */
#ifndef CJ_JOURNAL_PAGES_H
#define CJ_JOURNAL_PAGES_H

#include <stdint.h>

enum {
	CJI_PAGES_ALL,            /* every page, the counts, every page used once */
	CJI_PAGES_EDGES,          /* main database, first and last paths of each database */
	CJI_PAGES_EDGES_AND_FREE  /* the same and the whole free list (a writer's open) */
};

/* Walk data.mdb at path from its newer meta page; the caller holds a read
 * transaction (txnid: its id) that pins the snapshot. 0, or CJ_ECORRUPT
 * naming the damage (*bad_page: the page, 0 if not one page), or an I/O
 * error. *pages: the pages visited. */
int cji_pages_walk(uint64_t *pages, uint64_t *bad_page, const char *path, uint64_t txnid,
                   int scope);

#endif
