/* chatjournal/http.h — the HTTP/JSON service (`chatjournal serve`) and its
 * access tokens. docs/http.md documents the routes.
 *
 * Tokens: each store has its own tokens file, STORE/tokens.json (0600). A
 * token grants one store, read or read+write. Only a SHA-256 of each token is
 * stored; the token itself is shown once, by cj_token_add. Tokens look like
 * "cjt_<16 hex id>_<64 hex secret>".
 */
#ifndef CHATJOURNAL_HTTP_H
#define CHATJOURNAL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CJ_TOKEN_MAX 96

/* Create a token for the store at store_path; token_out gets it (NUL
 * terminated), shown to the user once. write: 1 read+write, 0 read-only.
 * label (may be NULL) is a note for `token list`. */
CJ_API int cj_token_add(const char *store_path, int write, const char *label,
                        char token_out[CJ_TOKEN_MAX]);
/* The tokens as a JSON array of {id, access, label, created, revoked}
 * (never the hash or the token). Free with cj_free. */
CJ_API int cj_token_list(const char *store_path, char **json_out);
/* Revoke by id (the 16 hex characters after "cjt_"). CJ_ENOTFOUND if unknown. */
CJ_API int cj_token_revoke(const char *store_path, const char *id);

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
