/* tools/line_reader.c — a growing buffer that hands out lines in place:
 * each byte is scanned for '\n' once, and a line is copied at most when the
 * buffer is compacted or grown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "line_reader.h"

#define READ_CHUNK ((size_t)256 << 10)

int lr_open(line_reader *r, FILE *f, size_t max_line)
{
	memset(r, 0, sizeof *r);
	r->f = f;
	r->max_line = max_line;
	r->size = READ_CHUNK;
	r->buf = malloc(r->size);
	return r->buf ? 0 : -1;
}

void lr_close(line_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

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

int lr_next(line_reader *r, const char **line, size_t *len)
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
