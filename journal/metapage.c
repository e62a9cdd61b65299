/* journal/metapage.c — the size check at open (docs/reliability.md, L9 and
 * L15): LMDB maps data.mdb and trusts its meta pages, so a file cut short
 * (a partial copy, a full disk during a copy, a damaged file system) turns
 * into a SIGBUS in whatever reads a page past the end. Reading the meta
 * pages ourselves first turns it into an error that says so. The layout is
 * LMDB 0.9.24's (lmdb_layout.h); LMDB itself keeps every page up to the
 * newer meta's last_pg in the file, because it writes each page it
 * allocates before the meta page that counts it (L2), except a page freed in
 * the transaction that allocated it (LMDB does not write such "loose"
 * pages): only compaction deletes, and its writer extends the file right
 * after each such commit (cji_env_fill_tail).
 *
 * Another process may commit while we look: the file grows, a newer meta
 * page counts the new pages. So the size is taken after the meta pages (a
 * file only grows while it is the same file), and a file found short is
 * looked at again three times over ~30 ms (the fill after a deleting commit)
 * before it is called truncated. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "journal/metapage.h"
#include "common/err.h"

static int truncated(const char *path, uint64_t size, uint64_t need, const char *what)
{
	return cji_err(CJ_ECORRUPT, "%s: journal file truncated: %llu bytes, needs %s%llu", path,
	               (unsigned long long)size, what, (unsigned long long)need);
}

/* The page size LMDB gives a new environment: two of them hold the metas. */
static uint64_t os_page(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? (uint64_t)p : 4096;
}

/* What LMDB itself checks of each meta page: the page flag, the magic and
 * the data version. */
static int read_meta(cji_lmdb_meta *m, int fd, uint64_t off, int i, const char *path)
{
	uint8_t buf[CJI_LMDB_META_END];
	memset(m, 0, sizeof *m);
	ssize_t n = pread(fd, buf, sizeof buf, (off_t)off);
	if (n < 0)
		return cji_err_errno(errno, "%s: cannot read meta page %d", path, i);
	if ((size_t)n < sizeof buf)
		return cji_err(CJ_ECORRUPT, "%s: meta page %d: short read", path, i);
	cji_lmdb_meta_decode(m, buf);
	if (!(m->page_flags & CJI_LMDB_P_META) || m->magic != CJI_LMDB_MAGIC)
		return cji_err(CJ_ECORRUPT, "%s: not an LMDB data file, or its meta page %d is damaged "
		               "(no meta page mark or magic)", path, i);
	if (m->version != CJI_LMDB_DATA_VERSION)
		return cji_err(CJ_ECORRUPT, "%s: meta page %d: LMDB data format %u, expected %u (a "
		               "damaged meta page)", path, i, m->version, CJI_LMDB_DATA_VERSION);
	return 0;
}

static int psize_ok(uint32_t ps)
{
	return ps >= CJI_LMDB_PSIZE_MIN && ps <= CJI_LMDB_PSIZE_MAX && (ps & (ps - 1)) == 0;
}

/* One look; *short_out is set when the only fault is a file shorter than
 * the newer meta page counts. */
static int read_once(cji_metapage *out, int *short_out, int fd, const char *path)
{
	memset(out, 0, sizeof *out);
	*short_out = 0;
	struct stat st;
	if (fstat(fd, &st) != 0)
		return cji_err_errno(errno, "%s: cannot stat", path);
	out->file_size = (uint64_t)st.st_size;
	if (out->file_size < CJI_LMDB_META_END)
		return truncated(path, out->file_size, 2 * os_page(), "at least ");
	cji_lmdb_meta m0, m1;
	int rc = read_meta(&m0, fd, 0, 0, path);
	if (rc)
		return rc;
	/* Meta page 1 is where meta page 0's page size says: LMDB looks there. */
	if (!psize_ok(m0.psize))
		return cji_err(CJ_ECORRUPT, "%s: meta page 0: impossible page size %u", path, m0.psize);
	if (out->file_size < (uint64_t)m0.psize + CJI_LMDB_META_END)
		return truncated(path, out->file_size, 2 * (uint64_t)m0.psize, "at least ");
	if ((rc = read_meta(&m1, fd, m0.psize, 1, path)))
		return rc;
	/* LMDB uses the newer one (a tie is meta page 0) and nothing of the
	 * other but its mark, magic and version: the next commit rewrites it. */
	int i = m1.txnid > m0.txnid;
	out->meta = i ? m1 : m0;
	const cji_lmdb_meta *m = &out->meta;
	if (m->psize != m0.psize)
		return cji_err(CJ_ECORRUPT, "%s: meta page %d: page size %u, the file's is %u", path, i,
		               m->psize, m0.psize);
	if (m->last_pg < CJI_LMDB_NUM_METAS - 1 || m->last_pg >= UINT64_MAX / m->psize)
		return cji_err(CJ_ECORRUPT, "%s: meta page %d: impossible last page %llu", path, i,
		               (unsigned long long)m->last_pg);
	out->need = (m->last_pg + 1) * m->psize;
	/* The size again, now that the metas are read: pages a commit added
	 * since the first look are in the file before its meta page counts
	 * them. */
	if (out->file_size < out->need && fstat(fd, &st) == 0)
		out->file_size = (uint64_t)st.st_size;
	if (out->file_size < out->need) {
		*short_out = 1;
		return truncated(path, out->file_size, out->need, "");
	}
	return 0;
}

int cji_metapage_read(cji_metapage *out, int fd, const char *path)
{
	int is_short = 0;
	for (int tries = 0;; tries++) {
		int rc = read_once(out, &is_short, fd, path);
		if (!rc || !is_short || tries == 3)
			return rc;
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
}

int cji_metapage_check(const char *dir)
{
	if (!cji_lmdb_layout_known())
		return 0;
	char path[4200];
	if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
		return cji_err(CJ_ETOOBIG, "path too long: %s", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return cji_err_errno(errno, "%s: cannot open", path);
	}
	cji_metapage mp;
	int rc = cji_metapage_read(&mp, fd, path);
	close(fd);
	return rc;
}
