/* sink/rows.h — the sink's tables as data: every logical column of every
 * table the SQLite projection and the PostgreSQL sink both have, with its
 * kind, its expression on the SQLite side and, for the tables whose rows
 * come one per event (messages, message_costs, images, metrics; attachments:
 * one per element of a message's array), where in the event each value
 * comes from. The bulk apply (apply.c) writes COPY or
 * INSERT rows from these lists and the comparison (compare.c) reads both
 * sides through them, so a column is named once. Row ids are not columns
 * here: the PostgreSQL tables key on text (store_id, thread, user), and the
 * SQLite side joins its row ids back to text. */
#ifndef CJ_SINK_ROWS_H
#define CJ_SINK_ROWS_H

#include <stddef.h>

typedef enum sk_kind {
	SK_INT,    /* bigint / integer */
	SK_REAL,   /* double precision (compared as doubles) */
	SK_TEXT,
	SK_JSON,   /* jsonb (compared in canonical text: jsonb reorders keys) */
	SK_TIME,   /* timestamptz; ISO 8601 UTC text with ms in SQLite */
	SK_BOOL,   /* boolean; 0/1 in SQLite */
	SK_DATE    /* date; YYYY-MM-DD text in SQLite */
} sk_kind;

/* Where a bulk column's value comes from: a field of the event ("thread",
 * "cost.usd": one dot level), or a computed value. */
#define SK_SRC_SEQ    "$seq"
#define SK_SRC_TS_MS  "$ts_ms"
#define SK_SRC_TS     "$ts"
#define SK_SRC_DAY    "$day"          /* YYYY-MM-DD of ts */
#define SK_SRC_HAS    "$has:"         /* "$has:thumbnail": the field is present */
#define SK_SRC_IDX    "$idx"          /* attachments: the position in the event's array */
#define SK_SRC_NONE   "$none"         /* NULL when the row is loaded; a later event sets it */

typedef struct sk_col {
	const char *name;     /* the PostgreSQL column (quoted in SQL: "user" is reserved) */
	sk_kind kind;
	const char *sqlite;   /* the value in the SQLite projection's canonical SELECT */
	const char *src;      /* bulk tables: where the value comes from; else NULL */
} sk_col;

#define SK_MAX_COLS 24

typedef struct sk_table {
	const char *name;         /* the table, in both databases */
	const char *sqlite_from;  /* FROM clause of the SQLite side (joins row ids to text) */
	int bulk;                 /* one row per event, loaded by COPY or INSERT */
	size_t ncols;
	sk_col cols[SK_MAX_COLS];
} sk_table;

enum {
	SK_T_USERS, SK_T_THREADS, SK_T_USER_THREADS, SK_T_MESSAGES, SK_T_MESSAGE_COSTS, SK_T_BLOBS,
	SK_T_IMAGES, SK_T_SETTINGS, SK_T_CONFIG_CHANGES, SK_T_METRICS, SK_T_MESSAGE_EDITS,
	SK_T_REACTIONS, SK_T_ATTACHMENTS, SK_NTABLES
};

extern const sk_table sk_tables[SK_NTABLES];

/* The PostgreSQL schema holding the tables. */
#define SK_PG_SCHEMA "chatjournal"

/* "\"a\", \"b\", ..." of t's columns into out (n bytes); 0 or -1. */
int sk_col_list(char *out, size_t n, const sk_table *t);

#endif
