/* import/tape.c — the strict JSON reader without jansson values (tape.h).
 * Every rule here is jansson's, narrowed: where this reader is not sure
 * jansson accepts the text with the same values, it gives up (0). */
#include <stdlib.h>
#include <string.h>
#include "tape.h"

typedef struct rd {
	tape *t;
	const unsigned char *p, *end;
	int depth;
} rd;

void tape_init(tape *t) { memset(t, 0, sizeof *t); }

void tape_free(tape *t)
{
	free(t->nodes);
	free(t->buf);
	memset(t, 0, sizeof *t);
}

static void ws(rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

static long node(rd *r, unsigned char type)
{
	tape *t = r->t;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		if (cap > UINT32_MAX)
			return -1;
		tj_node *nn = realloc(t->nodes, cap * sizeof *nn);
		if (!nn)
			return -1;
		t->nodes = nn;
		t->cap = cap;
	}
	tj_node *nd = &t->nodes[t->n];
	memset(nd, 0, sizeof *nd);
	nd->type = type;
	return (long)t->n++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return 0;
		v = v * 16 + d;
	}
	*out = v;
	return 1;
}

/* The length of the strict UTF-8 sequence at p (no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned min;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	unsigned cp = c & (0xff >> (n + 1));
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static char *put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* A string at r->p ('"'), decoded into the buffer (never longer than its
 * text, which the buffer was sized for). key: no escapes allowed. */
static const char *string(rd *r, int key)
{
	tape *t = r->t;
	char *o = t->buf + t->used, *start = o;
	r->p++;
	while (r->p < r->end) {
		unsigned c = *r->p;
		if (c == '"') {
			r->p++;
			*o++ = '\0';
			t->used = (size_t)(o - t->buf);
			return start;
		}
		if (c < 0x20)
			return NULL;
		if (c < 0x80 && c != '\\') {
			*o++ = (char)c;
			r->p++;
			continue;
		}
		if (c >= 0x80) {
			size_t n = utf8_len(r->p, r->end);
			if (!n)
				return NULL;
			memcpy(o, r->p, n);
			o += n;
			r->p += n;
			continue;
		}
		if (key || r->end - r->p < 2)
			return NULL;
		unsigned e = r->p[1];
		r->p += 2;
		switch (e) {
		case '"': *o++ = '"'; continue;
		case '\\': *o++ = '\\'; continue;
		case '/': *o++ = '/'; continue;
		case 'b': *o++ = '\b'; continue;
		case 'f': *o++ = '\f'; continue;
		case 'n': *o++ = '\n'; continue;
		case 'r': *o++ = '\r'; continue;
		case 't': *o++ = '\t'; continue;
		case 'u': break;
		default: return NULL;
		}
		unsigned cp, lo;
		if (r->end - r->p < 4 || !hex4(r->p, &cp) || cp == 0)
			return NULL;
		r->p += 4;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return NULL;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
			    !hex4(r->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
				return NULL;
			r->p += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		o = put_utf8(o, cp);
	}
	return NULL;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?, at most 18 digits, no exponent. */
static int number(rd *r)
{
	const unsigned char *p = r->p;
	int digits = 0;
	if (p < r->end && *p == '-')
		p++;
	if (p < r->end && *p == '0') {
		p++;
		digits++;
	} else if (p < r->end && *p >= '1' && *p <= '9') {
		for (; p < r->end && *p >= '0' && *p <= '9'; p++)
			digits++;
	} else {
		return 0;
	}
	if (p < r->end && *p == '.') {
		p++;
		int frac = 0;
		for (; p < r->end && *p >= '0' && *p <= '9'; p++, frac++)
			digits++;
		if (!frac)
			return 0;
	}
	if (digits > 18 || (p < r->end && (*p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))))
		return 0;
	r->p = p;
	return 1;
}

static int word(rd *r, const char *w, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return 0;
	r->p += n;
	return 1;
}


/* After a member or an element: a comma (0: another item follows) or the
 * closing bracket (1); anything else is an error (-1). */
static int after_item(rd *r, char close)
{
	ws(r);
	if (r->p < r->end && *r->p == ',') {
		r->p++;
		ws(r);
		return 0;
	}
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 1;
	}
	return -1;
}
static long value(rd *r);

