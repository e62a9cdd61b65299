/* api/http/server.c — cj_http_serve: options, stores, the daemon, the
 * graceful stop.
 *
 * libmicrohttpd runs epoll event loops (MHD_USE_EPOLL with internal
 * threads, one per core, at most two) with MHD_ALLOW_SUSPEND_RESUME:
 * handlers never block (request.c); blocking work goes to the workers
 * (pool.c); connections wait for commits and for the projection suspended
 * (routes.c, wait.c); the sweeper closes connections whose request head is
 * late (conn.c). A slow, idle or waiting client costs a connection slot and
 * a little memory, never a thread. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "service.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"
/* Descriptors kept for the stores (LMDB, SQLite readers), logs, the
 * daemon's own: the rest of RLIMIT_NOFILE may be connections. */
#define FD_RESERVE 128

/* A version 1 struct is the prefix up to stop_fd (as api/store.c's
 * check_opts does for cj_store_options). */
static int check_options(cj_http_options *out, const cj_http_options *in)
{
	static const cj_http_options defaults = CJ_HTTP_OPTIONS_INIT;
	static const size_t size_of[] = { 0, offsetof(cj_http_options, stop_fd),
	                                   offsetof(cj_http_options, no_maintenance),
	                                   offsetof(cj_http_options, stream_ping_ms),
	                                   sizeof(cj_http_options) };
	*out = defaults;
	if (!in || in->version < 1 || in->version > CJ_HTTP_OPTIONS_VERSION)
		return cj_error_set(CJ_EINVAL, NULL, "serve: options version %u, this build knows 1..%u "
		                    "(use CJ_HTTP_OPTIONS_INIT)", in ? in->version : 0,
		                    CJ_HTTP_OPTIONS_VERSION);
	memcpy(out, in, size_of[in->version]);
	if (in->version < 3)
		out->no_maintenance = 1;
	out->version = CJ_HTTP_OPTIONS_VERSION;
	if (in->version >= 2 && in->stop)
		return cj_error_set(CJ_EINVAL, NULL, "serve: option 'stop' is for version 1 only: "
		                    "use stop_fd");
	if (!out->nstores || !out->stores)
		return cj_error_set(CJ_EINVAL, NULL, "serve: no store given");
	if (out->stream_ping_ms && (out->stream_ping_ms < 10 ||
	                            out->stream_ping_ms > CJ_HTTP_MAX_STREAM_STALL_MS))
		return cj_error_set(CJ_EINVAL, NULL, "serve: stream_ping_ms %u is not from 10 to %u "
		                    "(libmicrohttpd closes a connection idle for 30 s)",
		                    out->stream_ping_ms, CJ_HTTP_MAX_STREAM_STALL_MS);
	if (out->stream_stall_ms && (out->stream_stall_ms < 10 ||
	                             out->stream_stall_ms > CJ_HTTP_MAX_STREAM_STALL_MS))
		return cj_error_set(CJ_EINVAL, NULL, "serve: stream_stall_ms %u is not from 10 to %u "
		                    "(libmicrohttpd closes a connection idle for 30 s)",
		                    out->stream_stall_ms, CJ_HTTP_MAX_STREAM_STALL_MS);
	if (out->backup_every_ms < 0)
		return cj_error_set(CJ_EINVAL, NULL, "serve: backup_every_ms is negative");
	if (out->backup_dir && out->nstores > 1)
		return cj_error_set(CJ_EINVAL, NULL, "serve: a backup folder serves one store only "
		                    "(without it, each store's backups go to STORE/backups)");
	if (!out->listen) out->listen = DEFAULT_LISTEN;
	if (!out->max_body) out->max_body = (size_t)8 << 20;
	if (!out->max_batch) out->max_batch = 10000;
	if (!out->max_depth) out->max_depth = 64;
	if (!out->max_connections) out->max_connections = CJ_HTTP_DEFAULT_MAX_CONNECTIONS;
	if (!out->read_wait_ms) out->read_wait_ms = 5000;
	return 0;
}

/* Connections are descriptors: at most what RLIMIT_NOFILE leaves (a
 * program raises it first: tools/cmd_serve.c). */
static void fit_connections(cj_http_options *o)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	rlim_t room = rl.rlim_cur > 2 * FD_RESERVE ? rl.rlim_cur - FD_RESERVE : rl.rlim_cur / 2;
	if (o->max_connections > room)
		o->max_connections = (unsigned)room;
}

