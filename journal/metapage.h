/* journal/metapage.h — reading data.mdb's two meta pages ourselves, with
 * pread, before LMDB maps the file: LMDB trusts them, and a file shorter
 * than they say makes any read past its end a SIGBUS (docs/reliability.md,
 * L9). The bytes are lmdb_layout.c's. */
#ifndef CJ_JOURNAL_METAPAGE_H
#define CJ_JOURNAL_METAPAGE_H

#include <stdint.h>
#include "journal/lmdb_layout.h"

typedef struct cji_metapage {
	cji_lmdb_meta meta;      /* the one LMDB uses: the larger txnid of the two */
	uint64_t file_size;
	uint64_t need;           /* bytes the file must hold: (last_pg + 1) * psize */
} cji_metapage;

/* Read and judge both meta pages of the open file fd (path names it in
 * messages) as LMDB does: page flag, magic, data version; and beyond LMDB,
 * a plausible page size and a file long enough for the pages the newer meta
 * counts (the file may be longer: only shorter is damage). 0, or
 * CJ_ECORRUPT ("journal file truncated: N bytes, needs M", or what is
 * wrong with a meta page), or CJ_EIO. */
int cji_metapage_read(cji_metapage *out, int fd, const char *path);

/* The check at open: DIR/data.mdb as cji_metapage_read judges it. 0 also
 * when there is no data.mdb yet (LMDB creates or refuses it) and on a host
 * whose layout lmdb_layout.c does not know. */
int cji_metapage_check(const char *dir);

#endif
