/* api/http/feed_args.c — the change feed's query parameters and
 * Last-Event-ID (feed_args.h). Strict: a parameter the route does not take,
 * one given twice (type= and thread= excepted), a value that is not what
 * it should be, or an unknown event type is refused with the parameter
 * named, so that a typo never silently widens or narrows a feed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "feed_args.h"

/* A name from the request, fit for a JSON message and the error's field:
 * printable ASCII as is, every other byte as \xHH, at most 40 bytes. */
static void shown(char out[64], const char *s)
{
	size_t o = 0;
	for (; *s && o < 40; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, 64 - o, "\\x%02x", ch);
	}
	if (*s)
		o += (size_t)snprintf(out + o, 64 - o, "...");
	out[o] = '\0';
}

/* Is key one of the space-separated names of list? */
static int listed(const char *list, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && !memcmp(p, key, n))
			return 1;
		p += len;
		while (*p == ' ')
			p++;
	}
	return 0;
}

int cjh_args_known(const cjh_kv *kv, size_t n, const char *allowed, const char *route)
{
	char list[256] = "", names[200] = "", first[64] = "";
	size_t unknown = 0;
	for (size_t i = 0; i < n; i++) {
		if (listed(allowed, kv[i].key))
			continue;
		char one[64];
		shown(one, kv[i].key);
		if (!unknown++)
			snprintf(first, sizeof first, "%s", one);
		size_t used = strlen(names);
		if (unknown <= 4)
			snprintf(names + used, sizeof names - used, "%s'%s'", unknown > 1 ? ", " : "", one);
		else if (unknown == 5)
			snprintf(names + used, sizeof names - used, ", ...");
	}
	if (!unknown)
		return 0;
	size_t used = 0;
	for (const char *p = allowed; *p && used + 3 < sizeof list; p++) {
		if (*p == ' ') {
			list[used++] = ',';
			list[used++] = ' ';
		} else {
			list[used++] = *p;
		}
	}
	list[used] = '\0';
	return cj_error_set(CJ_EINVAL, first, "unknown query parameter%s %s (%s takes %s)",
	                    unknown > 1 ? "s" : "", names, route, list);
}

