/* sink/apply.c — journal events -> PostgreSQL rows, within the batch's
 * transaction.
 *
 * The event types are a table (TYPES): each names its handler and whether
 * the rows buffered so far must be written first. Adding a type is one
 * line there plus its handler (and, for a table of one row per event, its
 * row definition in rows.c). A type missing from the table stops the sink
 * with an error naming the record and the type: nothing is ever skipped.
 *
 * Messages, images and metrics are buffered: their own rows (and costs) as
 * COPY text or INSERT values built from the column lists of rows.c, and
 * what they change in threads, users, user_threads and blobs as one
 * aggregate per row (count, latest activity, latest server/channel, last
 * seq) written by one multi-row upsert each when the batch settles. The
 * other types run statements at once, after the buffered rows were
 * written where they read or change the same rows (the same order of
 * effects as the SQLite materializer: materializer/apply.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sink_internal.h"

#define S SK_PG_SCHEMA "."
#define MAX_PARAMS 60000

typedef int (*sk_handler)(cj_sink *k, const sk_event *e);

static int bulk_message(cj_sink *k, const sk_event *e);
static int bulk_image(cj_sink *k, const sk_event *e);
static int bulk_metric(cj_sink *k, const sk_event *e);

static const struct sk_type {
	cj_event_type type;
	int settle;           /* write the buffered rows first */
	sk_handler apply;
} TYPES[] = {
	{ CJ_EVENT_MESSAGE, 0, bulk_message },
	{ CJ_EVENT_IMAGE, 0, bulk_image },
	{ CJ_EVENT_METRIC, 0, bulk_metric },
	{ CJ_EVENT_SETTING, 0, sk_apply_setting },   /* its rows are no aggregate's */
	{ CJ_EVENT_USER, 1, sk_apply_user },
	{ CJ_EVENT_THREAD_CONFIG, 1, sk_apply_thread_config },
	{ CJ_EVENT_DELETE_THREAD, 1, sk_apply_delete_thread },
	{ CJ_EVENT_CLEAR_HISTORY, 1, sk_apply_clear_history },
	{ CJ_EVENT_PURGE, 1, sk_apply_purge },
	/* 0.3: they read or change messages and threads (apply_chat.c) */
	{ CJ_EVENT_EDIT_MESSAGE, 1, sk_apply_edit_message },
	{ CJ_EVENT_DELETE_MESSAGE, 1, sk_apply_delete_message },
	{ CJ_EVENT_REACTION, 1, sk_apply_reaction },
	{ CJ_EVENT_THREAD, 1, sk_apply_thread },
	{ CJ_EVENT_REDACT_EDITS, 0, sk_apply_redact_edits },  /* message_edits only */
};

/* ---- values of bulk rows ---------------------------------------------------- */

/* The value of column c for event e as text (into tmp), or NULL. */
static const char *col_value(const sk_col *c, const sk_event *e, char *tmp, size_t n, char **owned)
{
	*owned = NULL;
	const char *src = c->src;
	if (!strcmp(src, SK_SRC_SEQ)) {
		snprintf(tmp, n, "%llu", (unsigned long long)e->seq);
		return tmp;
	}
	if (!strcmp(src, SK_SRC_TS_MS)) {
		snprintf(tmp, n, "%lld", (long long)e->ts_ms);
		return tmp;
	}
	if (!strcmp(src, SK_SRC_TS))
		return e->ts;
	if (!strcmp(src, SK_SRC_NONE))
		return NULL;
	if (!strcmp(src, SK_SRC_IDX)) {
		snprintf(tmp, n, "%lld", (long long)e->idx);
		return tmp;
	}
	if (!strcmp(src, SK_SRC_DAY)) {
		snprintf(tmp, n, "%.10s", e->ts);
		return tmp;
	}
	if (!strncmp(src, SK_SRC_HAS, strlen(SK_SRC_HAS)))
		return sk_str(e->o, src + strlen(SK_SRC_HAS)) ? "t" : "f";
	const json_t *v;
	const char *dot = strchr(src, '.');
	if (dot) {
		char outer[64];
		snprintf(outer, sizeof outer, "%.*s", (int)(dot - src), src);
		v = json_object_get(json_object_get(e->o, outer), dot + 1);
	} else {
		v = json_object_get(e->o, src);
	}
	switch (c->kind) {
	case SK_INT:
		if (!json_is_integer(v))
			return NULL;
		snprintf(tmp, n, "%lld", (long long)json_integer_value(v));
		return tmp;
	case SK_REAL:
		if (!json_is_number(v))
			return NULL;
		snprintf(tmp, n, "%.17g", json_number_value(v));
		return tmp;
	case SK_JSON:
		return v ? (*owned = sk_json_text(v)) : NULL;
	default:
		return json_string_value(v);
	}
}

