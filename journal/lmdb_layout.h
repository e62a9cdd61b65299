/* journal/lmdb_layout.h — the bytes of LMDB's data file (data.mdb) that
 * chatjournal reads itself, without LMDB: the page header, the meta page,
 * a database record (MDB_db) and a node of a branch or leaf page. LMDB keeps
 * no checksums (docs/reliability.md, L9), so the size check at open
 * (metapage.c) and verify's page walk (pages.c) read these structures with
 * bounds of their own before LMDB maps anything. lmdb_layout.c is the only
 * code that knows these bytes; docs/format.md ("LMDB's data file") describes
 * them for humans.
 *
 * The layout is that of LMDB 0.9.x's data format 1 (read from LMDB 0.9.24's
 * mdb.c) as built on a 64-bit little-endian host without MDB_VL32: page
 * numbers, sizes and transaction ids are 8 bytes, in host order. Elsewhere
 * cji_lmdb_layout_known() is 0 and both checks are skipped. */
#ifndef CJ_JOURNAL_LMDB_LAYOUT_H
#define CJ_JOURNAL_LMDB_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define CJI_LMDB_PAGE_HDR     16u          /* PAGEHDRSZ */
#define CJI_LMDB_META_END     152u         /* page header + MDB_meta: bytes a meta page needs */
#define CJI_LMDB_DB_LEN       48u          /* sizeof(MDB_db): a named database's record */
#define CJI_LMDB_NODE_HDR     8u           /* NODESIZE */
#define CJI_LMDB_MAGIC        0xBEEFC0DEu  /* MDB_MAGIC */
#define CJI_LMDB_DATA_VERSION 1u           /* MDB_DATA_VERSION */
#define CJI_LMDB_NUM_METAS    2u           /* pages 0 and 1 */
#define CJI_LMDB_NO_PAGE      UINT64_MAX   /* P_INVALID: the root of an empty database */
#define CJI_LMDB_MAX_DEPTH    32u          /* CURSOR_STACK: LMDB cannot descend deeper */
#define CJI_LMDB_MAX_KEY      511u         /* the default MDB_MAXKEYSIZE */
#define CJI_LMDB_PSIZE_MIN    512u
#define CJI_LMDB_PSIZE_MAX    65536u

/* Page flags (mp_flags) */
#define CJI_LMDB_P_BRANCH   0x01u
#define CJI_LMDB_P_LEAF     0x02u
#define CJI_LMDB_P_OVERFLOW 0x04u
#define CJI_LMDB_P_META     0x08u

/* Leaf node flags (mn_flags) */
#define CJI_LMDB_F_BIGDATA 0x01u  /* the value lives on overflow pages */
#define CJI_LMDB_F_SUBDATA 0x02u  /* the value is a named database's record */
#define CJI_LMDB_F_DUPDATA 0x04u  /* sorted duplicates: never used by chatjournal */

/* Indexes of the two databases whose records the meta page holds. */
#define CJI_LMDB_FREE_DBI 0
#define CJI_LMDB_MAIN_DBI 1

typedef struct cji_lmdb_db {
	uint32_t pad;               /* in the free database's record: the page size */
	uint16_t flags, depth;
	uint64_t branch_pages, leaf_pages, overflow_pages, entries;
	uint64_t root;              /* CJI_LMDB_NO_PAGE when empty */
} cji_lmdb_db;

typedef struct cji_lmdb_meta {
	uint16_t page_flags;        /* of the page holding it: must be P_META */
	uint32_t magic, version;
	uint64_t mapsize;
	cji_lmdb_db dbs[2];         /* CJI_LMDB_FREE_DBI, CJI_LMDB_MAIN_DBI */
	uint32_t psize;             /* = dbs[FREE].pad */
	uint64_t last_pg;           /* last page in use: the file holds pages 0..last_pg */
	uint64_t txnid;             /* the transaction that wrote this meta */
} cji_lmdb_meta;

typedef struct cji_lmdb_page {
	uint64_t pgno;              /* the page's own number, as written */
	uint16_t flags;
	uint16_t lower, upper;      /* free space between them (branch, leaf) */
	uint32_t overflow_pages;    /* first page of an overflow run: its length */
} cji_lmdb_page;

typedef struct cji_lmdb_node {
	uint16_t flags;             /* leaf nodes only */
	uint16_t ksize;
	const uint8_t *key;
	uint64_t child;             /* branch: the child page */
	uint32_t dsize;             /* leaf: the value's size */
	const uint8_t *data;        /* leaf: the value, inline (NULL if F_BIGDATA) */
	uint64_t overflow;          /* leaf with F_BIGDATA: the first overflow page */
} cji_lmdb_node;

/* 1 if this build reads the layout above (64-bit little-endian host). */
int cji_lmdb_layout_known(void);

/* Decode the meta page at page (n >= CJI_LMDB_META_END bytes). Nothing is
 * checked here; metapage.c judges the fields. */
void cji_lmdb_meta_decode(cji_lmdb_meta *m, const uint8_t *page);

/* Decode a page header (CJI_LMDB_PAGE_HDR bytes). */
void cji_lmdb_page_decode(cji_lmdb_page *p, const uint8_t *page);

/* Number of nodes of a branch or leaf page, or -1 if lower/upper are
 * impossible for a page of psize bytes. */
long cji_lmdb_page_nkeys(const cji_lmdb_page *p, uint32_t psize);

/* Node i of a branch (branch = 1) or leaf page of psize bytes whose header
 * passed cji_lmdb_page_nkeys. Every offset and length is checked against
 * the page: 0, or -1 with *why set to a static description. */
int cji_lmdb_node_get(cji_lmdb_node *out, const uint8_t *page, uint32_t psize,
                      const cji_lmdb_page *hdr, unsigned i, int branch, const char **why);

/* Decode a database record (CJI_LMDB_DB_LEN bytes, a named database's value). */
void cji_lmdb_db_decode(cji_lmdb_db *db, const uint8_t *p);

/* Pages an overflow run needs for a value of size bytes (OVPAGES). */
uint64_t cji_lmdb_overflow_pages(uint64_t size, uint32_t psize);

/* An 8-byte page number or transaction id, in host order (the free
 * database's keys and the page lists in its values). */
uint64_t cji_lmdb_word(const uint8_t *p);

#endif
