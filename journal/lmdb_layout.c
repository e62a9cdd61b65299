/* journal/lmdb_layout.c — decoding LMDB 0.9.24's page header, meta page,
 * database record and nodes (journal/lmdb_layout.h says which build's
 * layout). Offsets below are those of mdb.c's MDB_page, MDB_meta, MDB_db and
 * MDB_node; every read of a node is checked against the page first, so a
 * damaged page can make a decode fail but never read outside the buffer. */
#include <string.h>
#include "journal/lmdb_layout.h"

/* MDB_page: pgno (8), mp_pad (2), mp_flags (2), then lower and upper (2 + 2)
 * or, on the first page of an overflow run, the run's length (4); then
 * mp_ptrs[], the 2-byte offsets of the nodes. */
#define PG_PGNO   0
#define PG_FLAGS  10
#define PG_LOWER  12
#define PG_UPPER  14
#define PG_PAGES  12

/* MDB_meta, after the page header: magic (4), version (4), address (8),
 * mapsize (8), the free and main databases' records (48 each), last_pg (8),
 * txnid (8). */
#define MT_MAGIC   16
#define MT_VERSION 20
#define MT_MAPSIZE 32
#define MT_DBS     40
#define MT_LAST_PG 136
#define MT_TXNID   144

/* MDB_db: pad (4), flags (2), depth (2), branch, leaf and overflow page
 * counts, entries, root (8 each). */
#define DB_PAD      0
#define DB_FLAGS    4
#define DB_DEPTH    6
#define DB_BRANCH   8
#define DB_LEAF     16
#define DB_OVERFLOW 24
#define DB_ENTRIES  32
#define DB_ROOT     40

/* MDB_node: lo (2), hi (2), flags (2), ksize (2), key, data. A branch
 * node's child is lo | hi << 16 | flags << 32; a leaf's data size is
 * lo | hi << 16. */
#define ND_LO    0
#define ND_HI    2
#define ND_FLAGS 4
#define ND_KSIZE 6

_Static_assert(CJI_LMDB_META_END == MT_TXNID + 8, "meta page layout");
_Static_assert(CJI_LMDB_DB_LEN == DB_ROOT + 8, "database record layout");

static uint16_t u16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static uint32_t u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

uint64_t cji_lmdb_word(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

int cji_lmdb_layout_known(void)
{
	const uint16_t one = 1;
	uint8_t first;
	memcpy(&first, &one, 1);
	return sizeof(size_t) == 8 && sizeof(void *) == 8 && first == 1;
}

void cji_lmdb_db_decode(cji_lmdb_db *db, const uint8_t *p)
{
	db->pad = u32(p + DB_PAD);
	db->flags = u16(p + DB_FLAGS);
	db->depth = u16(p + DB_DEPTH);
	db->branch_pages = cji_lmdb_word(p + DB_BRANCH);
	db->leaf_pages = cji_lmdb_word(p + DB_LEAF);
	db->overflow_pages = cji_lmdb_word(p + DB_OVERFLOW);
	db->entries = cji_lmdb_word(p + DB_ENTRIES);
	db->root = cji_lmdb_word(p + DB_ROOT);
}

void cji_lmdb_meta_decode(cji_lmdb_meta *m, const uint8_t *page)
{
	m->page_flags = u16(page + PG_FLAGS);
	m->magic = u32(page + MT_MAGIC);
	m->version = u32(page + MT_VERSION);
	m->mapsize = cji_lmdb_word(page + MT_MAPSIZE);
	cji_lmdb_db_decode(&m->dbs[CJI_LMDB_FREE_DBI], page + MT_DBS);
	cji_lmdb_db_decode(&m->dbs[CJI_LMDB_MAIN_DBI], page + MT_DBS + CJI_LMDB_DB_LEN);
	m->psize = m->dbs[CJI_LMDB_FREE_DBI].pad;
	m->last_pg = cji_lmdb_word(page + MT_LAST_PG);
	m->txnid = cji_lmdb_word(page + MT_TXNID);
}

void cji_lmdb_page_decode(cji_lmdb_page *p, const uint8_t *page)
{
	p->pgno = cji_lmdb_word(page + PG_PGNO);
	p->flags = u16(page + PG_FLAGS);
	p->lower = u16(page + PG_LOWER);
	p->upper = u16(page + PG_UPPER);
	p->overflow_pages = u32(page + PG_PAGES);
}

long cji_lmdb_page_nkeys(const cji_lmdb_page *p, uint32_t psize)
{
	if (p->lower < CJI_LMDB_PAGE_HDR || p->lower > p->upper || p->upper > psize ||
	    (p->lower - CJI_LMDB_PAGE_HDR) % 2 != 0)
		return -1;
	return (long)(p->lower - CJI_LMDB_PAGE_HDR) / 2;
}

int cji_lmdb_node_get(cji_lmdb_node *out, const uint8_t *page, uint32_t psize,
                      const cji_lmdb_page *hdr, unsigned i, int branch, const char **why)
{
	memset(out, 0, sizeof *out);
	size_t off = u16(page + CJI_LMDB_PAGE_HDR + 2 * (size_t)i);
	/* Nodes live between upper and the page's end, 2-byte aligned. */
	if (off < hdr->upper || off % 2 != 0 || off + CJI_LMDB_NODE_HDR > psize) {
		*why = "a node offset outside the page's node area";
		return -1;
	}
	const uint8_t *n = page + off;
	uint16_t lo = u16(n + ND_LO), hi = u16(n + ND_HI), flags = u16(n + ND_FLAGS);
	out->ksize = u16(n + ND_KSIZE);
	if (out->ksize > CJI_LMDB_MAX_KEY || off + CJI_LMDB_NODE_HDR + out->ksize > psize) {
		*why = "a key longer than LMDB allows or running past the page";
		return -1;
	}
	out->key = n + CJI_LMDB_NODE_HDR;
	if (branch) {
		out->child = (uint64_t)lo | (uint64_t)hi << 16 | (uint64_t)flags << 32;
		return 0;
	}
	out->flags = flags;
	out->dsize = (uint32_t)lo | (uint32_t)hi << 16;
	size_t data_off = off + CJI_LMDB_NODE_HDR + out->ksize;
	if (flags & CJI_LMDB_F_BIGDATA) {
		if (data_off + 8 > psize) {
			*why = "an overflow page number running past the page";
			return -1;
		}
		out->overflow = cji_lmdb_word(page + data_off);
		return 0;
	}
	if (data_off + out->dsize > psize) {
		*why = "a value running past the page";
		return -1;
	}
	out->data = page + data_off;
	return 0;
}

uint64_t cji_lmdb_overflow_pages(uint64_t size, uint32_t psize)
{
	return (CJI_LMDB_PAGE_HDR - 1 + size) / psize + 1;
}
