/* api/store.c — store lifecycle: the directory layout (docs/operations.md, "A store"),
 * chatjournal.conf, and the journal inside. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "api/store_internal.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "materializer/db.h"
#include "api/leftovers.h"
#include "api/readers.h"

const char *cj_store_path(const cj_store *s) { return s ? s->path : NULL; }
const cj_limits *cj_store_limits(const cj_store *s) { return &s->journal.limits; }

static int check_opts(const cj_store_options *o)
{
	if (o && o->version != CJ_STORE_OPTIONS_VERSION)
		return cji_err(CJ_EINVAL, "store options version %u, this build knows %u (use CJ_STORE_OPTIONS_INIT)",
		               o->version, CJ_STORE_OPTIONS_VERSION);
	return 0;
}

static int journal_dir(char *out, size_t n, const char *store)
{
	return cji_path_join(out, n, store, CJI_JOURNAL_DIR);
}

int cj_store_init(const char *path, const cj_store_options *opts)
{
	int rc = check_opts(opts);
	if (rc)
		return rc;
	if (!path || !*path)
		return cji_err(CJ_EINVAL, "init: no store path");
	char conf_path[4200], jdir[4200], bdir[4200];
	if ((rc = cji_path_join(conf_path, sizeof conf_path, path, CJI_CONF_NAME)) ||
	    (rc = journal_dir(jdir, sizeof jdir, path)) ||
	    (rc = cji_path_join(bdir, sizeof bdir, path, CJI_BACKUPS_DIR)))
		return rc;
	if (cji_exists(conf_path) || cji_exists(jdir))
		return cji_err(CJ_EEXIST, "%s is already a chatjournal store", path);
	rc = cji_mkdir_private(path);
	if (rc == CJ_EEXIST) {
		struct stat st;
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			return cji_err(CJ_EEXIST, "%s exists and is not a folder", path);
		if (chmod(path, 0700) != 0)
			return cji_err_errno(errno, "cannot set mode of %s", path);
	} else if (rc) {
		return rc;
	}
	if ((rc = cji_mkdir_private(jdir)) || ((rc = cji_mkdir_private(bdir)) && rc != CJ_EEXIST))
		return rc;
	cji_conf conf;
	cji_conf_defaults(&conf, opts);
	cji_journal_config jc = conf.journal;
	jc.read_only = 0;
	cji_env env;
	rc = cji_env_open(&env, jdir, jc.map_initial, jc.map_ceiling, 0, 1);
	if (rc == 0) {
		cji_env_close(&env);
		/* The conf file is written last: its presence marks a complete store. */
		rc = cji_conf_save(&conf, path);
	}
	cji_conf_free(&conf);
	if (rc == 0) {
		/* The projection exists from the start, so analysts see the schema. */
		char sq[4200];
		sqlite3 *db;
		if ((rc = cji_path_join(sq, sizeof sq, path, CJI_SQLITE_NAME)) == 0 &&
		    (rc = cji_db_open_rw(&db, sq)) == 0)
			sqlite3_close(db);
	}
	if (rc == 0)
		rc = cji_fsync_dir(path);
	return rc;
}

int cj_store_open(cj_store **out, const char *path, const cj_store_options *opts)
{
	*out = NULL;
	int rc = check_opts(opts);
	if (rc)
		return rc;
	if (!path || !*path)
		return cji_err(CJ_EINVAL, "open: no store path");
	cj_store *s = calloc(1, sizeof *s);
	if (!s)
		return cji_err(CJ_ENOMEM, "out of memory");
	if (strlen(path) >= sizeof s->path) {
		free(s);
		return cji_err(CJ_ETOOBIG, "path too long: %s", path);
	}
	strcpy(s->path, path);
	cji_conf_defaults(&s->conf, opts);
	char jdir[4200];
	if ((rc = cji_conf_load(&s->conf, path, opts)) || (rc = journal_dir(jdir, sizeof jdir, path)))
		goto fail;
	if ((rc = cji_path_join(s->sqlite_path, sizeof s->sqlite_path, path, CJI_SQLITE_NAME)))
		goto fail;
	if (!s->conf.journal.read_only) {
		if ((rc = cji_mat_new(&s->mat, &s->journal, s->sqlite_path)))
			goto fail;
		s->conf.journal.on_commit = cji_mat_notify;
		s->conf.journal.on_commit_arg = s->mat;
	}
	if ((rc = cji_journal_open(&s->journal, jdir, &s->conf.journal, 0)))
		goto fail;
	if (s->mat && (rc = cji_mat_start(s->mat))) {
		cji_journal_close(&s->journal);
		goto fail;
	}
	cji_leftovers_remove(s);
	if ((rc = cji_readers_new(&s->readers, s->sqlite_path))) {
		cj_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
fail:
	cji_mat_free(s->mat);
	cji_conf_free(&s->conf);
	free(s);
	return rc;
}

void cj_store_close(cj_store *s)
{
	if (!s)
		return;
	/* Writer first (its last commits notify the materializer), then the
	 * materializer (it reads the journal; it catches up at the next open),
	 * then the environment. */
	cji_journal_stop(&s->journal);
	if (s->mat) {
		/* Let the projection catch up with what this handle wrote, briefly:
		 * a CLI append then leaves an up-to-date projection behind. */
		uint64_t last = 0;
		if (cji_journal_last_seq(&last, &s->journal) == 0 && cji_mat_wait(s->mat, last, 2000) != 0)
			cj_error_clear();
	}
	cji_mat_free(s->mat);
	cji_journal_close(&s->journal);
	cji_readers_free(s->readers);
	cji_conf_free(&s->conf);
	free(s);
}
