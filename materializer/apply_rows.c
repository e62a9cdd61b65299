/* materializer/apply_rows.c — the rows of the events that add or change
 * data: message (with its cost and attachments), image (with its blobs'
 * metadata), user, thread_config, thread, setting (audited, sensitive values
 * masked), metric, and the events about one message: edit_message,
 * reaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "materializer/apply_sql.h"
#include "common/err.h"
#include "common/merge_patch.h"

#define MASK "\"***\""

static int audit(cji_apply *a, uint64_t seq, const char *scope, const char *subject,
                 const char *actor, const char *old_v, const char *new_v, int sensitive,
                 int64_t ts, const char *tstext)
{
	sqlite3_stmt *st = a->st[S_AUDIT];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	cji_bind_str(st, 2, scope);
	cji_bind_str(st, 3, subject);
	cji_bind_str(st, 4, actor);
	cji_bind_str(st, 5, old_v && sensitive ? MASK : old_v);
	cji_bind_str(st, 6, new_v && sensitive ? MASK : new_v);
	sqlite3_bind_int(st, 7, sensitive);
	sqlite3_bind_int64(st, 8, ts);
	cji_bind_str(st, 9, tstext);
	return cji_step_done(a, st, "config_changes", seq);
}

static int blob_row(cji_apply *a, const char *hash, uint64_t seq)
{
	if (!hash)
		return 0;
	uint64_t size = 0;
	const char *mime = NULL;
	int have = cji_blob_info(&size, &mime, a->journal, hash) == 0;
	sqlite3_stmt *st = a->st[S_BLOB];
	cji_bind_str(st, 1, hash);
	if (have)
		sqlite3_bind_int64(st, 2, (int64_t)size);
	else
		sqlite3_bind_null(st, 2);
	cji_bind_str(st, 3, have ? mime : NULL);
	sqlite3_bind_int64(st, 4, (int64_t)seq);
	return cji_step_done(a, st, "blobs", seq);
}

/* A message's attachments, in order; a blob gets its blobs row first. */
static int attachments(cji_apply *a, const json_t *att, uint64_t seq)
{
	size_t i;
	const json_t *e;
	json_array_foreach(att, i, e) {
		int rc = blob_row(a, cji_str(e, "blob"), seq);
		if (rc)
			return rc;
		sqlite3_stmt *st = a->st[S_ATTACH];
		sqlite3_bind_int64(st, 1, (int64_t)seq);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		cji_bind_str(st, 3, cji_str(e, "blob"));
		cji_bind_str(st, 4, cji_str(e, "url"));
		cji_bind_str(st, 5, cji_str(e, "name"));
		cji_bind_str(st, 6, cji_str(e, "mime"));
		cji_bind_int_or_null(st, 7, json_object_get(e, "size"));
		if ((rc = cji_step_done(a, st, "attachments", seq)))
			return rc;
	}
	return 0;
}

/* The config a user or thread_config event leaves: "config" replaces,
 * "config_patch" merges into the old one (RFC 7396). Canonical text, or
 * NULL if the event changes no config (*changed 0). */
static int new_config(char **out, int *changed, const json_t *o, const char *old, uint64_t seq)
{
	*out = NULL;
	const json_t *cfg = json_object_get(o, "config");
	const json_t *patch = json_object_get(o, "config_patch");
	*changed = cfg || patch;
	if (cfg) {
		*out = cji_json_text(cfg);
	} else if (patch) {
		json_t *base = old ? json_loads(old, JSON_DECODE_ANY, NULL) : NULL;
		json_t *merged = cji_merge_patch(base, patch);
		*out = cji_json_text(merged);
		json_decref(merged);
	}
	if (*changed && !*out)
		return cji_err(CJ_ENOMEM, "out of memory (journal record %llu)", (unsigned long long)seq);
	return 0;
}

/* ---- per type ----------------------------------------------------------- */

