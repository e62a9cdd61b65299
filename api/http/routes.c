/* api/http/routes.c — the routes of docs/http.md, in two halves. From the
 * head (on the event loop, before any body byte is read): the route, the
 * token (it decides the store), the rate, the permission and the body
 * limit of the route. Then, on a worker: the route itself. Reads are scoped
 * by the thread/user/server of the request, always as bound parameters
 * inside the library. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "service.h"
#include "body.h"
#include "chatjournal/export.h"

/* The route table (docs/http.md; docs/openapi.yaml describes the same
 * routes and parameters, and tests/http/test_openapi.py compares the two).
 * A GET route answers HEAD too. A query parameter not listed is refused
 * with 400 naming it, and so is a parameter given twice. */
const cjh_route cjh_routes[CJH_ROUTES] = {
	[CJH_R_UNKNOWN]       = { "unknown", NULL, "" },
	[CJH_R_HEALTHZ]       = { "/healthz", "GET", "" },
	[CJH_R_METRICS]       = { "/metrics", "GET", "" },
	[CJH_R_EVENTS]        = { "/v1/events", "POST", "" },
	[CJH_R_BLOB_PUT]      = { "/v1/blobs", "PUT", "" },
	[CJH_R_BLOB_GET]      = { "/v1/blobs/{hash}", "GET", "" },
	[CJH_R_STATS]         = { "/v1/stats", "GET", "" },
	[CJH_R_SEARCH]        = { "/v1/search", "GET",
	                          "q thread user server limit images rank min_seq" },
	[CJH_R_MESSAGES]      = { "/v1/threads/{thread}/messages", "GET",
	                          "limit before after user server min_seq format" },
	[CJH_R_IMAGES]        = { "/v1/threads/{thread}/images", "GET", "limit before after min_seq" },
	[CJH_R_CONFIG]        = { "/v1/threads/{thread}/config", "GET", "user min_seq" },
	[CJH_R_THREADS]       = { "/v1/threads", "GET", "user server limit after min_seq" },
	[CJH_R_THREAD]        = { "/v1/threads/{thread}", "GET", "min_seq" },
	[CJH_R_USER]          = { "/v1/users/{user}", "GET", "min_seq" },
	[CJH_R_USER_MESSAGES] = { "/v1/users/{user}/messages", "GET",
	                          "server limit before after min_seq" },
	[CJH_R_COSTS]         = { "/v1/costs", "GET", "user thread from to min_seq" },
	[CJH_R_METRIC_ROWS]   = { "/v1/metrics", "GET", "name since limit after min_seq" },
	[CJH_R_SETTINGS]      = { "/v1/settings", "GET", "category min_seq" },
	/* The change feed checks its own parameters (feed_args.c: type= and
	 * thread= may repeat); these lists are what it takes. */
	[CJH_R_FEED]          = { "/v1/events", "GET", CJH_FEED_PAGE_PARAMS },
	[CJH_R_STREAM]        = { "/v1/events/stream", "GET", CJH_FEED_STREAM_PARAMS },
};

/* Blobs larger than this are refused from the head when the store's conf
 * does not name its limits.max_blob (the library checks it again). */
#define BLOB_TRANSPORT_MAX ((size_t)64 << 20)

