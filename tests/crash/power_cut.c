/* tests/crash/power_cut.c — rebuild a folder's files as a power loss would
 * leave them, from a copy and the shim's log (see power_cut.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "power_cut.h"
#include "power_log.h"
#include "testutil.h"

static int fail(char *why, size_t whyn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whyn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whyn, fmt, ap);
	va_end(ap);
	return -1;
}

/* out = a "/" b (just a when b is empty), in a PATH_MAX buffer. Paths here
 * are a test's temporary folders: one too long is a broken test. */
static void join(char *out, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la + 1 + lb + 1 > PATH_MAX)
		abort();
	memcpy(out, a, la);
	if (lb) {
		out[la] = '/';
		memcpy(out + la + 1, b, lb + 1);
	} else {
		out[la] = '\0';
	}
}

/* ---- whole files ---- */

typedef struct buf {
	unsigned char *p;
	size_t size, cap;
} buf;

static void buf_reserve(buf *b, size_t n)
{
	if (n <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < n)
		cap *= 2;
	b->p = realloc(b->p, cap);
	if (!b->p)
		abort();
	b->cap = cap;
}

/* The file's size becomes n (new bytes are zeros). */
static void buf_resize(buf *b, size_t n)
{
	buf_reserve(b, n);
	if (n > b->size)
		memset(b->p + b->size, 0, n - b->size);
	b->size = n;
}

static void buf_write(buf *b, uint64_t off, const unsigned char *data, size_t n)
{
	if (off + n > b->size)
		buf_resize(b, (size_t)(off + n));
	memcpy(b->p + off, data, n);
}

static int read_file(const char *path, buf *b)
{
	b->size = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		buf_reserve(b, b->size + 65536);
		ssize_t n = read(fd, b->p + b->size, b->cap - b->size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		b->size += (size_t)n;
	}
	close(fd);
	return 0;
}

static int write_file(const char *path, const buf *b)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	size_t done = 0;
	while (done < b->size) {
		ssize_t n = write(fd, b->p + done, b->size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	return close(fd);
}

/* ---- walking a folder ---- */

typedef void (*file_fn)(void *ctx, const char *rel, int is_dir);

/* Call fn with the path (relative to root) of every folder and regular file
 * under root/rel, depth first, a folder before what it holds. */
static int walk(const char *root, const char *rel, file_fn fn, void *ctx)
{
	char path[PATH_MAX];
	join(path, root, rel);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char sub[PATH_MAX], full[PATH_MAX];
		if (rel[0])
			join(sub, rel, e->d_name);
		else
			join(sub, e->d_name, "");
		join(full, root, sub);
		struct stat st;
		if (lstat(full, &st) != 0)
			rc = -1;
		else if (S_ISDIR(st.st_mode)) {
			fn(ctx, sub, 1);
			rc = walk(root, sub, fn, ctx);
		} else if (S_ISREG(st.st_mode)) {
			fn(ctx, sub, 0);
		}
	}
	closedir(d);
	return rc;
}

static int mkdirs_for(const char *path)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s", path);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return 0;
}

typedef struct copy_ctx {
	const char *from, *to;
	buf b;
	int failed;
	char what[PATH_MAX];
} copy_ctx;

static void copy_one(void *ctx, const char *rel, int is_dir)
{
	copy_ctx *c = ctx;
	char src[PATH_MAX], dst[PATH_MAX];
	join(src, c->from, rel);
	join(dst, c->to, rel);
	if (c->failed)
		return;
	if (is_dir) {
		if (mkdir(dst, 0700) != 0 && errno != EEXIST) {
			c->failed = errno;
			snprintf(c->what, sizeof c->what, "%s", rel);
		}
		return;
	}
	if (read_file(src, &c->b) != 0 || mkdirs_for(dst) != 0 || write_file(dst, &c->b) != 0) {
		c->failed = errno ? errno : EIO;
		snprintf(c->what, sizeof c->what, "%s", rel);
	}
}

