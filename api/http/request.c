/* api/http/request.c — a request's life cycle on libmicrohttpd's event
 * loop, which must never block:
 *
 *   request line  -> cjh_uri_logger: the request object, the raw URI checked
 *   head complete -> first cjh_handle call: framing, request id, client
 *                    address, route, token, rate, permission and the body's
 *                    limit, all before one body byte is read; an error is
 *                    queued at once and libmicrohttpd discards the body
 *   body          -> into a buffer bounded by the route's limit and by the
 *                    server-wide in-flight cap (http.max_inflight_body)
 *   body complete -> suspend; a worker runs the route (pool.c)
 *   resumed       -> queue the reply (an append's reply is built here from
 *                    its decided ticket)
 *   completed     -> log line, counters, memory back.
 *
 * One JSON log line per request: never a body, never a token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "service.h"

/* POST /v1/events bodies up to this size are parsed on the event loop
 * (docs/performance.md, "bench http": a worker hop per single-event append
 * cost throughput); larger ones go to a worker. */
#define CJH_INLINE_EVENTS ((size_t)8 << 10)

/* Wall-clock time as RFC 3339 UTC with milliseconds. The text up to the
 * second is kept per thread: it changes once a second, a log line is
 * written per request. */
static void now_text(char out[32])
{
	static _Thread_local time_t sec = -1;
	static _Thread_local char sec_text[24];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec != sec) {
		struct tm tm;
		gmtime_r(&now.tv_sec, &tm);
		if (!strftime(sec_text, sizeof sec_text, "%Y-%m-%dT%H:%M:%S", &tm))
			sec_text[0] = '\0';
		sec = now.tv_sec;
	}
	size_t n = strlen(sec_text);
	unsigned ms = (unsigned)(now.tv_nsec / 1000000L);
	memcpy(out, sec_text, n);
	out[n++] = '.';
	out[n++] = (char)('0' + ms / 100);
	out[n++] = (char)('0' + ms / 10 % 10);
	out[n++] = (char)('0' + ms % 10);
	out[n++] = 'Z';
	out[n] = '\0';
}

void cjh_log_line(cjh_server *sv, const char *text)
{
	if (sv->o.log) {
		sv->o.log(text, sv->o.log_arg);
	} else {
		pthread_mutex_lock(&sv->log_mu);
		fprintf(stderr, "%s\n", text);
		pthread_mutex_unlock(&sv->log_mu);
	}
}

/* After an snprintf of n bytes at b: where the text ends, never past
 * end - 1 (a cut line rather than an overrun). */
static char *moved(char *b, char *end, int n)
{
	return n < 0 ? b : n >= end - b ? end - 1 : b + n;
}

/* A JSON string into b (at most end - 1 bytes; cut short, never overrun):
 * quote, backslash and control bytes escaped. Log fields are short. */
static char *put_str(char *b, char *end, const char *key, const char *v)
{
	size_t k = strlen(key);
	if ((size_t)(end - b) < k + 16)
		return b;
	*b++ = ',';
	*b++ = '"';
	memcpy(b, key, k);
	b += k;
	memcpy(b, "\":\"", 3);
	b += 3;
	for (const unsigned char *p = (const unsigned char *)v; *p && end - b > 8; p++) {
		if (*p == '"' || *p == '\\') {
			*b++ = '\\';
			*b++ = (char)*p;
		} else if (*p < 0x20) {
			b = moved(b, end, snprintf(b, (size_t)(end - b), "\\u%04x", *p));
		} else {
			*b++ = (char)*p;
		}
	}
	if (end - b > 1)
		*b++ = '"';
	*b = '\0';
	return b;
}

/* One line per request, written by hand: it is built for every request
 * (bench http: jansson's pack and dump cost more than the rest of the
 * log line). */
