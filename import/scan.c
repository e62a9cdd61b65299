/* import/scan.c — the streaming JSON scanner (scan.h): a 256 KiB read
 * window over the file, a byte loop that knows strings, escapes and nesting,
 * and one element's text copied out at a time (up to the cap). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "scan.h"

#define WINDOW ((size_t)256 << 10)

static int fail(scan *s, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(s->err, sizeof s->err, "%s: line %llu, byte %llu: %s", s->name,
	         (unsigned long long)s->line, (unsigned long long)(s->off + s->pos), what);
	return SCAN_ERR;
}

int scan_open(scan *s, const char *path, const char *name, uint64_t max_elem)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->name = name;
	s->line = 1;
	s->max_elem = max_elem;
	s->buf = malloc(WINDOW);
	if (!s->buf) {
		snprintf(s->err, sizeof s->err, "%s: out of memory", name);
		return SCAN_ERR;
	}
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		snprintf(s->err, sizeof s->err, "%s: cannot open: %s", name, strerror(errno));
		return SCAN_ERR;
	}
	return 0;
}

void scan_close(scan *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s->elem);
	s->fd = -1;
	s->buf = NULL;
	s->elem = NULL;
}

uint64_t scan_offset(const scan *s) { return s->off + s->pos; }

/* Make buf[pos] readable: 1, 0 at the end of the file, SCAN_ERR. */
static int fill(scan *s)
{
	if (s->pos < s->len)
		return 1;
	if (s->eof)
		return 0;
	s->off += s->len;
	s->len = s->pos = 0;
	for (;;) {
		ssize_t n = read(s->fd, s->buf, WINDOW);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(s, "read error: %s", strerror(errno));
		if (n == 0) {
			s->eof = 1;
			return 0;
		}
		s->len = (size_t)n;
		return 1;
	}
}

/* The next byte that is not white space, not consumed: the byte, -2 at the
 * end of the file, SCAN_ERR. */
static int peek_token(scan *s)
{
	for (;;) {
		int r = fill(s);
		if (r < 0)
			return r;
		if (r == 0)
			return -2;
		unsigned char c = s->buf[s->pos];
		if (c == '\n')
			s->line++;
		else if (c != ' ' && c != '\t' && c != '\r')
			return c;
		s->pos++;
	}
}

static int keep(scan *s, const unsigned char *p, size_t n)
{
	if (s->skipped_len)
		return 0;
	if (s->elem_len + n > s->max_elem) {
		s->skipped_len = 1;
		return 0;
	}
	if (s->elem_len + n + 1 > s->elem_cap) {
		size_t cap = s->elem_cap ? s->elem_cap : 4096;
		while (cap < s->elem_len + n + 1)
			cap *= 2;
		char *e = realloc(s->elem, cap);
		if (!e)
			return fail(s, "out of memory for an element of %zu bytes", s->elem_len + n);
		s->elem = e;
		s->elem_cap = cap;
	}
	memcpy(s->elem + s->elem_len, p, n);
	s->elem_len += n;
	s->elem[s->elem_len] = '\0';
	return 0;
}

static void elem_reset(scan *s)
{
	s->elem_len = 0;
	s->skipped_len = 0;
	if (s->elem)
		s->elem[0] = '\0';
	s->elem_off = s->off + s->pos;
	s->elem_line = s->line;
}

/* Copy one JSON value starting at the current byte: a string, a container
 * (to its matching close), or a scalar (to the next delimiter). 0 or
 * SCAN_ERR; an element over the cap sets skipped_len to its length. */
static int take_value(scan *s)
{
	elem_reset(s);
	int depth = 0, in_str = 0, esc = 0;
	uint64_t total = 0;
	unsigned char first = s->buf[s->pos];
	int scalar = first != '"' && first != '[' && first != '{';
	for (;;) {
		int r = fill(s);
		if (r < 0)
			return r;
		if (r == 0) {
			if (scalar && depth == 0)
				break;
			return fail(s, "truncated JSON: the file ends inside %s, in the element that "
			            "starts at line %llu, byte %llu", in_str ? "a string" : "a value",
			            (unsigned long long)s->elem_line, (unsigned long long)s->elem_off);
		}
		size_t start = s->pos, i = s->pos;
		int done = 0;
		for (; i < s->len; i++) {
			unsigned char c = s->buf[i];
			if (c == '\n')
				s->line++;
			if (in_str) {
				if (esc)
					esc = 0;
				else if (c == '\\')
					esc = 1;
				else if (c == '"') {
					in_str = 0;
					if (depth == 0) {
						i++;
						done = 1;
						break;
					}
				}
				continue;
			}
			if (scalar) {
				if (c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\r' ||
				    c == '\n') {
					if (c == '\n')
						s->line--;  /* counted again by peek_token */
					done = 1;
					break;
				}
				continue;
			}
			if (c == '"')
				in_str = 1;
			else if (c == '[' || c == '{') {
				if (++depth > 1000) {
					s->pos = i;
					return fail(s, "nested deeper than 1000 levels");
				}
			} else if (c == ']' || c == '}') {
				if (--depth == 0) {
					i++;
					done = 1;
					break;
				}
			}
		}
		total += i - start;
		if (keep(s, s->buf + start, i - start) < 0)
			return SCAN_ERR;
		s->pos = i;
		if (done)
			break;
	}
	if (s->skipped_len)
		s->skipped_len = total;
	return 0;
}

