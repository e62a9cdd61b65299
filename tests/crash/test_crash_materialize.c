/* tests/crash/test_crash_materialize.c — kill -9 during materialization,
 * hundreds of times (docs/reliability.md, P2: every journal event applied to
 * the projection exactly once, in order, with no gap, across any number of
 * crashes), and its negative control.
 *
 * A store is set up whose journal already holds 20,000 events (messages in 40
 * threads, images, settings, metrics, deletions of threads) and whose
 * projection is still empty. Each cycle forks a child that opens the store
 * read-write, so that its materializer catches up in batches, and (in six
 * cycles out of seven) appends up to 600 more events, mostly in batches of
 * 1-10 (so that the materializer commits every few ms); the child
 * reports its open ("R") and every projection position it sees committed
 * ("P"). The parent sends SIGKILL a random 1-40 ms after the child's first
 * committed batch of the cycle (every 10th cycle instead 0-40 ms after fork,
 * during open; every 10th, offset 5, 1-300 ms after open, anywhere inside a
 * large batch), then reads the new journal records and checks the projection
 * with its own SQLite connections:
 *   - journal_position <= the journal's last seq, and >= every position the
 *     child saw committed (a committed batch is never lost);
 *   - for the position P, every table holds exactly what events 1..P say:
 *     messages and images (seq, thread, text) are the events <= P not removed
 *     by a later delete_thread <= P, nothing missing (no gap), nothing beyond P;
 *     threads and their message_count; settings (value and seq of the last
 *     setting <= P per key); config_changes and metrics (one row per event);
 *   - FTS: the rows and tokens FTS5 counts (its "averages" record) and the
 *     fts5vocab 'instance' count of messages_fts and images_fts match the
 *     live rows (a row indexed twice or not at all changes them: a second
 *     entry with the same text is invisible to MATCH, fts5vocab and FTS5's
 *     integrity-check, but not to the averages); sampled unique words MATCH
 *     exactly once (live rows), never (deleted rows, rows beyond P);
 *   - PRAGMA quick_check is ok; FTS5 'integrity-check' of both FTS tables
 *     passes (on a read-write connection opened while no child runs, with
 *     SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE so that it changes nothing).
 * After the loop the store is opened read-write, the projection catches up to
 * the last seq, and its state hash equals the hash of a fresh replay.
 *
 * A fresh store (with a fresh backlog) every 25 cycles: each store sees the
 * catch-up in large time-bounded batches first, then small batches.
 *
 * The negative control runs the same loop (backlog 1,000 events) with
 * children that call cji_mat_set_split_position (rows and position commit in
 * two transactions, with a 2 ms gap between them in the library's test-only
 * branch): the checker must report a violation within its cycles, else it
 * could not see one. It stops at the first violation.
 *
 * Env: CJ_CRASH_CYCLES (default 300; 150 under AddressSanitizer),
 * CJ_CRASH_CONTROL_CYCLES (default 200: most cycles the control may take to
 * detect; it usually needs 1-10 plain, up to ~40 under ASan),
 * CJ_CRASH_MAT_EVENTS (events in the journal of each fresh store, default
 * 20000; 5000 under AddressSanitizer, where applying is ~5x slower),
 * CJ_CRASH_SEED (default: from the clock; printed), CJ_CRASH_DEBUG (one line
 * per cycle on stderr). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "testutil.h"
/* The negative control switches the materializer to split commits; nothing
 * else in this file reaches inside the store. */
#include "api/store_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define N_THREADS 40          /* threads t0..t39 */
#define DEL_FIRST 30          /* delete_thread only targets t30..t39 */
#define N_KEYS 8              /* setting keys k0..k7 */
#define CYCLES_PER_STORE 25   /* a fresh store (and a fresh 20k backlog) every 25 cycles */
#define CHILD_MAX_EVENTS 600  /* most events one child appends */
#define CHILD_MAX_BATCH 200

/* ---- the workload, shared by setup and children ---- */

static const char *const WORDS[16] = {
	"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
	"india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
};

/* Appends n_words vocabulary words chosen by r to out (after what is there). */
static void add_words(char *out, size_t cap, unsigned n_words, uint64_t r)
{
	size_t len = strlen(out);
	for (unsigned w = 0; w < n_words; w++) {
		int k = snprintf(out + len, cap - len, " %s", WORDS[(r >> (4 * w)) & 15]);
		if (k < 0 || (size_t)k >= cap - len)
			abort();
		len += (size_t)k;
	}
}

/* The JSON of event k of the batch tagged tag ("s": setup, "c<cycle>": a
 * child); r is a random number that picks its type and fields. Ids, and the
 * unique words "uq<tag>x<k>" / "iq<tag>x<k>", never repeat in a store. */
