/* api/http/reply.c — answering a request: JSON replies and errors, the one
 * mapping of CJ error codes to HTTP statuses, query arguments. */
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

enum MHD_Result cjh_reply(struct MHD_Connection *c, cjh_request *r, unsigned status,
                          const char *content_type, char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", content_type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (status == 503 || status == 429)
		MHD_add_response_header(resp, "Retry-After", "1");
	if (status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	enum MHD_Result res = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	r->status = (int)status;
	r->replied = 1;
	return res;
}

enum MHD_Result cjh_reply_json(struct MHD_Connection *c, cjh_request *r, unsigned status, char *json)
{
	if (!json)
		return cjh_reply_error(c, r, 500, "out of memory", NULL);
	return cjh_reply(c, r, status, "application/json", json, strlen(json));
}

enum MHD_Result cjh_reply_error(struct MHD_Connection *c, cjh_request *r, unsigned status,
                                const char *msg, const char *field)
{
	json_t *o = json_object();
	json_object_set_new(o, "error", json_string(msg && *msg ? msg : "error"));
	if (field)
		json_object_set_new(o, "field", json_string(field));
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return MHD_NO;
	return cjh_reply(c, r, status, "application/json", text, strlen(text));
}

enum MHD_Result cjh_reply_cj(struct MHD_Connection *c, cjh_request *r, int rc)
{
	return cjh_reply_error(c, r, cjh_status_for(rc), cj_error_last(), cj_error_field());
}

int cjh_arg_u64(struct MHD_Connection *c, cjh_request *r, const char *name, uint64_t max,
                uint64_t *out, enum MHD_Result *res)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
	if (!v)
		return 0;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (!*v || *end || errno || v[0] == '-' || x > max) {
		char msg[160];
		snprintf(msg, sizeof msg, "parameter '%s' must be an integer from 0 to %llu", name,
		         (unsigned long long)max);
		*res = cjh_reply_error(c, r, 400, msg, name);
		return -1;
	}
	*out = x;
	return 1;
}
