/* import/zip.c — a Slack export's .zip, unpacked through libarchive into a
 * private folder (0700, files 0600) that the folder reader then walks.
 * Archives are hostile until proven otherwise: an entry named absolutely,
 * with a '..' component or a backslash, or that is not a plain file or
 * folder (links, devices) refuses the whole archive; sizes are counted as
 * the bytes come out (the sizes an archive declares can lie), against a
 * cap per entry and one for the whole archive (a zip bomb stops at the
 * cap, having written no more than it). */
#define _XOPEN_SOURCE 700
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "import_internal.h"

int zip_is_zip(const char *path)
{
	unsigned char sig[4] = { 0 };
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t n = fread(sig, 1, 4, f);
	fclose(f);
	return n == 4 && sig[0] == 'P' && sig[1] == 'K' && sig[2] == 3 && sig[3] == 4;
}

/* Why the name is refused, or NULL. */
static const char *bad_name(const char *name)
{
	if (!name || !*name)
		return "an empty name";
	if (name[0] == '/')
		return "an absolute name";
	if (strchr(name, '\\'))
		return "a backslash in the name";
	const char *p = name;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "a '..' component (it would leave the folder)";
		p += n;
		if (*p == '/')
			p++;
	}
	return NULL;
}

/* mkdir -p of the folders in rel under root, each 0700. */
static int make_parents(const char *root, const char *rel, int last_too)
{
	char path[4096];
	int n = snprintf(path, sizeof path, "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= sizeof path)
		return -1;
	size_t start = strlen(root) + 1;
	for (size_t i = start; path[i]; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -1;
		path[i] = '/';
	}
	if (last_too && mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int copy_data(struct archive *a, int fd, const char *name, uint64_t max_entry,
                     uint64_t *total, uint64_t max_total, char *err, size_t errlen)
{
	uint64_t mine = 0;
	char buf[65536];
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof buf);
		if (n == 0)
			return 0;
		if (n < 0) {
			snprintf(err, errlen, "zip entry '%s': %s", name, archive_error_string(a));
			return CJ_EINVAL;
		}
		mine += (uint64_t)n;
		*total += (uint64_t)n;
		if (mine > max_entry) {
			snprintf(err, errlen, "zip entry '%s' is larger than %llu bytes uncompressed "
			         "(the cap per entry; a zip bomb?)", name, (unsigned long long)max_entry);
			return CJ_ETOOBIG;
		}
		if (*total > max_total) {
			snprintf(err, errlen, "the zip's entries are larger than %llu bytes uncompressed "
			         "in all (the cap; a zip bomb?), at entry '%s'", (unsigned long long)max_total,
			         name);
			return CJ_ETOOBIG;
		}
		for (la_ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				snprintf(err, errlen, "unpacking zip entry '%s': %s", name, strerror(errno));
				return errno == ENOSPC ? CJ_ENOSPC : CJ_EIO;
			}
			off += w;
		}
	}
}

static int extract_into(const char *dir, const char *zip_path, uint64_t max_entry,
                        uint64_t max_total, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return CJ_ENOMEM;
	}
	archive_read_support_format_zip(a);
	archive_read_support_filter_none(a);
	int rc = 0;
	if (archive_read_open_filename(a, zip_path, 65536) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: not a readable zip: %s", zip_path, archive_error_string(a));
		archive_read_free(a);
		return CJ_EINVAL;
	}
	uint64_t total = 0;
	unsigned long entries = 0;
	struct archive_entry *e;
	for (;;) {
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK) {
			snprintf(err, errlen, "%s: damaged zip after %lu entries: %s", zip_path, entries,
			         archive_error_string(a));
			rc = CJ_EINVAL;
			break;
		}
		entries++;
		/* Names as UTF-8 whatever the process's locale (Slack's folders
		 * carry channel names in any script). */
		const char *name = archive_entry_pathname_utf8(e);
		if (!name)
			name = archive_entry_pathname(e);
		const char *why = bad_name(name);
		if (why) {
			snprintf(err, errlen, "zip entry %lu '%.200s' refused: %s", entries,
			         name ? name : "", why);
			rc = CJ_EINVAL;
			break;
		}
		mode_t type = archive_entry_filetype(e);
		if (type == AE_IFDIR) {
			if (make_parents(dir, name, 1) != 0) {
				snprintf(err, errlen, "unpacking zip folder '%s': %s", name, strerror(errno));
				rc = CJ_EIO;
				break;
			}
			continue;
		}
		if (type != AE_IFREG || archive_entry_hardlink(e) || archive_entry_symlink(e)) {
			snprintf(err, errlen, "zip entry '%.200s' refused: not a plain file or folder "
			         "(a link or a device)", name);
			rc = CJ_EINVAL;
			break;
		}
		if (make_parents(dir, name, 0) != 0) {
			snprintf(err, errlen, "unpacking zip entry '%s': %s", name, strerror(errno));
			rc = CJ_EIO;
			break;
		}
		char path[4096];
		int pl = snprintf(path, sizeof path, "%s/%s", dir, name);
		if (pl < 0 || (size_t)pl >= sizeof path) {
			snprintf(err, errlen, "zip entry '%.200s' refused: its name is too long", name);
			rc = CJ_EINVAL;
			break;
		}
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(err, errlen, "unpacking zip entry '%s': %s%s", name, strerror(errno),
			         errno == EEXIST ? " (the zip names it twice)" : "");
			rc = errno == EEXIST ? CJ_EINVAL : CJ_EIO;
			break;
		}
		rc = copy_data(a, fd, name, max_entry, &total, max_total, err, errlen);
		close(fd);
		if (rc != 0)
			break;
	}
	archive_read_free(a);
	return rc;
}

int zip_extract(char **dir_out, const char *zip_path, uint64_t max_entry, uint64_t max_total,
                char *err, size_t errlen)
{
	*dir_out = NULL;
	const char *tmp = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/chatjournal-import-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpl)) {
		snprintf(err, errlen, "cannot make a folder to unpack the zip in: %s", strerror(errno));
		return CJ_EIO;
	}
	/* libarchive converts entry names to the locale's charset, which in a
	 * process that never called setlocale is ASCII: a name in another
	 * script would fail. A UTF-8 locale for this thread only (uselocale)
	 * leaves the rest of the process alone. */
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
	int rc = extract_into(tmpl, zip_path, max_entry, max_total, err, errlen);
	if (utf8) {
		uselocale(old);
		freelocale(utf8);
	}
	if (rc != 0) {
		zip_remove(tmpl);
		return rc;
	}
	if (!(*dir_out = strdup(tmpl))) {
		zip_remove(tmpl);
		snprintf(err, errlen, "out of memory");
		return CJ_ENOMEM;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void zip_remove(const char *dir)
{
	if (dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
