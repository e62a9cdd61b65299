/* common/fsutil.c — private file and folder creation, durable small writes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/err.h"

int cji_mkdir_private(const char *path)
{
	if (mkdir(path, 0700) != 0) {
		if (errno == EEXIST)
			return CJ_EEXIST;
		return cji_err_errno(errno, "cannot create folder %s", path);
	}
	if (chmod(path, 0700) != 0)
		return cji_err_errno(errno, "cannot set mode of %s", path);
	return 0;
}

static int fsync_open(const char *path, int flags, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	if (fd < 0)
		return cji_err_errno(errno, "cannot open %s%s", what, path);
	int rc = 0;
	if (fsync(fd) != 0)
		rc = cji_err_errno(errno, "cannot fsync %s%s", what, path);
	close(fd);
	return rc;
}

int cji_fsync_dir(const char *path) { return fsync_open(path, O_DIRECTORY, "folder "); }
int cji_fsync_path(const char *path) { return fsync_open(path, 0, ""); }

int cji_fsync_parent(const char *path)
{
	char dir[4400];
	int w = snprintf(dir, sizeof dir, "%s", path);
	if (w < 0 || (size_t)w >= sizeof dir)
		return cji_err(CJ_ETOOBIG, "path too long: %s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return cji_fsync_dir(".");
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return cji_fsync_dir(dir);
}

int cji_path_join(char *out, size_t n, const char *a, const char *b)
{
	int w = snprintf(out, n, "%s/%s", a, b);
	if (w < 0 || (size_t)w >= n)
		return cji_err(CJ_ETOOBIG, "path too long: %s/%s", a, b);
	return 0;
}

int cji_write_file_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	int w = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (w < 0 || (size_t)w >= sizeof tmp)
		return cji_err(CJ_ETOOBIG, "path too long: %s", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return cji_err_errno(errno, "cannot create %s", tmp);
	int rc = 0;
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = cji_err_errno(errno, "cannot write %s", tmp);
			goto fail;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
		rc = cji_err_errno(errno, "cannot sync %s", tmp);
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = cji_err_errno(errno, "cannot rename %s", tmp);
		goto fail;
	}
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	return cji_fsync_dir(dir[0] ? dir : "/");
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int cji_read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cji_err_errno(errno, "cannot open %s", path);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return cji_err_errno(e, "cannot stat %s", path);
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return cji_err(CJ_ETOOBIG, "%s is larger than %zu bytes", path, max);
	}
	size_t size = (size_t)st.st_size;
	char *buf = malloc(size + 1);
	if (!buf) {
		close(fd);
		return cji_err(CJ_ENOMEM, "out of memory reading %s", path);
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	if (len)
		*len = got;
	return 0;
}

int cji_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

void cji_flush_behind(int fd, uint64_t *flushed, uint64_t size)
{
	if (size < *flushed + CJI_FLUSH_BEHIND)
		return;
	sync_file_range(fd, (off_t)*flushed, (off_t)(size - *flushed),
	                SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
	*flushed = size;
}