int pw_copy(const char *dir, const char *snap, char *why, size_t whyn)
{
	tu_rmrf(snap);
	if (mkdir(snap, 0700) != 0)
		return fail(why, whyn, "copy: mkdir %s: %s", snap, strerror(errno));
	copy_ctx c = {dir, snap, {NULL, 0, 0}, 0, ""};
	errno = 0;
	int rc = walk(dir, "", copy_one, &c);
	free(c.b.p);
	if (rc != 0)
		return fail(why, whyn, "copy: cannot walk %s", dir);
	if (c.failed)
		return fail(why, whyn, "copy: cannot copy %s: %s", c.what, strerror(c.failed));
	return 0;
}

/* ---- the log ---- */

typedef struct prec {
	pw_head h;                  /* copied out: records are not aligned in the log */
	const char *path;           /* path_len bytes, not NUL-terminated */
	const unsigned char *data;  /* h.len bytes */
	int file;                   /* index in the file table, -1 for PW_DONE */
} prec;

/* One path the log or the folders name: a file, or a folder that was synced. */
typedef struct pfile {
	char rel[PATH_MAX];     /* relative to the watched folder; "" for itself */
	int in_snap, now;       /* a regular file in the copy; in the folder after the kill */
	int created;            /* an open announced its creation (PW_CREATE) ... */
	int64_t created_at;     /* ... confirmed at this record; -1 unconfirmed */
	int64_t cut;            /* the last confirmed strong sync began at this record; -1 none */
	int written;            /* some PW_WRITE/PW_TRUNC/PW_EXTEND names it */
	uint64_t syncs;         /* confirmed strong syncs of it */
} pfile;

typedef struct model {
	const char *dir;
	size_t dir_len;
	prec *r;
	size_t n;
	int64_t *done_at;       /* by record id: index of its PW_DONE, -1 if none */
	int64_t *done_res;
	int64_t global_cut;
	pfile *f;
	size_t nf, capf;
} model;

static int file_index(model *m, const char *rel, size_t len)
{
	for (size_t i = 0; i < m->nf; i++)
		if (strlen(m->f[i].rel) == len && memcmp(m->f[i].rel, rel, len) == 0)
			return (int)i;
	if (m->nf == m->capf) {
		m->capf = m->capf ? m->capf * 2 : 16;
		m->f = realloc(m->f, m->capf * sizeof *m->f);
		if (!m->f)
			abort();
	}
	pfile *f = &m->f[m->nf];
	memset(f, 0, sizeof *f);
	if (len >= sizeof f->rel)
		len = sizeof f->rel - 1;
	memcpy(f->rel, rel, len);
	f->rel[len] = '\0';
	f->cut = -1;
	return (int)m->nf++;
}

/* The relative path of an absolute one under the watched folder, or NULL. */
static const char *rel_of(const model *m, const char *path, size_t len, size_t *rlen)
{
	if (len < m->dir_len || memcmp(path, m->dir, m->dir_len) != 0)
		return NULL;
	if (len == m->dir_len) {
		*rlen = 0;
		return path + len;
	}
	if (path[m->dir_len] != '/')
		return NULL;
	*rlen = len - m->dir_len - 1;
	return path + m->dir_len + 1;
}

