/* tools/parse_pool.h — JSONL lines parsed into events on worker threads,
 * handed back in input order. Parsing (UTF-8 check, JSON, validation
 * against the store's limits) is most of what `chatjournal append` spends
 * per line; the journal's writer needs little. Lines go in chunks to the
 * workers; the consumer (appending, on the caller's thread) sees events
 * one by one in input order, as if each line were parsed where it is read,
 * and the first bad line stops everything after it: the lines before it are
 * consumed, its error is reported, nothing after it is consumed.
 *
 * One caller thread: pp_add, pp_finish, pp_close. */
#ifndef CJ_TOOLS_PARSE_POOL_H
#define CJ_TOOLS_PARSE_POOL_H

#include <stddef.h>
#include "chatjournal/chatjournal.h"

typedef struct parse_pool parse_pool;

/* Takes ownership of ev (read from input line `line`, `bytes` long, made
 * by `owner`). 0, or -1 to stop (the consumer keeps its own error). */
typedef int (*pp_consume_fn)(void *arg, cj_event *ev, unsigned owner, size_t line, size_t bytes);

/* A pool of `workers` threads (0: parse on the caller's thread) parsing
 * against lim. 0, or -1 (out of memory, no thread). */
int pp_open(parse_pool **out, const cj_limits *lim, unsigned workers, pp_consume_fn consume,
            void *arg);

/* One input line (not yet checked; copied). Blank lines are skipped. May
 * block until earlier chunks are parsed and consumed. 0, or -1 once a line
 * was bad (pp_error names it) or the consumer stopped (pp_error is ""). */
int pp_add(parse_pool *p, size_t line, const char *text, size_t len);

/* Parse and consume every line added. 0 or -1 as pp_add. */
int pp_finish(parse_pool *p);

/* Give back n events the consumer is done with, with the owners it got:
 * each is freed by the worker that made it, before its next chunk (freed
 * by another thread, memory misses glibc's per-thread cache: see
 * parse_pool.c); the rest at pp_close. pool is the parse_pool (the
 * signature is append_window.h's aw_release_fn). Caller's thread only,
 * before pp_close. */
void pp_release(void *pool, cj_event **evs, const unsigned *owners, size_t n);

/* "line N: ..." for the first bad line, "" otherwise. */
const char *pp_error(const parse_pool *p);

/* Stop the workers and free everything, unconsumed events included;
 * accepts NULL. */
void pp_close(parse_pool *p);

/* How many workers to use on this machine: one per online CPU, at most 4;
 * 0 on a single CPU (threads would only add hand-offs there). */
unsigned pp_default_workers(void);

#endif
