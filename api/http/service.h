/* api/http/service.h — shared pieces of the HTTP service: the server, a
 * connection, a request, replies, and the one CJ-code -> HTTP-status
 * mapping. The service is its own library and uses only the public API
 * (include/chatjournal/): the build gives it no other include path.
 *
 * The connection model (docs/architecture.md, "The HTTP service"):
 * libmicrohttpd's epoll loops run every handler and never block; blocking
 * work (SQLite reads, parsing, appends, blobs) runs on a fixed pool of
 * workers while the connection is suspended; an append's ticket and a
 * min_seq watch resume it from the library's threads; a sweeper thread
 * closes connections whose request head is late and answers waits that
 * reached their deadline. */
#ifndef CJ_HTTP_SERVICE_H
#define CJ_HTTP_SERVICE_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <microhttpd.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/http.h"
#include "feed_args.h"

static inline uint64_t cjh_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The wall-clock time ns (< 1 s) from now, for pthread_cond_timedwait. */
static inline void cjh_deadline_ns(struct timespec *ts, long ns)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_nsec += ns;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

#define CJH_LAT_BUCKETS 10
#define CJH_BATCH_BUCKETS 5
#define CJH_STATUS_MAX 600
/* libmicrohttpd's memory pool per connection: the request head must fit
 * (431 beyond). See server.c. */
#define CJH_CONN_MEMORY ((size_t)16 << 10)

/* Routes (the table in routes.c: pattern, method, query parameters). */
enum cjh_route_id {
	CJH_R_UNKNOWN, CJH_R_HEALTHZ, CJH_R_METRICS, CJH_R_EVENTS, CJH_R_BLOB_PUT, CJH_R_BLOB_GET,
	CJH_R_STATS, CJH_R_SEARCH, CJH_R_MESSAGES, CJH_R_IMAGES, CJH_R_CONFIG,
	CJH_R_THREADS, CJH_R_THREAD, CJH_R_USER, CJH_R_USER_MESSAGES, CJH_R_COSTS, CJH_R_METRIC_ROWS,
	CJH_R_SETTINGS, CJH_R_FEED, CJH_R_STREAM,
	CJH_ROUTES
};
typedef struct cjh_route {
	const char *pattern;   /* "/v1/threads/{thread}/messages": logs, metrics, docs/openapi.yaml */
	const char *method;    /* "GET" (HEAD too), "POST", "PUT" */
	const char *params;    /* the query parameters it takes, space-separated; any other is 400 */
} cjh_route;
extern const cjh_route cjh_routes[CJH_ROUTES];

/* Counters of one store: only that store's tokens see them (/metrics). */
typedef struct cjh_metrics {
	_Atomic uint64_t status[CJH_STATUS_MAX];
	_Atomic uint64_t appended_events, append_requests;
	_Atomic uint64_t batch_le[CJH_BATCH_BUCKETS + 1];    /* cumulative at scrape */
	_Atomic uint64_t lat_le[CJH_LAT_BUCKETS + 1];
	_Atomic uint64_t lat_sum_us;
	_Atomic uint64_t slow_queries[CJH_ROUTES];
	/* the change feed (feed_page.c, feed_stream.c) */
	_Atomic long streams_open;
	_Atomic uint64_t stream_events, page_events, slow_consumers;
} cjh_metrics;

/* Counters of the server itself (no store in them). */
typedef struct cjh_server_metrics {
	_Atomic uint64_t head_timeouts;     /* connections closed: head not complete in time */
	_Atomic uint64_t per_ip_refused;    /* connections or proxied requests over the per-IP cap */
	_Atomic uint64_t body_cap_refused;  /* requests refused: in-flight body cap reached */
	_Atomic uint64_t unauthenticated;   /* requests without a valid token (401) */
	_Atomic uint64_t parser_refused;    /* requests libmicrohttpd refused or that ended early */
} cjh_server_metrics;

typedef struct cjh_hub cjh_hub;
typedef struct cjh_stream cjh_stream;

