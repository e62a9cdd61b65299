/* api/http/server.c — `chatjournal serve`: libmicrohttpd with a thread per
 * connection (handlers block until an append is durable, and group commit
 * turns many blocked handlers into one fsync), bounded bodies, headers,
 * connections and waits; one JSON log line per request (never a body or a
 * token); on stop: no new connections, in-flight requests finish, stores close. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "service.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"

/* Wall-clock time as RFC 3339 UTC with milliseconds. */
static void now_text(char out[32])
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct tm tm;
	gmtime_r(&now.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", now.tv_nsec / 1000000L);
}

static void log_line(cjh_server *sv, const char *method, cjh_request *r, uint64_t end)
{
	char ts[32];
	now_text(ts);
	json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:f}", "ts", ts, "method", method ? method : "",
	                      "route", r->route ? r->route : "unknown", "status", r->status,
	                      "ms", (double)(end - r->t0) / 1e6);
	if (r->authed && sv->stores)
		json_object_set_new(o, "store", json_string(sv->stores[r->auth.store].name));
	if (r->events)
		json_object_set_new(o, "events", json_integer(r->events));
	char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (!text)
		return;
	if (sv->o.log) {
		sv->o.log(text, sv->o.log_arg);
	} else {
		pthread_mutex_lock(&sv->log_mu);
		fprintf(stderr, "%s\n", text);
		pthread_mutex_unlock(&sv->log_mu);
	}
	free(text);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	(void)c;
	(void)toe;
	cjh_server *sv = cls;
	cjh_request *r = *con_cls;
	if (!r)
		return;
	atomic_fetch_sub(&sv->inflight, 1);
	if (r->status > 0 && r->status < CJH_STATUS_MAX)
		atomic_fetch_add(&sv->m.status[r->status], 1);
	log_line(sv, r->method, r, cjh_now_ns());
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/* First call of a request: headers are in; decide its body limit. */
static enum MHD_Result begin(cjh_server *sv, struct MHD_Connection *c, const char *url,
                             const char *method, void **con_cls)
{
	cjh_request *r = calloc(1, sizeof *r);
	if (!r)
		return MHD_NO;
	atomic_fetch_add(&sv->inflight, 1);
	r->t0 = cjh_now_ns();
	snprintf(r->method, sizeof r->method, "%s", method);
	*con_cls = r;
	int blob = !strcmp(method, "PUT") && !strcmp(url, "/v1/blobs");
	r->limit = blob ? (size_t)64 << 20 : sv->o.max_body;
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > r->limit) {
		r->route = url;
		char msg[128];
		snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", r->limit);
		return cjh_reply_error(c, r, 413, msg, NULL);
	}
	return MHD_YES;
}

static int body_append(cjh_request *r, const char *p, size_t n)
{
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->len + n)
			cap *= 2;
		uint8_t *b = realloc(r->body, cap);
		if (!b)
			return -1;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, p, n);
	r->len += n;
	return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
	(void)version;
	cjh_server *sv = cls;
	cjh_request *r = *con_cls;
	if (!r)
		return begin(sv, c, url, method, con_cls);
	if (*upload_size) {
		if (!r->replied && !r->too_big) {
			if (r->len + *upload_size > r->limit || body_append(r, upload, *upload_size)) {
				r->too_big = 1;
				free(r->body);
				r->body = NULL;
				r->len = r->cap = 0;
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->replied)
		return MHD_YES;
	if (r->too_big) {
		char msg[128];
		snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", r->limit);
		return cjh_reply_error(c, r, 413, msg, NULL);
	}
	return cjh_route(sv, c, r, url, method);
}

/* ---- listening ---------------------------------------------------------- */

typedef struct listen_spec {
	struct sockaddr_storage addr;
	socklen_t len;
	int unix_fd;
	int v6;
	char text[300];
} listen_spec;

static int parse_listen(const char *spec, listen_spec *ls)
{
	memset(ls, 0, sizeof *ls);
	ls->unix_fd = -1;
	if (!strncmp(spec, "unix:", 5)) {
		const char *path = spec + 5;
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		if (!*path || strlen(path) >= sizeof un.sun_path)
			return cj_error_set(CJ_EINVAL, NULL, "listen: bad unix socket path '%s'", path);
		strcpy(un.sun_path, path);
		struct stat st;
		if (lstat(path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode))
				return cj_error_set(CJ_EEXIST, NULL, "listen: %s exists and is not a socket", path);
			unlink(path); /* a stale socket of an earlier run */
		}
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof un) != 0 || listen(fd, 128) != 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return cj_error_set(CJ_EIO, NULL, "listen: cannot bind %s: %s", path, strerror(e));
		}
		chmod(path, 0600);
		ls->unix_fd = fd;
		snprintf(ls->text, sizeof ls->text, "unix:%s", path);
		return 0;
	}
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec)
		return cj_error_set(CJ_EINVAL, NULL, "listen: expected HOST:PORT or unix:PATH, got '%s'", spec);
	size_t hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof host)
		return cj_error_set(CJ_EINVAL, NULL, "listen: host too long");
	memcpy(host, spec, hl);
	host[hl] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return cj_error_set(CJ_EINVAL, NULL, "listen: bad port in '%s'", spec);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;
	int g = getaddrinfo(host, colon + 1, &hints, &ai);
	if (g)
		return cj_error_set(CJ_EINVAL, NULL, "listen: cannot resolve '%s': %s", host, gai_strerror(g));
	memcpy(&ls->addr, ai->ai_addr, ai->ai_addrlen);
	ls->len = ai->ai_addrlen;
	ls->v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	return 0;
}

