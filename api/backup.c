/* api/backup.c — cj_backup: a hot backup of a store.
 *
 * Order (docs/reliability.md, P4): the projection first, at its position
 * L, from one SQLite read transaction (materializer/snapshot.c); then the
 * journal, from one LMDB read transaction (journal/copy.c), whose last
 * sequence number J >= L because the projection only ever holds durable
 * journal events. A restore then needs only L+1..J replayed. Neither copy
 * blocks the writers: both are read transactions; only this process's map
 * growth waits for the journal copy (docs/operations.md, "Backups").
 *
 * Everything is written into "DIR/.tmp-backup-PID-N", fsynced, and the
 * folder renamed to its final name "UTC-TIME-seqJ", then DIR fsynced: a
 * backup exists whole or not at all. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "chatjournal/chatjournal.h"
#include "api/backup_internal.h"
#include "api/store_internal.h"
#include "materializer/db.h"
#include "materializer/snapshot.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

/* One progress figure over the whole backup: each phase reports from its
 * own zero, shifted by what the phases before it did. */
typedef struct progress {
	cj_progress_fn fn;
	void *arg;
	uint64_t base, total;
} progress;

static void phase_cb(uint64_t done, uint64_t total, void *arg)
{
	(void)total;
	progress *p = arg;
	uint64_t at = p->base + done;
	p->fn(at < p->total ? at : p->total, p->total, p->arg);
}

static int check_opts(cj_backup_options *out, const cj_backup_options *o)
{
	static const cj_backup_options defaults = CJ_BACKUP_OPTIONS_INIT;
	*out = defaults;
	if (!o)
		return 0;
	if (o->version != CJ_BACKUP_OPTIONS_VERSION)
		return cji_err(CJ_EINVAL, "backup options version %u, this build knows %u (use "
		               "CJ_BACKUP_OPTIONS_INIT)", o->version, CJ_BACKUP_OPTIONS_VERSION);
	*out = *o;
	return 0;
}

/* The folder of backups, made 0700 if missing (its parent must exist). */
static int backups_dir(char *out, size_t n, const cj_store *s, const char *dir)
{
	int rc = dir ? (snprintf(out, n, "%s", dir) < (int)n ? 0 : cji_err(CJ_ETOOBIG, "path too long"))
	             : cji_path_join(out, n, s->path, CJI_BACKUPS_DIR);
	if (rc)
		return rc;
	rc = cji_mkdir_private(out);
	if (rc == CJ_EEXIST) {
		struct stat st;
		if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode))
			return cji_err(CJ_EEXIST, "backup folder %s exists and is not a folder", out);
		return 0;
	}
	if (rc == CJ_ENOTFOUND)
		return cji_err(CJ_ENOTFOUND, "backup folder %s: its parent folder does not exist", out);
	return rc;
}

/* "20250102T030405.678Z-seq1234": UTC time of the backup and its journal's
 * last sequence number; names sort in time order. */
static void backup_name(char *out, size_t n, int64_t created_ms, uint64_t last_seq, int attempt)
{
	char t[32], c[32];
	cji_time_format(created_ms, t);
	size_t k = 0;
	for (const char *p = t; *p && k + 1 < sizeof c; p++)
		if (*p != '-' && *p != ':')
			c[k++] = *p;
	c[k] = '\0';
	if (attempt)
		snprintf(out, n, "%s-seq%llu-%d", c, (unsigned long long)last_seq, attempt + 1);
	else
		snprintf(out, n, "%s-seq%llu", c, (unsigned long long)last_seq);
}

static int add_file(cji_manifest *m, const char *name, const char *hex, uint64_t size)
{
	if (m->nfiles == CJI_BACKUP_MAX_FILES)
		return cji_err(CJ_ETOOBIG, "too many files in a backup");
	cji_manifest_file *f = &m->files[m->nfiles++];
	snprintf(f->name, sizeof f->name, "%s", name);
	memcpy(f->xxh3, hex, 33);
	f->size = size;
	m->bytes += size;
	return 0;
}

/* The journal: a compacted copy into a file we create 0600 ourselves
 * (LMDB's own copy would be world-readable: docs/reliability.md, L11),
 * hashed as it is written. */
