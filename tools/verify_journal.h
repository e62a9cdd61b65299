/* tools/verify_journal.h — the journal step of `chatjournal verify`, run in
 * a child process (verify_journal.c). */
#ifndef CJ_TOOLS_VERIFY_JOURNAL_H
#define CJ_TOOLS_VERIFY_JOURNAL_H

#include <stdint.h>
#include "chatjournal/chatjournal.h"

typedef struct verify_journal {
	int open_rc;                 /* 0, or why the store could not be opened */
	int signal;                  /* the check died of this signal (0: it finished) */
	int walked;                  /* the page walk ran (0: this build cannot) */
	uint64_t pages, bad_page;    /* cj_journal_check_pages */
	uint64_t checked, first_bad; /* cj_journal_check */
	uint64_t ids_checked, ids_bad;
	uint64_t blobs_checked;
	char bad_blob[CJ_BLOB_HASH_LEN + 1];
	int ok;                      /* every check ran and passed */
	int readable;                /* LMDB may read this journal: it finished and its pages
	                              * are sound (or could not be walked) */
	char error[1800];            /* what failed, "; "-separated; the open error */
} verify_journal;

/* Check the journal of store in a child process: open it read-only, walk
 * its pages (cj_journal_check_pages), then, if they are sound, every
 * record, idempotency entry and blob. A damaged file that still crashes
 * LMDB ends as out->signal, never as a crash of verify. No time limit: the
 * page walk ends by construction, and the checks after it read a sound
 * structure. 0, or -1 when no child could be run (an error was printed). */
int verify_journal_run(verify_journal *out, const char *store);

#endif
