/* sink/schema.c — the PostgreSQL schema "chatjournal", created and migrated
 * by the sink itself. MIGRATIONS[i] takes the schema from version i to
 * i + 1; chatjournal.schema_version holds the version applied. Each runs in
 * one transaction under a transaction-level advisory lock, so sinks of
 * several hosts starting at once migrate once. A schema of a newer version
 * than this build knows is refused (CJ_EVERSION), never touched.
 *
 * The tables mirror the SQLite projection (docs/schema.md) with store_id
 * first in every key and text keys (thread, user) instead of row ids; the
 * columns the apply and the comparison use are listed in rows.c. No foreign
 * keys: the sink is the only writer, and bulk loads stay simple and fast.
 * Full-text search: a generated tsvector column ('simple' configuration:
 * no stemming, any language) over the first 65536 characters (a tsvector
 * holds at most 1 MB), with a GIN index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sink_internal.h"

#define S SK_PG_SCHEMA "."

/* Version 1, one statement per string (a migration is a list). */
static const char *const V1[] = {
	"CREATE TABLE " S "sink_position ("
	" store_id text PRIMARY KEY, seq bigint NOT NULL, first_event text,"
	" created timestamptz NOT NULL DEFAULT now(), updated timestamptz NOT NULL DEFAULT now())",
	"CREATE TABLE " S "users (store_id text NOT NULL, \"user\" text NOT NULL, username text,"
	" timezone text, tz_label text, tz_offset integer, config jsonb, first_seen_ms bigint NOT NULL,"
	" first_seen timestamptz NOT NULL, last_seen_ms bigint NOT NULL, last_seen timestamptz NOT NULL,"
	" seq bigint NOT NULL, PRIMARY KEY (store_id, \"user\"))",
	"CREATE TABLE " S "threads (store_id text NOT NULL, thread text NOT NULL, server text,"
	" channel text, config jsonb, created_ms bigint NOT NULL, created timestamptz NOT NULL,"
	" last_activity_ms bigint NOT NULL, last_activity timestamptz NOT NULL,"
	" message_count bigint NOT NULL DEFAULT 0, seq bigint NOT NULL, PRIMARY KEY (store_id, thread))",
	"CREATE INDEX threads_by_activity ON " S "threads (store_id, last_activity_ms)",
	"CREATE TABLE " S "user_threads (store_id text NOT NULL, \"user\" text NOT NULL,"
	" thread text NOT NULL, last_activity_ms bigint NOT NULL, message_count bigint NOT NULL,"
	" PRIMARY KEY (store_id, \"user\", thread))",
	"CREATE INDEX user_threads_by_activity ON " S "user_threads (store_id, \"user\", last_activity_ms)",
	"CREATE TABLE " S "messages (store_id text NOT NULL, seq bigint NOT NULL, thread text NOT NULL,"
	" \"user\" text, role text NOT NULL, content text NOT NULL, server text, channel text,"
	" message_ts text, metadata jsonb, id text, ts_ms bigint NOT NULL, ts timestamptz NOT NULL,"
	" fts tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, left(content, 65536))) STORED,"
	" PRIMARY KEY (store_id, seq))",
	"CREATE INDEX messages_by_thread ON " S "messages (store_id, thread, seq)",
	"CREATE INDEX messages_by_time ON " S "messages (store_id, ts_ms)",
	"CREATE INDEX messages_by_user ON " S "messages (store_id, \"user\", server)",
	"CREATE INDEX messages_fts ON " S "messages USING gin (fts)",
	"CREATE TABLE " S "message_costs (store_id text NOT NULL, seq bigint NOT NULL, \"user\" text,"
	" model text, input_tokens bigint, output_tokens bigint, usd double precision,"
	" ts_ms bigint NOT NULL, day date NOT NULL, PRIMARY KEY (store_id, seq))",
	"CREATE INDEX message_costs_by_user_day ON " S "message_costs (store_id, \"user\", day)",
	"CREATE INDEX message_costs_by_day ON " S "message_costs (store_id, day)",
	"CREATE TABLE " S "blobs (store_id text NOT NULL, blob text NOT NULL, size bigint,"
	" mime_type text, first_seq bigint NOT NULL, PRIMARY KEY (store_id, blob))",
	"CREATE TABLE " S "images (store_id text NOT NULL, seq bigint NOT NULL, thread text NOT NULL,"
	" url text NOT NULL, kind text, prompt text, analysis text, original_analysis text,"
	" metadata jsonb, blob text, thumbnail text, has_thumbnail boolean NOT NULL, id text,"
	" ts_ms bigint NOT NULL, ts timestamptz NOT NULL,"
	" fts tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig,"
	"   left(coalesce(prompt, '') || ' ' || coalesce(analysis, ''), 65536))) STORED,"
	" PRIMARY KEY (store_id, seq))",
	"CREATE INDEX images_by_thread ON " S "images (store_id, thread, seq)",
	"CREATE INDEX images_fts ON " S "images USING gin (fts)",
	"CREATE INDEX images_by_blob ON " S "images (store_id, blob) WHERE blob IS NOT NULL",
	"CREATE INDEX images_by_thumbnail ON " S "images (store_id, thumbnail) WHERE thumbnail IS NOT NULL",
	"CREATE TABLE " S "settings (store_id text NOT NULL, key text NOT NULL, value jsonb NOT NULL,"
	" category text, sensitive boolean NOT NULL, actor text, description text,"
	" updated_ms bigint NOT NULL, updated timestamptz NOT NULL, seq bigint NOT NULL,"
	" PRIMARY KEY (store_id, key))",
	"CREATE TABLE " S "config_changes (store_id text NOT NULL, seq bigint NOT NULL,"
	" scope text NOT NULL, subject text NOT NULL, actor text, old_value jsonb, new_value jsonb,"
	" sensitive boolean NOT NULL, ts_ms bigint NOT NULL, ts timestamptz NOT NULL,"
	" PRIMARY KEY (store_id, seq))",
	"CREATE INDEX config_changes_by_subject ON " S "config_changes (store_id, scope, subject, seq)",
	"CREATE TABLE " S "metrics (store_id text NOT NULL, seq bigint NOT NULL, name text NOT NULL,"
	" value double precision NOT NULL, unit text, tags jsonb, ts_ms bigint NOT NULL,"
	" ts timestamptz NOT NULL, PRIMARY KEY (store_id, seq))",
	"CREATE INDEX metrics_by_name_time ON " S "metrics (store_id, name, ts_ms)",
	"CREATE VIEW " S "costs_by_user_day AS SELECT store_id, \"user\", day, count(*) AS messages,"
	" sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(usd) AS usd"
	" FROM " S "message_costs GROUP BY store_id, \"user\", day",
	NULL,
};

