/* tools/cmd_append.c — `chatjournal append STORE [FILE.jsonl|-] [--json]`:
 * one JSON event per line (line_reader.h), each checked on its own and
 * appended in order through the ticket window (append_window.h), which keeps
 * a few batches in flight yet reads as if each line were appended alone: on
 * the first bad line, every line before it is durable and nothing after it
 * is stored. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "chatjournal/chatjournal.h"
#include "append_window.h"
#include "cli.h"
#include "line_reader.h"
#include "parse_pool.h"

static const cli_help help = {
	"append", "STORE [FILE.jsonl|-] [--json]",
	"Append events to STORE, one JSON object per line, read from FILE.jsonl\n"
	"or from standard input (no FILE, or '-'). Blank lines are skipped.\n"
	"Each line is validated against the store's limits. At the first bad\n"
	"line the command stops: every line before it is appended and durable,\n"
	"nothing after it is stored, and the error names the line and field.\n"
	"An event whose \"id\" is already in the store is not stored again.\n\n"
	"Prints \"appended N events, last sequence S\": N events of the input are\n"
	"durable, S is the highest sequence number among them (the journal's\n"
	"last sequence number when the input holds no event). When some were\n"
	"repeats of events already stored, it adds \"(K duplicates, D of deleted\n"
	"events)\": D repeats name events that a deletion has removed; nothing\n"
	"was stored for them.\n\n"
	"Reading a file (not standard input), this process does not project\n"
	"into SQLite while it appends, so both CPUs go to the append; at the\n"
	"end it catches up for up to 2 s when at most 50,000 events are left;\n"
	"'chatjournal serve' (or any read-write open) does the rest. From standard input (a long-lived\n"
	"pipe) it projects as it goes.\n\n"
	"Options:\n"
	"  --json    print {\"appended\": N, \"last_seq\": S, \"duplicates\": K,\n"
	"            \"deleted_duplicates\": D} instead\n"
};

/* What a bad line leaves behind: the window holds the lines before it. */
typedef struct append_ctx {
	append_window *w;
	const cj_limits *lim;
	size_t max_event;         /* the store's event limit, for messages */
	char err[2048];           /* the first bad line's error, if any */
} append_ctx;

static void fail_text(append_ctx *c, const char *fmt, ...) CLI_PRINTF(2, 3);
static void fail_text(append_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
}

/* The consumer of parsed lines: the ticket window. */
static int consume(void *arg, cj_event *ev, unsigned owner, size_t line, size_t bytes)
{
	return aw_add(((append_ctx *)arg)->w, ev, owner, line, bytes);
}

/* ---- the command --------------------------------------------------------- */

static size_t line_cap(size_t ev)
{
	/* JSON escapes make text longer than the stored event: allow twice the
	 * event limit, so a line the store could accept is never cut short. */
	size_t cap = ev > SIZE_MAX / 4 ? SIZE_MAX / 4 : ev * 2;
	return cap < ((size_t)1 << 20) ? (size_t)1 << 20 : cap;
}

static int read_all(append_ctx *c, parse_pool *pp, line_reader *r, cli_progress *bar)
{
	size_t lineno = 0;
	for (;;) {
		const char *line;
		size_t len;
		int got = lr_next(r, &line, &len);
		lineno++;
		if (got == LR_EOF)
			return 0;
		if (got == LR_TOOLONG) {
			fail_text(c, "line %zu: line longer than %zu bytes (the store's event "
			          "limit is %zu bytes)", lineno, r->max_line, c->max_event);
			return -1;
		}
		if (got == LR_IOERR) {
			fail_text(c, "line %zu: read error: %s", lineno, strerror(r->err));
			return -1;
		}
		if (pp_add(pp, lineno, line, len) != 0)
			return -1;
		if ((lineno & 255) == 0)
			cli_progress_update(bar, r->consumed);
	}
}

/* Read, submit, then wait for every ticket: lines before a bad one must be
 * durable before we report it. */
