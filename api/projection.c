/* api/projection.c — rebuilding a store's projection: the materializer
 * layer builds the file (materializer/replay.c); this file puts it in place,
 * which takes the whole store: the live materializer is paused for the whole
 * rebuild (it would only project the same events a second time on the same
 * two cores), and the reader pool moves to the new file. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include "api/store_internal.h"
#include "api/leftovers.h"
#include "api/readers.h"
#include "materializer/db.h"
#include "materializer/replay.h"
#include "common/err.h"
#include "common/fsutil.h"

/* Swap the built file tmp into target. */
static int put_in_place(const char *tmp, const char *target)
{
	cji_db_unlink_sidecars(target);
	int rc = 0;
	if (rename(tmp, target) != 0)
		rc = cji_err_errno(errno, "replay: cannot rename %s to %s", tmp, target);
	if (!rc)
		rc = cji_fsync_parent(target);
	return rc;
}

int cj_projection_replay(cj_store *s, const cj_replay_options *opts)
{
	static const cj_replay_options defaults = CJ_REPLAY_OPTIONS_INIT;
	if (!opts)
		opts = &defaults;
	if (!s || opts->version != CJ_REPLAY_OPTIONS_VERSION)
		return cji_err(CJ_EINVAL, "replay: no store or unknown options version (use CJ_REPLAY_OPTIONS_INIT)");
	const char *out_path = opts->out_path;
	int in_place = out_path == NULL;
	const char *target = in_place ? s->sqlite_path : out_path;
	if (in_place && s->mat && cji_mat_is_passive(s->mat))
		return cji_err(CJ_EBUSY, "replay: another process (chatjournal serve?) is materializing "
		               "this store; stop it first");
	if (in_place && !s->mat)
		return cji_err(CJ_EPERM, "replay in place needs the store opened read-write");
	char tmp[4400];
	if (snprintf(tmp, sizeof tmp, "%s%s", target, CJI_REPLAY_TMP_SUFFIX) >= (int)sizeof tmp)
		return cji_err(CJ_ETOOBIG, "path too long: %s", target);
	uint64_t last = opts->up_to;
	int rc = 0;
	if (!last && (rc = cji_journal_last_seq(&last, &s->journal)))
		return rc;
	if (in_place)
		cji_mat_pause(s->mat);
	rc = cji_replay_build(&s->journal, tmp, last, opts->skip_damaged, opts->progress,
	                      opts->progress_arg);
	if (!rc && (rc = put_in_place(tmp, target))) {
		unlink(tmp);
		cji_db_unlink_sidecars(tmp);
	}
	if (!in_place)
		return rc;
	if (!rc) {
		/* Readers of the old file finish there; new queries open the new
		 * one. Whatever damage the old file had is gone. */
		cji_readers_reset(s->readers);
		pthread_mutex_lock(&s->health_mu);
		s->projection_damaged = 0;
		s->damage[0] = '\0';
		pthread_mutex_unlock(&s->health_mu);
	}
	int r = cji_mat_resume(s->mat);
	return rc ? rc : r;
}

int cj_projection_watch(cj_watch **out, cj_store *s, uint64_t seq, void (*fn)(void *arg),
                        void *arg)
{
	*out = NULL;
	if (!s || !fn)
		return cji_err(CJ_EINVAL, "watch: no store or no callback");
	if (!s->mat)
		return cji_err(CJ_EPERM, "this handle does not materialize (read-only or no_materializer): "
		               "nothing to wait for");
	return cji_mat_watch(out, s->mat, seq, fn, arg);
}

void cj_watch_free(cj_store *s, cj_watch *w)
{
	if (s && s->mat)
		cji_mat_unwatch(s->mat, w);
}
