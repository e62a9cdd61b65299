/* sink/apply_rows.c — the events that change one row and audit it: user,
 * thread_config, thread, setting. Each is one statement: a data-modifying WITH reads the old
 * value (its snapshot is from before the statement), upserts the row and
 * writes the config_changes row, with the semantics of
 * materializer/apply_rows.c (coalesced profile fields, masked sensitive
 * values, old -> new in the audit, earliest first_seen/created). A
 * config_patch first reads the row's config and merges in C with the
 * library's RFC 7396 implementation (cj_json_merge_patch). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sink_internal.h"

#define S SK_PG_SCHEMA "."

/* The config of one row of table (key column keycol = key) as JSON text
 * into *old (NULL: no row or no config). */
static int read_config(char **old, cj_sink *k, const sk_event *e, const char *table,
                       const char *keycol, const char *key)
{
	*old = NULL;
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT config::text FROM " S "%s WHERE store_id = $1 AND %s = $2",
	         table, keycol);
	const char *p[2] = { k->store_id, key };
	PGresult *res;
	int rc = sk_exec(&res, k, "read the config to patch", e->seq, sql, 2, p);
	if (rc)
		return rc;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && !(*old = strdup(PQgetvalue(res, 0, 0))))
		rc = cj_error_set(CJ_ENOMEM, NULL, "sink: out of memory");
	PQclear(res);
	return rc;
}

int sk_new_config(char **out, const sk_event *e, const char *old)
{
	*out = NULL;
	const json_t *cfg = json_object_get(e->o, "config");
	const json_t *patch = json_object_get(e->o, "config_patch");
	if (cfg) {
		if (!(*out = sk_json_text(cfg)))
			return cj_error_set(CJ_ENOMEM, NULL, "sink: out of memory");
		return 0;
	}
	if (!patch)
		return 0;
	char *ptext = sk_json_text(patch), *merged = NULL;
	if (!ptext)
		return cj_error_set(CJ_ENOMEM, NULL, "sink: out of memory");
	int rc = cj_json_merge_patch(&merged, old, ptext);
	free(ptext);
	if (rc)
		return rc;
	*out = strdup(merged);
	cj_free(merged);
	return *out ? 0 : cj_error_set(CJ_ENOMEM, NULL, "sink: out of memory");
}

/* The old config a config_patch merges into (the sink's own row: the
 * batch's buffered rows were written before, apply.c). */
static int config_for(char **cfg, cj_sink *k, const sk_event *e, const char *table,
                      const char *keycol, const char *key)
{
	char *old = NULL;
	int rc = 0;
	if (json_object_get(e->o, "config_patch"))
		rc = read_config(&old, k, e, table, keycol, key);
	if (!rc)
		rc = sk_new_config(cfg, e, old);
	free(old);
	return rc;
}