int cji_apply_message(cji_apply *a, const cji_message_fields *m, uint64_t seq, int64_t ts,
                      const char *tstext)
{
	int64_t tid, uid = 0;
	int rc = cji_wb_message_thread(a, m, seq, ts, tstext, &tid);
	if (!rc && m->user)
		rc = cji_wb_message_user(a, m->user, tid, seq, ts, tstext, &uid);
	if (rc)
		return rc;
	/* The fields of 0.3 are rare: looked up and bound only when the event
	 * has keys beyond the plain ones (m->rest). */
	const json_t *o = m->rest, *att = o ? json_object_get(o, "attachments") : NULL;
	sqlite3_stmt *st = a->st[o ? S_MSG_INSERT_X : S_MSG_INSERT];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int64(st, 2, tid);
	cji_bind_rowid(st, 3, uid);
	cji_bind_str(st, 4, m->role);
	cji_bind_str(st, 5, m->content);
	cji_bind_str(st, 6, m->server);
	cji_bind_str(st, 7, m->channel);
	cji_bind_str(st, 8, m->message_ts);
	cji_bind_owned(st, 9, cji_json_text(m->metadata));
	cji_bind_str(st, 10, m->id);
	sqlite3_bind_int64(st, 11, ts);
	cji_bind_str(st, 12, tstext);
	if (o) {
		const char *reply_to = cji_str(o, "reply_to"), *parent = cji_str(o, "parent");
		const char *name = cji_str(o, "name"), *tool_call_id = cji_str(o, "tool_call_id");
		const json_t *tool_calls = json_object_get(o, "tool_calls");
		cji_bind_str(st, 13, reply_to);
		cji_bind_str(st, 14, parent);
		cji_bind_str(st, 15, name);
		cji_bind_str(st, 16, tool_call_id);
		cji_bind_owned(st, 17, cji_json_text(tool_calls));
		/* extras bit 1: attachments (007); bit 4: a rare column (008) */
		int rare = reply_to || parent || name || tool_call_id || tool_calls;
		sqlite3_bind_int(st, 18, (json_array_size(att) > 0) | (rare << 2));
	}
	if ((rc = cji_step_done(a, st, "messages", seq)))
		return rc;
	if ((rc = cji_wb_fts(a, seq, 0, m->content, NULL)))
		return rc;
	if (att && (rc = attachments(a, att, seq)))
		return rc;
	const json_t *cost = m->cost;
	if (!json_is_object(cost))
		return 0;
	char day[32];
	snprintf(day, sizeof day, "%.10s", tstext);
	st = a->st[S_COST];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	cji_bind_rowid(st, 2, uid);
	cji_bind_str(st, 3, cji_str(cost, "model"));
	cji_bind_int_or_null(st, 4, json_object_get(cost, "input_tokens"));
	cji_bind_int_or_null(st, 5, json_object_get(cost, "output_tokens"));
	const json_t *usd = json_object_get(cost, "usd");
	if (json_is_number(usd))
		sqlite3_bind_double(st, 6, json_number_value(usd));
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, ts);
	cji_bind_str(st, 8, day);
	return cji_step_done(a, st, "message_costs", seq);
}

int cji_apply_image(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext)
{
	int64_t tid;
	int rc = cji_row_thread_upsert_of(a, o, seq, ts, tstext, 0, 1, &tid, NULL);
	if (!rc)
		rc = blob_row(a, cji_str(o, "blob"), seq);
	if (!rc)
		rc = blob_row(a, cji_str(o, "thumbnail"), seq);
	if (rc)
		return rc;
	sqlite3_stmt *st = a->st[S_IMG_INSERT];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int64(st, 2, tid);
	cji_bind_str(st, 3, cji_str(o, "url"));
	cji_bind_str(st, 4, cji_str(o, "kind"));
	cji_bind_str(st, 5, cji_str(o, "prompt"));
	cji_bind_str(st, 6, cji_str(o, "analysis"));
	cji_bind_str(st, 7, cji_str(o, "original_analysis"));
	cji_bind_owned(st, 8, cji_json_text(json_object_get(o, "metadata")));
	cji_bind_str(st, 9, cji_str(o, "blob"));
	cji_bind_str(st, 10, cji_str(o, "thumbnail"));
	sqlite3_bind_int(st, 11, cji_str(o, "thumbnail") != NULL);
	cji_bind_str(st, 12, cji_str(o, "id"));
	sqlite3_bind_int64(st, 13, ts);
	cji_bind_str(st, 14, tstext);
	cji_bind_str(st, 15, cji_str(o, "message"));
	if ((rc = cji_step_done(a, st, "images", seq)))
		return rc;
	return cji_wb_fts(a, seq, 1, cji_str(o, "prompt"), cji_str(o, "analysis"));
}

