/* sink/util.c — small pieces the sink's files share: a growable buffer
 * (with COPY's text escaping), the per-batch aggregate map, logging and
 * canonical JSON text. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sink_internal.h"

static int grow(sk_buf *b, size_t need)
{
	if (b->oom)
		return -1;
	if (b->len + need + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + need + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void sk_buf_add(sk_buf *b, const void *data, size_t n)
{
	if (grow(b, n))
		return;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sk_buf_str(sk_buf *b, const char *s) { sk_buf_add(b, s, strlen(s)); }

void sk_buf_printf(sk_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sk_buf_reset(sk_buf *b)
{
	b->len = 0;
	b->oom = 0;
	if (b->p)
		b->p[0] = '\0';
}

void sk_buf_free(sk_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

void sk_buf_copy_field(sk_buf *b, const char *s)
{
	if (!s) {
		sk_buf_add(b, "\\N", 2);
		return;
	}
	const char *run = s;
	for (const char *p = s;; p++) {
		char esc = 0;
		switch (*p) {
		case '\\': esc = '\\'; break;
		case '\t': esc = 't'; break;
		case '\n': esc = 'n'; break;
		case '\r': esc = 'r'; break;
		case '\0': break;
		default: continue;
		}
		sk_buf_add(b, run, (size_t)(p - run));
		if (!*p)
			return;
		char e[2] = { '\\', esc };
		sk_buf_add(b, e, 2);
		run = p + 1;
	}
}

/* ---- the aggregate map: open addressing, FNV-1a ---- */

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int rehash(sk_map *m, size_t cap)
{
	sk_agg *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		size_t j = fnv(m->slots[i].key) & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

sk_agg *sk_map_get(sk_map *m, const char *key, int64_t ms, int *is_new)
{
	*is_new = 0;
	if ((m->used + 1) * 2 > m->cap && rehash(m, m->cap ? m->cap * 2 : 256))
		return NULL;
	size_t j = fnv(key) & (m->cap - 1);
	while (m->slots[j].key) {
		if (!strcmp(m->slots[j].key, key))
			return &m->slots[j];
		j = (j + 1) & (m->cap - 1);
	}
	sk_agg *a = &m->slots[j];
	memset(a, 0, sizeof *a);
	if (!(a->key = strdup(key)))
		return NULL;
	a->first_ms = a->max_ms = ms;
	a->size = -1;
	a->used_order = (int)m->used;
	m->used++;
	*is_new = 1;
	return a;
}

static int by_order(const void *x, const void *y)
{
	const sk_agg *a = *(sk_agg *const *)x, *b = *(sk_agg *const *)y;
	return (a->used_order > b->used_order) - (a->used_order < b->used_order);
}

sk_agg **sk_map_rows(const sk_map *m)
{
	sk_agg **rows = malloc((m->used ? m->used : 1) * sizeof *rows);
	if (!rows)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			rows[n++] = &m->slots[i];
	qsort(rows, n, sizeof *rows, by_order);
	return rows;
}

void sk_map_clear(sk_map *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		sk_agg *a = &m->slots[i];
		if (!a->key)
			continue;
		free(a->key);
		free(a->server);
		free(a->channel);
		free(a->extra);
		memset(a, 0, sizeof *a);
	}
	m->used = 0;
}

void sk_map_free(sk_map *m)
{
	sk_map_clear(m);
	free(m->slots);
	memset(m, 0, sizeof *m);
}

void sk_log(cj_sink *k, const char *fmt, ...)
{
	if (!k->o.log)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	k->o.log(k->o.log_arg, line);
}

char *sk_json_text(const json_t *v)
{
	if (!v)
		return NULL;
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}
