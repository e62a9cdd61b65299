/* api/projection.c — rebuilding a store's projection: the materializer
 * layer builds the file (materializer/replay.c); this file puts it in place,
 * which takes the whole store: the live materializer is paused while the
 * file is swapped, and the reader pool moves to the new file. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include "api/store_internal.h"
#include "api/leftovers.h"
#include "api/readers.h"
#include "materializer/replay.h"
#include "common/err.h"
#include "common/fsutil.h"

/* Swap the built file tmp into target; the store's own file (in_place) is
 * swapped with its materializer paused and its readers reset. */
static int put_in_place(cj_store *s, const char *tmp, const char *target, int in_place)
{
	if (in_place && s->mat)
		cji_mat_pause(s->mat);
	cji_replay_unlink_sidecars(target);
	int rc = 0;
	if (rename(tmp, target) != 0)
		rc = cji_err_errno(errno, "replay: cannot rename %s to %s", tmp, target);
	if (!rc)
		rc = cji_fsync_parent(target);
	if (in_place) {
		/* Readers of the old file finish there; new queries open the new one. */
		cji_readers_reset(s->readers);
		int r = s->mat ? cji_mat_resume(s->mat) : 0;
		if (!rc)
			rc = r;
	}
	return rc;
}

int cj_projection_replay(cj_store *s, const char *out_path, uint64_t up_to,
                         cj_progress_fn progress, void *arg)
{
	if (!s)
		return cji_err(CJ_EINVAL, "replay: no store");
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
	uint64_t last = up_to;
	int rc = 0;
	if (!last && (rc = cji_journal_last_seq(&last, &s->journal)))
		return rc;
	if ((rc = cji_replay_build(&s->journal, tmp, last, progress, arg)))
		return rc;
	if ((rc = put_in_place(s, tmp, target, in_place))) {
		unlink(tmp);
		cji_replay_unlink_sidecars(tmp);
	}
	return rc;
}
