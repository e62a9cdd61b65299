/* tests/projection/test_isolation.c — no caller sees data outside its scope.
 * Random operations (seeded; the seed is printed, CJ_TEST_SEED repeats it)
 * over 6 servers, 10 users and 20 threads: messages, images, delete_thread,
 * clear_history (one server or all), purge, user events. An in-memory model
 * follows them. After each phase, for many (thread, user, server) scopes,
 * history, images and search return exactly the model's rows, and every row
 * carries the requested thread/user/server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "putil.h"

#define NSERVERS 6
#define NUSERS 10
#define NTHREADS 20
#define PHASES 4
#define OPS_PER_PHASE 220
#define MAX_ITEMS (PHASES * OPS_PER_PHASE)
#define WAIT_MS 20000

typedef struct item {
	uint64_t seq;
	int image;
	int thread, user, server;   /* -1: none */
	int64_t ts;
	int alive;
	char content[96];
} item;

typedef struct model {
	item v[MAX_ITEMS];
	size_t n;
	int thread_server_known[NTHREADS]; /* a message with server seen since the thread (re)started */
	int64_t clock;
	unsigned counter;
} model;

typedef struct fixture {
	tu_fixture tu;
	model m;
	uint64_t rng;
	unsigned queries;
} fixture;

static int setup(void **state)
{
	if (tu_fixture_setup_ex(state, sizeof(fixture), "proj-iso", NULL, 0) != 0)
		return -1;
	fixture *f = *state;
	uint64_t seed = tu_env_ulong("CJ_TEST_SEED", 0);
	if (!seed)
		seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL + (uint64_t)clock();
	if (!seed)
		seed = 1;
	printf("isolation seed: %llu (set CJ_TEST_SEED to repeat)\n", (unsigned long long)seed);
	f->rng = seed;
	f->m.clock = PU_T0;
	return 0;
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

static unsigned rnd(fixture *f, unsigned n) { return (unsigned)(tu_rand(&f->rng) % n); }

/* ---- operations ----------------------------------------------------------- */

enum { OP_MSG, OP_IMG, OP_DEL, OP_CLEAR, OP_PURGE, OP_USER };

typedef struct pending {
	int op;
	item it;              /* OP_MSG / OP_IMG */
	int thread, user, server;
	int64_t before;
	char json[512];
} pending;

static void make_op(fixture *f, pending *p)
{
	model *m = &f->m;
	memset(p, 0, sizeof *p);
	unsigned r = rnd(f, 100);
	m->clock += 1000 + rnd(f, 1000);
	int t = (int)rnd(f, NTHREADS);
	if (r < 82) {
		p->op = OP_MSG;
		item *it = &p->it;
		it->thread = t;
		it->user = rnd(f, 10) == 0 ? -1 : (int)rnd(f, NUSERS);
		it->server = rnd(f, 10) == 0 ? -1 : t % NSERVERS;
		it->ts = m->clock;
		char who[16] = "nouser";
		if (it->user >= 0)
			snprintf(who, sizeof who, "u%d", it->user);
		snprintf(it->content, sizeof it->content, "common %s t%d n%u", who, t, m->counter++);
		char user[32] = "", server[32] = "";
		if (it->user >= 0)
			snprintf(user, sizeof user, ",\"user\":\"U%d\"", it->user);
		if (it->server >= 0)
			snprintf(server, sizeof server, ",\"server\":\"S%d\"", it->server);
		snprintf(p->json, sizeof p->json,
		         "{\"type\":\"message\",\"thread\":\"T%d\",\"role\":\"%s\",\"content\":\"%s\"%s%s,\"ts\":%lld}",
		         t, it->user < 0 ? "assistant" : "user", it->content, user, server, (long long)it->ts);
	} else if (r < 89) {
		p->op = OP_IMG;
		item *it = &p->it;
		it->image = 1;
		it->thread = t;
		it->user = it->server = -1;
		it->ts = m->clock;
		snprintf(it->content, sizeof it->content, "pic t%d n%u", t, m->counter++);
		snprintf(p->json, sizeof p->json,
		         "{\"type\":\"image\",\"thread\":\"T%d\",\"url\":\"https://x/%u\",\"prompt\":\"%s\",\"ts\":%lld}",
		         t, m->counter, it->content, (long long)it->ts);
	} else if (r < 91) {
		p->op = OP_DEL;
		p->thread = t;
		snprintf(p->json, sizeof p->json, "{\"type\":\"delete_thread\",\"thread\":\"T%d\",\"ts\":%lld}", t,
		         (long long)m->clock);
	} else if (r < 96) {
		p->op = OP_CLEAR;
		p->user = (int)rnd(f, NUSERS);
		p->server = rnd(f, 3) == 0 ? -1 : (int)rnd(f, NSERVERS);
		char server[32] = "";
		if (p->server >= 0)
			snprintf(server, sizeof server, ",\"server\":\"S%d\"", p->server);
		snprintf(p->json, sizeof p->json, "{\"type\":\"clear_history\",\"user\":\"U%d\"%s,\"ts\":%lld}",
		         p->user, server, (long long)m->clock);
	} else if (r < 97) {
		p->op = OP_PURGE;
		/* Somewhere in the first tenth of what was written so far. */
		p->before = PU_T0 + (m->clock - PU_T0) / 10;
		snprintf(p->json, sizeof p->json, "{\"type\":\"purge\",\"before\":%lld,\"ts\":%lld}",
		         (long long)p->before, (long long)m->clock);
	} else {
		p->op = OP_USER;
		snprintf(p->json, sizeof p->json,
		         "{\"type\":\"user\",\"user\":\"U%u\",\"username\":\"name%u\",\"ts\":%lld}",
		         rnd(f, NUSERS), rnd(f, 100), (long long)m->clock);
	}
}

static void model_apply(model *m, const pending *p, uint64_t seq)
{
	switch (p->op) {
	case OP_MSG:
	case OP_IMG:
		assert_true(m->n < MAX_ITEMS);
		m->v[m->n] = p->it;
		m->v[m->n].seq = seq;
		m->v[m->n].alive = 1;
		m->n++;
		if (p->op == OP_MSG && p->it.server >= 0)
			m->thread_server_known[p->it.thread] = 1;
		break;
	case OP_DEL:
		for (size_t i = 0; i < m->n; i++)
			if (m->v[i].thread == p->thread)
				m->v[i].alive = 0;
		m->thread_server_known[p->thread] = 0;
		break;
	case OP_CLEAR:
		for (size_t i = 0; i < m->n; i++)
			if (!m->v[i].image && m->v[i].user == p->user &&
			    (p->server < 0 || m->v[i].server == p->server))
				m->v[i].alive = 0;
		break;
	case OP_PURGE:
		for (size_t i = 0; i < m->n; i++)
			if (m->v[i].ts < p->before)
				m->v[i].alive = 0;
		break;
	default:
		break;
	}
}

static void run_phase(fixture *f)
{
	enum { CHUNK = 40 };
	pending *ps = calloc(CHUNK, sizeof *ps);
	assert_non_null(ps);
	uint64_t last = 0;
	for (unsigned done = 0; done < OPS_PER_PHASE;) {
		unsigned n = OPS_PER_PHASE - done < CHUNK ? OPS_PER_PHASE - done : CHUNK;
		cj_event *evs[CHUNK];
		uint64_t seqs[CHUNK];
		for (unsigned i = 0; i < n; i++) {
			make_op(f, &ps[i]);
			evs[i] = NULL;
			TU_OK(cj_event_parse(&evs[i], ps[i].json, strlen(ps[i].json)));
		}
		TU_OK(cj_journal_append_batch(seqs, f->tu.s, (const cj_event *const *)evs, n));
		for (unsigned i = 0; i < n; i++) {
			model_apply(&f->m, &ps[i], seqs[i]);
			cj_event_free(evs[i]);
			if (i)
				assert_int_equal(seqs[i], seqs[i - 1] + 1);
		}
		last = seqs[n - 1];
		done += n;
	}
	free(ps);
	TU_OK(cj_wait_applied(f->tu.s, last, WAIT_MS));
}

/* ---- checks --------------------------------------------------------------- */

/* Does item it belong to the scope (thread/user/server, -1 = any)? */
static int msg_in(const item *it, int thread, int user, int server)
{
	return it->alive && !it->image && (thread < 0 || it->thread == thread) &&
	       (user < 0 || it->user == user) && (server < 0 || it->server == server);
}

static void name(char *out, size_t n, char c, int v)
{
	if (v < 0)
		out[0] = '\0';
	else
		snprintf(out, n, "%c%d", c, v);
}

/* The JSON array must list exactly want[0..nwant) (by seq, in that order);
 * each row's thread/user/server/content must be the model's. */
static void same_rows(fixture *f, const char *what, const char *json, item *const *want, size_t nwant,
                      int thread, int user, int server)
{
	json_t *a = json_loads(json, 0, NULL);
	if (!json_is_array(a))
		fail_msg("%s: not an array: %.200s", what, json);
	char tn[16], un[16], sn[16];
	name(tn, sizeof tn, 'T', thread);
	name(un, sizeof un, 'U', user);
	name(sn, sizeof sn, 'S', server);
	size_t i;
	json_t *row;
	json_array_foreach(a, i, row) {
		const char *t = json_string_value(json_object_get(row, "thread"));
		const char *u = json_string_value(json_object_get(row, "user"));
		const char *s = json_string_value(json_object_get(row, "server"));
		/* Scope first: this is the promise. */
		if ((thread >= 0 && (!t || strcmp(t, tn))) || (user >= 0 && (!u || strcmp(u, un))) ||
		    (server >= 0 && (!s || strcmp(s, sn))))
			fail_msg("%s: OUT OF SCOPE row (thread %s user %s server %s): %s", what,
			         t ? t : "-", u ? u : "-", s ? s : "-", json_dumps(row, JSON_COMPACT));
		if (i >= nwant)
			fail_msg("%s: %zu rows, model has %zu", what, json_array_size(a), nwant);
		const item *it = want[i];
		json_int_t seq = json_integer_value(json_object_get(row, "seq"));
		const char *c = json_string_value(json_object_get(row, it->image ? "prompt" : "content"));
		char wt[16], wu[16], ws[16];
		name(wt, sizeof wt, 'T', it->thread);
		name(wu, sizeof wu, 'U', it->user);
		name(ws, sizeof ws, 'S', it->server);
		if ((uint64_t)seq != it->seq || !c || strcmp(c, it->content) || !t || strcmp(t, wt) ||
		    (!it->image && (strcmp(u ? u : "", wu) || strcmp(s ? s : "", ws))))
			fail_msg("%s: row %zu is seq %lld '%s' (%s/%s/%s), model has seq %llu '%s' (%s/%s/%s)",
			         what, i, (long long)seq, c ? c : "?", t ? t : "-", u ? u : "-", s ? s : "-",
			         (unsigned long long)it->seq, it->content, wt, wu, ws);
	}
	if (json_array_size(a) != nwant)
		fail_msg("%s: %zu rows, model has %zu", what, json_array_size(a), nwant);
	json_decref(a);
	f->queries++;
}

static size_t select_items(const model *m, item **out, int newest_first, int (*pred)(const item *, const void *),
                           const void *arg, size_t limit)
{
	size_t n = 0;
	if (newest_first) {
		for (size_t i = m->n; i-- > 0 && n < limit;)
			if (pred(&m->v[i], arg))
				out[n++] = (item *)&m->v[i];
	} else {
		size_t total = 0;
		for (size_t i = 0; i < m->n; i++)
			total += (size_t)pred(&m->v[i], arg);
		size_t skip = total > limit ? total - limit : 0;
		for (size_t i = 0; i < m->n; i++)
			if (pred(&m->v[i], arg) && skip-- == 0) {
				out[n++] = (item *)&m->v[i];
				skip = 0;
			}
	}
	return n;
}

typedef struct scope { int thread, user, server; const char *word; const model *m; } scope;

static int p_msg(const item *it, const void *arg)
{
	const scope *s = arg;
	return msg_in(it, s->thread, s->user, s->server);
}

/* Word match for our contents: tokens are separated by spaces. */
static int has_word(const char *content, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = content; (p = strstr(p, word)) != NULL; p++)
		if ((p == content || p[-1] == ' ') && (p[wl] == '\0' || p[wl] == ' '))
			return 1;
	return 0;
}

