/* bench/feed.c — `chatjournal bench feed`: the change feed's delivery
 * against the journal iterator, in one run.
 *
 * A store is filled with E messages (cj_journal_append_batch of 1000) and
 * its projection left caught up.
 * Baselines, in this process (the store opened read-only): the journal iterator over the E records, and
 * the iterator plus the canonical JSON of each event (what the feed writes
 * per event), R rounds each after a warm-up pass (medians). Then a server (cj_http_serve on a thread, 127.0.0.1:0):
 * catch-up, 1 and then N consumers each read GET /v1/events/stream?after=0
 * until they have E frames, R rounds (events/s per consumer and delivered
 * in all);
 * live, T threads append batches of 100 over HTTP for S seconds with no
 * consumer, then again with N consumers following live: the append rates
 * and their ratio, the events/s delivered, and how long after the last
 * append the last consumer had everything. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <jansson.h>
#include "chatjournal/chatjournal.h"
#include "args.h"
#include "feed.h"
#include "loopback.h"
#include "scratch.h"
#include "rounds.h"

#define FILL_BATCH 1000u
#define APPEND_BATCH 100u
#define MAX_CONSUMERS 256u
#define MAX_ROUNDS 9u


typedef struct shared {
	int port;
	const char *token;
	uint64_t after;              /* consumers start past this */
	_Atomic uint64_t target;     /* frames each consumer must see (UINT64_MAX: not known yet) */
	_Atomic int failed;
	/* appenders */
	double seconds;
	_Atomic uint64_t appended;
	_Atomic uint64_t next_id;
} shared;

typedef struct consumer {
	shared *sh;
	pthread_t th;
	uint64_t frames;
	double done_at;              /* when it had target frames */
} consumer;

/* Count SSE frames (each ends with "\n\n"; the HTTP/1.0 head ends with
 * "\r\n\r\n", which has none) until target. */
static void *consume(void *arg)
{
	consumer *c = arg;
	shared *sh = c->sh;
	int fd = cjb_connect(sh->port);
	if (fd < 0) {
		atomic_store(&sh->failed, 1);
		return NULL;
	}
	struct timeval tv = { 0, 200000 }; /* wake to see a target set meanwhile */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char req[512];
	int n = snprintf(req, sizeof req, "GET /v1/events/stream?after=%llu HTTP/1.0\r\n"
	                 "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
	                 (unsigned long long)sh->after, sh->token);
	if (write(fd, req, (size_t)n) != n) {
		atomic_store(&sh->failed, 1);
		close(fd);
		return NULL;
	}
	char buf[65536], prev = 0;
	int status_seen = 0;
	while (c->frames < atomic_load(&sh->target)) {
		ssize_t got = read(fd, buf, sizeof buf);
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			continue;
		if (got <= 0) {
			fprintf(stderr, "chatjournal: bench feed: a stream ended after %llu frames\n",
			        (unsigned long long)c->frames);
			atomic_store(&sh->failed, 1);
			break;
		}
		if (!status_seen) {
			status_seen = 1;
			if (got < 12 || strncmp(buf + 9, "200", 3)) {
				fprintf(stderr, "chatjournal: bench feed: stream refused: %.100s\n", buf);
				atomic_store(&sh->failed, 1);
				break;
			}
		}
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] == '\n' && prev == '\n')
				c->frames++;
			prev = buf[i];
		}
	}
	c->done_at = cjb_now_s();
	close(fd);
	return NULL;
}