typedef struct cjh_store {
	cj_store *s;
	cjh_hub *hub;           /* the change feed's streams of this store (feed_hub.c) */
	cj_token_set *tokens;
	cj_maintenance *maint;  /* housekeeping (maint.c); NULL: none */
	struct cjh_server *sv;  /* the server (the housekeeping's log lines need it) */
	char name[256];
	size_t max_blob;       /* the conf's limits.max_blob (0: not named there) */
	cjh_metrics m;
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

/* One trusted proxy: an address and a prefix length. */
typedef struct cjh_net {
	int family;            /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
} cjh_net;

/* The server-wide settings in force (settings.c). */
typedef struct cjh_settings {
	uint64_t max_inflight_body;
	unsigned head_timeout_ms;
	unsigned max_per_ip;
	long slow_query_ms;
	cjh_net *proxies;
	size_t nproxies;
	unsigned workers;
	unsigned ping_ms;      /* an idle stream gets a keep-alive frame this often */
	unsigned stall_ms;     /* a stream whose consumer takes nothing this long is dropped */
	int differ;            /* the stores' http sections disagree */
} cjh_settings;

typedef struct cjh_request cjh_request;
typedef struct cjh_pool cjh_pool;
typedef struct cjh_conns cjh_conns;

typedef struct cjh_server {
	cj_http_options o;
	cjh_settings set;
	cjh_store *stores;
	size_t nstores;
	pthread_mutex_t rate_mu;
	cjh_rate *rates;      /* one per token seen (tokens are few) */
	size_t nrates;
	cjh_server_metrics sm;
	pthread_mutex_t log_mu;
	struct MHD_Daemon *d;
	unsigned loops;               /* libmicrohttpd event loops (MHD_OPTION_THREAD_POOL_SIZE) */
	cjh_pool *pool;
	cjh_conns *conns;
	_Atomic long inflight;        /* requests begun and not yet completed */
	_Atomic long suspended;       /* requests whose connection is suspended */
	_Atomic uint64_t body_bytes;  /* bytes reserved by request bodies (max_inflight_body) */
	_Atomic uint64_t next_id;     /* generated request ids */
	uint64_t id_salt;
	atomic_int stopping;          /* new requests get 503; waits end */
	/* min_seq waits with a deadline (wait.c), scanned by the sweeper. */
	pthread_mutex_t wait_mu;
	cjh_request *waiters;
} cjh_server;

/* A reply prepared off the event loop, queued by the handler on resume. */
typedef struct cjh_reply {
	unsigned status;
	const char *content_type;
	char *body;            /* owned */
	size_t len;
	char *link;            /* owned: a Link header's value (the next page), or NULL */
} cjh_reply;

enum cjh_phase {
	CJH_HEAD,      /* the request line is in; the head is not complete */
	CJH_BODY,      /* head checked; reading the body */
	CJH_WORK,      /* suspended: a worker runs it */
	CJH_APPEND,    /* suspended: its ticket is being committed */
	CJH_WAIT,      /* suspended: waiting for the projection (min_seq) */
	CJH_READY,     /* suspended: r->reply is ready; the handler queues it */
	CJH_DONE       /* a response was queued */
};

enum { CJH_WAITING = 0, CJH_FIRED = 1, CJH_TIMED_OUT = 2 };


typedef struct cjh_conn cjh_conn;

struct cjh_request {
	cjh_server *sv;
	struct MHD_Connection *c;
	cjh_conn *conn;
	enum cjh_phase phase;
	uint64_t t0;
	char method[16];
	char request_id[72];
	char client[64];       /* the client's address (X-Forwarded-For from a trusted proxy) */
	int raw_nul_path;      /* the raw path has %00: it names no route */
	int raw_nul_query;
	int proxied;           /* came through a trusted proxy (counted per client, per request) */
	int ip_held;
	const char *url;
	int route;
	char thread[1100];
	char user[1100];       /* the {user} of /v1/users/{user}[/messages] */
	int authed;
	cjh_auth auth;
	/* body */
	uint8_t *body;
	size_t len, cap, limit;
	uint64_t reserved;     /* bytes counted in sv->body_bytes */
	int body_error;        /* 413 or 503 found while reading: answered at the end */
	/* asynchronous steps */
	void (*step)(cjh_request *r);
	cjh_request *qnext;
	atomic_int gate;       /* two parties must arrive before the next step runs */
	cj_ticket *ticket;
	size_t nevents;
	int is_array;
	uint64_t append_t0;
	cj_watch *watch;
	uint64_t min_seq;
	atomic_int wait_state;
	uint64_t wait_deadline;
	cjh_request *wnext, *wprev;
	int in_waiters;
	cjh_reply reply;
	long events;
	int status;
	cjh_stream *stream;    /* GET /v1/events/stream once its response is queued */
};

/* ---- reply.c: replies are built into r->reply (any thread), queued by
 * the handler on the event loop. */
void cjh_set_reply(cjh_request *r, unsigned status, const char *content_type, char *body, size_t len);
void cjh_set_json(cjh_request *r, unsigned status, char *json);
void cjh_set_error(cjh_request *r, unsigned status, const char *msg, const char *field);
/* The reply's Link header: `<URL>; rel="next"` (takes url, malloc'd). */
void cjh_set_link(cjh_request *r, char *url);
/* The status for a CJ error code and the thread's error message. */
void cjh_set_cj(cjh_request *r, int rc);
/* The one mapping of CJ codes to HTTP statuses. */
unsigned cjh_status_for(int rc);
/* Queue r->reply on its connection (event loop only). */
enum MHD_Result cjh_queue(cjh_request *r);
/* Query argument as an unsigned integer: 0 absent (value untouched), 1 ok,
 * -1 malformed (an error reply was set). */
int cjh_arg_u64(cjh_request *r, const char *name, uint64_t max, uint64_t *out);
const char *cjh_arg(cjh_request *r, const char *name);
/* 400: a position (min_seq, after, Last-Event-ID: field) past the
 * journal's last sequence number, which the body carries as "last_seq". */
void cjh_set_beyond_end(cjh_request *r, const char *field, uint64_t value, uint64_t last);
/* The query parameters of r, in order: up to cap of them into kv (valid
 * while r's connection is); returns how many there are (may exceed cap). */
size_t cjh_args_collect(cjh_request *r, cjh_kv *kv, size_t cap);

/* ---- head.c: the request head, before any route runs. */
/* 0, or an HTTP status with an error reply set (smuggling, encodings). */
unsigned cjh_head_check(cjh_request *r);
/* Request id: the client's X-Request-Id if sane, else a new one. */
void cjh_request_id(cjh_request *r);
/* The client's address: the peer, or X-Forwarded-For's from a trusted proxy. */
void cjh_client_address(cjh_request *r);
/* 1 if the raw URI's path (before '?') has an encoded NUL. */
int cjh_raw_has_nul(const char *uri, int *in_query);
int cjh_addr_trusted(const cjh_settings *set, const struct sockaddr *sa);
int cjh_parse_net(cjh_net *out, const char *text);

/* ---- routes.c: matching from the head (event loop), running (workers). */
/* Decide route, store, permissions and body limit from the head; 0 to go
 * on (r->limit set), or a status with the reply set. */
unsigned cjh_route_head(cjh_request *r, const char *url, const char *method);
/* Worker step: run the route (may re-suspend for an append or a wait). */
void cjh_route_run(cjh_request *r);
/* Worker step: the query of a read route (after its min_seq wait). */
void cjh_route_query(cjh_request *r);
/* Event loop: an append's ticket is decided; build the reply. */
void cjh_append_reply(cjh_request *r);

/* ---- wait.c: min_seq waits on the projection. 1 go on, 0 r was parked
 * or answered (r->reply set and the caller must finish it). */
int cjh_wait_min_seq(cjh_request *r, int *parked);
void cjh_wait_sweep(cjh_server *sv, uint64_t now, int all);

/* ---- pool.c: the workers. */
int cjh_pool_start(cjh_pool **out, unsigned n);
void cjh_pool_push(cjh_pool *p, cjh_request *r);
/* Free a decided ticket on a worker (it may wait for the writer thread). */
void cjh_pool_free_ticket(cjh_pool *p, cj_ticket *t);
void cjh_pool_stop(cjh_pool *p);

/* ---- request.c: the life cycle. */
/* A worker's step is over: r->reply is ready; resume the connection. */
void cjh_finish(cjh_request *r);
/* Free the request body and its share of the in-flight body cap. */
void cjh_body_release(cjh_request *r);
/* A second party arrived at r's gate: 1 if it is the last one. */
int cjh_gate_pass(cjh_request *r);
void cjh_log_line(cjh_server *sv, const char *text);
void *cjh_uri_logger(void *cls, const char *uri, struct MHD_Connection *c);
enum MHD_Result cjh_handle(void *cls, struct MHD_Connection *c, const char *url,
                           const char *method, const char *version, const char *upload,
                           size_t *upload_size, void **con_cls);
void cjh_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                   enum MHD_RequestTerminationCode toe);

