/* tools/cli.h — what every `chatjournal` command shares: the exit codes (one
 * place), error and usage printing, option parsing, JSON output, byte units,
 * UTF-8 checking and a terminal progress bar. Commands use only the public
 * API; nothing here touches library internals. */
#ifndef CJ_TOOLS_CLI_H
#define CJ_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "chatjournal/chatjournal.h"

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* The CLI contract: 0 success, 1 failure (one line on stderr), 2 usage error. */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,
	CLI_EXIT_USAGE = 2
};

/* cli_parse result meaning "options are fine, run the command". */
#define CLI_CONTINUE (-1)

/* A subcommand: argv[0] is its name; returns an exit code. */
typedef int (*cli_run_fn)(int argc, char **argv);

/* What `--help` prints: "usage: chatjournal NAME ARGS" then body. */
typedef struct cli_help {
	const char *name;   /* "append" */
	const char *args;   /* "STORE [FILE.jsonl|-] [--json]" */
	const char *body;   /* description and options, ends with '\n' */
} cli_help;

/* One option. A flag has metavar NULL and sets *flag to 1; an option with a
 * value ("--limit N" or "--limit=N") stores the argument in *value. */
typedef struct cli_opt {
	const char *name;      /* "--json" */
	const char *metavar;   /* NULL for a flag */
	int *flag;
	const char **value;
} cli_opt;

/* Parse argv[1..argc): options may come before or after positionals; "--"
 * ends options; "-" alone is a positional (stdin). "-h"/"--help" print help
 * to stdout. Positionals land in pos[0..*npos), between min_pos and max_pos.
 * Returns CLI_CONTINUE, CLI_EXIT_OK (help shown) or CLI_EXIT_USAGE (message
 * printed). */
int cli_parse(const cli_help *help, int argc, char **argv,
              const cli_opt *opts, size_t nopts,
              const char **pos, size_t min_pos, size_t max_pos, size_t *npos);

void cli_print_help(const cli_help *help, FILE *out);

/* "chatjournal: CMD: message" on stderr, on one line; returns CLI_EXIT_FAIL. */
int cli_fail(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* Same for a library failure: the message is cj_error_last() (or
 * cj_strerror(rc) if empty), prefixed with "context: " when fmt is not NULL. */
int cli_fail_lib(const char *cmd, int rc, const char *fmt, ...) CLI_PRINTF(3, 4);

/* Usage error: message plus the usage line on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_help *help, const char *fmt, ...) CLI_PRINTF(2, 3);

/* The library's last message with a leading "field 'F': " removed, so that
 * callers who print the field themselves do not print it twice. */
const char *cli_error_text(int rc);

/* "line L: [field 'F': ]MESSAGE" for a library failure about input line L,
 * read at once (the message is per thread). A parser's own " at line 1,
 * column C" (it saw the line as a whole document) becomes " at column C". */
void cli_line_error(char *out, size_t n, size_t line, int rc);

/* cli_error_text without a leading "prefix: " the library put there (its
 * messages start with the operation's name, e.g. "replay: ...", which the
 * command's own "chatjournal: replay: " already says). */
const char *cli_error_text_after(int rc, const char *prefix);

/* Print obj on one line of stdout and release it (takes the reference).
 * 0, or CLI_EXIT_FAIL after printing an error. */
int cli_print_json(const char *cmd, json_t *obj);

/* A JSON integer from an unsigned figure (clamped at INT64_MAX). */
json_t *cli_json_u64(uint64_t v);

/* "1.5 MiB" style, with exact bytes for figures of 1 KiB or more. */
void cli_format_bytes(uint64_t n, char out[64]);

/* An unsigned decimal option value (digits only) from min to max into *out.
 * CLI_CONTINUE, or CLI_EXIT_USAGE after a message naming the option. */
int cli_parse_u64(const cli_help *help, const char *opt, const char *text,
                  uint64_t min, uint64_t max, uint64_t *out);

/* --limit N of a paged read: 1 to 1000 into *out, untouched when text is
 * NULL. CLI_CONTINUE, or CLI_EXIT_USAGE after a message. */
int cli_parse_limit(const cli_help *help, const char *text, unsigned *out);

/* Open the store at path (read_only: no writer, no materializer). 0, or
 * CLI_EXIT_FAIL after "chatjournal: CMD: cannot open store 'PATH': ...". */
int cli_open_store(const char *cmd, const char *path, int read_only, cj_store **out);

/* "STORE/chat.sqlite" (the projection, docs/operations.md "A store") into out; 0, or
 * CLI_EXIT_FAIL after an error when the path does not fit. */
int cli_projection_path(const char *cmd, const char *store, char *out, size_t n);

/* Write s to out on one line: control characters (C0, DEL, C1) become
 * escapes (\n, \t, \r, \xNN, \u00NN), so stored text can neither break a
 * line-oriented output nor send escape sequences to a terminal. */
void cli_put_oneline(FILE *out, const char *s);

/* Print a JSON array from cj_query_history/cj_query_search as text, one line
 * per row: "SEQ  TS  [THREAD  ]ROLE  USER: CONTENT" for a message ("-" when
 * there is no user), "SEQ  TS  [THREAD  ]image  KIND: URL  prompt: P
 * analysis: A" for an image. 0, or CLI_EXIT_FAIL after an error. */
int cli_print_rows(const char *cmd, const char *json, int with_thread);

/* The projection's position, the journal's last sequence number and the lag
 * between them, for an open store. 0 or a library error code. */
int cli_projection_lag(cj_store *s, uint64_t *position, uint64_t *last_seq, uint64_t *lag);

/* The note text commands print on stderr when lag > 0:
 * "chatjournal: CMD: note: the projection is N events behind ...". */
void cli_note_lag(const char *cmd, uint64_t position, uint64_t last_seq);

/* Print a query result (JSON text as is with --json, else as rows with the lag
 * note), free it and close the store; returns the exit status. */
int cli_finish_rows(const char *cmd, cj_store *s, char *out, int json, int with_thread);

/* A progress bar on stderr, drawn only when stdout is a terminal so that
 * pipelines and scripts stay quiet. total 0 means unknown. Figures are bytes,
 * or counts of `unit` ("events") when begun with cli_progress_begin_count. */
typedef struct cli_progress {
	int active;
	const char *label;
	const char *unit;
	uint64_t total;
	uint64_t done;
	uint64_t last_draw_ns;
} cli_progress;

void cli_progress_begin(cli_progress *p, const char *label, uint64_t total);
void cli_progress_begin_count(cli_progress *p, const char *label, uint64_t total,
                              const char *unit);
void cli_progress_update(cli_progress *p, uint64_t done);
/* A cj_progress_fn whose arg is a cli_progress (the library's total wins). */
void cli_progress_cb(uint64_t done, uint64_t total, void *arg);
/* Draws the last state and ends the line; call it before printing an error
 * too, so the error starts on a line of its own. */
void cli_progress_end(cli_progress *p);

#endif
