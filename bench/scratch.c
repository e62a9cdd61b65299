/* bench/scratch.c — scratch directory handling. Removal walks the tree
 * depth-first without following symlinks, and only below the directory the
 * bench made itself with mkdtemp. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "scratch.h"

int cjb_scratch_new(char *out, size_t n, const char *base, char *err, size_t errn)
{
	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	if ((size_t)snprintf(out, n, "%s/cjbench-XXXXXX", base) >= n) {
		snprintf(err, errn, "scratch path too long: %s", base);
		return -1;
	}
	if (!mkdtemp(out)) {
		snprintf(err, errn, "cannot create scratch directory under %s: %s", base, strerror(errno));
		return -1;
	}
	return 0;
}

int cjb_scratch_sub(char *out, size_t n, const char *scratch, const char *name,
                    char *err, size_t errn)
{
	if ((size_t)snprintf(out, n, "%s/%s", scratch, name) >= n) {
		snprintf(err, errn, "path too long: %s/%s", scratch, name);
		return -1;
	}
	if (mkdir(out, 0700) != 0) {
		snprintf(err, errn, "mkdir %s: %s", out, strerror(errno));
		return -1;
	}
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int cjb_scratch_remove(const char *path)
{
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void cjb_scratch_settle(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	syncfs(fd);
	close(fd);
}

const char *cjb_scratch_fstype(const char *path)
{
	static const struct { long magic; const char *name; } known[] = {
		{ 0xEF53, "ext4" }, { 0x01021994, "tmpfs" }, { 0x58465342, "xfs" },
		{ 0x9123683E, "btrfs" }, { 0x794c7630, "overlayfs" }, { 0x2fc12fc1, "zfs" },
		{ 0x6969, "nfs" }, { 0x65735546, "fuse" },
	};
	struct statfs sf;
	if (statfs(path, &sf) != 0)
		return "unknown";
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if ((long)sf.f_type == known[i].magic)
			return known[i].name;
	return "unknown";
}