static void close_stores(cjh_server *sv)
{
	for (size_t i = 0; i < sv->nstores; i++)
		cj_maintenance_free(sv->stores[i].maint); /* waits for a pass in progress */
	for (size_t i = 0; i < sv->nstores; i++) {
		cj_store_close(sv->stores[i].s);
		cj_token_set_free(sv->stores[i].tokens);
	}
	sv->nstores = 0;
}

static void free_server(cjh_server *sv)
{
	close_stores(sv);
	cjh_settings_free(&sv->set);
	free(sv->rates);
	free(sv->stores);
	pthread_mutex_destroy(&sv->rate_mu);
	pthread_mutex_destroy(&sv->log_mu);
	pthread_mutex_destroy(&sv->wait_mu);
	free(sv);
}

/* Each store with the projection check (SQLite's quick_check, about 1 s
 * per GB) unless skipped: a damaged projection is refused with a message
 * that says to run 'chatjournal replay'. */
static int open_stores(cjh_server *sv)
{
	sv->stores = calloc(sv->o.nstores, sizeof *sv->stores);
	if (!sv->stores)
		return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < sv->o.nstores; i++) {
		const char *p = sv->o.stores[i];
		cj_store_options so = CJ_STORE_OPTIONS_INIT;
		so.check_projection = cjh_start_check(&sv->o, p);
		int rc = cj_store_open(&sv->stores[i].s, p, &so);
		if (rc) {
			char why[600];
			snprintf(why, sizeof why, "%s", cj_error_last()); /* cj_error_set rewrites it */
			return cj_error_set(rc, NULL, "cannot serve store %s: %s", p, why);
		}
		sv->nstores++;
		const char *base = strrchr(p, '/');
		snprintf(sv->stores[i].name, sizeof sv->stores[i].name, "%s", base && base[1] ? base + 1 : p);
		if ((rc = cj_token_set_open(&sv->stores[i].tokens, p)))
			return rc;
	}
	return 0;
}

static struct MHD_Daemon *start_daemon(cjh_server *sv, const cjh_listen *ls)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	                 MHD_USE_ITC | (ls->v6 ? MHD_USE_IPv6 : 0);
	struct MHD_OptionItem common[] = {
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)cjh_completed, sv },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)cjh_notify_connection, sv },
		{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)cjh_uri_logger, sv },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)sv->o.max_connections, NULL },
		/* Inactivity (any byte resets it): bodies that stall. Heads have
		 * their own deadline (conn.c). */
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)30, NULL },
		/* A connection's memory pool holds its request head and read
		 * buffer. libmicrohttpd 0.9.75 zeroes the whole pool between two
		 * requests of a keep-alive connection: 64 KiB cost a memset per
		 * request that showed in bench http's single events
		 * (docs/performance.md); 16 KiB bounds a head the same way. */
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)CJH_CONN_MEMORY, NULL },
		/* One event loop per core: reading and answering 32 busy
		 * connections is more than one thread's work (bench http). */
		{ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)sv->loops, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	if (ls->unix_fd >= 0)
		return MHD_start_daemon(flags, 0, cjh_accept_policy, sv, cjh_handle, sv,
		                        MHD_OPTION_LISTEN_SOCKET, ls->unix_fd,
		                        MHD_OPTION_ARRAY, common, MHD_OPTION_END);
	return MHD_start_daemon(flags, 0, cjh_accept_policy, sv, cjh_handle, sv,
	                        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&ls->addr,
	                        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
	                        MHD_OPTION_ARRAY, common, MHD_OPTION_END);
}

