/* bench/projection.c — `chatjournal bench materialize` and `bench query`:
 * the SQLite projection. materialize: replay N message events into a fresh
 * projection against, in the same run, the baseline of a plain
 * one-transaction bulk insert of the same rows with FTS5; the live
 * materializer's catch-up; sustained appends with the lag sampled each second.
 * query: latency of the reads bots make, on the same N-event store. */
#include <getopt.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <jansson.h>
#include "chatjournal/chatjournal.h"
#include "args.h"
#include "projection.h"
#include "scratch.h"
#include "corpus.h"

/* The baseline: the same rows into one table plus an FTS5 table written
 * explicitly, in one plain transaction (default pragmas). */
static double baseline(const char *path, uint64_t n)
{
	unlink(path);
	sqlite3 *db;
	if (sqlite3_open(path, &db))
		return -1;
	sqlite3_exec(db,
	             "CREATE TABLE messages (seq INTEGER PRIMARY KEY, thread TEXT NOT NULL, role TEXT NOT NULL,"
	             " content TEXT NOT NULL, user TEXT, server TEXT, ts_ms INTEGER NOT NULL);"
	             "CREATE INDEX messages_thread ON messages (thread, seq);"
	             "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content=messages);",
	             NULL, NULL, NULL);
	sqlite3_stmt *ins, *fts;
	sqlite3_prepare_v2(db, "INSERT INTO messages VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &ins, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO messages_fts (rowid, content) VALUES (?1, ?2)", -1, &fts, NULL);
	double t0 = cjb_now_s();
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (uint64_t i = 0; i < n; i++) {
		char content[400], thread[32], user[32];
		cjb_corpus_content(i, content, sizeof content);
		snprintf(thread, sizeof thread, "thread-%llu", (unsigned long long)(i % CJB_CORPUS_THREADS));
		snprintf(user, sizeof user, "user-%llu", (unsigned long long)(i % CJB_CORPUS_USERS));
		sqlite3_bind_int64(ins, 1, (int64_t)i + 1);
		sqlite3_bind_text(ins, 2, thread, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 3, i % 2 ? "assistant" : "user", -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, content, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 5, user, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 6, "bench-server", -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 7, 1790000000000LL + (int64_t)i * 1000);
		sqlite3_step(ins);
		sqlite3_reset(ins);
		sqlite3_bind_int64(fts, 1, (int64_t)i + 1);
		sqlite3_bind_text(fts, 2, content, -1, SQLITE_TRANSIENT);
		sqlite3_step(fts);
		sqlite3_reset(fts);
	}
	int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	double t = cjb_now_s() - t0;
	sqlite3_finalize(ins);
	sqlite3_finalize(fts);
	sqlite3_close(db);
	return rc == SQLITE_OK ? t : -1;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

typedef struct lat { double p50_us, p99_us; } lat;

static lat percentiles(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_d);
	lat l = { v[n / 2] * 1e6, v[(size_t)((double)n * 0.99)] * 1e6 };
	return l;
}

typedef struct opts {
	uint64_t events;
	int json, quick;
	double lag_seconds;
	const char *base;  /* --dir: where the scratch folder goes (NULL: $TMPDIR or /tmp) */
	char dir[512];     /* the scratch folder, BASE/cjbench-XXXXXX: the only thing removed */
} opts;

static int usage(const char *name)
{
	fprintf(stderr,
	        "usage: chatjournal bench %s [--events N] [--quick] [--json] [--dir DIR]%s\n", name,
	        strcmp(name, "materialize") ? "" : " [--lag-seconds S]");
	return 2;
}

