/* common/tz.c — is a string an IANA time zone name of this machine's tz
 * database? A name is joined to the database folder, so its shape is
 * checked first: no '..' or absolute path can leave the folder. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "chatjournal/event.h"
#include "common/tz.h"
#include "common/err.h"

#define TZ_NAME_MAX 255

static int name_shape_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > TZ_NAME_MAX)
		return 0;
	int at_start = 1; /* at the start of a component */
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '/') {
			if (at_start)
				return 0; /* empty component, or leading '/' */
			at_start = 1;
			continue;
		}
		if (at_start && c == '.')
			return 0; /* ".", "..", hidden files */
		at_start = 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '+' || c == '.'))
			return 0;
	}
	return !at_start; /* no trailing '/' */
}

int cji_tz_valid(const char *name, int *no_db)
{
	if (no_db)
		*no_db = 0;
	if (!name || !name_shape_ok(name))
		return 0;
	const char *dir = getenv("TZDIR");
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (no_db)
			*no_db = 1;
		return 1;
	}
	char path[4096 + TZ_NAME_MAX + 2];
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return 0;
	/* The shape check keeps the path inside dir; the database's own
	 * symbolic links (UTC -> Etc/UTC) are followed. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char magic[4];
	int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, magic, 4) == 4 &&
	         memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}

int cj_timezone_check(const char *name)
{
	if (cji_tz_valid(name, NULL))
		return 0;
	return cji_err(CJ_EINVAL, "'%.64s' is not a time zone of the tz database (like Europe/Berlin "
	               "or UTC)", name ? name : "(null)");
}
