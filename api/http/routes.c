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

const char *const cjh_route_names[CJH_ROUTES] = {
	"unknown", "/healthz", "/metrics", "/v1/events", "/v1/blobs", "/v1/blobs/{hash}",
	"/v1/stats", "/v1/search", "/v1/threads/{thread}/messages", "/v1/threads/{thread}/images",
	"/v1/threads/{thread}/config", ""
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

/* The route of a URL (no store needed): a route id, r->thread for the
 * thread routes. */
static int match(cjh_request *r, const char *url)
{
	if (!strcmp(url, "/v1/events")) return CJH_R_EVENTS;
	if (!strcmp(url, "/v1/blobs")) return CJH_R_BLOB_PUT;
	if (!strcmp(url, "/v1/stats")) return CJH_R_STATS;
	if (!strcmp(url, "/v1/search")) return CJH_R_SEARCH;
	if (!strcmp(url, "/metrics")) return CJH_R_METRICS;
	if (!strncmp(url, "/v1/blobs/", 10)) return CJH_R_BLOB_GET;
	if (!strncmp(url, "/v1/threads/", 12)) {
		const char *rest = url + 12, *slash = strrchr(rest, '/');
		if (!slash || slash == rest)
			return CJH_R_UNKNOWN;
		int id = !strcmp(slash, "/messages") ? CJH_R_MESSAGES : !strcmp(slash, "/images") ?
		         CJH_R_IMAGES : !strcmp(slash, "/config") ? CJH_R_CONFIG : CJH_R_UNKNOWN;
		size_t tl = (size_t)(slash - rest);
		if (id && tl >= sizeof r->thread)
			return -1;
		if (id) {
			memcpy(r->thread, rest, tl);
			r->thread[tl] = '\0';
		}
		return id;
	}
	return CJH_R_UNKNOWN;
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
		return get ? 0 : fail(r, 405, "use GET");
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
		cjh_set_error(r, 400, "thread id too long", "thread");
		return 400;
	}
	r->route = route;
	if (route == CJH_R_EVENTS) {
		if (strcmp(method, "POST"))
			return fail(r, 405, "use POST");
		if (!r->auth.grant.write)
			return fail(r, 403, "this token is read-only");
		const char *ct = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_TYPE);
		if (!ct || strncasecmp(ct, "application/json", 16) != 0)
			return fail(r, 415, "Content-Type must be application/json");
		r->limit = sv->o.max_body;
		return 0;
	}
	if (route == CJH_R_BLOB_PUT) {
		if (strcmp(method, "PUT"))
			return fail(r, 405, "use PUT");
		if (!r->auth.grant.write)
			return fail(r, 403, "this token is read-only");
		size_t mb = sv->stores[r->auth.store].max_blob;
		r->limit = mb ? mb : BLOB_TRANSPORT_MAX;
		return 0;
	}
	if (!get)
		return fail(r, 405, "method not allowed");
	if (route == CJH_R_UNKNOWN)
		return fail(r, 404, "no such route");
	return 0;
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
	const char *names[] = { "thread", "user", "server" };
	for (int i = r->thread[0] ? 1 : 0; i < 3; i++) {
		const char *v = cjh_arg(r, names[i]);
		if (v && cj_utf8_check(v, strlen(v)) == strlen(v))
			json_object_set_new(scope, names[i], json_string(v));
	}
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:f}", "event", "slow_query", "request_id",
	                      r->request_id, "route", cjh_route_names[r->route], "store",
	                      sv->stores[r->auth.store].name, "scope", scope, "ms", (double)ns / 1e6);
	char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (text)
		cjh_log_line(sv, text);
	free(text);
}

