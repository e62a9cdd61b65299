/* bench/sink.c — `chatjournal bench sink --dsn DSN`: the PostgreSQL sink.
 *
 * 1. Throughput: N message events (threads, users, metadata; the shape of
 *    bench append's) applied by the sink from position 0, with COPY and
 *    with multi-row INSERT, against the baseline of a plain COPY of the very
 *    same message rows, in one transaction, into a table like
 *    chatjournal.messages (same columns, generated tsvector and indexes),
 *    measured in the same run. Target: sink (COPY) >= 0.5x the plain COPY.
 * 2. Lag: appends at a sustained RATE events/s (default 10,000, in batches
 *    of 100 every 10 ms) for SECONDS (default 10) while the sink follows;
 *    every 50 ms the sink's committed position (read on its own
 *    connection) is compared with the append log: the lag is how long ago
 *    the journal reached the position the sink has now. Target: bounded,
 *    under 2 s.
 * The database must be one the bench may write to; it uses store ids
 * "bench-PID-*" and a scratch table, and removes their rows at the end. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/sink.h"
#include "args.h"
#include "scratch.h"
#include "sink.h"

typedef struct opts {
	const char *dsn;
	uint64_t events;
	double rate, seconds;
	int json, quick;
} opts;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(FILE *f)
{
	fputs("usage: chatjournal bench sink --dsn DSN [--events N] [--rate R] [--seconds S] [--quick]"
	      " [--json]\n", f);
	return 2;
}

static cj_event *message(uint64_t i)
{
	char json[512];
	snprintf(json, sizeof json, "{\"type\":\"message\",\"thread\":\"t%llu\",\"role\":\"%s\","
	         "\"user\":\"u%llu\",\"server\":\"s%llu\",\"content\":\"message %llu about the lighthouse"
	         " keeper and the harbour seals, word%llu\",\"metadata\":{\"n\":%llu},\"ts\":%llu}",
	         (unsigned long long)(i % 500), i % 2 ? "assistant" : "user",
	         (unsigned long long)(i % 50), (unsigned long long)(i % 3), (unsigned long long)i,
	         (unsigned long long)(i % 997), (unsigned long long)i,
	         (unsigned long long)(1767225600000ull + i));
	cj_event *ev = NULL;
	cj_event_parse(&ev, json, strlen(json));
	return ev;
}

static int fill(cj_store *s, uint64_t n)
{
	enum { B = 1000 };
	cj_event *evs[B];
	for (uint64_t i = 0; i < n; i += B) {
		size_t k = n - i < B ? (size_t)(n - i) : B;
		for (size_t j = 0; j < k; j++)
			evs[j] = message(i + j);
		int rc = cj_journal_append_batch(NULL, s, (const cj_event *const *)evs, k);
		for (size_t j = 0; j < k; j++)
			cj_event_free(evs[j]);
		if (rc)
			return rc;
	}
	return 0;
}

static void copy_field(char **p, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r') {
			*(*p)++ = '\\';
			*(*p)++ = *s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : '\\';
		} else {
			*(*p)++ = *s;
		}
	}
}

/* The baseline: the same message rows, COPY'd in one transaction. */
static int plain_copy(double *secs, PGconn *pg, cj_store *s, uint64_t n)
{
	PQclear(PQexec(pg, "DROP TABLE IF EXISTS bench_plain_copy"));
	PGresult *r = PQexec(pg, "CREATE TABLE bench_plain_copy (LIKE chatjournal.messages INCLUDING ALL)");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		return -1;
	size_t cap = (size_t)n * 400 + 1024, len = 0;
	char *buf = malloc(cap);
	cj_journal_iter *it;
	if (!buf || cj_journal_iter_new(&it, s, 1)) {
		free(buf);
		return -1;
	}
	cj_record rec;
	while (cj_journal_iter_next(&rec, it) == 1) {
		char *p = buf + len, ts[32], *meta;
		cj_time_format(ts, rec.ts_ms);
		cj_event_to_canonical_json(&meta, NULL, rec.event);
		p += sprintf(p, "bench\t%llu\t", (unsigned long long)rec.seq);
		copy_field(&p, cj_event_get_string(rec.event, "thread"));
		*p++ = '\t';
		copy_field(&p, cj_event_get_string(rec.event, "user"));
		*p++ = '\t';
		copy_field(&p, cj_event_get_string(rec.event, "role"));
		*p++ = '\t';
		copy_field(&p, cj_event_get_string(rec.event, "content"));
		*p++ = '\t';
		copy_field(&p, cj_event_get_string(rec.event, "server"));
		p += sprintf(p, "\t\\N\t\\N\t{\"n\":%llu}\t\\N\t%lld\t%s\n",
		             (unsigned long long)(rec.seq - 1), (long long)rec.ts_ms, ts);
		cj_free(meta);
		len = (size_t)(p - buf);
	}
	cj_journal_iter_free(it);
	double t0 = now_s();
	PQclear(PQexec(pg, "BEGIN"));
	r = PQexec(pg, "COPY bench_plain_copy (store_id, seq, thread, \"user\", role, content, server,"
	           " channel, message_ts, metadata, id, ts_ms, ts) FROM STDIN");
	ok = PQresultStatus(r) == PGRES_COPY_IN;
	PQclear(r);
	if (ok)
		ok = PQputCopyData(pg, buf, (int)len) == 1 && PQputCopyEnd(pg, NULL) == 1;
	while ((r = PQgetResult(pg))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			ok = 0;
		PQclear(r);
	}
	PQclear(PQexec(pg, "COMMIT"));
	*secs = now_s() - t0;
	free(buf);
	PQclear(PQexec(pg, "DROP TABLE bench_plain_copy"));
	return ok ? 0 : -1;
}

