/* journal/pages.c — walking the journal's LMDB pages with bounds of our
 * own (docs/reliability.md, L9 and L16). LMDB keeps no checksums and
 * follows page numbers as it finds them: a damaged branch page can send a
 * cursor past the end of the file (SIGBUS) or around a loop forever. This
 * walk reads pages with pread (nothing is mapped, so no pointer can
 * escape) and follows the B-trees from the newer meta page: the free list,
 * the main database and, through it, every named database. It checks what
 * LMDB relies on when it navigates: page numbers inside the file, the page
 * number each page says it has, page types at each level, node offsets and
 * sizes inside their page, key order within the bounds the parent page
 * sets, and overflow runs. A bitmap of visited pages makes a loop or a
 * shared page damage and bounds the walk: every page is read at most once,
 * so the walk always ends.
 *
 * Two scopes:
 * - CJI_PAGES_ALL (verify, cj_journal_check_pages): every page, then each
 *   database record's page and entry counts, and every page used exactly
 *   once, by a database or by the free list.
 * - CJI_PAGES_EDGES (every open, env.c): what opening and the common paths
 *   read through LMDB: the main database, each named database's first and
 *   last root-to-leaf paths (the last sequence number, appends, an
 *   iteration's start) and, for a writer, the whole free list (the writer
 *   takes pages from it). A few dozen pages whatever the journal's size.
 *
 * The caller holds a read transaction for the walk: it pins the snapshot
 * (and every newer one), so a writer in another process cannot reuse its
 * pages under the walk (L7: the file may grow meanwhile). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "journal/keys.h"
#include "journal/lmdb_layout.h"
#include "journal/metapage.h"
#include "journal/pages.h"
#include "common/err.h"

#define MAX_NAMED   16                  /* chatjournal has 4 named databases */
#define IDL_CHUNK   ((size_t)64 << 10)  /* free-list values are read in chunks */
#define META_TRIES  100                 /* consistent reads of the meta pages */
/* Database flags that change LMDB's key order or layout; chatjournal's
 * databases have none (MDB_REVERSEKEY, DUPSORT, INTEGERKEY, DUPFIXED,
 * INTEGERDUP, REVERSEDUP). */
#define ODD_DB_FLAGS 0x7eu

enum { KIND_FREE, KIND_MAIN, KIND_NAMED };

typedef struct walk {
	int fd;
	int scope;                  /* CJI_PAGES_* */
	uint32_t psize;
	uint64_t npages;            /* last_pg + 1 of the snapshot */
	uint8_t *seen;              /* a bit per page: in a database or free */
	uint64_t used;
	uint8_t *levels;            /* one page buffer per tree level */
	uint8_t *chunk;             /* IDL_CHUNK bytes for free-list values */
	uint64_t holder;            /* the page being read (0: a database record) */
	uint64_t bad_page;
	int io_errno;               /* a read failed (not damage) */
	char why[400];
} walk;

typedef struct key_ref {
	const uint8_t *p;           /* NULL: no bound */
	size_t n;
} key_ref;

typedef struct tree {
	int kind;
	char name[64];
	cji_lmdb_db db;
	size_t key_min, key_max;    /* key sizes this database allows */
	uint64_t branch, leaf, overflow, entries;
	cji_lmdb_db named[MAX_NAMED];       /* KIND_MAIN: the records found */
	char names[MAX_NAMED][64];
	size_t nnamed;
} tree;

static int damage(walk *w, uint64_t pgno, const char *fmt, ...) CJI_PRINTF(3, 4);
static int damage(walk *w, uint64_t pgno, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->why, sizeof w->why, fmt, ap);
	va_end(ap);
	w->bad_page = pgno;
	return -1;
}

/* Claim page pgno for a database or the free list. A number outside the
 * file blames the page that holds it. */