static int parse(int argc, char **argv, opts *o, const char *name)
{
	memset(o, 0, sizeof *o);
	o->events = 1000000;
	o->lag_seconds = -1; /* not given */
	static const struct option lo[] = {
		{ "events", required_argument, NULL, 'n' }, { "quick", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' }, { "dir", required_argument, NULL, 'd' },
		{ "lag-seconds", required_argument, NULL, 'l' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (cjb_arg_count(&o->events, name, "--events", optarg, UINT64_C(1) << 40))
				return usage(name);
			break;
		case 'q': o->quick = 1; break;
		case 'j': o->json = 1; break;
		case 'd': o->base = optarg; break;
		case 'l':
			if (cjb_arg_range(&o->lag_seconds, name, "--lag-seconds", optarg, 0, 3600, "seconds"))
				return usage(name);
			break;
		case 'h': usage(name); return 1;
		default: return usage(name);
		}
	}
	if (o->quick)
		o->events = o->events == 1000000 ? 20000 : o->events;
	/* --quick shortens the sustained phase unless --lag-seconds is given. */
	if (o->lag_seconds < 0)
		o->lag_seconds = o->quick ? 3 : 60;
	if (!o->events)
		return usage(name);
	return 0;
}

/* Remove the scratch folder (never --dir itself: a user's --dir /srv/data
 * must survive the bench). No shell, no symlinks followed. */
static void remove_scratch(const char *name, const char *dir)
{
	if (cjb_scratch_remove(dir) != 0)
		fprintf(stderr, "chatjournal: bench %s: could not remove %s\n", name, dir);
}

/* Build the store: N events appended (materializer on), then the projection
 * removed and rebuilt live from zero to time the catch-up. */
static int build_store(const opts *o, const char *store, json_t *out)
{
	double ta;
	if (cjb_corpus_store(store, o->events, &ta))
		return -1;
	cj_store *s;
	uint64_t last = o->events;
	int rc;
	json_object_set_new(out, "append_batch_1000_events_per_s", json_real((double)o->events / ta));
	/* Live catch-up from an empty projection. */
	char p[700];
	const char *ext[] = { "", "-wal", "-shm" };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/chat.sqlite%s", store, ext[i]);
		unlink(p);
	}
	double t0 = cjb_now_s();
	if (cj_store_open(&s, store, NULL))
		return -1;
	rc = cj_wait_applied(s, last, 3600 * 1000);
	double tl = cjb_now_s() - t0;
	cj_store_close(s);
	json_object_set_new(out, "live_catch_up_events_per_s", json_real((double)o->events / tl));
	return rc ? -1 : 0;
}

static int bench_materialize(const opts *o, json_t *out)
{
	char store[600], file[700], base[700];
	snprintf(store, sizeof store, "%s/store", o->dir);
	if (build_store(o, store, out))
		return -1;
	snprintf(base, sizeof base, "%s/baseline.sqlite", o->dir);
	double tb = baseline(base, o->events);
	if (tb < 0)
		return -1;
	cj_store_options so = CJ_STORE_OPTIONS_INIT;
	so.read_only = 1;
	cj_store *s;
	if (cj_store_open(&s, store, &so))
		return -1;
	snprintf(file, sizeof file, "%s/replay.sqlite", o->dir);
	double t0 = cjb_now_s();
	int rc = cj_projection_replay(s, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, file, 0, 0, NULL, NULL });
	double tr = cjb_now_s() - t0;
	cj_store_close(s);
	if (rc)
		return -1;
	double eb = (double)o->events / tb, er = (double)o->events / tr;
	json_object_set_new(out, "baseline_bulk_fts_events_per_s", json_real(eb));
	json_object_set_new(out, "replay_events_per_s", json_real(er));
	json_object_set_new(out, "replay_seconds", json_real(tr));
	json_object_set_new(out, "ratio_replay_vs_baseline", json_real(er / eb));
	double live = json_real_value(json_object_get(out, "live_catch_up_events_per_s"));
	json_object_set_new(out, "ratio_live_vs_baseline", json_real(live / eb));

	/* Sustained load: appenders at full speed (batches of 100), lag sampled. */
	if (cj_store_open(&s, store, NULL))
		return -1;
	json_t *samples = json_array();
	uint64_t next = o->events, max_lag = 0;
	double start = cjb_now_s(), tick = start + 1;
	cj_event *evs[100];
	while (cjb_now_s() - start < o->lag_seconds) {
		for (int j = 0; j < 100; j++)
			cjb_corpus_event(next + (uint64_t)j, &evs[j]);
		rc = cj_journal_append_batch(NULL, s, (const cj_event *const *)evs, 100);
		for (int j = 0; j < 100; j++)
			cj_event_free(evs[j]);
		if (rc)
			break;
		next += 100;
		if (cjb_now_s() >= tick) {
			uint64_t last = 0, pos = 0;
			cj_journal_last_seq(&last, s);
			cj_projection_position(&pos, s);
			uint64_t lag = last - pos;
			if (lag > max_lag)
				max_lag = lag;
			json_array_append_new(samples, json_integer((json_int_t)lag));
			tick += 1;
		}
	}
	double appended_s = cjb_now_s() - start;
	uint64_t last = 0;
	cj_journal_last_seq(&last, s);
	double tc = cjb_now_s();
	cj_wait_applied(s, last, 3600 * 1000);
	double drain = cjb_now_s() - tc;
	cj_store_close(s);
	json_object_set_new(out, "sustained_append_events_per_s",
	                    json_real((double)(next - o->events) / appended_s));
	json_object_set_new(out, "sustained_lag_samples", samples);
	json_object_set_new(out, "sustained_max_lag_events", json_integer((json_int_t)max_lag));
	json_object_set_new(out, "sustained_drain_seconds", json_real(drain));
	return rc ? -1 : 0;
}

