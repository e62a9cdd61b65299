/* api/http/server.h — shared pieces of the HTTP service: the server, a
 * request, replies, and the one CJ-code -> HTTP-status mapping. The service
 * uses only the public API (include/chatjournal/) plus common helpers. */
#ifndef CJ_HTTP_SERVER_H
#define CJ_HTTP_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <microhttpd.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/http.h"
#include "api/http/tokens.h"
#include "common/buf.h"

typedef struct cjh_store {
	cj_store *s;
	char name[256];
} cjh_store;

typedef struct cjh_rate {
	pthread_mutex_t mu;
	double tokens;
	uint64_t last_ns;
} cjh_rate;

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
	cjh_token *toks;
	size_t ntoks;
	cjh_rate *rates;      /* one per token */
	cjh_metrics m;
	pthread_mutex_t log_mu;
	_Atomic long inflight;   /* requests begun and not yet completed */
} cjh_server;

typedef struct cjh_request {
	cji_buf body;
	size_t limit;
	int too_big;
	int replied;           /* a reply was queued before the body ended */
	uint64_t t0;
	const cjh_token *tok;
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

/* Route handlers (routes.c). */
enum MHD_Result cjh_route(cjh_server *sv, struct MHD_Connection *c, cjh_request *r,
                          const char *url, const char *method);
/* Prometheus text (metrics.c). */
char *cjh_metrics_text(cjh_server *sv);
void cjh_metrics_append(cjh_metrics *m, size_t events, uint64_t us);

#endif