static int p_msg_word(const item *it, const void *arg)
{
	const scope *s = arg;
	return msg_in(it, s->thread, s->user, s->server) && has_word(it->content, s->word);
}

/* Image search scope: thread; user = the user has a live message in the
 * image's thread; server = the thread's server (known once a message with a
 * server arrived since the thread (re)started). */
static int p_img_word(const item *it, const void *arg)
{
	const scope *s = arg;
	if (!it->alive || !it->image || (s->thread >= 0 && it->thread != s->thread) ||
	    !has_word(it->content, s->word))
		return 0;
	if (s->server >= 0 && (!s->m->thread_server_known[it->thread] || it->thread % NSERVERS != s->server))
		return 0;
	if (s->user >= 0) {
		for (size_t i = 0; i < s->m->n; i++)
			if (msg_in(&s->m->v[i], it->thread, s->user, -1))
				return 1;
		return 0;
	}
	return 1;
}

static int p_img(const item *it, const void *arg)
{
	const scope *s = arg;
	return it->alive && it->image && it->thread == s->thread;
}

static void check_history(fixture *f, int thread, int user, int server, item **buf)
{
	scope sc = { thread, user, server, NULL, &f->m };
	size_t n = select_items(&f->m, buf, 0, p_msg, &sc, 1000);
	char tn[16], un[16], sn[16], what[96];
	name(tn, sizeof tn, 'T', thread);
	name(un, sizeof un, 'U', user);
	name(sn, sizeof sn, 'S', server);
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = tn;
	q.user = user >= 0 ? un : NULL;
	q.server = server >= 0 ? sn : NULL;
	q.limit = 1000;
	char *json = NULL;
	TU_OK(cj_query_history(&json, f->tu.s, &q));
	snprintf(what, sizeof what, "history(%s, %s, %s)", tn, un, sn);
	same_rows(f, what, json, buf, n, thread, user, server);
	cj_free(json);
}