static int mark(walk *w, uint64_t pgno, const char *what, const char *db)
{
	if (pgno < CJI_LMDB_NUM_METAS || pgno >= w->npages)
		return damage(w, w->holder, "%s of '%s' at page %llu: outside the file's pages 2..%llu",
		              what, db, (unsigned long long)pgno, (unsigned long long)(w->npages - 1));
	uint8_t bit = (uint8_t)(1u << (pgno % 8));
	if (w->seen[pgno / 8] & bit)
		return damage(w, pgno, "page %llu (%s of '%s') is reached twice: a loop, or a page "
		              "in two places", (unsigned long long)pgno, what, db);
	w->seen[pgno / 8] |= bit;
	w->used++;
	return 0;
}

static int read_at(walk *w, void *buf, size_t n, uint64_t off, uint64_t pgno)
{
	ssize_t r = pread(w->fd, buf, n, (off_t)off);
	if (r < 0) {
		w->io_errno = errno;
		return damage(w, pgno, "page %llu: cannot read", (unsigned long long)pgno);
	}
	if ((size_t)r < n)
		return damage(w, pgno, "page %llu lies past the end of the file",
		              (unsigned long long)pgno);
	return 0;
}

/* LMDB's orders: memcmp then length (mdb_cmp_memn), or 8-byte integers in
 * host order for the free list's transaction ids. */
static int key_cmp(const tree *t, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	if (t->kind == KIND_FREE) {
		uint64_t x = cji_lmdb_word(a), y = cji_lmdb_word(b);
		return x < y ? -1 : x > y;
	}
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	return c ? c : (an < bn ? -1 : an > bn);
}

/* The overflow run of a big value: its first page's header, and every page
 * of it marked once. */
static int visit_overflow(walk *w, tree *t, uint64_t pgno, uint64_t size)
{
	uint64_t need = cji_lmdb_overflow_pages(size, w->psize);
	if (pgno < CJI_LMDB_NUM_METAS || pgno >= w->npages || need > w->npages - pgno)
		return damage(w, w->holder, "overflow page %llu of '%s': a %llu-byte value cannot start "
		              "there (the file has pages up to %llu)", (unsigned long long)pgno, t->name,
		              (unsigned long long)size, (unsigned long long)(w->npages - 1));
	uint8_t h[CJI_LMDB_PAGE_HDR];
	if (read_at(w, h, sizeof h, pgno * w->psize, pgno))
		return -1;
	cji_lmdb_page hdr;
	cji_lmdb_page_decode(&hdr, h);
	if (hdr.pgno != pgno || !(hdr.flags & CJI_LMDB_P_OVERFLOW))
		return damage(w, pgno, "page %llu of '%s' should start an overflow run (it says page "
		              "%llu, flags 0x%x)", (unsigned long long)pgno, t->name,
		              (unsigned long long)hdr.pgno, hdr.flags);
	if (hdr.overflow_pages < need || hdr.overflow_pages > w->npages - pgno)
		return damage(w, pgno, "overflow page %llu of '%s': a run of %u pages for a %llu-byte "
		              "value", (unsigned long long)pgno, t->name, hdr.overflow_pages,
		              (unsigned long long)size);
	for (uint64_t i = 0; i < hdr.overflow_pages; i++)
		if (mark(w, pgno + i, "overflow page", t->name))
			return -1;
	t->overflow += hdr.overflow_pages;
	return 0;
}

/* A free-list value: a count, then that many page numbers, each free. */
static int visit_idl_words(walk *w, const uint8_t *p, size_t nwords, uint64_t *left,
                           uint64_t pgno, uint64_t txn)
{
	for (size_t i = 0; i < nwords && *left; i++, (*left)--) {
		char what[64];
		snprintf(what, sizeof what, "free page of transaction %llu", (unsigned long long)txn);
		w->holder = pgno;
		if (mark(w, cji_lmdb_word(p + 8 * i), what, "free list"))
			return -1;
	}
	return 0;
}

