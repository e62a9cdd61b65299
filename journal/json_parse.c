/* journal/json_parse.c — strict JSON text to jansson values, fast.
 *
 * jansson's own parser reads a character at a time through a stream
 * abstraction: 47k instructions for a 200-byte event line, three quarters of
 * `chatjournal append`'s CPU. This one reads the text in place (clean string
 * runs eight bytes at a time) and builds the same values, with the same
 * rules as json_loadb(..., JSON_REJECT_DUPLICATES): strict RFC 8259 syntax,
 * UTF-8 checked (common/utf8.c), "\u0000" refused (values reach callers as C
 * strings), lone surrogates refused, duplicate keys refused, integers within
 * int64 (beyond: an error, as jansson), reals within double. Errors read like
 * jansson's ("string or '}' expected near '}'") with the line and the column
 * (in characters) of the token at fault. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "journal/json_parse.h"
#include "common/utf8.h"
#include "common/err.h"

#define MAX_DEPTH 2048   /* jansson's JSON_PARSER_MAX_DEPTH */

typedef struct parser {
	const char *p, *end;
	int line;
	const char *line_start;
	int depth;
	cji_json_error *err;
	char *scratch;        /* decoded strings with escapes */
	size_t scratch_cap;
} parser;

/* ---- errors ---------------------------------------------------------------- */

static int column_at(const parser *ps, const char *at)
{
	int col = 0;
	for (const char *q = ps->line_start; q <= at && q < ps->end; q++)
		col += ((unsigned char)*q & 0xc0) != 0x80;
	return col ? col : 1;
}

/* Fail at the token [tok, tok_end): "MESSAGE near 'TOKEN'" (or "near end of
 * file" when the text ended). */
static json_t *fail(parser *ps, const char *tok, const char *tok_end, const char *what)
{
	cji_json_error *e = ps->err;
	if (e->text[0])
		return NULL; /* the first error stands */
	e->nomem = strcmp(what, "out of memory") == 0;
	if (tok >= ps->end) {
		e->line = ps->line;
		e->column = column_at(ps, ps->end - 1); /* the last character, as jansson */
		snprintf(e->text, sizeof e->text, "%s near end of file", what);
		return NULL;
	}
	if (tok_end <= tok)
		tok_end = tok + 1;
	if (tok_end - tok > 20)
		tok_end = tok + 20;
	e->line = ps->line;
	e->column = column_at(ps, tok_end - 1);
	snprintf(e->text, sizeof e->text, "%s near '%.*s'", what, (int)(tok_end - tok), tok);
	return NULL;
}

/* An error inside a string, at byte at. */
static json_t *fail_at(parser *ps, const char *at, const char *msg)
{
	cji_json_error *e = ps->err;
	if (e->text[0])
		return NULL;
	e->line = ps->line;
	e->column = column_at(ps, at);
	e->nomem = strcmp(msg, "out of memory") == 0;
	snprintf(e->text, sizeof e->text, "%s", msg);
	return NULL;
}

/* Length of the UTF-8 sequence at p if it is valid (strict), else 0. */
static size_t utf8_seq(const char *p, const char *end)
{
	unsigned char c = (unsigned char)*p;
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
	if (!n || (size_t)(end - p) < n)
		return 0;
	return cji_utf8_check((const uint8_t *)p, n, CJI_UTF8_NO_NUL) == n ? n : 0;
}

/* ---- lexing ---------------------------------------------------------------- */

static void skip_ws(parser *ps)
{
	const char *p = ps->p;
	while (p < ps->end) {
		char c = *p;
		if (c == ' ' || c == '\t' || c == '\r') {
			p++;
		} else if (c == '\n') {
			p++;
			ps->line++;
			ps->line_start = p;
		} else {
			break;
		}
	}
	ps->p = p;
}