int cji_apply_user(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext)
{
	int64_t uid;
	char *old = NULL;
	const char *user = cji_str(o, "user");
	int rc = cji_row_user_touch(a, user, seq, ts, tstext, &uid, &old);
	if (rc)
		return rc;
	char *new_cfg;
	int changed;
	if ((rc = new_config(&new_cfg, &changed, o, old, seq))) {
		free(old);
		return rc;
	}
	sqlite3_stmt *st = a->st[S_USER_SET];
	sqlite3_bind_int64(st, 1, uid);
	cji_bind_str(st, 2, cji_str(o, "username"));
	cji_bind_str(st, 3, cji_str(o, "timezone"));
	cji_bind_str(st, 4, cji_str(o, "tz_label"));
	cji_bind_int_or_null(st, 5, json_object_get(o, "tz_offset"));
	sqlite3_bind_int(st, 6, changed);
	cji_bind_str(st, 7, new_cfg);
	cji_bind_str(st, 8, cji_str(o, "display_name"));
	const json_t *bot = json_object_get(o, "is_bot");
	if (json_is_boolean(bot))
		sqlite3_bind_int(st, 9, json_is_true(bot));
	cji_bind_str(st, 10, cji_str(o, "avatar_url"));
	cji_bind_owned(st, 11, cji_json_text(json_object_get(o, "metadata")));
	rc = cji_step_done(a, st, "users", seq);
	if (!rc && changed)
		rc = audit(a, seq, "user", user, cji_str(o, "actor"), old, new_cfg, 0, ts, tstext);
	free(new_cfg);
	free(old);
	return rc;
}

int cji_apply_thread_config(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts,
                               const char *tstext)
{
	int64_t tid;
	char *old = NULL;
	int rc = cji_row_thread_upsert_of(a, o, seq, ts, tstext, 0, 0, &tid, &old);
	if (rc)
		return rc;
	char *new_cfg;
	int changed;
	if ((rc = new_config(&new_cfg, &changed, o, old, seq))) {
		free(old);
		return rc;
	}
	sqlite3_stmt *st = a->st[S_THREAD_CONFIG_SET];
	sqlite3_bind_int64(st, 1, tid);
	cji_bind_str(st, 2, new_cfg);
	sqlite3_bind_int64(st, 3, (int64_t)seq);
	rc = cji_step_done(a, st, "threads", seq);
	if (!rc)
		rc = audit(a, seq, "thread", cji_str(o, "thread"), NULL, old, new_cfg, 0, ts, tstext);
	free(new_cfg);
	free(old);
	return rc;
}

int cji_apply_setting(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext)
{
	const char *key = cji_str(o, "key");
	int sensitive = json_is_true(json_object_get(o, "sensitive"));
	sqlite3_stmt *st = a->st[S_SETTING_GET];
	cji_bind_str(st, 1, key);
	char *old = NULL;
	int old_sensitive = 0;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		old = strdup((const char *)sqlite3_column_text(st, 0));
		old_sensitive = sqlite3_column_int(st, 1);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		free(old);
		return cji_err_sqlite(rc, sqlite3_errmsg(a->db), "apply settings (journal record %llu)",
		                      (unsigned long long)seq);
	}
	char *value = cji_json_text(json_object_get(o, "value"));
	st = a->st[S_SETTING_PUT];
	cji_bind_str(st, 1, key);
	cji_bind_str(st, 2, sensitive ? MASK : value);
	cji_bind_str(st, 3, cji_str(o, "category"));
	sqlite3_bind_int(st, 4, sensitive);
	cji_bind_str(st, 5, cji_str(o, "actor"));
	cji_bind_str(st, 6, cji_str(o, "description"));
	sqlite3_bind_int64(st, 7, ts);
	cji_bind_str(st, 8, tstext);
	sqlite3_bind_int64(st, 9, (int64_t)seq);
	rc = cji_step_done(a, st, "settings", seq);
	if (!rc)
		rc = audit(a, seq, "setting", key, cji_str(o, "actor"), old, value, sensitive || old_sensitive,
		           ts, tstext);
	free(value);
	free(old);
	return rc;
}