/* ---- conn.c: connections, per-IP caps, the head deadline, the sweeper. */
int cjh_conns_start(cjh_conns **out, cjh_server *sv);
void cjh_conns_stop(cjh_conns *cs);
enum MHD_Result cjh_accept_policy(void *cls, const struct sockaddr *addr, socklen_t len);
void cjh_notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe);
/* The request head is complete: the deadline no longer applies. */
void cjh_conn_head_done(cjh_conn *cn);
/* The response ended: the next head has its deadline from now. */
void cjh_conn_rearm(cjh_server *sv, cjh_conn *cn);
const char *cjh_conn_peer(const cjh_conn *cn);
int cjh_conn_from_proxy(const cjh_conn *cn);
/* Fix the socket's send buffer (the kernel then stops growing it on its
 * own; Linux keeps twice the value). Best effort. */
void cjh_conn_sndbuf(cjh_conn *cn, int bytes);
/* Shut the connection's socket down (at most once; libmicrohttpd then
 * closes it). cn must still be open (its request not completed). */
void cjh_conn_shutdown(cjh_server *sv, cjh_conn *cn);
/* Per client address count for proxied requests: 1 taken, 0 over the cap. */
int cjh_ip_take(cjh_server *sv, const char *ip);
void cjh_ip_release(cjh_server *sv, const char *ip);