static int parse(model *m, const buf *log, pw_stats *st, char *why, size_t whyn)
{
	size_t pos = 0, cap = 0;
	while (pos < log->size) {
		pw_head h;
		if (log->size - pos < sizeof h) {
			st->cut_record = 1;
			break;
		}
		memcpy(&h, log->p + pos, sizeof h);
		if (h.magic != PW_MAGIC)
			return fail(why, whyn, "log: bad record at byte %zu", pos);
		if (log->size - pos - sizeof h < (uint64_t)h.path_len + h.len) {
			st->cut_record = 1;
			break;
		}
		if (h.id != m->n + 1)
			return fail(why, whyn, "log: record %zu has id %llu", m->n,
			            (unsigned long long)h.id);
		if (m->n == cap) {
			cap = cap ? cap * 2 : 4096;
			m->r = realloc(m->r, cap * sizeof *m->r);
			if (!m->r)
				abort();
		}
		prec *r = &m->r[m->n++];
		r->h = h;
		r->path = (const char *)log->p + pos + sizeof h;
		r->data = log->p + pos + sizeof h + h.path_len;
		r->file = -1;
		pos += sizeof h + h.path_len + h.len;
	}
	st->records = m->n;
	m->done_at = malloc((m->n + 2) * sizeof *m->done_at);
	m->done_res = malloc((m->n + 2) * sizeof *m->done_res);
	if (!m->done_at || !m->done_res)
		abort();
	for (size_t i = 0; i < m->n + 2; i++)
		m->done_at[i] = -1;
	for (size_t i = 0; i < m->n; i++) {
		prec *r = &m->r[i];
		if (r->h.op == PW_DONE) {
			if (r->h.ref == 0 || r->h.ref > m->n)
				return fail(why, whyn, "log: PW_DONE of unknown record %llu",
				            (unsigned long long)r->h.ref);
			m->done_at[r->h.ref] = (int64_t)i;
			m->done_res[r->h.ref] = r->h.res;
			continue;
		}
		size_t rlen = 0;
		const char *rel = rel_of(m, r->path, r->h.path_len, &rlen);
		if (!rel)
			return fail(why, whyn, "log: record %zu names %.*s, outside %s", i,
			            (int)r->h.path_len, r->path, m->dir);
		if (r->h.op == PW_UNSUPPORTED)
			return fail(why, whyn, "the child made a call the power-loss model does not "
			            "cover: %.*s on %.*s", (int)r->h.len, (const char *)r->data,
			            (int)r->h.path_len, r->path);
		if (r->h.op < PW_WRITE || r->h.op > PW_CREATE)
			return fail(why, whyn, "log: unknown op %u", r->h.op);
		r->file = file_index(m, rel, rlen);
	}
	/* Syncs and creations, now that every confirmation is known. */
	m->global_cut = -1;
	for (size_t i = 0; i < m->n; i++) {
		prec *r = &m->r[i];
		if (r->h.op == PW_CREATE) {
			/* A failed creation created nothing; an unconfirmed one may have. */
			int64_t d = m->done_at[r->h.id];
			if (d >= 0 && m->done_res[r->h.id] != 0)
				continue;
			if (!m->f[r->file].created) {
				m->f[r->file].created = 1;
				m->f[r->file].created_at = d;
			}
		} else if (r->h.op == PW_WRITE || r->h.op == PW_TRUNC || r->h.op == PW_EXTEND) {
			m->f[r->file].written = 1;
		} else if (r->h.op == PW_SYNC && !(r->h.flags & PW_F_WEAK) &&
		           m->done_at[r->h.id] >= 0 && m->done_res[r->h.id] == 0) {
			st->syncs++;
			if (r->h.flags & PW_F_ALL) {
				m->global_cut = (int64_t)i;
			} else {
				m->f[r->file].cut = (int64_t)i;
				m->f[r->file].syncs++;
			}
		}
	}
	return 0;
}

/* ---- durability ---- */

/* Bytes a write or size change did (or may have done): its confirmed result,
 * or, unconfirmed (the kill came first), all of it. -1: it failed. */
static int64_t effect(const model *m, const prec *r)
{
	int64_t res = m->done_at[r->h.id] >= 0 ? m->done_res[r->h.id] : (int64_t)r->h.len;
	if (r->h.op != PW_WRITE)
		return res < 0 ? -1 : 0;
	if (res < 0)
		return -1;
	return res < (int64_t)r->h.len ? res : (int64_t)r->h.len;
}

static int is_durable(const model *m, const prec *r)
{
	int64_t d = m->done_at[r->h.id];
	if (d < 0)
		return 0;
	if (r->h.op == PW_WRITE && (r->h.flags & PW_F_DSYNC))
		return 1;
	const pfile *f = &m->f[r->file];
	return d < f->cut || d < m->global_cut;
}

static uint64_t coin(uint64_t *rng, uint64_t n)
{
	return tu_rand(rng) % n;
}

/* Whether a file created in this cycle still has its name: its folder was
 * synced after the creation. */
