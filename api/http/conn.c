/* api/http/conn.c — connections: a record per connection (libmicrohttpd's
 * NOTIFY_CONNECTION), the per-address cap, and the sweeper thread.
 *
 * libmicrohttpd 0.9.75 has only an inactivity timeout, which every byte
 * resets: a client sending one header byte a second keeps its connection
 * for ever (docs/reliability.md, H1). The sweeper gives each request head
 * a deadline instead (http.head_timeout_ms from the connection's start, or
 * from its previous response) and shuts the socket down when it passes;
 * libmicrohttpd then sees the end of the stream and closes the connection.
 * The record leaves the list (under mu) in the CLOSED notification, which
 * libmicrohttpd makes before it closes the descriptor, so the sweeper never
 * shuts down a descriptor number that a new connection reuses.
 *
 * The sweeper also ends min_seq waits at their deadline (wait.c), and
 * looks after the change feed's streams (feed_hub.c: keep-alives, stalled
 * consumers, the stop). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "service.h"

#define IP_BUCKETS 1024
#define SWEEP_NS (100 * 1000000ull)

struct cjh_conn {
	struct MHD_Connection *c;
	int fd;
	char peer[64];
	int from_proxy;          /* the peer is a trusted proxy: no per-connection cap */
	int counted;             /* counted in the per-address table */
	uint64_t deadline;       /* the head must be complete by then; 0: no deadline now */
	int killed;
	cjh_conn *next, *prev;
};

/* Connections (or proxied requests) of one address. `pending` counts the
 * connections the accept policy let in that have not started yet: with two
 * event loops, two accepts from one address may be checked at once, so the
 * check reserves a place. A connection that never starts (libmicrohttpd out
 * of memory between the two) leaves a reservation the sweeper drops after
 * a second. */
typedef struct ipcount {
	char ip[64];
	unsigned n, pending;
	uint64_t pending_ns;
	struct ipcount *next;
} ipcount;

struct cjh_conns {
	cjh_server *sv;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	cjh_conn *head;
	ipcount *buckets[IP_BUCKETS];
	pthread_t th;
	int stop, started;
};

static unsigned ip_hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % IP_BUCKETS;
}

/* Called with mu held. */
static ipcount *ip_find(cjh_conns *cs, const char *ip, int create)
{
	unsigned h = ip_hash(ip);
	for (ipcount *e = cs->buckets[h]; e; e = e->next)
		if (!strcmp(e->ip, ip))
			return e;
	if (!create)
		return NULL;
	ipcount *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	snprintf(e->ip, sizeof e->ip, "%s", ip);
	e->next = cs->buckets[h];
	cs->buckets[h] = e;
	return e;
}

/* Called with mu held. */
static void ip_drop(cjh_conns *cs, const char *ip)
{
	unsigned h = ip_hash(ip);
	for (ipcount **p = &cs->buckets[h]; *p; p = &(*p)->next) {
		if (!strcmp((*p)->ip, ip)) {
			if ((*p)->n)
				(*p)->n--;
			if ((*p)->n == 0 && (*p)->pending == 0) {
				ipcount *e = *p;
				*p = e->next;
				free(e);
			}
			return;
		}
	}
}

/* Reservations older than a second belong to connections that never
 * started. Called with mu held. */
static void ip_expire(cjh_conns *cs, uint64_t now)
{
	for (size_t h = 0; h < IP_BUCKETS; h++) {
		for (ipcount **p = &cs->buckets[h]; *p;) {
			ipcount *e = *p;
			if (e->pending && now - e->pending_ns > 1000000000ull)
				e->pending = 0;
			if (e->n == 0 && e->pending == 0) {
				*p = e->next;
				free(e);
			} else {
				p = &e->next;
			}
		}
	}
}

static void addr_text(char out[64], const struct sockaddr *sa)
{
	out[0] = '\0';
	if (!sa)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 64);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, 64);
	else if (sa->sa_family == AF_UNIX)
		snprintf(out, 64, "unix");
}