/* End of the token starting at p, for error messages: a word, or one char. */
static const char *token_end(const parser *ps, const char *p)
{
	const char *q = p;
	while (q < ps->end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
	                       (*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.'))
		q++;
	return q > p ? q : p + 1;
}

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Non-zero if one of the 8 bytes is '"', '\\', below 0x20 or >= 0x80. */
static uint64_t special(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
	return ((x - ONES * 0x20) | ((q - ONES) & ~q) | ((b - ONES) & ~b) | x) & HIGHS;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
		else return -1;
	}
	*out = v;
	return 0;
}

static int scratch_room(parser *ps, size_t n)
{
	if (n <= ps->scratch_cap)
		return 0;
	size_t cap = ps->scratch_cap ? ps->scratch_cap : 256;
	while (cap < n)
		cap *= 2;
	char *s = realloc(ps->scratch, cap);
	if (!s)
		return -1;
	ps->scratch = s;
	ps->scratch_cap = cap;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string starting at ps->p (a quote): *s, *n get its decoded bytes (in the
 * text itself when it has no escape, else in scratch). 0 or -1 (error set). */
static int lex_string(parser *ps, const char **s, size_t *n)
{
	const char *open = ps->p, *p = ps->p + 1, *end = ps->end;
	const char *run = p;
	size_t out = 0;
	int escaped = 0;
	for (;;) {
		while (end - p >= 8) {
			uint64_t x;
			memcpy(&x, p, 8);
			if (special(x))
				break;
			p += 8;
		}
		if (p >= end) {
			fail(ps, open, end, "premature end of input");
			return -1;
		}
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c >= 0x80) {
			size_t n = utf8_seq(p, end);
			if (!n) {
				char msg[48];
				snprintf(msg, sizeof msg, "unable to decode byte 0x%x", c);
				fail_at(ps, p, msg);
				return -1;
			}
			p += n;
			continue;
		}
		if (c == '\n') {
			fail(ps, open, p, "unexpected newline");
			return -1;
		}
		if (c < 0x20) {
			char msg[48];
			snprintf(msg, sizeof msg, "control character 0x%x", c);
			fail_at(ps, p, msg);
			return -1;
		}
		if (c != '\\') {
			p++;
			continue;
		}
		/* An escape: copy what came before, then decode it. */
		if (!escaped) {
			escaped = 1;
			out = 0;
		}
		size_t chunk = (size_t)(p - run);
		if (scratch_room(ps, out + chunk + 8)) {
			fail_at(ps, p, "out of memory");
			return -1;
		}
		memcpy(ps->scratch + out, run, chunk);
		out += chunk;
		if (end - p < 2) {
			fail(ps, open, end, "premature end of input");
			return -1;
		}
		char e = p[1];
		const char *esc = p;
		p += 2;
		char single = e == '"' ? '"' : e == '\\' ? '\\' : e == '/' ? '/' : e == 'b' ? '\b' :
		              e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : 0;
		if (single) {
			ps->scratch[out++] = single;
		} else if (e == 'u') {
			unsigned cp;
			if (end - p < 4 || hex4(p, &cp)) {
				fail_at(ps, esc, "invalid escape");
				return -1;
			}
			p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo;
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff) {
					char msg[48];
					snprintf(msg, sizeof msg, "invalid Unicode '\\u%04X'", cp);
					fail_at(ps, esc, msg);
					return -1;
				}
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				char msg[48];
				snprintf(msg, sizeof msg, "invalid Unicode '\\u%04X'", cp);
				fail_at(ps, esc, msg);
				return -1;
			} else if (cp == 0) {
				fail_at(ps, esc, "\\u0000 is not allowed (strings reach callers as C strings)");
				return -1;
			}
			out += put_utf8(ps->scratch + out, cp);
		} else {
			fail_at(ps, esc, "invalid escape");
			return -1;
		}
		run = p;
	}
	if (escaped) {
		size_t chunk = (size_t)(p - run);
		if (scratch_room(ps, out + chunk + 1)) {
			fail_at(ps, p, "out of memory");
			return -1;
		}
		memcpy(ps->scratch + out, run, chunk);
		out += chunk;
		*s = ps->scratch;
		*n = out;
	} else {
		*s = open + 1;
		*n = (size_t)(p - open - 1);
	}
	ps->p = p + 1;
	return 0;
}

static json_t *parse_number(parser *ps)
{
	const char *start = ps->p, *p = start, *end = ps->end;
	int real = 0;
	if (p < end && *p == '-')
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return fail(ps, start, token_end(ps, start), "invalid token");
	if (*p == '0') {
		p++;
	} else {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && *p == '.') {
		real = 1;
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail(ps, start, token_end(ps, start), "invalid token");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = 1;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail(ps, start, token_end(ps, start), "invalid token");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	ps->p = p;
	size_t len = (size_t)(p - start);
	if (!real) {
		int neg = *start == '-';
		uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		for (const char *q = start + neg; q < p; q++) {
			unsigned d = (unsigned)(*q - '0');
			if (v > (lim - d) / 10)
				return fail(ps, start, p, neg ? "too big negative integer" : "too big integer");
			v = v * 10 + d;
		}
		return json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
	}
	char buf[64];
	char *heap = NULL, *txt = buf;
	if (len >= sizeof buf) {
		if (!(heap = malloc(len + 1)))
			return fail(ps, start, p, "out of memory");
		txt = heap;
	}
	memcpy(txt, start, len);
	txt[len] = '\0';
	errno = 0;
	double d = strtod(txt, NULL);
	free(heap);
	if ((errno == ERANGE && (d > 1.0 || d < -1.0)) || isinf(d))
		return fail(ps, start, p, "real number overflow");
	return json_real(d);
}

static json_t *parse_value(parser *ps);

static json_t *parse_object(parser *ps)
{
	ps->p++; /* { */
	json_t *obj = json_object();
	if (!obj)
		return fail(ps, ps->p - 1, ps->p, "out of memory");
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return obj;
	}
	for (;;) {
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '"') {
			json_decref(obj);
			return fail(ps, ps->p, token_end(ps, ps->p), "string or '}' expected");
		}
		const char *key_tok = ps->p, *key;
		size_t klen;
		if (lex_string(ps, &key, &klen)) {
			json_decref(obj);
			return NULL;
		}
		/* The key may sit in scratch, which the value may reuse: copy it. */
		char kbuf[128], *kheap = NULL, *k = kbuf;
		if (klen >= sizeof kbuf && !(k = kheap = malloc(klen + 1))) {
			json_decref(obj);
			return fail(ps, key_tok, ps->p, "out of memory");
		}
		memcpy(k, key, klen);
		k[klen] = '\0';
		if (json_object_getn(obj, k, klen)) {
			free(kheap);
			json_decref(obj);
			return fail(ps, key_tok, ps->p, "duplicate object key");
		}
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			free(kheap);
			json_decref(obj);
			return fail(ps, ps->p, token_end(ps, ps->p), "':' expected");
		}
		ps->p++;
		json_t *val = parse_value(ps);
		if (!val || json_object_setn_new_nocheck(obj, k, klen, val) != 0) {
			free(kheap);
			json_decref(obj);
			return val ? fail(ps, key_tok, ps->p, "out of memory") : NULL;
		}
		free(kheap);
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return obj;
		}
		json_decref(obj);
		return fail(ps, ps->p, token_end(ps, ps->p), "',' or '}' expected");
	}
}

