/* tests/crash/power_shim.c — an LD_PRELOAD module that records what a
 * process writes to the files of one folder, and when it syncs them, so that
 * another process can rebuild those files as a power loss would leave them
 * (power_cut.c; the test is test_crash_power.c, docs/testing.md "crash/power").
 *
 * Interposed (for file descriptors and paths under $CJ_POWER_WATCH):
 *   write, pwrite(64), writev, pwritev(64): PW_WRITE before the call (with the
 *     offset, the data, and whether the descriptor is O_DSYNC/O_SYNC), PW_DONE
 *     after it;
 *   fsync, fdatasync (files and folders), sync_file_range, syncfs, sync:
 *     PW_SYNC before, PW_DONE after (sync_file_range is flagged PW_F_WEAK: it
 *     flushes no metadata and no device cache, so it makes nothing durable);
 *   ftruncate(64), fallocate(64), posix_fallocate(64): PW_TRUNC / PW_EXTEND;
 *   open(64), openat(64), creat(64): PW_CREATE for a file that did not exist
 *     before, PW_TRUNC for O_TRUNC (before the call, PW_DONE after);
 *   unlink(at), rename(at)(2), truncate(64) by path, msync: PW_UNSUPPORTED
 *     (the parent refuses to rebuild a log that holds one: writes through a
 *     shared mapping are invisible here, and names are not modelled).
 * A call's file is found through /proc/self/fd at each call, so no table of
 * descriptors can go stale (and close, dup and fds opened by libc itself need
 * no interposing). The log is written with the real writev on a descriptor
 * the shim owns, which lies outside the watched folder.
 *
 * The symbols resolve to the next definition (dlsym RTLD_NEXT): libc's, or
 * ASan's interceptor when the runtime is preloaded first. */
/* The build defines _FILE_OFFSET_BITS=64, which renames open to open64,
 * pwrite to pwrite64 and so on in the headers; this file defines both names
 * itself. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include "power_log.h"

#define EXPORT __attribute__((visibility("default")))

static char g_watch[PATH_MAX];
static size_t g_watch_len;
static int g_log = -1;          /* -1: the shim is off */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_last_id;      /* under g_mu */

/* ---- the next definitions ---- */

static void *next_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p) {
		static const char msg[] = "power_shim: a libc symbol is missing\n";
		(void)!write(2, msg, sizeof msg - 1);
		abort(); /* nothing sensible to do inside a write() */
	}
	return p;
}