typedef int (*query_fn)(cj_store *s, uint64_t i, char **out);

/* Thread i's last 50; before = 0 (the newest, from messages_tail) or a
 * bound, which is never answered from the copy. */
static int history_read(cj_store *s, uint64_t i, char **out, uint64_t before)
{
	char t[32];
	snprintf(t, sizeof t, "thread-%llu", (unsigned long long)(i * 7919 % CJB_CORPUS_THREADS));
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = t;
	q.limit = 50;
	q.before = before;
	return cj_query_history(out, s, &q);
}
static int q_history(cj_store *s, uint64_t i, char **out)
{
	return history_read(s, i, out, 0);
}
/* The same read through messages, as before schema 9: what the copy buys,
 * in this run, and the read a user's conversation (also one row fetch per
 * message) is held against. */
static int q_history_messages(cj_store *s, uint64_t i, char **out)
{
	return history_read(s, i, out, INT64_MAX);
}

/* A user's conversation (GET /v1/users/{u}/messages): the last 50 of the
 * user's messages across its threads (the corpus gives each user 2 threads),
 * on the corpus's one server, or across every server (messages_by_user_seq). */
static int q_user(cj_store *s, uint64_t i, char **out, const char *server)
{
	char u[32];
	snprintf(u, sizeof u, "user-%llu", (unsigned long long)(i * 7919 % CJB_CORPUS_USERS));
	cj_user_messages_query q = CJ_USER_MESSAGES_QUERY_INIT;
	q.user = u;
	q.server = server;
	q.limit = 50;
	return cj_query_user_messages(out, NULL, s, &q);
}
static int q_user_server(cj_store *s, uint64_t i, char **out)
{
	return q_user(s, i, out, "bench-server");
}
static int q_user_all(cj_store *s, uint64_t i, char **out)
{
	return q_user(s, i, out, NULL);
}

/* What messages_by_user_seq (migration 5) buys, in the same run: the raw SQL
 * of the all-servers read (seq only) forced onto the index the store had
 * before, (user_rowid, server), against the new one. */
