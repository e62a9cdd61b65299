/* bench/corpus.h — the message corpus of the projection, compaction and
 * backup benchmarks: message i goes to thread i % 1000 and user i % 500, ~200 bytes
 * of common words plus one word unique to it ("uq<i>"). */
#ifndef CJB_CORPUS_H
#define CJB_CORPUS_H

#include <stddef.h>
#include <stdint.h>
#include "chatjournal/chatjournal.h"

#define CJB_CORPUS_THREADS 1000
#define CJB_CORPUS_USERS 500

/* The common words contents are made of. */
#define CJB_CORPUS_NWORDS 40
extern const char *const CJB_CORPUS_WORDS[CJB_CORPUS_NWORDS];

/* Monotonic clock in seconds. */
double cjb_now_s(void);
/* The content of message i into out. */
void cjb_corpus_content(uint64_t i, char *out, size_t n);
/* Message i as a new event; 0 or the library's code. */
int cjb_corpus_event(uint64_t i, cj_event **ev);
/* Append messages from..from+n-1 in batches of 1000; 0 or the library's code. */
int cjb_corpus_fill(cj_store *s, uint64_t from, uint64_t n);
/* Create a store at path with messages 0..n-1, wait until the projection has
 * them all, close it. *append_s (may be NULL): seconds spent appending.
 * 0 or -1 (cj_error_last says why). */
int cjb_corpus_store(const char *path, uint64_t n, double *append_s);

#endif
