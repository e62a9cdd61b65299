/* tests/fault/shim.c — the interposed write/sync functions (see shim.h).
 * Linked into the test executable, never into the library. */
/* The build defines _FILE_OFFSET_BITS=64, which renames pwrite to pwrite64 in
 * the headers; this file must define both names itself. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include "shim.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void *, size_t, off64_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t (*pwritev64_fn)(int, const struct iovec *, int, off64_t);
typedef int (*sync_fn)(int);
typedef int (*statvfs_fn)(const char *, struct statvfs *);
typedef int (*statvfs64_fn)(const char *, struct statvfs64 *);

static struct {
	_Atomic(write_fn) write;
	_Atomic(pwrite_fn) pwrite;
	_Atomic(pwrite64_fn) pwrite64;
	_Atomic(writev_fn) writev;
	_Atomic(pwritev_fn) pwritev;
	_Atomic(pwritev64_fn) pwritev64;
	_Atomic(sync_fn) fsync, fdatasync;
	_Atomic(statvfs_fn) statvfs;
	_Atomic(statvfs64_fn) statvfs64;
} real;

/* mode: 0 off, 1 count, 2 fail. The prefix is only written while off. */
static _Atomic int g_mode;
static char g_prefix[PATH_MAX];
static size_t g_prefix_len;
static _Atomic uint64_t g_calls, g_fired, g_fail_at;
static _Atomic uint64_t g_calls_of[SHIM_NFN];
static _Atomic int g_errno, g_sticky;
static _Atomic unsigned g_kinds = SHIM_KIND_ALL;
static _Atomic int g_short;   /* armed failures are short writes; statvfs says full */

/* decide()'s answer for a short write (never a real errno). */
#define SHIM_SHORT (-1)

/* The next definition of name after this executable's: libc's, or a
 * sanitizer interceptor that forwards to libc. */
static void *next_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p)
		abort(); /* cannot forward: nothing sensible to do in a write() */
	return p;
}

/* Load real.<field> (resolving it on first use) into local variable f. */
#define REAL(field, type, name) \
	type f = atomic_load(&real.field); \
	if (!f) { \
		void *p_ = next_sym(name); \
		memcpy(&f, &p_, sizeof f); \
		atomic_store(&real.field, f); \
	}

__attribute__((constructor)) static void shim_resolve_all(void)
{
	void *p;
	write_fn w; pwrite_fn pw; pwrite64_fn pw64; writev_fn wv; pwritev_fn pwv;
	pwritev64_fn pwv64; sync_fn fs, fds;
	p = next_sym("write");     memcpy(&w, &p, sizeof p);     atomic_store(&real.write, w);
	p = next_sym("pwrite");    memcpy(&pw, &p, sizeof p);    atomic_store(&real.pwrite, pw);
	p = next_sym("pwrite64");  memcpy(&pw64, &p, sizeof p);  atomic_store(&real.pwrite64, pw64);
	p = next_sym("writev");    memcpy(&wv, &p, sizeof p);    atomic_store(&real.writev, wv);
	p = next_sym("pwritev");   memcpy(&pwv, &p, sizeof p);   atomic_store(&real.pwritev, pwv);
	p = next_sym("pwritev64"); memcpy(&pwv64, &p, sizeof p); atomic_store(&real.pwritev64, pwv64);
	p = next_sym("fsync");     memcpy(&fs, &p, sizeof p);    atomic_store(&real.fsync, fs);
	p = next_sym("fdatasync"); memcpy(&fds, &p, sizeof p);   atomic_store(&real.fdatasync, fds);
}

static int in_scope(int fd)
{
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n < 0 || (size_t)n < g_prefix_len)
		return 0;
	if (memcmp(target, g_prefix, g_prefix_len) != 0)
		return 0;
	return (size_t)n == g_prefix_len || target[g_prefix_len] == '/';
}

static unsigned kind_of(int fd, enum shim_fn fn)
{
	if (fn == SHIM_FSYNC || fn == SHIM_FDATASYNC)
		return SHIM_KIND_SYNC;
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && (fl & O_DSYNC) ? SHIM_KIND_META : SHIM_KIND_DATA;
}

/* 0 to let the call through, else the errno to fail it with. */
static int decide(int fd, enum shim_fn fn)
{
	int mode = atomic_load(&g_mode);
	if (mode == 0 || !in_scope(fd))
		return 0;
	if (!(kind_of(fd, fn) & atomic_load(&g_kinds)))
		return 0;
	uint64_t n = atomic_fetch_add(&g_calls, 1) + 1;
	atomic_fetch_add(&g_calls_of[fn], 1);
	if (mode != 2)
		return 0;
	uint64_t at = atomic_load(&g_fail_at);
	if (n == at || (atomic_load(&g_sticky) && n > at)) {
		atomic_fetch_add(&g_fired, 1);
		if (atomic_load(&g_short))
			return fn == SHIM_FSYNC || fn == SHIM_FDATASYNC ? EIO : SHIM_SHORT;
		return atomic_load(&g_errno);
	}
	return 0;
}

/* The length a short write writes: half of n, at least 1 byte. */
static size_t short_len(size_t n) { return n > 1 ? n / 2 : n; }

/* 1 if path lies under the prefix while a short-write failure is armed. */
static int full_path(const char *path)
{
	if (atomic_load(&g_mode) != 2 || !atomic_load(&g_short) || !path)
		return 0;
	char real_path[PATH_MAX];
	if (!realpath(path, real_path))
		return 0;
	size_t n = strlen(real_path);
	return n >= g_prefix_len && memcmp(real_path, g_prefix, g_prefix_len) == 0 &&
	       (n == g_prefix_len || real_path[g_prefix_len] == '/');
}