static void event_json(char *out, size_t cap, const char *tag, unsigned k, uint64_t r)
{
	unsigned pick = (unsigned)(r % 1000);
	unsigned t = (unsigned)((r >> 8) % N_THREADS);
	char text[512], text2[256];
	text[0] = text2[0] = '\0';
	int w;
	if (pick < 860) {
		snprintf(text, sizeof text, "uq%sx%u th%u", tag, k, t);
		add_words(text, sizeof text, 2 + (unsigned)((r >> 16) % 11), r >> 20);
		w = snprintf(out, cap,
		             "{\"type\":\"message\",\"id\":\"%s-%u\",\"thread\":\"t%u\",\"role\":\"%s\","
		             "\"user\":\"u%u\",\"content\":\"%s\"}",
		             tag, k, t, (r >> 60) & 1 ? "assistant" : "user", t % 10, text);
	} else if (pick < 900) {
		snprintf(text, sizeof text, "iq%sx%u th%u", tag, k, t);
		add_words(text, sizeof text, 1 + (unsigned)((r >> 16) % 6), r >> 20);
		add_words(text2, sizeof text2, 1 + (unsigned)((r >> 24) % 4), r >> 40);
		w = snprintf(out, cap,
		             "{\"type\":\"image\",\"id\":\"%s-%u\",\"thread\":\"t%u\",\"url\":"
		             "\"https://img.example/%s-%u.png\",\"kind\":\"generated\",\"prompt\":\"%s\","
		             "\"analysis\":\"%s\"}",
		             tag, k, t, tag, k, text, text2 + 1);
	} else if (pick < 940) {
		w = snprintf(out, cap,
		             "{\"type\":\"setting\",\"id\":\"%s-%u\",\"key\":\"k%u\",\"value\":\"v%sx%u\","
		             "\"actor\":\"admin\"}",
		             tag, k, (unsigned)((r >> 16) % N_KEYS), tag, k);
	} else if (pick < 999) {
		w = snprintf(out, cap,
		             "{\"type\":\"metric\",\"id\":\"%s-%u\",\"name\":\"m%u\",\"value\":%u}", tag, k,
		             (unsigned)((r >> 16) % 4), k);
	} else {
		w = snprintf(out, cap, "{\"type\":\"delete_thread\",\"id\":\"%s-%u\",\"thread\":\"t%u\"}",
		             tag, k, DEL_FIRST + (unsigned)((r >> 16) % (N_THREADS - DEL_FIRST)));
	}
	if (w < 0 || (size_t)w >= cap)
		abort();
}

/* Append n events tag-k0 .. tag-(k0+n-1) in one batch. Returns the library's code. */
static int append_events(cj_store *s, const char *tag, unsigned k0, unsigned n, uint64_t *rng)
{
	cj_event **evs = calloc(n, sizeof *evs);
	if (!evs)
		return CJ_ENOMEM;
	int rc = 0;
	char json[1024];
	for (unsigned i = 0; i < n && !rc; i++) {
		event_json(json, sizeof json, tag, k0 + i, tu_rand(rng));
		rc = cj_event_parse(&evs[i], json, strlen(json));
	}
	if (!rc)
		rc = cj_journal_append_batch(NULL, s, (const cj_event *const *)evs, n);
	for (unsigned i = 0; i < n; i++)
		cj_event_free(evs[i]);
	free(evs);
	return rc;
}

/* ---- the child ---- */

typedef struct appender {
	cj_store *s;
	unsigned cycle;
	uint64_t rng;
	int fd;
} appender;

static void *child_appender(void *arg)
{
	appender *a = arg;
	char tag[32];
	snprintf(tag, sizeof tag, "c%u", a->cycle);
	for (unsigned k = 0; k < CHILD_MAX_EVENTS;) {
		uint64_t r = tu_rand(&a->rng);
		/* Mostly small batches (one materializer batch each, a commit every
		 * few ms), now and then a larger one. */
		unsigned pick = (unsigned)(r % 100);
		unsigned n = pick < 55 ? 1 : pick < 95 ? 2 + (unsigned)((r >> 8) % 9)
		                                       : 20 + (unsigned)((r >> 8) % (CHILD_MAX_BATCH - 19));
		if (n > CHILD_MAX_EVENTS - k)
			n = CHILD_MAX_EVENTS - k;
		int rc = append_events(a->s, tag, k, n, &a->rng);
		if (rc) {
			ch_sayf(a->fd, "F %d %.200s\n", rc, cj_error_last());
			return NULL;
		}
		k += n;
	}
	return NULL;
}

typedef struct child_args {
	const char *store;
	unsigned cycle;
	int appends;         /* start an appender thread */
	int split;           /* negative control: split commits */
	uint64_t seed;       /* the appender's */
} child_args;

static void child_main(void *arg, int fd)
{
	const child_args *a = arg;
	cj_store *s = NULL;
	int rc = cj_store_open(&s, a->store, NULL);
	if (rc != 0) {
		ch_sayf(fd, "E %d %.200s\n", rc, cj_error_last());
		_exit(3);
	}
	if (a->split)
		cji_mat_set_split_position(s->mat, 1);
	uint64_t pos = 0, last = 0;
	if (cj_projection_position(&pos, s) || cj_journal_last_seq(&last, s))
		_exit(6);
	ch_sayf(fd, "R %llu %llu\n", (unsigned long long)pos, (unsigned long long)last);
	appender app = {s, a->cycle, a->seed | 1, fd};
	pthread_t tid;
	if (a->appends && pthread_create(&tid, NULL, child_appender, &app) != 0)
		_exit(8);
	/* Report every committed position; and a materializer error, once. */
	int said_error = 0;
	for (;;) {
		cj_wait_applied(s, pos + 1, 100);
		uint64_t now = 0;
		if (cj_projection_position(&now, s))
			_exit(6);
		if (now > pos) {
			pos = now;
			ch_sayf(fd, "P %llu\n", (unsigned long long)pos);
		}
		char err[512];
		cji_mat_error(s->mat, err, sizeof err);
		if (err[0] && !said_error) {
			ch_sayf(fd, "X %.500s\n", err);
			said_error = 1;
		}
	}
}

/* ---- the parent's model of the journal ---- */

typedef struct mrec {
	cj_event_type type;
	int thread;           /* 0..N_THREADS-1, -1 if none */
	int key;              /* setting key 0..N_KEYS-1, -1 if none */
	unsigned ntok;        /* FTS tokens: message content, image prompt + analysis */
	uint64_t deleted_at;  /* seq of the delete_thread that removed it (UINT64_MAX: never) */
	char *text;           /* message content, image prompt, setting value, metric name */
	char *word;           /* the unique word (messages, images) */
} mrec;

