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