static void set_prefix(const char *prefix)
{
	atomic_store(&g_mode, 0);
	snprintf(g_prefix, sizeof g_prefix, "%s", prefix);
	g_prefix_len = strlen(g_prefix);
	while (g_prefix_len > 1 && g_prefix[g_prefix_len - 1] == '/')
		g_prefix[--g_prefix_len] = '\0';
	atomic_store(&g_calls, 0);
	atomic_store(&g_fired, 0);
	for (int i = 0; i < SHIM_NFN; i++)
		atomic_store(&g_calls_of[i], 0);
}

void shim_count(const char *prefix)
{
	set_prefix(prefix);
	atomic_store(&g_mode, 1);
}

void shim_arm(const char *prefix, uint64_t fail_at, int err, int sticky)
{
	set_prefix(prefix);
	atomic_store(&g_short, 0);
	atomic_store(&g_fail_at, fail_at);
	atomic_store(&g_errno, err);
	atomic_store(&g_sticky, sticky);
	atomic_store(&g_mode, 2);
}

void shim_arm_short(const char *prefix, uint64_t fail_at, int sticky)
{
	set_prefix(prefix);
	atomic_store(&g_short, 1);
	atomic_store(&g_fail_at, fail_at);
	atomic_store(&g_errno, EIO);
	atomic_store(&g_sticky, sticky);
	atomic_store(&g_mode, 2);
}

void shim_disarm(void)
{
	atomic_store(&g_mode, 0);
	atomic_store(&g_short, 0);
	atomic_store(&g_kinds, SHIM_KIND_ALL);
}

void shim_only(unsigned kinds)
{
	atomic_store(&g_kinds, kinds);
}

uint64_t shim_calls(void) { return atomic_load(&g_calls); }
uint64_t shim_fired(void) { return atomic_load(&g_fired); }
uint64_t shim_calls_of(enum shim_fn fn) { return atomic_load(&g_calls_of[fn]); }

const char *shim_fn_name(enum shim_fn fn)
{
	static const char *const names[SHIM_NFN] = {
		"write", "pwrite", "writev", "pwritev", "fsync", "fdatasync",
	};
	return (unsigned)fn < SHIM_NFN ? names[fn] : "?";
}

/* The interposed functions. */

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(write, write_fn, "write");
	int e = decide(fd, SHIM_WRITE);
	if (e == SHIM_SHORT)
		return f(fd, buf, short_len(n));
	if (e) {
		errno = e;
		return -1;
	}
	return f(fd, buf, n);
}

SHIM_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite, pwrite_fn, "pwrite");
	int e = decide(fd, SHIM_PWRITE);
	if (e == SHIM_SHORT)
		return f(fd, buf, short_len(n), off);
	if (e) {
		errno = e;
		return -1;
	}
	return f(fd, buf, n, off);
}

SHIM_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	REAL(pwrite64, pwrite64_fn, "pwrite64");
	int e = decide(fd, SHIM_PWRITE);
	if (e == SHIM_SHORT)
		return f(fd, buf, short_len(n), off);
	if (e) {
		errno = e;
		return -1;
	}
	return f(fd, buf, n, off);
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	REAL(writev, writev_fn, "writev");
	int e = decide(fd, SHIM_WRITEV);
	if (e == SHIM_SHORT && cnt > 0) {
		struct iovec one = { iov[0].iov_base, short_len(iov[0].iov_len) };
		return f(fd, &one, 1);
	}
	if (e) {
		errno = e == SHIM_SHORT ? EIO : e;
		return -1;
	}
	return f(fd, iov, cnt);
}

SHIM_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(pwritev, pwritev_fn, "pwritev");
	int e = decide(fd, SHIM_PWRITEV);
	if (e == SHIM_SHORT && cnt > 0) {
		struct iovec one = { iov[0].iov_base, short_len(iov[0].iov_len) };
		return f(fd, &one, 1, off);
	}
	if (e) {
		errno = e == SHIM_SHORT ? EIO : e;
		return -1;
	}
	return f(fd, iov, cnt, off);
}

SHIM_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	REAL(pwritev64, pwritev64_fn, "pwritev64");
	int e = decide(fd, SHIM_PWRITEV);
	if (e == SHIM_SHORT && cnt > 0) {
		struct iovec one = { iov[0].iov_base, short_len(iov[0].iov_len) };
		return f(fd, &one, 1, off);
	}
	if (e) {
		errno = e == SHIM_SHORT ? EIO : e;
		return -1;
	}
	return f(fd, iov, cnt, off);
}

SHIM_EXPORT int fsync(int fd)
{
	REAL(fsync, sync_fn, "fsync");
	int e = decide(fd, SHIM_FSYNC);
	if (e) {
		errno = e;
		return -1;
	}
	return f(fd);
}

SHIM_EXPORT int fdatasync(int fd)
{
	REAL(fdatasync, sync_fn, "fdatasync");
	int e = decide(fd, SHIM_FDATASYNC);
	if (e) {
		errno = e;
		return -1;
	}
	return f(fd);
}

SHIM_EXPORT int statvfs(const char *path, struct statvfs *buf)
{
	REAL(statvfs, statvfs_fn, "statvfs");
	int rc = f(path, buf);
	if (rc == 0 && full_path(path))
		buf->f_bavail = buf->f_bfree = 0;
	return rc;
}

SHIM_EXPORT int statvfs64(const char *path, struct statvfs64 *buf)
{
	REAL(statvfs64, statvfs64_fn, "statvfs64");
	int rc = f(path, buf);
	if (rc == 0 && full_path(path))
		buf->f_bavail = buf->f_bfree = 0;
	return rc;
}
