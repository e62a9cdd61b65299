/* tests/crash/projection_check.h — what the crash loops that check the SQLite
 * projection share (crash/materialize, crash/power): the workload of events,
 * the parent's model of the journal, and the checker that compares a
 * projection with the model at its position (docs/reliability.md, P2; the
 * checks are listed in docs/testing.md, crash/materialize).
 *
 * The checker uses cmocka's fail_msg for what cannot happen in a sound test
 * (an SQL statement that does not prepare); a violation of the promise is a
 * return value with a message, so a negative control can expect one. */
#ifndef CJ_TESTS_CRASH_PROJECTION_CHECK_H
#define CJ_TESTS_CRASH_PROJECTION_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include "chatjournal/chatjournal.h"

#define PC_THREADS 40         /* threads t0..t39 */
#define PC_DEL_FIRST 30       /* delete_thread only targets t30..t39 */
#define PC_KEYS 8             /* setting keys k0..k7 */

/* ---- the workload ---- */

/* The JSON of event k of the batch tagged tag (letters and digits: "s" for a
 * setup, "c<cycle>" for a child); r is a random number that picks its
 * type and fields: 86% messages, 4% images, 4% settings, 6% metrics, 0.1%
 * delete_thread. Ids "tag-k", and the unique words "uq<tag>x<k>" /
 * "iq<tag>x<k>", never repeat in a store as long as tags do not. */
void pc_event_json(char *out, size_t cap, const char *tag, unsigned k, uint64_t r);

/* Append n events tag-k0 .. tag-(k0+n-1) in one batch, drawing each one's r
 * from *rng. Returns the library's code. */
int pc_append_events(cj_store *s, const char *tag, unsigned k0, unsigned n, uint64_t *rng);

/* ---- the parent's model of the journal ---- */

typedef struct pc_rec {
	cj_event_type type;
	int thread;           /* 0..PC_THREADS-1, -1 if none */
	int key;              /* setting key 0..PC_KEYS-1, -1 if none */
	unsigned ntok;        /* FTS tokens: message content, image prompt + analysis */
	uint64_t deleted_at;  /* seq of the delete_thread that removed it (UINT64_MAX: never) */
	char *text;           /* message content, image prompt, setting value, metric name */
	char *word;           /* the unique word (messages, images) */
} pc_rec;

typedef struct pc_model {
	pc_rec *v;              /* v[i] is the record with seq i + 1 */
	size_t n, cap;
	size_t *pending[PC_THREADS]; /* per thread: indexes of rows no delete has removed yet */
	size_t npending[PC_THREADS], cappending[PC_THREADS];
} pc_model;

void pc_model_free(pc_model *m);

/* Read the records after the model's end into it. 0, or -1 and a message in
 * why (a gap, a record the workload cannot have written, an iterator error). */
int pc_model_read(pc_model *m, cj_store *s, char *why, size_t whyn);

/* ---- the projection checker ---- */

typedef struct pc_result {
	uint64_t pos;           /* journal_position found */
	uint64_t ro_ns, fts_ns; /* added to: time in the read-only checks, in integrity-check */
} pc_result;

/* Check the projection at sqlite_path against the model (which covers the
 * whole journal: its last seq is m->n), with no other connection writing:
 * journal_position <= m->n and >= min_pos (a position the child saw
 * committed; 0 for none), every table exactly what events 1..position imply,
 * FTS counted once, sampled words (drawn from *rng), quick_check and FTS5's
 * integrity-check. 0 if all holds, else 1 and why. */
int pc_check_projection(const char *sqlite_path, const pc_model *m, uint64_t min_pos,
                        uint64_t *rng, pc_result *res, char *why, size_t whyn);

/* ---- recovery ---- */

/* After a crash loop: open the store read-write, let the projection catch up
 * with the journal (the model's last seq), check it there, and compare its
 * state hash with a fresh replay's (written to replay_path). Fails the cmocka
 * test on any difference; prints one line naming the loop. */
void pc_recover(const char *name, const char *store, const char *sqlite_path,
                const char *replay_path, const pc_model *m, uint64_t *rng);

#endif