static int visit_free_value(walk *w, tree *t, const cji_lmdb_node *n, uint64_t pgno)
{
	uint64_t txn = cji_lmdb_word(n->key);
	if (n->dsize < 8 || n->dsize % 8 != 0)
		return damage(w, pgno, "page %llu (free list): the value of transaction %llu has %u "
		              "bytes", (unsigned long long)pgno, (unsigned long long)txn, n->dsize);
	uint64_t count;
	if (!(n->flags & CJI_LMDB_F_BIGDATA)) {
		count = cji_lmdb_word(n->data);
		if (count > n->dsize / 8 - 1)
			return damage(w, pgno, "page %llu (free list): transaction %llu lists %llu pages "
			              "in %u bytes", (unsigned long long)pgno, (unsigned long long)txn,
			              (unsigned long long)count, n->dsize);
		return visit_idl_words(w, n->data + 8, (size_t)count, &count, pgno, txn);
	}
	if (visit_overflow(w, t, n->overflow, n->dsize))
		return -1;
	/* A long list: read it in chunks from just after the run's header. */
	uint64_t off = n->overflow * w->psize + CJI_LMDB_PAGE_HDR, done = 0, left = 0;
	while (done < n->dsize) {
		size_t len = n->dsize - done < IDL_CHUNK ? (size_t)(n->dsize - done) : IDL_CHUNK;
		if (read_at(w, w->chunk, len, off + done, n->overflow))
			return -1;
		const uint8_t *p = w->chunk;
		size_t words = len / 8;
		if (done == 0) {
			left = cji_lmdb_word(p);
			if (left > n->dsize / 8 - 1)
				return damage(w, n->overflow, "overflow page %llu (free list): transaction "
				              "%llu lists %llu pages in %u bytes",
				              (unsigned long long)n->overflow, (unsigned long long)txn,
				              (unsigned long long)left, n->dsize);
			p += 8;
			words--;
		}
		if (visit_idl_words(w, p, words, &left, n->overflow, txn))
			return -1;
		done += len;
	}
	return 0;
}

static int visit_main_value(walk *w, tree *t, const cji_lmdb_node *n, uint64_t pgno)
{
	char name[64];
	snprintf(name, sizeof name, "%.*s", (int)(n->ksize < 63 ? n->ksize : 63), (const char *)n->key);
	if (n->flags != CJI_LMDB_F_SUBDATA || n->dsize != CJI_LMDB_DB_LEN)
		return damage(w, pgno, "page %llu (main database): entry '%s' is not a database "
		              "record (flags 0x%x, %u bytes)", (unsigned long long)pgno, name, n->flags,
		              n->dsize);
	if (t->nnamed == MAX_NAMED)
		return damage(w, pgno, "page %llu (main database): more than %d databases",
		              (unsigned long long)pgno, MAX_NAMED);
	cji_lmdb_db_decode(&t->named[t->nnamed], n->data);
	snprintf(t->names[t->nnamed], sizeof t->names[0], "%s", name);
	t->nnamed++;
	return 0;
}

static int visit_leaf_node(walk *w, tree *t, const cji_lmdb_node *n, uint64_t pgno, unsigned i)
{
	t->entries++;
	if (n->ksize < t->key_min || n->ksize > t->key_max)
		return damage(w, pgno, "page %llu (leaf of '%s'), node %u: a %u-byte key (%zu..%zu "
		              "expected)", (unsigned long long)pgno, t->name, i, n->ksize, t->key_min,
		              t->key_max);
	if (t->kind == KIND_MAIN)
		return visit_main_value(w, t, n, pgno);
	if (n->flags & ~(unsigned)CJI_LMDB_F_BIGDATA)
		return damage(w, pgno, "page %llu (leaf of '%s'), node %u: flags 0x%x",
		              (unsigned long long)pgno, t->name, i, n->flags);
	if (t->kind == KIND_FREE)
		return visit_free_value(w, t, n, pgno);
	if (n->flags & CJI_LMDB_F_BIGDATA)
		return visit_overflow(w, t, n->overflow, n->dsize);
	return 0;
}