static const char *auth_token(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

/* The request budget of the token (found by id, created full), or NULL on
 * ENOMEM. Called with rate_mu held. */
static cjh_rate *rate_of(cjh_server *sv, const cjh_auth *a)
{
	for (size_t i = 0; i < sv->nrates; i++)
		if (sv->rates[i].store == a->store && !strcmp(sv->rates[i].id, a->grant.id))
			return &sv->rates[i];
	cjh_rate *n = realloc(sv->rates, (sv->nrates + 1) * sizeof *n);
	if (!n)
		return NULL;
	sv->rates = n;
	cjh_rate *b = &n[sv->nrates++];
	b->store = a->store;
	memcpy(b->id, a->grant.id, sizeof b->id);
	b->tokens = sv->o.rate_per_token;
	b->last_ns = cjh_now_ns();
	return b;
}

static int rate_ok(cjh_server *sv, const cjh_auth *a)
{
	if (!sv->o.rate_per_token)
		return 1;
	pthread_mutex_lock(&sv->rate_mu);
	cjh_rate *b = rate_of(sv, a);
	int ok = 0;
	if (b) {
		uint64_t now = cjh_now_ns();
		b->tokens += (double)(now - b->last_ns) / 1e9 * sv->o.rate_per_token;
		if (b->tokens > sv->o.rate_per_token)
			b->tokens = sv->o.rate_per_token;
		b->last_ns = now;
		ok = b->tokens >= 1.0;
		if (ok)
			b->tokens -= 1.0;
	}
	pthread_mutex_unlock(&sv->rate_mu);
	return ok;
}

/* The store the presented token grants: 1 (r->auth set), 0 (no store).
 * Each check follows the store's tokens file (cj_token_set re-reads it at
 * most every CJ_TOKEN_SET_RECHECK_MS), so a revocation takes effect while
 * serving. */
static int authenticate(cjh_server *sv, cjh_request *r, const char *token)
{
	for (size_t i = 0; i < sv->nstores; i++) {
		if (cj_token_set_check(&r->auth.grant, sv->stores[i].tokens, token) == 1) {
			r->auth.store = i;
			r->authed = 1;
			return 1;
		}
	}
	cj_error_clear();
	return 0;
}

static cj_store *store_of(cjh_request *r) { return r->sv->stores[r->auth.store].s; }

static unsigned fail(cjh_request *r, unsigned status, const char *msg)
{
	cjh_set_error(r, status, msg, NULL);
	return status;
}

/* Copy the id of length n into out (size cap): 0, or -1 if too long. */
static int take_id(char *out, size_t cap, const char *id, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(out, id, n);
	out[n] = '\0';
	return 0;
}

/* The route of a URL (no store needed): a route id, r->thread or r->user
 * for the routes that name one; -1 (thread) or -2 (user) when the id is
 * too long. An id may hold '/': only a known last segment ends it. */
static int match(cjh_request *r, const char *url)
{
	if (!strcmp(url, "/v1/events")) return CJH_R_EVENTS;
	if (!strcmp(url, "/v1/events/stream")) return CJH_R_STREAM;
	if (!strcmp(url, "/v1/blobs")) return CJH_R_BLOB_PUT;
	if (!strcmp(url, "/v1/stats")) return CJH_R_STATS;
	if (!strcmp(url, "/v1/search")) return CJH_R_SEARCH;
	if (!strcmp(url, "/metrics")) return CJH_R_METRICS;
	if (!strcmp(url, "/v1/threads")) return CJH_R_THREADS;
	if (!strcmp(url, "/v1/costs")) return CJH_R_COSTS;
	if (!strcmp(url, "/v1/metrics")) return CJH_R_METRIC_ROWS;
	if (!strcmp(url, "/v1/settings")) return CJH_R_SETTINGS;
	if (!strncmp(url, "/v1/blobs/", 10)) return CJH_R_BLOB_GET;
	if (!strncmp(url, "/v1/threads/", 12)) {
		const char *rest = url + 12, *slash = strrchr(rest, '/');
		int id = !slash || slash == rest ? CJH_R_UNKNOWN :
		         !strcmp(slash, "/messages") ? CJH_R_MESSAGES : !strcmp(slash, "/images") ?
		         CJH_R_IMAGES : !strcmp(slash, "/config") ? CJH_R_CONFIG : CJH_R_UNKNOWN;
		if (!id && !*rest)
			return CJH_R_UNKNOWN;
		size_t tl = id ? (size_t)(slash - rest) : strlen(rest);
		if (take_id(r->thread, sizeof r->thread, rest, tl))
			return -1;
		return id ? id : CJH_R_THREAD;
	}
	if (!strncmp(url, "/v1/users/", 10)) {
		const char *rest = url + 10, *slash = strrchr(rest, '/');
		int msgs = slash && slash != rest && !strcmp(slash, "/messages");
		if (!*rest)
			return CJH_R_UNKNOWN;
		if (take_id(r->user, sizeof r->user, rest, msgs ? (size_t)(slash - rest) : strlen(rest)))
			return -2;
		return msgs ? CJH_R_USER_MESSAGES : CJH_R_USER;
	}
	return CJH_R_UNKNOWN;
}

/* ---- query parameters: only the route's own, each at most once ---------- */

typedef struct param_check {
	const char *allowed;   /* space-separated */
	char bad[80];          /* the first parameter refused (printable, shortened) */
	int twice;             /* ... because it came twice */
	unsigned seen;         /* bit i: the i-th allowed parameter was seen */
} param_check;

/* The position of name among the space-separated words of list, or -1. */
static int word_index(const char *list, const char *name)
{
	size_t n = strlen(name);
	int i = 0;
	for (const char *p = list; *p; i++) {
		const char *e = strchr(p, ' ');
		size_t wl = e ? (size_t)(e - p) : strlen(p);
		if (wl == n && !memcmp(p, name, n))
			return i;
		p += wl;
		while (*p == ' ')
			p++;
	}
	return -1;
}

/* A parameter's name as the error shows it: printable ASCII, shortened. */
static void printable_name(char *out, size_t cap, const char *name)
{
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p && k + 4 < cap; p++)
		out[k++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
	if (strlen(name) > k && k + 4 >= cap)
		memcpy(out + k, "...", 3), k += 3;
	out[k] = '\0';
}

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	(void)kind;
	(void)value;
	param_check *pc = cls;
	int i = word_index(pc->allowed, key ? key : "");
	if (i >= 0 && !(pc->seen & (1u << i))) {
		pc->seen |= 1u << i;
		return MHD_YES;
	}
	pc->twice = i >= 0;
	printable_name(pc->bad, sizeof pc->bad, key ? key : "");
	return MHD_NO;
}

