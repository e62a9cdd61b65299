/* tests/projection/putil.h — helpers of the projection tests: appending
 * events written as JSON text, reading STORE/chat.sqlite directly through
 * its own read-only sqlite3 connection, and picking query results apart.
 *
 * Plain C, no cmocka: usable from worker threads. The PU_* macros at the end
 * are for cmocka tests (include cmocka.h first). */
#ifndef CJ_TESTS_PROJECTION_PUTIL_H
#define CJ_TESTS_PROJECTION_PUTIL_H

#include <stddef.h>
#include <stdint.h>
#include "testutil.h"

/* 2024-05-01T10:00:00.000Z: the base time of the tests' events. */
#define PU_T0 INT64_C(1714557600000)

/* Parse json as one event and append it; *seq (may be NULL) gets its number.
 * Returns the library's code. */
int pu_append(cj_store *s, const char *json, uint64_t *seq);

/* The same with printf formatting. */
int pu_appendf(cj_store *s, uint64_t *seq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Every row of sql, run on a new read-only connection to db_path, as text:
 * columns joined by '|', rows by '\n'; NULL as "NULL", reals as %.15g (with
 * ".0" if they look integral), text and integers as is. On failure the text
 * starts with "ERROR: ". Always malloc'd (aborts on ENOMEM). */
char *pu_rows(const char *db_path, const char *sql);

/* Column 0 of the first row of sql as an integer; -1 if no row or error. */
long long pu_int(const char *db_path, const char *sql);

/* Rows of the fts5vocab 'instance' table over fts_table (messages_fts or
 * images_fts) whose term is term (terms are lowercase); -1 on error. */
long long pu_vocab_count(const char *db_path, const char *fts_table, const char *term);

/* The "seq" values of a JSON array of objects, in order, as "3,5,7"
 * ("" for []), or "ERROR: ..." if json is not such an array. malloc'd. */
char *pu_seqs(const char *json);

/* Number of elements of the JSON array json whose string field `field` is
 * not exactly want (absent counts); -1 if json is not an array of objects. */
long pu_count_not(const char *json, const char *field, const char *want);

/* Copy a file byte for byte (mode 0600). 0 or -1. */
int pu_copy_file(const char *from, const char *to);

/* Execute sql on a new read-write connection to db_path (for tampering with
 * COPIES of projections). 0 or -1. */
int pu_exec_rw(const char *db_path, const char *sql);

/* Set the "defaults" object of STORE/chatjournal.conf to defaults_json.
 * 0 or -1. */
int pu_set_conf_defaults(const char *store, const char *defaults_json);

/* 1 if the two JSON texts hold equal values (object key order ignored). */
int pu_json_equal(const char *a, const char *b);

/* "STORE/chat.sqlite" into out. */
void pu_sqlite_path(char *out, size_t n, const char *store);

/* SQL setting a projection back to schema 8, without messages_tail and
 * its view and triggers (009_messages_tail.sql); the version is the
 * caller's to set. */
#define PU_UNDO_009 \
	"DROP TRIGGER messages_tail_insert; DROP TRIGGER messages_tail_update;" \
	" DROP TRIGGER messages_tail_fixed; DROP TRIGGER messages_tail_delete;" \
	" DROP VIEW messages_tail_newest; DROP TABLE messages_tail; "

/* Wait until the last event of tu's store is applied; then a replay of its
 * journal (into DIR/replayed.sqlite) must have the live projection's state
 * hash, and the live projection must pass cj_projection_check. 0, or -1
 * with what differs on stderr. */
int pu_replay_matches(tu_fixture *tu, int wait_ms);

/* cmocka helpers. */
#define PU_ROWS(db, sql, want) do { \
		char *pu_got_ = pu_rows((db), (sql)); \
		if (strcmp(pu_got_, (want)) != 0) \
			fail_msg("rows of [%s]\n  got:\n%s\n  want:\n%s", (sql), pu_got_, (want)); \
		free(pu_got_); \
	} while (0)
#define PU_SEQS(json, want) do { \
		char *pu_got_ = pu_seqs(json); \
		if (strcmp(pu_got_, (want)) != 0) \
			fail_msg("seq list: got [%s], want [%s] in %.300s", pu_got_, (want), (json)); \
		free(pu_got_); \
	} while (0)

#endif