/* Declare f, the next definition of name, resolved on first use. */
#define REAL(type, name) \
	static type real_; \
	type f = __atomic_load_n(&real_, __ATOMIC_ACQUIRE); \
	if (!f) { \
		void *p_ = next_sym(#name); \
		memcpy(&f, &p_, sizeof f); \
		__atomic_store_n(&real_, f, __ATOMIC_RELEASE); \
	}

typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef int (*open_fn)(const char *, int, ...);

static ssize_t log_writev(const struct iovec *iov, int cnt)
{
	REAL(writev_fn, writev);
	return f(g_log, iov, cnt);
}

__attribute__((constructor)) static void shim_init(void)
{
	const char *watch = getenv(PW_ENV_WATCH), *log = getenv(PW_ENV_LOG);
	if (!watch || !log || watch[0] != '/' || strlen(watch) >= sizeof g_watch)
		return;
	snprintf(g_watch, sizeof g_watch, "%s", watch);
	g_watch_len = strlen(g_watch);
	while (g_watch_len > 1 && g_watch[g_watch_len - 1] == '/')
		g_watch[--g_watch_len] = '\0';
	REAL(open_fn, open);
	g_log = f(log, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (g_log < 0) {
		/* Unlogged writes would make the parent's model wrong: stop here. */
		static const char msg[] = "power_shim: cannot open the log named by CJ_POWER_LOG\n";
		(void)!write(2, msg, sizeof msg - 1);
		abort();
	}
}

/* ---- which file ---- */

static int under_watch(const char *path, size_t n)
{
	return n >= g_watch_len && memcmp(path, g_watch, g_watch_len) == 0 &&
	       (n == g_watch_len || path[g_watch_len] == '/');
}

/* The path of fd into out (NUL-terminated) if it lies under the watched
 * folder: its length; else 0. */
static size_t fd_path(int fd, char *out)
{
	if (g_log < 0 || fd < 0)
		return 0;
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, out, PATH_MAX - 1);
	if (n <= 0)
		return 0;
	out[n] = '\0';
	return under_watch(out, (size_t)n) ? (size_t)n : 0;
}

/* path (relative to dirfd) as /proc/self/fd would show it once open: its
 * folder without links or "..", then its last component (which need not
 * exist yet). Its length if under the watched folder, else 0. */
static size_t at_path(int dirfd, const char *path, char *out)
{
	if (g_log < 0 || !path || !path[0])
		return 0;
	char full[PATH_MAX], dir[PATH_MAX];
	size_t n;
	if (path[0] == '/') {
		n = (size_t)snprintf(full, sizeof full, "%s", path);
	} else {
		char base[PATH_MAX];
		if (dirfd == AT_FDCWD) {
			if (!getcwd(base, sizeof base))
				return 0;
		} else {
			char link[64];
			snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
			ssize_t k = readlink(link, base, sizeof base - 1);
			if (k <= 0)
				return 0;
			base[k] = '\0';
		}
		n = (size_t)snprintf(full, sizeof full, "%s/%s", base, path);
	}
	if (n >= sizeof full)
		return 0;
	char *slash = strrchr(full, '/');
	*slash = '\0';
	if (!realpath(full[0] ? full : "/", dir))
		return 0;
	n = (size_t)snprintf(out, PATH_MAX, "%s/%s", strcmp(dir, "/") ? dir : "", slash + 1);
	if (n >= PATH_MAX)
		return 0;
	return under_watch(out, n) ? n : 0;
}

/* ---- records ---- */

/* Append one record (head, path, then the data iovecs) under the mutex;
 * returns its id. A failure to log ends the process: a log with a hole would
 * make the parent's model claim what did not happen. */
static uint64_t put(uint16_t op, uint16_t flags, const char *path, size_t plen, uint64_t ref,
                    int64_t res, uint64_t off, const struct iovec *data, int cnt)
{
	pw_head h;
	memset(&h, 0, sizeof h);
	h.magic = PW_MAGIC;
	h.op = op;
	h.flags = flags;
	h.path_len = (uint32_t)plen;
	h.ref = ref;
	h.res = res;
	h.off = off;
	for (int i = 0; i < cnt; i++)
		h.len += data[i].iov_len;
	int saved = errno;
	pthread_mutex_lock(&g_mu);
	h.id = ++g_last_id;
	/* Head and path, then the data in groups that fit one writev. */
	struct iovec v[64];
	int k = 0;
	v[k++] = (struct iovec){&h, sizeof h};
	if (plen)
		v[k++] = (struct iovec){(void *)path, plen};
	int i = 0;
	for (;;) {
		while (k < 64 && i < cnt)
			v[k++] = data[i++];
		size_t want = 0;
		for (int j = 0; j < k; j++)
			want += v[j].iov_len;
		struct iovec *p = v;
		int pk = k;
		while (want > 0) {
			ssize_t w = log_writev(p, pk);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				abort();
			want -= (size_t)w;
			while (pk > 0 && (size_t)w >= p->iov_len) { /* drop what was written */
				w -= (ssize_t)p->iov_len;
				p++;
				pk--;
			}
			if (pk > 0) {
				p->iov_base = (char *)p->iov_base + w;
				p->iov_len -= (size_t)w;
			}
		}
		if (i >= cnt)
			break;
		k = 0;
	}
	uint64_t id = h.id;
	pthread_mutex_unlock(&g_mu);
	errno = saved;
	return id;
}

static void done(uint64_t ref, int64_t res)
{
	int saved = errno;
	put(PW_DONE, 0, NULL, 0, ref, res, 0, NULL, 0);
	errno = saved;
}

static uint16_t dsync_flag(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && (fl & O_DSYNC) ? PW_F_DSYNC : 0; /* O_SYNC includes O_DSYNC's bit */
}

/* Where a write() or writev() lands: the end with O_APPEND, else the offset. */
static uint64_t cur_off(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_APPEND)) {
		struct stat st;
		return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	}
	off_t o = lseek(fd, 0, SEEK_CUR);
	return o < 0 ? 0 : (uint64_t)o;
}

static void unsupported(const char *what, const char *path, size_t plen)
{
	struct iovec v = {(void *)what, strlen(what)};
	put(PW_UNSUPPORTED, 0, path, plen, 0, 0, 0, &v, 1);
}

/* ---- writes ---- */

static ssize_t logged_write(int fd, const struct iovec *iov, int cnt, int64_t off,
                            ssize_t (*call)(void *), void *arg)
{
	char path[PATH_MAX];
	size_t plen = fd_path(fd, path);
	if (!plen)
		return call(arg);
	uint64_t at = off >= 0 ? (uint64_t)off : cur_off(fd);
	uint64_t id = put(PW_WRITE, dsync_flag(fd), path, plen, 0, 0, at, iov, cnt);
	ssize_t r = call(arg);
	done(id, r);
	return r;
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);