static int copy_journal(char hex[33], uint64_t *size, cj_store *s, const char *tmp, progress *pg)
{
	char jdir[4500], file[4600];
	int rc = cji_path_join(jdir, sizeof jdir, tmp, CJI_JOURNAL_DIR);
	if (rc || (rc = cji_mkdir_private(jdir)) || (rc = cji_path_join(file, sizeof file, tmp, CJI_BACKUP_JOURNAL)))
		return rc;
	int fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cji_err_errno(errno, "cannot create %s", file);
	if (fchmod(fd, 0600) != 0)
		rc = cji_err_errno(errno, "cannot set mode of %s", file);
	if (!rc)
		rc = cji_journal_copy(hex, size, &s->journal, fd, pg->fn ? phase_cb : NULL, pg);
	if (close(fd) != 0 && !rc)
		rc = cji_err_errno(errno, "cannot close %s", file);
	return rc;
}

/* What the copy holds: its last sequence number and format. */
static int read_copy(cji_manifest *m, const char *tmp)
{
	char jdir[4500];
	int rc = cji_path_join(jdir, sizeof jdir, tmp, CJI_JOURNAL_DIR);
	if (rc)
		return rc;
	cji_journal j;
	cji_journal_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.read_only = CJI_ENV_SNAPSHOT;
	if ((rc = cji_journal_open(&j, jdir, &cfg, 0)))
		return rc;
	cji_journal_meta meta;
	if (!(rc = cji_journal_last_seq(&m->last_seq, &j)) && !(rc = cji_journal_meta_get(&meta, &j)))
		m->journal_format = meta.format_version;
	cji_journal_close(&j);
	return rc;
}

/* Copy the store's small files as they are (hashing what is written). */
static int copy_small(cji_manifest *m, const cj_store *s, const char *tmp, const char *name,
                      int optional)
{
	char src[4500], dst[4500], hex[33];
	uint64_t size;
	int rc = cji_path_join(src, sizeof src, s->path, name);
	if (rc || (rc = cji_path_join(dst, sizeof dst, tmp, name)))
		return rc;
	if (optional && !cji_exists(src))
		return 0;
	if ((rc = cji_file_copy(hex, &size, src, dst, NULL, NULL, 0, 0)))
		return rc;
	return add_file(m, name, hex, size);
}

/* The projection's checksum, taken on a helper thread while the journal is
 * copied: the file is complete and nobody writes it any more, and reading it
 * back from the page cache then costs no wall time. */
typedef struct hash_job {
	char path[4500];
	char hex[33];
	uint64_t size;
	int rc;
	cji_error_snapshot err;
} hash_job;

static void *hash_main(void *arg)
{
	hash_job *h = arg;
	h->rc = cji_file_xxh3(h->hex, &h->size, h->path, NULL, NULL, 0, 0);
	if (h->rc)
		cji_err_save(&h->err, h->rc);
	return NULL;
}

/* Every file and folder of the backup on disk before its rename. */
static int sync_tree(const char *tmp)
{
	char jdir[4500];
	int rc = cji_path_join(jdir, sizeof jdir, tmp, CJI_JOURNAL_DIR);
	if (!rc)
		rc = cji_fsync_dir(jdir);
	if (!rc)
		rc = cji_fsync_dir(tmp);
	return rc;
}

/* Rename tmp to its final name (a suffix if a backup of the same
 * millisecond and sequence exists: then the manifest, which states its
 * name, is written again), then fsync dir. */
static int publish(json_t **json, char *final, size_t n, const char *dir, const char *tmp,
                   const cji_manifest *m)
{
	char name[128];
	int rc = 0;
	for (int attempt = 0; attempt < 100; attempt++) {
		backup_name(name, sizeof name, m->created_ms, m->last_seq, attempt);
		if (snprintf(final, n, "%s/%s", dir, name) >= (int)n)
			return cji_err(CJ_ETOOBIG, "path too long: %s", dir);
		if (cji_exists(final))
			continue;
		char mpath[4500];
		json_decref(*json);
		*json = NULL;
		if ((rc = cji_path_join(mpath, sizeof mpath, tmp, CJI_MANIFEST_NAME)))
			return rc;
		unlink(mpath);
		if ((rc = cji_manifest_write(json, tmp, name, m)) || (rc = cji_fsync_dir(tmp)))
			return rc;
		if (rename(tmp, final) == 0)
			return cji_fsync_dir(dir);
		if (errno != EEXIST && errno != ENOTEMPTY)
			return cji_err_errno(errno, "cannot rename %s to %s", tmp, final);
	}
	return cji_err(CJ_EEXIST, "no free name for a backup in %s", dir);
}