typedef struct model {
	mrec *v;              /* v[i] is the record with seq i + 1 */
	size_t n, cap;
	size_t *pending[N_THREADS]; /* per thread: indexes of rows no delete has removed yet */
	size_t npending[N_THREADS], cappending[N_THREADS];
} model;

static void model_free(model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].text);
		free(m->v[i].word);
	}
	free(m->v);
	for (int t = 0; t < N_THREADS; t++)
		free(m->pending[t]);
	memset(m, 0, sizeof *m);
}

static unsigned count_tokens(const char *s)
{
	unsigned n = 0;
	int in = 0;
	for (; s && *s; s++) {
		int alnum = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		            (*s >= '0' && *s <= '9');
		if (alnum && !in)
			n++;
		in = alnum;
	}
	return n;
}

static int index_of(const char *s, char prefix, int limit)
{
	if (!s || s[0] != prefix)
		return -1;
	char *end = NULL;
	long v = strtol(s + 1, &end, 10);
	if (!end || *end || v < 0 || v >= limit)
		return -1;
	return (int)v;
}

static char *dup_first_word(const char *s)
{
	size_t n = strcspn(s, " ");
	char *w = malloc(n + 1);
	if (!w)
		abort();
	memcpy(w, s, n);
	w[n] = '\0';
	return w;
}

/* Read the records after the model's end into it. 0, or a message in why. */
static int model_read(model *m, cj_store *s, char *why, size_t whyn)
{
	cj_journal_iter *it = NULL;
	int rc = cj_journal_iter_new(&it, s, m->n + 1);
	if (rc) {
		snprintf(why, whyn, "iterator: %s", cj_error_last());
		return -1;
	}
	cj_record rec;
	while ((rc = cj_journal_iter_next(&rec, it)) == 1) {
		if (rec.seq != m->n + 1) {
			snprintf(why, whyn, "journal gap: seq %llu after %zu", (unsigned long long)rec.seq,
			         m->n);
			rc = -1;
			break;
		}
		if (m->n == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 32768;
			m->v = realloc(m->v, m->cap * sizeof *m->v);
			if (!m->v)
				abort();
		}
		mrec *r = &m->v[m->n];
		memset(r, 0, sizeof *r);
		r->type = rec.type;
		r->deleted_at = UINT64_MAX;
		r->thread = index_of(cj_event_get_string(rec.event, "thread"), 't', N_THREADS);
		r->key = -1;
		const char *text = NULL;
		if (rec.type == CJ_EVENT_MESSAGE) {
			text = cj_event_get_string(rec.event, "content");
			r->ntok = count_tokens(text);
		} else if (rec.type == CJ_EVENT_IMAGE) {
			text = cj_event_get_string(rec.event, "prompt");
			r->ntok = count_tokens(text) +
			          count_tokens(cj_event_get_string(rec.event, "analysis"));
		} else if (rec.type == CJ_EVENT_SETTING) {
			text = cj_event_get_string(rec.event, "value");
			r->key = index_of(cj_event_get_string(rec.event, "key"), 'k', N_KEYS);
		} else if (rec.type == CJ_EVENT_METRIC) {
			text = cj_event_get_string(rec.event, "name");
		}
		if ((rec.type == CJ_EVENT_MESSAGE || rec.type == CJ_EVENT_IMAGE ||
		     rec.type == CJ_EVENT_DELETE_THREAD) && r->thread < 0) {
			snprintf(why, whyn, "seq %llu: unexpected thread", (unsigned long long)rec.seq);
			rc = -1;
			break;
		}
		if (text) {
			r->text = strdup(text);
			if (!r->text)
				abort();
		}
		if (rec.type == CJ_EVENT_MESSAGE || rec.type == CJ_EVENT_IMAGE) {
			r->word = dup_first_word(text);
			int t = r->thread;
			if (m->npending[t] == m->cappending[t]) {
				m->cappending[t] = m->cappending[t] ? m->cappending[t] * 2 : 1024;
				m->pending[t] = realloc(m->pending[t], m->cappending[t] * sizeof(size_t));
				if (!m->pending[t])
					abort();
			}
			m->pending[t][m->npending[t]++] = m->n;
		} else if (rec.type == CJ_EVENT_DELETE_THREAD) {
			int t = r->thread;
			for (size_t i = 0; i < m->npending[t]; i++)
				m->v[m->pending[t][i]].deleted_at = rec.seq;
			m->npending[t] = 0;
		}
		m->n++;
	}
	cj_journal_iter_free(it);
	if (rc < 0 && why[0] == '\0')
		snprintf(why, whyn, "iterator: %s (%s)", cj_error_last(), cj_strerror(rc));
	return rc < 0 ? -1 : 0;
}

/* ---- the projection checker ---- */

static int live_at(const mrec *r, uint64_t seq, uint64_t pos)
{
	return seq <= pos && r->deleted_at > pos;
}

typedef struct checker {
	sqlite3 *db;
	char *why;
	size_t whyn;
} checker;

static int bad(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(checker *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, c->whyn, fmt, ap);
	va_end(ap);
	return 1;
}

static sqlite3_stmt *prep(checker *c, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(c->db));
	return st;
}

static int64_t scalar(checker *c, const char *sql, const char *arg)
{
	sqlite3_stmt *st = prep(c, sql);
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		fail_msg("%s: %s", sql, sqlite3_errmsg(c->db));
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : "(null)";
}

/* messages or images (type) against the model at pos: exactly the live rows,
 * in seq order, with their thread and text. */