/* A sequence number: decimal digits only, 0 to INT64_MAX. */
static int parse_seq(uint64_t *out, const char *v)
{
	if (!v || !*v || strlen(v) > 19)
		return -1;
	for (const char *p = v; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	unsigned long long x = strtoull(v, NULL, 10);
	if (errno || x > CJH_FEED_MAX_SEQ)
		return -1;
	*out = x;
	return 0;
}

/* type=a,b: every name must be a known event type. */
static int add_types(uint64_t *types, const char *v)
{
	if (!*v)
		return cj_error_set(CJ_EINVAL, "type", "parameter 'type' is empty (give event types, "
		                    "comma-separated)");
	const char *p = v;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char name[64], show[64];
		if (len == 0 || len >= sizeof name) {
			shown(show, v);
			return cj_error_set(CJ_EINVAL, "type", "parameter 'type': '%s' is not a list of "
			                    "event types", show);
		}
		memcpy(name, p, len);
		name[len] = '\0';
		cj_event_type t = cj_event_type_from_name(name);
		if (t == CJ_EVENT_UNKNOWN || (unsigned)t >= 64) {
			shown(show, name);
			return cj_error_set(CJ_EINVAL, "type", "parameter 'type': unknown event type '%s'",
			                    show);
		}
		*types |= (uint64_t)1 << (unsigned)t;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int add_thread(cjh_feed_args *a, const char *v)
{
	size_t len = strlen(v);
	if (!len)
		return cj_error_set(CJ_EINVAL, "thread", "parameter 'thread' is empty");
	if (cj_utf8_check(v, len) != len)
		return cj_error_set(CJ_EINVAL, "thread", "parameter 'thread' is not valid UTF-8");
	if (a->nthreads >= CJH_FEED_MAX_THREADS)
		return cj_error_set(CJ_EINVAL, "thread", "parameter 'thread' given more than %u times",
		                    CJH_FEED_MAX_THREADS);
	for (size_t i = 0; i < a->nthreads; i++)
		if (!strcmp(a->threads[i], v))
			return 0;
	if (!a->threads && !(a->threads = calloc(CJH_FEED_MAX_THREADS, sizeof *a->threads)))
		return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	if (!(a->threads[a->nthreads] = strdup(v)))
		return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	a->nthreads++;
	return 0;
}

static int parse_one(cjh_feed_args *a, const cjh_kv *kv, int *seen_after, int *seen_limit)
{
	const char *k = kv->key, *v = kv->value;
	if (!v)
		return cj_error_set(CJ_EINVAL, k, "parameter '%s' needs a value ('%s=...')", k, k);
	if (!strcmp(k, "after")) {
		if ((*seen_after)++)
			return cj_error_set(CJ_EINVAL, k, "parameter 'after' is given twice");
		if (parse_seq(&a->after, v))
			return cj_error_set(CJ_EINVAL, k, "parameter 'after' must be a sequence number, "
			                    "an integer from 0 to %llu", (unsigned long long)CJH_FEED_MAX_SEQ);
		return 0;
	}
	if (!strcmp(k, "limit")) {
		uint64_t x;
		if ((*seen_limit)++)
			return cj_error_set(CJ_EINVAL, k, "parameter 'limit' is given twice");
		if (parse_seq(&x, v) || x < 1 || x > CJH_FEED_MAX_LIMIT)
			return cj_error_set(CJ_EINVAL, k, "parameter 'limit' must be an integer from 1 to %u",
			                    CJH_FEED_MAX_LIMIT);
		a->limit = (unsigned)x;
		return 0;
	}
	if (!strcmp(k, "type"))
		return add_types(&a->types, v);
	return add_thread(a, v); /* the only other name cjh_args_known let through */
}

int cjh_feed_args_parse(cjh_feed_args *out, enum cjh_feed_kind kind, const cjh_kv *kv, size_t n,
                        size_t ntotal, const char *last_event_id)
{
	memset(out, 0, sizeof *out);
	out->limit = CJH_FEED_DEFAULT_LIMIT;
	if (ntotal > CJH_FEED_MAX_ARGS)
		return cj_error_set(CJ_EINVAL, NULL, "too many query parameters (%zu; at most %u)",
		                    ntotal, CJH_FEED_MAX_ARGS);
	int rc = kind == CJH_FEED_STREAM
	         ? cjh_args_known(kv, n, CJH_FEED_STREAM_PARAMS, "GET /v1/events/stream")
	         : cjh_args_known(kv, n, CJH_FEED_PAGE_PARAMS, "GET /v1/events");
	int seen_after = 0, seen_limit = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = parse_one(out, &kv[i], &seen_after, &seen_limit);
	if (!rc && kind == CJH_FEED_STREAM && last_event_id && *last_event_id) {
		if (parse_seq(&out->after, last_event_id))
			rc = cj_error_set(CJ_EINVAL, "Last-Event-ID", "header Last-Event-ID must be a "
			                  "sequence number (an 'id:' this stream sent), an integer from 0 to %llu",
			                  (unsigned long long)CJH_FEED_MAX_SEQ);
		else
			out->from_last_event_id = 1;
	}
	if (rc)
		cjh_feed_args_free(out);
	return rc;
}

void cjh_feed_args_free(cjh_feed_args *a)
{
	for (size_t i = 0; i < a->nthreads; i++)
		free(a->threads[i]);
	free(a->threads);
	a->threads = NULL;
	a->nthreads = 0;
}

int cjh_feed_match(const cjh_feed_args *a, cj_event_type type, const char *thread)
{
	if (a->types && ((unsigned)type >= 64 || !(a->types & ((uint64_t)1 << (unsigned)type))))
		return 0;
	if (!a->nthreads)
		return 1;
	if (!thread)
		return 0;
	for (size_t i = 0; i < a->nthreads; i++)
		if (!strcmp(a->threads[i], thread))
			return 1;
	return 0;
}
