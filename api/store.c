/* api/store.c — store lifecycle: the directory layout (docs/operations.md, "A store"),
 * chatjournal.conf, and the journal inside. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
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

/* The caller's options as this build's struct: a caller built against an
 * older version passed a shorter struct, whose missing fields keep their
 * defaults. */
static int check_opts(cj_store_options *out, const cj_store_options *o)
{
	static const cj_store_options defaults = CJ_STORE_OPTIONS_INIT;
	static const size_t size_of[] = { 0, offsetof(cj_store_options, check_projection),
	                                   sizeof(cj_store_options) };
	*out = defaults;
	if (!o)
		return 0;
	if (o->version < 1 || o->version > CJ_STORE_OPTIONS_VERSION)
		return cji_err(CJ_EINVAL, "store options version %u, this build knows 1..%u (use CJ_STORE_OPTIONS_INIT)",
		               o->version, CJ_STORE_OPTIONS_VERSION);
	memcpy(out, o, size_of[o->version]);
	out->version = CJ_STORE_OPTIONS_VERSION;
	return 0;
}

/* SQLite's quick_check of the projection (every page, not the index
 * contents): a damaged file is refused at open rather than served. */
static int check_projection(const char *path)
{
	sqlite3 *db;
	int rc = cji_db_open_ro(&db, path);
	if (rc)
		goto out;
	sqlite3_stmt *st;
	char first[256] = "";
	int bad = 0;
	if ((rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL)) == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *line = (const char *)sqlite3_column_text(st, 0);
			if (line && strcmp(line, "ok") != 0 && !bad++)
				snprintf(first, sizeof first, "%s", line);
		}
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		rc = cji_err_sqlite(rc, sqlite3_errmsg(db), "quick_check");
	else
		rc = bad ? cji_err(CJ_ECORRUPT, "quick_check: %s", first) : 0;
	sqlite3_close(db);
out:
	if (rc == CJ_ECORRUPT) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", cj_error_last());
		return cji_err(CJ_ECORRUPT, "the projection %s is damaged (%s): run 'chatjournal replay'",
		               path, msg);
	}
	return rc;
}

static int journal_dir(char *out, size_t n, const char *store)
{
	return cji_path_join(out, n, store, CJI_JOURNAL_DIR);
}

int cj_store_init(const char *path, const cj_store_options *user_opts)
{
	cj_store_options o, *opts = &o;
	int rc = check_opts(&o, user_opts);
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

/* The materializer's on_replace: a scrub put a new file at the path (this
 * process's, or another's seen by the passive thread). Readers of the old
 * file finish there; new queries open the new one. */
static void projection_replaced(void *arg)
{
	cj_store *s = arg;
	cji_readers_reset(s->readers);
}

int cj_store_open(cj_store **out, const char *path, const cj_store_options *user_opts)
{
	*out = NULL;
	cj_store_options o, *opts = &o;
	int rc = check_opts(&o, user_opts);
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
	pthread_mutex_init(&s->health_mu, NULL);
	cji_conf_defaults(&s->conf, opts);
	char jdir[4200];
	if ((rc = cji_conf_load(&s->conf, path, opts)) || (rc = journal_dir(jdir, sizeof jdir, path)))
		goto fail;
	if ((rc = cji_path_join(s->sqlite_path, sizeof s->sqlite_path, path, CJI_SQLITE_NAME)))
		goto fail;
	if (opts->check_projection && (rc = check_projection(s->sqlite_path)))
		goto fail;
	if (!s->conf.journal.read_only && !opts->no_materializer) {
		if ((rc = cji_mat_new(&s->mat, &s->journal, s->sqlite_path)))
			goto fail;
		s->conf.journal.on_commit = cji_mat_notify;
		s->conf.journal.on_commit_arg = s->mat;
		/* A compaction (of any process) swapped the journal: the process
		 * that materializes scrubs the projection (api/compact.c). */
		s->conf.journal.on_swap = cji_mat_request_scrub;
		s->conf.journal.on_swap_arg = s->mat;
	}
	/* Before the materializer starts: its scrub replaces the file and
	 * moves the readers (on_replace). */
	if ((rc = cji_readers_new(&s->readers, s->sqlite_path)))
		goto fail;
	if (s->mat)
		cji_mat_set_on_replace(s->mat, projection_replaced, s);
	if ((rc = cji_journal_open(&s->journal, jdir, &s->conf.journal, 0)))
		goto fail;
	if (s->mat && (rc = cji_mat_start(s->mat))) {
		rc = cji_store_projection_result(s, rc); /* a damaged file: say what to do */
		cji_journal_close(&s->journal);
		goto fail;
	}
	cji_leftovers_remove(s);
	*out = s;
	return 0;
fail:
	cji_mat_free(s->mat);
	cji_readers_free(s->readers);
	cji_conf_free(&s->conf);
	pthread_mutex_destroy(&s->health_mu);
	free(s);
	return rc;
}

#define CLOSE_CATCH_UP_MAX 50000u  /* events the close waits for: ~1-2 s of projecting */

/* Here, with the store's state, rather than in health.c (which reads the
 * projection's position through query.c, whose reads come here). */
int cji_store_projection_result(cj_store *s, int rc)
{
	if (rc != CJ_ECORRUPT || !s)
		return rc;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", cj_error_last());
	pthread_mutex_lock(&s->health_mu);
	if (!s->projection_damaged)
		snprintf(s->damage, sizeof s->damage, "%s", msg);
	s->projection_damaged = 1;
	pthread_mutex_unlock(&s->health_mu);
	return cji_err(CJ_ECORRUPT, "the projection %s is damaged (%s): run 'chatjournal replay'",
	               s->sqlite_path, msg);
}

int cj_store_defer_projection(cj_store *s, int defer)
{
	if (!s)
		return cji_err(CJ_EINVAL, "cj_store_defer_projection: no store");
	if (s->mat)
		cji_mat_defer(s->mat, defer);
	return 0;
}

void cj_store_close(cj_store *s)
{
	if (!s)
		return;
	/* Writer first (its last commits notify the materializer), then the
	 * materializer (it reads the journal; it catches up at the next open),
	 * then the environment. */
	cji_journal_stop(&s->journal);
	if (s->mat && cji_mat_is_progressing(s->mat)) {
		/* Let the projection catch up with what this handle wrote, briefly:
		 * a CLI append then leaves an up-to-date projection behind. (A
		 * paused materializer would only make us wait 2 s.) */
		uint64_t last = 0;
		/* Only when it can: past ~50k events (a bulk load that held its
		 * projection) 2 s would do a fraction, and the next open does it. */
		if (cji_journal_last_seq(&last, &s->journal) == 0 &&
		    last - cji_mat_position(s->mat) <= CLOSE_CATCH_UP_MAX &&
		    cji_mat_wait(s->mat, last, 2000) != 0)
			cj_error_clear();
	}
	cji_mat_free(s->mat);
	cji_journal_close(&s->journal);
	cji_readers_free(s->readers);
	cji_conf_free(&s->conf);
	pthread_mutex_destroy(&s->health_mu);
	free(s);
}
