/* api/backup_files.c — the file work of backups: checksums, copies,
 * removing trees, and the temporary names of unfinished work with the
 * cleanup of what dead processes left. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "api/backup_internal.h"
#include "journal/keys.h"
#include "common/err.h"
#include "common/timeutil.h"

#define IO_CHUNK ((size_t)1 << 20)

static void hex_of(XXH128_hash_t h, char hex[33])
{
	uint8_t b[16];
	cji_put_be64(b, h.high64);
	cji_put_be64(b + 8, h.low64);
	cji_blob_hex(b, hex);
}

static int write_all(int fd, const uint8_t *p, size_t n, const char *path)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return cji_err_errno(errno, "cannot write %s", path);
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read src through the hash, and write it to dst_fd when >= 0. */
static int stream(char hex[33], uint64_t *size, const char *src, int dst_fd, const char *dst,
                  cj_progress_fn progress, void *arg, uint64_t base, uint64_t total)
{
	*size = 0;
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? cji_err(CJ_ENOTFOUND, "%s: missing", src)
		                       : cji_err_errno(errno, "cannot open %s", src);
	uint8_t *buf = malloc(IO_CHUNK);
	XXH3_state_t *h = XXH3_createState();
	int rc = 0;
	if (!buf || !h) {
		rc = cji_err(CJ_ENOMEM, "out of memory reading %s", src);
		goto out;
	}
	XXH3_128bits_reset(h);
	for (;;) {
		ssize_t n = read(fd, buf, IO_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cji_err_errno(errno, "cannot read %s", src);
			break;
		}
		if (n == 0)
			break;
		XXH3_128bits_update(h, buf, (size_t)n);
		if (dst_fd >= 0 && (rc = write_all(dst_fd, buf, (size_t)n, dst)))
			break;
		*size += (uint64_t)n;
		if (progress)
			progress(base + *size, total, arg);
	}
	if (!rc)
		hex_of(XXH3_128bits_digest(h), hex);
out:
	XXH3_freeState(h);
	free(buf);
	close(fd);
	return rc;
}

int cji_file_xxh3(char hex[33], uint64_t *size, const char *path, cj_progress_fn progress,
                  void *arg, uint64_t base, uint64_t total)
{
	return stream(hex, size, path, -1, NULL, progress, arg, base, total);
}

int cji_file_copy(char hex[33], uint64_t *size, const char *src, const char *dst,
                  cj_progress_fn progress, void *arg, uint64_t base, uint64_t total)
{
	int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cji_err_errno(errno, "cannot create %s", dst);
	int rc = fchmod(fd, 0600) != 0 ? cji_err_errno(errno, "cannot set mode of %s", dst) : 0;
	if (!rc)
		rc = stream(hex, size, src, fd, dst, progress, arg, base, total);
	if (!rc && fsync(fd) != 0)
		rc = cji_err_errno(errno, "cannot fsync %s", dst);
	if (close(fd) != 0 && !rc)
		rc = cji_err_errno(errno, "cannot close %s", dst);
	if (rc)
		unlink(dst);
	return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT)
		return -1;
	return 0;
}

int cji_rmtree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : cji_err_errno(errno, "cannot remove %s", path);
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 || errno == ENOENT ? 0 : cji_err_errno(errno, "cannot remove %s", path);
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		return cji_err_errno(errno, "cannot remove %s", path);
	return 0;
}

