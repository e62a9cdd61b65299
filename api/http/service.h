/* api/http/service.h — shared pieces of the HTTP service: the server, a
 * request, replies, and the one CJ-code -> HTTP-status mapping. The service
 * is its own library and uses only the public API (include/chatjournal/):
 * the build gives it no other include path. */
#ifndef CJ_HTTP_SERVICE_H
#define CJ_HTTP_SERVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <microhttpd.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/http.h"

typedef struct cjh_store {
	cj_store *s;
	cj_token_set *tokens;
	char name[256];
} cjh_store;

/* A token's request budget (rate_per_token), found by token id. */
typedef struct cjh_rate {
	size_t store;
	char id[CJ_TOKEN_ID_LEN + 1];
	double tokens;
	uint64_t last_ns;
} cjh_rate;

/* The token a request authenticated with. */
typedef struct cjh_auth {
	size_t store;          /* index in cjh_server.stores */
	cj_token_grant grant;
} cjh_auth;

static inline uint64_t cjh_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define CJH_LAT_BUCKETS 10
#define CJH_BATCH_BUCKETS 5
#define CJH_STATUS_MAX 600

typedef struct cjh_metrics {
	_Atomic uint64_t status[CJH_STATUS_MAX];
	_Atomic uint64_t appended_events, append_requests;
	_Atomic uint64_t batch_le[CJH_BATCH_BUCKETS + 1];    /* cumulative at scrape */
	_Atomic uint64_t lat_le[CJH_LAT_BUCKETS + 1];
	_Atomic uint64_t lat_sum_us;
} cjh_metrics;

typedef struct cjh_server {
	cj_http_options o;
	cjh_store *stores;
	size_t nstores;
	pthread_mutex_t rate_mu;
	cjh_rate *rates;      /* one per token seen (tokens are few) */
	size_t nrates;
	cjh_metrics m;
	pthread_mutex_t log_mu;
	_Atomic long inflight;   /* requests begun and not yet completed */
} cjh_server;

typedef struct cjh_request {
	uint8_t *body;
	size_t len, cap;
	size_t limit;
	int too_big;
	int replied;           /* a reply was queued before the body ended */
	uint64_t t0;
	int authed;            /* auth is valid */
	cjh_auth auth;
	const char *route;     /* pattern, for logs and metrics */
	char method[16];
	long events;           /* events appended, for the log line */
	int status;
} cjh_request;

/* Replies (take ownership of body; set r->status). */
enum MHD_Result cjh_reply(struct MHD_Connection *c, cjh_request *r, unsigned status,
                          const char *content_type, char *body, size_t len);
enum MHD_Result cjh_reply_json(struct MHD_Connection *c, cjh_request *r, unsigned status, char *json);
enum MHD_Result cjh_reply_error(struct MHD_Connection *c, cjh_request *r, unsigned status,
                                const char *msg, const char *field);
/* Reply with the status for a CJ error code and the thread's error message. */
enum MHD_Result cjh_reply_cj(struct MHD_Connection *c, cjh_request *r, int rc);
/* The one mapping of CJ codes to HTTP statuses. */
unsigned cjh_status_for(int rc);

/* Query argument as an unsigned integer: 0 absent (value untouched), 1 ok,
 * -1 malformed (an error reply was queued). */
int cjh_arg_u64(struct MHD_Connection *c, cjh_request *r, const char *name, uint64_t max,
                uint64_t *out, enum MHD_Result *res);

/* Replies (reply.c), route handlers (routes.c). */
enum MHD_Result cjh_route(cjh_server *sv, struct MHD_Connection *c, cjh_request *r,
                          const char *url, const char *method);
/* Prometheus text (metrics.c). */
char *cjh_metrics_text(cjh_server *sv);
void cjh_metrics_append(cjh_metrics *m, size_t events, uint64_t us);

#endif