static int take(json_t **json, char *final, size_t n, cj_store *s, const char *dir,
                const char *tmp, const cj_backup_options *o)
{
	cji_manifest m;
	memset(&m, 0, sizeof m);
	m.format_version = CJI_BACKUP_FORMAT;
	m.created_ms = cji_now_ms();
	cji_time_format(m.created_ms, m.created);
	snprintf(m.version, sizeof m.version, "%s", cj_version());
	/* Progress: the bytes of the two copies (hashing runs beside them). */
	struct stat st;
	cj_journal_stats js;
	uint64_t sq = stat(s->sqlite_path, &st) == 0 ? (uint64_t)st.st_size : 0;
	uint64_t jr = cji_journal_stats(&js, &s->journal) == 0 ? js.map_used : 0;
	progress pg = { o->progress, o->progress_arg, 0, sq + jr };
	char sqlite[4500];
	int rc = cji_mkdir_private(tmp);
	if (rc || (rc = cji_path_join(sqlite, sizeof sqlite, tmp, CJI_SQLITE_NAME)))
		return rc;
	if ((rc = cji_projection_snapshot(&m.position, &m.schema_version, s->sqlite_path, sqlite,
	                                  o->progress ? phase_cb : NULL, &pg)))
		return rc;
	pg.base = sq;
	hash_job h;
	memset(&h, 0, sizeof h);
	pthread_t ht;
	if ((rc = cji_path_join(h.path, sizeof h.path, tmp, CJI_SQLITE_NAME)))
		return rc;
	if (pthread_create(&ht, NULL, hash_main, &h) != 0)
		return cji_err(CJ_ENOMEM, "backup: cannot start a thread");
	char jhex[33];
	uint64_t jsize = 0;
	rc = copy_journal(jhex, &jsize, s, tmp, &pg);
	pthread_join(ht, NULL);
	if (!rc && h.rc)
		rc = cji_err_restore(&h.err);
	if (rc || (rc = read_copy(&m, tmp)))
		return rc;
	if (m.position > m.last_seq)
		return cji_err(CJ_EAHEAD, "%s is ahead of the journal (position %llu, journal ends at "
		               "%llu): a damaged store; run 'chatjournal replay' before a backup",
		               s->sqlite_path, (unsigned long long)m.position, (unsigned long long)m.last_seq);
	if ((rc = copy_small(&m, s, tmp, CJI_CONF_NAME, 0)) ||
	    (rc = add_file(&m, CJI_SQLITE_NAME, h.hex, h.size)) ||
	    (rc = add_file(&m, CJI_BACKUP_JOURNAL, jhex, jsize)) ||
	    (rc = copy_small(&m, s, tmp, CJI_TOKENS_NAME, 1)) || (rc = sync_tree(tmp)))
		return rc;
	if ((rc = publish(json, final, n, dir, tmp, &m)))
		return rc;
	if (o->progress)
		o->progress(pg.total, pg.total, o->progress_arg);
	return 0;
}

int cj_backup(char **manifest_json_out, cj_store *s, const cj_backup_options *user_opts)
{
	if (manifest_json_out)
		*manifest_json_out = NULL;
	cj_backup_options o;
	int rc = check_opts(&o, user_opts);
	if (rc)
		return rc;
	if (!s)
		return cji_err(CJ_EINVAL, "backup: no store");
	char dir[4200], tmp[4400], final[4400];
	if ((rc = backups_dir(dir, sizeof dir, s, o.dir)))
		return rc;
	/* Leftovers of backups killed before they were renamed. */
	cji_temp_clean(NULL, dir, NULL, NULL, 0);
	if ((rc = cji_temp_name(tmp, sizeof tmp, dir, "backup", NULL)))
		return rc;
	json_t *json = NULL;
	rc = take(&json, final, sizeof final, s, dir, tmp, &o);
	if (rc) {
		cji_error_snapshot err;
		cji_err_save(&err, rc);
		cji_rmtree(tmp);
		cji_err_restore(&err);
	}
	cji_temp_done(tmp);
	if (!rc && manifest_json_out) {
		json_object_set_new(json, "path", json_string(final));
		if (!(*manifest_json_out = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER)))
			rc = cji_err(CJ_ENOMEM, "out of memory");
	}
	json_decref(json);
	return rc;
}