static int sink_run(double *secs, cj_store *s, const char *dsn, const char *id, cj_sink_load load)
{
	cj_sink_options o = CJ_SINK_OPTIONS_INIT;
	o.dsn = dsn;
	o.store_id = id;
	o.load = load;
	cj_sink *k;
	int rc = cj_sink_open(&k, s, &o);
	if (rc)
		return rc;
	double t0 = now_s();
	uint64_t n;
	rc = cj_sink_step(&n, k);
	*secs = now_s() - t0;
	cj_sink_close(k);
	return rc;
}

/* ---- lag under load ---------------------------------------------------------- */

typedef struct lag_run {
	cj_store *s;
	double rate, seconds;
	double *t;                 /* t[i]: when seq i + 1 became durable */
	uint64_t cap;
	_Atomic uint64_t last;
	atomic_int done;
	cj_sink *k;
	int rc;
} lag_run;

static void *appender(void *arg)
{
	lag_run *L = arg;
	enum { B = 100 };
	double t0 = now_s();
	uint64_t i = 0;
	while (now_s() - t0 < L->seconds && i + B <= L->cap) {
		cj_event *evs[B];
		uint64_t seqs[B];
		for (int j = 0; j < B; j++)
			evs[j] = message(i + (uint64_t)j);
		int rc = cj_journal_append_batch(seqs, L->s, (const cj_event *const *)evs, B);
		for (int j = 0; j < B; j++)
			cj_event_free(evs[j]);
		if (rc) {
			L->rc = rc;
			break;
		}
		double t = now_s();
		for (int j = 0; j < B; j++)
			L->t[seqs[j] - 1] = t;
		atomic_store(&L->last, seqs[B - 1]);
		i += B;
		double due = t0 + (double)i / L->rate;
		if (due > t) {
			struct timespec ts = { (time_t)(due - t), (long)((due - t - (double)(time_t)(due - t)) * 1e9) };
			nanosleep(&ts, NULL);
		}
	}
	atomic_store(&L->done, 1);
	return NULL;
}

static void *sinker(void *arg)
{
	lag_run *L = arg;
	int rc = cj_sink_run(L->k, 0);
	if (rc && !L->rc)
		L->rc = rc;
	return NULL;
}

