/* tests/compact/scan.c — see scan.h. Files are read whole (test stores are
 * small) and searched with memmem. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "scan.h"

static long count_file(const char *path, const char *needle)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	size_t n = (size_t)st.st_size;
	char *buf = malloc(n ? n : 1);
	size_t got = 0;
	while (buf && got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!buf)
		return -1;
	long hits = 0;
	size_t nl = strlen(needle);
	const char *p = buf, *end = buf + got;
	while (p < end) {
		const char *q = memmem(p, (size_t)(end - p), needle, nl);
		if (!q)
			break;
		hits++;
		p = q + 1;
	}
	free(buf);
	return hits;
}

long cs_count(const char *root, const char *needle, char *where, size_t where_n)
{
	DIR *d = opendir(root);
	if (!d)
		return -1;
	long total = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[4096];
		snprintf(p, sizeof p, "%s/%s", root, e->d_name);
		struct stat st;
		if (lstat(p, &st) != 0)
			continue;
		long n = 0;
		if (S_ISDIR(st.st_mode))
			n = cs_count(p, needle, where, where_n);
		else if (S_ISREG(st.st_mode)) {
			n = count_file(p, needle);
			if (n > 0 && where && !total)
				snprintf(where, where_n, "%s", p);
		}
		if (n < 0) {
			total = -1;
			break;
		}
		total += n;
	}
	closedir(d);
	return total;
}

static unsigned long be32(const unsigned char *p)
{
	return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

static int zero_from(const unsigned char *p, size_t from, size_t n)
{
	for (size_t i = from; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

long cs_free_pages_dirty(const char *path, long *pages)
{
	*pages = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	unsigned char hdr[100];
	long dirty = -1;
	unsigned char *page = NULL;
	if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
		goto out;
	size_t size = (size_t)hdr[16] << 8 | hdr[17];
	if (size == 1)
		size = 65536;
	unsigned long trunk = be32(hdr + 32), total = be32(hdr + 36);
	if (!(page = malloc(size)))
		goto out;
	unsigned char *leaf = malloc(size);
	if (!leaf)
		goto out;
	long seen = 0, bad = 0;
	while (trunk && seen <= (long)total) {
		if (pread(fd, page, size, (off_t)(trunk - 1) * (off_t)size) != (ssize_t)size)
			goto bad;
		unsigned long n = be32(page + 4);
		if (8 + 4 * n > size)
			goto bad;
		seen++;
		bad += !zero_from(page, 8 + 4 * n, size);
		for (unsigned long i = 0; i < n; i++) {
			unsigned long no = be32(page + 8 + 4 * i);
			if (pread(fd, leaf, size, (off_t)(no - 1) * (off_t)size) != (ssize_t)size)
				goto bad;
			seen++;
			bad += !zero_from(leaf, 0, size);
		}
		trunk = be32(page);
	}
	if (seen == (long)total) {
		dirty = bad;
		*pages = seen;
	}
bad:
	free(leaf);
out:
	free(page);
	close(fd);
	return dirty;
}