static void check_images(fixture *f, int thread, item **buf)
{
	scope sc = { thread, -1, -1, NULL, &f->m };
	size_t n = select_items(&f->m, buf, 0, p_img, &sc, 1000);
	char tn[16], what[64];
	name(tn, sizeof tn, 'T', thread);
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	q.thread = tn;
	q.limit = 1000;
	char *json = NULL;
	TU_OK(cj_query_images(&json, f->tu.s, &q));
	snprintf(what, sizeof what, "images(%s)", tn);
	same_rows(f, what, json, buf, n, thread, -1, -1);
	cj_free(json);
}

static void check_search(fixture *f, const char *word, int images, int thread, int user, int server,
                         item **buf)
{
	scope sc = { thread, user, server, word, &f->m };
	size_t n = select_items(&f->m, buf, 1, images ? p_img_word : p_msg_word, &sc, 1000);
	char tn[16], un[16], sn[16], what[128];
	name(tn, sizeof tn, 'T', thread);
	name(un, sizeof un, 'U', user);
	name(sn, sizeof sn, 'S', server);
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = word;
	q.thread = thread >= 0 ? tn : NULL;
	q.user = user >= 0 ? un : NULL;
	q.server = server >= 0 ? sn : NULL;
	q.images = images;
	q.limit = 1000;
	char *json = NULL;
	TU_OK(cj_query_search(&json, f->tu.s, &q));
	snprintf(what, sizeof what, "search%s('%s', %s, %s, %s)", images ? "-images" : "", word, tn, un, sn);
	/* Image rows carry no user/server: scope them by thread only. */
	same_rows(f, what, json, buf, n, thread, images ? -1 : user, images ? -1 : server);
	cj_free(json);
}

