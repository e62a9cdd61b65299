/* tests/crash/projection_check.c — the workload, the journal model and the
 * projection checker shared by the crash loops that check the SQLite
 * projection (crash/materialize, crash/power); see projection_check.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "projection_check.h"
#include "testutil.h"

/* ---- the workload ---- */

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
void pc_event_json(char *out, size_t cap, const char *tag, unsigned k, uint64_t r)
{
	unsigned pick = (unsigned)(r % 1000);
	unsigned t = (unsigned)((r >> 8) % PC_THREADS);
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
		             tag, k, (unsigned)((r >> 16) % PC_KEYS), tag, k);
	} else if (pick < 999) {
		w = snprintf(out, cap,
		             "{\"type\":\"metric\",\"id\":\"%s-%u\",\"name\":\"m%u\",\"value\":%u}", tag, k,
		             (unsigned)((r >> 16) % 4), k);
	} else {
		w = snprintf(out, cap, "{\"type\":\"delete_thread\",\"id\":\"%s-%u\",\"thread\":\"t%u\"}",
		             tag, k, PC_DEL_FIRST + (unsigned)((r >> 16) % (PC_THREADS - PC_DEL_FIRST)));
	}
	if (w < 0 || (size_t)w >= cap)
		abort();
}

/* Append n events tag-k0 .. tag-(k0+n-1) in one batch. Returns the library's code. */
int pc_append_events(cj_store *s, const char *tag, unsigned k0, unsigned n, uint64_t *rng)
{
	cj_event **evs = calloc(n, sizeof *evs);
	if (!evs)
		return CJ_ENOMEM;
	int rc = 0;
	char json[1024];
	for (unsigned i = 0; i < n && !rc; i++) {
		pc_event_json(json, sizeof json, tag, k0 + i, tu_rand(rng));
		rc = cj_event_parse(&evs[i], json, strlen(json));
	}
	if (!rc)
		rc = cj_journal_append_batch(NULL, s, (const cj_event *const *)evs, n);
	for (unsigned i = 0; i < n; i++)
		cj_event_free(evs[i]);
	free(evs);
	return rc;
}

/* ---- the parent's model of the journal ---- */

void pc_model_free(pc_model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].text);
		free(m->v[i].word);
	}
	free(m->v);
	for (int t = 0; t < PC_THREADS; t++)
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
int pc_model_read(pc_model *m, cj_store *s, char *why, size_t whyn)
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
		pc_rec *r = &m->v[m->n];
		memset(r, 0, sizeof *r);
		r->type = rec.type;
		r->deleted_at = UINT64_MAX;
		r->thread = index_of(cj_event_get_string(rec.event, "thread"), 't', PC_THREADS);
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
			r->key = index_of(cj_event_get_string(rec.event, "key"), 'k', PC_KEYS);
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

static int live_at(const pc_rec *r, uint64_t seq, uint64_t pos)
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
static int check_rows(checker *c, const pc_model *m, uint64_t pos, cj_event_type type)
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
			const pc_rec *r = &m->v[i];
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
		const pc_rec *r = &m->v[seq - 1];
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

static int check_threads(checker *c, const pc_model *m, uint64_t pos)
{
	int64_t want[PC_THREADS];
	int exists[PC_THREADS] = {0};
	memset(want, 0, sizeof want);
	for (size_t i = 0; i < pos; i++) {
		const pc_rec *r = &m->v[i];
		if ((r->type == CJ_EVENT_MESSAGE || r->type == CJ_EVENT_IMAGE) && live_at(r, i + 1, pos)) {
			exists[r->thread] = 1;
			want[r->thread] += r->type == CJ_EVENT_MESSAGE;
		}
	}
	sqlite3_stmt *st = prep(c, "SELECT thread, message_count FROM threads");
	int seen[PC_THREADS] = {0};
	int rc = 0;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		int t = index_of(col_text(st, 0), 't', PC_THREADS);
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
	for (int t = 0; t < PC_THREADS && !rc; t++)
		if (exists[t] && !seen[t])
			rc = bad(c, "threads: t%d is missing at position %llu", t, (unsigned long long)pos);
	return rc;
}

/* One row per event of type <= pos in table (seq order); settings also hold
 * the value and seq of the last setting of each key. */
static int check_per_event(checker *c, const pc_model *m, uint64_t pos, cj_event_type type,
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

static int check_settings(checker *c, const pc_model *m, uint64_t pos)
{
	uint64_t last[PC_KEYS] = {0};
	for (size_t i = 0; i < pos; i++)
		if (m->v[i].type == CJ_EVENT_SETTING && m->v[i].key >= 0)
			last[m->v[i].key] = i + 1;
	sqlite3_stmt *st = prep(c, "SELECT key, value, seq FROM settings");
	int seen = 0, rc = 0;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		int k = index_of(col_text(st, 0), 'k', PC_KEYS);
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
	for (int k = 0; k < PC_KEYS; k++)
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
static int check_fts(checker *c, const pc_model *m, uint64_t pos, uint64_t *rng, unsigned samples)
{
	uint64_t want_msg = 0, want_img = 0, msgs = 0, imgs = 0;
	for (size_t i = 0; i < pos; i++) {
		const pc_rec *r = &m->v[i];
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
		const pc_rec *r = &m->v[i];
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

/* Check the projection against the model (which covers the whole journal,
 * last = m->n). min_pos: a position the child saw committed. 0 if all good,
 * 1 and why if not. */
int pc_check_projection(const char *sqlite_path, const pc_model *m, uint64_t min_pos,
                            uint64_t *rng, pc_result *res, char *why, size_t whyn)
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

/* ---- recovery ---- */

void pc_recover(const char *name, const char *store, const char *sqlite_path,
                const char *replay_path, const pc_model *m, uint64_t *rng)
{
	cj_store *s = NULL;
	TU_OK(cj_store_open(&s, store, NULL));
	uint64_t last = 0, pos = 0;
	TU_OK(cj_journal_last_seq(&last, s));
	assert_int_equal(last, m->n);
	TU_OK(cj_wait_applied(s, last, 120000));
	TU_OK(cj_projection_position(&pos, s));
	assert_int_equal(pos, last);
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.out_path = replay_path;
	TU_OK(cj_projection_replay(s, &ro));
	cj_store_close(s);
	char why[1024] = "";
	pc_result res;
	memset(&res, 0, sizeof res);
	if (pc_check_projection(sqlite_path, m, last, rng, &res, why, sizeof why))
		fail_msg("%s: after catching up: %s", name, why);
	char live_hash[33], replay_hash[33];
	char *live_tables = NULL, *replay_tables = NULL;
	TU_OK(cj_projection_hash(live_hash, &live_tables, sqlite_path));
	TU_OK(cj_projection_hash(replay_hash, &replay_tables, replay_path));
	if (strcmp(live_hash, replay_hash) != 0)
		fail_msg("%s: live projection hash %s != replay %s\nlive:   %s\nreplay: %s", name,
		         live_hash, replay_hash, live_tables, replay_tables);
	print_message("crash/%s: caught up to %llu; state hash %s equals a fresh replay's\n", name,
	              (unsigned long long)last, live_hash);
	cj_free(live_tables);
	cj_free(replay_tables);
}