/* 0, or 400 with the reply set naming the first parameter the route does
 * not take (or one given twice). */
static unsigned check_params(cjh_request *r)
{
	param_check pc = { cjh_routes[r->route].params, "", 0, 0 };
	MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, check_param, &pc);
	if (!pc.bad[0] && !pc.twice)
		return 0;
	char msg[400];
	if (pc.twice)
		snprintf(msg, sizeof msg, "query parameter '%s' is given more than once", pc.bad);
	else
		snprintf(msg, sizeof msg, "unknown query parameter '%s' (%s takes: %s)", pc.bad,
		         cjh_routes[r->route].pattern,
		         *cjh_routes[r->route].params ? cjh_routes[r->route].params : "none");
	cjh_set_error(r, 400, msg, pc.bad);
	return 400;
}

unsigned cjh_route_head(cjh_request *r, const char *url, const char *method)
{
	cjh_server *sv = r->sv;
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	r->limit = 0;
	if (r->raw_nul_path)
		return fail(r, 404, "no such route"); /* "/v1/stats%00junk" is not /v1/stats */
	if (!strcmp(url, "/healthz")) {
		r->route = CJH_R_HEALTHZ;
		return get ? check_params(r) : fail(r, 405, "use GET");
	}
	int route = match(r, url);
	const char *tok = auth_token(r->c);
	if (!tok || !authenticate(sv, r, tok)) {
		atomic_fetch_add(&sv->sm.unauthenticated, 1);
		return fail(r, 401, tok ? "unknown or revoked token"
		                        : "missing 'Authorization: Bearer TOKEN' header");
	}
	if (!rate_ok(sv, &r->auth))
		return fail(r, 429, "too many requests for this token");
	if (route < 0) {
		const char *what = route == -1 ? "thread" : "user";
		cjh_set_error(r, 400, route == -1 ? "thread id too long" : "user id too long", what);
		return 400;
	}
	r->route = route;
	if (route == CJH_R_EVENTS && get) {
		r->route = CJH_R_FEED; /* the change feed, a page (any token of the store) */
		return 0;
	}
	if (route == CJH_R_STREAM) /* HEAD too: a stream has no end to measure */
		return strcmp(method, "GET") ? fail(r, 405, "use GET") : 0;
	if (route == CJH_R_EVENTS) {
		if (strcmp(method, "POST"))
			return fail(r, 405, "use POST to append, GET to read the change feed");
		if (!r->auth.grant.write)
			return fail(r, 403, "this token is read-only");
		const char *ct = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_TYPE);
		if (!ct || strncasecmp(ct, "application/json", 16) != 0)
			return fail(r, 415, "Content-Type must be application/json");
		r->limit = sv->o.max_body;
		return check_params(r);
	}
	if (route == CJH_R_BLOB_PUT) {
		if (strcmp(method, "PUT"))
			return fail(r, 405, "use PUT");
		if (!r->auth.grant.write)
			return fail(r, 403, "this token is read-only");
		size_t mb = sv->stores[r->auth.store].max_blob;
		r->limit = mb ? mb : BLOB_TRANSPORT_MAX;
		return check_params(r);
	}
	if (!get)
		return fail(r, 405, "method not allowed");
	if (route == CJH_R_UNKNOWN)
		return fail(r, 404, "no such route");
	return check_params(r);
}