static void log_request(cjh_server *sv, cjh_request *r, uint64_t end)
{
	char ts[32], line[1024], *e = line + sizeof line;
	now_text(ts);
	char *b = moved(line, e, snprintf(line, sizeof line, "{\"ts\":\"%s\"", ts));
	b = put_str(b, e, "request_id", r->request_id);
	b = put_str(b, e, "method", r->method);
	b = put_str(b, e, "route", cjh_routes[r->route].pattern);
	b = moved(b, e, snprintf(b, (size_t)(e - b), ",\"status\":%d,\"ms\":%.6g", r->status,
	                         (double)(end - r->t0) / 1e6));
	if (r->client[0])
		b = put_str(b, e, "client", r->client);
	if (r->authed)
		b = put_str(b, e, "store", sv->stores[r->auth.store].name);
	if (r->events)
		b = moved(b, e, snprintf(b, (size_t)(e - b), ",\"events\":%ld", r->events));
	if (r->phase == CJH_HEAD)
		b = put_str(b, e, "note", "ended before its head was complete, or refused by libmicrohttpd");
	if (e - b > 1)
		*b++ = '}';
	*b = '\0';
	cjh_log_line(sv, line);
}

int cjh_gate_pass(cjh_request *r)
{
	return atomic_fetch_sub(&r->gate, 1) == 1;
}

void cjh_finish(cjh_request *r)
{
	r->phase = CJH_READY;
	MHD_resume_connection(r->c);
}

/* Reserve n more bytes of the in-flight body cap: 1, or 0 over it. */
static int reserve(cjh_request *r, uint64_t n)
{
	cjh_server *sv = r->sv;
	uint64_t cur = atomic_load(&sv->body_bytes);
	do {
		if (cur + n > sv->set.max_inflight_body || cur + n < cur) {
			atomic_fetch_add(&sv->sm.body_cap_refused, 1);
			return 0;
		}
	} while (!atomic_compare_exchange_weak(&sv->body_bytes, &cur, cur + n));
	r->reserved += n;
	return 1;
}

void cjh_body_release(cjh_request *r)
{
	free(r->body);
	r->body = NULL;
	r->len = r->cap = 0;
	if (r->reserved) {
		atomic_fetch_sub(&r->sv->body_bytes, r->reserved);
		r->reserved = 0;
	}
}

void *cjh_uri_logger(void *cls, const char *uri, struct MHD_Connection *c)
{
	cjh_server *sv = cls;
	cjh_request *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->sv = sv;
	r->c = c;
	r->t0 = cjh_now_ns();
	r->phase = CJH_HEAD;
	/* The raw URI, before libmicrohttpd decodes it into a C string that
	 * would end at an encoded NUL. */
	r->raw_nul_path = cjh_raw_has_nul(uri, &r->raw_nul_query);
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	r->conn = ci ? ci->socket_context : NULL;
	atomic_fetch_add(&sv->inflight, 1);
	return r;
}

static enum MHD_Result refuse(cjh_request *r, unsigned status, const char *msg)
{
	cjh_set_error(r, status, msg, NULL);
	return cjh_queue(r);
}

/* The head is complete: decide everything a body would be read for. */
static enum MHD_Result head(cjh_server *sv, cjh_request *r, const char *url, const char *method)
{
	r->phase = CJH_BODY;
	cjh_conn_head_done(r->conn);
	snprintf(r->method, sizeof r->method, "%s", method);
	r->url = url;
	cjh_request_id(r);
	cjh_client_address(r);
	if (cjh_head_check(r))
		return cjh_queue(r);
	if (atomic_load(&sv->stopping))
		return refuse(r, 503, "the server is stopping");
	if (r->proxied) {
		if (!cjh_ip_take(sv, r->client))
			return refuse(r, 503, "too many requests in progress from this address");
		r->ip_held = 1;
	}
	if (cjh_route_head(r, url, method))
		return cjh_queue(r);
	const char *cl = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n = cl ? strtoull(cl, NULL, 10) : 0;
	if (n > r->limit) {
		char msg[128];
		snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", r->limit);
		return refuse(r, 413, msg);
	}
	if (n) {
		if (!reserve(r, n))
			return refuse(r, 503, "too many request bodies in flight; retry");
		if (!(r->body = malloc(n))) {
			cjh_body_release(r);
			return refuse(r, 503, "out of memory for the request body; retry");
		}
		r->cap = n;
	}
	return MHD_YES;
}