/* One page of a tree at level (1 = root) and everything below it; its keys
 * must lie in [lo, hi). */
static int visit_page(walk *w, tree *t, uint64_t pgno, unsigned level, key_ref lo, key_ref hi)
{
	int leaf = level == t->db.depth;
	const char *kind = leaf ? "leaf" : "branch";
	if (mark(w, pgno, kind, t->name))
		return -1;
	uint8_t *page = w->levels + (size_t)(level - 1) * w->psize;
	if (read_at(w, page, w->psize, pgno * w->psize, pgno))
		return -1;
	w->holder = pgno;
	cji_lmdb_page hdr;
	cji_lmdb_page_decode(&hdr, page);
	unsigned want = leaf ? CJI_LMDB_P_LEAF : CJI_LMDB_P_BRANCH;
	unsigned type = hdr.flags & (CJI_LMDB_P_BRANCH | CJI_LMDB_P_LEAF | CJI_LMDB_P_OVERFLOW |
	                             CJI_LMDB_P_META);
	if (hdr.pgno != pgno || type != want)
		return damage(w, pgno, "page %llu should be a %s of '%s' at depth %u (it says page %llu, "
		              "flags 0x%x)", (unsigned long long)pgno, kind, t->name, level,
		              (unsigned long long)hdr.pgno, hdr.flags);
	long nkeys = cji_lmdb_page_nkeys(&hdr, w->psize);
	if (nkeys <= 0)
		return damage(w, pgno, "page %llu (%s of '%s'): %s (lower %u, upper %u)",
		              (unsigned long long)pgno, kind, t->name, nkeys ? "impossible bounds" :
		              "no entries", hdr.lower, hdr.upper);
	if (leaf)
		t->leaf++;
	else
		t->branch++;
	key_ref prev = { NULL, 0 };
	for (unsigned i = 0; i < (unsigned)nkeys; i++) {
		cji_lmdb_node n;
		const char *why = "";
		if (cji_lmdb_node_get(&n, page, w->psize, &hdr, i, !leaf, &why))
			return damage(w, pgno, "page %llu (%s of '%s'), node %u: %s",
			              (unsigned long long)pgno, kind, t->name, i, why);
		/* A branch's first key is never compared (LMDB leaves it empty). */
		int keyed = leaf || i > 0;
		if (keyed && t->kind == KIND_FREE && n.ksize != 8)
			return damage(w, pgno, "page %llu (%s of the free list), node %u: a %u-byte key",
			              (unsigned long long)pgno, kind, i, n.ksize);
		if (keyed && ((prev.p && key_cmp(t, prev.p, prev.n, n.key, n.ksize) >= 0) ||
		              (lo.p && key_cmp(t, n.key, n.ksize, lo.p, lo.n) < 0) ||
		              (hi.p && key_cmp(t, n.key, n.ksize, hi.p, hi.n) >= 0)))
			return damage(w, pgno, "page %llu (%s of '%s'), node %u: key out of order",
			              (unsigned long long)pgno, kind, t->name, i);
		if (keyed)
			prev = (key_ref){ n.key, n.ksize };
		if (leaf) {
			if (visit_leaf_node(w, t, &n, pgno, i))
				return -1;
			continue;
		}
		/* The child holds the keys from this node's key to the next one's. */
		key_ref clo = i > 0 ? (key_ref){ n.key, n.ksize } : lo, chi = hi;
		if (i + 1 < (unsigned)nkeys) {
			cji_lmdb_node next;
			if (cji_lmdb_node_get(&next, page, w->psize, &hdr, i + 1, 1, &why))
				return damage(w, pgno, "page %llu (branch of '%s'), node %u: %s",
				              (unsigned long long)pgno, t->name, i + 1, why);
			chi = (key_ref){ next.key, next.ksize };
		}
		/* The edges: the first and the last path down. */
		if (w->scope != CJI_PAGES_ALL && t->kind == KIND_NAMED && i > 0 &&
		    i + 1 < (unsigned)nkeys)
			continue;
		if (visit_page(w, t, n.child, level + 1, clo, chi))
			return -1;
		w->holder = pgno;
	}
	return 0;
}

