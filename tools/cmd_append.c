/* tools/cmd_append.c — `chatjournal append STORE [FILE.jsonl|-] [--json]`:
 * one JSON event per line, appended in order. Lines are checked one by one
 * and sent in batches with a few tickets in flight (throughput), yet the
 * result reads as if each line were appended alone: on the first bad line,
 * every line before it is durable and nothing after it is stored. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

/* A ticket carries at most this many events or bytes of JSON; WINDOW tickets
 * wait at once so the writer can join them into one commit and one fsync. */
#define BATCH_EVENTS 1000
#define BATCH_BYTES  ((size_t)4 << 20)
#define WINDOW       4
#define READ_CHUNK   ((size_t)256 << 10)

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
	"last sequence number when the input holds no event).\n\n"
	"Options:\n"
	"  --json    print {\"appended\": N, \"last_seq\": S} instead\n"
};

/* ---- reading lines: no fixed length, but a hard cap ---------------------- */

typedef struct line_reader {
	FILE *f;
	char *buf;
	size_t size;      /* allocated */
	size_t start;     /* first byte not yet handed out */
	size_t end;       /* bytes held */
	size_t scanned;   /* bytes after start known to hold no '\n' */
	size_t max_line;
	uint64_t consumed;
	int eof;
	int err;          /* errno of a read failure */
} line_reader;

enum { LR_EOF = 0, LR_LINE = 1, LR_TOOLONG = -1, LR_IOERR = -2 };

static int lr_fill(line_reader *r)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == r->size) {
		size_t cap = r->max_line + 1 + READ_CHUNK;
		size_t n = r->size * 2 < cap ? r->size * 2 : cap;
		char *b = realloc(r->buf, n);
		if (!b) {
			r->err = ENOMEM;
			return -1;
		}
		r->buf = b;
		r->size = n;
	}
	size_t got = fread(r->buf + r->end, 1, r->size - r->end, r->f);
	r->end += got;
	if (got == 0 && ferror(r->f)) {
		r->err = errno ? errno : EIO;
		return -1;
	}
	if (got == 0)
		r->eof = 1;
	return 0;
}

/* Next line without its '\n'; valid until the next call. */
static int lr_next(line_reader *r, const char **line, size_t *len)
{
	for (;;) {
		char *from = r->buf + r->start;
		char *nl = memchr(from + r->scanned, '\n', r->end - r->start - r->scanned);
		if (nl) {
			size_t n = (size_t)(nl - from);
			if (n > r->max_line)
				return LR_TOOLONG;
			*line = from;
			*len = n;
			r->start += n + 1;
			r->scanned = 0;
			r->consumed += n + 1;
			return LR_LINE;
		}
		r->scanned = r->end - r->start;
		if (r->scanned > r->max_line)
			return LR_TOOLONG;
		if (r->eof) {
			if (r->scanned == 0)
				return LR_EOF;
			*line = from;
			*len = r->scanned;
			r->consumed += r->scanned;
			r->start = r->end;
			r->scanned = 0;
			return LR_LINE;
		}
		if (lr_fill(r) != 0)
			return LR_IOERR;
	}
}

/* ---- batches and tickets ------------------------------------------------- */

typedef struct batch {
	cj_event **evs;
	size_t *lines;     /* input line number of each event */
	uint64_t *seqs;
	size_t n;
	size_t bytes;
	cj_ticket *ticket;
	int rc;            /* outcome once waited */
	int has_id;        /* some event carries an idempotency id */
} batch;

typedef struct append_ctx {
	cj_store *s;
	const cj_limits *lim;
	batch build;              /* filling up, not submitted */
	batch ring[WINDOW];       /* submitted, in input order from head */
	size_t head, count;
	uint64_t appended;
	uint64_t max_seq;
	int failed;               /* err holds the one-line error */
	int halted;               /* a commit failed: submit nothing more */
	size_t max_event;         /* the store's event limit, for messages */
	char err[2048];
} append_ctx;

static int batch_alloc(batch *b)
{
	memset(b, 0, sizeof *b);
	b->evs = calloc(BATCH_EVENTS, sizeof *b->evs);
	b->lines = calloc(BATCH_EVENTS, sizeof *b->lines);
	b->seqs = calloc(BATCH_EVENTS, sizeof *b->seqs);
	return b->evs && b->lines && b->seqs ? 0 : -1;
}

static void batch_clear(batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		cj_event_free(b->evs[i]);
	cj_ticket_free(b->ticket);
	b->ticket = NULL;
	b->n = 0;
	b->bytes = 0;
	b->rc = 0;
	b->has_id = 0;
}

static void batch_release(batch *b)
{
	batch_clear(b);
	free(b->evs);
	free(b->lines);
	free(b->seqs);
}

static void fail_text(append_ctx *c, const char *fmt, ...) CLI_PRINTF(2, 3);
static void fail_text(append_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	c->failed = 1;
}

/* The library's error for one input line, read at once: the message is per
 * thread and the next call may replace it. */
