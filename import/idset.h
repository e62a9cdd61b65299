/* import/idset.h — a set of 64-bit id hashes (open addressing, doubling):
 * the ids one pass of an import has emitted, 16-32 bytes each (8-byte slots,
 * at most half full; doubled when half full). A
 * false "seen" (two ids with one hash) only costs a flush of the window,
 * or keeps --sync from deleting a message it could have: never the wrong
 * way round. */
#ifndef CJ_IMPORT_IDSET_H
#define CJ_IMPORT_IDSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct idset {
	uint64_t *slots;    /* 0 is the empty slot: hash 0 is stored as 1 */
	size_t cap, n;
} idset;

void idset_init(idset *s);
void idset_free(idset *s);
void idset_clear(idset *s);
/* 1 if h was there already, 0 if added, -1 out of memory. */
int idset_add(idset *s, uint64_t h);
int idset_has(const idset *s, uint64_t h);

#endif