int sk_apply_user(cj_sink *k, const sk_event *e)
{
	static const char *const sql =
		"WITH old AS (SELECT config FROM " S "users WHERE store_id = $1 AND \"user\" = $2),"
		" up AS (INSERT INTO " S "users AS u (store_id, \"user\", username, timezone, tz_label,"
		"   tz_offset, config, first_seen_ms, first_seen, last_seen_ms, last_seen, seq,"
		"   display_name, is_bot, avatar_url, metadata)"
		"   VALUES ($1, $2, $3, $4, $5, $6::integer, CASE WHEN $7::boolean THEN $8::jsonb END,"
		"   $9::bigint, $10::timestamptz, $9::bigint, $10::timestamptz, $11::bigint,"
		"   $12, $13::boolean, $14, $15::jsonb)"
		"   ON CONFLICT (store_id, \"user\") DO UPDATE SET"
		"   first_seen = CASE WHEN excluded.first_seen_ms < u.first_seen_ms"
		"     THEN excluded.first_seen ELSE u.first_seen END,"
		"   first_seen_ms = least(u.first_seen_ms, excluded.first_seen_ms),"
		"   last_seen = CASE WHEN excluded.last_seen_ms > u.last_seen_ms THEN excluded.last_seen"
		"     ELSE u.last_seen END,"
		"   last_seen_ms = greatest(u.last_seen_ms, excluded.last_seen_ms), seq = excluded.seq,"
		"   username = coalesce(excluded.username, u.username),"
		"   timezone = coalesce(excluded.timezone, u.timezone),"
		"   tz_label = coalesce(excluded.tz_label, u.tz_label),"
		"   tz_offset = coalesce(excluded.tz_offset, u.tz_offset),"
		"   config = CASE WHEN $7::boolean THEN $8::jsonb ELSE u.config END,"
		"   display_name = coalesce(excluded.display_name, u.display_name),"
		"   is_bot = coalesce(excluded.is_bot, u.is_bot),"
		"   avatar_url = coalesce(excluded.avatar_url, u.avatar_url),"
		"   metadata = coalesce(excluded.metadata, u.metadata))"
		" INSERT INTO " S "config_changes (store_id, seq, scope, subject, actor, old_value,"
		"   new_value, sensitive, ts_ms, ts)"
		" SELECT $1, $11::bigint, 'user', $2, NULL, (SELECT config FROM old), $8::jsonb, false,"
		"   $9::bigint, $10::timestamptz WHERE $7::boolean";
	const char *user = sk_str(e->o, "user");
	char *cfg_text;
	int rc = config_for(&cfg_text, k, e, "users", "\"user\"", user);
	if (rc)
		return rc;
	const json_t *tz = json_object_get(e->o, "tz_offset");
	const json_t *bot = json_object_get(e->o, "is_bot");
	char *meta = sk_json_text(json_object_get(e->o, "metadata"));
	char tzb[32], ms[32], seq[32];
	const char *p[15] = {
		k->store_id, user, sk_str(e->o, "username"), sk_str(e->o, "timezone"),
		sk_str(e->o, "tz_label"), json_is_integer(tz) ? sk_num(tzb, sizeof tzb, json_integer_value(tz)) : NULL,
		cfg_text ? "true" : "false", cfg_text, sk_num(ms, sizeof ms, e->ts_ms), e->ts,
		sk_num(seq, sizeof seq, (int64_t)e->seq), sk_str(e->o, "display_name"),
		json_is_boolean(bot) ? (json_is_true(bot) ? "true" : "false") : NULL,
		sk_str(e->o, "avatar_url"), meta,
	};
	rc = sk_exec(NULL, k, "user", e->seq, sql, 15, p);
	free(cfg_text);
	free(meta);
	return rc;
}

/* The thread's row as materializer/apply_sql.c's thread upsert leaves it
 * for an event that is not a message or image: created (or its created
 * moved back), server/channel kept when absent, last activity untouched,
 * seq this event's; plus the event's own columns (COLS, VALS from $8 on,
 * SETS on conflict). $1 store, $2 thread, $3 server, $4 channel, $5 ts_ms,
 * $6 ts, $7 seq. */
#define THREAD_UPSERT(COLS, VALS, SETS) \
	"INSERT INTO " S "threads AS t (store_id, thread, server, channel, created_ms, created," \
	" last_activity_ms, last_activity, message_count, seq, " COLS ") VALUES ($1, $2, $3, $4," \
	" $5::bigint, $6::timestamptz, $5::bigint, $6::timestamptz, 0, $7::bigint, " VALS ")" \
	" ON CONFLICT (store_id, thread) DO UPDATE SET" \
	" server = coalesce(excluded.server, t.server), channel = coalesce(excluded.channel, t.channel)," \
	" created = CASE WHEN excluded.created_ms < t.created_ms THEN excluded.created ELSE t.created END," \
	" created_ms = least(t.created_ms, excluded.created_ms), seq = excluded.seq, " SETS

