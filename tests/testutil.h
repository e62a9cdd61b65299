/* tests/testutil.h — helpers shared by every test folder: temporary stores,
 * message events, reading the journal back into plain C arrays.
 *
 * Nothing here uses cmocka: helpers return 0 or an error code so that they can
 * be called from worker threads and from forked children (cmocka's assertions
 * longjmp and must only run on the test's main thread). */
#ifndef CJ_TESTS_TESTUTIL_H
#define CJ_TESTS_TESTUTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "chatjournal/chatjournal.h"

/* In cmocka tests (cmocka.h included first): assert that a library call
 * returns want, else fail naming the call, the code and cj_error_last(). */
#define TU_RC(expr, want) do { \
		int tu_rc_ = (expr); \
		if (tu_rc_ != (want)) \
			fail_msg("%s returned %d (%s), expected %s: %s", #expr, tu_rc_, \
			         cj_strerror(tu_rc_), #want, cj_error_last()); \
	} while (0)
#define TU_OK(expr) TU_RC(expr, 0)

/* Create a fresh private folder under $TMPDIR (else /tmp) named
 * "cjtest-<tag>.XXXXXX"; out gets its absolute, symlink-free path.
 * 0 or -1 (errno set). */
int tu_mktempdir(char *out, size_t n, const char *tag);

/* rm -rf path (does not follow symbolic links). 0 or -1. */
int tu_rmrf(const char *path);

/* "dir/name" into out; aborts the process if it does not fit (test bug). */
void tu_path(char *out, size_t n, const char *dir, const char *name);

/* Set one setting of STORE/chatjournal.conf: section.key = json (a JSON
 * text), or the whole section when key is NULL. 0 or -1. */
int tu_set_conf(const char *store, const char *section, const char *key, const char *json);

/* cj_store_init + cj_store_open. Returns the library's code. */
int tu_store_create(cj_store **out, const char *path, const cj_store_options *opts);

/* A cmocka fixture: a temp folder "cjtest-<tag>.XXXXXX" with a store "store"
 * in it, open. The component, projection and fault tests all start from it, so
 * that making, opening and removing a test store is written once. */
typedef struct tu_fixture {
	char dir[PATH_MAX];
	char store[PATH_MAX];  /* dir/store */
	cj_store *s;           /* NULL with TU_FIXTURE_NO_STORE */
} tu_fixture;

/* Make *state a new tu_fixture (opts may be NULL); 0 or -1. */
int tu_fixture_setup(void **state, const char *tag, const cj_store_options *opts);

/* Only the folder and the store's path: the test creates (or refuses to
 * create) the store itself, e.g. with other options or a config written
 * between cj_store_init and cj_store_open. */
#define TU_FIXTURE_NO_STORE 1u

/* The general form. size is the size of the test's own fixture struct, whose
 * first member is a tu_fixture (sizeof(tu_fixture) if it has nothing more);
 * the rest of it is zeroed. flags: 0 or TU_FIXTURE_NO_STORE. 0, or -1 with
 * the reason on stderr and nothing left behind. */
int tu_fixture_setup_ex(void **state, size_t size, const char *tag,
                        const cj_store_options *opts, unsigned flags);

/* Close the store (if open), remove the folder, free the fixture; returns 0.
 * cmocka runs it after a failed test too, so the folder goes either way. */
int tu_fixture_teardown(void **state);

/* A new "message" event: thread, role "user", content; id and ts_ms are set
 * only if id != NULL / ts_ms != 0. NULL if the library refused it. */
cj_event *tu_message(const char *thread, const char *content, const char *id, int64_t ts_ms);

/* One record read back, as plain strings owned by the array. */
typedef struct tu_rec {
	uint64_t seq;
	cj_event_type type;
	int64_t ts_ms;
	uint32_t flags;
	char *id;       /* NULL if absent */
	char *thread;   /* NULL if absent */
	char *content;  /* NULL if absent */
} tu_rec;

typedef struct tu_recs {
	tu_rec *v;
	size_t n;
	size_t cap;
	size_t corrupt;         /* records the iterator reported as CJ_ECORRUPT */
	uint64_t first_corrupt_seq; /* rec.seq of the first CJ_ECORRUPT, 0 if none */
	char corrupt_msg[512];  /* cj_error_last() of the first CJ_ECORRUPT */
} tu_recs;

/* Iterate from from_seq to the end, copying every record. A CJ_ECORRUPT from
 * the iterator is counted and skipped (as the API documents); any other error
 * stops and is returned. 0 on success. Free with tu_recs_free. */
int tu_read_all(cj_store *s, uint64_t from_seq, tu_recs *out);
void tu_recs_free(tu_recs *r);

/* 1 if msg contains the decimal number v as a whole number (no digit on
 * either side), else 0. */
int tu_msg_names_number(const char *msg, uint64_t v);

/* Monotonic clock in nanoseconds. */
uint64_t tu_now_ns(void);

/* Small per-caller PRNG (xorshift64*); state must be non-zero. */
uint64_t tu_rand(uint64_t *state);

/* Find the first regular file called name under root (depth first); 0 and out
 * filled, or -1. */
int tu_find_file(const char *root, const char *name, char *out, size_t n);

/* Flip one bit of a letter (it stays ASCII) inside every copy of marker in
 * the first file called name under root (stale copies in free pages too, so
 * the live one is certainly hit): only a checksum can tell. *hits gets the
 * copies changed. 0, or -1 (file not found, I/O error). */
int tu_flip_marker(const char *root, const char *name, const char *marker, unsigned *hits);

/* Unsigned integer from environment variable name, or def if unset/invalid. */
unsigned long tu_env_ulong(const char *name, unsigned long def);

#endif