/* One row of bulk table ti from event e into its buffer: COPY text, or for
 * INSERT a tag byte per value (1 NULL, 2 text up to its NUL). */
static int add_row(cj_sink *k, int ti, const sk_event *e)
{
	const sk_table *t = &sk_tables[ti];
	sk_buf *b = &k->bulk[ti];
	int copy = k->o.load == CJ_SINK_LOAD_COPY;
	if (copy) {
		sk_buf_copy_field(b, k->store_id);
	}
	for (size_t i = 0; i < t->ncols; i++) {
		char tmp[64], *owned;
		const char *v = col_value(&t->cols[i], e, tmp, sizeof tmp, &owned);
		if (copy) {
			sk_buf_add(b, "\t", 1);
			sk_buf_copy_field(b, v);
		} else if (v) {
			sk_buf_add(b, "\2", 1);
			sk_buf_add(b, v, strlen(v) + 1);
		} else {
			sk_buf_add(b, "\1", 1);
		}
		free(owned);
	}
	if (copy)
		sk_buf_add(b, "\n", 1);
	k->bulk_rows[ti]++;
	if (b->oom)
		return cj_error_set(CJ_ENOMEM, NULL, "sink: out of memory buffering rows");
	return 0;
}

/* ---- aggregates -------------------------------------------------------------- */

static int keep_latest(char **slot, const char *v)
{
	if (!v)
		return 0;
	char *c = strdup(v);
	if (!c)
		return CJ_ENOMEM;
	free(*slot);
	*slot = c;
	return 0;
}

static int oom(void) { return cj_error_set(CJ_ENOMEM, NULL, "sink: out of memory"); }

/* The batch's earliest and latest event time of an aggregate's row. */
static void touch_times(sk_agg *a, int64_t ms)
{
	if (ms > a->max_ms)
		a->max_ms = ms;
	if (ms < a->first_ms)
		a->first_ms = ms;
}

/* A message or image touches its thread (activity; messages count). */
static int touch_thread(cj_sink *k, const sk_event *e, int message)
{
	int is_new;
	sk_agg *a = sk_map_get(&k->threads, sk_str(e->o, "thread"), e->ts_ms, &is_new);
	if (!a)
		return oom();
	touch_times(a, e->ts_ms);
	a->seq = (int64_t)e->seq;
	if (message) {
		a->count++;
		if (keep_latest(&a->server, sk_str(e->o, "server")) ||
		    keep_latest(&a->channel, sk_str(e->o, "channel")))
			return oom();
	}
	return 0;
}

static int touch_user(cj_sink *k, const sk_event *e, const char *user)
{
	int is_new;
	sk_agg *a = sk_map_get(&k->users, user, e->ts_ms, &is_new);
	if (!a)
		return oom();
	touch_times(a, e->ts_ms);
	a->seq = (int64_t)e->seq;
	sk_buf *key = &k->sql;
	sk_buf_reset(key);
	sk_buf_str(key, user);
	sk_buf_add(key, "\x1f", 1);
	sk_buf_str(key, sk_str(e->o, "thread"));
	if (key->oom || !(a = sk_map_get(&k->user_threads, key->p, e->ts_ms, &is_new)))
		return oom();
	if (e->ts_ms > a->max_ms)
		a->max_ms = e->ts_ms;
	a->count++;
	return 0;
}

static int touch_blob(cj_sink *k, const sk_event *e, const char *hash)
{
	if (!hash)
		return 0;
	int is_new;
	sk_agg *a = sk_map_get(&k->blobs, hash, e->ts_ms, &is_new);
	if (!a)
		return oom();
	if (!is_new)
		return 0;
	a->seq = (int64_t)e->seq; /* first_seq: the first image naming it */
	void *data;
	size_t len;
	if (cj_blob_get(&data, &len, k->store, hash) == 0) {
		a->size = (int64_t)len;
		a->extra = strdup(cj_blob_mime_type(data, len));
		cj_free(data);
		if (!a->extra)
			return oom();
	} else {
		cj_error_clear(); /* not (yet, or no more) in the journal: NULL size and type */
	}
	return 0;
}

/* ---- the bulk types ---------------------------------------------------------- */