static int run(append_ctx *c, FILE *in, uint64_t in_size)
{
	line_reader r;
	if (lr_open(&r, in, line_cap(c->max_event)) != 0) {
		fail_text(c, "out of memory");
		return -1;
	}
	parse_pool *pp = NULL;
	if (pp_open(&pp, c->lim, pp_default_workers(), consume, c) != 0) {
		lr_close(&r);
		fail_text(c, "out of memory");
		return -1;
	}
	/* the events go back to the workers that made them (parse_pool.c) */
	aw_set_release(c->w, pp_release, pp);
	cli_progress bar;
	cli_progress_begin(&bar, "append", in_size);
	/* A read error comes after every line read before it: those are
	 * parsed and consumed first, and a bad line among them comes first. */
	int rc = read_all(c, pp, &r, &bar);
	if (pp_finish(pp) != 0) {
		rc = -1;
		if (*pp_error(pp))
			snprintf(c->err, sizeof c->err, "%s", pp_error(pp));
	}
	/* After a bad line the window holds only the valid lines before it: they
	 * still go in, and a failure among them names an earlier line. */
	if (aw_finish(c->w) != 0) {
		snprintf(c->err, sizeof c->err, "%s", aw_error(c->w));
		rc = -1;
	}
	aw_set_release(c->w, NULL, NULL);
	pp_close(pp);
	cli_progress_update(&bar, r.consumed);
	cli_progress_end(&bar);
	lr_close(&r);
	return rc;
}

static int print_result(cj_store *s, const append_window *w, int json)
{
	uint64_t appended = aw_appended(w), last = aw_max_seq(w);
	uint64_t dups = aw_duplicates(w), deleted = aw_deleted_duplicates(w);
	if (appended == 0) {
		int rc = cj_journal_last_seq(&last, s);
		if (rc != 0)
			return cli_fail_lib("append", rc, "cannot read the last sequence number");
	}
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "appended", cli_json_u64(appended));
			json_object_set_new(o, "last_seq", cli_json_u64(last));
			json_object_set_new(o, "duplicates", cli_json_u64(dups));
			json_object_set_new(o, "deleted_duplicates", cli_json_u64(deleted));
		}
		return cli_print_json("append", o) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	}
	printf("appended %llu event%s, last sequence %llu", (unsigned long long)appended,
	       appended == 1 ? "" : "s", (unsigned long long)last);
	if (dups)
		printf(" (%llu duplicate%s, %llu of deleted events)", (unsigned long long)dups,
		       dups == 1 ? "" : "s", (unsigned long long)deleted);
	printf("\n");
	return CLI_EXIT_OK;
}

static int open_input(const char *name, FILE **in, uint64_t *size)
{
	struct stat st;
	*size = 0;
	if (!name || strcmp(name, "-") == 0) {
		*in = stdin;
		return 0;
	}
	*in = fopen(name, "rb");
	if (!*in)
		return cli_fail("append", "cannot open '%s': %s", name, strerror(errno));
	if (fstat(fileno(*in), &st) == 0 && S_ISREG(st.st_mode))
		*size = (uint64_t)st.st_size;
	return 0;
}

int cmd_append(int argc, char **argv)
{
	int json = 0;
	const cli_opt opts[] = { { "--json", NULL, &json, NULL } };
	const char *pos[2];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, 1, pos, 1, 2, &npos);
	if (rc != CLI_CONTINUE)
		return rc;

	FILE *in = NULL;
	uint64_t in_size = 0;
	if (open_input(npos > 1 ? pos[1] : NULL, &in, &in_size) != 0)
		return CLI_EXIT_FAIL;
	append_ctx c;
	memset(&c, 0, sizeof c);
	int status = CLI_EXIT_FAIL;
	cj_store *s = NULL;
	rc = cj_store_open(&s, pos[0], NULL);
	if (rc != 0) {
		cli_fail_lib("append", rc, "cannot open store '%s'", pos[0]);
		goto out;
	}
	c.lim = cj_store_limits(s);
	c.max_event = c.lim->max_event;
	if (in != stdin)
		cj_store_defer_projection(s, 1);
	if (aw_open(&c.w, s) != 0) {
		cli_fail("append", "out of memory");
		goto out;
	}
	if (run(&c, in, in_size) != 0) {
		cli_fail("append", "%s", c.err);
		goto out;
	}
	status = print_result(s, c.w, json);
out:
	aw_close(c.w);
	if (s)
		cj_store_defer_projection(s, 0);
	cj_store_close(s);
	if (in && in != stdin)
		fclose(in);
	return status;
}
