/* api/restore.c — cj_restore: a backup becomes a new store.
 *
 * Every checksum is checked before anything is made. The store is built in
 * "PARENT/.tmp-restore-PID-N-NAME" beside dest and renamed into place (over
 * dest when it is an empty folder), so dest is a whole store or untouched.
 * Without a cut the backup's journal and projection are copied (each copy
 * hashed again as it is written); the projection, at L <= J, catches up at
 * the first read-write open. With a cut, journal/cut.c builds a journal of
 * records 1..cut and the projection is replayed from it, so both end at the
 * cut. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "chatjournal/backup.h"
#include "api/backup_internal.h"
#include "api/store_internal.h"
#include "materializer/db.h"
#include "materializer/replay.h"
#include "materializer/schema.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

typedef struct restore_ctx {
	const char *backup;
	const char *dest;
	char tmp[4400];
	cji_manifest m;
	cj_restore_options o;
	uint64_t base, total;     /* progress over the whole restore */
	uint64_t last_seq, position;
	json_t *cut;              /* the report's "cut" */
	int tokens;
} restore_ctx;

static void phase_cb(uint64_t done, uint64_t total, void *arg)
{
	(void)total;
	restore_ctx *c = arg;
	uint64_t at = c->base + done;
	c->o.progress(at < c->total ? at : c->total, c->total, c->o.progress_arg);
}

/* Events replayed or cut, as a share of the backup's bytes: one bar. */
static void events_cb(uint64_t done, uint64_t total, void *arg)
{
	restore_ctx *c = arg;
	uint64_t span = c->m.bytes / 2;
	phase_cb(total ? (uint64_t)((double)done / (double)total * (double)span) : 0, 0, arg);
}

static int check_opts(cj_restore_options *out, const cj_restore_options *o)
{
	static const cj_restore_options defaults = CJ_RESTORE_OPTIONS_INIT;
	*out = defaults;
	if (!o)
		return 0;
	if (o->version != CJ_RESTORE_OPTIONS_VERSION)
		return cji_err(CJ_EINVAL, "restore options version %u, this build knows %u (use "
		               "CJ_RESTORE_OPTIONS_INIT)", o->version, CJ_RESTORE_OPTIONS_VERSION);
	if (o->until_seq && o->until_time)
		return cji_err(CJ_EINVAL, "restore: cut by sequence number or by time, not both");
	*out = *o;
	return 0;
}

