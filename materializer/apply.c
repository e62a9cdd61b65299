/* materializer/apply.c — one journal event -> rows in the projection, in
 * the materializer's (or replay's) open transaction: settle what the batch
 * holds back where the event needs it (writebehind.c), then the event's own
 * rows (apply_rows.c, apply_delete.c). FTS rows are written explicitly (no
 * triggers): external-content FTS5 needs the exact old values on delete,
 * which the deletions read from the content row just before deleting it. */
#include "materializer/apply_sql.h"
#include "journal/event_internal.h"
#include "common/err.h"
#include "common/timeutil.h"

/* ---- dispatch ----------------------------------------------------------- */

int cji_apply_event(cji_apply *a, uint64_t seq, const cj_event *ev, int64_t ts_ms)
{
	const json_t *o = ev->obj;
	char tstext[32];
	cji_time_format(ts_ms, tstext);
	int rc = 0;
	/* An edit also deletes an FTS row (with its exact text): the batch's
	 * pending FTS rows must be in the index first, as for a deletion. */
	int deletes = ev->type == CJ_EVENT_DELETE_THREAD || ev->type == CJ_EVENT_CLEAR_HISTORY ||
	              ev->type == CJ_EVENT_PURGE || ev->type == CJ_EVENT_DELETE_MESSAGE ||
	              ev->type == CJ_EVENT_REDACT_EDITS;
	if (deletes && a->before_delete) {
		int (*fn)(void *) = a->before_delete;
		a->before_delete = NULL;
		if ((rc = fn(a->before_delete_arg)))
			return rc;
	}
	if (deletes || ev->type == CJ_EVENT_EDIT_MESSAGE)
		rc = cji_wb_settle(a, CJI_WB_DELETE);
	else if (ev->type != CJ_EVENT_MESSAGE)
		rc = cji_wb_settle(a, CJI_WB_ROWS);
	if (rc)
		return rc;
	cji_message_fields m;
	switch (ev->type) {
	case CJ_EVENT_MESSAGE:
		cji_message_fields_of(&m, o);
		return cji_apply_message(a, &m, seq, ts_ms, tstext);
	case CJ_EVENT_IMAGE: return cji_apply_image(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_USER: return cji_apply_user(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_THREAD_CONFIG: return cji_apply_thread_config(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_DELETE_THREAD: return cji_apply_delete_thread(a, o, seq);
	case CJ_EVENT_CLEAR_HISTORY: return cji_apply_clear_history(a, o, seq);
	case CJ_EVENT_PURGE: return cji_apply_purge(a, o, seq);
	case CJ_EVENT_SETTING: return cji_apply_setting(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_METRIC: return cji_apply_metric(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_EDIT_MESSAGE: return cji_apply_edit_message(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_DELETE_MESSAGE: return cji_apply_delete_message(a, o, seq);
	case CJ_EVENT_REACTION: return cji_apply_reaction(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_THREAD: return cji_apply_thread(a, o, seq, ts_ms, tstext);
	case CJ_EVENT_REDACT_EDITS: return cji_apply_redact_edits(a, o, seq);
	default:
		return cji_err(CJ_ECORRUPT, "journal record %llu: unknown event type %d",
		               (unsigned long long)seq, (int)ev->type);
	}
}

int cji_apply_message_fields(cji_apply *a, uint64_t seq, const cji_message_fields *m, int64_t ts_ms)
{
	char tstext[32];
	cji_time_format(ts_ms, tstext);
	return cji_apply_message(a, m, seq, ts_ms, tstext);
}

int cji_apply_position(cji_apply *a, uint64_t seq, int64_t now_ms)
{
	int rc = cji_wb_settle(a, CJI_WB_END);
	if (rc)
		return rc;
	sqlite3_stmt *st = a->st[S_POSITION];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int64(st, 2, now_ms);
	return cji_step_done(a, st, "journal_position", seq);
}

int cji_apply_damaged(cji_apply *a, uint64_t seq, const char *why)
{
	cji_arg args[2] = { { 'i', (int64_t)seq, NULL }, { 's', 0, why && *why ? why : "damaged" } };
	return cji_run(a, "INSERT INTO damaged_records (seq, error) VALUES (?1, ?2)", seq, 2, args);
}
