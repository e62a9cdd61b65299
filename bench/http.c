/* bench/http.c — `chatjournal bench http`: ingest over loopback against
 * the in-process C API, in one run. A server (cj_http_serve) runs on a
 * thread of this process on 127.0.0.1 with a fresh store; N client threads
 * keep one HTTP/1.1 keep-alive connection each and POST single events or
 * batches of 100; the baseline appends the same batches with
 * cj_journal_append_batch from the same number of threads. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/http.h"
#include "args.h"
#include "http.h"
#include "scratch.h"
#include "rounds.h"
#include "loopback.h"

typedef struct run {
	int port;
	const char *token;
	unsigned batch;
	double seconds;
	_Atomic uint64_t events;
	_Atomic int failed;
	double *lat;        /* per thread arrays */
	size_t lat_cap;
	size_t *nlat;
	cj_store *store;    /* baseline: in-process */
	_Atomic uint64_t next_id;
} run;

typedef struct worker { run *r; unsigned idx; } worker;

static void *http_worker(void *arg)
{
	worker *w = arg;
	run *r = w->r;
	int fd = cjb_connect(r->port);
	if (fd < 0) {
		r->failed = 1;
		return NULL;
	}
	size_t cap = 64 + (size_t)r->batch * 400;
	char *body = malloc(cap), *req = malloc(cap + 512), resp[4096];
	double end = cjb_now_s() + r->seconds;
	while (cjb_now_s() < end && !r->failed) {
		uint64_t base = atomic_fetch_add(&r->next_id, r->batch);
		size_t bl = cjb_message_body(body, cap, r->batch, base);
		int hl = snprintf(req, cap + 512,
		                  "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
		                  "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		                  r->token, bl, body);
		double t0 = cjb_now_s();
		int st = cjb_roundtrip(fd, req, (size_t)hl, resp, sizeof resp);
		double dt = cjb_now_s() - t0;
		if (st != 200) {
			fprintf(stderr, "bench http: status %d: %.200s\n", st, st > 0 ? resp : "");
			r->failed = 1;
			break;
		}
		atomic_fetch_add(&r->events, r->batch);
		if (r->nlat[w->idx] < r->lat_cap)
			r->lat[w->idx * r->lat_cap + r->nlat[w->idx]++] = dt;
	}
	close(fd);
	free(body);
	free(req);
	return NULL;
}

static void *api_worker(void *arg)
{
	worker *w = arg;
	run *r = w->r;
	size_t cap = 64 + (size_t)r->batch * 400;
	char *body = malloc(cap);
	double end = cjb_now_s() + r->seconds;
	while (cjb_now_s() < end && !r->failed) {
		uint64_t base = atomic_fetch_add(&r->next_id, r->batch);
		size_t bl = cjb_message_body(body, cap, r->batch, base);
		cj_event **evs;
		size_t n;
		int arr;
		long bad;
		double t0 = cjb_now_s();
		if (cj_event_parse_many(&evs, &n, &arr, &bad, body, bl, cj_store_limits(r->store), 10000) ||
		    cj_journal_append_batch(NULL, r->store, (const cj_event *const *)evs, n)) {
			r->failed = 1;
			break;
		}
		double dt = cjb_now_s() - t0;
		cj_events_free(evs, n);
		atomic_fetch_add(&r->events, r->batch);
		if (r->nlat[w->idx] < r->lat_cap)
			r->lat[w->idx * r->lat_cap + r->nlat[w->idx]++] = dt;
	}
	free(body);
	return NULL;
}


static json_t *measure(run *r, unsigned threads, void *(*fn)(void *))
{
	r->lat_cap = 200000;
	r->lat = malloc(threads * r->lat_cap * sizeof *r->lat);
	r->nlat = calloc(threads, sizeof *r->nlat);
	r->events = 0;
	r->failed = 0;
	pthread_t th[256];
	worker w[256];
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	double t0 = cjb_now_s();
	for (unsigned i = 0; i < threads; i++) {
		w[i].r = r;
		w[i].idx = i;
		pthread_create(&th[i], NULL, fn, &w[i]);
	}
	for (unsigned i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	double secs = cjb_now_s() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	/* CPU of the whole process (clients, server, writer, materializer) per
	 * event: a cost that a loaded machine changes less than throughput. */
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
	                      ru0.ru_stime.tv_sec) +
	             (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
	                      ru0.ru_stime.tv_usec) / 1e6;
	size_t total = 0;
	for (unsigned i = 0; i < threads; i++)
		total += r->nlat[i];
	double *all = malloc((total ? total : 1) * sizeof *all);
	size_t k = 0;
	for (unsigned i = 0; i < threads; i++)
		for (size_t j = 0; j < r->nlat[i]; j++)
			all[k++] = r->lat[i * r->lat_cap + j];
	qsort(all, total, sizeof *all, cjb_cmp_double);
	json_t *o = json_pack("{s:i,s:i,s:f,s:f,s:f,s:b}", "threads", (int)threads, "batch",
	                      (int)r->batch, "events_per_s", (double)r->events / secs, "p50_ms",
	                      total ? all[total / 2] * 1e3 : 0.0, "p99_ms",
	                      total ? all[(size_t)((double)total * 0.99)] * 1e3 : 0.0, "ok", !r->failed);
	json_object_set_new(o, "cpu_us_per_event", json_real(r->events ? cpu * 1e6 / (double)r->events : 0));
	free(all);
	free(r->lat);
	free(r->nlat);
	return o;
}

#define HTTP_USAGE "usage: chatjournal bench http [--threads N] [--seconds S] [--quick] [--json]\n"

int cjb_http_main(int argc, char **argv)
{
	int json = 0, quick = 0;
	unsigned threads = 32;
	double seconds = 5;
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' }, { "quick", no_argument, NULL, 'q' },
		{ "threads", required_argument, NULL, 't' }, { "seconds", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'q': quick = 1; break;
		case 't':
			if (cjb_arg_uint(&threads, "http", "--threads", optarg, 256))
				return fputs(HTTP_USAGE, stderr), 2;
			break;
		case 's':
			if (cjb_arg_seconds(&seconds, "http", "--seconds", optarg, 3600))
				return fputs(HTTP_USAGE, stderr), 2;
			break;
		case 'h':
			printf("usage: chatjournal bench http [--threads N (32)] [--seconds S (5)] [--quick] [--json]\n");
			return 0;
		default:
			fputs(HTTP_USAGE, stderr);
			return 2;
		}
	}
	if (quick)
		seconds = 0.5;
	if (threads == 0 || threads > 256)
		threads = 32;
	char dir[256], err[400];
	if (cjb_scratch_new(dir, sizeof dir, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "chatjournal: bench http: %s\n", err);
		return 1;
	}
	char store[300], store2[300], token[CJ_TOKEN_MAX];
	snprintf(store, sizeof store, "%s/http", dir);
	snprintf(store2, sizeof store2, "%s/api", dir);
	int rc = 1;
	json_t *out = json_object();
	if (cj_store_init(store, NULL) || cj_store_init(store2, NULL) ||
	    cj_token_add(token, store, 1, "bench")) {
		fprintf(stderr, "chatjournal: bench http: %s\n", cj_error_last());
		goto done;
	}
	cjb_server sv = { .store = store };
	if (cjb_server_start(&sv, NULL) != 0)
		goto done;
	run r = { .port = sv.port, .token = token, .seconds = seconds };
	r.batch = 1;
	json_t *single = measure(&r, threads, http_worker);
	r.batch = 100;
	json_t *batched = measure(&r, threads, http_worker);
	cjb_server_stop(&sv);
	cj_store *s;
	if (cj_store_open(&s, store2, NULL)) {
		fprintf(stderr, "chatjournal: bench http: %s\n", cj_error_last());
		json_decref(single);
		json_decref(batched);
		goto done;
	}
	run a = { .store = s, .seconds = seconds, .batch = 100 };
	json_t *api = measure(&a, threads, api_worker);
	cj_store_close(s);
	double eb = json_real_value(json_object_get(batched, "events_per_s"));
	double ea = json_real_value(json_object_get(api, "events_per_s"));
	json_object_set_new(out, "benchmark", json_string("http"));
	json_object_set_new(out, "http_single", single);
	json_object_set_new(out, "http_batch_100", batched);
	json_object_set_new(out, "c_api_batch_100", api);
	json_object_set_new(out, "ratio_http_batch_vs_c_api", json_real(ea > 0 ? eb / ea : 0));
	json_object_set_new(out, "target_http_batch_ge_100k", json_boolean(eb >= 100000));
	rc = json_is_true(json_object_get(single, "ok")) && json_is_true(json_object_get(batched, "ok")) &&
	     json_is_true(json_object_get(api, "ok")) ? 0 : 1;
	if (json) {
		char *t = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(6));
		puts(t);
		free(t);
	} else {
		printf("chatjournal bench http (%u connections, %.1f s each)\n", threads, seconds);
		const char *keys[] = { "http_single", "http_batch_100", "c_api_batch_100" };
		for (int i = 0; i < 3; i++) {
			json_t *m = json_object_get(out, keys[i]);
			printf("  %-18s %10.0f events/s   p50 %7.2f ms   p99 %7.2f ms   cpu %6.1f us/event%s\n",
			       keys[i], json_real_value(json_object_get(m, "events_per_s")),
			       json_real_value(json_object_get(m, "p50_ms")),
			       json_real_value(json_object_get(m, "p99_ms")),
			       json_real_value(json_object_get(m, "cpu_us_per_event")),
			       json_is_true(json_object_get(m, "ok")) ? "" : "   FAILED");
		}
		printf("  ratio http batch / C API   %.2f\n  target batched >= 100k/s    %s\n",
		       ea > 0 ? eb / ea : 0, eb >= 100000 ? "PASS" : "MISS");
	}
done:
	json_decref(out);
	/* Only the folder made above; no shell (TMPDIR may hold any character). */
	if (cjb_scratch_remove(dir) != 0)
		fprintf(stderr, "chatjournal: bench http: could not remove %s\n", dir);
	return rc;
}
