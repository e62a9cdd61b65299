/* sink/apply_chat.c — the events about one message (edit_message,
 * delete_message, reaction) and compaction's redact_edits, with the
 * semantics of materializer/apply_rows.c and apply_delete.c.
 *
 * A target is found by its id: the materializer looks the id up in the
 * journal's idempotency table, the sink in its own messages (index
 * messages_by_id). Both find the same message: ids are unique in a store
 * and never removed, so a message row with that id in that thread is the
 * one the journal names, and no row means it was deleted (the event then
 * changes nothing, as in SQLite). The batch's buffered rows were written
 * before each of these (apply.c, TYPES). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sink_internal.h"

#define S SK_PG_SCHEMA "."

/* The target message of e (same id, same thread), $1 store, $2 id, $3 thread. */
#define TARGET S "messages m WHERE m.store_id = $1 AND m.id = $2 AND m.thread = $3"

/* The content becomes the edit's (the generated tsvector follows), and the
 * edit is a message_edits row with the text it replaced. */
int sk_apply_edit_message(cj_sink *k, const sk_event *e)
{
	static const char *const sql =
		"WITH m AS (SELECT m.seq, m.content FROM " TARGET "),"
		" up AS (UPDATE " S "messages x SET content = $4, edited_ts_ms = $5::bigint,"
		"   edited_ts = $6::timestamptz FROM m WHERE x.store_id = $1 AND x.seq = m.seq)"
		" INSERT INTO " S "message_edits (store_id, seq, message_seq, editor, old_content, content,"
		"   id, ts_ms, ts)"
		" SELECT $1, $7::bigint, m.seq, $8, m.content, $4, $9, $5::bigint, $6::timestamptz FROM m";
	char ms[32], seq[32];
	const char *p[9] = {
		k->store_id, sk_str(e->o, "target"), sk_str(e->o, "thread"), sk_str(e->o, "content"),
		sk_num(ms, sizeof ms, e->ts_ms), e->ts, sk_num(seq, sizeof seq, (int64_t)e->seq),
		sk_str(e->o, "editor"), sk_str(e->o, "id"),
	};
	return sk_exec(NULL, k, "edit_message", e->seq, sql, 9, p);
}

/* One message goes with its dependents; its thread's and (user, thread)'s
 * counts go down by one (the last activity stays, as for every deletion);
 * blob rows are checked only when it named stored files. */
int sk_apply_delete_message(cj_sink *k, const sk_event *e)
{
	const char *pt[3] = { k->store_id, sk_str(e->o, "target"), sk_str(e->o, "thread") };
	PGresult *res;
	int rc = sk_exec(&res, k, "delete_message", e->seq,
	                 "SELECT m.seq, EXISTS (SELECT 1 FROM " S "attachments a WHERE a.store_id = $1"
	                 " AND a.message_seq = m.seq AND a.blob IS NOT NULL) FROM " TARGET, 3, pt);
	if (rc)
		return rc;
	char mseq[32] = "";
	int files = 0;
	if (PQntuples(res) == 1) {
		snprintf(mseq, sizeof mseq, "%s", PQgetvalue(res, 0, 0));
		files = PQgetvalue(res, 0, 1)[0] == 't';
	}
	PQclear(res);
	if (!*mseq)
		return 0;
	const char *p[2] = { k->store_id, mseq };
	sk_del w = { k, "delete_message", e->seq, 0, 2, p };
	sk_del_step(&w, "UPDATE " S "threads t SET message_count = t.message_count - 1 FROM "
	            S "messages m WHERE m.store_id = $1 AND m.seq = $2::bigint AND t.store_id = $1"
	            " AND t.thread = m.thread");
	sk_del_step(&w, "UPDATE " S "user_threads x SET message_count = x.message_count - 1 FROM "
	            S "messages m WHERE m.store_id = $1 AND m.seq = $2::bigint AND x.store_id = $1"
	            " AND x.\"user\" = m.\"user\" AND x.thread = m.thread");
	sk_del_step(&w, "DELETE FROM " S "user_threads x USING " S "messages m WHERE m.store_id = $1"
	            " AND m.seq = $2::bigint AND x.store_id = $1 AND x.\"user\" = m.\"user\""
	            " AND x.thread = m.thread AND x.message_count = 0");
	sk_del_messages(&w, "m.seq = $2::bigint");
	if (files) {
		w.n = 1;
		sk_del_orphan_blobs(&w);
	}
	return w.rc;
}

/* A (message, emoji, user) row: "add" (the default) inserts it unless it
 * is there, "remove" deletes it. */
int sk_apply_reaction(cj_sink *k, const sk_event *e)
{
	const char *op = sk_str(e->o, "op");
	char ms[32], seq[32];
	const char *p[8] = {
		k->store_id, sk_str(e->o, "target"), sk_str(e->o, "thread"), sk_str(e->o, "emoji"),
		sk_str(e->o, "user"), sk_num(seq, sizeof seq, (int64_t)e->seq), sk_num(ms, sizeof ms, e->ts_ms),
		e->ts,
	};
	if (op && !strcmp(op, "remove"))
		return sk_exec(NULL, k, "reaction", e->seq,
		               "DELETE FROM " S "reactions r USING " TARGET " AND r.store_id = $1"
		               " AND r.message_seq = m.seq AND r.emoji = $4 AND r.\"user\" = $5", 5, p);
	return sk_exec(NULL, k, "reaction", e->seq,
	               "INSERT INTO " S "reactions (store_id, message_seq, emoji, \"user\", seq, ts_ms, ts)"
	               " SELECT $1, m.seq, $4, $5, $6::bigint, $7::bigint, $8::timestamptz FROM " TARGET
	               " ON CONFLICT DO NOTHING", 8, p);
}

/* Compaction's mark (docs/format.md, "Superseded text"): in the rows up to
 * through_seq, every old_content is blanked, and the content of a row a
 * newer row up to through_seq replaced. */
int sk_apply_redact_edits(cj_sink *k, const sk_event *e)
{
	char through[32];
	const json_t *t = json_object_get(e->o, "through_seq");
	sk_num(through, sizeof through, json_is_integer(t) ? json_integer_value(t) : 0);
	const char *p[2] = { k->store_id, through };
	sk_del w = { k, "redact_edits", e->seq, 0, 2, p };
	sk_del_step(&w, "UPDATE " S "message_edits SET old_content = '' WHERE store_id = $1"
	            " AND seq <= $2::bigint AND old_content <> ''");
	sk_del_step(&w, "UPDATE " S "message_edits x SET content = '' WHERE x.store_id = $1"
	            " AND x.seq <= $2::bigint AND x.content <> '' AND EXISTS (SELECT 1 FROM "
	            S "message_edits n WHERE n.store_id = $1 AND n.message_seq = x.message_seq"
	            " AND n.seq > x.seq AND n.seq <= $2::bigint)");
	return w.rc;
}