int sk_apply_thread_config(cj_sink *k, const sk_event *e)
{
	static const char *const sql =
		"WITH old AS (SELECT config FROM " S "threads WHERE store_id = $1 AND thread = $2),"
		" up AS (" THREAD_UPSERT("config", "$8::jsonb", "config = excluded.config") ")"
		" INSERT INTO " S "config_changes (store_id, seq, scope, subject, actor, old_value,"
		"   new_value, sensitive, ts_ms, ts)"
		" VALUES ($1, $7::bigint, 'thread', $2, NULL, (SELECT config FROM old), $8::jsonb, false,"
		"   $5::bigint, $6::timestamptz)";
	const char *thread = sk_str(e->o, "thread");
	char *cfg_text;
	int rc = config_for(&cfg_text, k, e, "threads", "thread", thread);
	if (rc)
		return rc;
	char ms[32], seq[32];
	const char *p[8] = {
		k->store_id, thread, sk_str(e->o, "server"), sk_str(e->o, "channel"),
		sk_num(ms, sizeof ms, e->ts_ms), e->ts, sk_num(seq, sizeof seq, (int64_t)e->seq), cfg_text,
	};
	rc = sk_exec(NULL, k, "thread_config", e->seq, sql, 8, p);
	free(cfg_text);
	return rc;
}

/* title, topic, metadata: absent fields keep their value. */
int sk_apply_thread(cj_sink *k, const sk_event *e)
{
	static const char *const sql =
		THREAD_UPSERT("title, topic, metadata", "$8, $9, $10::jsonb",
		              "title = coalesce(excluded.title, t.title),"
		              " topic = coalesce(excluded.topic, t.topic),"
		              " metadata = coalesce(excluded.metadata, t.metadata)");
	char *meta = sk_json_text(json_object_get(e->o, "metadata"));
	char ms[32], seq[32];
	const char *p[10] = {
		k->store_id, sk_str(e->o, "thread"), sk_str(e->o, "server"), sk_str(e->o, "channel"),
		sk_num(ms, sizeof ms, e->ts_ms), e->ts, sk_num(seq, sizeof seq, (int64_t)e->seq),
		sk_str(e->o, "title"), sk_str(e->o, "topic"), meta,
	};
	int rc = sk_exec(NULL, k, "thread", e->seq, sql, 10, p);
	free(meta);
	return rc;
}

int sk_apply_setting(cj_sink *k, const sk_event *e)
{
	static const char *const sql =
		"WITH old AS (SELECT value, sensitive FROM " S "settings WHERE store_id = $1 AND key = $2),"
		" up AS (INSERT INTO " S "settings AS s (store_id, key, value, category, sensitive, actor,"
		"   description, updated_ms, updated, seq)"
		"   VALUES ($1, $2, CASE WHEN $5::boolean THEN '\"***\"'::jsonb ELSE $3::jsonb END, $4,"
		"   $5::boolean, $6, $7, $8::bigint, $9::timestamptz, $10::bigint)"
		"   ON CONFLICT (store_id, key) DO UPDATE SET value = excluded.value,"
		"   category = coalesce(excluded.category, s.category), sensitive = excluded.sensitive,"
		"   actor = excluded.actor, description = coalesce(excluded.description, s.description),"
		"   updated_ms = excluded.updated_ms, updated = excluded.updated, seq = excluded.seq)"
		" INSERT INTO " S "config_changes (store_id, seq, scope, subject, actor, old_value,"
		"   new_value, sensitive, ts_ms, ts)"
		" SELECT $1, $10::bigint, 'setting', $2, $6,"
		"   CASE WHEN o.value IS NULL THEN NULL"
		"     WHEN $5::boolean OR coalesce(o.sensitive, false) THEN '\"***\"'::jsonb ELSE o.value END,"
		"   CASE WHEN $5::boolean OR coalesce(o.sensitive, false) THEN '\"***\"'::jsonb"
		"     ELSE $3::jsonb END,"
		"   $5::boolean OR coalesce(o.sensitive, false), $8::bigint, $9::timestamptz"
		" FROM (SELECT 1) AS one LEFT JOIN old o ON true";
	char *value = sk_json_text(json_object_get(e->o, "value"));
	char ms[32], seq[32];
	const char *p[10] = {
		k->store_id, sk_str(e->o, "key"), value, sk_str(e->o, "category"),
		json_is_true(json_object_get(e->o, "sensitive")) ? "true" : "false", sk_str(e->o, "actor"),
		sk_str(e->o, "description"), sk_num(ms, sizeof ms, e->ts_ms), e->ts,
		sk_num(seq, sizeof seq, (int64_t)e->seq),
	};
	int rc = sk_exec(NULL, k, "setting", e->seq, sql, 10, p);
	free(value);
	return rc;
}