/* Version 2: event schema 0.3, the chat model (docs/events.md; the SQLite
 * side is materializer/migrations/004_chat_model.sql). New columns, the
 * tables message_edits, reactions and attachments, and, as there, the rows
 * are rebuilt: every store's rows are emptied and its position set to 0, so
 * each sink re-applies its journal from the first event on its next start
 * (first_seen and created are now the EARLIEST event time, and events of
 * 0.3 a version-1 sink met would have stopped it). */
static const char *const V2[] = {
	"ALTER TABLE " S "messages ALTER COLUMN content DROP NOT NULL,"
	" ADD COLUMN reply_to text, ADD COLUMN parent text, ADD COLUMN name text,"
	" ADD COLUMN tool_call_id text, ADD COLUMN tool_calls jsonb,"
	" ADD COLUMN edited_ts_ms bigint, ADD COLUMN edited_ts timestamptz",
	/* edit_message, delete_message and reaction name their message by id */
	"CREATE INDEX messages_by_id ON " S "messages (store_id, id) WHERE id IS NOT NULL",
	"ALTER TABLE " S "images ADD COLUMN message text",
	"ALTER TABLE " S "users ADD COLUMN display_name text, ADD COLUMN is_bot boolean,"
	" ADD COLUMN avatar_url text, ADD COLUMN metadata jsonb",
	"ALTER TABLE " S "threads ADD COLUMN title text, ADD COLUMN topic text,"
	" ADD COLUMN metadata jsonb",
	"CREATE TABLE " S "message_edits (store_id text NOT NULL, seq bigint NOT NULL,"
	" message_seq bigint NOT NULL, editor text, old_content text, content text NOT NULL,"
	" id text, ts_ms bigint NOT NULL, ts timestamptz NOT NULL, PRIMARY KEY (store_id, seq))",
	"CREATE INDEX message_edits_by_message ON " S "message_edits (store_id, message_seq, seq)",
	"CREATE TABLE " S "reactions (store_id text NOT NULL, message_seq bigint NOT NULL,"
	" emoji text NOT NULL, \"user\" text NOT NULL, seq bigint NOT NULL, ts_ms bigint NOT NULL,"
	" ts timestamptz NOT NULL, PRIMARY KEY (store_id, message_seq, emoji, \"user\"))",
	"CREATE TABLE " S "attachments (store_id text NOT NULL, message_seq bigint NOT NULL,"
	" idx integer NOT NULL, blob text, url text, name text, mime text, size bigint,"
	" PRIMARY KEY (store_id, message_seq, idx))",
	"CREATE INDEX attachments_by_blob ON " S "attachments (store_id, blob) WHERE blob IS NOT NULL",
	"CREATE VIEW " S "reaction_counts AS SELECT store_id, message_seq, emoji, count(*) AS count"
	" FROM " S "reactions GROUP BY store_id, message_seq, emoji",
	"CREATE VIEW " S "costs_by_thread_day AS SELECT c.store_id, m.thread, c.day,"
	" count(*) AS messages, sum(c.input_tokens) AS input_tokens,"
	" sum(c.output_tokens) AS output_tokens, sum(c.usd) AS usd FROM " S "message_costs c"
	" JOIN " S "messages m ON m.store_id = c.store_id AND m.seq = c.seq"
	" GROUP BY c.store_id, m.thread, c.day",
	"CREATE VIEW " S "thread_titles AS SELECT t.store_id, t.thread,"
	" coalesce(nullif(t.title, ''), (SELECT left(split_part(m.content, E'\\n', 1), 80)"
	"   FROM " S "messages m WHERE m.store_id = t.store_id AND m.thread = t.thread"
	"   AND m.role = 'user' AND m.content IS NOT NULL AND m.content <> ''"
	"   ORDER BY m.seq LIMIT 1)) AS title,"
	" nullif(t.title, '') IS NOT NULL AS title_set, t.topic FROM " S "threads t",
	/* Rebuild (see above). */
	"TRUNCATE " S "users, " S "threads, " S "user_threads, " S "messages, " S "message_costs, "
	S "blobs, " S "images, " S "settings, " S "config_changes, " S "metrics",
	"UPDATE " S "sink_position SET seq = 0, updated = now()",
	NULL,
};