/* ---- on a worker ---------------------------------------------------------- */

static void healthz(cjh_request *r)
{
	/* No token: the status and a reason that names no store and no figure
	 * (cj_health.reason); details are for a token of the store (/v1/stats,
	 * /metrics). */
	cjh_server *sv = r->sv;
	const char *reason = NULL;
	cj_health h;
	for (size_t i = 0; i < sv->nstores && !reason; i++) {
		if (cj_store_health(&h, sv->stores[i].s) != 0) {
			cj_error_clear();
			reason = "the store's health cannot be read";
		} else if (!h.ok) {
			reason = h.reason;
		}
	}
	json_t *o = reason ? json_pack("{s:s,s:s}", "status", "degraded", "reason", reason)
	                   : json_pack("{s:s}", "status", "ok");
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	cjh_set_json(r, reason ? 503 : 200, text);
}

static void post_events(cjh_request *r);

static void put_blob(cjh_request *r)
{
	char hash[CJ_BLOB_HASH_LEN + 1];
	int rc = cj_blob_put(hash, store_of(r), r->body ? r->body : (const uint8_t *)"", r->len);
	if (rc) {
		cjh_set_cj(r, rc);
		return;
	}
	json_t *o = json_pack("{s:s,s:I}", "blob", hash, "size", (json_int_t)r->len);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	cjh_set_json(r, 200, text);
}

static void get_blob(cjh_request *r)
{
	void *data;
	size_t len;
	int rc = cj_blob_get(&data, &len, store_of(r), r->url + 10);
	if (rc) {
		cjh_set_cj(r, rc);
		return;
	}
	cjh_set_reply(r, 200, cj_blob_mime_type(data, len), data, len);
}

/* The caller's store only: its health (with the detail) beside the figures. */
static void stats(cjh_request *r)
{
	char *out;
	int rc = cj_query_stats(&out, store_of(r));
	if (rc) {
		cjh_set_cj(r, rc);
		return;
	}
	json_t *o = json_loads(out, 0, NULL);
	cj_free(out);
	cj_health h;
	if (o && cj_store_health(&h, store_of(r)) == 0)
		json_object_set_new(o, "health", json_pack("{s:b,s:s,s:s}", "ok", h.ok, "reason", h.reason,
		                                           "detail", h.detail));
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	cjh_set_json(r, 200, text);
}