static void free_server(cjh_server *sv)
{
	for (size_t i = 0; i < sv->nstores; i++) {
		cj_store_close(sv->stores[i].s);
		cj_token_set_free(sv->stores[i].tokens);
	}
	free(sv->rates);
	free(sv->stores);
	pthread_mutex_destroy(&sv->rate_mu);
	pthread_mutex_destroy(&sv->log_mu);
}

static int open_stores(cjh_server *sv)
{
	sv->stores = calloc(sv->o.nstores, sizeof *sv->stores);
	if (!sv->stores)
		return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < sv->o.nstores; i++) {
		const char *p = sv->o.stores[i];
		int rc = cj_store_open(&sv->stores[i].s, p, NULL);
		if (rc)
			return rc;
		sv->nstores++;
		const char *base = strrchr(p, '/');
		snprintf(sv->stores[i].name, sizeof sv->stores[i].name, "%s", base && base[1] ? base + 1 : p);
		if ((rc = cj_token_set_open(&sv->stores[i].tokens, p)))
			return rc;
	}
	return 0;
}

static void defaults(cj_http_options *o)
{
	if (!o->listen) o->listen = DEFAULT_LISTEN;
	if (!o->max_body) o->max_body = (size_t)8 << 20;
	if (!o->max_batch) o->max_batch = 10000;
	if (!o->max_depth) o->max_depth = 64;
	if (!o->max_connections) o->max_connections = 256;
	if (!o->read_wait_ms) o->read_wait_ms = 5000;
}

int cj_http_serve(const cj_http_options *opts)
{
	if (!opts || opts->version != CJ_HTTP_OPTIONS_VERSION || !opts->nstores || !opts->stores)
		return cj_error_set(CJ_EINVAL, NULL, "serve: no store given (use CJ_HTTP_OPTIONS_INIT)");
	cjh_server *sv = calloc(1, sizeof *sv);
	if (!sv)
		return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	sv->o = *opts;
	defaults(&sv->o);
	pthread_mutex_init(&sv->log_mu, NULL);
	pthread_mutex_init(&sv->rate_mu, NULL);
	listen_spec ls;
	int rc = parse_listen(sv->o.listen, &ls);
	if (rc || (rc = open_stores(sv))) {
		if (ls.unix_fd >= 0)
			close(ls.unix_fd);
		free_server(sv);
		free(sv);
		return rc;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	                 MHD_USE_ITC | MHD_USE_POLL | (ls.v6 ? MHD_USE_IPv6 : 0);
	struct MHD_Daemon *d;
	if (ls.unix_fd >= 0)
		d = MHD_start_daemon(flags, 0, NULL, NULL, handle, sv,
		                     MHD_OPTION_LISTEN_SOCKET, ls.unix_fd,
		                     MHD_OPTION_NOTIFY_COMPLETED, completed, sv,
		                     MHD_OPTION_CONNECTION_LIMIT, sv->o.max_connections,
		                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 << 10,
		                     MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, 0, NULL, NULL, handle, sv,
		                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ls.addr,
		                     MHD_OPTION_NOTIFY_COMPLETED, completed, sv,
		                     MHD_OPTION_CONNECTION_LIMIT, sv->o.max_connections,
		                     MHD_OPTION_PER_IP_CONNECTION_LIMIT, sv->o.max_connections,
		                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 << 10,
		                     MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		                     MHD_OPTION_END);
	if (!d) {
		rc = cj_error_set(CJ_EIO, NULL, "serve: cannot listen on %s (address in use?)", sv->o.listen);
		if (ls.unix_fd >= 0)
			close(ls.unix_fd);
		free_server(sv);
		free(sv);
		return rc;
	}
	if (ls.unix_fd < 0) {
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
		char host[256] = "";
		const char *colon = strrchr(sv->o.listen, ':');
		snprintf(host, sizeof host, "%.*s", (int)(colon - sv->o.listen), sv->o.listen);
		snprintf(ls.text, sizeof ls.text, "%s:%u", host, info ? info->port : 0);
	}
	if (sv->o.ready)
		sv->o.ready(ls.text, sv->o.ready_arg);
	while (!(sv->o.stop && *sv->o.stop)) {
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);
	}
	/* Graceful stop. First no new connections. Then wait (bounded) until
	 * every request in progress has been answered: MHD_stop_daemon shuts each
	 * connection's socket before it joins the connection's thread, so without
	 * this wait an append that became durable could lose its reply. */
	MHD_socket lfd = MHD_quiesce_daemon(d);
	uint64_t give_up = cjh_now_ns() + 30ull * 1000000000ull;
	while (atomic_load(&sv->inflight) > 0 && cjh_now_ns() < give_up) {
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(d);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	if (ls.unix_fd >= 0 && !strncmp(sv->o.listen, "unix:", 5))
		unlink(sv->o.listen + 5);
	free_server(sv);
	free(sv);
	return 0;
}
