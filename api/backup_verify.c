/* api/backup_verify.c — cj_backup_verify: a backup is sound when its
 * manifest is intact, every file has the size and XXH3-128 the manifest
 * states, and a replay of its journal up to its projection's position has
 * the projection's canonical state hash. Nothing is written into the
 * backup: its journal is opened as a snapshot (no lock file), its
 * projection read-only (a rollback-journal file: no -wal or -shm), and the
 * replay goes to a temporary file in the backup's parent folder. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "chatjournal/backup.h"
#include "api/backup_internal.h"
#include "api/store_internal.h"
#include "materializer/db.h"
#include "materializer/replay.h"
#include "materializer/hash.h"
#include "materializer/schema.h"
#include "common/err.h"
#include "common/fsutil.h"

typedef struct verify_ctx {
	const char *dir;
	cji_manifest m;
	json_t *report;
	char scratch[4400];     /* the replay, when made */
	cj_progress_fn progress;
	void *arg;
} verify_ctx;

/* The position and the damaged-record count the backup's projection holds. */
static int projection_facts(uint64_t *pos, int *damaged, const char *path)
{
	sqlite3 *db;
	int rc = cji_db_open_ro(&db, path);
	if (rc)
		return rc;
	rc = cji_mat_stored_position(pos, db, 0);
	*damaged = 0;
	sqlite3_stmt *st;
	if (!rc && sqlite3_prepare_v2(db, "SELECT count(*) FROM damaged_records", -1, &st, NULL) == 0) {
		if (sqlite3_step(st) == SQLITE_ROW)
			*damaged = sqlite3_column_int(st, 0) > 0;
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return rc;
}

/* A temporary file beside the backup, else in $TMPDIR or /tmp. */
static int scratch_path(verify_ctx *c)
{
	char copy[4400], tmpdir[4400];
	snprintf(copy, sizeof copy, "%s", c->dir);
	const char *parent = dirname(copy);
	if (access(parent, W_OK) != 0) {
		const char *t = getenv("TMPDIR");
		snprintf(tmpdir, sizeof tmpdir, "%s", t && *t ? t : "/tmp");
		parent = tmpdir;
	}
	cji_temp_clean(NULL, parent, "verify", NULL, 0);
	return cji_temp_name(c->scratch, sizeof c->scratch, parent, "verify", NULL);
}

static void drop_scratch(verify_ctx *c)
{
	if (!c->scratch[0])
		return;
	unlink(c->scratch);
	cji_db_unlink_sidecars(c->scratch);
	cji_temp_done(c->scratch);
}

static json_t *u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Replay the backup's journal up to its position and compare state hashes. */
static int check_state(verify_ctx *c)
{
	char jdir[4400], sqlite[4400];
	int rc = cji_path_join(jdir, sizeof jdir, c->dir, CJI_JOURNAL_DIR);
	if (rc || (rc = cji_path_join(sqlite, sizeof sqlite, c->dir, CJI_SQLITE_NAME)))
		return rc;
	uint64_t pos = 0, last = 0;
	int damaged = 0;
	if ((rc = projection_facts(&pos, &damaged, sqlite)))
		return rc;
	if (pos != c->m.position)
		return cji_err(CJ_ECORRUPT, "%s: at position %llu, the manifest says %llu", sqlite,
		               (unsigned long long)pos, (unsigned long long)c->m.position);
	cji_journal j;
	cji_journal_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.read_only = CJI_ENV_SNAPSHOT;
	if ((rc = cji_journal_open(&j, jdir, &cfg, 0)))
		return rc;
	if (!(rc = cji_journal_last_seq(&last, &j)) && last != c->m.last_seq)
		rc = cji_err(CJ_ECORRUPT, "%s/data.mdb: ends at sequence %llu, the manifest says %llu", jdir,
		             (unsigned long long)last, (unsigned long long)c->m.last_seq);
	if (!rc && !(rc = scratch_path(c)))
		rc = cji_replay_build(&j, c->scratch, pos, damaged, c->progress, c->arg);
	cji_journal_close(&j);
	if (rc)
		return rc;
	char live[33], replay[33];
	/* A backup taken before an upgrade of the projection's schema: the
	 * replay (this build's schema) is hashed over the tables and columns the
	 * backup's schema has (a restore upgrades it; docs/operations.md). */
	int older = c->m.schema_version < cji_migrations_count;
	if ((rc = older ? cji_projection_hash_like(live, sqlite, sqlite)
	                : cj_projection_hash(live, NULL, sqlite)) ||
	    (rc = older ? cji_projection_hash_like(replay, c->scratch, sqlite)
	                : cj_projection_hash(replay, NULL, c->scratch)))
		return rc;
	if (older)
		json_object_set_new(c->report, "compared_as_schema", json_integer(c->m.schema_version));
	int equal = strcmp(live, replay) == 0;
	json_object_set_new(c->report, "projection_hash", json_string(live));
	json_object_set_new(c->report, "replay_hash", json_string(replay));
	json_object_set_new(c->report, "equal", json_boolean(equal));
	if (equal)
		return 0;
	char *diff = NULL;
	rc = cj_projection_diff(&diff, sqlite, c->scratch);
	rc = cji_err(CJ_ECORRUPT, "%s: its state differs from a replay of the backup's journal to "
	             "position %llu%s%s", sqlite, (unsigned long long)pos,
	             !rc && diff && *diff ? ": " : "", !rc && diff ? diff : "");
	cj_free(diff);
	return rc;
}

int cj_backup_verify(char **report_out, const char *backup_dir, cj_progress_fn progress,
                     void *arg)
{
	if (report_out)
		*report_out = NULL;
	if (!backup_dir || !*backup_dir)
		return cji_err(CJ_EINVAL, "backup verify: no backup folder");
	verify_ctx c;
	memset(&c, 0, sizeof c);
	c.dir = backup_dir;
	c.progress = progress;
	c.arg = arg;
	int rc = cji_manifest_read(&c.m, NULL, backup_dir);
	if (rc)
		return rc;
	json_t *files = json_array();
	c.report = json_pack("{s:s, s:b, s:o, s:o, s:o}", "backup", backup_dir, "ok", 0, "files", files,
	                     "last_seq", u64(c.m.last_seq), "position", u64(c.m.position));
	if (!(rc = cji_manifest_check_files(&c.m, backup_dir, files, progress, arg, 0, c.m.bytes)))
		rc = check_state(&c);
	cji_error_snapshot err;
	if (rc)
		cji_err_save(&err, rc);
	drop_scratch(&c);
	json_object_set_new(c.report, "ok", json_boolean(rc == 0));
	if (rc)
		json_object_set_new(c.report, "error", json_string(err.msg));
	if (report_out && !(*report_out = json_dumps(c.report, JSON_COMPACT | JSON_PRESERVE_ORDER)) && !rc)
		rc = cji_err(CJ_ENOMEM, "out of memory");
	json_decref(c.report);
	if (rc && err.code)
		cji_err_restore(&err);
	return rc;
}