void cjh_route_query(cjh_request *r)
{
	cj_store *s = store_of(r);
	char *out = NULL;
	int rc;
	uint64_t t0 = cjh_now_ns();
	if (r->route == CJH_R_CONFIG) {
		rc = cj_query_effective_config(&out, s, r->thread, cjh_arg(r, "user"));
	} else if (r->route == CJH_R_SEARCH) {
		cj_search_query q = CJ_SEARCH_QUERY_INIT;
		uint64_t limit = 0;
		if (cjh_arg_u64(r, "limit", 1000, &limit) < 0)
			goto done;
		q.limit = (unsigned)limit;
		q.text = cjh_arg(r, "q");
		if (!q.text) {
			cjh_set_error(r, 400, "parameter 'q' is required", "q");
			goto done;
		}
		q.thread = cjh_arg(r, "thread");
		q.user = cjh_arg(r, "user");
		q.server = cjh_arg(r, "server");
		const char *images = cjh_arg(r, "images");
		q.images = images && (!strcmp(images, "1") || !strcmp(images, "true"));
		const char *rank = cjh_arg(r, "rank");
		if (rank && strcmp(rank, "recent") && strcmp(rank, "relevance")) {
			cjh_set_error(r, 400, "parameter 'rank' must be 'recent' or 'relevance'", "rank");
			goto done;
		}
		q.rank = rank && !strcmp(rank, "relevance") ? CJ_RANK_RELEVANCE : CJ_RANK_RECENT;
		t0 = cjh_now_ns();
		rc = cj_query_search(&out, s, &q);
	} else {
		cj_history_query q = CJ_HISTORY_QUERY_INIT;
		uint64_t limit = 0;
		q.thread = r->thread;
		/* format=openai: the same rows as the chat-completions messages
		 * array (cj_export_openai_messages, the export library's). */
		const char *format = cjh_arg(r, "format");
		if (format && (r->route != CJH_R_MESSAGES || strcmp(format, "openai"))) {
			cjh_set_error(r, 400, r->route == CJH_R_MESSAGES ? "parameter 'format' must be "
			              "'openai' (or absent: message rows)" : "parameter 'format' applies to "
			              "/messages only", "format");
			goto done;
		}
		if (cjh_arg_u64(r, "limit", 1000, &limit) < 0 ||
		    cjh_arg_u64(r, "before", INT64_MAX, &q.before) < 0 ||
		    cjh_arg_u64(r, "after", INT64_MAX, &q.after) < 0)
			goto done;
		q.limit = (unsigned)limit;
		/* after=0 asks for the oldest page (paging forward from the start). */
		q.forward = cjh_arg(r, "after") != NULL;
		q.user = cjh_arg(r, "user");
		q.server = cjh_arg(r, "server");
		t0 = cjh_now_ns();
		rc = r->route == CJH_R_IMAGES ? cj_query_images(&out, s, &q) : cj_query_history(&out, s, &q);
		if (!rc && format) {
			char *rows = out;
			rc = cj_export_openai_messages(&out, rows);
			cj_free(rows);
		}
	}
	slow_query(r, cjh_now_ns() - t0);
	if (rc)
		cjh_set_cj(r, rc); /* CJ_ECORRUPT: 500, "... run 'chatjournal replay'" */
	else
		cjh_set_json(r, 200, out);
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
	json_t *o;
	if (r->is_array) {
		json_t *a = json_array(), *dup = json_array(), *del = json_array();
		for (size_t i = 0; i < n; i++) {
			json_array_append_new(a, json_integer((json_int_t)seqs[i]));
			if (st[i] != CJ_APPEND_NEW)
				json_array_append_new(dup, json_integer((json_int_t)i));
			if (st[i] == CJ_APPEND_DUPLICATE_DELETED)
				json_array_append_new(del, json_integer((json_int_t)i));
		}
		o = json_pack("{s:o,s:I}", "seqs", a, "last_seq", (json_int_t)seqs[n - 1]);
		json_object_set_new(o, "duplicates", dup);
		json_object_set_new(o, "deleted", del);
		if (!json_array_size(dup))
			json_object_del(o, "duplicates");
		if (!json_array_size(del))
			json_object_del(o, "deleted");
	} else {
		o = json_pack("{s:I}", "seq", (json_int_t)seqs[0]);
		if (st[0] != CJ_APPEND_NEW)
			json_object_set_new(o, "duplicate", json_true());
		if (st[0] == CJ_APPEND_DUPLICATE_DELETED)
			json_object_set_new(o, "deleted", json_true());
	}
	free(seqs);
	free(st);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	cjh_set_json(r, 200, text);
}