static int enter(scan *s, int open, const char *what)
{
	int c = peek_token(s);
	if (c == SCAN_ERR)
		return c;
	if (c == -2)
		return fail(s, "empty file: expected %s", what);
	if (c != open)
		return fail(s, "expected %s, found '%c'", what, c >= 32 && c < 127 ? c : '?');
	s->pos++;
	s->first = 1;
	return 0;
}

int scan_enter_array(scan *s) { return enter(s, '[', "a JSON array '['"); }
int scan_enter_object(scan *s) { return enter(s, '{', "a JSON object '{'"); }

/* Before the next element: ',' or the close. 1: an element follows, 0: the
 * container closed, SCAN_ERR. */
static int between(scan *s, int close)
{
	int c = peek_token(s);
	if (c == SCAN_ERR)
		return c;
	if (c == -2)
		return fail(s, "truncated JSON: the file ends before '%c'", close);
	if (s->first) {
		s->first = 0;
		if (c == close) {
			s->pos++;
			return 0;
		}
		return 1;
	}
	if (c == close) {
		s->pos++;
		return 0;
	}
	if (c != ',')
		return fail(s, "expected ',' or '%c', found '%c'", close,
		            c >= 32 && c < 127 ? c : '?');
	s->pos++;
	c = peek_token(s);
	if (c == SCAN_ERR)
		return c;
	if (c == -2)
		return fail(s, "truncated JSON: the file ends after ','");
	return 1;
}

static int value_here(scan *s)
{
	int c = peek_token(s);
	if (c == SCAN_ERR)
		return c;
	if (c == -2)
		return fail(s, "truncated JSON: a value is missing");
	if (c == ']' || c == '}' || c == ',' || c == ':')
		return fail(s, "expected a value, found '%c'", c);
	if (take_value(s) < 0)
		return SCAN_ERR;
	return s->skipped_len ? SCAN_TOOBIG : SCAN_OK;
}

int scan_next(scan *s)
{
	int r = between(s, ']');
	if (r <= 0)
		return r;
	return value_here(s);
}

int scan_next_key(scan *s)
{
	int r = between(s, '}');
	if (r <= 0)
		return r;
	int c = peek_token(s);
	if (c != '"')
		return c == SCAN_ERR ? c : fail(s, "expected a member name (a string)");
	if (take_value(s) < 0)
		return SCAN_ERR;
	if (s->skipped_len)
		return fail(s, "a member name longer than %llu bytes",
		            (unsigned long long)s->max_elem);
	json_error_t e;
	json_t *k = json_loadb(s->elem, s->elem_len, JSON_DECODE_ANY, &e);
	if (!k || !json_is_string(k)) {
		json_decref(k);
		return fail(s, "malformed member name");
	}
	/* keep the decoded key in elem */
	size_t n = json_string_length(k);
	memmove(s->elem, json_string_value(k), n);
	s->elem[n] = '\0';
	s->elem_len = n;
	json_decref(k);
	c = peek_token(s);
	if (c != ':')
		return c == SCAN_ERR ? c : fail(s, "expected ':' after the member name");
	s->pos++;
	return SCAN_OK;
}

int scan_value(scan *s) { return value_here(s); }

int scan_finish(scan *s)
{
	int c = peek_token(s);
	if (c == SCAN_ERR)
		return c;
	if (c != -2)
		return fail(s, "unexpected '%c' after the end of the JSON value",
		            c >= 32 && c < 127 ? c : '?');
	return 0;
}

int scan_line(scan *s)
{
	int r = fill(s);
	if (r <= 0)
		return r < 0 ? r : SCAN_END;
	elem_reset(s);
	uint64_t total = 0;
	for (;;) {
		r = fill(s);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		unsigned char *nl = memchr(s->buf + s->pos, '\n', s->len - s->pos);
		size_t n = nl ? (size_t)(nl - (s->buf + s->pos)) : s->len - s->pos;
		if (keep(s, s->buf + s->pos, n) < 0)
			return SCAN_ERR;
		total += n;
		s->pos += n;
		if (nl) {
			s->pos++;
			s->line++;
			break;
		}
	}
	if (s->skipped_len) {
		s->skipped_len = total;
		return SCAN_TOOBIG;
	}
	return SCAN_OK;
}

json_t *scan_parse(scan *s)
{
	json_error_t e;
	json_t *v = json_loadb(s->elem, s->elem_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (!v) {
		/* jansson's line and position are within the element */
		uint64_t line = s->elem_line + (e.line > 0 ? (uint64_t)e.line - 1 : 0);
		uint64_t byte = s->elem_off + (e.position > 0 ? (uint64_t)e.position : 0);
		snprintf(s->err, sizeof s->err, "%s: line %llu, byte %llu: invalid JSON: %s", s->name,
		         (unsigned long long)line, (unsigned long long)byte, e.text);
	}
	return v;
}