static int name_durable(model *m, const pfile *f)
{
	const char *slash = strrchr(f->rel, '/');
	size_t dlen = slash ? (size_t)(slash - f->rel) : 0;
	int64_t cut = m->global_cut;
	for (size_t i = 0; i < m->nf; i++)
		if (strlen(m->f[i].rel) == dlen && memcmp(m->f[i].rel, f->rel, dlen) == 0 &&
		    m->f[i].cut > cut)
			cut = m->f[i].cut;
	return f->created_at >= 0 && cut > f->created_at;
}

/* Apply to img the records of file fi: the durable ones whole; in the torn
 * variant, page pieces of the others as power_cut.h says. */
static void rebuild(model *m, int fi, buf *img, int torn, uint64_t *rng, pw_stats *st,
                    pw_file_stat *fs)
{
	/* Torn: how many unsynced writes touch each page, and how many of them
	 * the page got (its last write-back came after that many). */
	uint32_t *count = NULL, *keep = NULL, *seen = NULL;
	size_t npages = 0;
	if (torn) {
		for (size_t i = 0; i < m->n; i++) {
			const prec *r = &m->r[i];
			int64_t e;
			if (r->file != fi || r->h.op != PW_WRITE || is_durable(m, r) ||
			    (e = effect(m, r)) <= 0)
				continue;
			size_t last = (size_t)((r->h.off + (uint64_t)e - 1) / PW_PAGE);
			if (last + 1 > npages)
				npages = last + 1;
		}
		count = calloc(npages + 1, sizeof *count);
		keep = calloc(npages + 1, sizeof *keep);
		seen = calloc(npages + 1, sizeof *seen);
		if (!count || !keep || !seen)
			abort();
		for (size_t i = 0; i < m->n; i++) {
			const prec *r = &m->r[i];
			int64_t e;
			if (r->file != fi || r->h.op != PW_WRITE || is_durable(m, r) ||
			    (e = effect(m, r)) <= 0)
				continue;
			for (uint64_t p = r->h.off / PW_PAGE; p * PW_PAGE < r->h.off + (uint64_t)e; p++)
				count[p]++;
		}
		for (size_t p = 0; p < npages; p++)
			if (count[p]) {
				keep[p] = (uint32_t)coin(rng, (uint64_t)count[p] + 1);
				st->torn_pages++;
			}
	}
	for (size_t i = 0; i < m->n; i++) {
		const prec *r = &m->r[i];
		if (r->file != fi || r->h.op == PW_SYNC || r->h.op == PW_CREATE)
			continue;
		int64_t e = effect(m, r);
		if (e < 0 || (r->h.op == PW_WRITE && e == 0))
			continue;
		int durable = is_durable(m, r);
		if (r->h.op == PW_WRITE) {
			st->writes++;
			st->durable_writes += durable;
			st->unsynced_writes += !durable;
			st->dsync_writes += (r->h.flags & PW_F_DSYNC) != 0;
			if (fs) {
				fs->writes++;
				fs->write_bytes += (uint64_t)e;
				fs->durable_writes += durable;
			}
		}
		if (!durable && !torn)
			continue;
		if (r->h.op == PW_TRUNC || r->h.op == PW_EXTEND) {
			if (!durable && coin(rng, 2))
				continue;
			if (r->h.op == PW_TRUNC || r->h.off > img->size)
				buf_resize(img, (size_t)r->h.off);
			continue;
		}
		if (durable) {
			buf_write(img, r->h.off, r->data, (size_t)e);
			continue;
		}
		uint64_t end = r->h.off + (uint64_t)e;
		for (uint64_t p = r->h.off / PW_PAGE; p * PW_PAGE < end; p++) {
			uint64_t a = p * PW_PAGE > r->h.off ? p * PW_PAGE : r->h.off;
			uint64_t b = (p + 1) * PW_PAGE < end ? (p + 1) * PW_PAGE : end;
			if (seen[p]++ < keep[p]) {
				buf_write(img, a, r->data + (a - r->h.off), (size_t)(b - a));
				st->torn_pieces++;
			}
		}
	}
	free(count);
	free(keep);
	free(seen);
}

/* ---- the cut ---- */

typedef struct mark_ctx {
	model *m;
	int snap;
} mark_ctx;