typedef struct call_args {
	void *f;
	int fd;
	const void *buf;
	size_t n;
	const struct iovec *iov;
	int cnt;
	off_t off;
} call_args;

static ssize_t call_write(void *p)
{
	call_args *a = p;
	write_fn f;
	memcpy(&f, &a->f, sizeof f);
	return f(a->fd, a->buf, a->n);
}

static ssize_t call_pwrite(void *p)
{
	call_args *a = p;
	pwrite_fn f;
	memcpy(&f, &a->f, sizeof f);
	return f(a->fd, a->buf, a->n, a->off);
}

static ssize_t call_writev(void *p)
{
	call_args *a = p;
	writev_fn f;
	memcpy(&f, &a->f, sizeof f);
	return f(a->fd, a->iov, a->cnt);
}

static ssize_t call_pwritev(void *p)
{
	call_args *a = p;
	pwritev_fn f;
	memcpy(&f, &a->f, sizeof f);
	return f(a->fd, a->iov, a->cnt, a->off);
}

#define ARGS(fn) call_args a = {NULL, fd, NULL, 0, NULL, 0, 0}; memcpy(&a.f, &fn, sizeof fn)

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(write_fn, write);
	ARGS(f);
	a.buf = buf;
	a.n = n;
	struct iovec v = {(void *)buf, n};
	return logged_write(fd, &v, 1, -1, call_write, &a);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite_fn, pwrite);
	ARGS(f);
	a.buf = buf;
	a.n = n;
	a.off = off;
	struct iovec v = {(void *)buf, n};
	return logged_write(fd, &v, 1, off, call_pwrite, &a);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	REAL(pwrite_fn, pwrite64);
	ARGS(f);
	a.buf = buf;
	a.n = n;
	a.off = off;
	struct iovec v = {(void *)buf, n};
	return logged_write(fd, &v, 1, off, call_pwrite, &a);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	REAL(writev_fn, writev);
	ARGS(f);
	a.iov = iov;
	a.cnt = cnt;
	return logged_write(fd, iov, cnt < 0 ? 0 : cnt, -1, call_writev, &a);
}

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(pwritev_fn, pwritev);
	ARGS(f);
	a.iov = iov;
	a.cnt = cnt;
	a.off = off;
	return logged_write(fd, iov, cnt < 0 ? 0 : cnt, off, call_pwritev, &a);
}

EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	REAL(pwritev_fn, pwritev64);
	ARGS(f);
	a.iov = iov;
	a.cnt = cnt;
	a.off = off;
	return logged_write(fd, iov, cnt < 0 ? 0 : cnt, off, call_pwritev, &a);
}

/* ---- syncs ---- */

typedef int (*sync_fn)(int);

static int logged_sync(int fd, uint16_t flags, int (*f)(int))
{
	char path[PATH_MAX];
	size_t plen = fd_path(fd, path);
	if (!plen)
		return f(fd);
	uint64_t id = put(PW_SYNC, flags, path, plen, 0, 0, 0, NULL, 0);
	int r = f(fd);
	done(id, r);
	return r;
}

EXPORT int fsync(int fd)
{
	REAL(sync_fn, fsync);
	return logged_sync(fd, 0, f);
}

EXPORT int fdatasync(int fd)
{
	REAL(sync_fn, fdatasync);
	return logged_sync(fd, 0, f);
}

EXPORT int syncfs(int fd)
{
	REAL(sync_fn, syncfs);
	if (g_log < 0)
		return f(fd);
	uint64_t id = put(PW_SYNC, PW_F_ALL, g_watch, g_watch_len, 0, 0, 0, NULL, 0);
	int r = f(fd);
	done(id, r);
	return r;
}

typedef void (*sync_all_fn)(void);

EXPORT void sync(void)
{
	REAL(sync_all_fn, sync);
	if (g_log < 0) {
		f();
		return;
	}
	uint64_t id = put(PW_SYNC, PW_F_ALL, g_watch, g_watch_len, 0, 0, 0, NULL, 0);
	f();
	done(id, 0);
}

typedef int (*sfr_fn)(int, off64_t, off64_t, unsigned);

