/* journal/target.c — events about one message (edit_message, delete_message,
 * reaction) name it by its "id" in "target". At append, the target must be
 * a message of the same thread: stored before (found through its
 * idempotency entry) or earlier in the same batch. Checked in the caller's
 * thread, before the ticket is queued, for a clear early error; ids are
 * never removed from the journal (compaction keeps them), so a target found
 * here is still there when the event commits. */
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/event_internal.h"
#include "journal/keys.h"
#include "common/err.h"

static int is_targeting(cj_event_type t)
{
	return t == CJ_EVENT_EDIT_MESSAGE || t == CJ_EVENT_DELETE_MESSAGE || t == CJ_EVENT_REACTION;
}

int cji_journal_id_seq(uint64_t *seq, cji_journal *j, const char *id)
{
	*seq = 0;
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_val k = { strlen(id), (void *)id }, v;
	uint8_t fp[16];
	int mrc = mdb_get(txn, j->env.idem, &k, &v);
	if (mrc == 0 && cji_idem_val_get(&v, seq, fp) != 0)
		mrc = MDB_CORRUPTED;
	cji_env_read_end(&j->env, txn);
	if (mrc == MDB_NOTFOUND)
		return 0;
	if (mrc)
		return cji_err_mdb(mrc, "journal: cannot look up id '%.64s'", id);
	return 1;
}

/* The stored event whose id is `id`: 1 and *ev_out (free it), 0 if no event
 * has that id, or an error. */
static int stored_by_id(cj_event **ev_out, cji_journal *j, const char *id)
{
	*ev_out = NULL;
	uint64_t seq;
	int rc = cji_journal_id_seq(&seq, j, id);
	if (rc <= 0)
		return rc;
	cj_record rec;
	if ((rc = cji_journal_get(ev_out, &rec, j, seq)))
		return rc;
	return 1;
}

/* Why a found event is not a valid target: 0 if it is one. */
static int judge(const char *target, const char *thread, const cj_event *found)
{
	if (found->type != CJ_EVENT_MESSAGE)
		return cji_err_field(CJ_EINVAL, "target", "field 'target': the event with id '%.64s' "
		                     "is a %s, not a message", target, cj_event_type_name(found->type));
	const char *t = cj_event_get_string(found, "thread");
	if (!t || strcmp(t, thread) != 0)
		return cji_err_field(CJ_EINVAL, "target", "field 'target': message '%.64s' is in "
		                     "another thread", target);
	return 0;
}

int cji_check_target(cji_journal *j, const cj_event *const *evs, size_t i)
{
	const cj_event *ev = evs[i];
	if (!is_targeting(ev->type))
		return 0;
	const char *target = cj_event_get_string(ev, "target");
	const char *thread = cj_event_get_string(ev, "thread");
	if (!target || !thread)
		return 0; /* validation reported it */
	/* Earlier in the same batch: the latest event with that id wins (a
	 * duplicate id later in the batch is the journal's business). */
	for (size_t k = i; k-- > 0;) {
		const char *id = cji_event_id(evs[k]);
		if (!id || strcmp(id, target) != 0)
			continue;
		return judge(target, thread, evs[k]);
	}
	cj_event *stored;
	int rc = stored_by_id(&stored, j, target);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return cji_err_field(CJ_EINVAL, "target", "field 'target': no message with id '%.64s' "
		                     "in this store (a message is targeted by the \"id\" it was "
		                     "appended with)", target);
	rc = judge(target, thread, stored);
	cj_event_free(stored);
	return rc;
}