static void fail_line(append_ctx *c, size_t line, int rc)
{
	const char *field = cj_error_field();
	const char *text = cli_error_text(rc);
	/* The parser sees one line as a whole document: its "line 1" would
	 * only confuse next to ours, so " at line 1, column C" becomes
	 * " at column C". */
	const char *l1 = strstr(text, " at line 1, column ");
	int head = l1 ? (int)(l1 - text) + 3 : (int)strlen(text);
	const char *tail = l1 ? l1 + strlen(" at line 1,") : "";
	if (field)
		fail_text(c, "line %zu: field '%s': %.*s%s", line, field, head, text, tail);
	else
		fail_text(c, "line %zu: %.*s%s", line, head, text, tail);
}

static void account(append_ctx *c, const uint64_t *seqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (seqs[i] > c->max_seq)
			c->max_seq = seqs[i];
	c->appended += n;
}

/* Append evs[0..n) synchronously, halving on failure, so that everything
 * before the first failing event is stored and the error names its line. */
static int append_bisect(append_ctx *c, batch *b, size_t from, size_t n)
{
	if (n == 0)
		return 0;
	int rc = cj_journal_append_batch(c->s, (const cj_event *const *)b->evs + from, n,
	                                 b->seqs + from);
	if (rc == 0) {
		account(c, b->seqs + from, n);
		return 0;
	}
	if (n == 1) {
		fail_line(c, b->lines[from], rc);
		c->halted = 1;
		return rc;
	}
	size_t half = n / 2;
	rc = append_bisect(c, b, from, half);
	if (rc != 0)
		return rc;
	return append_bisect(c, b, from + half, n - half);
}

static batch *ring_at(append_ctx *c, size_t i)
{
	return &c->ring[(c->head + i) % WINDOW];
}

static void ring_clear(append_ctx *c)
{
	for (size_t i = 0; i < c->count; i++)
		batch_clear(ring_at(c, i));
	c->head = 0;
	c->count = 0;
}

/* The oldest ticket failed. Later tickets may already be committed; if none
 * is, retry the failed ones in order, synchronously, which either succeeds
 * (a passing condition) or pins the error to one line. Otherwise the order is
 * already broken and the error can only name the range. */
static int recover(append_ctx *c, const char *first_msg)
{
	batch *first = ring_at(c, 0);
	uint64_t late = 0;
	for (size_t i = 1; i < c->count; i++) {
		batch *b = ring_at(c, i);
		b->rc = cj_ticket_wait(b->ticket, b->seqs);
		if (b->rc == 0) {
			account(c, b->seqs, b->n);
			late += b->n;
		}
	}
	if (late > 0) {
		fail_text(c, "lines %zu-%zu: %s (%llu events from later lines, already "
		          "submitted, were appended)", first->lines[0], first->lines[first->n - 1],
		          first_msg, (unsigned long long)late);
		c->halted = 1;
		ring_clear(c);
		return -1;
	}
	for (size_t i = 0; i < c->count; i++) {
		if (append_bisect(c, ring_at(c, i), 0, ring_at(c, i)->n) != 0) {
			ring_clear(c);
			return -1;
		}
	}
	ring_clear(c);
	return 0;
}

static int wait_oldest(append_ctx *c)
{
	batch *b = ring_at(c, 0);
	b->rc = cj_ticket_wait(b->ticket, b->seqs);
	if (b->rc != 0) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", cli_error_text(b->rc));
		return recover(c, msg);
	}
	account(c, b->seqs, b->n);
	batch_clear(b);
	c->head = (c->head + 1) % WINDOW;
	c->count--;
	return 0;
}

static int drain(append_ctx *c)
{
	while (c->count > 0)
		if (wait_oldest(c) != 0)
			return -1;
	return 0;
}

/* Queue the building batch as a ticket; its arrays swap with an empty slot. */
static int submit(append_ctx *c)
{
	if (c->build.n == 0)
		return 0;
	if (c->count == WINDOW && wait_oldest(c) != 0)
		return -1;
	/* Only a batch with ids can fail on a conflict while its neighbours
	 * commit, so it flies alone: no later line is ever committed ahead of
	 * it, and a failure can always be pinned to one line. */
	if (c->count > 0 && (c->build.has_id || ring_at(c, c->count - 1)->has_id) &&
	    drain(c) != 0)
		return -1;
	cj_ticket *t = NULL;
	int rc;
	for (;;) {
		rc = cj_journal_submit(&t, c->s, (const cj_event *const *)c->build.evs, c->build.n);
		/* A full queue stores nothing: make room with our own tickets. */
		if (rc != CJ_EBUSY || c->count == 0)
			break;
		if (wait_oldest(c) != 0)
			return -1;
	}
	if (rc != 0) {
		/* Nothing of it was queued: earlier tickets first, then line by line. */
		if (drain(c) != 0)
			return -1;
		if (append_bisect(c, &c->build, 0, c->build.n) != 0)
			return -1;
		batch_clear(&c->build);
		return 0;
	}
	batch *slot = ring_at(c, c->count);
	batch tmp = *slot;
	*slot = c->build;
	slot->ticket = t;
	c->build = tmp;
	c->count++;
	return 0;
}