static void slow_query(cjh_request *r, uint64_t ns)
{
	cjh_server *sv = r->sv;
	if (sv->set.slow_query_ms < 0 || ns < (uint64_t)sv->set.slow_query_ms * 1000000u)
		return;
	atomic_fetch_add(&sv->stores[r->auth.store].m.slow_queries[r->route], 1);
	/* Route, scope and duration: never the search text, a body or a token. */
	json_t *scope = json_object();
	if (r->thread[0])
		json_object_set_new(scope, "thread", json_string(r->thread));
	if (r->user[0] && cj_utf8_check(r->user, strlen(r->user)) == strlen(r->user))
		json_object_set_new(scope, "user", json_string(r->user));
	const char *names[] = { "thread", "user", "server" };
	for (int i = r->thread[0] ? 1 : 0; i < 3; i++) {
		if (i == 1 && r->user[0])
			continue;
		const char *v = cjh_arg(r, names[i]);
		if (v && cj_utf8_check(v, strlen(v)) == strlen(v))
			json_object_set_new(scope, names[i], json_string(v));
	}
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:f}", "event", "slow_query", "request_id",
	                      r->request_id, "route", cjh_routes[r->route].pattern, "store",
	                      sv->stores[r->auth.store].name, "scope", scope, "ms", (double)ns / 1e6);
	char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (text)
		cjh_log_line(sv, text);
	free(text);
}

/* ---- the next page's URL (Link: <...>; rel="next") ------------------------ */

/* Percent-encode s (all but RFC 3986's unreserved characters) onto b. */
typedef struct url_buf {
	char *p;
	size_t len, cap;
	int oom;
} url_buf;

static void put_raw(url_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int put_enc(url_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p)) {
			put_raw(b, (const char *)p, 1);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			put_raw(b, e, 3);
		}
	}
	return b->oom;
}

typedef struct link_args {
	url_buf *b;
	int n;
} link_args;

/* Every parameter of the request but the paging ones and min_seq. */
static enum MHD_Result keep_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	(void)kind;
	link_args *la = cls;
	if (!key || !strcmp(key, "before") || !strcmp(key, "after") || !strcmp(key, "min_seq"))
		return MHD_YES;
	put_raw(la->b, la->n++ ? "&" : "?", 1);
	put_enc(la->b, key);
	if (value) {
		put_raw(la->b, "=", 1);
		put_enc(la->b, value);
	}
	return MHD_YES;
}

/* The URL of the page after p: this route's path, the request's parameters
 * (but before/after/min_seq), and the next page's before= or after=. */
static void set_next_link(cjh_request *r, const cj_page *p)
{
	if (!p->more)
		return;
	url_buf b = { NULL, 0, 0, 0 };
	const char *pat = cjh_routes[r->route].pattern;
	const char *brace = strchr(pat, '{');
	if (brace) { /* /v1/threads/{thread}/messages, /v1/users/{user}/messages */
		put_raw(&b, pat, (size_t)(brace - pat));
		put_enc(&b, r->route == CJH_R_USER_MESSAGES ? r->user : r->thread);
		put_raw(&b, strchr(brace, '}') + 1, strlen(strchr(brace, '}') + 1));
	} else {
		put_raw(&b, pat, strlen(pat));
	}
	link_args la = { &b, 0 };
	MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, keep_param, &la);
	char next[80];
	if (p->cursor[0])
		snprintf(next, sizeof next, "after=%s", p->cursor);
	else if (p->after)
		snprintf(next, sizeof next, "after=%llu", (unsigned long long)p->after);
	else
		snprintf(next, sizeof next, "before=%llu", (unsigned long long)p->before);
	put_raw(&b, la.n ? "&" : "?", 1);
	put_raw(&b, next, strlen(next));
	if (b.oom) {
		free(b.p);
		return; /* the page itself is still right; only the hint is missing */
	}
	cjh_set_link(r, b.p);
}

/* A time parameter: RFC 3339 or integer milliseconds. 0 absent (out
 * untouched), 1 ok, -1 malformed (an error reply was set). */
static int arg_time(cjh_request *r, const char *name, int64_t *out)
{
	const char *v = cjh_arg(r, name);
	if (!v)
		return 0;
	uint64_t ms;
	if (*v >= '0' && *v <= '9' && strspn(v, "0123456789") == strlen(v))
		return cjh_arg_u64(r, name, INT64_MAX, &ms) < 0 ? -1 : (*out = (int64_t)ms, 1);
	if (cj_time_parse(out, v) == 0)
		return 1;
	cj_error_clear();
	char msg[160];
	snprintf(msg, sizeof msg, "parameter '%s' must be an RFC 3339 time or integer milliseconds "
	         "since the epoch", name);
	cjh_set_error(r, 400, msg, name);
	return -1;
}

