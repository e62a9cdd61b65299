/* sink/apply_rows.c — the events that change one row and audit it: user,
 * thread_config, setting. Each is ONE statement: a data-modifying WITH
 * reads the old value (its snapshot is from before the statement), upserts
 * the row and writes the config_changes row, with the semantics of
 * materializer/apply_rows.c (coalesced profile fields, masked sensitive
 * values, old -> new in the audit). */
#include <stdio.h>
#include <stdlib.h>
#include "sink_internal.h"

#define S SK_PG_SCHEMA "."

static const char *num(char *buf, size_t n, int64_t v)
{
	snprintf(buf, n, "%lld", (long long)v);
	return buf;
}

int sk_apply_user(cj_sink *k, const sk_event *e)
{
	static const char *const sql =
		"WITH old AS (SELECT config FROM " S "users WHERE store_id = $1 AND \"user\" = $2),"
		" up AS (INSERT INTO " S "users AS u (store_id, \"user\", username, timezone, tz_label,"
		"   tz_offset, config, first_seen_ms, first_seen, last_seen_ms, last_seen, seq)"
		"   VALUES ($1, $2, $3, $4, $5, $6::integer, CASE WHEN $7::boolean THEN $8::jsonb END,"
		"   $9::bigint, $10::timestamptz, $9::bigint, $10::timestamptz, $11::bigint)"
		"   ON CONFLICT (store_id, \"user\") DO UPDATE SET"
		"   last_seen = CASE WHEN excluded.last_seen_ms > u.last_seen_ms THEN excluded.last_seen"
		"     ELSE u.last_seen END,"
		"   last_seen_ms = greatest(u.last_seen_ms, excluded.last_seen_ms), seq = excluded.seq,"
		"   username = coalesce(excluded.username, u.username),"
		"   timezone = coalesce(excluded.timezone, u.timezone),"
		"   tz_label = coalesce(excluded.tz_label, u.tz_label),"
		"   tz_offset = coalesce(excluded.tz_offset, u.tz_offset),"
		"   config = CASE WHEN $7::boolean THEN $8::jsonb ELSE u.config END)"
		" INSERT INTO " S "config_changes (store_id, seq, scope, subject, actor, old_value,"
		"   new_value, sensitive, ts_ms, ts)"
		" SELECT $1, $11::bigint, 'user', $2, NULL, (SELECT config FROM old), $8::jsonb, false,"
		"   $9::bigint, $10::timestamptz WHERE $7::boolean";
	const json_t *cfg = json_object_get(e->o, "config");
	const json_t *tz = json_object_get(e->o, "tz_offset");
	char *cfg_text = sk_json_text(cfg);
	char tzb[32], ms[32], seq[32];
	const char *p[11] = {
		k->store_id, sk_str(e->o, "user"), sk_str(e->o, "username"), sk_str(e->o, "timezone"),
		sk_str(e->o, "tz_label"), json_is_integer(tz) ? num(tzb, sizeof tzb, json_integer_value(tz)) : NULL,
		cfg ? "true" : "false", cfg_text, num(ms, sizeof ms, e->ts_ms), e->ts,
		num(seq, sizeof seq, (int64_t)e->seq),
	};
	int rc = sk_exec(NULL, k, "user", e->seq, sql, 11, p);
	free(cfg_text);
	return rc;
}

int sk_apply_thread_config(cj_sink *k, const sk_event *e)
{
	static const char *const sql =
		"WITH old AS (SELECT config FROM " S "threads WHERE store_id = $1 AND thread = $2),"
		" up AS (INSERT INTO " S "threads AS t (store_id, thread, server, channel, config,"
		"   created_ms, created, last_activity_ms, last_activity, message_count, seq)"
		"   VALUES ($1, $2, $3, $4, $5::jsonb, $6::bigint, $7::timestamptz, $6::bigint,"
		"   $7::timestamptz, 0, $8::bigint)"
		"   ON CONFLICT (store_id, thread) DO UPDATE SET"
		"   server = coalesce(excluded.server, t.server), channel = coalesce(excluded.channel, t.channel),"
		"   config = excluded.config, seq = excluded.seq)"
		" INSERT INTO " S "config_changes (store_id, seq, scope, subject, actor, old_value,"
		"   new_value, sensitive, ts_ms, ts)"
		" VALUES ($1, $8::bigint, 'thread', $2, NULL, (SELECT config FROM old), $5::jsonb, false,"
		"   $6::bigint, $7::timestamptz)";
	char *cfg_text = sk_json_text(json_object_get(e->o, "config"));
	char ms[32], seq[32];
	const char *p[8] = {
		k->store_id, sk_str(e->o, "thread"), sk_str(e->o, "server"), sk_str(e->o, "channel"),
		cfg_text, num(ms, sizeof ms, e->ts_ms), e->ts, num(seq, sizeof seq, (int64_t)e->seq),
	};
	int rc = sk_exec(NULL, k, "thread_config", e->seq, sql, 8, p);
	free(cfg_text);
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
		sk_str(e->o, "description"), num(ms, sizeof ms, e->ts_ms), e->ts,
		num(seq, sizeof seq, (int64_t)e->seq),
	};
	int rc = sk_exec(NULL, k, "setting", e->seq, sql, 10, p);
	free(value);
	return rc;
}
