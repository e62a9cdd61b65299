/* import/scan.h — reading a big JSON file without loading it: the scanner
 * walks the top-level array (or the members of the top-level object) and
 * hands out one element's text at a time, with its byte offset and line, to
 * be parsed on its own (json_loadb). Only structure is checked here
 * (strings, nesting, commas); each element's syntax is the parser's. An
 * element over the cap is read past without being kept. Lines of a JSONL
 * file come from the same reader (scan_line). */
#ifndef CJ_IMPORT_SCAN_H
#define CJ_IMPORT_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

typedef struct scan {
	int fd;
	const char *name;          /* for messages: the file as the report names it */
	unsigned char *buf;        /* read window */
	size_t len, pos;
	uint64_t off;              /* file offset of buf[0] */
	uint64_t line;             /* line of buf[pos] (1-based) */
	int eof;
	char *elem;                /* the last element's text (NUL-terminated) */
	size_t elem_len, elem_cap;
	uint64_t max_elem;
	uint64_t elem_off, elem_line;  /* where the last element starts */
	uint64_t skipped_len;      /* SCAN_TOOBIG: the element's length */
	int first;                 /* no element read yet in the current container */
	char err[512];
} scan;

enum {
	SCAN_END = 0,      /* the container (or the file) ended */
	SCAN_OK = 1,       /* an element (or a line) is in elem */
	SCAN_TOOBIG = 2,   /* an element over max_elem was skipped */
	SCAN_ERR = -1      /* malformed or unreadable: err says where */
};

/* Open path for reading (name: how messages call it). 0 or SCAN_ERR. */
int scan_open(scan *s, const char *path, const char *name, uint64_t max_elem);
void scan_close(scan *s);
uint64_t scan_offset(const scan *s);   /* bytes consumed so far */

/* Expect '[' (or '{') as the next token. 0 or SCAN_ERR. */
int scan_enter_array(scan *s);
int scan_enter_object(scan *s);
/* The next element of the array entered last: SCAN_OK, SCAN_TOOBIG,
 * SCAN_END (']' read), SCAN_ERR. */
int scan_next(scan *s);
/* The next member of the object entered last: SCAN_OK with its key in
 * elem (the value not read yet: call scan_value, or scan_enter_array),
 * SCAN_END ('}' read), SCAN_ERR. */
int scan_next_key(scan *s);
/* The value after a key: SCAN_OK, SCAN_TOOBIG, SCAN_ERR. */
int scan_value(scan *s);
/* After the top-level value: only white space may follow. 0 or SCAN_ERR. */
int scan_finish(scan *s);

/* One line (without its '\n') into elem: SCAN_OK, SCAN_TOOBIG (skipped),
 * SCAN_END, SCAN_ERR. elem_line is its number. */
int scan_line(scan *s);

/* The element just read, parsed (duplicate keys refused): a new reference,
 * or NULL with err naming the file, line and byte of the syntax error. */
json_t *scan_parse(scan *s);

#endif
