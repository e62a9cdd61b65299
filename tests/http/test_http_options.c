/* tests/http/test_http_options.c — cj_http_options across versions: a
 * version 1 struct (the layout before stop_fd, as an old caller built it)
 * is still accepted by its size and still stops on *stop; version 2 refuses
 * the old `stop` pointer and stops on stop_fd; version 3 ends before the
 * stream settings and version 4 checks them; an unknown version is
 * refused. Links the HTTP library as an outside program does. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/http.h"

/* The version 1 layout, as chatjournal/http.h declared it. */
typedef struct options_v1 {
	unsigned version;
	const char *const *stores;
	size_t nstores;
	const char *listen;
	size_t max_body;
	unsigned max_batch, max_depth, max_connections, rate_per_token, read_wait_ms;
	void (*log)(const char *line, void *arg);
	void *log_arg;
	volatile int *stop;
	void (*ready)(const char *addr, void *arg);
	void *ready_arg;
} options_v1;

static int failures;
#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			failures++; \
		} \
	} while (0)

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void quiet(const char *line, void *arg) { (void)line; (void)arg; }

static void stop_at_once(const char *addr, void *arg)
{
	(void)addr;
	int fd = *(int *)arg;
	if (write(fd, "x", 1) != 1)
		perror("write");
}

int main(void)
{
	char dir[] = "/tmp/cjtest-http-options.XXXXXX";
	const char *base = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/cjtest-http-options.XXXXXX", base && *base ? base : "/tmp");
	char *d = mkdtemp(tmpl);
	if (!d)
		d = mkdtemp(dir);
	if (!d) {
		perror("mkdtemp");
		return 1;
	}
	char store[4200];
	snprintf(store, sizeof store, "%s/store", d);
	CHECK(cj_store_init(store, NULL) == 0, "init: %s", cj_error_last());
	const char *stores[1] = { store };

	/* Version 1, stop already set: serves, then returns 0. */
	volatile int stop = 1;
	options_v1 v1;
	memset(&v1, 0, sizeof v1);
	v1.version = 1;
	v1.stores = stores;
	v1.nstores = 1;
	v1.listen = "127.0.0.1:0";
	v1.log = quiet;
	v1.stop = &stop;
	int rc = cj_http_serve((const cj_http_options *)(const void *)&v1);
	CHECK(rc == 0, "version 1 struct: %d %s", rc, cj_error_last());

	/* Version 2 with the old pointer: refused, naming it. */
	cj_http_options o = CJ_HTTP_OPTIONS_INIT;
	o.stores = stores;
	o.nstores = 1;
	o.listen = "127.0.0.1:0";
	o.log = quiet;
	o.stop = &stop;
	rc = cj_http_serve(&o);
	CHECK(rc == CJ_EINVAL && strstr(cj_error_last(), "stop_fd"), "v2 with stop: %d %s", rc,
	      cj_error_last());

	/* Version 2 with stop_fd: written once listening. */
	int p[2];
	CHECK(pipe(p) == 0, "pipe");
	o.stop = NULL;
	o.stop_fd = p[0];
	o.ready = stop_at_once;
	o.ready_arg = &p[1];
	rc = cj_http_serve(&o);
	CHECK(rc == 0, "v2 with stop_fd: %d %s", rc, cj_error_last());
	close(p[0]);
	close(p[1]);

	/* Version 3 with no housekeeping; its stream fields are not read (a
	 * version 3 caller's struct ends before them). */
	CHECK(pipe(p) == 0, "pipe");
	o.version = 3;
	o.stop_fd = p[0];
	o.ready_arg = &p[1];
	o.no_maintenance = 1;
	o.stream_ping_ms = 1; /* out of range: would be refused if it were read */
	rc = cj_http_serve(&o);
	CHECK(rc == 0, "v3: %d %s", rc, cj_error_last());
	close(p[0]);
	close(p[1]);

	/* Version 4 (the current one): the change feed's stream settings,
	 * checked (10 to CJ_HTTP_MAX_STREAM_STALL_MS), then accepted. */
	o.version = CJ_HTTP_OPTIONS_VERSION;
	rc = cj_http_serve(&o);
	CHECK(rc == CJ_EINVAL && strstr(cj_error_last(), "stream_ping_ms 1 "), "ping 1: %d %s", rc,
	      cj_error_last());
	o.stream_ping_ms = 200;
	o.stream_stall_ms = CJ_HTTP_MAX_STREAM_STALL_MS + 1;
	rc = cj_http_serve(&o);
	CHECK(rc == CJ_EINVAL && strstr(cj_error_last(), "stream_stall_ms 25001 "), "stall: %d %s",
	      rc, cj_error_last());
	o.stream_stall_ms = 300;
	CHECK(pipe(p) == 0, "pipe");
	o.stop_fd = p[0];
	o.ready_arg = &p[1];
	rc = cj_http_serve(&o);
	CHECK(rc == 0, "v%u: %d %s", (unsigned)CJ_HTTP_OPTIONS_VERSION, rc, cj_error_last());
	close(p[0]);
	close(p[1]);

	/* An unknown version. */
	o.version = CJ_HTTP_OPTIONS_VERSION + 1;
	rc = cj_http_serve(&o);
	CHECK(rc == CJ_EINVAL, "version %u: %d", o.version, rc);

	/* No shell: TMPDIR may hold any character. */
	if (nftw(d, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "could not remove %s\n", d);
	printf("http/options: %s\n", failures ? "FAILED" : "version 1 by size, version 2 stop_fd, "
	       "old stop refused in version 2, version 3 without stream fields, version 4 stream "
	       "settings checked, unknown version refused");
	return failures ? 1 : 0;
}