static int check_rows(checker *c, const model *m, uint64_t pos, cj_event_type type)
{
	const char *sql = type == CJ_EVENT_MESSAGE
	                  ? "SELECT m.seq, t.thread, m.content FROM messages m"
	                    " LEFT JOIN threads t USING (thread_rowid) ORDER BY m.seq"
	                  : "SELECT m.seq, t.thread, m.prompt FROM images m"
	                    " LEFT JOIN threads t USING (thread_rowid) ORDER BY m.seq";
	const char *what = type == CJ_EVENT_MESSAGE ? "messages" : "images";
	sqlite3_stmt *st = prep(c, sql);
	size_t i = 0; /* next model index to consider */
	int rc = 0;
	for (;;) {
		int step = sqlite3_step(st);
		if (step != SQLITE_ROW && step != SQLITE_DONE)
			fail_msg("%s: %s", sql, sqlite3_errmsg(c->db));
		uint64_t seq = step == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : UINT64_MAX;
		/* Every live row of the model before seq is missing. */
		for (; i < m->n && i + 1 < seq; i++) {
			const mrec *r = &m->v[i];
			if (r->type == type && live_at(r, i + 1, pos)) {
				if (r->deleted_at != UINT64_MAX)
					rc = bad(c, "%s: seq %zu (%s) is missing at position %llu: the journal "
					         "deletes its thread only at seq %llu (a deletion applied beyond "
					         "the position)", what, i + 1, r->word, (unsigned long long)pos,
					         (unsigned long long)r->deleted_at);
				else
					rc = bad(c, "%s: seq %zu (%s) is missing at position %llu (a gap)", what,
					         i + 1, r->word, (unsigned long long)pos);
				goto out;
			}
		}
		if (step == SQLITE_DONE)
			break;
		if (seq > pos) {
			rc = bad(c, "%s: seq %llu is in the projection but the position is %llu "
			         "(rows beyond the position)", what, (unsigned long long)seq,
			         (unsigned long long)pos);
			goto out;
		}
		const mrec *r = &m->v[seq - 1];
		if (r->type != type || !live_at(r, seq, pos)) {
			rc = bad(c, "%s: seq %llu should not be there at position %llu (%s event%s)", what,
			         (unsigned long long)seq, (unsigned long long)pos, cj_event_type_name(r->type),
			         r->deleted_at <= pos ? ", deleted" : "");
			goto out;
		}
		char thread[16];
		snprintf(thread, sizeof thread, "t%d", r->thread);
		if (strcmp(col_text(st, 1), thread) != 0 || strcmp(col_text(st, 2), r->text) != 0) {
			rc = bad(c, "%s: seq %llu holds (%s, \"%.60s\"), the journal says (%s, \"%.60s\")",
			         what, (unsigned long long)seq, col_text(st, 1), col_text(st, 2), thread,
			         r->text);
			goto out;
		}
		i = seq;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

static int check_threads(checker *c, const model *m, uint64_t pos)
{
	int64_t want[N_THREADS];
	int exists[N_THREADS] = {0};
	memset(want, 0, sizeof want);
	for (size_t i = 0; i < pos; i++) {
		const mrec *r = &m->v[i];
		if ((r->type == CJ_EVENT_MESSAGE || r->type == CJ_EVENT_IMAGE) && live_at(r, i + 1, pos)) {
			exists[r->thread] = 1;
			want[r->thread] += r->type == CJ_EVENT_MESSAGE;
		}
	}
	sqlite3_stmt *st = prep(c, "SELECT thread, message_count FROM threads");
	int seen[N_THREADS] = {0};
	int rc = 0;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		int t = index_of(col_text(st, 0), 't', N_THREADS);
		if (t < 0 || !exists[t] || seen[t])
			rc = bad(c, "threads: unexpected row %s at position %llu", col_text(st, 0),
			         (unsigned long long)pos);
		else if (sqlite3_column_int64(st, 1) != want[t])
			rc = bad(c, "threads: t%d has message_count %lld, the journal says %lld at "
			         "position %llu", t, (long long)sqlite3_column_int64(st, 1),
			         (long long)want[t], (unsigned long long)pos);
		else
			seen[t] = 1;
	}
	sqlite3_finalize(st);
	for (int t = 0; t < N_THREADS && !rc; t++)
		if (exists[t] && !seen[t])
			rc = bad(c, "threads: t%d is missing at position %llu", t, (unsigned long long)pos);
	return rc;
}

/* One row per event of type <= pos in table (seq order); settings also hold
 * the value and seq of the last setting of each key. */
static int check_per_event(checker *c, const model *m, uint64_t pos, cj_event_type type,
                           const char *sql, const char *what)
{
	sqlite3_stmt *st = prep(c, sql);
	size_t i = 0;
	int rc = 0;
	while (!rc) {
		int step = sqlite3_step(st);
		uint64_t seq = step == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : UINT64_MAX;
		for (; i < pos && i + 1 < seq; i++)
			if (m->v[i].type == type) {
				rc = bad(c, "%s: seq %zu is missing at position %llu (a gap)", what, i + 1,
				         (unsigned long long)pos);
				break;
			}
		if (rc || step != SQLITE_ROW)
			break;
		if (seq > pos || m->v[seq - 1].type != type)
			rc = bad(c, "%s: unexpected row seq %llu at position %llu%s", what,
			         (unsigned long long)seq, (unsigned long long)pos,
			         seq > pos ? " (rows beyond the position)" : "");
		i = seq;
	}
	sqlite3_finalize(st);
	return rc;
}

static int check_settings(checker *c, const model *m, uint64_t pos)
{
	uint64_t last[N_KEYS] = {0};
	for (size_t i = 0; i < pos; i++)
		if (m->v[i].type == CJ_EVENT_SETTING && m->v[i].key >= 0)
			last[m->v[i].key] = i + 1;
	sqlite3_stmt *st = prep(c, "SELECT key, value, seq FROM settings");
	int seen = 0, rc = 0;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		int k = index_of(col_text(st, 0), 'k', N_KEYS);
		char want[128];
		if (k < 0 || !last[k]) {
			rc = bad(c, "settings: unexpected key %s at position %llu", col_text(st, 0),
			         (unsigned long long)pos);
			break;
		}
		snprintf(want, sizeof want, "\"%s\"", m->v[last[k] - 1].text);
		if (strcmp(col_text(st, 1), want) != 0 || (uint64_t)sqlite3_column_int64(st, 2) != last[k])
			rc = bad(c, "settings: k%d = %s (seq %lld), the journal says %s (seq %llu) at "
			         "position %llu", k, col_text(st, 1), (long long)sqlite3_column_int64(st, 2),
			         want, (unsigned long long)last[k], (unsigned long long)pos);
		seen++;
	}
	sqlite3_finalize(st);
	int want_keys = 0;
	for (int k = 0; k < N_KEYS; k++)
		want_keys += last[k] != 0;
	if (!rc && seen != want_keys)
		rc = bad(c, "settings: %d keys, the journal says %d at position %llu", seen, want_keys,
		         (unsigned long long)pos);
	return rc;
}