/* Until stop_fd is readable (or, version 1, *stop is set). */
static void wait_for_stop(const cjh_server *sv, const volatile int *v1_stop)
{
	for (;;) {
		if (v1_stop && *v1_stop)
			return;
		if (sv->o.stop_fd >= 0) {
			struct pollfd p = { .fd = sv->o.stop_fd, .events = POLLIN };
			int n = poll(&p, 1, v1_stop ? 50 : -1);
			if (n > 0)
				return;
			if (n < 0 && errno != EINTR)
				return;
		} else if (v1_stop) {
			struct timespec ts = { 0, 50000000 };
			nanosleep(&ts, NULL);
		} else {
			pause(); /* nothing can stop this server but the process's end */
		}
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Graceful stop. No new connections; new requests on open connections get
 * 503 and "Connection: close"; min_seq waits end with 503 and change-feed
 * streams with a resume frame (the sweeper wakes those parked); then wait
 * (at most 30 s) for the requests in progress, and without a bound for
 * suspended ones: an append's ticket is always decided, and libmicrohttpd
 * 0.9.75 aborts if stopped with a suspended connection (docs/reliability.md,
 * H2). A stream whose consumer has not taken its last frame within
 * STREAM_STOP_GRACE_MS is cut (its socket shut down): a consumer that reads
 * nothing must not hold the stop for 30 s. */
#define STREAM_STOP_GRACE_MS 1000
static void stop_gracefully(cjh_server *sv, struct MHD_Daemon *d)
{
	atomic_store(&sv->stopping, 1);
	MHD_socket lfd = MHD_quiesce_daemon(d);
	uint64_t t0 = cjh_now_ns(), give_up = t0 + 30ull * 1000000000ull;
	int cut = 0;
	while (atomic_load(&sv->inflight) > 0 && cjh_now_ns() < give_up) {
		if (!cut && cjh_now_ns() >= t0 + STREAM_STOP_GRACE_MS * 1000000ull) {
			cjh_feed_kill(sv);
			cut = 1;
		}
		sleep_ms(5);
	}
	while (atomic_load(&sv->suspended) > 0)
		sleep_ms(5);
	MHD_stop_daemon(d);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
}

int cj_http_serve(const cj_http_options *opts)
{
	cjh_server *sv = calloc(1, sizeof *sv);
	if (!sv)
		return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	pthread_mutex_init(&sv->log_mu, NULL);
	pthread_mutex_init(&sv->rate_mu, NULL);
	pthread_mutex_init(&sv->wait_mu, NULL);
	int rc = check_options(&sv->o, opts);
	if (rc) {
		free_server(sv);
		return rc;
	}
	const volatile int *v1_stop = opts->version == 1 ? opts->stop : NULL;
	fit_connections(&sv->o);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	sv->loops = cores >= 2 ? 2 : 1;
	sv->id_salt = cjh_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)sv;
	cjh_listen ls;
	rc = cjh_parse_listen(sv->o.listen, &ls);
	if (rc || (rc = open_stores(sv)) || (rc = cjh_settings_load(sv)) ||
	    (rc = cjh_pool_start(&sv->pool, sv->set.workers)) || (rc = cjh_feed_start(sv)) ||
	    (rc = cjh_conns_start(&sv->conns, sv))) {
		if (ls.unix_fd >= 0)
			close(ls.unix_fd);
		cjh_conns_stop(sv->conns);
		cjh_feed_stop(sv);
		cjh_pool_stop(sv->pool);
		free_server(sv);
		return rc;
	}
	struct MHD_Daemon *d = start_daemon(sv, &ls);
	if (!d) {
		rc = cj_error_set(CJ_EIO, NULL, "serve: cannot listen on %s (address in use?)", sv->o.listen);
		if (ls.unix_fd >= 0)
			close(ls.unix_fd);
		cjh_conns_stop(sv->conns);
		cjh_feed_stop(sv);
		cjh_pool_stop(sv->pool);
		free_server(sv);
		return rc;
	}
	sv->d = d;
	if (ls.unix_fd < 0) {
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
		char host[256] = "";
		const char *colon = strrchr(sv->o.listen, ':');
		snprintf(host, sizeof host, "%.*s", (int)(colon - sv->o.listen), sv->o.listen);
		snprintf(ls.text, sizeof ls.text, "%s:%u", host, info ? info->port : 0);
	}
	if (sv->o.ready)
		sv->o.ready(ls.text, sv->o.ready_arg);
	cjh_settings_log(sv);
	cjh_maintenance_start(sv);
	wait_for_stop(sv, v1_stop);
	stop_gracefully(sv, d);
	/* Every connection is closed: no handler, callback or worker step is
	 * left that could touch a request. The sweeper goes first: it visits
	 * the hubs. */
	cjh_conns_stop(sv->conns);
	cjh_feed_stop(sv);
	cjh_pool_stop(sv->pool);
	if (ls.unix_fd >= 0 && !strncmp(sv->o.listen, "unix:", 5))
		unlink(sv->o.listen + 5);
	free_server(sv);
	return 0;
}