static void *append_http(void *arg)
{
	shared *sh = arg;
	int fd = cjb_connect(sh->port);
	if (fd < 0) {
		atomic_store(&sh->failed, 1);
		return NULL;
	}
	size_t cap = 64 + (size_t)APPEND_BATCH * 400;
	char *body = malloc(cap), *req = malloc(cap + 512), resp[4096];
	double end = cjb_now_s() + sh->seconds;
	while (body && req && cjb_now_s() < end && !atomic_load(&sh->failed)) {
		uint64_t base = atomic_fetch_add(&sh->next_id, APPEND_BATCH);
		size_t bl = cjb_message_body(body, cap, APPEND_BATCH, base);
		int hl = snprintf(req, cap + 512,
		                  "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
		                  "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		                  sh->token, bl, body);
		if (cjb_roundtrip(fd, req, (size_t)hl, resp, sizeof resp) != 200) {
			fprintf(stderr, "chatjournal: bench feed: append refused: %.200s\n", resp);
			atomic_store(&sh->failed, 1);
			break;
		}
		atomic_fetch_add(&sh->appended, APPEND_BATCH);
	}
	close(fd);
	free(body);
	free(req);
	return NULL;
}

/* E messages into the store, in batches. 0 or -1. */
static int fill(const char *store, uint64_t events)
{
	cj_store *s;
	if (cj_store_open(&s, store, NULL))
		return -1;
	size_t cap = 64 + (size_t)FILL_BATCH * 400;
	char *body = malloc(cap);
	int rc = body ? 0 : -1;
	for (uint64_t done = 0; !rc && done < events; done += FILL_BATCH) {
		unsigned b = events - done < FILL_BATCH ? (unsigned)(events - done) : FILL_BATCH;
		size_t bl = cjb_message_body(body, cap, b, done);
		cj_event **evs;
		size_t n;
		int arr;
		long bad;
		rc = cj_event_parse_many(&evs, &n, &arr, &bad, body, bl, cj_store_limits(s), 10000);
		if (!rc) {
			rc = cj_journal_append_batch(NULL, s, (const cj_event *const *)evs, n);
			cj_events_free(evs, n);
		}
	}
	free(body);
	/* The projection caught up before the measurements: else the
	 * materializer of the next open competes with them. */
	uint64_t pos = 0;
	for (int tries = 0; !rc && tries < 60000 && pos < events; tries++) {
		if ((rc = cj_projection_position(&pos, s)) == 0 && pos < events)
			usleep(10000);
	}
	cj_store_close(s);
	return rc || pos < events ? -1 : 0;
}

/* The baseline: read every record with the iterator (json: and make each
 * one's canonical JSON). Events/s, or -1. */
static double iterate(const char *store, uint64_t events, int json)
{
	cj_store *s;
	cj_store_options so = CJ_STORE_OPTIONS_INIT;
	so.read_only = 1;
	if (cj_store_open(&s, store, &so))
		return -1;
	cj_journal_iter *it;
	double t0 = cjb_now_s();
	uint64_t n = 0;
	if (cj_journal_iter_new(&it, s, 1) == 0) {
		cj_record rec;
		while (cj_journal_iter_next(&rec, it) == 1) {
			if (json) {
				char *t;
				size_t len;
				if (cj_event_to_canonical_json(&t, &len, rec.event) == 0)
					cj_free(t);
			}
			n++;
		}
		cj_journal_iter_free(it);
	}
	double secs = cjb_now_s() - t0;
	cj_store_close(s);
	return n == events ? (double)n / secs : -1;
}

/* N consumers from sh->after until each has target frames: the wall time
 * from their start until the last one is done, or -1. */
static double consumers_run(shared *sh, consumer *cs, unsigned n, int wait_target)
{
	double t0 = cjb_now_s();
	for (unsigned i = 0; i < n; i++) {
		cs[i] = (consumer){ .sh = sh };
		pthread_create(&cs[i].th, NULL, consume, &cs[i]);
	}
	if (!wait_target)
		return t0;
	double last = t0;
	for (unsigned i = 0; i < n; i++) {
		pthread_join(cs[i].th, NULL);
		if (cs[i].done_at > last)
			last = cs[i].done_at;
	}
	return atomic_load(&sh->failed) ? -1 : last - t0;
}

/* T appenders for sh->seconds; events/s. */
static double appenders_run(shared *sh, unsigned threads)
{
	pthread_t th[64];
	sh->appended = 0;
	double t0 = cjb_now_s();
	for (unsigned i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, append_http, sh);
	for (unsigned i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	return (double)atomic_load(&sh->appended) / (cjb_now_s() - t0);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: chatjournal bench feed [--consumers N (10)] [--events E (50000)]\n"
	           "                              [--threads T (4)] [--seconds S (3)] [--rounds R (3)]\n"
	           "                              [--quick] [--json]\n");
}

int cjb_feed_main(int argc, char **argv)
{
	int json = 0, quick = 0;
	unsigned consumers = 10, threads = 4, rounds = 0;
	uint64_t events = 0;
	double seconds = 0;
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' }, { "quick", no_argument, NULL, 'q' },
		{ "consumers", required_argument, NULL, 'c' }, { "events", required_argument, NULL, 'e' },
		{ "threads", required_argument, NULL, 't' }, { "seconds", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'q': quick = 1; break;
		case 'c':
			if (cjb_arg_uint(&consumers, "feed", "--consumers", optarg, MAX_CONSUMERS))
				return usage(stderr), 2;
			break;
		case 'e':
			if (cjb_arg_count(&events, "feed", "--events", optarg, UINT64_C(1) << 40))
				return usage(stderr), 2;
			break;
		case 't':
			if (cjb_arg_uint(&threads, "feed", "--threads", optarg, 64))
				return usage(stderr), 2;
			break;
		case 's':
			if (cjb_arg_seconds(&seconds, "feed", "--seconds", optarg, 3600))
				return usage(stderr), 2;
			break;
		case 'r':
			if (cjb_arg_uint(&rounds, "feed", "--rounds", optarg, MAX_ROUNDS))
				return usage(stderr), 2;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!rounds)
		rounds = quick ? 1 : 3;
	if (!consumers || consumers > MAX_CONSUMERS || !threads || threads > 64 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "chatjournal: bench feed: --consumers 1 to %u, --threads 1 to 64, "
		        "--rounds 1 to %u\n", MAX_CONSUMERS, MAX_ROUNDS);
		return 2;
	}
	if (!events)
		events = quick ? 10000 : 50000;
	if (!(seconds > 0))
		seconds = quick ? 0.5 : 3;
	char dir[256], err[400], store[300], token[CJ_TOKEN_MAX];
	if (cjb_scratch_new(dir, sizeof dir, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "chatjournal: bench feed: %s\n", err);
		return 1;
	}
	snprintf(store, sizeof store, "%s/feed", dir);
	int rc = 1;
	json_t *out = json_object();
	consumer *cs = calloc(MAX_CONSUMERS, sizeof *cs);
	if (!cs || cj_store_init(store, NULL) || cj_token_add(token, store, 1, "bench") ||
	    fill(store, events)) {
		fprintf(stderr, "chatjournal: bench feed: %s\n", cj_error_last());
		goto done;
	}
	/* Baselines: a pass to warm the page cache, then `rounds` of each,
	 * interleaved; medians. */
	double it_r[MAX_ROUNDS], js_r[MAX_ROUNDS], one_r[MAX_ROUNDS], all_r[MAX_ROUNDS];
	double iter = iterate(store, events, 0), iter_json = 0;
	for (unsigned k = 0; k < rounds && iter >= 0; k++) {
		it_r[k] = iterate(store, events, 0);
		js_r[k] = iterate(store, events, 1);
		if (it_r[k] < 0 || js_r[k] < 0)
			iter = -1;
	}
	cjb_server sv = { .store = store };
	if (iter < 0 || cjb_server_start(&sv, NULL) != 0)
		goto done;
	iter = cjb_median(it_r, rounds);
	iter_json = cjb_median(js_r, rounds);
	shared sh = { .port = sv.port, .token = token, .seconds = seconds,
	              .next_id = events };
	/* catch-up: 1 consumer, then N (rounds of each, interleaved; the
	 * server's frame cache holds the last 4096 events, so a round starts
	 * cold: it reads from 0) */
	sh.target = events;
	for (unsigned k = 0; k < rounds; k++) {
		one_r[k] = consumers_run(&sh, cs, 1, 1);
		all_r[k] = consumers_run(&sh, cs, consumers, 1);
	}
	double one = cjb_median(one_r, rounds), all = cjb_median(all_r, rounds);
	/* live: appends alone, then with N consumers following */
	sh.target = UINT64_MAX;
	double alone = appenders_run(&sh, threads);
	uint64_t last = events + (uint64_t)atomic_load(&sh.appended);
	sh.after = last;
	double t0 = consumers_run(&sh, cs, consumers, 0);
	usleep(200000); /* every stream open and parked before the appends start */
	double with = appenders_run(&sh, threads);
	double appends_end = cjb_now_s();
	uint64_t live = atomic_load(&sh.appended);
	atomic_store(&sh.target, live);
	double done_at = appends_end;
	for (unsigned i = 0; i < consumers; i++) {
		pthread_join(cs[i].th, NULL);
		if (cs[i].done_at > done_at)
			done_at = cs[i].done_at;
	}
	cjb_server_stop(&sv);
	int ok = !atomic_load(&sh.failed) && one > 0 && all > 0;
	double live_secs = done_at - t0 - 0.2;
	json_object_set_new(out, "benchmark", json_string("feed"));
	json_t *p = json_pack("{s:I,s:i,s:i,s:f,s:i}", "events", (json_int_t)events, "consumers",
	                      (int)consumers, "append_threads", (int)threads, "seconds", seconds,
	                      "rounds", (int)rounds);
	json_object_set_new(out, "params", p);
	json_object_set_new(out, "iterator_events_per_s", json_real(iter));
	json_object_set_new(out, "iterator_json_events_per_s", json_real(iter_json));
	json_object_set_new(out, "catch_up_1_consumer_events_per_s",
	                    json_real(one > 0 ? (double)events / one : 0));
	json_object_set_new(out, "catch_up_n_per_consumer_events_per_s",
	                    json_real(all > 0 ? (double)events / all : 0));
	json_object_set_new(out, "catch_up_n_delivered_events_per_s",
	                    json_real(all > 0 ? (double)events * consumers / all : 0));
	json_object_set_new(out, "ratio_catch_up_1_vs_iterator",
	                    json_real(one > 0 ? (double)events / one / iter : 0));
	json_object_set_new(out, "ratio_catch_up_n_delivered_vs_iterator",
	                    json_real(all > 0 ? (double)events * consumers / all / iter : 0));
	json_object_set_new(out, "append_alone_events_per_s", json_real(alone));
	json_object_set_new(out, "append_with_consumers_events_per_s", json_real(with));
	json_object_set_new(out, "ratio_append_with_vs_alone", json_real(alone > 0 ? with / alone : 0));
	json_object_set_new(out, "live_delivered_events_per_s",
	                    json_real(live_secs > 0 ? (double)live * consumers / live_secs : 0));
	json_object_set_new(out, "live_last_consumer_behind_ms",
	                    json_real((done_at - appends_end) * 1e3));
	json_object_set_new(out, "ok", json_boolean(ok));
	rc = ok ? 0 : 1;
	if (json) {
		char *t = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(6));
		puts(t);
		free(t);
	} else {
		printf("chatjournal bench feed (%llu events, %u consumers, %u appenders x %.1f s; "
		       "medians of %u rounds)\n", (unsigned long long)events, consumers, threads, seconds,
		       rounds);
		printf("  journal iterator             %10.0f events/s\n", iter);
		printf("  iterator + canonical JSON    %10.0f events/s\n", iter_json);
		printf("  catch-up, 1 stream           %10.0f events/s   (%.2f x iterator)\n",
		       one > 0 ? (double)events / one : 0, one > 0 ? (double)events / one / iter : 0);
		printf("  catch-up, %3u streams        %10.0f events/s each, %.0f delivered (%.2f x iterator)\n",
		       consumers, all > 0 ? (double)events / all : 0,
		       all > 0 ? (double)events * consumers / all : 0,
		       all > 0 ? (double)events * consumers / all / iter : 0);
		printf("  append (HTTP, batch 100)     %10.0f events/s alone, %.0f with %u streams "
		       "(%.2f x)\n", alone, with, consumers, alone > 0 ? with / alone : 0);
		printf("  live delivery                %10.0f events/s delivered; last stream done "
		       "%.0f ms after the last append%s\n",
		       live_secs > 0 ? (double)live * consumers / live_secs : 0,
		       (done_at - appends_end) * 1e3, ok ? "" : "   FAILED");
	}
done:
	json_decref(out);
	free(cs);
	if (cjb_scratch_remove(dir) != 0)
		fprintf(stderr, "chatjournal: bench feed: could not remove %s\n", dir);
	return rc;
}