static void key_sizes(tree *t)
{
	t->key_min = 0;
	t->key_max = CJI_LMDB_MAX_KEY;
	if (t->kind == KIND_FREE)
		t->key_min = t->key_max = 8;
	else if (!strcmp(t->name, CJI_DB_EVENTS))
		t->key_min = t->key_max = CJI_SEQ_KEY_LEN;
	else if (!strcmp(t->name, CJI_DB_BLOBS))
		t->key_min = t->key_max = CJI_BLOB_KEY_LEN;
	else if (!strcmp(t->name, CJI_DB_IDEM))
		t->key_min = 1, t->key_max = CJI_ID_MAX;
	else
		t->key_min = 1;
}

/* A whole tree from its record, then the record's counts against it. */
static int visit_tree(walk *w, tree *t)
{
	const cji_lmdb_db *d = &t->db;
	key_sizes(t);
	if (t->kind == KIND_NAMED && (d->flags & ODD_DB_FLAGS))
		return damage(w, 0, "database '%s': flags 0x%x (chatjournal's databases have none)",
		              t->name, d->flags);
	if (d->root == CJI_LMDB_NO_PAGE) {
		if (d->depth || d->entries || d->branch_pages || d->leaf_pages || d->overflow_pages)
			return damage(w, 0, "database '%s' has no root page but counts %llu entries",
			              t->name, (unsigned long long)d->entries);
		return 0;
	}
	if (d->depth < 1 || d->depth > CJI_LMDB_MAX_DEPTH)
		return damage(w, d->root, "database '%s': impossible depth %u", t->name, d->depth);
	key_ref none = { NULL, 0 };
	w->holder = 0;
	if (visit_page(w, t, d->root, 1, none, none))
		return -1;
	if (w->scope != CJI_PAGES_ALL && t->kind == KIND_NAMED)
		return 0; /* only some pages seen: nothing to count */
	if (t->branch != d->branch_pages || t->leaf != d->leaf_pages ||
	    t->overflow != d->overflow_pages || t->entries != d->entries)
		return damage(w, 0, "database '%s': its record counts %llu/%llu/%llu branch/leaf/"
		              "overflow pages and %llu entries; the pages hold %llu/%llu/%llu and %llu",
		              t->name, (unsigned long long)d->branch_pages,
		              (unsigned long long)d->leaf_pages, (unsigned long long)d->overflow_pages,
		              (unsigned long long)d->entries, (unsigned long long)t->branch,
		              (unsigned long long)t->leaf, (unsigned long long)t->overflow,
		              (unsigned long long)t->entries);
	return 0;
}