/* ---- one line ------------------------------------------------------------ */

static int is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/* One event checked against the store's limits (cj_event_parse would apply
 * the built-in ones, refusing what a store with larger limits accepts). */
static cj_event *parse_line(append_ctx *c, size_t lineno, const char *line, size_t len)
{
	cj_event **evs = NULL;
	size_t n = 0;
	int is_array = 0;
	long bad = -1;
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	/* The parser would take an array as a batch: JSONL has one per line. */
	if (i < len && line[i] == '[') {
		fail_text(c, "line %zu: expected one JSON object, got an array", lineno);
		return NULL;
	}
	int rc = cj_event_parse_many(&evs, &n, &is_array, &bad, line, len, c->lim, 1);
	if (rc != 0) {
		fail_line(c, lineno, rc);
		return NULL;
	}
	if (is_array || n != 1) {
		cj_events_free(evs, n);
		fail_text(c, "line %zu: expected one JSON object, got an array", lineno);
		return NULL;
	}
	cj_event *ev = evs[0];
	evs[0] = NULL;
	cj_events_free(evs, n);
	return ev;
}

static int add_line(append_ctx *c, size_t lineno, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	size_t bad = cj_utf8_check(line, len);
	if (bad < len) {
		fail_text(c, "line %zu: invalid UTF-8 (byte 0x%02x at offset %zu)", lineno,
		          (unsigned)(unsigned char)line[bad], bad);
		return -1;
	}
	cj_event *ev = parse_line(c, lineno, line, len);
	if (!ev)
		return -1;
	batch *b = &c->build;
	b->evs[b->n] = ev;
	b->lines[b->n] = lineno;
	b->has_id |= cj_event_get_string(ev, "id") != NULL;
	b->n++;
	b->bytes += len;
	if (b->n == BATCH_EVENTS || b->bytes >= BATCH_BYTES)
		return submit(c);
	return 0;
}

/* ---- the command --------------------------------------------------------- */

static size_t line_cap(size_t ev)
{
	/* JSON escapes make text longer than the stored event: allow twice the
	 * event limit, so a line the store could accept is never cut short. */
	size_t cap = ev > SIZE_MAX / 4 ? SIZE_MAX / 4 : ev * 2;
	return cap < ((size_t)1 << 20) ? (size_t)1 << 20 : cap;
}

static int read_all(append_ctx *c, line_reader *r, cli_progress *bar)
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
		if (is_blank(line, len))
			continue;
		if (add_line(c, lineno, line, len) != 0)
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
	memset(&r, 0, sizeof r);
	r.f = in;
	r.max_line = line_cap(c->max_event);
	r.size = READ_CHUNK;
	r.buf = malloc(r.size);
	if (!r.buf) {
		fail_text(c, "out of memory");
		return -1;
	}
	cli_progress bar;
	cli_progress_begin(&bar, "append", in_size);
	int rc = read_all(c, &r, &bar);
	/* After a bad line the batch being built holds only the valid lines
	 * before it: they still go in. After a failed commit nothing more may. */
	if (!c->halted && submit(c) == 0)
		drain(c);
	cli_progress_update(&bar, r.consumed);
	cli_progress_end(&bar);
	free(r.buf);
	return rc != 0 || c->failed ? -1 : 0;
}

static int print_result(append_ctx *c, int json)
{
	uint64_t last = c->max_seq;
	if (c->appended == 0) {
		int rc = cj_journal_last_seq(c->s, &last);
		if (rc != 0)
			return cli_fail_lib("append", rc, "cannot read the last sequence number");
	}
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "appended", cli_json_u64(c->appended));
			json_object_set_new(o, "last_seq", cli_json_u64(last));
		}
		return cli_print_json("append", o) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	}
	printf("appended %llu event%s, last sequence %llu\n", (unsigned long long)c->appended,
	       c->appended == 1 ? "" : "s", (unsigned long long)last);
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
	int ok = batch_alloc(&c.build) == 0;
	for (size_t i = 0; i < WINDOW; i++)
		ok = batch_alloc(&c.ring[i]) == 0 && ok;
	rc = cj_store_open(&c.s, pos[0], NULL);
	if (rc != 0) {
		cli_fail_lib("append", rc, "cannot open store '%s'", pos[0]);
		goto out;
	}
	c.lim = cj_store_limits(c.s);
	c.max_event = c.lim && c.lim->max_event ? c.lim->max_event : (size_t)4 << 20;
	if (!ok) {
		cli_fail("append", "out of memory");
		goto out;
	}
	if (run(&c, in, in_size) != 0) {
		cli_fail("append", "%s", c.err);
		goto out;
	}
	status = print_result(&c, json);
out:
	batch_release(&c.build);
	for (size_t i = 0; i < WINDOW; i++)
		batch_release(&c.ring[i]);
	cj_store_close(c.s);
	if (in && in != stdin)
		fclose(in);
	return status;
}
