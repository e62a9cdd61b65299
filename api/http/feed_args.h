/* api/http/feed_args.h — the change feed's inputs (GET /v1/events and
 * GET /v1/events/stream): the query parameters and the Last-Event-ID
 * header, parsed from the strings libmicrohttpd decoded, with no
 * libmicrohttpd of their own (tests/fuzz/fuzz_feed_args.c compiles this
 * file in). Every refusal is CJ_EINVAL through cj_error_set, naming the
 * parameter in the message and as the field (docs/http.md, "Change feed"). */
#ifndef CJ_HTTP_FEED_ARGS_H
#define CJ_HTTP_FEED_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include "chatjournal/event.h"

#define CJH_FEED_DEFAULT_LIMIT 100u
#define CJH_FEED_MAX_LIMIT     1000u
#define CJH_FEED_MAX_THREADS   64u     /* thread= given at most this often */
#define CJH_FEED_MAX_ARGS      64u     /* query parameters in all */
#define CJH_FEED_MAX_SEQ       ((uint64_t)INT64_MAX)

/* One query parameter as libmicrohttpd decoded it (value NULL: no '='). */
typedef struct cjh_kv {
	const char *key, *value;
} cjh_kv;

enum cjh_feed_kind { CJH_FEED_PAGE = 0, CJH_FEED_STREAM = 1 };

/* The query parameters each feed route takes, space-separated: the route
 * table (routes.c) and the parser below both use these. */
#define CJH_FEED_PAGE_PARAMS   "after limit type thread"
#define CJH_FEED_STREAM_PARAMS "after type thread"

typedef struct cjh_feed_args {
	uint64_t after;          /* events with a greater sequence number */
	unsigned limit;          /* page only */
	uint64_t types;          /* bit (1 << cj_event_type) per wanted type; 0: every type */
	char **threads;          /* owned copies; nthreads 0: every thread */
	size_t nthreads;
	int from_last_event_id;  /* after came from the Last-Event-ID header */
} cjh_feed_args;

/* Parse the n parameters of a request (ntotal: how many it had, which may
 * be more than were passed) and, for a stream, its Last-Event-ID header
 * (NULL or "": absent; it wins over after=). On success *out is filled
 * (free with cjh_feed_args_free); on CJ_EINVAL or CJ_ENOMEM it holds
 * nothing to free. */
int cjh_feed_args_parse(cjh_feed_args *out, enum cjh_feed_kind kind, const cjh_kv *kv, size_t n,
                        size_t ntotal, const char *last_event_id);
void cjh_feed_args_free(cjh_feed_args *a);

/* Does an event of this type, in this thread (NULL: it has none), pass the
 * filters? */
int cjh_feed_match(const cjh_feed_args *a, cj_event_type type, const char *thread);

/* The rule every route of the feed follows: a parameter the route does
 * not take is refused (400) and named, with the list it does take
 * (allowed: names separated by one space; route: its pattern, for the
 * message). */
int cjh_args_known(const cjh_kv *kv, size_t n, const char *allowed, const char *route);

#endif