/* SQLite's varint (FTS5 uses it in its records): 7 bits a byte, high bit set
 * on all but the last; a 9th byte contributes 8 bits. */
static size_t get_varint(const unsigned char *p, size_t n, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n && i < 9; i++) {
		if (i == 8) {
			*v = (*v << 8) | p[i];
			return 9;
		}
		*v = (*v << 7) | (p[i] & 0x7f);
		if (!(p[i] & 0x80))
			return i + 1;
	}
	return 0;
}

/* FTS5's "averages" record (id 1 of the %_data table): the number of rows
 * indexed and the tokens per column. A row indexed twice with the same text
 * is invisible to MATCH and fts5vocab (the newer segment shadows the older
 * entry) but counts twice here. */
static int check_averages(checker *c, const char *table, unsigned ncols, uint64_t want_rows,
                          uint64_t want_tokens, uint64_t pos)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT block FROM %s_data WHERE id = 1", table);
	sqlite3_stmt *st = prep(c, sql);
	uint64_t rows = 0, tokens = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0), off = 0, k;
		if (p && (k = get_varint(p, n, &rows)) != 0) {
			off = k;
			for (unsigned col = 0; col < ncols; col++) {
				uint64_t t = 0;
				if (!(k = get_varint(p + off, n - off, &t)))
					break;
				off += k;
				tokens += t;
			}
		}
	}
	sqlite3_finalize(st);
	if (rows != want_rows || tokens != want_tokens)
		return bad(c, "%s counts %llu rows and %llu tokens, the live rows at position %llu are "
		           "%llu with %llu tokens (rows indexed twice or not at all)", table,
		           (unsigned long long)rows, (unsigned long long)tokens, (unsigned long long)pos,
		           (unsigned long long)want_rows, (unsigned long long)want_tokens);
	return 0;
}

/* FTS: rows and tokens indexed, token instances, and sampled unique words. */
static int check_fts(checker *c, const model *m, uint64_t pos, uint64_t *rng, unsigned samples)
{
	uint64_t want_msg = 0, want_img = 0, msgs = 0, imgs = 0;
	for (size_t i = 0; i < pos; i++) {
		const mrec *r = &m->v[i];
		if (live_at(r, i + 1, pos)) {
			if (r->type == CJ_EVENT_MESSAGE) {
				want_msg += r->ntok;
				msgs++;
			} else if (r->type == CJ_EVENT_IMAGE) {
				want_img += r->ntok;
				imgs++;
			}
		}
	}
	if (check_averages(c, "messages_fts", 1, msgs, want_msg, pos) ||
	    check_averages(c, "images_fts", 2, imgs, want_img, pos))
		return 1;
	int64_t got_msg = scalar(c, "SELECT count(*) FROM temp.cjt_msg_vocab", NULL);
	int64_t got_img = scalar(c, "SELECT count(*) FROM temp.cjt_img_vocab", NULL);
	if ((uint64_t)got_msg != want_msg)
		return bad(c, "messages_fts holds %lld token instances, the live messages at position "
		           "%llu hold %llu (rows indexed twice or not at all)", (long long)got_msg,
		           (unsigned long long)pos, (unsigned long long)want_msg);
	if ((uint64_t)got_img != want_img)
		return bad(c, "images_fts holds %lld token instances, the live images at position %llu "
		           "hold %llu", (long long)got_img, (unsigned long long)pos,
		           (unsigned long long)want_img);
	/* Sampled words: random records, the last ones applied, the first ones beyond. */
	for (unsigned k = 0; k < samples && m->n; k++) {
		size_t i;
		if (k < samples / 2)
			i = (size_t)(tu_rand(rng) % m->n);
		else if (k < samples * 3 / 4)
			i = pos > k ? (size_t)(pos - 1 - (k - samples / 2)) : 0;
		else
			i = (size_t)pos + (k - samples * 3 / 4);
		if (i >= m->n || !m->v[i].word)
			continue;
		const mrec *r = &m->v[i];
		char q[96];
		snprintf(q, sizeof q, "\"%s\"", r->word);
		const char *sql = r->type == CJ_EVENT_MESSAGE
		                  ? "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1"
		                  : "SELECT count(*) FROM images_fts WHERE images_fts MATCH ?1";
		int64_t got = scalar(c, sql, q);
		int64_t want = live_at(r, i + 1, pos) ? 1 : 0;
		if (got != want)
			return bad(c, "%s MATCH '%s' (seq %zu, position %llu%s) found %lld rows, expected "
			           "%lld", r->type == CJ_EVENT_MESSAGE ? "messages_fts" : "images_fts", q,
			           i + 1, (unsigned long long)pos,
			           r->deleted_at <= pos ? ", deleted" : "", (long long)got, (long long)want);
	}
	return 0;
}