static void check_all(fixture *f)
{
	item **buf = calloc(MAX_ITEMS, sizeof *buf);
	assert_non_null(buf);
	for (int t = 0; t < NTHREADS; t++) {
		check_history(f, t, -1, -1, buf);
		check_history(f, t, -1, t % NSERVERS, buf);
		check_history(f, t, -1, (t + 1) % NSERVERS, buf);   /* another server: empty */
		for (int k = 0; k < 3; k++) {
			int u = (int)rnd(f, NUSERS);
			check_history(f, t, u, -1, buf);
			check_history(f, t, u, rnd(f, 2) ? t % NSERVERS : (int)rnd(f, NSERVERS), buf);
		}
		check_images(f, t, buf);
		check_search(f, "common", 0, t, -1, -1, buf);
		check_search(f, "pic", 1, t, -1, -1, buf);
		char word[16];
		snprintf(word, sizeof word, "u%u", rnd(f, NUSERS));
		check_search(f, word, 0, t, -1, -1, buf);
		check_search(f, "common", 0, t, (int)rnd(f, NUSERS), t % NSERVERS, buf);
	}
	for (int u = 0; u < NUSERS; u++) {
		check_search(f, "common", 0, -1, u, -1, buf);
		check_search(f, "pic", 1, -1, u, -1, buf);
		char word[16];
		snprintf(word, sizeof word, "t%u", rnd(f, NTHREADS));
		check_search(f, word, 0, -1, u, (int)rnd(f, NSERVERS), buf);
	}
	for (int s = 0; s < NSERVERS; s++) {
		check_search(f, "common", 0, -1, -1, s, buf);
		check_search(f, "pic", 1, -1, -1, s, buf);
		check_search(f, "nouser", 0, -1, -1, s, buf);
	}
	free(buf);
}

static void test_random_operations_stay_in_scope(void **state)
{
	fixture *f = *state;
	for (int phase = 0; phase < PHASES; phase++) {
		run_phase(f);
		check_all(f);
		size_t alive = 0;
		for (size_t i = 0; i < f->m.n; i++)
			alive += (size_t)f->m.v[i].alive;
		printf("phase %d: %zu items written, %zu alive, %u queries checked\n", phase + 1, f->m.n,
		       alive, f->queries);
	}
	char *report = NULL;
	char db[PATH_MAX];
	pu_sqlite_path(db, sizeof db, f->tu.store);
	TU_OK(cj_projection_check(&report, db));
	assert_string_equal(report, "ok");
	cj_free(report);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_random_operations_stay_in_scope, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