/* limit, before, after of a seq-paged read; 0, or -1 (reply set). */
static int seq_paging(cjh_request *r, unsigned *limit, uint64_t *before, uint64_t *after,
                      int *forward)
{
	uint64_t l = 0;
	if (cjh_arg_u64(r, "limit", 1000, &l) < 0 || cjh_arg_u64(r, "before", INT64_MAX, before) < 0 ||
	    cjh_arg_u64(r, "after", INT64_MAX, after) < 0)
		return -1;
	*limit = (unsigned)l;
	/* after=0 asks for the oldest page (paging forward from the start). */
	*forward = cjh_arg(r, "after") != NULL;
	return 0;
}

/* The read routes that take no search text: one library call each. rc is
 * the call's result; out and page what it answered. */
static int read_route(cjh_request *r, cj_store *s, char **out, cj_page *page, uint64_t *t0)
{
	switch (r->route) {
	case CJH_R_CONFIG:
		return cj_query_effective_config(out, s, r->thread, cjh_arg(r, "user"));
	case CJH_R_THREAD:
		return cj_query_thread(out, s, r->thread);
	case CJH_R_USER:
		return cj_query_user(out, s, r->user);
	case CJH_R_SETTINGS:
		return cj_query_settings(out, s, cjh_arg(r, "category"));
	case CJH_R_THREADS: {
		cj_threads_query q = CJ_THREADS_QUERY_INIT;
		uint64_t limit = 0;
		if (cjh_arg_u64(r, "limit", 1000, &limit) < 0)
			return 1;
		q.limit = (unsigned)limit;
		q.user = cjh_arg(r, "user");
		q.server = cjh_arg(r, "server");
		q.after = cjh_arg(r, "after");
		*t0 = cjh_now_ns();
		return cj_query_threads(out, page, s, &q);
	}
	case CJH_R_COSTS: {
		cj_costs_query q = CJ_COSTS_QUERY_INIT;
		if (arg_time(r, "from", &q.from_ms) < 0 || arg_time(r, "to", &q.to_ms) < 0)
			return 1;
		q.user = cjh_arg(r, "user");
		q.thread = cjh_arg(r, "thread");
		*t0 = cjh_now_ns();
		return cj_query_costs(out, s, &q);
	}
	case CJH_R_METRIC_ROWS: {
		cj_metrics_query q = CJ_METRICS_QUERY_INIT;
		uint64_t limit = 0;
		if (cjh_arg_u64(r, "limit", 1000, &limit) < 0 || arg_time(r, "since", &q.since_ms) < 0)
			return 1;
		q.limit = (unsigned)limit;
		q.name = cjh_arg(r, "name");
		q.after = cjh_arg(r, "after");
		*t0 = cjh_now_ns();
		return cj_query_metrics(out, page, s, &q);
	}
	case CJH_R_USER_MESSAGES: {
		cj_user_messages_query q = CJ_USER_MESSAGES_QUERY_INIT;
		if (seq_paging(r, &q.limit, &q.before, &q.after, &q.forward) < 0)
			return 1;
		q.user = r->user;
		q.server = cjh_arg(r, "server");
		*t0 = cjh_now_ns();
		return cj_query_user_messages(out, page, s, &q);
	}
	default: { /* a thread's messages or images */
		cj_history_query q = CJ_HISTORY_QUERY_INIT;
		q.thread = r->thread;
		/* format=openai (messages only: the route table refuses it on
		 * images): the same rows as the chat-completions messages array
		 * (cj_export_openai_messages, the export library's). */
		const char *format = cjh_arg(r, "format");
		if (format && strcmp(format, "openai")) {
			cjh_set_error(r, 400, "parameter 'format' must be 'openai' (or absent: message rows)",
			              "format");
			return 1;
		}
		if (seq_paging(r, &q.limit, &q.before, &q.after, &q.forward) < 0)
			return 1;
		q.user = cjh_arg(r, "user");
		q.server = cjh_arg(r, "server");
		*t0 = cjh_now_ns();
		if (r->route == CJH_R_IMAGES)
			return cj_query_images_page(out, page, s, &q);
		int rc = cj_query_history_page(out, page, s, &q);
		if (!rc && format) {
			char *rows = *out;
			*out = NULL;
			rc = cj_export_openai_messages(out, rows);
			cj_free(rows);
		}
		return rc;
	}
	}
}

