/* api/http/feed_json.c — the change feed's output: an event's JSON form
 * and the Server-Sent Events frames (feed_json.h).
 *
 * The event is the library's canonical JSON (keys sorted bytewise, "ts" in
 * integer ms: the JSON form of the stored body) with "seq" (and "redacted"
 * for a tombstone) inserted where they sort, so that keys stay sorted. The
 * insertion walks the top level of that compact text instead of parsing it
 * again: escaped characters in a raw key all sort below 'a', as do the
 * characters they stand for, so raw-byte order against these lowercase
 * names is the order of the keys themselves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "feed_json.h"

void cjh_buf_add(cjh_buf *b, const void *data, size_t n)
{
	if (b->oom || !n)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void cjh_buf_str(cjh_buf *b, const char *s) { cjh_buf_add(b, s, strlen(s)); }

void cjh_buf_u64(cjh_buf *b, uint64_t x)
{
	char t[24];
	int n = snprintf(t, sizeof t, "%llu", (unsigned long long)x);
	cjh_buf_add(b, t, (size_t)n);
}

void cjh_buf_free(cjh_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Index of the quote that closes the string opening at c[i], or n. */
static size_t string_end(const char *c, size_t n, size_t i)
{
	for (size_t j = i + 1; j < n; j++) {
		if (c[j] == '\\')
			j++;
		else if (c[j] == '"')
			return j;
	}
	return n;
}

/* Index of the ',' or '}' that ends the value starting at c[i], or n. */
static size_t value_end(const char *c, size_t n, size_t i)
{
	int depth = 0;
	for (size_t j = i; j < n; j++) {
		char ch = c[j];
		if (ch == '"') {
			j = string_end(c, n, j);
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			if (depth == 0)
				return j;
			depth--;
		} else if (ch == ',' && depth == 0) {
			return j;
		}
	}
	return n;
}

static int key_cmp(const char *name, const char *raw, size_t rlen)
{
	size_t nl = strlen(name), m = nl < rlen ? nl : rlen;
	int c = memcmp(name, raw, m);
	return c ? c : (nl > rlen) - (nl < rlen);
}

typedef struct extra {
	const char *key, *value;
} extra;

static void put_pair(cjh_buf *b, int *first, const char *pair, size_t len)
{
	if (!*first)
		cjh_buf_add(b, ",", 1);
	*first = 0;
	cjh_buf_add(b, pair, len);
}

static void put_extra(cjh_buf *b, int *first, const extra *e)
{
	if (!*first)
		cjh_buf_add(b, ",", 1);
	*first = 0;
	cjh_buf_add(b, "\"", 1);
	cjh_buf_str(b, e->key);
	cjh_buf_add(b, "\":", 2);
	cjh_buf_str(b, e->value);
}

void cjh_feed_inject(cjh_buf *b, const char *c, size_t n, uint64_t seq, int redacted)
{
	char seq_text[24];
	snprintf(seq_text, sizeof seq_text, "%llu", (unsigned long long)seq);
	extra ex[2];
	size_t ne = 0, e = 0;
	if (redacted)
		ex[ne++] = (extra){ "redacted", "true" };
	ex[ne++] = (extra){ "seq", seq_text };
	int first = 1;
	cjh_buf_add(b, "{", 1);
	size_t i = n && c[0] == '{' ? 1 : n;
	while (i < n && c[i] != '}') {
		if (c[i] == ',')
			i++;
		if (i >= n || c[i] != '"')
			break; /* not an object's member: not canonical JSON */
		size_t ke = string_end(c, n, i);
		if (ke + 1 >= n || c[ke + 1] != ':')
			break;
		size_t ve = value_end(c, n, ke + 2);
		while (e < ne && key_cmp(ex[e].key, c + i + 1, ke - i - 1) < 0)
			put_extra(b, &first, &ex[e++]);
		if (e < ne && key_cmp(ex[e].key, c + i + 1, ke - i - 1) == 0)
			put_extra(b, &first, &ex[e++]); /* ours wins over a field of the same name */
		else
			put_pair(b, &first, c + i, (ve < n ? ve : n) - i);
		i = ve;
	}
	while (e < ne)
		put_extra(b, &first, &ex[e++]);
	cjh_buf_add(b, "}", 1);
}

int cjh_feed_event_json(cjh_buf *b, const cj_record *rec)
{
	char *canon;
	size_t len;
	int rc = cj_event_to_canonical_json(&canon, &len, rec->event);
	if (rc)
		return rc;
	cjh_feed_inject(b, canon, len, rec->seq, (rec->flags & CJ_RECORD_REDACTED) != 0);
	cj_free(canon);
	return b->oom ? cj_error_set(CJ_ENOMEM, NULL, "out of memory") : 0;
}

int cjh_sse_event(cjh_buf *b, const cj_record *rec)
{
	cjh_buf_add(b, "id: ", 4);
	cjh_buf_u64(b, rec->seq);
	cjh_buf_add(b, "\nevent: ", 8);
	cjh_buf_str(b, cj_event_type_name(rec->type));
	cjh_buf_add(b, "\ndata: ", 7);
	int rc = cjh_feed_event_json(b, rec);
	cjh_buf_add(b, "\n\n", 2);
	return rc;
}

void cjh_sse_position(cjh_buf *b, uint64_t pos)
{
	cjh_buf_add(b, "id: ", 4);
	cjh_buf_u64(b, pos);
	cjh_buf_str(b, "\nevent: position\ndata: {\"after\":");
	cjh_buf_u64(b, pos);
	cjh_buf_add(b, "}\n\n", 3);
}

void cjh_sse_resume(cjh_buf *b, uint64_t pos, const char *reason)
{
	cjh_buf_add(b, "id: ", 4);
	cjh_buf_u64(b, pos);
	cjh_buf_str(b, "\nevent: resume\ndata: {\"after\":");
	cjh_buf_u64(b, pos);
	cjh_buf_str(b, ",\"reason\":\"");
	cjh_buf_str(b, reason); /* one of ours: no escaping needed */
	cjh_buf_add(b, "\"}\n\n", 4);
}

void cjh_sse_ping(cjh_buf *b) { cjh_buf_str(b, ": ping\n\n"); }

void cjh_sse_error(cjh_buf *b, const char *message, uint64_t seq)
{
	json_t *o = json_pack("{s:s,s:I}", "error", message, "seq", (json_int_t)seq);
	if (!o) /* not UTF-8 */
		o = json_pack("{s:s,s:I}", "error", "the journal cannot be read here", "seq",
		              (json_int_t)seq);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	cjh_buf_str(b, "event: error\ndata: ");
	cjh_buf_str(b, text ? text : "{}");
	cjh_buf_add(b, "\n\n", 2);
	free(text);
}