static json_t *parse_array(parser *ps)
{
	ps->p++; /* [ */
	json_t *arr = json_array();
	if (!arr)
		return fail(ps, ps->p - 1, ps->p, "out of memory");
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return arr;
	}
	for (;;) {
		json_t *val = parse_value(ps);
		if (!val || json_array_append_new(arr, val) != 0) {
			json_decref(arr);
			return val ? fail(ps, ps->p - 1, ps->p, "out of memory") : NULL;
		}
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return arr;
		}
		json_decref(arr);
		return fail(ps, ps->p, token_end(ps, ps->p), "',' or ']' expected");
	}
}

static json_t *literal(parser *ps, const char *word, size_t n, json_t *(*make)(void))
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0 ||
	    (ps->p + n < ps->end && ((ps->p[n] >= 'a' && ps->p[n] <= 'z') ||
	                            (ps->p[n] >= '0' && ps->p[n] <= '9'))))
		return fail(ps, ps->p, token_end(ps, ps->p), "invalid token");
	ps->p += n;
	return make();
}

static json_t *parse_value(parser *ps)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, ps->p, ps->p, "unexpected token");
	if (ps->depth >= MAX_DEPTH)
		return fail(ps, ps->p, ps->p + 1, "maximum parsing depth reached");
	json_t *v;
	switch (*ps->p) {
	case '{':
		ps->depth++;
		v = parse_object(ps);
		ps->depth--;
		return v;
	case '[':
		ps->depth++;
		v = parse_array(ps);
		ps->depth--;
		return v;
	case '"': {
		const char *s;
		size_t n;
		const char *tok = ps->p;
		if (lex_string(ps, &s, &n))
			return NULL;
		v = json_stringn_nocheck(s, n);
		return v ? v : fail(ps, tok, ps->p, "out of memory");
	}
	case 't': return literal(ps, "true", 4, json_true);
	case 'f': return literal(ps, "false", 5, json_false);
	case 'n': return literal(ps, "null", 4, json_null);
	case ',': case ':': case ']': case '}':
		return fail(ps, ps->p, ps->p + 1, "unexpected token");
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps);
		return fail(ps, ps->p, token_end(ps, ps->p), "invalid token");
	}
}

json_t *cji_json_parse(const char *text, size_t len, int any, cji_json_error *err)
{
	memset(err, 0, sizeof *err);
	parser ps = { text, text + len, 1, text, 0, err, NULL, 0 };
	skip_ws(&ps);
	json_t *v = NULL;
	if (!any && (ps.p >= ps.end || (*ps.p != '{' && *ps.p != '[')))
		fail(&ps, ps.p, token_end(&ps, ps.p), "'[' or '{' expected");
	else
		v = parse_value(&ps);
	if (v) {
		skip_ws(&ps);
		if (ps.p < ps.end) {
			json_decref(v);
			v = fail(&ps, ps.p, token_end(&ps, ps.p), "end of file expected");
		}
	}
	free(ps.scratch);
	return v;
}

int cji_json_load(json_t **out, const char *text, size_t len, int any, const char *field)
{
	cji_json_error e;
	*out = cji_json_parse(text, len, any, &e);
	if (*out)
		return 0;
	if (e.nomem)
		return cji_err(CJ_ENOMEM, "out of memory parsing JSON");
	if (field)
		return cji_err_field(CJ_EINVAL, field, "field '%.64s': invalid JSON at line %d, column %d: %s",
		                     field, e.line, e.column, e.text);
	return cji_err(CJ_EINVAL, "invalid JSON at line %d, column %d: %s", e.line, e.column, e.text);
}