int cjh_ip_take(cjh_server *sv, const char *ip)
{
	cjh_conns *cs = sv->conns;
	pthread_mutex_lock(&cs->mu);
	ipcount *e = ip_find(cs, ip, 1);
	int ok = e && e->n + e->pending < sv->set.max_per_ip;
	if (ok)
		e->n++;
	pthread_mutex_unlock(&cs->mu);
	if (!ok)
		atomic_fetch_add(&sv->sm.per_ip_refused, 1);
	return ok;
}

void cjh_ip_release(cjh_server *sv, const char *ip)
{
	pthread_mutex_lock(&sv->conns->mu);
	ip_drop(sv->conns, ip);
	pthread_mutex_unlock(&sv->conns->mu);
}

/* Before accepting: an address at its cap is refused (libmicrohttpd closes
 * the socket at once). Trusted proxies and Unix sockets have no cap here:
 * a proxy's clients are counted per request, by X-Forwarded-For. */
enum MHD_Result cjh_accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	(void)len;
	cjh_server *sv = cls;
	if (!addr || addr->sa_family == AF_UNIX || cjh_addr_trusted(&sv->set, addr))
		return MHD_YES;
	char ip[64];
	addr_text(ip, addr);
	cjh_conns *cs = sv->conns;
	pthread_mutex_lock(&cs->mu);
	ipcount *e = ip_find(cs, ip, 1);
	int ok = !e || e->n + e->pending < sv->set.max_per_ip;
	if (ok && e) {
		e->pending++;
		e->pending_ns = cjh_now_ns();
	}
	pthread_mutex_unlock(&cs->mu);
	if (!ok)
		atomic_fetch_add(&sv->sm.per_ip_refused, 1);
	return ok ? MHD_YES : MHD_NO;
}

void cjh_notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe)
{
	cjh_server *sv = cls;
	cjh_conns *cs = sv->conns;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		cjh_conn *cn = calloc(1, sizeof *cn);
		*socket_context = cn;
		if (!cn)
			return; /* no deadline for this one; nothing else depends on it */
		cn->c = c;
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ad = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		cn->fd = fd ? fd->connect_fd : -1;
		const struct sockaddr *sa = ad ? ad->client_addr : NULL;
		addr_text(cn->peer, sa);
		cn->from_proxy = sa && cjh_addr_trusted(&sv->set, sa);
		cn->deadline = cjh_now_ns() + (uint64_t)sv->set.head_timeout_ms * 1000000u;
		pthread_mutex_lock(&cs->mu);
		if (sa && sa->sa_family != AF_UNIX && !cn->from_proxy) {
			ipcount *e = ip_find(cs, cn->peer, 1);
			if (e) {
				if (e->pending)
					e->pending--; /* the accept policy's reservation */
				e->n++;
				cn->counted = 1;
			}
		}
		cn->next = cs->head;
		if (cs->head)
			cs->head->prev = cn;
		cs->head = cn;
		pthread_mutex_unlock(&cs->mu);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		cjh_conn *cn = *socket_context;
		if (!cn)
			return;
		pthread_mutex_lock(&cs->mu);
		if (cn->prev)
			cn->prev->next = cn->next;
		else
			cs->head = cn->next;
		if (cn->next)
			cn->next->prev = cn->prev;
		if (cn->counted)
			ip_drop(cs, cn->peer);
		pthread_mutex_unlock(&cs->mu);
		free(cn);
		*socket_context = NULL;
	}
}

void cjh_conn_head_done(cjh_conn *cn)
{
	if (!cn)
		return;
	/* Atomic: the sweeper reads it. */
	__atomic_store_n(&cn->deadline, 0, __ATOMIC_RELAXED);
}