static int search_route(cjh_request *r, cj_store *s, char **out, uint64_t *t0)
{
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	uint64_t limit = 0;
	if (cjh_arg_u64(r, "limit", 1000, &limit) < 0)
		return 1;
	q.limit = (unsigned)limit;
	q.text = cjh_arg(r, "q");
	if (!q.text) {
		cjh_set_error(r, 400, "parameter 'q' is required", "q");
		return 1;
	}
	q.thread = cjh_arg(r, "thread");
	q.user = cjh_arg(r, "user");
	q.server = cjh_arg(r, "server");
	const char *images = cjh_arg(r, "images");
	if (images && strcmp(images, "0") && strcmp(images, "1") && strcmp(images, "true") &&
	    strcmp(images, "false")) {
		cjh_set_error(r, 400, "parameter 'images' must be 1, 0, true or false", "images");
		return 1;
	}
	q.images = images && (!strcmp(images, "1") || !strcmp(images, "true"));
	const char *rank = cjh_arg(r, "rank");
	if (rank && strcmp(rank, "recent") && strcmp(rank, "relevance")) {
		cjh_set_error(r, 400, "parameter 'rank' must be 'recent' or 'relevance'", "rank");
		return 1;
	}
	q.rank = rank && !strcmp(rank, "relevance") ? CJ_RANK_RELEVANCE : CJ_RANK_RECENT;
	*t0 = cjh_now_ns();
	return cj_query_search(out, s, &q);
}

void cjh_route_query(cjh_request *r)
{
	cj_store *s = store_of(r);
	char *out = NULL;
	cj_page page;
	memset(&page, 0, sizeof page);
	uint64_t t0 = cjh_now_ns();
	/* 1: a parameter was refused (the reply is set); else the call's result */
	int rc = r->route == CJH_R_SEARCH ? search_route(r, s, &out, &t0)
	                                  : read_route(r, s, &out, &page, &t0);
	if (rc == 1)
		goto done;
	slow_query(r, cjh_now_ns() - t0);
	if (rc) {
		cjh_set_cj(r, rc); /* CJ_ECORRUPT: 500, "... run 'chatjournal replay'" */
	} else {
		cjh_set_json(r, 200, out);
		set_next_link(r, &page);
	}
done:
	cjh_finish(r);
}

void cjh_route_run(cjh_request *r)
{
	switch (r->route) {
	case CJH_R_HEALTHZ:
		healthz(r);
		break;
	case CJH_R_METRICS: {
		char *text = cjh_metrics_text(r->sv, r->auth.store);
		if (text)
			cjh_set_reply(r, 200, "text/plain; version=0.0.4", text, strlen(text));
		else
			cjh_set_error(r, 500, "out of memory", NULL);
		break;
	}
	case CJH_R_EVENTS:
		post_events(r);
		return; /* finishes itself, or resumes once the ticket is decided */
	case CJH_R_FEED:
		cjh_feed_page(r);
		return;
	case CJH_R_STREAM:
		cjh_feed_stream_start(r);
		return;
	case CJH_R_BLOB_PUT:
		put_blob(r);
		break;
	case CJH_R_BLOB_GET:
		get_blob(r);
		break;
	case CJH_R_STATS: {
		uint64_t t0 = cjh_now_ns();
		stats(r);
		slow_query(r, cjh_now_ns() - t0);
		break;
	}
	default: {
		int parked;
		if (cjh_wait_min_seq(r, &parked))
			cjh_route_query(r);
		else if (!parked)
			cjh_finish(r);
		return;
	}
	}
	cjh_finish(r);
}