/* dest must be new (its parent existing) or an empty folder. */
static int check_dest(char *parent, size_t pn, char *name, size_t nn, const char *dest)
{
	char copy[4400];
	size_t len = strlen(dest);
	while (len > 1 && dest[len - 1] == '/')
		len--;
	if (len == 0 || len >= sizeof copy)
		return cji_err(CJ_EINVAL, "restore: bad destination '%s'", dest);
	snprintf(copy, sizeof copy, "%.*s", (int)len, dest);
	struct stat st;
	if (lstat(copy, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return cji_err(CJ_EEXIST, "%s exists and is not a folder: restore into a new or empty "
			               "folder", dest);
		int e = cji_dir_empty(copy);
		if (e < 0)
			return e;
		if (!e)
			return cji_err(CJ_EEXIST, "%s is not empty: restore into a new or empty folder", dest);
	} else if (errno != ENOENT) {
		return cji_err_errno(errno, "cannot look at %s", dest);
	}
	char b[4400], d[4400];
	snprintf(b, sizeof b, "%s", copy);
	snprintf(d, sizeof d, "%s", copy);
	const char *base = basename(b), *dir = dirname(d);
	if (strcmp(base, "/") == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return cji_err(CJ_EINVAL, "restore: bad destination '%s'", dest);
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return cji_err(CJ_ENOTFOUND, "%s: its parent folder %s does not exist", dest, dir);
	if (snprintf(parent, pn, "%s", dir) >= (int)pn || snprintf(name, nn, "%s", base) >= (int)nn)
		return cji_err(CJ_ETOOBIG, "path too long: %s", dest);
	return 0;
}

/* Copy one file of the backup into the new store; what is written must
 * hash as the manifest says. */
static int copy_checked(restore_ctx *c, const char *name)
{
	const cji_manifest_file *f = cji_manifest_find(&c->m, name);
	char src[4500], dst[4500], hex[33];
	uint64_t size;
	int rc = cji_path_join(src, sizeof src, c->backup, name);
	if (rc || (rc = cji_path_join(dst, sizeof dst, c->tmp, name)))
		return rc;
	if ((rc = cji_file_copy(hex, &size, src, dst, c->o.progress ? phase_cb : NULL, c, 0, 0)))
		return rc;
	c->base += size;
	if (size != f->size || strcmp(hex, f->xxh3) != 0)
		return cji_err(CJ_ECORRUPT, "%s: damaged (it changed while it was restored)", src);
	return 0;
}

/* Where the cut falls, and what the report says about it. */
static int place_cut(restore_ctx *c, uint64_t *cut, cji_journal *src)
{
	if (c->o.until_seq) {
		if (c->o.until_seq > c->m.last_seq)
			return cji_err(CJ_EINVAL, "the backup ends at sequence %llu: a cut at %llu is past it "
			               "(restore without a cut to keep everything)",
			               (unsigned long long)c->m.last_seq, (unsigned long long)c->o.until_seq);
		*cut = c->o.until_seq;
		c->cut = json_pack("{s:I}", "until_seq", (json_int_t)*cut);
		return 0;
	}
	int64_t at;
	int rc = cji_commits_cut(cut, &at, src, c->o.until_ms);
	if (rc)
		return rc;
	char until[32], commit[32];
	cji_time_format(c->o.until_ms, until);
	cji_time_format(at, commit);
	c->cut = json_pack("{s:s, s:s, s:I}", "until", until, "commit_time", commit, "until_seq",
	                   (json_int_t)*cut);
	return 0;
}

/* The journal records 1..cut and a projection replayed to match. */
static int build_cut(restore_ctx *c)
{
	char sdir[4500], ddir[4500], sqlite[4500];
	int rc = cji_path_join(sdir, sizeof sdir, c->backup, CJI_JOURNAL_DIR);
	if (rc || (rc = cji_path_join(ddir, sizeof ddir, c->tmp, CJI_JOURNAL_DIR)) ||
	    (rc = cji_path_join(sqlite, sizeof sqlite, c->tmp, CJI_SQLITE_NAME)))
		return rc;
	cji_journal src, dst;
	cji_journal_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.read_only = CJI_ENV_SNAPSHOT;
	if ((rc = cji_journal_open(&src, sdir, &cfg, 0)))
		return rc;
	uint64_t cut = 0;
	if (!(rc = place_cut(c, &cut, &src)))
		rc = cji_journal_cut(ddir, &src, cut, c->o.progress ? events_cb : NULL, c);
	cji_journal_close(&src);
	if (rc)
		return rc;
	c->base += c->m.bytes / 2;
	cfg.read_only = CJI_ENV_RO;
	if ((rc = cji_journal_open(&dst, ddir, &cfg, 0)))
		return rc;
	rc = cji_replay_build(&dst, sqlite, cut, c->o.skip_damaged, c->o.progress ? events_cb : NULL, c);
	cji_journal_close(&dst);
	c->last_seq = c->position = cut;
	return rc;
}

/* A projection of an older schema (checked by its hash like the rest) is
 * not copied: this build's schema would re-apply the journal at the first
 * open (docs/schema.md), so the restore replays it now, to the backup's
 * projection position, and the store verifies and serves at once. */
static int replay_older(restore_ctx *c, const char *jdir)
{
	char sqlite[4500];
	int rc = cji_path_join(sqlite, sizeof sqlite, c->tmp, CJI_SQLITE_NAME);
	if (rc)
		return rc;
	cji_journal j;
	cji_journal_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.read_only = CJI_ENV_RO;
	if ((rc = cji_journal_open(&j, jdir, &cfg, 0)))
		return rc;
	rc = cji_replay_build(&j, sqlite, c->m.position, c->o.skip_damaged,
	                      c->o.progress ? events_cb : NULL, c);
	cji_journal_close(&j);
	return rc;
}

static int build(restore_ctx *c)
{
	char jdir[4500], bdir[4500];
	int rc = cji_mkdir_private(c->tmp);
	if (rc || (rc = cji_path_join(jdir, sizeof jdir, c->tmp, CJI_JOURNAL_DIR)) ||
	    (rc = cji_path_join(bdir, sizeof bdir, c->tmp, CJI_BACKUPS_DIR)) ||
	    (rc = cji_mkdir_private(jdir)) || (rc = cji_mkdir_private(bdir)))
		return rc;
	if (c->o.until_seq || c->o.until_time) {
		rc = build_cut(c);
	} else {
		c->last_seq = c->m.last_seq;
		c->position = c->m.position;
		c->cut = json_false();
		if (!(rc = copy_checked(c, CJI_BACKUP_JOURNAL)))
			rc = c->m.schema_version < cji_migrations_count ? replay_older(c, jdir)
			                                                : copy_checked(c, CJI_SQLITE_NAME);
	}
	if (rc)
		return rc;
	c->tokens = !c->o.without_tokens && cji_manifest_find(&c->m, CJI_TOKENS_NAME);
	if (c->tokens && (rc = copy_checked(c, CJI_TOKENS_NAME)))
		return rc;
	/* chatjournal.conf last: its presence marks a whole store (as at init). */
	if ((rc = copy_checked(c, CJI_CONF_NAME)) || (rc = cji_fsync_dir(jdir)) ||
	    (rc = cji_fsync_dir(bdir)) || (rc = cji_fsync_dir(c->tmp)))
		return rc;
	return 0;
}

static int publish(restore_ctx *c, const char *parent)
{
	char target[4400];
	size_t len = strlen(c->dest);
	while (len > 1 && c->dest[len - 1] == '/')
		len--;
	snprintf(target, sizeof target, "%.*s", (int)len, c->dest);
	/* Over an empty folder too: rename(2) replaces an empty directory. */
	if (rename(c->tmp, target) != 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			return cji_err(CJ_EEXIST, "%s is not empty any more: restore into a new or empty folder",
			               c->dest);
		if (errno == EBUSY)
			return cji_err(CJ_EPERM, "%s is a mount point: restore into a new folder inside it",
			               c->dest);
		return cji_err_errno(errno, "cannot rename %s to %s", c->tmp, c->dest);
	}
	return cji_fsync_dir(parent);
}

int cj_restore(char **report_out, const char *backup_dir, const char *dest,
               const cj_restore_options *opts)
{
	if (report_out)
		*report_out = NULL;
	restore_ctx c;
	memset(&c, 0, sizeof c);
	int rc = check_opts(&c.o, opts);
	if (rc)
		return rc;
	if (!backup_dir || !*backup_dir || !dest || !*dest)
		return cji_err(CJ_EINVAL, "restore: no backup or no destination");
	c.backup = backup_dir;
	c.dest = dest;
	char parent[4400], name[256];
	if ((rc = cji_manifest_read(&c.m, NULL, backup_dir)))
		return rc;
	c.total = 2 * c.m.bytes;
	/* A damaged backup is refused before anything is made. */
	if ((rc = cji_manifest_check_files(&c.m, backup_dir, NULL, c.o.progress ? phase_cb : NULL, &c,
	                                   0, c.total)))
		return rc;
	c.base = c.m.bytes;
	if ((rc = check_dest(parent, sizeof parent, name, sizeof name, dest)))
		return rc;
	cji_temp_clean(NULL, parent, "restore", name, 0);
	if ((rc = cji_temp_name(c.tmp, sizeof c.tmp, parent, "restore", name)))
		return rc;
	if (!(rc = build(&c)))
		rc = publish(&c, parent);
	if (rc) {
		cji_error_snapshot err;
		cji_err_save(&err, rc);
		cji_rmtree(c.tmp);
		cji_err_restore(&err);
	}
	cji_temp_done(c.tmp);
	if (!rc && c.o.progress)
		c.o.progress(c.total, c.total, c.o.progress_arg);
	if (!rc && report_out) {
		json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:O, s:b}", "dest", dest, "backup", backup_dir,
		                      "last_seq", (json_int_t)c.last_seq, "position", (json_int_t)c.position,
		                      "cut", c.cut, "tokens", c.tokens);
		if (!o || !(*report_out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)))
			rc = cji_err(CJ_ENOMEM, "out of memory");
		json_decref(o);
	}
	json_decref(c.cut);
	return rc;
}