void cjh_conn_rearm(cjh_server *sv, cjh_conn *cn)
{
	if (!cn)
		return;
	__atomic_store_n(&cn->deadline, cjh_now_ns() + (uint64_t)sv->set.head_timeout_ms * 1000000u,
	                 __ATOMIC_RELAXED);
}

const char *cjh_conn_peer(const cjh_conn *cn) { return cn ? cn->peer : ""; }
int cjh_conn_from_proxy(const cjh_conn *cn) { return cn ? cn->from_proxy : 0; }

void cjh_conn_sndbuf(cjh_conn *cn, int bytes)
{
	if (cn && cn->fd >= 0)
		(void)setsockopt(cn->fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

void cjh_conn_shutdown(cjh_server *sv, cjh_conn *cn)
{
	if (!cn)
		return;
	cjh_conns *cs = sv->conns;
	pthread_mutex_lock(&cs->mu);
	if (!cn->killed && cn->fd >= 0) {
		shutdown(cn->fd, SHUT_RDWR);
		cn->killed = 1;
	}
	pthread_mutex_unlock(&cs->mu);
}

static void sweep_connections(cjh_conns *cs, uint64_t now)
{
	pthread_mutex_lock(&cs->mu);
	ip_expire(cs, now);
	for (cjh_conn *cn = cs->head; cn; cn = cn->next) {
		uint64_t d = __atomic_load_n(&cn->deadline, __ATOMIC_RELAXED);
		if (d && now >= d && !cn->killed && cn->fd >= 0) {
			/* Still under mu: the descriptor is this connection's. */
			shutdown(cn->fd, SHUT_RDWR);
			cn->killed = 1;
			atomic_fetch_add(&cs->sv->sm.head_timeouts, 1);
		}
	}
	pthread_mutex_unlock(&cs->mu);
}

static void *sweeper_main(void *arg)
{
	cjh_conns *cs = arg;
	pthread_mutex_lock(&cs->mu);
	while (!cs->stop) {
		struct timespec ts;
		cjh_deadline_ns(&ts, (long)SWEEP_NS);
		pthread_cond_timedwait(&cs->cv, &cs->mu, &ts);
		if (cs->stop)
			break;
		pthread_mutex_unlock(&cs->mu);
		uint64_t now = cjh_now_ns();
		sweep_connections(cs, now);
		cjh_wait_sweep(cs->sv, now, atomic_load(&cs->sv->stopping));
		cjh_feed_sweep(cs->sv, now, atomic_load(&cs->sv->stopping));
		pthread_mutex_lock(&cs->mu);
	}
	pthread_mutex_unlock(&cs->mu);
	return NULL;
}

int cjh_conns_start(cjh_conns **out, cjh_server *sv)
{
	*out = NULL;
	cjh_conns *cs = calloc(1, sizeof *cs);
	if (!cs)
		return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	cs->sv = sv;
	pthread_mutex_init(&cs->mu, NULL);
	pthread_cond_init(&cs->cv, NULL);
	if (pthread_create(&cs->th, NULL, sweeper_main, cs) != 0) {
		pthread_mutex_destroy(&cs->mu);
		pthread_cond_destroy(&cs->cv);
		free(cs);
		return cj_error_set(CJ_ENOMEM, NULL, "serve: cannot start the sweeper thread");
	}
	cs->started = 1;
	*out = cs;
	return 0;
}

/* After the daemon stopped: every connection is closed and notified. */
void cjh_conns_stop(cjh_conns *cs)
{
	if (!cs)
		return;
	pthread_mutex_lock(&cs->mu);
	cs->stop = 1;
	pthread_cond_signal(&cs->cv);
	pthread_mutex_unlock(&cs->mu);
	if (cs->started)
		pthread_join(cs->th, NULL);
	for (size_t i = 0; i < IP_BUCKETS; i++) {
		while (cs->buckets[i]) {
			ipcount *e = cs->buckets[i];
			cs->buckets[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&cs->mu);
	pthread_cond_destroy(&cs->cv);
	free(cs);
}
