/* sink/rows.c — the row definitions the apply and the comparison share
 * (rows.h). Adding a column: one line here, one migration in schema.c. */
#include <stdio.h>
#include <string.h>
#include "rows.h"

#define C(name, kind, sqlite) { name, kind, sqlite, NULL }
#define B(name, kind, sqlite, src) { name, kind, sqlite, src }

const sk_table sk_tables[SK_NTABLES] = {
	[SK_T_USERS] = { "users", "users", 0, 15, {
		C("user", SK_TEXT, "user"), C("username", SK_TEXT, "username"),
		C("timezone", SK_TEXT, "timezone"), C("tz_label", SK_TEXT, "tz_label"),
		C("tz_offset", SK_INT, "tz_offset"), C("config", SK_JSON, "config"),
		C("first_seen_ms", SK_INT, "first_seen_ms"), C("first_seen", SK_TIME, "first_seen"),
		C("last_seen_ms", SK_INT, "last_seen_ms"), C("last_seen", SK_TIME, "last_seen"),
		C("seq", SK_INT, "seq"), C("display_name", SK_TEXT, "display_name"),
		C("is_bot", SK_BOOL, "is_bot"), C("avatar_url", SK_TEXT, "avatar_url"),
		C("metadata", SK_JSON, "metadata") } },
	[SK_T_THREADS] = { "threads", "threads", 0, 13, {
		C("thread", SK_TEXT, "thread"), C("server", SK_TEXT, "server"),
		C("channel", SK_TEXT, "channel"), C("config", SK_JSON, "config"),
		C("created_ms", SK_INT, "created_ms"), C("created", SK_TIME, "created"),
		C("last_activity_ms", SK_INT, "last_activity_ms"),
		C("last_activity", SK_TIME, "last_activity"),
		C("message_count", SK_INT, "message_count"), C("seq", SK_INT, "seq"),
		C("title", SK_TEXT, "title"), C("topic", SK_TEXT, "topic"),
		C("metadata", SK_JSON, "metadata") } },
	[SK_T_USER_THREADS] = { "user_threads",
		"user_threads x JOIN users u USING (user_rowid) JOIN threads t USING (thread_rowid)", 0, 4, {
		C("user", SK_TEXT, "u.user"), C("thread", SK_TEXT, "t.thread"),
		C("last_activity_ms", SK_INT, "x.last_activity_ms"),
		C("message_count", SK_INT, "x.message_count") } },
	[SK_T_MESSAGES] = { "messages",
		"messages m JOIN threads t USING (thread_rowid) LEFT JOIN users u USING (user_rowid)", 1, 19, {
		B("seq", SK_INT, "m.seq", SK_SRC_SEQ), B("thread", SK_TEXT, "t.thread", "thread"),
		B("user", SK_TEXT, "u.user", "user"), B("role", SK_TEXT, "m.role", "role"),
		B("content", SK_TEXT, "m.content", "content"), B("server", SK_TEXT, "m.server", "server"),
		B("channel", SK_TEXT, "m.channel", "channel"),
		B("message_ts", SK_TEXT, "m.message_ts", "message_ts"),
		B("metadata", SK_JSON, "m.metadata", "metadata"), B("id", SK_TEXT, "m.id", "id"),
		B("ts_ms", SK_INT, "m.ts_ms", SK_SRC_TS_MS), B("ts", SK_TIME, "m.ts", SK_SRC_TS),
		B("reply_to", SK_TEXT, "m.reply_to", "reply_to"), B("parent", SK_TEXT, "m.parent", "parent"),
		B("name", SK_TEXT, "m.name", "name"),
		B("tool_call_id", SK_TEXT, "m.tool_call_id", "tool_call_id"),
		B("tool_calls", SK_JSON, "m.tool_calls", "tool_calls"),
		B("edited_ts_ms", SK_INT, "m.edited_ts_ms", SK_SRC_NONE),
		B("edited_ts", SK_TIME, "m.edited_ts", SK_SRC_NONE) } },
	[SK_T_MESSAGE_COSTS] = { "message_costs",
		"message_costs c LEFT JOIN users u USING (user_rowid)", 1, 8, {
		B("seq", SK_INT, "c.seq", SK_SRC_SEQ), B("user", SK_TEXT, "u.user", "user"),
		B("model", SK_TEXT, "c.model", "cost.model"),
		B("input_tokens", SK_INT, "c.input_tokens", "cost.input_tokens"),
		B("output_tokens", SK_INT, "c.output_tokens", "cost.output_tokens"),
		B("usd", SK_REAL, "c.usd", "cost.usd"), B("ts_ms", SK_INT, "c.ts_ms", SK_SRC_TS_MS),
		B("day", SK_DATE, "c.day", SK_SRC_DAY) } },
	[SK_T_BLOBS] = { "blobs", "blobs", 0, 4, {
		C("blob", SK_TEXT, "blob"), C("size", SK_INT, "size"), C("mime_type", SK_TEXT, "mime_type"),
		C("first_seq", SK_INT, "first_seq") } },
	[SK_T_IMAGES] = { "images", "images m JOIN threads t USING (thread_rowid)", 1, 15, {
		B("seq", SK_INT, "m.seq", SK_SRC_SEQ), B("thread", SK_TEXT, "t.thread", "thread"),
		B("url", SK_TEXT, "m.url", "url"), B("kind", SK_TEXT, "m.kind", "kind"),
		B("prompt", SK_TEXT, "m.prompt", "prompt"), B("analysis", SK_TEXT, "m.analysis", "analysis"),
		B("original_analysis", SK_TEXT, "m.original_analysis", "original_analysis"),
		B("metadata", SK_JSON, "m.metadata", "metadata"), B("blob", SK_TEXT, "m.blob", "blob"),
		B("thumbnail", SK_TEXT, "m.thumbnail", "thumbnail"),
		B("has_thumbnail", SK_BOOL, "m.has_thumbnail", SK_SRC_HAS "thumbnail"),
		B("id", SK_TEXT, "m.id", "id"), B("ts_ms", SK_INT, "m.ts_ms", SK_SRC_TS_MS),
		B("ts", SK_TIME, "m.ts", SK_SRC_TS), B("message", SK_TEXT, "m.message", "message") } },
	[SK_T_SETTINGS] = { "settings", "settings", 0, 9, {
		C("key", SK_TEXT, "key"), C("value", SK_JSON, "value"), C("category", SK_TEXT, "category"),
		C("sensitive", SK_BOOL, "sensitive"), C("actor", SK_TEXT, "actor"),
		C("description", SK_TEXT, "description"), C("updated_ms", SK_INT, "updated_ms"),
		C("updated", SK_TIME, "updated"), C("seq", SK_INT, "seq") } },
	[SK_T_CONFIG_CHANGES] = { "config_changes", "config_changes", 0, 9, {
		C("seq", SK_INT, "seq"), C("scope", SK_TEXT, "scope"), C("subject", SK_TEXT, "subject"),
		C("actor", SK_TEXT, "actor"), C("old_value", SK_JSON, "old_value"),
		C("new_value", SK_JSON, "new_value"), C("sensitive", SK_BOOL, "sensitive"),
		C("ts_ms", SK_INT, "ts_ms"), C("ts", SK_TIME, "ts") } },
	[SK_T_METRICS] = { "metrics", "metrics", 1, 7, {
		B("seq", SK_INT, "seq", SK_SRC_SEQ), B("name", SK_TEXT, "name", "name"),
		B("value", SK_REAL, "value", "value"), B("unit", SK_TEXT, "unit", "unit"),
		B("tags", SK_JSON, "tags", "tags"), B("ts_ms", SK_INT, "ts_ms", SK_SRC_TS_MS),
		B("ts", SK_TIME, "ts", SK_SRC_TS) } },
	[SK_T_MESSAGE_EDITS] = { "message_edits", "message_edits", 0, 8, {
		C("seq", SK_INT, "seq"), C("message_seq", SK_INT, "message_seq"),
		C("editor", SK_TEXT, "editor"), C("old_content", SK_TEXT, "old_content"),
		C("content", SK_TEXT, "content"), C("id", SK_TEXT, "id"), C("ts_ms", SK_INT, "ts_ms"),
		C("ts", SK_TIME, "ts") } },
	[SK_T_REACTIONS] = { "reactions", "reactions", 0, 6, {
		C("message_seq", SK_INT, "message_seq"), C("emoji", SK_TEXT, "emoji"),
		C("user", SK_TEXT, "user"), C("seq", SK_INT, "seq"), C("ts_ms", SK_INT, "ts_ms"),
		C("ts", SK_TIME, "ts") } },
	/* One row per element of a message's "attachments": the bulk row's
	 * fields are the element's, $seq the message's. */
	[SK_T_ATTACHMENTS] = { "attachments", "attachments", 1, 7, {
		B("message_seq", SK_INT, "message_seq", SK_SRC_SEQ), B("idx", SK_INT, "idx", SK_SRC_IDX),
		B("blob", SK_TEXT, "blob", "blob"), B("url", SK_TEXT, "url", "url"),
		B("name", SK_TEXT, "name", "name"), B("mime", SK_TEXT, "mime", "mime"),
		B("size", SK_INT, "size", "size") } },
};

int sk_col_list(char *out, size_t n, const sk_table *t)
{
	size_t o = 0;
	for (size_t i = 0; i < t->ncols; i++) {
		int w = snprintf(out + o, n - o, "%s\"%s\"", i ? ", " : "", t->cols[i].name);
		if (w < 0 || (size_t)w >= n - o)
			return -1;
		o += (size_t)w;
	}
	return 0;
}