int cji_dir_empty(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return cji_err_errno(errno, "cannot read folder %s", path);
	struct dirent *de;
	int empty = 1;
	while (empty && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

/* ---- temporary names -------------------------------------------------- */

/* This process's temporary paths in progress: a leftover named with our own
 * PID (a PID reused after a restart, as in a container) but not in this
 * list belongs to a dead process. */
static pthread_mutex_t temp_mu = PTHREAD_MUTEX_INITIALIZER;
static char **temp_live;
static size_t temp_n, temp_cap;
static atomic_uint temp_counter;

static int temp_register(const char *path)
{
	pthread_mutex_lock(&temp_mu);
	int rc = 0;
	if (temp_n == temp_cap) {
		size_t cap = temp_cap ? temp_cap * 2 : 8;
		char **v = realloc(temp_live, cap * sizeof *v);
		if (!v)
			rc = CJ_ENOMEM;
		else {
			temp_live = v;
			temp_cap = cap;
		}
	}
	if (!rc && !(temp_live[temp_n] = strdup(path)))
		rc = CJ_ENOMEM;
	if (!rc)
		temp_n++;
	pthread_mutex_unlock(&temp_mu);
	return rc ? cji_err(rc, "out of memory") : 0;
}

static int temp_is_live(const char *path)
{
	pthread_mutex_lock(&temp_mu);
	int live = 0;
	for (size_t i = 0; i < temp_n && !live; i++) {
		/* Its sidecars too ("...N.sqlite-wal"), not "...N7" of another. */
		size_t len = strlen(temp_live[i]);
		live = strncmp(temp_live[i], path, len) == 0 && !(path[len] >= '0' && path[len] <= '9');
	}
	pthread_mutex_unlock(&temp_mu);
	return live;
}

void cji_temp_done(const char *path)
{
	pthread_mutex_lock(&temp_mu);
	for (size_t i = 0; i < temp_n; i++) {
		if (strcmp(temp_live[i], path) == 0) {
			free(temp_live[i]);
			temp_live[i] = temp_live[--temp_n];
			break;
		}
	}
	pthread_mutex_unlock(&temp_mu);
}

int cji_temp_name(char *out, size_t n, const char *dir, const char *kind, const char *tail)
{
	unsigned k = atomic_fetch_add(&temp_counter, 1);
	int w = snprintf(out, n, "%s/%s%s-%ld-%u%s%s", dir, CJI_TEMP_PREFIX, kind, (long)getpid(), k,
	                 tail ? "-" : "", tail ? tail : "");
	if (w < 0 || (size_t)w >= n)
		return cji_err(CJ_ETOOBIG, "path too long: %s", dir);
	return temp_register(out);
}

/* Parse ".tmp-KIND-PID-N<rest>": 0 and the parts, or -1 (not ours). */
static int parse_temp(const char *name, char *kind, size_t kn, long *pid, const char **rest)
{
	size_t pl = strlen(CJI_TEMP_PREFIX);
	if (strncmp(name, CJI_TEMP_PREFIX, pl) != 0)
		return -1;
	const char *p = name + pl, *dash = strchr(p, '-');
	if (!dash || dash == p || (size_t)(dash - p) >= kn)
		return -1;
	snprintf(kind, kn, "%.*s", (int)(dash - p), p);
	char *end;
	errno = 0;
	*pid = strtol(dash + 1, &end, 10);
	if (errno || end == dash + 1 || *pid <= 0 || *end != '-')
		return -1;
	p = end + 1;
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9')
		p++;
	*rest = p;
	return 0;
}

static int is_dead(const char *path, long pid, int64_t now_ms)
{
	if (pid == (long)getpid())
		return !temp_is_live(path);
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return 1;
	struct stat st;
	if (lstat(path, &st) != 0)
		return 0;
	int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	return now_ms - mtime > CJI_TEMP_STALE_MS;
}

int cji_temp_clean(unsigned *removed, const char *dir, const char *kind, const char *tail,
                   int64_t now_ms)
{
	if (removed)
		*removed = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : cji_err_errno(errno, "cannot read folder %s", dir);
	if (!now_ms)
		now_ms = cji_now_ms();
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char k[32], path[4400];
		long pid;
		const char *rest;
		if (parse_temp(de->d_name, k, sizeof k, &pid, &rest) != 0)
			continue;
		if (kind && strcmp(k, kind) != 0)
			continue;
		if (tail && (rest[0] != '-' || strcmp(rest + 1, tail) != 0))
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
			continue;
		if (is_dead(path, pid, now_ms) && cji_rmtree(path) == 0 && removed)
			(*removed)++;
		cj_error_clear();
	}
	closedir(d);
	return 0;
}