static int fts_integrity(const char *sqlite_path, char *why, size_t whyn)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(sqlite_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		fail_msg("open %s: %s", sqlite_path, sqlite3_errmsg(db));
	/* Never checkpoint or remove the WAL: the next child recovers from it. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_busy_timeout(db, 5000);
	static const char *const SQL[2] = {
		"INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
		"INSERT INTO images_fts (images_fts) VALUES ('integrity-check')",
	};
	int rc = 0;
	for (int i = 0; i < 2 && !rc; i++) {
		char *msg = NULL;
		if (sqlite3_exec(db, SQL[i], NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(why, whyn, "FTS5 %s: %s", SQL[i], msg ? msg : sqlite3_errmsg(db));
			rc = 1;
		}
		sqlite3_free(msg);
	}
	sqlite3_close(db);
	return rc;
}

typedef struct check_result {
	uint64_t pos;
	uint64_t ro_ns, fts_ns;
} check_result;

/* Check the projection against the model (which covers the whole journal,
 * last = m->n). min_pos: a position the child saw committed. 0 if all good,
 * 1 and why if not. */
static int check_projection(const char *sqlite_path, const model *m, uint64_t min_pos,
                            uint64_t *rng, check_result *res, char *why, size_t whyn)
{
	uint64_t t0 = tu_now_ns();
	checker c = {NULL, why, whyn};
	if (sqlite3_open_v2(sqlite_path, &c.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		fail_msg("open %s read-only: %s", sqlite_path, sqlite3_errmsg(c.db));
	sqlite3_busy_timeout(c.db, 5000);
	char *msg = NULL;
	if (sqlite3_exec(c.db,
	                 "CREATE VIRTUAL TABLE temp.cjt_msg_vocab USING fts5vocab(main, messages_fts, instance);"
	                 "CREATE VIRTUAL TABLE temp.cjt_img_vocab USING fts5vocab(main, images_fts, instance);"
	                 "BEGIN", NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("fts5vocab: %s", msg ? msg : sqlite3_errmsg(c.db));
	uint64_t pos = (uint64_t)scalar(&c, "SELECT seq FROM journal_position WHERE id = 1", NULL);
	res->pos = pos;
	int rc = 0;
	if (pos > m->n)
		rc = bad(&c, "journal_position %llu is beyond the journal's last seq %zu",
		         (unsigned long long)pos, m->n);
	else if (pos < min_pos)
		rc = bad(&c, "journal_position %llu is behind %llu, which the child saw committed",
		         (unsigned long long)pos, (unsigned long long)min_pos);
	if (!rc)
		rc = check_rows(&c, m, pos, CJ_EVENT_MESSAGE);
	if (!rc)
		rc = check_rows(&c, m, pos, CJ_EVENT_IMAGE);
	if (!rc)
		rc = check_threads(&c, m, pos);
	if (!rc)
		rc = check_settings(&c, m, pos);
	if (!rc)
		rc = check_per_event(&c, m, pos, CJ_EVENT_SETTING,
		                     "SELECT seq FROM config_changes ORDER BY seq", "config_changes");
	if (!rc)
		rc = check_per_event(&c, m, pos, CJ_EVENT_METRIC, "SELECT seq FROM metrics ORDER BY seq",
		                     "metrics");
	if (!rc)
		rc = check_fts(&c, m, pos, rng, 24);
	if (!rc) {
		sqlite3_stmt *st = prep(&c, "PRAGMA quick_check");
		while (!rc && sqlite3_step(st) == SQLITE_ROW)
			if (strcmp(col_text(st, 0), "ok") != 0)
				rc = bad(&c, "PRAGMA quick_check: %s", col_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_exec(c.db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(c.db);
	uint64_t t1 = tu_now_ns();
	res->ro_ns += t1 - t0;
	if (!rc)
		rc = fts_integrity(sqlite_path, why, whyn);
	res->fts_ns += tu_now_ns() - t1;
	return rc;
}

/* ---- the loop ---- */

typedef struct child_log {
	int ready;
	uint64_t open_pos, open_last, max_pos;
	char error[720];   /* the child's materializer error (X), if any */
	char failure[720]; /* E or F line */
} child_log;

static void log_line(void *ctx, const char *line)
{
	child_log *l = ctx;
	unsigned long long a = 0, b = 0;
	if (sscanf(line, "R %llu %llu", &a, &b) == 2) {
		l->ready = 1;
		l->open_pos = a;
		l->open_last = b;
		if (a > l->max_pos)
			l->max_pos = a;
	} else if (sscanf(line, "P %llu", &a) == 1) {
		if (a > l->max_pos)
			l->max_pos = a;
	} else if (line[0] == 'X') {
		if (!l->error[0])
			snprintf(l->error, sizeof l->error, "%s", line + 2);
	} else if (!l->failure[0]) {
		snprintf(l->failure, sizeof l->failure, "%s", line);
	}
}

static int is_ready(void *ctx)
{
	const child_log *l = ctx;
	return l->ready || l->failure[0];
}

static int has_progress(void *ctx)
{
	const child_log *l = ctx;
	return (l->ready && l->max_pos > l->open_pos) || l->failure[0] || l->error[0];
}

typedef struct totals {
	unsigned cycles, stores, early, anywhere, after_progress, no_progress_needed;
	unsigned advanced, lag_at_kill, caught_up_at_kill;
	uint64_t applied, max_last;
	uint64_t ro_ns, fts_ns, journal_ns;
} totals;

typedef struct loop {
	const char *name;
	int split;          /* negative control */
	unsigned cycles;
	unsigned setup_events;
	char dir[PATH_MAX], store[PATH_MAX], sqlite[PATH_MAX + 16];
	uint64_t rng, seed;
	model m;
	totals tot;
	unsigned violations;
	char first_violation[1024];
	unsigned violation_cycle;
} loop;

static void setup_store(loop *L)
{
	tu_rmrf(L->store);
	model_free(&L->m);
	TU_OK(cj_store_init(L->store, NULL));
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, L->store, NULL));
	/* Keep the projection empty: the children must catch up, in batches. */
	cji_mat_pause(s->mat);
	for (unsigned k = 0; k < L->setup_events;) {
		unsigned n = L->setup_events - k < 1000 ? L->setup_events - k : 1000;
		TU_OK(append_events(s, "s", k, n, &L->rng));
		k += n;
	}
	cj_store_close(s);
	L->tot.stores++;
}

/* One cycle; returns 0, or 1 with a violation recorded in L. */
static int run_cycle(loop *L, unsigned cycle)
{
	int appends = cycle % 7 != 3;
	L->tot.cycles++;
	child_args args = {L->store, cycle, appends, L->split, tu_rand(&L->rng)};
	ch_child child;
	assert_int_equal(ch_spawn(&child, child_main, &args), 0);
	uint64_t t_fork = tu_now_ns();
	child_log log;
	memset(&log, 0, sizeof log);
	uint64_t r = tu_rand(&L->rng);
	if (cycle % 10 == 9) {
		/* During open and the first batch. */
		L->tot.early++;
		ch_pump(&child, t_fork + (r % 40000001u), log_line, NULL, &log);
	} else {
		ch_pump(&child, t_fork + 30ull * 1000000000u, log_line, is_ready, &log);
		if (!log.ready) {
			ch_abandon(&child);
			fail_msg("%s cycle %u: the child did not open the store: %s", L->name, cycle,
			         log.failure[0] ? log.failure : "(no answer in 30 s)");
		}
		if (cycle % 10 == 4) {
			/* Anywhere inside a (large) batch, its commit included. */
			L->tot.anywhere++;
			ch_pump(&child, tu_now_ns() + 1000000u + r % 300000000u, log_line, NULL,
			        &log);
		} else if (appends || log.open_last > log.open_pos) {
			/* Shortly after the cycle's first committed batch. */
			L->tot.after_progress++;
			ch_pump(&child, tu_now_ns() + 30ull * 1000000000u, log_line, has_progress,
			        &log);
			if (log.max_pos <= log.open_pos && !log.error[0] && !log.failure[0]) {
				ch_abandon(&child);
				fail_msg("%s cycle %u: no batch committed in 30 s (position %llu, journal %llu)",
				         L->name, cycle, (unsigned long long)log.open_pos,
				         (unsigned long long)log.open_last);
			}
			ch_pump(&child, tu_now_ns() + 1000000u + r % 39000001u, log_line, NULL,
			        &log);
		} else {
			L->tot.no_progress_needed++;
			ch_pump(&child, tu_now_ns() + 1000000u + r % 39000001u, log_line, NULL,
			        &log);
		}
	}
	int status = 0;
	int killed = ch_kill(&child, &status, log_line, &log);
	assert_true(killed >= 0);
	if (!killed)
		fail_msg("%s cycle %u: child ended by itself (status %d): %s", L->name, cycle, status,
		         log.failure);
	if (log.failure[0])
		fail_msg("%s cycle %u: the child reported a failure: %s", L->name, cycle, log.failure);

	/* The journal, read-only (its own checks are crash/kill9's job). */
	uint64_t t_j = tu_now_ns();
	cj_store_options ro = CJ_STORE_OPTIONS_INIT;
	ro.read_only = 1;
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, L->store, &ro));
	uint64_t last = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	char why[1024] = "";
	if (model_read(&L->m, s, why, sizeof why) != 0)
		fail_msg("%s cycle %u: reading the journal: %s", L->name, cycle, why);
	cj_store_close(s);
	if (L->m.n != last)
		fail_msg("%s cycle %u: the journal ends at %llu but %zu records were read", L->name,
		         cycle, (unsigned long long)last, L->m.n);
	L->tot.journal_ns += tu_now_ns() - t_j;

	check_result res;
	memset(&res, 0, sizeof res);
	int v = check_projection(L->sqlite, &L->m, log.max_pos, &L->rng, &res, why, sizeof why);
	L->tot.ro_ns += res.ro_ns;
	L->tot.fts_ns += res.fts_ns;
	if (!v && log.error[0] && L->split) {
		/* A double apply that the checker did not see yet stops the materializer. */
		snprintf(why, sizeof why, "the materializer stopped: %s", log.error);
		v = 1;
	}
	if (v) {
		if (L->violations++ == 0) {
			snprintf(L->first_violation, sizeof L->first_violation, "%s", why);
			L->violation_cycle = cycle;
		}
		return 1;
	}
	if (getenv("CJ_CRASH_DEBUG"))
		fprintf(stderr, "cycle %u: open %llu/%llu, child saw %llu, after kill %llu/%llu, %.1f ms\n",
		        cycle, (unsigned long long)log.open_pos, (unsigned long long)log.open_last,
		        (unsigned long long)log.max_pos, (unsigned long long)res.pos,
		        (unsigned long long)last, (double)(tu_now_ns() - t_fork) / 1e6);
	if (log.ready && res.pos > log.open_pos) {
		L->tot.advanced++;
		L->tot.applied += res.pos - log.open_pos;
	}
	if (res.pos < last)
		L->tot.lag_at_kill++;
	else
		L->tot.caught_up_at_kill++;
	if (last > L->tot.max_last)
		L->tot.max_last = last;
	return 0;
}

static void loop_init(loop *L, const char *name, int split, unsigned cycles, unsigned setup_events)
{
	memset(L, 0, sizeof *L);
	L->name = name;
	L->split = split;
	L->cycles = cycles;
	L->setup_events = setup_events;
	assert_int_equal(tu_mktempdir(L->dir, sizeof L->dir, "crashmat"), 0);
	tu_path(L->store, sizeof L->store, L->dir, "store");
	snprintf(L->sqlite, sizeof L->sqlite, "%s/chat.sqlite", L->store);
	L->seed = ch_seed();
	L->rng = L->seed;
}

static void print_totals(const loop *L, double secs)
{
	const totals *t = &L->tot;
	unsigned n = t->cycles ? t->cycles : 1;
	print_message("crash/%s: %u cycles (%u stores of %u events) in %.1f s, seed %llu: kills "
	              "%u during open, %u anywhere in a batch, %u after a commit, %u idle; "
	              "%u cycles advanced the position (%llu events applied), %u kills left work "
	              "pending, %u caught up; largest journal %llu; per cycle: journal read %.1f ms, "
	              "read-only checks %.1f ms, FTS integrity-check %.1f ms\n",
	              L->name, t->cycles, t->stores, L->setup_events, secs,
	              (unsigned long long)L->seed, t->early, t->anywhere, t->after_progress,
	              t->no_progress_needed, t->advanced, (unsigned long long)t->applied,
	              t->lag_at_kill, t->caught_up_at_kill, (unsigned long long)t->max_last,
	              (double)t->journal_ns / 1e6 / n, (double)t->ro_ns / 1e6 / n,
	              (double)t->fts_ns / 1e6 / n);
}

static void test_kill9_during_materialize(void **state)
{
	(void)state;
	loop *L = calloc(1, sizeof *L);
	assert_non_null(L);
	unsigned cycles = (unsigned)tu_env_ulong("CJ_CRASH_CYCLES", UNDER_ASAN ? 150 : 300);
	loop_init(L, "materialize", 0, cycles,
	          (unsigned)tu_env_ulong("CJ_CRASH_MAT_EVENTS", UNDER_ASAN ? 5000 : 20000));
	uint64_t t0 = tu_now_ns();
	for (unsigned cycle = 0; cycle < cycles; cycle++) {
		if (cycle % CYCLES_PER_STORE == 0)
			setup_store(L);
		if (run_cycle(L, cycle))
			fail_msg("materialize cycle %u (seed %llu): %s", cycle,
			         (unsigned long long)L->seed, L->first_violation);
	}
	double secs = (double)(tu_now_ns() - t0) / 1e9;
	print_totals(L, secs);
	/* The loop exercised what it claims to. */
	assert_int_equal(L->tot.cycles, cycles);
	if (cycles >= 20) {
		assert_true(L->tot.advanced > cycles / 4);
		assert_true(L->tot.lag_at_kill > 0);
	}

	/* Recovery: open read-write, catch up, equal to a fresh replay. */
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, L->store, NULL));
	uint64_t last = 0, pos = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, L->m.n);
	TU_OK(cj_wait_applied(s, last, 120000));
	TU_OK(cj_projection_position(&pos, s));
	assert_int_equal(pos, last);
	char replay[PATH_MAX + 32];
	snprintf(replay, sizeof replay, "%s/replay.sqlite", L->dir);
	TU_OK(cj_projection_replay(s, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, replay, 0, 0, NULL, NULL }));
	cj_store_close(s);
	char why[1024] = "";
	check_result res;
	memset(&res, 0, sizeof res);
	if (check_projection(L->sqlite, &L->m, last, &L->rng, &res, why, sizeof why))
		fail_msg("materialize: after catching up: %s", why);
	char live_hash[33], replay_hash[33];
	char *live_tables = NULL, *replay_tables = NULL;
	TU_OK(cj_projection_hash(live_hash, &live_tables, L->sqlite));
	TU_OK(cj_projection_hash(replay_hash, &replay_tables, replay));
	if (strcmp(live_hash, replay_hash) != 0)
		fail_msg("materialize: live projection hash %s != replay %s\nlive:   %s\nreplay: %s",
		         live_hash, replay_hash, live_tables, replay_tables);
	print_message("crash/materialize: caught up to %llu; state hash %s equals a fresh replay's\n",
	              (unsigned long long)last, live_hash);
	cj_free(live_tables);
	cj_free(replay_tables);
	model_free(&L->m);
	tu_rmrf(L->dir);
	free(L);
}

