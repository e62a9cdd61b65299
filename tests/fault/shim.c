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

static struct {
	_Atomic(write_fn) write;
	_Atomic(pwrite_fn) pwrite;
	_Atomic(pwrite64_fn) pwrite64;
	_Atomic(writev_fn) writev;
	_Atomic(pwritev_fn) pwritev;
	_Atomic(pwritev64_fn) pwritev64;
	_Atomic(sync_fn) fsync, fdatasync;
} real;

/* mode: 0 off, 1 count, 2 fail. The prefix is only written while off. */
static _Atomic int g_mode;
static char g_prefix[PATH_MAX];
static size_t g_prefix_len;
static _Atomic uint64_t g_calls, g_fired, g_fail_at;
static _Atomic uint64_t g_calls_of[SHIM_NFN];
static _Atomic int g_errno, g_sticky;
static _Atomic unsigned g_kinds = SHIM_KIND_ALL;

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
		return atomic_load(&g_errno);
	}
	return 0;
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
	atomic_store(&g_fail_at, fail_at);
	atomic_store(&g_errno, err);
	atomic_store(&g_sticky, sticky);
	atomic_store(&g_mode, 2);
}

void shim_disarm(void)
{
	atomic_store(&g_mode, 0);
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
	if (e) {
		errno = e;
		return -1;
	}
	return f(fd, iov, cnt);
}

SHIM_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(pwritev, pwritev_fn, "pwritev");
	int e = decide(fd, SHIM_PWRITEV);
	if (e) {
		errno = e;
		return -1;
	}
	return f(fd, iov, cnt, off);
}

SHIM_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	REAL(pwritev64, pwritev64_fn, "pwritev64");
	int e = decide(fd, SHIM_PWRITEV);
	if (e) {
		errno = e;
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