static int time_sql_user(const char *db_path, const char *index, unsigned n, json_t *out,
                         const char *key)
{
	sqlite3 *db;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	char sql[400];
	snprintf(sql, sizeof sql, "SELECT seq FROM messages INDEXED BY %s WHERE user_rowid ="
	         " (SELECT user_rowid FROM users WHERE user = ?1) ORDER BY seq DESC LIMIT 51", index);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK ? 0 : -1;
	double *v = rc ? NULL : malloc(n * sizeof *v);
	for (unsigned i = 0; v && i < n; i++) {
		char u[32];
		snprintf(u, sizeof u, "user-%llu", (unsigned long long)(i * 7919 % CJB_CORPUS_USERS));
		double t0 = cjb_now_s();
		sqlite3_bind_text(st, 1, u, -1, SQLITE_TRANSIENT);
		while (sqlite3_step(st) == SQLITE_ROW)
			;
		sqlite3_reset(st);
		v[i] = cjb_now_s() - t0;
	}
	int ok = v != NULL;
	if (ok) {
		lat l = percentiles(v, n);
		json_object_set_new(out, key, json_pack("{s:f,s:f,s:i}", "p50_us", l.p50_us, "p99_us",
		                                        l.p99_us, "queries", (int)n));
	}
	free(v);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok ? 0 : -1;
}

static uint64_t g_events;
static int q_rare(cj_store *s, uint64_t i, char **out)
{
	char w[32];
	snprintf(w, sizeof w, "uq%llu", (unsigned long long)(i * 104729 % g_events));
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = w;
	return cj_query_search(out, s, &q);
}

static int q_common(cj_store *s, uint64_t i, char **out)
{
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = CJB_CORPUS_WORDS[i % CJB_CORPUS_NWORDS];
	q.limit = 20;
	return cj_query_search(out, s, &q);
}

/* A common word ranked by relevance (bm25 over its bounded candidate set:
 * docs/http.md, "rank"). */
static int q_common_ranked(cj_store *s, uint64_t i, char **out)
{
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = CJB_CORPUS_WORDS[i % CJB_CORPUS_NWORDS];
	q.limit = 20;
	q.rank = CJ_RANK_RELEVANCE;
	return cj_query_search(out, s, &q);
}

static int q_common_scoped(cj_store *s, uint64_t i, char **out)
{
	char t[32];
	snprintf(t, sizeof t, "thread-%llu", (unsigned long long)(i * 7919 % CJB_CORPUS_THREADS));
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = CJB_CORPUS_WORDS[i % CJB_CORPUS_NWORDS];
	q.thread = t;
	q.limit = 20;
	return cj_query_search(out, s, &q);
}

static int time_query(cj_store *s, query_fn fn, unsigned n, json_t *out, const char *key)
{
	double *v = malloc(n * sizeof *v);
	if (!v)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		char *j = NULL;
		double t0 = cjb_now_s();
		int rc = fn(s, i, &j);
		v[i] = cjb_now_s() - t0;
		cj_free(j);
		if (rc) {
			fprintf(stderr, "bench query %s: %s\n", key, cj_error_last());
			free(v);
			return -1;
		}
	}
	lat l = percentiles(v, n);
	free(v);
	json_object_set_new(out, key, json_pack("{s:f,s:f,s:i}", "p50_us", l.p50_us, "p99_us", l.p99_us,
	                                        "queries", (int)n));
	return 0;
}

/* How this machine's shared cache answers at this moment: the time per hop
 * of a pointer chase through 4 MiB in a random cycle (an L3-sized working
 * set; 2,000,000 hops). On this VM it moved from 22 to 118 ns between
 * minutes while a CPU-bound loop did not move (docs/performance.md,
 * "History"): other tenants share the L3. Printed beside the history
 * figures to say in which state they were taken; it decides nothing. */
static double cache_probe_ns(void)
{
	enum { N = (4 << 20) / 4, HOPS = 2000000 };
	uint32_t *c = malloc(N * sizeof *c);
	if (!c)
		return 0;
	for (uint32_t i = 0; i < N; i++)
		c[i] = i;
	uint64_t r = 0x9e3779b97f4a7c15u;
	for (uint32_t i = N - 1; i > 0; i--) { /* Sattolo: one cycle through every slot */
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		uint32_t k = (uint32_t)(r % i), t = c[i];
		c[i] = c[k];
		c[k] = t;
	}
	uint32_t j = 0;
	for (int i = 0; i < HOPS / 4; i++) /* warm */
		j = c[j];
	double t0 = cjb_now_s();
	for (int i = 0; i < HOPS; i++)
		j = c[j];
	double ns = (cjb_now_s() - t0) * 1e9 / HOPS;
	volatile uint32_t keep = j;
	(void)keep;
	free(c);
	return ns;
}