static void test_negative_control_split_position(void **state)
{
	(void)state;
	loop *L = calloc(1, sizeof *L);
	assert_non_null(L);
	unsigned cycles = (unsigned)tu_env_ulong("CJ_CRASH_CONTROL_CYCLES", 200);
	/* A small backlog: the children soon apply small batches, one commit
	 * pair (and one window) every few milliseconds. */
	loop_init(L, "materialize-control", 1, cycles, 1000);
	uint64_t t0 = tu_now_ns();
	unsigned cycle;
	for (cycle = 0; cycle < cycles; cycle++) {
		if (cycle % CYCLES_PER_STORE == 0)
			setup_store(L);
		if (run_cycle(L, cycle))
			break;
	}
	double secs = (double)(tu_now_ns() - t0) / 1e9;
	print_totals(L, secs);
	if (!L->violations)
		fail_msg("negative control: %u cycles with rows and position committed separately, and "
		         "the checker saw no violation: it cannot detect a lost exactly-once (seed %llu)",
		         cycles, (unsigned long long)L->seed);
	print_message("crash/materialize-control: violation detected, as it must be, in cycle %u "
	              "(after %.1f s): %s\n", L->violation_cycle, secs, L->first_violation);
	model_free(&L->m);
	tu_rmrf(L->dir);
	free(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_during_materialize),
		cmocka_unit_test(test_negative_control_split_position),
	};
	return cmocka_run_group_tests_name("crash/materialize", tests, NULL, NULL);
}