static int bulk_message(cj_sink *k, const sk_event *e)
{
	int rc = touch_thread(k, e, 1);
	const char *user = sk_str(e->o, "user");
	if (!rc && user)
		rc = touch_user(k, e, user);
	if (!rc)
		rc = add_row(k, SK_T_MESSAGES, e);
	if (!rc && json_is_object(json_object_get(e->o, "cost")))
		rc = add_row(k, SK_T_MESSAGE_COSTS, e);
	/* Its files, in order; a stored one gets its blobs row. */
	const json_t *att = json_object_get(e->o, "attachments");
	size_t i;
	const json_t *el;
	json_array_foreach(att, i, el) {
		sk_event row = { e->seq, e->ts_ms, "", (json_t *)el, (int64_t)i };
		memcpy(row.ts, e->ts, sizeof row.ts);
		if (!rc)
			rc = touch_blob(k, e, sk_str(el, "blob"));
		if (!rc)
			rc = add_row(k, SK_T_ATTACHMENTS, &row);
	}
	return rc;
}

static int bulk_image(cj_sink *k, const sk_event *e)
{
	int rc = touch_thread(k, e, 0);
	if (!rc)
		rc = touch_blob(k, e, sk_str(e->o, "blob"));
	if (!rc)
		rc = touch_blob(k, e, sk_str(e->o, "thumbnail"));
	return rc ? rc : add_row(k, SK_T_IMAGES, e);
}

static int bulk_metric(cj_sink *k, const sk_event *e) { return add_row(k, SK_T_METRICS, e); }

/* ---- writing what is buffered ------------------------------------------------ */

/* head "INSERT ... (store_id, a, b)" + " VALUES ($1, $2, $3), ($1, $4, $5)..." +
 * tail, over rows of per_row values each (vals: rows * per_row, NULL = SQL
 * NULL), in chunks that fit the protocol's parameter count. */
static int multi_insert(cj_sink *k, const char *what, const char *head, const char *tail,
                        size_t per_row, size_t rows, const char **vals)
{
	size_t chunk = (MAX_PARAMS - 1) / per_row;
	const char **params = malloc((chunk * per_row + 1) * sizeof *params);
	if (!params)
		return oom();
	int rc = 0;
	for (size_t r0 = 0; r0 < rows && !rc; r0 += chunk) {
		size_t n = rows - r0 < chunk ? rows - r0 : chunk;
		sk_buf *q = &k->sql;
		sk_buf_reset(q);
		sk_buf_str(q, head);
		sk_buf_str(q, " VALUES ");
		params[0] = k->store_id;
		int p = 2;
		for (size_t r = 0; r < n; r++) {
			sk_buf_str(q, r ? ", ($1" : "($1");
			for (size_t c = 0; c < per_row; c++) {
				sk_buf_printf(q, ", $%d", p);
				params[p - 1] = vals[(r0 + r) * per_row + c];
				p++;
			}
			sk_buf_add(q, ")", 1);
		}
		sk_buf_str(q, tail);
		if (q->oom) {
			rc = oom();
			break;
		}
		rc = sk_exec(NULL, k, what, k->batch_first, q->p, p - 1, params);
	}
	free(params);
	return rc;
}

/* Values of aggregate rows: fixed-size text slots, 40 bytes each. */
typedef struct slots {
	char (*v)[40];
	const char **vals;
} slots;

static int slots_new(slots *s, size_t n)
{
	s->v = malloc((n ? n : 1) * sizeof *s->v);
	s->vals = malloc((n ? n : 1) * sizeof *s->vals);
	return s->v && s->vals ? 0 : -1;
}

static void slots_free(slots *s)
{
	free(s->v);
	free(s->vals);
}

static const char *num(slots *s, size_t i, int64_t v)
{
	snprintf(s->v[i], sizeof s->v[i], "%lld", (long long)v);
	return s->vals[i] = s->v[i];
}

static const char *tstamp(slots *s, size_t i, int64_t ms)
{
	cj_time_format(s->v[i], ms);
	return s->vals[i] = s->v[i];
}

/* One aggregate map upserted: ncols values a row, set by fill; then, if
 * given, undo(row) for each row (after the statement ran). */
typedef void (*fill_fn)(slots *s, size_t b, sk_agg *a);
static int flush_map(cj_sink *k, const sk_map *map, unsigned ncols, fill_fn fill,
                     void (*undo)(sk_agg *a), const char *what, const char *head,
                     const char *tail)
{
	size_t n = map->used;
	if (!n)
		return 0;
	sk_agg **rows = sk_map_rows(map);
	slots s;
	if (!rows || slots_new(&s, n * ncols)) {
		free(rows);
		return oom();
	}
	for (size_t r = 0; r < n; r++)
		fill(&s, r * ncols, rows[r]);
	int rc = multi_insert(k, what, head, tail, ncols, n, s.vals);
	for (size_t r = 0; undo && r < n; r++)
		undo(rows[r]);
	slots_free(&s);
	free(rows);
	return rc;
}