static int bench_query(const opts *o, json_t *out)
{
	char store[600];
	snprintf(store, sizeof store, "%s/store", o->dir);
	if (build_store(o, store, out))
		return -1;
	cjb_scratch_settle(o->dir);
	cj_store_options so = CJ_STORE_OPTIONS_INIT;
	so.read_only = 1;
	cj_store *s;
	if (cj_store_open(&s, store, &so))
		return -1;
	g_events = o->events;
	unsigned n = o->quick ? 300 : 3000;
	json_object_set_new(out, "cache_probe_ns_before_history", json_real(cache_probe_ns()));
	int rc = time_query(s, q_history, n, out, "history_last_50");
	json_object_set_new(out, "cache_probe_ns_after_history", json_real(cache_probe_ns()));
	if (!rc) rc = time_query(s, q_history_messages, n, out, "history_last_50_via_messages");
	if (!rc) rc = time_query(s, q_user_server, n, out, "user_messages_last_50");
	if (!rc) rc = time_query(s, q_user_all, n, out, "user_messages_all_servers_last_50");
	char db_path[700];
	snprintf(db_path, sizeof db_path, "%s/chat.sqlite", store);
	if (!rc) rc = time_sql_user(db_path, "messages_by_user", n, out, "user_sql_old_index_user_server");
	if (!rc) rc = time_sql_user(db_path, "messages_by_user_seq", n, out, "user_sql_new_index_user_seq");
	if (!rc) {
		double a = json_real_value(json_object_get(json_object_get(out, "user_sql_old_index_user_server"), "p50_us"));
		double b = json_real_value(json_object_get(json_object_get(out, "user_sql_new_index_user_seq"), "p50_us"));
		json_object_set_new(out, "ratio_user_sql_old_vs_new_index_p50", json_real(b > 0 ? a / b : 0));
	}
	if (!rc) {
		/* the user read against the thread read through messages, and
		 * the thread read from messages_tail against it, in this run */
		double h = json_real_value(json_object_get(json_object_get(out, "history_last_50"), "p50_us"));
		double m = json_real_value(json_object_get(json_object_get(out, "history_last_50_via_messages"),
		                                           "p50_us"));
		double u = json_real_value(json_object_get(json_object_get(out, "user_messages_last_50"), "p50_us"));
		json_object_set_new(out, "ratio_user_vs_history_via_messages",
		                    json_real(m > 0 ? u / m : 0));
		json_object_set_new(out, "ratio_history_via_messages_vs_tail", json_real(h > 0 ? m / h : 0));
	}
	if (!rc) rc = time_query(s, q_rare, n, out, "search_rare_word");
	if (!rc) rc = time_query(s, q_common, n / 10, out, "search_common_word_newest_20");
	if (!rc) rc = time_query(s, q_common_ranked, n / 10, out, "search_common_word_ranked_20");
	if (!rc) rc = time_query(s, q_common_scoped, n / 10, out, "search_common_word_in_thread_20");
	cj_store_close(s);
	return rc;
}

static void print_text(const char *name, json_t *out)
{
	printf("chatjournal bench %s (%s)\n", name, json_string_value(json_object_get(out, "date")));
	const char *k;
	json_t *v;
	json_object_foreach(out, k, v) {
		if (json_is_real(v))
			printf("  %-36s %14.1f\n", k, json_real_value(v));
		else if (json_is_integer(v))
			printf("  %-36s %14lld\n", k, (long long)json_integer_value(v));
		else if (json_is_object(v) && strcmp(k, "targets"))
			printf("  %-36s p50 %8.1f us   p99 %8.1f us\n", k,
			       json_real_value(json_object_get(v, "p50_us")),
			       json_real_value(json_object_get(v, "p99_us")));
	}
}

