/* sink/sink_internal.h — what the files of the PostgreSQL sink share: the
 * sink handle, a growable buffer, the aggregate map, the libpq helpers.
 * The sink uses the public API (include/chatjournal/) and libpq only;
 * nothing here reaches into the core library's internals.
 *   sink.c          lifecycle, the run loop, reconnecting, the batch
 *   schema.c        the PostgreSQL schema and its migrations
 *   rows.c, rows.h  the row definitions (tables, columns, kinds) that the
 *                   apply and the comparison share
 *   apply.c         events -> rows: the per-type table, bulk rows, aggregates
 *   apply_rows.c    user, thread_config, setting (one statement each)
 *   apply_delete.c  delete_thread, clear_history, purge
 *   apply_chat.c    edit_message, delete_message, reaction, thread, redact_edits
 *   compare.c       the canonical per-store hash on both sides
 *   pg.c, util.c    libpq helpers; buffer and map */
#ifndef CJ_SINK_INTERNAL_H
#define CJ_SINK_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/sink.h"
#include "rows.h"

/* ---- a growable byte buffer with a sticky out-of-memory flag (util.c) ---- */

typedef struct sk_buf {
	char *p;
	size_t len, cap;
	int oom;
} sk_buf;

void sk_buf_add(sk_buf *b, const void *data, size_t n);
void sk_buf_str(sk_buf *b, const char *s);
void sk_buf_printf(sk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sk_buf_reset(sk_buf *b);
void sk_buf_free(sk_buf *b);
/* s as a field of COPY's text format (backslash escapes), or \N for NULL. */
void sk_buf_copy_field(sk_buf *b, const char *s);

/* ---- per-batch aggregates keyed by text (util.c) ---- */

typedef struct sk_agg {
	char *key;             /* thread, user, "user\x1fthread", blob hash */
	int64_t first_ms;      /* the first event of the segment naming the row */
	int64_t max_ms;        /* latest activity */
	int64_t count;         /* messages */
	int64_t seq;           /* last event that touched the row */
	char *server, *channel;  /* latest non-null (threads) */
	char *extra;           /* blobs: mime type */
	int64_t size;          /* blobs: -1 if the bytes are not in the journal */
	int used_order;        /* insertion order, so that flushes are deterministic */
} sk_agg;

typedef struct sk_map {
	sk_agg *slots;
	size_t cap, used;
} sk_map;

/* The row of key, created (zeroed but key, first_ms = max_ms = ms) if new:
 * *is_new tells. NULL on out of memory. */
sk_agg *sk_map_get(sk_map *m, const char *key, int64_t ms, int *is_new);
/* Rows in insertion order (a new array; free it). */
sk_agg **sk_map_rows(const sk_map *m);
void sk_map_clear(sk_map *m);
void sk_map_free(sk_map *m);

/* ---- the sink ---- */

struct cj_sink {
	cj_store *store;
	cj_sink_options o;
	char dsn[4096];
	char store_id[256];
	PGconn *pg;
	uint64_t pos;              /* position in PostgreSQL, as last committed */
	cj_journal_iter *it;       /* positioned at pos + 1 */
	atomic_int stop;
	int transient;             /* the last PostgreSQL error may pass: reconnect */
	/* the batch in hand (apply.c) */
	uint64_t batch_first, batch_last;
	char first_event[64];      /* identity of journal record 1, "type:ts_ms" */
	sk_buf bulk[SK_NTABLES];   /* COPY text (or INSERT values) per bulk table */
	size_t bulk_rows[SK_NTABLES];
	sk_map threads, users, user_threads, blobs;
	int order;                 /* insertion counter for the maps */
	sk_buf sql;                /* scratch */
};

/* Log a state change through the options' callback. */
void sk_log(cj_sink *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- libpq (pg.c) ---- */

/* Run sql with text parameters (NULL entries are SQL NULL). Commands: 0 or
 * an error; k->transient set when the failure may pass (connection lost,
 * server shutting down, out of resources). what names the step and
 * record seq (0: none) in the message. *res (may be NULL) gets the result
 * of a query (PQclear it). */
int sk_exec(PGresult **res, cj_sink *k, const char *what, uint64_t seq, const char *sql,
            int n, const char *const *params);
/* COPY rows (text format) into table (column list cols) in one go. */
int sk_copy(cj_sink *k, const char *table, const char *cols, const char *data, size_t len);
/* An error from the last libpq result or the connection. */
int sk_pg_error(cj_sink *k, const PGresult *res, const char *what, uint64_t seq);

/* ---- schema (schema.c) ---- */

#define SK_SCHEMA_VERSION 2
#define SK_MIN_SERVER 120000   /* PostgreSQL 12: generated columns */
/* Check the server, create or migrate the schema (one transaction, under a
 * transaction-level advisory lock so two sinks starting at once migrate
 * once). */
int sk_schema_ensure(cj_sink *k);

/* ---- apply (apply.c, apply_rows.c, apply_delete.c) ---- */

/* Add event seq to the batch (rows buffered or statements run). Unknown
 * types fail naming seq and the type. */
int sk_apply_event(cj_sink *k, const cj_record *rec);
/* Write everything buffered (bulk rows, aggregates) to PostgreSQL. */
int sk_apply_settle(cj_sink *k);
/* Forget what is buffered (a failed batch). */
void sk_apply_discard(cj_sink *k);
void sk_apply_free(cj_sink *k);

/* One event's JSON, parsed from its canonical form. */
typedef struct sk_event {
	uint64_t seq;
	int64_t ts_ms;
	char ts[32];             /* ISO 8601 UTC of ts_ms */
	json_t *o;
	int64_t idx;             /* attachments rows: the element's position */
} sk_event;

int sk_apply_user(cj_sink *k, const sk_event *e);
int sk_apply_thread_config(cj_sink *k, const sk_event *e);
int sk_apply_setting(cj_sink *k, const sk_event *e);
int sk_apply_delete_thread(cj_sink *k, const sk_event *e);
int sk_apply_clear_history(cj_sink *k, const sk_event *e);
int sk_apply_purge(cj_sink *k, const sk_event *e);
int sk_apply_edit_message(cj_sink *k, const sk_event *e);
int sk_apply_delete_message(cj_sink *k, const sk_event *e);
int sk_apply_reaction(cj_sink *k, const sk_event *e);
int sk_apply_thread(cj_sink *k, const sk_event *e);
int sk_apply_redact_edits(cj_sink *k, const sk_event *e);
/* Rows of one message's dependents (costs, edits, reactions, attachments)
 * and the message rows themselves, for messages m matching where (over
 * the parameters of the unit of work: $1 the store id). apply_delete.c. */
typedef struct sk_del {
	cj_sink *k;
	const char *what;
	uint64_t seq;
	int rc;                  /* sticky: the first failure; later steps do nothing */
	int n;
	const char *const *p;
} sk_del;
void sk_del_step(sk_del *w, const char *sql);
void sk_del_messages(sk_del *w, const char *where);
void sk_del_orphan_blobs(sk_del *w);
/* The config a user or thread_config event leaves (canonical text, or NULL
 * when it changes none): "config" replaces, "config_patch" merges into
 * old (JSON text or NULL) with RFC 7396 (cj_json_merge_patch). */
int sk_new_config(char **out, const sk_event *e, const char *old);

/* v in decimal into buf (n bytes); returns buf (a statement parameter). */
static inline const char *sk_num(char *buf, size_t n, int64_t v)
{
	snprintf(buf, n, "%lld", (long long)v);
	return buf;
}

/* Canonical JSON text of v (sorted keys), NULL for NULL; free(). */
char *sk_json_text(const json_t *v);
static inline const char *sk_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

#endif
