/* tests/crash/harness.h — the fork/pipe harness of the kill -9 loops
 * (crash/kill9, crash/materialize): a forked child reports lines through a
 * pipe; the parent reads them with a deadline, then kills and reaps the child.
 *
 * What a line says is each test's business: the harness only carries lines.
 * Plain C, no cmocka (the child must not longjmp into cmocka; the parent
 * asserts on the return values). Times are tu_now_ns() nanoseconds. */
#ifndef CJ_TESTS_CRASH_HARNESS_H
#define CJ_TESTS_CRASH_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- the child's side ---- */

/* Write len bytes (one or more whole lines, each ending in '\n') to fd,
 * retrying after EINTR; the child _exits with 5 if the pipe fails. Keep len
 * below PIPE_BUF: such a write is atomic, so lines written by several threads
 * never mix, and a kill never leaves half a line in the pipe. */
void ch_say(int fd, const char *line, size_t len);

/* ch_say of one printf-formatted line (below PIPE_BUF, else _exit(5)). */
void ch_sayf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the parent's side ---- */

#define CH_LINE_MAX 1024  /* longer lines reach on_line cut to CH_LINE_MAX - 1 bytes */

typedef struct ch_child {
	pid_t pid;
	int fd;                       /* the read end of the pipe; -1 once closed */
	char partial[CH_LINE_MAX];    /* the start of a line not yet complete */
	size_t plen;
} ch_child;

/* Called with each complete line, without its '\n'. */
typedef void (*ch_line_fn)(void *ctx, const char *line);
/* ch_pump stops once this returns non-zero. */
typedef int (*ch_want_fn)(void *ctx);

/* Fork a child that runs body(arg, fd), fd being the write end of a new pipe
 * (its read end is closed in the child). body should end with _exit or be
 * killed; if it returns, the child _exits with 9. stdio is flushed before the
 * fork so that nothing buffered is written twice. 0, or -1 (errno set). */
int ch_spawn(ch_child *c, void (*body)(void *arg, int fd), void *arg);

/* Read the child's lines into on_line until deadline_ns (0: none), until the
 * pipe's end of file (the child and all its threads are gone), or until
 * want(ctx) holds; want (may be NULL) is asked before each read, after all
 * the lines of the previous read were passed on. 1 if want held, else 0. */
int ch_pump(ch_child *c, uint64_t deadline_ns, ch_line_fn on_line, ch_want_fn want, void *ctx);

/* SIGKILL the child, reap it (*status: waitpid's status), pass on the lines
 * left in the pipe up to its end (a line cut short at the end is dropped) and
 * close it. 1 if the child died of the SIGKILL, 0 if it had ended otherwise
 * (see *status), -1 if waitpid failed. */
int ch_kill(ch_child *c, int *status, ch_line_fn on_line, void *ctx);

/* SIGKILL and reap the child and close the pipe, reading nothing more: what
 * a test does before it fails. */
void ch_abandon(ch_child *c);

/* The seed of a loop's random kill timings: CJ_CRASH_SEED if set, else from
 * the clock (odd, never 0). The tests print it so that a run can be replayed. */
uint64_t ch_seed(void);

#endif
