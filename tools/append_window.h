/* tools/append_window.h — appending a stream of events in input order with
 * a few tickets in flight, yet with the outcome of appending each event
 * alone: when one fails, every event before it is durable, nothing after it
 * is stored, and the error names its input line. `chatjournal append` uses
 * it; any command that loads events from a file can. */
#ifndef CJ_TOOLS_APPEND_WINDOW_H
#define CJ_TOOLS_APPEND_WINDOW_H

#include <stddef.h>
#include <stdint.h>
#include "chatjournal/chatjournal.h"

typedef struct append_window append_window;

/* A window over the open store s. 0, or -1 (out of memory). */
int aw_open(append_window **out, cj_store *s);
/* Free everything, events not yet submitted included; accepts NULL. */
void aw_close(append_window *w);

/* Queue ev (the window owns it from now on), read from input line `line`
 * and `bytes` long; a full batch is submitted. owner is only passed back
 * to the release function. 0, or -1 once something failed (aw_error says
 * what, naming the line). */
int aw_add(append_window *w, cj_event *ev, unsigned owner, size_t line, size_t bytes);

/* What the window does with events it is done with: by default
 * cj_event_free; fn gets them a batch at a time with their owners (e.g.
 * parse_pool.h's pp_release: freed by the thread that made them). Set it
 * to NULL before whatever fn hands them to goes away. */
typedef void (*aw_release_fn)(void *arg, cj_event **evs, const unsigned *owners, size_t n);
void aw_set_release(append_window *w, aw_release_fn fn, void *arg);
/* Submit what is queued and wait for every ticket: the events queued before
 * a failure still go in; after a failed commit nothing more is submitted.
 * 0, or -1 (aw_error). */
int aw_finish(append_window *w);

const char *aw_error(const append_window *w);   /* "" until something failed */
uint64_t aw_appended(const append_window *w);   /* events acknowledged */
uint64_t aw_max_seq(const append_window *w);    /* highest sequence acknowledged */
/* Of the events acknowledged: repeats of events already stored (same id and
 * payload), and among those, repeats of events a deletion has removed. */
uint64_t aw_duplicates(const append_window *w);
uint64_t aw_deleted_duplicates(const append_window *w);

#endif
