/* bench/loopback.c — the HTTP benchmarks' server thread and client calls
 * (loopback.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "chatjournal/chatjournal.h"
#include "loopback.h"

static void on_ready(const char *addr, void *arg)
{
	cjb_server *sv = arg;
	snprintf(sv->addr, sizeof sv->addr, "%s", addr);
	atomic_store_explicit(&sv->ready, 1, memory_order_release);
}

static void quiet(const char *line, void *arg)
{
	(void)line;
	(void)arg;
}

static void *serve_main(void *arg)
{
	cjb_server *sv = arg;
	sv->rc = cj_http_serve(&sv->o);
	atomic_store_explicit(&sv->ready, 1, memory_order_release);
	return NULL;
}

int cjb_server_start(cjb_server *sv, void (*configure)(cj_http_options *o))
{
	cj_http_options o = CJ_HTTP_OPTIONS_INIT;
	sv->o = o;
	sv->o.stores = &sv->store;
	sv->o.nstores = 1;
	sv->o.listen = "127.0.0.1:0";
	sv->o.ready = on_ready;
	sv->o.ready_arg = sv;
	sv->o.log = quiet;
	if (configure)
		configure(&sv->o);
	if (pipe(sv->stop_pipe) != 0) {
		perror("bench: pipe");
		return -1;
	}
	sv->o.stop_fd = sv->stop_pipe[0];
	atomic_store(&sv->ready, 0);
	sv->addr[0] = '\0';
	if (pthread_create(&sv->th, NULL, serve_main, sv) != 0) {
		close(sv->stop_pipe[0]);
		close(sv->stop_pipe[1]);
		return -1;
	}
	while (!atomic_load_explicit(&sv->ready, memory_order_acquire))
		usleep(1000);
	const char *colon = strrchr(sv->addr, ':');
	sv->port = colon ? atoi(colon + 1) : 0;
	if (!sv->port) {
		fprintf(stderr, "chatjournal: bench: serve did not start: %s\n", cj_error_last());
		cjb_server_stop(sv);
		return -1;
	}
	return 0;
}

int cjb_server_stop(cjb_server *sv)
{
	int rc = 0;
	if (write(sv->stop_pipe[1], "x", 1) != 1) {
		fprintf(stderr, "chatjournal: bench: cannot stop the server\n");
		rc = -1;
	}
	pthread_join(sv->th, NULL);
	close(sv->stop_pipe[0]);
	close(sv->stop_pipe[1]);
	return rc;
}

size_t cjb_message_body(char *buf, size_t cap, unsigned batch, uint64_t base)
{
	size_t p = 0;
	if (batch > 1)
		buf[p++] = '[';
	for (unsigned i = 0; i < batch; i++) {
		p += (size_t)snprintf(buf + p, cap - p,
		                      "%s{\"type\":\"message\",\"thread\":\"thread-%llu\",\"role\":\"user\","
		                      "\"user\":\"user-%llu\",\"server\":\"bench\",\"content\":\"message %llu: "
		                      "a bot wrote this text to persist it durably, about two hundred bytes "
		                      "long, with words to index in the full text search of the projection\"}",
		                      i ? "," : "", (unsigned long long)((base + i) % 1000),
		                      (unsigned long long)((base + i) % 500), (unsigned long long)(base + i));
	}
	if (batch > 1)
		buf[p++] = ']';
	buf[p] = '\0';
	return p;
}

int cjb_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int cjb_roundtrip(int fd, const char *req, size_t len, char *resp, size_t cap)
{
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, req + off, len - off);
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	size_t got = 0;
	long body = -1;
	size_t hdr_end = 0;
	for (;;) {
		ssize_t n = read(fd, resp + got, cap - 1 - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		resp[got] = '\0';
		if (!hdr_end) {
			char *e = strstr(resp, "\r\n\r\n");
			if (!e)
				continue;
			hdr_end = (size_t)(e - resp) + 4;
			char *cl = strcasestr(resp, "Content-Length:");
			body = cl ? atol(cl + 15) : 0;
		}
		if (got >= hdr_end + (size_t)body)
			break;
	}
	return atoi(resp + 9);
}
