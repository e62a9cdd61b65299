/* api/http/routes.c — the routes of docs/http.md. Every route but
 * /healthz needs "Authorization: Bearer TOKEN"; the token decides the store,
 * and reads are further scoped by the thread/user/server in the request,
 * always as bound parameters inside the library. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "service.h"
#include "body.h"

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

/* The store the presented token grants: 1 (r->auth set), 0 (no store). */
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

static cj_store *store_of(cjh_server *sv, cjh_request *r) { return sv->stores[r->auth.store].s; }

static enum MHD_Result post_events(cjh_server *sv, struct MHD_Connection *c, cjh_request *r)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!ct || strncasecmp(ct, "application/json", 16) != 0)
		return cjh_reply_error(c, r, 415, "Content-Type must be application/json", NULL);
	cj_store *s = store_of(sv, r);
	cj_event **evs;
	size_t n;
	int is_array;
	long bad;
	int rc = cjh_parse_events((const char *)r->body, r->len, cj_store_limits(s),
	                          sv->o.max_depth, sv->o.max_batch, &evs, &n, &is_array, &bad);
	if (rc)
		return cjh_reply_cj(c, r, rc);
	uint64_t *seqs = malloc(n * sizeof *seqs);
	if (!seqs) {
		cj_events_free(evs, n);
		return cjh_reply_error(c, r, 500, "out of memory", NULL);
	}
	uint64_t t0 = cjh_now_ns();
	rc = cj_journal_append_batch(seqs, s, (const cj_event *const *)evs, n);
	cj_events_free(evs, n);
	if (rc) {
		free(seqs);
		return cjh_reply_cj(c, r, rc);
	}
	cjh_metrics_append(&sv->m, n, (cjh_now_ns() - t0) / 1000);
	r->events = (long)n;
	json_t *o;
	if (is_array) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_integer((json_int_t)seqs[i]));
		o = json_pack("{s:o,s:I}", "seqs", a, "last_seq", (json_int_t)seqs[n - 1]);
	} else {
		o = json_pack("{s:I}", "seq", (json_int_t)seqs[0]);
	}
	free(seqs);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return cjh_reply_json(c, r, 200, text);
}

/* min_seq: read-your-writes, bounded wait. 1 go on, 0 a reply was queued. */
static int wait_min_seq(cjh_server *sv, struct MHD_Connection *c, cjh_request *r, enum MHD_Result *res)
{
	uint64_t min_seq = 0;
	int a = cjh_arg_u64(c, r, "min_seq", INT64_MAX, &min_seq, res);
	if (a < 0)
		return 0;
	if (a == 0 || min_seq == 0)
		return 1;
	int rc = cj_wait_applied(store_of(sv, r), min_seq, (int)sv->o.read_wait_ms);
	if (rc) {
		*res = cjh_reply_cj(c, r, rc);
		return 0;
	}
	return 1;
}

static enum MHD_Result get_thread(cjh_server *sv, struct MHD_Connection *c, cjh_request *r,
                                  const char *thread, const char *what)
{
	enum MHD_Result res = MHD_YES;
	if (!wait_min_seq(sv, c, r, &res))
		return res;
	cj_store *s = store_of(sv, r);
	char *out = NULL;
	int rc;
	if (!strcmp(what, "config")) {
		r->route = "/v1/threads/{thread}/config";
		const char *user = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "user");
		rc = cj_query_effective_config(&out, s, thread, user);
	} else {
		int images = !strcmp(what, "images");
		r->route = images ? "/v1/threads/{thread}/images" : "/v1/threads/{thread}/messages";
		cj_history_query q = CJ_HISTORY_QUERY_INIT;
		uint64_t limit = 0;
		q.thread = thread;
		if (cjh_arg_u64(c, r, "limit", 1000, &limit, &res) < 0 ||
		    cjh_arg_u64(c, r, "before", INT64_MAX, &q.before, &res) < 0 ||
		    cjh_arg_u64(c, r, "after", INT64_MAX, &q.after, &res) < 0)
			return res;
		q.limit = (unsigned)limit;
		/* after=0 asks for the oldest page (paging forward from the start). */
		q.forward = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after") != NULL;
		q.user = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "user");
		q.server = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "server");
		rc = images ? cj_query_images(&out, s, &q) : cj_query_history(&out, s, &q);
	}
	if (rc)
		return cjh_reply_cj(c, r, rc);
	return cjh_reply_json(c, r, 200, out);
}

static enum MHD_Result get_search(cjh_server *sv, struct MHD_Connection *c, cjh_request *r)
{
	enum MHD_Result res = MHD_YES;
	if (!wait_min_seq(sv, c, r, &res))
		return res;
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	uint64_t limit = 0;
	if (cjh_arg_u64(c, r, "limit", 1000, &limit, &res) < 0)
		return res;
	q.limit = (unsigned)limit;
	q.text = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
	if (!q.text)
		return cjh_reply_error(c, r, 400, "parameter 'q' is required", "q");
	q.thread = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "thread");
	q.user = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "user");
	q.server = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "server");
	const char *images = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "images");
	q.images = images && (!strcmp(images, "1") || !strcmp(images, "true"));
	char *out;
	int rc = cj_query_search(&out, store_of(sv, r), &q);
	if (rc)
		return cjh_reply_cj(c, r, rc);
	return cjh_reply_json(c, r, 200, out);
}