static void fill_thread(slots *s, size_t b, sk_agg *a)
{
	s->vals[b] = a->key;
	s->vals[b + 1] = a->server;
	s->vals[b + 2] = a->channel;
	num(s, b + 3, a->first_ms);
	tstamp(s, b + 4, a->first_ms);
	num(s, b + 5, a->max_ms);
	tstamp(s, b + 6, a->max_ms);
	num(s, b + 7, a->count);
	num(s, b + 8, a->seq);
}

static int flush_threads(cj_sink *k)
{
	return flush_map(k, &k->threads, 9, fill_thread, NULL, "threads",
	                 "INSERT INTO " S "threads AS t (store_id, thread, server,"
	                 " channel, created_ms, created, last_activity_ms, last_activity,"
	                 " message_count, seq)",
	                 " ON CONFLICT (store_id, thread) DO UPDATE SET"
	                 " server = coalesce(excluded.server, t.server),"
	                 " channel = coalesce(excluded.channel, t.channel),"
	                 " created = CASE WHEN excluded.created_ms < t.created_ms"
	                 "   THEN excluded.created ELSE t.created END,"
	                 " created_ms = least(t.created_ms, excluded.created_ms),"
	                 " last_activity = CASE WHEN excluded.last_activity_ms > t.last_activity_ms"
	                 "   THEN excluded.last_activity ELSE t.last_activity END,"
	                 " last_activity_ms = greatest(t.last_activity_ms, excluded.last_activity_ms),"
	                 " message_count = t.message_count + excluded.message_count,"
	                 " seq = excluded.seq");
}

static void fill_user(slots *s, size_t b, sk_agg *a)
{
	s->vals[b] = a->key;
	num(s, b + 1, a->first_ms);
	tstamp(s, b + 2, a->first_ms);
	num(s, b + 3, a->max_ms);
	tstamp(s, b + 4, a->max_ms);
	num(s, b + 5, a->seq);
}

/* A user_threads key is "user\x1fthread": two values in place, the
 * separator put back once the statement ran. */
static void fill_user_thread(slots *s, size_t b, sk_agg *a)
{
	char *sep = strchr(a->key, '\x1f');
	*sep = '\0';
	s->vals[b] = a->key;
	s->vals[b + 1] = sep + 1;
	num(s, b + 2, a->max_ms);
	num(s, b + 3, a->count);
}

static void undo_user_thread(sk_agg *a)
{
	a->key[strlen(a->key)] = '\x1f';
}

static int flush_users(cj_sink *k)
{
	int rc = flush_map(k, &k->users, 6, fill_user, NULL, "users",
	                   "INSERT INTO " S "users AS u (store_id, \"user\","
	                   " first_seen_ms, first_seen, last_seen_ms, last_seen, seq)",
	                   " ON CONFLICT (store_id, \"user\") DO UPDATE SET"
	                   " first_seen = CASE WHEN excluded.first_seen_ms < u.first_seen_ms"
	                   "   THEN excluded.first_seen ELSE u.first_seen END,"
	                   " first_seen_ms = least(u.first_seen_ms, excluded.first_seen_ms),"
	                   " last_seen = CASE WHEN excluded.last_seen_ms > u.last_seen_ms"
	                   "   THEN excluded.last_seen ELSE u.last_seen END,"
	                   " last_seen_ms = greatest(u.last_seen_ms, excluded.last_seen_ms),"
	                   " seq = excluded.seq");
	if (rc)
		return rc;
	return flush_map(k, &k->user_threads, 4, fill_user_thread, undo_user_thread, "user_threads",
	                 "INSERT INTO " S "user_threads AS x (store_id, \"user\","
	                 " thread, last_activity_ms, message_count)",
	                 " ON CONFLICT (store_id, \"user\", thread) DO UPDATE SET"
	                 " last_activity_ms = greatest(x.last_activity_ms, excluded.last_activity_ms),"
	                 " message_count = x.message_count + excluded.message_count");
}

static void fill_blob(slots *s, size_t b, sk_agg *a)
{
	s->vals[b] = a->key;
	s->vals[b + 1] = a->size >= 0 ? num(s, b + 1, a->size) : NULL;
	s->vals[b + 2] = a->extra;
	num(s, b + 3, a->seq);
}