EXPORT int sync_file_range(int fd, off64_t off, off64_t n, unsigned flags)
{
	REAL(sfr_fn, sync_file_range);
	char path[PATH_MAX];
	size_t plen = fd_path(fd, path);
	if (!plen)
		return f(fd, off, n, flags);
	uint64_t id = put(PW_SYNC, PW_F_WEAK, path, plen, 0, 0, 0, NULL, 0);
	int r = f(fd, off, n, flags);
	done(id, r);
	return r;
}

typedef int (*msync_fn)(void *, size_t, int);

EXPORT int msync(void *addr, size_t len, int flags)
{
	REAL(msync_fn, msync);
	if (g_log >= 0)
		unsupported("msync (writes through a shared mapping are invisible to the shim)",
		            g_watch, g_watch_len);
	return f(addr, len, flags);
}

/* ---- sizes ---- */

typedef int (*ftruncate_fn)(int, off_t);

static int logged_size(int fd, uint16_t op, uint64_t size, int (*call)(void *), void *arg)
{
	char path[PATH_MAX];
	size_t plen = fd_path(fd, path);
	if (!plen)
		return call(arg);
	uint64_t id = put(op, 0, path, plen, 0, 0, size, NULL, 0);
	int r = call(arg);
	done(id, r);
	return r;
}

typedef struct size_args {
	void *f;
	int fd, mode;
	off_t off, len;
} size_args;

static int call_ftruncate(void *p)
{
	size_args *a = p;
	ftruncate_fn f;
	memcpy(&f, &a->f, sizeof f);
	return f(a->fd, a->len);
}

EXPORT int ftruncate(int fd, off_t len)
{
	REAL(ftruncate_fn, ftruncate);
	size_args a = {NULL, fd, 0, 0, len};
	memcpy(&a.f, &f, sizeof f);
	return logged_size(fd, PW_TRUNC, (uint64_t)len, call_ftruncate, &a);
}

EXPORT int ftruncate64(int fd, off64_t len)
{
	REAL(ftruncate_fn, ftruncate64);
	size_args a = {NULL, fd, 0, 0, len};
	memcpy(&a.f, &f, sizeof f);
	return logged_size(fd, PW_TRUNC, (uint64_t)len, call_ftruncate, &a);
}

typedef int (*fallocate_fn)(int, int, off_t, off_t);
typedef int (*posix_fallocate_fn)(int, off_t, off_t);

static int call_fallocate(void *p)
{
	size_args *a = p;
	fallocate_fn f;
	memcpy(&f, &a->f, sizeof f);
	return f(a->fd, a->mode, a->off, a->len);
}

static int call_posix_fallocate(void *p)
{
	size_args *a = p;
	posix_fallocate_fn f;
	memcpy(&f, &a->f, sizeof f);
	return f(a->fd, a->off, a->len);
}

/* fallocate with mode 0 can only grow the file; KEEP_SIZE changes no size.
 * Other modes (punching holes, collapsing ranges) are not modelled. */
static int fallocate_common(int fd, int mode, off_t off, off_t len, void *fp)
{
	size_args a = {fp, fd, mode, off, len};
	if (mode == 0)
		return logged_size(fd, PW_EXTEND, (uint64_t)(off + len), call_fallocate, &a);
	char path[PATH_MAX];
	size_t plen = fd_path(fd, path);
	if (plen && mode != FALLOC_FL_KEEP_SIZE)
		unsupported("fallocate with a mode other than 0 or FALLOC_FL_KEEP_SIZE", path, plen);
	return call_fallocate(&a);
}

EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	REAL(fallocate_fn, fallocate);
	void *fp;
	memcpy(&fp, &f, sizeof fp);
	return fallocate_common(fd, mode, off, len, fp);
}

EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	REAL(fallocate_fn, fallocate64);
	void *fp;
	memcpy(&fp, &f, sizeof fp);
	return fallocate_common(fd, mode, off, len, fp);
}

EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
	REAL(posix_fallocate_fn, posix_fallocate);
	size_args a = {NULL, fd, 0, off, len};
	memcpy(&a.f, &f, sizeof f);
	return logged_size(fd, PW_EXTEND, (uint64_t)(off + len), call_posix_fallocate, &a);
}

EXPORT int posix_fallocate64(int fd, off64_t off, off64_t len)
{
	REAL(posix_fallocate_fn, posix_fallocate64);
	size_args a = {NULL, fd, 0, off, len};
	memcpy(&a.f, &f, sizeof f);
	return logged_size(fd, PW_EXTEND, (uint64_t)(off + len), call_posix_fallocate, &a);
}

/* ---- opens ---- */

typedef int (*openat_fn)(int, const char *, int, ...);

