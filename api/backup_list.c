/* api/backup_list.c — the backups in a folder, and pruning the old ones.
 * A folder is a backup when it holds a MANIFEST.json; temporary folders
 * (".tmp-...") never are, so a backup killed before its rename is never
 * listed. Pruning renames a backup to a temporary name before deleting it,
 * for the same reason. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "chatjournal/backup.h"
#include "api/backup_internal.h"
#include "api/store_internal.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

#define MS_PER_DAY (86400LL * 1000)

typedef struct entry {
	char name[256];
	char path[4400];
	int ok;
	cji_manifest m;
	char error[512];
} entry;

/* A store (its backups/ folder) or a folder of backups. *is_store tells
 * which. */
static int resolve(char *out, size_t n, int *is_store, const char *path)
{
	if (!path || !*path)
		return cji_err(CJ_EINVAL, "backups: no path");
	char conf[4400];
	int rc = cji_path_join(conf, sizeof conf, path, CJI_CONF_NAME);
	if (rc)
		return rc;
	*is_store = cji_exists(conf);
	if (*is_store)
		return cji_path_join(out, n, path, CJI_BACKUPS_DIR);
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return cji_err(CJ_ENOTFOUND, "%s is neither a store nor a folder of backups", path);
	if (snprintf(out, n, "%s", path) >= (int)n)
		return cji_err(CJ_ETOOBIG, "path too long: %s", path);
	return 0;
}

static int by_created(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	if (x->ok != y->ok)
		return x->ok ? 1 : -1;   /* damaged ones first: they have no time */
	if (x->ok && x->m.created_ms != y->m.created_ms)
		return x->m.created_ms < y->m.created_ms ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Every backup folder in dir, oldest first. */
static int scan(entry **out, size_t *n, const char *dir)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return cji_err_errno(errno, "cannot read folder %s", dir);
	entry *v = NULL;
	size_t cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof v->name)
			continue;
		char path[4400], manifest[4500];
		struct stat st;
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
		    lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) ||
		    cji_path_join(manifest, sizeof manifest, path, CJI_MANIFEST_NAME) != 0 ||
		    !cji_exists(manifest))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			entry *nv = realloc(v, cap * sizeof *nv);
			if (!nv) {
				rc = cji_err(CJ_ENOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		entry *e = &v[(*n)++];
		memset(e, 0, sizeof *e);
		snprintf(e->name, sizeof e->name, "%s", de->d_name);
		snprintf(e->path, sizeof e->path, "%s", path);
		e->ok = cji_manifest_read(&e->m, NULL, path) == 0;
		if (!e->ok)
			snprintf(e->error, sizeof e->error, "%s", cj_error_last());
	}
	closedir(d);
	cj_error_clear();
	if (rc) {
		free(v);
		*n = 0;
		return rc;
	}
	if (*n)
		qsort(v, *n, sizeof *v, by_created);
	*out = v;
	return 0;
}

static json_t *u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *entry_json(const entry *e)
{
	if (!e->ok)
		return json_pack("{s:s, s:s, s:b, s:s}", "name", e->name, "path", e->path, "ok", 0,
		                 "error", e->error);
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:i, s:s, s:b}", "name", e->name, "path",
	                 e->path, "created", e->m.created, "last_seq", u64(e->m.last_seq), "position",
	                 u64(e->m.position), "bytes", u64(e->m.bytes), "journal_format",
	                 (int)e->m.journal_format, "chatjournal_version", e->m.version, "ok", 1);
}

static int dump(char **out, json_t *o)
{
	*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return *out ? 0 : cji_err(CJ_ENOMEM, "out of memory");
}

int cj_backup_list(char **json_out, const char *path)
{
	*json_out = NULL;
	char dir[4400];
	int is_store;
	int rc = resolve(dir, sizeof dir, &is_store, path);
	if (rc)
		return rc;
	entry *v;
	size_t n;
	if (is_store && !cji_exists(dir))
		return dump(json_out, json_array());
	if ((rc = scan(&v, &n, dir)))
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, entry_json(&v[i]));
	free(v);
	return dump(json_out, arr);
}

/* keep_days < 0: the store's retention.backup_keep_days. */
static int keep_days_of(int *keep_days, const char *path, int is_store)
{
	if (*keep_days >= 0)
		return 0;
	if (!is_store)
		return cji_err(CJ_EINVAL, "%s is not a store, so it has no retention.backup_keep_days: "
		               "give the number of days", path);
	cji_conf c;
	cji_conf_defaults(&c, NULL);
	int rc = cji_conf_load(&c, path, NULL);
	if (!rc)
		*keep_days = c.backup_keep_days > 100000 ? 100000 : (int)c.backup_keep_days;
	cji_conf_free(&c);
	return rc;
}

/* Out of the list first (a rename), then deleted. */
static int remove_backup(const char *dir, const entry *e)
{
	char tmp[4400];
	int rc = cji_temp_name(tmp, sizeof tmp, dir, "prune", NULL);
	if (rc)
		return rc;
	if (rename(e->path, tmp) != 0)
		rc = cji_err_errno(errno, "cannot rename %s", e->path);
	else if (!(rc = cji_fsync_dir(dir)))
		rc = cji_rmtree(tmp);
	cji_temp_done(tmp);
	return rc;
}

int cj_backup_prune(char **json_out, const char *path, int keep_days, int64_t now_ms)
{
	if (json_out)
		*json_out = NULL;
	char dir[4400];
	int is_store;
	int rc = resolve(dir, sizeof dir, &is_store, path);
	if (rc || (rc = keep_days_of(&keep_days, path, is_store)))
		return rc;
	if (!now_ms)
		now_ms = cji_now_ms();
	json_t *removed = json_array(), *kept = json_array();
	unsigned leftovers = 0;
	entry *v = NULL;
	size_t n = 0;
	if (cji_exists(dir) && !(rc = cji_temp_clean(&leftovers, dir, NULL, NULL, now_ms)))
		rc = scan(&v, &n, dir);
	/* The newest sound backup stays whatever its age. */
	size_t newest = n;
	for (size_t i = 0; i < n; i++)
		if (v[i].ok)
			newest = i;
	int64_t limit = now_ms - (int64_t)keep_days * MS_PER_DAY;
	for (size_t i = 0; i < n && !rc; i++) {
		if (v[i].ok && i != newest && v[i].m.created_ms < limit) {
			if (!(rc = remove_backup(dir, &v[i])))
				json_array_append_new(removed, json_string(v[i].name));
		} else {
			json_array_append_new(kept, json_string(v[i].name));
		}
	}
	free(v);
	json_t *o = json_pack("{s:o, s:o, s:i}", "removed", removed, "kept", kept, "leftovers_removed",
	                      (int)leftovers);
	if (rc || !json_out) {
		json_decref(o);
		return rc;
	}
	return dump(json_out, o);
}