static void mark(void *ctx, const char *rel, int is_dir)
{
	mark_ctx *c = ctx;
	if (is_dir)
		return;
	int i = file_index(c->m, rel, strlen(rel)); /* may move the table: index first */
	pfile *f = &c->m->f[i];
	if (c->snap)
		f->in_snap = 1;
	else
		f->now = 1;
}

static void model_free(model *m)
{
	free(m->r);
	free(m->done_at);
	free(m->done_res);
	free(m->f);
}

int pw_cut(const char *dir, const char *snap, const char *log, int torn, uint64_t *rng,
           pw_stats *st, char *why, size_t whyn)
{
	memset(st, 0, sizeof *st);
	buf lb = {NULL, 0, 0};
	if (read_file(log, &lb) != 0)
		return fail(why, whyn, "cannot read the log %s: %s", log, strerror(errno));
	st->log_bytes = lb.size;
	model m;
	memset(&m, 0, sizeof m);
	m.dir = dir;
	m.dir_len = strlen(dir);
	int rc = parse(&m, &lb, st, why, whyn);
	mark_ctx mc = {&m, 1};
	if (!rc && walk(snap, "", mark, &mc) != 0)
		rc = fail(why, whyn, "cannot walk the copy %s", snap);
	mc.snap = 0;
	if (!rc && walk(dir, "", mark, &mc) != 0)
		rc = fail(why, whyn, "cannot walk %s", dir);
	/* Every file must be accounted for: in the copy, or created through an
	 * open the shim saw; and none may vanish (unlink is refused above). */
	for (size_t i = 0; !rc && i < m.nf; i++) {
		const pfile *f = &m.f[i];
		if (!f->in_snap && !f->now && !f->written)
			continue; /* a folder that was synced, or a creation that did not happen */
		if (f->in_snap && !f->now)
			rc = fail(why, whyn, "%s vanished during the cycle without an unlink the shim saw",
			          f->rel);
		else if (!f->in_snap && !f->created)
			rc = fail(why, whyn, "%s appeared or was written without an open the shim saw",
			          f->rel);
	}
	buf img = {NULL, 0, 0};
	for (size_t i = 0; !rc && i < m.nf; i++) {
		pfile *f = &m.f[i];
		if (!f->in_snap && !f->created)
			continue;
		if (!f->in_snap && !f->now)
			continue; /* the kill came between the announcement and the creation */
		pw_file_stat *fs = NULL;
		if (st->nfiles < PW_MAX_FILES) {
			fs = &st->file[st->nfiles++];
			/* Cut to fit: the stats only name files for messages. */
			size_t l = strnlen(f->rel, sizeof fs->rel - 1);
			memcpy(fs->rel, f->rel, l);
			fs->rel[l] = '\0';
			fs->syncs = f->syncs;
			fs->created = f->created;
		}
		char path[PATH_MAX], from[PATH_MAX];
		join(path, dir, f->rel);
		if (f->created && !f->in_snap) {
			st->created++;
			if (!name_durable(&m, f) && (!torn || coin(rng, 2))) {
				if (unlink(path) != 0 && errno != ENOENT)
					rc = fail(why, whyn, "unlink %s: %s", path, strerror(errno));
				st->dropped++;
				if (fs)
					fs->dropped = 1;
				continue;
			}
			img.size = 0;
		} else {
			join(from, snap, f->rel);
			if (read_file(from, &img) != 0) {
				rc = fail(why, whyn, "cannot read %s: %s", from, strerror(errno));
				break;
			}
		}
		rebuild(&m, (int)i, &img, torn, rng, st, fs);
		if (write_file(path, &img) != 0)
			rc = fail(why, whyn, "cannot write %s: %s", path, strerror(errno));
		st->files++;
	}
	free(img.p);
	model_free(&m);
	free(lb.p);
	return rc;
}

const pw_file_stat *pw_file(const pw_stats *st, const char *rel)
{
	for (unsigned i = 0; i < st->nfiles; i++)
		if (strcmp(st->file[i].rel, rel) == 0)
			return &st->file[i];
	return NULL;
}