/* A creation (O_CREAT of a file that does not exist) or a truncation
 * (O_TRUNC) is logged before the open and confirmed after it, like a write:
 * a kill in between leaves a file the log announced, never one it did not. */
static int opened(int dirfd, const char *path, int flags, mode_t mode, void *fp, int at)
{
	uint64_t id = 0;
	char abs[PATH_MAX];
	size_t plen = g_log >= 0 && (flags & (O_CREAT | O_TRUNC)) ? at_path(dirfd, path, abs) : 0;
	if (plen) {
		int existed = faccessat(dirfd, path, F_OK, 0) == 0;
		if ((flags & O_CREAT) && !existed)
			id = put(PW_CREATE, 0, abs, plen, 0, 0, 0, NULL, 0);
		else if (existed && (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY)
			id = put(PW_TRUNC, 0, abs, plen, 0, 0, 0, NULL, 0);
	}
	int fd;
	if (at) {
		openat_fn f;
		memcpy(&f, &fp, sizeof f);
		fd = f(dirfd, path, flags, mode);
	} else {
		open_fn f;
		memcpy(&f, &fp, sizeof f);
		fd = f(path, flags, mode);
	}
	if (id)
		done(id, fd >= 0 ? 0 : -1);
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int open(const char *path, int flags, ...)
{
	REAL(open_fn, open);
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	void *fp;
	memcpy(&fp, &f, sizeof fp);
	return opened(AT_FDCWD, path, flags, mode, fp, 0);
}

EXPORT int open64(const char *path, int flags, ...)
{
	REAL(open_fn, open64);
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	void *fp;
	memcpy(&fp, &f, sizeof fp);
	return opened(AT_FDCWD, path, flags, mode, fp, 0);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	REAL(openat_fn, openat);
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	void *fp;
	memcpy(&fp, &f, sizeof fp);
	return opened(dirfd, path, flags, mode, fp, 1);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	REAL(openat_fn, openat64);
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	void *fp;
	memcpy(&fp, &f, sizeof fp);
	return opened(dirfd, path, flags, mode, fp, 1);
}

EXPORT int creat(const char *path, mode_t mode)
{
	REAL(open_fn, open);
	void *fp;
	memcpy(&fp, &f, sizeof fp);
	return opened(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode, fp, 0);
}

EXPORT int creat64(const char *path, mode_t mode)
{
	REAL(open_fn, open64);
	void *fp;
	memcpy(&fp, &f, sizeof fp);
	return opened(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode, fp, 0);
}

/* ---- names: not modelled, only reported ---- */

typedef int (*unlink_fn)(const char *);
typedef int (*unlinkat_fn)(int, const char *, int);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned);
typedef int (*truncate_fn)(const char *, off_t);

static void name_change(const char *what, int dirfd, const char *path)
{
	char abs[PATH_MAX];
	size_t n = at_path(dirfd, path, abs);
	if (n)
		unsupported(what, abs, n);
}

/* An unlink that finds nothing (ENOENT) changes nothing: the store's open
 * removes leftovers that are usually not there (api/leftovers.c). */
EXPORT int unlink(const char *path)
{
	REAL(unlink_fn, unlink);
	int rc = f(path);
	if (rc == 0 || errno != ENOENT)
		name_change("unlink", AT_FDCWD, path);
	return rc;
}

EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
	REAL(unlinkat_fn, unlinkat);
	int rc = f(dirfd, path, flags);
	if (rc == 0 || errno != ENOENT)
		name_change("unlinkat", dirfd, path);
	return rc;
}

EXPORT int rename(const char *from, const char *to)
{
	REAL(rename_fn, rename);
	name_change("rename (from)", AT_FDCWD, from);
	name_change("rename (to)", AT_FDCWD, to);
	return f(from, to);
}

EXPORT int renameat(int fd1, const char *from, int fd2, const char *to)
{
	REAL(renameat_fn, renameat);
	name_change("renameat (from)", fd1, from);
	name_change("renameat (to)", fd2, to);
	return f(fd1, from, fd2, to);
}

EXPORT int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
	REAL(renameat2_fn, renameat2);
	name_change("renameat2 (from)", fd1, from);
	name_change("renameat2 (to)", fd2, to);
	return f(fd1, from, fd2, to, flags);
}

EXPORT int truncate(const char *path, off_t len)
{
	REAL(truncate_fn, truncate);
	name_change("truncate by path", AT_FDCWD, path);
	return f(path, len);
}

EXPORT int truncate64(const char *path, off64_t len)
{
	REAL(truncate_fn, truncate64);
	name_change("truncate by path", AT_FDCWD, path);
	return f(path, len);
}