/* The targets of docs/performance.md ("Targets"). A --quick run (20k
 * events) is not comparable with them: it says so. */
static void targets(const char *name, json_t *out, int quick)
{
	json_t *t = json_object();
	if (!strcmp(name, "materialize")) {
		double r = json_real_value(json_object_get(out, "ratio_replay_vs_baseline"));
		double live = json_real_value(json_object_get(out, "ratio_live_vs_baseline"));
		double ev = json_real_value(json_object_get(out, "replay_events_per_s"));
		json_object_set_new(t, "replay_vs_baseline_ge_1.5", json_boolean(r >= 1.5));
		json_object_set_new(t, "live_catch_up_vs_baseline_ge_1.0", json_boolean(live >= 1.0));
		json_object_set_new(t, "replay_1M_le_30s", json_boolean(ev > 0 && 1e6 / ev <= 30));
	} else {
		json_t *h = json_object_get(out, "history_last_50");
		json_t *r = json_object_get(out, "search_rare_word");
		json_t *c = json_object_get(out, "search_common_word_ranked_20");
		json_object_set_new(t, "history_p50_le_100us",
		                    json_boolean(json_real_value(json_object_get(h, "p50_us")) <= 100));
		/* the user read walks its index like the thread read through
		 * messages: within 2x of it (a sort would show) */
		json_t *u = json_object_get(out, "user_messages_last_50");
		json_t *hm = json_object_get(out, "history_last_50_via_messages");
		json_object_set_new(t, "user_messages_p50_le_2x_history_via_messages",
		                    json_boolean(json_real_value(json_object_get(u, "p50_us")) <=
		                                 2 * json_real_value(json_object_get(hm, "p50_us"))));
		json_object_set_new(t, "rare_word_p50_le_1ms",
		                    json_boolean(json_real_value(json_object_get(r, "p50_us")) <= 1000));
		json_object_set_new(t, "ranked_common_word_p50_le_50ms",
		                    json_boolean(json_real_value(json_object_get(c, "p50_us")) <= 50000));
	}
	json_object_set_new(out, "targets", t);
	json_object_set_new(out, "comparable_with_targets", json_boolean(!quick));
}

int cjb_projection_main(int argc, char **argv)
{
	const char *name = argv[1];
	opts o;
	int rc = parse(argc, argv, &o, name);
	if (rc)
		return rc == 1 ? 0 : rc;
	char err[600];
	if (cjb_scratch_new(o.dir, sizeof o.dir, o.base, err, sizeof err) != 0) {
		fprintf(stderr, "chatjournal: bench %s: %s\n", name, err);
		return 1;
	}
	json_t *out = json_object();
	time_t now = time(NULL);
	char date[32];
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_object_set_new(out, "benchmark", json_string(name));
	json_object_set_new(out, "date", json_string(date));
	json_object_set_new(out, "events", json_integer((json_int_t)o.events));
	rc = !strcmp(name, "materialize") ? bench_materialize(&o, out) : bench_query(&o, out);
	if (rc) {
		fprintf(stderr, "chatjournal: bench %s: %s\n", name, cj_error_last());
		json_decref(out);
		remove_scratch(name, o.dir);
		return 1;
	}
	targets(name, out, o.quick);
	if (o.json) {
		char *t = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(6));
		puts(t);
		free(t);
	} else {
		print_text(name, out);
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(out, "targets"), k, v)
			printf("  target %-40s %s\n", k, json_is_true(v) ? "PASS" : "MISS");
		if (o.quick)
			printf("  (--quick: %llu events, not comparable with the targets, which are for "
			       "1M events)\n", (unsigned long long)o.events);
	}
	json_decref(out);
	remove_scratch(name, o.dir);
	return 0;
}
