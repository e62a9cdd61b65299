/* bench/loopback.h — what the HTTP benchmarks (http.c, feed.c) share: a
 * `serve` (cj_http_serve) on a thread of this process on 127.0.0.1:0, a
 * loopback connection, one request and its response, and the message
 * bodies they post. */
#ifndef CJB_LOOPBACK_H
#define CJB_LOOPBACK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "chatjournal/http.h"
#include "corpus.h" /* cjb_now_s */

typedef struct cjb_server {
	pthread_t th;
	const char *store;
	cj_http_options o;     /* filled by cjb_server_start; set extra fields in between */
	int stop_pipe[2];      /* serve stops once the write end is written */
	char addr[128];
	atomic_int ready;      /* release after addr is written: the main thread waits on it */
	int rc;
	int port;
} cjb_server;

/* Start serving store (sv->store) with the defaults plus whatever
 * configure (may be NULL) sets on the options; returns once it listens
 * (0) or failed (-1, message on stderr). */
int cjb_server_start(cjb_server *sv, void (*configure)(cj_http_options *o));
/* Stop it and wait; 0 or -1. */
int cjb_server_stop(cjb_server *sv);

/* A TCP connection to 127.0.0.1:port (TCP_NODELAY), or -1. */
int cjb_connect(int port);
/* Send one request, read one response with a Content-Length into resp
 * (cap bytes); returns the status or -1. */
int cjb_roundtrip(int fd, const char *req, size_t len, char *resp, size_t cap);
/* `batch` message events (a JSON array when batch > 1), ids base.. into
 * buf; returns the length. About 400 bytes per event suffice. */
size_t cjb_message_body(char *buf, size_t cap, unsigned batch, uint64_t base);

#endif