int cjb_sink_main(int argc, char **argv)
{
	opts o = { NULL, 0, 10000, 10, 0, 0 };
	static const struct option lo[] = {
		{ "dsn", required_argument, NULL, 'd' }, { "events", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' }, { "seconds", required_argument, NULL, 's' },
		{ "quick", no_argument, NULL, 'q' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.dsn = optarg; break;
		case 'n':
			if (cjb_arg_count(&o.events, "sink", "--events", optarg, UINT64_C(1) << 40))
				return usage(stderr);
			break;
		case 'r':
			if (cjb_arg_range(&o.rate, "sink", "--rate", optarg, 1, 1e7, "events per second"))
				return usage(stderr);
			break;
		case 's':
			if (cjb_arg_seconds(&o.seconds, "sink", "--seconds", optarg, 3600))
				return usage(stderr);
			break;
		case 'q': o.quick = 1; break;
		case 'j': o.json = 1; break;
		case 'h': usage(stdout); return 0;
		default: return usage(stderr);
		}
	}
	if (!o.dsn) {
		fprintf(stderr, "chatjournal: bench sink: --dsn is required (a PostgreSQL database the "
		        "bench may write to)\n");
		return usage(stderr);
	}
	if (!o.events)
		o.events = o.quick ? 10000 : 100000;
	if (o.quick)
		o.seconds = 3;
	char dir[512], err[256], store[600];
	if (cjb_scratch_new(dir, sizeof dir, NULL, err, sizeof err)) {
		fprintf(stderr, "chatjournal: bench sink: %s\n", err);
		return 1;
	}
	snprintf(store, sizeof store, "%s/store", dir);
	cj_store *s = NULL;
	PGconn *pg = PQconnectdb(o.dsn);
	int rc = PQstatus(pg) == CONNECTION_OK ? 0 : -1;
	char id_copy[64], id_insert[64], id_lag[64];
	snprintf(id_copy, sizeof id_copy, "bench-%d-copy", (int)getpid());
	snprintf(id_insert, sizeof id_insert, "bench-%d-insert", (int)getpid());
	snprintf(id_lag, sizeof id_lag, "bench-%d-lag", (int)getpid());
	double t_plain = 0, t_copy = 0, t_insert = 0, lag_max = 0, lag_sum = 0;
	uint64_t samples = 0, lag_events = 0;
	if (rc)
		fprintf(stderr, "chatjournal: bench sink: %s", PQerrorMessage(pg));
	cj_store_options so = CJ_STORE_OPTIONS_INIT;
	so.no_materializer = 1;
	if (!rc && ((rc = cj_store_init(store, &so)) || (rc = cj_store_open(&s, store, &so)) ||
	            (rc = fill(s, o.events))))
		fprintf(stderr, "chatjournal: bench sink: store: %s\n", cj_error_last());
	/* The sink first (it creates the schema the baseline's table copies). */
	if (!rc && (rc = sink_run(&t_copy, s, o.dsn, id_copy, CJ_SINK_LOAD_COPY)))
		fprintf(stderr, "chatjournal: bench sink: %s\n", cj_error_last());
	if (!rc && (rc = sink_run(&t_insert, s, o.dsn, id_insert, CJ_SINK_LOAD_INSERT)))
		fprintf(stderr, "chatjournal: bench sink: %s\n", cj_error_last());
	if (!rc && (rc = plain_copy(&t_plain, pg, s, o.events)))
		fprintf(stderr, "chatjournal: bench sink: plain COPY: %s", PQerrorMessage(pg));
	cj_store_close(s);
	s = NULL;
	/* Lag: a fresh store, appends at the rate while the sink follows. */
	lag_run L;
	memset(&L, 0, sizeof L);
	char store2[600];
	snprintf(store2, sizeof store2, "%s/lag", dir);
	if (!rc && ((rc = cj_store_init(store2, &so)) || (rc = cj_store_open(&s, store2, &so))))
		fprintf(stderr, "chatjournal: bench sink: store: %s\n", cj_error_last());
	if (!rc) {
		L.s = s;
		L.rate = o.rate;
		L.seconds = o.seconds;
		L.cap = (uint64_t)(o.rate * o.seconds) + 1000;
		L.t = calloc(L.cap, sizeof *L.t);
		cj_sink_options sk = CJ_SINK_OPTIONS_INIT;
		sk.dsn = o.dsn;
		sk.store_id = id_lag;
		rc = cj_sink_open(&L.k, s, &sk);
	}
	if (!rc) {
		pthread_t ta, ts;
		pthread_create(&ts, NULL, sinker, &L);
		pthread_create(&ta, NULL, appender, &L);
		const char *p[1] = { id_lag };
		while (!atomic_load(&L.done)) {
			struct timespec w = { 0, 50000000 };
			nanosleep(&w, NULL);
			PGresult *r = PQexecParams(pg, "SELECT seq FROM chatjournal.sink_position WHERE store_id = $1",
			                           1, NULL, p, NULL, NULL, 0);
			uint64_t pos = PQntuples(r) ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
			PQclear(r);
			uint64_t last = atomic_load(&L.last);
			double now = now_s();
			/* The oldest durable event the sink does not have yet. */
			double lag = pos < last && L.t[pos] > 0 ? now - L.t[pos] : 0;
			lag_max = lag > lag_max ? lag : lag_max;
			lag_sum += lag;
			samples++;
			if (last - pos > lag_events)
				lag_events = last - pos;
		}
		pthread_join(ta, NULL);
		uint64_t last = atomic_load(&L.last);
		double t0 = now_s();
		const char *p2[1] = { id_lag };
		for (;;) {
			PGresult *r = PQexecParams(pg, "SELECT seq FROM chatjournal.sink_position WHERE store_id = $1",
			                           1, NULL, p2, NULL, NULL, 0);
			uint64_t pos = PQntuples(r) ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
			PQclear(r);
			if (pos >= last || now_s() - t0 > 60)
				break;
			struct timespec w = { 0, 10000000 };
			nanosleep(&w, NULL);
		}
		cj_sink_stop(L.k);
		pthread_join(ts, NULL);
		rc = L.rc;
		lag_events = lag_events ? lag_events : 0;
	}
	cj_sink_close(L.k);
	free(L.t);
	cj_store_close(s);
	/* Leave the database as it was. */
	static const char *const tables[] = { "users", "threads", "user_threads", "messages",
	                                      "message_costs", "blobs", "images", "settings",
	                                      "config_changes", "metrics", "sink_position" };
	for (size_t i = 0; PQstatus(pg) == CONNECTION_OK && i < sizeof tables / sizeof *tables; i++) {
		char sql[200];
		snprintf(sql, sizeof sql, "DELETE FROM chatjournal.%s WHERE store_id LIKE 'bench-%d-%%'",
		         tables[i], (int)getpid());
		PQclear(PQexec(pg, sql));
	}
	PQfinish(pg);
	cjb_scratch_remove(dir);
	if (rc)
		return 1;
	double la[3] = { 0, 0, 0 };
	getloadavg(la, 3);
	double ev = (double)o.events;
	if (o.json) {
		printf("{\"events\": %llu, \"plain_copy_per_s\": %.0f, \"sink_copy_per_s\": %.0f,"
		       " \"sink_insert_per_s\": %.0f, \"sink_copy_vs_plain\": %.3f, \"insert_vs_copy\": %.3f,"
		       " \"rate\": %.0f, \"seconds\": %.1f, \"lag_max_s\": %.3f, \"lag_mean_s\": %.3f,"
		       " \"lag_max_events\": %llu, \"loadavg\": %.2f}\n", (unsigned long long)o.events,
		       ev / t_plain, ev / t_copy, ev / t_insert, t_plain / t_copy, t_copy / t_insert, o.rate,
		       o.seconds, lag_max, samples ? lag_sum / (double)samples : 0,
		       (unsigned long long)lag_events, la[0]);
	} else {
		printf("bench sink: %llu message events (load average %.2f)\n", (unsigned long long)o.events, la[0]);
		printf("  plain COPY of the same rows   %9.0f rows/s   (%.2f s)\n", ev / t_plain, t_plain);
		printf("  sink, COPY                    %9.0f events/s (%.2f s)  %.2fx the plain COPY (target >= 0.5x)\n",
		       ev / t_copy, t_copy, t_plain / t_copy);
		printf("  sink, multi-row INSERT        %9.0f events/s (%.2f s)  %.2fx the sink with COPY\n",
		       ev / t_insert, t_insert, t_copy / t_insert);
		printf("  lag at %.0f events/s for %.0f s: max %.3f s, mean %.3f s, at most %llu events behind"
		       " (target: bounded, < 2 s)\n", o.rate, o.seconds, lag_max,
		       samples ? lag_sum / (double)samples : 0, (unsigned long long)lag_events);
	}
	return 0;
}