static const char *const *const MIGRATIONS[SK_SCHEMA_VERSION] = { V1, V2 };

/* The version applied, 0 for none; -1 when the schema exists but is not ours. */
static int read_version(cj_sink *k, int *ver)
{
	PGresult *res;
	int rc = sk_exec(&res, k, "read the schema version", 0,
	                 "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = '" SK_PG_SCHEMA "'),"
	                 " to_regclass('" S "schema_version') IS NOT NULL", 0, NULL);
	if (rc)
		return rc;
	int has_schema = atoi(PQgetvalue(res, 0, 0)) > 0;
	int has_table = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	*ver = 0;
	if (!has_schema)
		return 0;
	if (!has_table) {
		*ver = -1;
		return 0;
	}
	if ((rc = sk_exec(&res, k, "read the schema version", 0,
	                  "SELECT version FROM " S "schema_version", 0, NULL)))
		return rc;
	*ver = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : -1;
	PQclear(res);
	return 0;
}

static int too_new(cj_sink *k, int ver)
{
	return cj_error_set(CJ_EVERSION, NULL, "sink %s: the PostgreSQL schema " SK_PG_SCHEMA
	                    " is at version %d, written by a newer sink (this one knows up to %d): "
	                    "upgrade chatjournal", k->store_id, ver, SK_SCHEMA_VERSION);
}

int sk_schema_ensure(cj_sink *k)
{
	int server = PQserverVersion(k->pg);
	if (server < SK_MIN_SERVER)
		return cj_error_set(CJ_EVERSION, NULL, "sink %s: PostgreSQL %d.%d is too old: the sink "
		                    "needs 12 or newer (generated columns)", k->store_id, server / 10000,
		                    server % 10000 / 100);
	int ver, rc = read_version(k, &ver);
	if (rc)
		return rc;
	if (ver == SK_SCHEMA_VERSION)
		return 0;
	if (ver > SK_SCHEMA_VERSION)
		return too_new(k, ver);
	if ((rc = sk_exec(NULL, k, "begin the migration", 0,
	                  "BEGIN; SELECT pg_advisory_xact_lock(7567230, 0)", 0, NULL)))
		return rc;
	/* Read again under the lock: another sink may have migrated meanwhile. */
	if ((rc = read_version(k, &ver)))
		goto fail;
	if (ver < 0) {
		rc = cj_error_set(CJ_EVERSION, NULL, "sink %s: PostgreSQL has a schema named "
		                  SK_PG_SCHEMA " that the sink did not create (no schema_version table): "
		                  "use another database", k->store_id);
		goto fail;
	}
	if (ver > SK_SCHEMA_VERSION) {
		rc = too_new(k, ver);
		goto fail;
	}
	if (ver == 0 && (rc = sk_exec(NULL, k, "create the schema", 0,
	                              "CREATE SCHEMA IF NOT EXISTS " SK_PG_SCHEMA ";"
	                              "CREATE TABLE " S "schema_version (id int PRIMARY KEY CHECK (id = 1),"
	                              " version int NOT NULL);"
	                              "INSERT INTO " S "schema_version VALUES (1, 0)", 0, NULL)))
		goto fail;
	for (int v = ver; v < SK_SCHEMA_VERSION; v++) {
		char what[64], sql[128];
		snprintf(what, sizeof what, "migrate the schema to version %d", v + 1);
		snprintf(sql, sizeof sql, "UPDATE " S "schema_version SET version = %d", v + 1);
		for (const char *const *st = MIGRATIONS[v]; *st && !rc; st++)
			rc = sk_exec(NULL, k, what, 0, *st, 0, NULL);
		if (rc || (rc = sk_exec(NULL, k, what, 0, sql, 0, NULL)))
			goto fail;
	}
	if ((rc = sk_exec(NULL, k, "commit the migration", 0, "COMMIT", 0, NULL)))
		goto fail;
	sk_log(k, "schema " SK_PG_SCHEMA " migrated from version %d to %d", ver, SK_SCHEMA_VERSION);
	return 0;
fail:
	PQclear(PQexec(k->pg, "ROLLBACK"));
	return rc;
}