/* ---- appends: parsed here, committed by the journal's writer while the
 * connection stays suspended; no thread waits for the commit. ---------- */

/* The journal's writer thread: the ticket is decided. Only a wake-up. */
static void ticket_decided(void *arg)
{
	cjh_request *r = arg;
	if (cjh_gate_pass(r))
		MHD_resume_connection(r->c);
}

static void post_events(cjh_request *r)
{
	cjh_server *sv = r->sv;
	cj_store *s = store_of(r);
	cj_event **evs;
	size_t n;
	int is_array;
	long bad;
	int rc = cjh_parse_events((const char *)r->body, r->len, cj_store_limits(s), sv->o.max_depth,
	                          sv->o.max_batch, &evs, &n, &is_array, &bad);
	cjh_body_release(r);
	if (rc) {
		cjh_set_cj(r, rc);
		cjh_finish(r);
		return;
	}
	r->nevents = n;
	r->is_array = is_array;
	r->phase = CJH_APPEND;
	atomic_store(&r->gate, 2);
	r->append_t0 = cjh_now_ns();
	cj_ticket *t;
	rc = cj_journal_submit_notify(&t, s, (const cj_event *const *)evs, n, ticket_decided, r);
	cj_events_free(evs, n);
	if (rc) {
		cjh_set_cj(r, rc);
		cjh_finish(r);
		return;
	}
	r->ticket = t;
	if (cjh_gate_pass(r))
		MHD_resume_connection(r->c);
}

/* On the event loop, after the ticket was decided: cj_ticket_wait returns
 * at once; freeing it may have to wait for the writer to finish telling the
 * other tickets of its commit, so a worker does that. */
void cjh_append_reply(cjh_request *r)
{
	cjh_server *sv = r->sv;
	size_t n = r->nevents;
	uint64_t *seqs = malloc(n * sizeof *seqs);
	cj_append_status *st = malloc(n * sizeof *st);
	int rc = seqs && st ? cj_ticket_wait(seqs, r->ticket) :
	         cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	/* Which events were repeats, and of events a deletion removed: reads
	 * the journal and the projection for repeats only (retries: rare). */
	if (!rc && cj_ticket_status(st, store_of(r), r->ticket) != 0) {
		memset(st, 0, n * sizeof *st); /* unknown: answer as for new events */
		cj_error_clear();
	}
	cjh_pool_free_ticket(sv->pool, r->ticket);
	r->ticket = NULL;
	if (rc) {
		free(seqs);
		free(st);
		cjh_set_cj(r, rc);
		return;
	}
	cjh_metrics_append(&sv->stores[r->auth.store].m, n, (cjh_now_ns() - r->append_t0) / 1000);
	r->events = (long)n;
	if (!r->is_array) {
		/* One event (the common bot request): no JSON tree for it. */
		char text[96];
		snprintf(text, sizeof text, "{\"seq\":%llu%s%s}", (unsigned long long)seqs[0],
		         st[0] != CJ_APPEND_NEW ? ",\"duplicate\":true" : "",
		         st[0] == CJ_APPEND_DUPLICATE_DELETED ? ",\"deleted\":true" : "");
		free(seqs);
		free(st);
		cjh_set_json(r, 200, strdup(text));
		return;
	}
	json_t *a = json_array(), *dup = json_array(), *del = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(a, json_integer((json_int_t)seqs[i]));
		if (st[i] != CJ_APPEND_NEW)
			json_array_append_new(dup, json_integer((json_int_t)i));
		if (st[i] == CJ_APPEND_DUPLICATE_DELETED)
			json_array_append_new(del, json_integer((json_int_t)i));
	}
	json_t *o = json_pack("{s:o,s:I}", "seqs", a, "last_seq", (json_int_t)seqs[n - 1]);
	json_object_set_new(o, "duplicates", dup);
	json_object_set_new(o, "deleted", del);
	if (!json_array_size(dup))
		json_object_del(o, "duplicates");
	if (!json_array_size(del))
		json_object_del(o, "deleted");
	free(seqs);
	free(st);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	cjh_set_json(r, 200, text);
}