/* Link child c after prev (or as parent's first). */
static void link(tape *t, long parent, long prev, long c)
{
	if (prev < 0)
		t->nodes[parent].child = (uint32_t)c;
	else
		t->nodes[prev].next = (uint32_t)c;
}

static long object(rd *r)
{
	long o = node(r, TJ_OBJECT), prev = -1;
	if (o < 0)
		return -1;
	r->p++;
	ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return o;
	}
	for (int members = 0;; members++) {
		if (members == TAPE_MEMBERS || r->p >= r->end || *r->p != '"')
			return -1;
		const char *key = string(r, 1);
		if (!key)
			return -1;
		/* a name given twice is jansson's error to word */
		for (long k = prev < 0 ? 0 : (long)r->t->nodes[o].child; prev >= 0 && k;
		     k = (long)r->t->nodes[k].next)
			if (strcmp(r->t->nodes[k].key, key) == 0)
				return -1;
		ws(r);
		if (r->p >= r->end || *r->p != ':')
			return -1;
		r->p++;
		ws(r);
		long v = value(r);
		if (v < 0)
			return -1;
		r->t->nodes[v].key = key;
		link(r->t, o, prev, v);
		prev = v;
		int end = after_item(r, '}');
		if (end)
			return end > 0 ? o : -1;
	}
}

static long array(rd *r)
{
	long a = node(r, TJ_ARRAY), prev = -1;
	if (a < 0)
		return -1;
	r->p++;
	ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return a;
	}
	for (;;) {
		long v = value(r);
		if (v < 0)
			return -1;
		link(r->t, a, prev, v);
		prev = v;
		int end = after_item(r, ']');
		if (end)
			return end > 0 ? a : -1;
	}
}

static long value(rd *r)
{
	if (r->p >= r->end)
		return -1;
	long n;
	switch (*r->p) {
	case '{':
	case '[':
		if (++r->depth > TAPE_DEPTH)
			return -1;
		n = *r->p == '{' ? object(r) : array(r);
		r->depth--;
		return n;
	case '"': {
		const char *s = string(r, 0);
		if (!s || (n = node(r, TJ_STRING)) < 0)
			return -1;
		r->t->nodes[n].str = s;
		return n;
	}
	case 't':
		return word(r, "true", 4) ? node(r, TJ_TRUE) : -1;
	case 'f':
		return word(r, "false", 5) ? node(r, TJ_FALSE) : -1;
	case 'n':
		return word(r, "null", 4) ? node(r, TJ_NULL) : -1;
	default:
		return number(r) ? node(r, TJ_NUMBER) : -1;
	}
}

int tape_read(tape *t, const char *text, size_t len)
{
	t->n = 0;
	t->used = 0;
	if (t->buf_cap < len + 1) {
		char *b = realloc(t->buf, len + 1);
		if (!b)
			return 0;
		t->buf = b;
		t->buf_cap = len + 1;
	}
	rd r = { t, (const unsigned char *)text, (const unsigned char *)text + len, 0 };
	ws(&r);
	if (r.p >= r.end || *r.p != '{')
		return 0;
	if (value(&r) != 0)
		return 0;
	ws(&r);
	return r.p == r.end;
}

const tj_node *tape_child(const tape *t, const tj_node *n)
{
	return n && (n->type == TJ_OBJECT || n->type == TJ_ARRAY) && n->child ?
	       &t->nodes[n->child] : NULL;
}

const tj_node *tape_next(const tape *t, const tj_node *n)
{
	return n && n->next ? &t->nodes[n->next] : NULL;
}

const tj_node *tape_get(const tape *t, const tj_node *o, const char *key)
{
	if (!o || o->type != TJ_OBJECT)
		return NULL;
	for (const tj_node *c = tape_child(t, o); c; c = tape_next(t, c))
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

const char *tape_str(const tj_node *n) { return n && n->type == TJ_STRING ? n->str : NULL; }