static int walk_all(walk *w, const cji_lmdb_meta *m)
{
	tree *t = calloc(1, sizeof *t);
	if (!t)
		return damage(w, 0, "out of memory");
	int rc = 0;
	t->kind = KIND_FREE;
	snprintf(t->name, sizeof t->name, "free list");
	t->db = m->dbs[CJI_LMDB_FREE_DBI];
	if (w->scope != CJI_PAGES_EDGES && (rc = visit_tree(w, t)))
		goto out;
	memset(t, 0, sizeof *t);
	t->kind = KIND_MAIN;
	snprintf(t->name, sizeof t->name, "main database");
	t->db = m->dbs[CJI_LMDB_MAIN_DBI];
	if ((rc = visit_tree(w, t)))
		goto out;
	tree *sub = calloc(1, sizeof *sub);
	if (!sub) {
		rc = damage(w, 0, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < t->nnamed && !rc; i++) {
		memset(sub, 0, sizeof *sub);
		sub->kind = KIND_NAMED;
		snprintf(sub->name, sizeof sub->name, "%s", t->names[i]);
		sub->db = t->named[i];
		rc = visit_tree(w, sub);
	}
	free(sub);
	if (rc || w->scope != CJI_PAGES_ALL)
		goto out;
	/* Every page is in a database or in the free list: a page in neither
	 * means a lost subtree or a damaged free list. */
	for (uint64_t p = CJI_LMDB_NUM_METAS; w->used < w->npages && p < w->npages; p++)
		if (!(w->seen[p / 8] & (1u << (p % 8)))) {
			rc = damage(w, p, "page %llu is neither in a database nor in the free list (%llu "
			            "such pages)", (unsigned long long)p,
			            (unsigned long long)(w->npages - w->used));
			break;
		}
out:
	free(t);
	return rc;
}

static int db_same(const cji_lmdb_db *a, const cji_lmdb_db *b)
{
	return a->flags == b->flags && a->depth == b->depth && a->root == b->root &&
	       a->branch_pages == b->branch_pages && a->leaf_pages == b->leaf_pages &&
	       a->overflow_pages == b->overflow_pages && a->entries == b->entries;
}

/* Both meta pages read twice with the same result: a commit of another
 * process may be writing one of them. */
static int stable_meta(cji_metapage *mp, int fd, const char *path)
{
	for (int i = 0; i < META_TRIES; i++) {
		cji_metapage a, b;
		int rc = cji_metapage_read(&a, fd, path);
		if (rc)
			return rc;
		if ((rc = cji_metapage_read(&b, fd, path)))
			return rc;
		const cji_lmdb_meta *x = &a.meta, *y = &b.meta;
		if (x->txnid == y->txnid && x->last_pg == y->last_pg && x->psize == y->psize &&
		    db_same(&x->dbs[0], &y->dbs[0]) && db_same(&x->dbs[1], &y->dbs[1])) {
			*mp = a;
			return 0;
		}
	}
	return cji_err(CJ_EBUSY, "%s: the meta pages kept changing", path);
}

int cji_pages_walk(uint64_t *pages, uint64_t *bad_page, const char *path, uint64_t txnid,
                   int scope)
{
	*pages = 0;
	*bad_page = 0;
	walk w;
	memset(&w, 0, sizeof w);
	w.scope = scope;
	w.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (w.fd < 0)
		return cji_err_errno(errno, "%s: cannot open", path);
	cji_metapage mp;
	memset(&mp, 0, sizeof mp);
	int rc = stable_meta(&mp, w.fd, path);
	if (rc == 0 && mp.meta.txnid < txnid)
		rc = cji_err(CJ_ECORRUPT, "%s: the meta pages (transaction %llu) are older than "
		             "LMDB's last transaction (%llu)", path, (unsigned long long)mp.meta.txnid,
		             (unsigned long long)txnid);
	if (rc) {
		close(w.fd);
		return rc;
	}
	w.psize = mp.meta.psize;
	w.npages = mp.meta.last_pg + 1;
	w.seen = calloc((size_t)(w.npages / 8 + 1), 1);
	w.levels = malloc((size_t)CJI_LMDB_MAX_DEPTH * w.psize);
	w.chunk = malloc(IDL_CHUNK);
	if (!w.seen || !w.levels || !w.chunk) {
		rc = cji_err(CJ_ENOMEM, "%s: out of memory for %llu pages", path,
		             (unsigned long long)w.npages);
	} else {
		/* The meta pages are pages 0 and 1. */
		w.seen[0] |= 3;
		w.used = CJI_LMDB_NUM_METAS;
		if (walk_all(&w, &mp.meta)) {
			*bad_page = w.bad_page;
			if (w.io_errno)
				rc = cji_err_errno(w.io_errno, "journal file %s: %s", path, w.why);
			else
				rc = cji_err(CJ_ECORRUPT, "journal file %s: damaged: %s", path, w.why);
		}
		*pages = w.used;
	}
	free(w.seen);
	free(w.levels);
	free(w.chunk);
	close(w.fd);
	return rc;
}
