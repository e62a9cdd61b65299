/* tools/cmd_init.c — `chatjournal init STORE`: create a new, empty store.
 * The parent folder must exist: creating a whole path silently would turn
 * a typo into a store nobody looks at. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"init", "STORE",
	"Create a new store in the folder STORE (journal, settings file), with\n"
	"files 0600 and folders 0700. The parent folder must already exist.\n"
	"Fails if STORE is already a store.\n"
};

/* The parent folder of path (a copy to free), "." if path has no slash. */
static char *parent_of(const char *path)
{
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	while (len > 0 && path[len - 1] != '/')
		len--;
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len == 0)
		return strdup(".");
	char *p = malloc(len + 1);
	if (p) {
		memcpy(p, path, len);
		p[len] = '\0';
	}
	return p;
}

/* After a failure, say plainly when the parent is missing: the library's
 * errno text ("No such file or directory") would not say which part. */
static int explain_failure(const char *path, int rc)
{
	if (rc == CJ_EEXIST)
		return cli_fail("init", "%s: already a store", path);
	char *parent = parent_of(path);
	struct stat st;
	if (parent && stat(parent, &st) != 0 && errno == ENOENT) {
		cli_fail("init", "%s: parent folder '%s' does not exist", path, parent);
		free(parent);
		return CLI_EXIT_FAIL;
	}
	if (parent && stat(parent, &st) == 0 && !S_ISDIR(st.st_mode)) {
		cli_fail("init", "%s: '%s' is not a folder", path, parent);
		free(parent);
		return CLI_EXIT_FAIL;
	}
	free(parent);
	if (strstr(cj_error_last(), path))
		return cli_fail_lib("init", rc, NULL);
	return cli_fail_lib("init", rc, "%s", path);
}

int cmd_init(int argc, char **argv)
{
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, NULL, 0, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	const char *path = pos[0];
	rc = cj_store_init(path, NULL);
	if (rc != 0)
		return explain_failure(path, rc);
	printf("initialized store at %s\n", path);
	return CLI_EXIT_OK;
}
