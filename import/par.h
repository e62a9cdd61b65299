/* import/par.h — a parser's files read on worker threads, their calls
 * replayed on the driver's thread in the order the files were queued.
 *
 * A parser hands a file to imp_par (import_internal.h) instead of reading
 * it: a worker runs the job against a recording imp (its calls are logged:
 * rec.h), and the driver's thread replays the logs in order, interleaved
 * with what the parser itself did meanwhile (logged too while jobs are
 * queued). At most PAR_AHEAD jobs wait to be replayed, so the memory held
 * is that of a few files' events, whatever the size of the source. */
#ifndef CJ_IMPORT_PAR_H
#define CJ_IMPORT_PAR_H

#include "import_internal.h"
#include "rec.h"

#define PAR_MAX 4          /* worker threads at most */
#define PAR_AHEAD 8        /* jobs queued and not yet replayed, at most */

typedef struct par par;
typedef int (*par_fn)(imp *wm, void *arg);

/* What the pool does with the imps it runs jobs on (replay.c): a recording
 * imp for a job's log (the driver's options and phase), its release, and
 * the replay of a finished log on the driver's imp (the events are taken
 * from it). */
typedef struct par_ops {
	imp *(*worker_new)(imp *m, rec *log);
	void (*worker_free)(imp *w);
	void (*replay)(imp *m, rec *log);
} par_ops;

/* A pool of one worker per online CPU (at most PAR_MAX); NULL when there is
 * one CPU, or CHATJOURNAL_IMPORT_THREADS is 0 or 1 (then jobs run inline),
 * or threads cannot start. */
par *par_new(const par_ops *ops);
/* Queue fn(worker imp, arg) (free_arg(arg) after it ran, or when dropped);
 * the worker imp records into its job's log (made with ops->worker_new).
 * Returns the log the caller's own later calls are recorded into (NULL:
 * out of memory, nothing queued). */
rec *par_queue(par *p, imp *m, par_fn fn, void *arg, void (*free_arg)(void *));
/* Run fn(NULL, arg) on a worker some time before par_free returns, outside
 * the order (freeing what the driver is done with). 0, or -1 (out of
 * memory: nothing queued, arg is the caller's). */
int par_detach(par *p, par_fn fn, void *arg);
/* Replay the finished logs at the head, then wait and replay until at
 * most `ahead` jobs are left unreplayed (the open log stays). */
void par_replay(par *p, imp *m, size_t ahead);
/* Replay everything, the open log too: the queue is empty after. */
void par_drain(par *p, imp *m);
/* Stop the workers; what is left is freed unreplayed. NULL is fine. */
void par_free(par *p);

#endif