static enum MHD_Result put_blob(cjh_server *sv, struct MHD_Connection *c, cjh_request *r)
{
	char hash[CJ_BLOB_HASH_LEN + 1];
	int rc = cj_blob_put(hash, store_of(sv, r), r->body ? r->body : (const uint8_t *)"", r->len);
	if (rc)
		return cjh_reply_cj(c, r, rc);
	json_t *o = json_pack("{s:s,s:I}", "blob", hash, "size", (json_int_t)r->len);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return cjh_reply_json(c, r, 200, text);
}

static enum MHD_Result get_blob(cjh_server *sv, struct MHD_Connection *c, cjh_request *r,
                                const char *hash)
{
	void *data;
	size_t len;
	int rc = cj_blob_get(&data, &len, store_of(sv, r), hash);
	if (rc)
		return cjh_reply_cj(c, r, rc);
	return cjh_reply(c, r, 200, cj_blob_mime_type(data, len), data, len);
}

static enum MHD_Result healthz(cjh_server *sv, struct MHD_Connection *c, cjh_request *r)
{
	json_t *arr = json_array();
	int ok = 1;
	for (size_t i = 0; i < sv->nstores; i++) {
		uint64_t last = 0, pos = 0;
		int jr = cj_journal_last_seq(&last, sv->stores[i].s);
		int pr = cj_projection_position(&pos, sv->stores[i].s);
		ok &= jr == 0 && pr == 0;
		json_array_append_new(arr, json_pack("{s:s,s:b,s:b,s:I}", "store", sv->stores[i].name,
		                                     "journal", jr == 0, "projection", pr == 0,
		                                     "lag", (json_int_t)(last > pos ? last - pos : 0)));
	}
	json_t *o = json_pack("{s:s,s:o}", "status", ok ? "ok" : "degraded", "stores", arr);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return cjh_reply_json(c, r, ok ? 200 : 503, text);
}

enum MHD_Result cjh_route(cjh_server *sv, struct MHD_Connection *c, cjh_request *r,
                          const char *url, const char *method)
{
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	if (!strcmp(url, "/healthz")) {
		r->route = "/healthz";
		return get ? healthz(sv, c, r) : cjh_reply_error(c, r, 405, "use GET", NULL);
	}
	r->route = "unknown";
	const char *tok = auth_token(c);
	if (!tok)
		return cjh_reply_error(c, r, 401, "missing 'Authorization: Bearer TOKEN' header", NULL);
	if (!authenticate(sv, r, tok))
		return cjh_reply_error(c, r, 401, "unknown or revoked token", NULL);
	if (!rate_ok(sv, &r->auth))
		return cjh_reply_error(c, r, 429, "too many requests for this token", NULL);
	if (!strcmp(url, "/v1/events")) {
		r->route = "/v1/events";
		if (strcmp(method, "POST"))
			return cjh_reply_error(c, r, 405, "use POST", NULL);
		if (!r->auth.grant.write)
			return cjh_reply_error(c, r, 403, "this token is read-only", NULL);
		return post_events(sv, c, r);
	}
	if (!strcmp(url, "/v1/blobs")) {
		r->route = "/v1/blobs";
		if (strcmp(method, "PUT"))
			return cjh_reply_error(c, r, 405, "use PUT", NULL);
		if (!r->auth.grant.write)
			return cjh_reply_error(c, r, 403, "this token is read-only", NULL);
		return put_blob(sv, c, r);
	}
	if (!get)
		return cjh_reply_error(c, r, 405, "method not allowed", NULL);
	if (!strcmp(url, "/v1/stats")) {
		r->route = "/v1/stats";
		char *out;
		int rc = cj_query_stats(&out, store_of(sv, r));
		return rc ? cjh_reply_cj(c, r, rc) : cjh_reply_json(c, r, 200, out);
	}
	if (!strcmp(url, "/v1/search")) {
		r->route = "/v1/search";
		return get_search(sv, c, r);
	}
	if (!strcmp(url, "/metrics")) {
		r->route = "/metrics";
		char *text = cjh_metrics_text(sv);
		if (!text)
			return cjh_reply_error(c, r, 500, "out of memory", NULL);
		return cjh_reply(c, r, 200, "text/plain; version=0.0.4", text, strlen(text));
	}
	if (!strncmp(url, "/v1/blobs/", 10)) {
		r->route = "/v1/blobs/{hash}";
		return get_blob(sv, c, r, url + 10);
	}
	if (!strncmp(url, "/v1/threads/", 12)) {
		const char *rest = url + 12, *slash = strrchr(rest, '/');
		if (slash && slash > rest && (!strcmp(slash, "/messages") || !strcmp(slash, "/images") ||
		                              !strcmp(slash, "/config"))) {
			char thread[1100];
			size_t tl = (size_t)(slash - rest);
			if (tl >= sizeof thread)
				return cjh_reply_error(c, r, 400, "thread id too long", "thread");
			memcpy(thread, rest, tl);
			thread[tl] = '\0';
			return get_thread(sv, c, r, thread, slash + 1);
		}
	}
	return cjh_reply_error(c, r, 404, "no such route", NULL);
}