static int flush_blobs(cj_sink *k)
{
	return flush_map(k, &k->blobs, 4, fill_blob, NULL, "blobs",
	                 "INSERT INTO " S "blobs (store_id, blob, size, mime_type, first_seq)",
	                 " ON CONFLICT (store_id, blob) DO NOTHING");
}

/* The INSERT form of a bulk table: values back from the tagged buffer. */
static int insert_bulk(cj_sink *k, int ti)
{
	const sk_table *t = &sk_tables[ti];
	size_t n = k->bulk_rows[ti] * t->ncols;
	const char **vals = malloc((n ? n : 1) * sizeof *vals);
	if (!vals)
		return oom();
	const char *p = k->bulk[ti].p;
	for (size_t i = 0; i < n; i++) {
		if (*p++ == '\1') {
			vals[i] = NULL;
		} else {
			vals[i] = p;
			p += strlen(p) + 1;
		}
	}
	char cols[1024], head[1200];
	sk_col_list(cols, sizeof cols, t);
	snprintf(head, sizeof head, "INSERT INTO " S "%s (store_id, %s)", t->name, cols);
	int rc = multi_insert(k, t->name, head, "", t->ncols, k->bulk_rows[ti], vals);
	free(vals);
	return rc;
}

int sk_apply_settle(cj_sink *k)
{
	int rc = flush_threads(k);
	if (!rc)
		rc = flush_users(k);
	if (!rc)
		rc = flush_blobs(k);
	for (int ti = 0; ti < SK_NTABLES && !rc; ti++) {
		if (!sk_tables[ti].bulk || !k->bulk_rows[ti])
			continue;
		if (k->o.load == CJ_SINK_LOAD_COPY) {
			char cols[1024];
			sk_col_list(cols, sizeof cols, &sk_tables[ti]);
			rc = sk_copy(k, sk_tables[ti].name, cols, k->bulk[ti].p, k->bulk[ti].len);
		} else {
			rc = insert_bulk(k, ti);
		}
	}
	sk_apply_discard(k);
	return rc;
}

void sk_apply_discard(cj_sink *k)
{
	for (int ti = 0; ti < SK_NTABLES; ti++) {
		sk_buf_reset(&k->bulk[ti]);
		k->bulk_rows[ti] = 0;
	}
	sk_map_clear(&k->threads);
	sk_map_clear(&k->users);
	sk_map_clear(&k->user_threads);
	sk_map_clear(&k->blobs);
}

void sk_apply_free(cj_sink *k)
{
	for (int ti = 0; ti < SK_NTABLES; ti++)
		sk_buf_free(&k->bulk[ti]);
	sk_map_free(&k->threads);
	sk_map_free(&k->users);
	sk_map_free(&k->user_threads);
	sk_map_free(&k->blobs);
	sk_buf_free(&k->sql);
}

/* ---- dispatch ------------------------------------------------------------------ */

int sk_apply_event(cj_sink *k, const cj_record *rec)
{
	const struct sk_type *ty = NULL;
	for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
		if (TYPES[i].type == rec->type)
			ty = &TYPES[i];
	if (!ty) {
		const char *name = rec->event ? cj_event_get_string(rec->event, "type") : NULL;
		return cj_error_set(CJ_EINVAL, NULL, "sink %s: journal record %llu: event type '%s' "
		                    "(code %d) is not known to this sink; nothing from record %llu on was "
		                    "applied: upgrade the sink", k->store_id, (unsigned long long)rec->seq,
		                    name ? name : cj_event_type_name(rec->type), (int)rec->type,
		                    (unsigned long long)rec->seq);
	}
	char *text;
	size_t len;
	int rc = cj_event_to_canonical_json(&text, &len, rec->event);
	if (rc)
		return rc;
	json_error_t jerr;
	sk_event e = { rec->seq, rec->ts_ms, "", json_loadb(text, len, 0, &jerr), 0 };
	cj_free(text);
	if (!json_is_object(e.o)) {
		json_decref(e.o);
		return cj_error_set(CJ_ECORRUPT, NULL, "sink %s: journal record %llu: its JSON does not "
		                    "read back: %s", k->store_id, (unsigned long long)rec->seq, jerr.text);
	}
	cj_time_format(e.ts, e.ts_ms);
	if (ty->settle)
		rc = sk_apply_settle(k);
	if (!rc)
		rc = ty->apply(k, &e);
	json_decref(e.o);
	return rc;
}
