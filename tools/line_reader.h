/* tools/line_reader.h — reading text input line by line with no fixed line
 * length but a hard cap, counting the bytes consumed (for a progress bar).
 * Used by the commands that read JSON Lines. */
#ifndef CJ_TOOLS_LINE_READER_H
#define CJ_TOOLS_LINE_READER_H

#include <stdint.h>
#include <stdio.h>

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

/* Start reading f; lines over max_line bytes are refused. 0, or -1 (ENOMEM). */
int lr_open(line_reader *r, FILE *f, size_t max_line);
void lr_close(line_reader *r);

/* Next line without its '\n' (a last line without one counts), valid until
 * the next call: LR_LINE, LR_EOF, LR_TOOLONG (over max_line) or LR_IOERR
 * (r->err holds the errno). */
int lr_next(line_reader *r, const char **line, size_t *len);

#endif