/* ---- the change feed (docs/http.md, "Change feed").
 * feed_page.c: GET /v1/events on a worker. */
void cjh_feed_page(cjh_request *r);
/* feed_stream.c: GET /v1/events/stream. On a worker: check the request and
 * make r->stream (or set an error reply); cjh_finish follows either way. */
void cjh_feed_stream_start(cjh_request *r);
/* Event loop: queue the stream's response (its content comes from a
 * reader callback that suspends the connection while a worker fills it). */
enum MHD_Result cjh_feed_stream_queue(cjh_request *r);
/* Event loop, the request completed: the stream is gone. */
void cjh_feed_stream_end(cjh_request *r);
/* feed_hub.c: one hub per store, a notifier thread each (started with the
 * server, stopped after the daemon). */
int cjh_feed_start(cjh_server *sv);
void cjh_feed_stop(cjh_server *sv);
/* The sweeper: keep-alives due, stalled consumers, and (stopping) every
 * parked stream woken to end with a resume frame. */
void cjh_feed_sweep(cjh_server *sv, uint64_t now, int stopping);
/* At stop, once the grace is over: shut down the sockets of the streams
 * still open (consumers that take nothing, not even the resume frame). */
void cjh_feed_kill(cjh_server *sv);

/* ---- settings.c */
int cjh_settings_load(cjh_server *sv);
void cjh_settings_free(cjh_settings *set);
/* One JSON log line with the settings in force. */
void cjh_settings_log(cjh_server *sv);

/* maint.c: start each store's housekeeping (cj_maintenance) unless the
 * options turn it off; a store that cannot have it is logged, not fatal. */
void cjh_maintenance_start(cjh_server *sv);
/* Whether to run the projection check on a store before opening it. */
int cjh_start_check(const cj_http_options *o, const char *store);

/* ---- metrics.c */
char *cjh_metrics_text(cjh_server *sv, size_t store);
void cjh_metrics_append(cjh_metrics *m, size_t events, uint64_t us);

/* ---- listen.c */
typedef struct cjh_listen {
	struct sockaddr_storage addr;
	socklen_t len;
	int unix_fd;
	int v6;
	char text[300];
} cjh_listen;
int cjh_parse_listen(const char *spec, cjh_listen *ls);

#endif