/* A piece of the body. Past a limit (only without Content-Length) the rest
 * is read and dropped, and the error is answered at the end. */
static void body_chunk(cjh_request *r, const char *p, size_t n)
{
	if (r->body_error)
		return;
	if (r->len + n > r->limit) {
		r->body_error = 413;
		cjh_body_release(r);
		return;
	}
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->len + n)
			cap *= 2;
		if (cap > r->limit)
			cap = r->limit;
		uint8_t *b = cap > r->reserved && !reserve(r, cap - r->reserved) ? NULL : realloc(r->body, cap);
		if (!b) {
			r->body_error = 503;
			cjh_body_release(r);
			return;
		}
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, p, n);
	r->len += n;
}

static enum MHD_Result body_done(cjh_server *sv, cjh_request *r)
{
	if (r->body_error == 413) {
		char msg[128];
		snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", r->limit);
		return refuse(r, 413, msg);
	}
	if (r->body_error)
		return refuse(r, 503, "too many request bodies in flight; retry");
	r->phase = CJH_WORK;
	r->step = cjh_route_run;
	atomic_fetch_add(&sv->suspended, 1);
	/* Suspend before anyone can resume. */
	MHD_suspend_connection(r->c);
	if (r->route == CJH_R_EVENTS && r->len <= CJH_INLINE_EVENTS) {
		/* A small append (one event, a few): parsing it here takes tens of
		 * microseconds, less than handing it to a worker and waking it;
		 * submitting never blocks. The commit is still waited for with
		 * the connection suspended. */
		cjh_route_run(r);
		return MHD_YES;
	}
	cjh_pool_push(sv->pool, r);
	return MHD_YES;
}

enum MHD_Result cjh_handle(void *cls, struct MHD_Connection *c, const char *url,
                           const char *method, const char *version, const char *upload,
                           size_t *upload_size, void **con_cls)
{
	(void)version;
	(void)c;
	cjh_server *sv = cls;
	cjh_request *r = *con_cls;
	if (!r)
		return MHD_NO; /* no memory for it at the request line */
	switch (r->phase) {
	case CJH_HEAD:
		return head(sv, r, url, method);
	case CJH_BODY:
		if (*upload_size) {
			body_chunk(r, upload, *upload_size);
			*upload_size = 0;
			return MHD_YES;
		}
		return body_done(sv, r);
	case CJH_APPEND:
		atomic_fetch_sub(&sv->suspended, 1);
		cjh_append_reply(r);
		return cjh_queue(r);
	case CJH_READY:
		atomic_fetch_sub(&sv->suspended, 1);
		return r->stream ? cjh_feed_stream_queue(r) : cjh_queue(r);
	default:
		return MHD_YES;
	}
}

void cjh_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                   enum MHD_RequestTerminationCode toe)
{
	(void)c;
	(void)toe;
	cjh_server *sv = cls;
	cjh_request *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	cjh_conn_rearm(sv, r->conn);
	if (r->phase == CJH_HEAD)
		atomic_fetch_add(&sv->sm.parser_refused, 1);
	if (r->authed && r->status > 0 && r->status < CJH_STATUS_MAX)
		atomic_fetch_add(&sv->stores[r->auth.store].m.status[r->status], 1);
	cjh_feed_stream_end(r);
	log_request(sv, r, cjh_now_ns());
	cjh_body_release(r);
	if (r->ip_held)
		cjh_ip_release(sv, r->client);
	free(r->reply.body);
	free(r->reply.link);
	free(r);
	atomic_fetch_sub(&sv->inflight, 1);
}
