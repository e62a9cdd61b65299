/* api/http/reply.c — answering a request: replies are prepared into
 * r->reply on whatever thread ran the route (a worker, the event loop) and
 * queued by the event loop, the only thread that may touch libmicrohttpd's
 * response queue; the one mapping of CJ error codes to HTTP statuses;
 * query arguments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "service.h"

unsigned cjh_status_for(int rc)
{
	switch (rc) {
	case CJ_OK:        return 200;
	case CJ_EINVAL:    return 400;
	case CJ_ECORRUPT:  return 500;
	case CJ_ENOTFOUND: return 404;
	case CJ_ECONFLICT: return 409;
	case CJ_EEXIST:    return 409;
	case CJ_ETOOBIG:   return 413;
	case CJ_EBUSY:     return 503;
	case CJ_ECLOSED:   return 503;
	case CJ_ETIMEOUT:  return 503;
	case CJ_EFULL:     return 507;
	case CJ_ENOSPC:    return 507;
	case CJ_EPERM:     return 403;
	default:           return 500;
	}
}

void cjh_set_reply(cjh_request *r, unsigned status, const char *content_type, char *body, size_t len)
{
	free(r->reply.body);
	r->reply.status = status;
	r->reply.content_type = content_type;
	r->reply.body = body;
	r->reply.len = len;
}

void cjh_set_error(cjh_request *r, unsigned status, const char *msg, const char *field)
{
	json_t *o = json_object();
	json_object_set_new(o, "error", json_string(msg && *msg ? msg : "error"));
	if (field)
		json_object_set_new(o, "field", json_string(field));
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	/* Out of memory: an empty body still carries the status. */
	cjh_set_reply(r, status, "application/json", text, text ? strlen(text) : 0);
}

void cjh_set_link(cjh_request *r, char *url)
{
	free(r->reply.link);
	r->reply.link = url;
}

void cjh_set_json(cjh_request *r, unsigned status, char *json)
{
	if (!json) {
		cjh_set_error(r, 500, "out of memory", NULL);
		return;
	}
	cjh_set_reply(r, status, "application/json", json, strlen(json));
}

void cjh_set_cj(cjh_request *r, int rc)
{
	cjh_set_error(r, cjh_status_for(rc), cj_error_last(), cj_error_field());
}

enum MHD_Result cjh_queue(cjh_request *r)
{
	cjh_reply *p = &r->reply;
	if (!p->status)
		cjh_set_error(r, 500, "no reply was prepared", NULL);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(p->len, p->body ? p->body : (char *)"", p->body ?
		                                 MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	p->body = NULL; /* the response owns it */
	MHD_add_response_header(resp, "Content-Type", p->content_type ? p->content_type : "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Request-Id", r->request_id);
	if (p->link && p->status == 200) {
		size_t n = strlen(p->link) + 20;
		char *v = malloc(n);
		if (v) {
			snprintf(v, n, "<%s>; rel=\"next\"", p->link);
			MHD_add_response_header(resp, "Link", v);
			free(v);
		}
	}
	if (p->status == 503 || p->status == 429)
		MHD_add_response_header(resp, "Retry-After", "1");
	if (p->status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	if (atomic_load(&r->sv->stopping))
		MHD_add_response_header(resp, "Connection", "close");
	enum MHD_Result res = MHD_queue_response(r->c, p->status, resp);
	MHD_destroy_response(resp);
	r->status = (int)p->status;
	r->phase = CJH_DONE;
	return res;
}

void cjh_set_beyond_end(cjh_request *r, const char *field, uint64_t value, uint64_t last)
{
	char msg[200];
	snprintf(msg, sizeof msg, "%s %llu is beyond the journal's last sequence number %llu", field,
	         (unsigned long long)value, (unsigned long long)last);
	json_t *o = json_pack("{s:s,s:s,s:I}", "error", msg, "field", field, "last_seq",
	                      (json_int_t)last);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text)
		cjh_set_json(r, 400, text);
	else
		cjh_set_error(r, 400, msg, field);
}

typedef struct collect {
	cjh_kv *kv;
	size_t n, cap;
} collect;

static enum MHD_Result collect_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	(void)kind;
	collect *c = cls;
	if (c->n < c->cap)
		c->kv[c->n] = (cjh_kv){ key, value };
	c->n++;
	return MHD_YES;
}

size_t cjh_args_collect(cjh_request *r, cjh_kv *kv, size_t cap)
{
	collect c = { kv, 0, cap };
	MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, collect_one, &c);
	return c.n;
}

const char *cjh_arg(cjh_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}

int cjh_arg_u64(cjh_request *r, const char *name, uint64_t max, uint64_t *out)
{
	const char *v = cjh_arg(r, name);
	if (!v)
		return 0;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (!*v || *end || errno || v[0] == '-' || x > max) {
		char msg[160];
		snprintf(msg, sizeof msg, "parameter '%s' must be an integer from 0 to %llu", name,
		         (unsigned long long)max);
		cjh_set_error(r, 400, msg, name);
		return -1;
	}
	*out = x;
	return 1;
}
