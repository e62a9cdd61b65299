/* chatjournal/http.h — the HTTP/JSON service (`chatjournal serve`), in its
 * own library: link with `pkg-config --libs chatjournal-http` (libmicrohttpd
 * comes with it; the core library does not need it). docs/http.md documents
 * the routes and limits; access tokens are in chatjournal/token.h.
 */
#ifndef CHATJOURNAL_HTTP_H
#define CHATJOURNAL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults of the server-wide settings. Each is also an http.* key of
 * chatjournal.conf (docs/operations.md); an option below overrides it. */
#define CJ_HTTP_DEFAULT_MAX_INFLIGHT_BODY ((uint64_t)256 << 20) /* bytes of request bodies held at once */
#define CJ_HTTP_DEFAULT_HEAD_TIMEOUT_MS   10000u  /* a request head must be complete within this */
#define CJ_HTTP_DEFAULT_MAX_PER_IP        64u     /* connections (or proxied requests) per client address */
#define CJ_HTTP_DEFAULT_SLOW_QUERY_MS     100u    /* queries at least this slow are logged */
#define CJ_HTTP_DEFAULT_MAX_CONNECTIONS   4096u
#define CJ_HTTP_DEFAULT_STREAM_PING_MS    15000u  /* an idle change-feed stream gets a keep-alive */
#define CJ_HTTP_DEFAULT_STREAM_STALL_MS   10000u  /* a stream's consumer taking nothing this long is dropped */
#define CJ_HTTP_MAX_STREAM_STALL_MS       25000u  /* below libmicrohttpd's 30 s inactivity timeout;
                                                     the longest stream_ping_ms too */

#define CJ_HTTP_OPTIONS_VERSION 4
typedef struct cj_http_options {
	unsigned version;             /* CJ_HTTP_OPTIONS_VERSION */
	const char *const *stores;    /* store paths; a request's token decides its store */
	size_t nstores;
	const char *listen;           /* "127.0.0.1:8080" (default), "[::1]:8080", "unix:/path" */
	size_t max_body;              /* bytes (default 8 MiB); blobs: the store's max_blob */
	unsigned max_batch;           /* events per POST (default 10000) */
	unsigned max_depth;           /* JSON nesting (default 64) */
	unsigned max_connections;     /* default 4096 (bounded by RLIMIT_NOFILE) */
	unsigned rate_per_token;      /* requests/s per token (0: unlimited) */
	unsigned read_wait_ms;        /* longest min_seq wait (default 5000) */
	void (*log)(const char *line, void *arg); /* one JSON line per request; NULL: stderr */
	void *log_arg;
	volatile int *stop;           /* version 1 only; must be NULL from version 2 on (a plain
	                                 read of it races with the thread that sets it): use stop_fd */
	void (*ready)(const char *addr, void *arg); /* called once listening */
	void *ready_arg;
	/* version 2. A zero (NULL) field takes the stores' chatjournal.conf value
	 * (http.*; several stores: the strictest), else the default above. */
	int stop_fd;                  /* serve stops once this descriptor is readable (the read end
	                                 of a pipe the caller writes to, even from a signal handler;
	                                 an eventfd); -1: never (CJ_HTTP_OPTIONS_INIT) */
	uint64_t max_inflight_body;   /* request body bytes held at once, all requests; past it 503 */
	unsigned head_timeout_ms;     /* a request head not complete this long after the connection
	                                 opened (or its previous response) closes the connection */
	unsigned max_per_ip;          /* connections per client address (proxied: requests in progress) */
	int slow_query_ms;            /* log queries at least this slow; -1: conf/default
	                                 (CJ_HTTP_OPTIONS_INIT); 0: every query */
	const char *trusted_proxies;  /* comma-separated addresses or ADDRESS/PREFIX whose
	                                 X-Forwarded-For is believed; "" none */
	unsigned workers;             /* threads for blocking work (default 8 x cores, 4 to 16) */
	int skip_start_check;         /* 1: open stores without the projection check (quick_check);
	                                 0: the store's http.start_check (default: check) */
	/* version 3: each store's housekeeping (chatjournal/maintenance.h: retention,
	 * compaction, scheduled backups) on a thread of its own, in the process
	 * that materializes the store; lines about it go to log. Callers of
	 * versions 1 and 2 get none. */
	int no_maintenance;           /* 1: no housekeeping */
	int64_t backup_every_ms;      /* scheduled backups (0: none) */
	const char *backup_dir;       /* where backups go (NULL: STORE/backups); one store only */
	/* version 4: the change feed's streams (GET /v1/events/stream); 0: the
	 * CJ_HTTP_DEFAULT_STREAM_* value. */
	unsigned stream_ping_ms;      /* a stream with no frame for this long gets a keep-alive
	                                 (a ping, or a position frame); 10 to
	                                 CJ_HTTP_MAX_STREAM_STALL_MS */
	unsigned stream_stall_ms;     /* a stream whose consumer takes no byte for this long while
	                                 frames wait is ended with a resume frame; 10 to
	                                 CJ_HTTP_MAX_STREAM_STALL_MS */
} cj_http_options;
#define CJ_HTTP_OPTIONS_INIT { CJ_HTTP_OPTIONS_VERSION, NULL, 0, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL, \
                               NULL, NULL, NULL, -1, 0, 0, 0, -1, NULL, 0, 0, 0, 0, NULL, 0, 0 }

/* Open the stores, listen, serve until stop_fd is readable; then stop
 * accepting, answer requests in flight (an append once durable; a min_seq
 * wait with 503; a change-feed stream ends with a resume frame), close the
 * stores (every acknowledged append is durable
 * before its reply is sent). A version 1 struct (smaller) is still accepted.
 * Errors: CJ_EINVAL (bad options or listen address), CJ_EIO (cannot bind),
 * any cj_store_open error (CJ_ECORRUPT: a damaged projection, "run
 * 'chatjournal replay'"). */
CJ_API int cj_http_serve(const cj_http_options *opts);

#ifdef __cplusplus
}
#endif
#endif