int cji_apply_metric(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext)
{
	sqlite3_stmt *st = a->st[S_METRIC];
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	cji_bind_str(st, 2, cji_str(o, "name"));
	sqlite3_bind_double(st, 3, json_number_value(json_object_get(o, "value")));
	cji_bind_str(st, 4, cji_str(o, "unit"));
	cji_bind_owned(st, 5, cji_json_text(json_object_get(o, "tags")));
	sqlite3_bind_int64(st, 6, ts);
	cji_bind_str(st, 7, tstext);
	return cji_step_done(a, st, "metrics", seq);
}

int cji_apply_thread(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext)
{
	int64_t tid;
	int rc = cji_row_thread_upsert_of(a, o, seq, ts, tstext, 0, 0, &tid, NULL);
	if (rc)
		return rc;
	sqlite3_stmt *st = a->st[S_THREAD_SET];
	sqlite3_bind_int64(st, 1, tid);
	cji_bind_str(st, 2, cji_str(o, "title"));
	cji_bind_str(st, 3, cji_str(o, "topic"));
	cji_bind_owned(st, 4, cji_json_text(json_object_get(o, "metadata")));
	sqlite3_bind_int64(st, 5, (int64_t)seq);
	return cji_step_done(a, st, "threads", seq);
}

/* The message's content becomes the edit's; its FTS row follows (the old
 * one deleted with the exact old text: the batch's pending FTS rows were
 * written before, apply.c). The edit is kept in message_edits. */
int cji_apply_edit_message(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts,
                           const char *tstext)
{
	int64_t mseq;
	char *old = NULL;
	int rc = cji_row_target(a, o, seq, &mseq, &old);
	if (rc || !mseq)
		return rc;
	const char *content = cji_str(o, "content");
	sqlite3_stmt *st = a->st[S_FTS_DELETE];
	if (a->side) {
		rc = cji_wb_fts_del(a, (uint64_t)mseq, 0, old, NULL);
	} else {
		sqlite3_bind_int64(st, 1, mseq);
		cji_bind_str(st, 2, old);
		rc = cji_step_done(a, st, "messages_fts", seq);
	}
	if (!rc) {
		st = a->st[S_MSG_EDIT];
		sqlite3_bind_int64(st, 1, mseq);
		cji_bind_str(st, 2, content);
		sqlite3_bind_int64(st, 3, ts);
		cji_bind_str(st, 4, tstext);
		rc = cji_step_done(a, st, "messages", seq);
	}
	if (!rc) {
		st = a->st[S_EDIT_INSERT];
		sqlite3_bind_int64(st, 1, (int64_t)seq);
		sqlite3_bind_int64(st, 2, mseq);
		cji_bind_str(st, 3, cji_str(o, "editor"));
		cji_bind_str(st, 4, old);
		cji_bind_str(st, 5, content);
		cji_bind_str(st, 6, cji_str(o, "id"));
		sqlite3_bind_int64(st, 7, ts);
		cji_bind_str(st, 8, tstext);
		rc = cji_step_done(a, st, "message_edits", seq);
	}
	free(old);
	return rc ? rc : cji_wb_fts(a, (uint64_t)mseq, 0, content, NULL);
}

/* A (message, emoji, user) row: "add" (the default) inserts it unless it is
 * there, "remove" deletes it. */
int cji_apply_reaction(cji_apply *a, const json_t *o, uint64_t seq, int64_t ts, const char *tstext)
{
	int64_t mseq;
	int rc = cji_row_target(a, o, seq, &mseq, NULL);
	if (rc || !mseq)
		return rc;
	const char *op = cji_str(o, "op");
	int remove = op && strcmp(op, "remove") == 0;
	sqlite3_stmt *st = a->st[remove ? S_REACT_DEL : S_REACT_ADD];
	sqlite3_bind_int64(st, 1, mseq);
	cji_bind_str(st, 2, cji_str(o, "emoji"));
	cji_bind_str(st, 3, cji_str(o, "user"));
	if (!remove) {
		sqlite3_bind_int64(st, 4, (int64_t)seq);
		sqlite3_bind_int64(st, 5, ts);
		cji_bind_str(st, 6, tstext);
	}
	if ((rc = cji_step_done(a, st, "reactions", seq)))
		return rc;
	st = a->st[remove ? S_REACT_UNMARK : S_REACT_MARK];
	sqlite3_bind_int64(st, 1, mseq);
	return cji_step_done(a, st, "messages", seq);
}
