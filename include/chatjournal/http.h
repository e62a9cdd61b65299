/* chatjournal/http.h — the HTTP/JSON service (`chatjournal serve`), in its
 * own library: link with `pkg-config --libs chatjournal-http` (libmicrohttpd
 * comes with it; the core library does not need it). docs/http.md documents
 * the routes; access tokens are in chatjournal/token.h.
 */
#ifndef CHATJOURNAL_HTTP_H
#define CHATJOURNAL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CJ_HTTP_OPTIONS_VERSION 1
typedef struct cj_http_options {
	unsigned version;             /* CJ_HTTP_OPTIONS_VERSION */
	const char *const *stores;    /* store paths; a request's token decides its store */
	size_t nstores;
	const char *listen;           /* "127.0.0.1:8080" (default), "[::1]:8080", "unix:/path" */
	size_t max_body;              /* bytes (default 8 MiB); blobs: the store's max_blob */
	unsigned max_batch;           /* events per POST (default 10000) */
	unsigned max_depth;           /* JSON nesting (default 64) */
	unsigned max_connections;     /* default 256 */
	unsigned rate_per_token;      /* requests/s per token (0: unlimited) */
	unsigned read_wait_ms;        /* longest min_seq wait (default 5000) */
	void (*log)(const char *line, void *arg); /* one JSON line per request; NULL: stderr */
	void *log_arg;
	volatile int *stop;           /* serve returns soon after *stop becomes non-zero */
	void (*ready)(const char *addr, void *arg); /* called once listening */
	void *ready_arg;
} cj_http_options;
#define CJ_HTTP_OPTIONS_INIT { CJ_HTTP_OPTIONS_VERSION, NULL, 0, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL }

/* Open the stores, listen, serve until *stop; then stop accepting, finish
 * in-flight requests, close the stores (every acknowledged append is durable
 * before its reply is sent). Errors: CJ_EINVAL (bad listen address), CJ_EIO
 * (cannot bind), any cj_store_open error. */
CJ_API int cj_http_serve(const cj_http_options *opts);

#ifdef __cplusplus
}
#endif
#endif
