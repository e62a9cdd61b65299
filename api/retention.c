/* api/retention.c — purges on demand and the store's retention rules. Both
 * turn into ordinary journal events (purge, delete_thread), so replay
 * reproduces them; what a purge removes is counted on the projection with
 * the very predicates the materializer will apply (materializer/purge.h). */
#include <stdio.h>
#include <string.h>
#include "chatjournal/retention.h"
#include "api/store_internal.h"
#include "api/readers.h"
#include "materializer/purge.h"
#include "common/err.h"

#define DAY_MS INT64_C(86400000)
#define THREADS_PER_BATCH 1000

static int count(cj_store *s, const cji_purge_scope *sc, cji_purge_counts *out)
{
	cji_reader *r;
	int rc = cji_reader_get(s->readers, &r);
	if (rc)
		return cji_store_projection_result(s, rc);
	rc = cji_purge_count(out, r->db, sc);
	cji_reader_put(s->readers, r);
	return cji_store_projection_result(s, rc);
}

/* The purge event of sc (a sticky error: the first failing setter wins). */
static int purge_event(cj_event **out, const cji_purge_scope *sc)
{
	int rc = cj_event_new(out, "purge");
	if (!rc)
		rc = cj_event_set_int(*out, "before", sc->before_ms);
	const char *fields[3] = { "thread", "user", "server" };
	const char *values[3] = { sc->thread, sc->user, sc->server };
	for (int i = 0; i < 3 && !rc; i++)
		if (values[i])
			rc = cj_event_set_string(*out, fields[i], values[i]);
	if (!rc && sc->kinds != CJI_PURGE_ALL) {
		char kinds[64] = "[";
		static const char *const names[3] = { "messages", "images", "metrics" };
		for (int i = 0; i < 3; i++)
			if (sc->kinds & (1u << i))
				snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s\"%s\"",
				         kinds[1] ? "," : "", names[i]);
		strcat(kinds, "]");
		rc = cj_event_set_json(*out, "kinds", kinds);
	}
	if (rc) {
		cj_event_free(*out);
		*out = NULL;
	}
	return rc;
}

/* Count, then (unless dry) append the purge. */
static int purge(cj_purge_report *out, cj_store *s, const cji_purge_scope *sc, int dry)
{
	cji_purge_counts c;
	int rc = count(s, sc, &c);
	if (rc)
		return rc;
	out->messages = c.messages;
	out->images = c.images;
	out->metrics = c.metrics;
	if (dry)
		return 0;
	cj_event *ev;
	if ((rc = purge_event(&ev, sc)))
		return rc;
	rc = cji_journal_append_batch(&out->seq, &s->journal, (const cj_event *const *)&ev, 1);
	cj_event_free(ev);
	return rc;
}

int cj_purge(cj_purge_report *out, cj_store *s, const cj_purge_options *o)
{
	memset(out, 0, sizeof *out);
	if (!s || !o || o->version != CJ_PURGE_OPTIONS_VERSION)
		return cji_err(CJ_EINVAL, "purge: no store or unknown options version (use CJ_PURGE_OPTIONS_INIT)");
	if (o->before_ms < 0)
		return cji_err_field(CJ_EINVAL, "before", "purge: 'before' must be a time after 1970");
	if (o->kinds & ~(CJ_PURGE_MESSAGES | CJ_PURGE_IMAGES | CJ_PURGE_METRICS))
		return cji_err_field(CJ_EINVAL, "kinds", "purge: unknown kinds bits 0x%x", o->kinds);
	cji_purge_scope sc = { o->before_ms, o->thread, o->user, o->server,
	                       o->kinds ? o->kinds : CJI_PURGE_ALL };
	return purge(out, s, &sc, o->dry_run);
}

/* Threads idle since before cutoff, deleted a batch of delete_thread events
 * at a time (all-or-nothing per batch). */
static int delete_idle_threads(cj_retention_report *out, cj_store *s, int64_t cutoff)
{
	for (;;) {
		cji_reader *r;
		int rc = cji_reader_get(s->readers, &r);
		if (rc)
			return cji_store_projection_result(s, rc);
		sqlite3_stmt *st;
		cj_event *evs[THREADS_PER_BATCH];
		size_t n = 0;
		rc = sqlite3_prepare_v2(r->db, "SELECT thread FROM threads WHERE last_activity_ms < ?1"
		                        " ORDER BY thread_rowid LIMIT ?2", -1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, cutoff);
			sqlite3_bind_int(st, 2, THREADS_PER_BATCH);
			while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
				const char *t = (const char *)sqlite3_column_text(st, 0);
				cj_event *ev = NULL;
				if (cj_event_new(&ev, "delete_thread") || cj_event_set_string(ev, "thread", t)) {
					cj_event_free(ev);
					rc = SQLITE_NOMEM;
					break;
				}
				evs[n++] = ev;
			}
			sqlite3_finalize(st);
		}
		int qrc = rc == SQLITE_DONE ? 0 : cji_err_sqlite(rc, sqlite3_errmsg(r->db), "idle threads");
		cji_reader_put(s->readers, r);
		if (!qrc && n) {
			uint64_t seqs[THREADS_PER_BATCH];
			qrc = cji_journal_append_batch(seqs, &s->journal, (const cj_event *const *)evs, n);
			if (!qrc) {
				out->threads_deleted += n;
				out->last_seq = seqs[n - 1];
			}
		}
		for (size_t i = 0; i < n; i++)
			cj_event_free(evs[i]);
		if (qrc || n < THREADS_PER_BATCH)
			return cji_store_projection_result(s, qrc);
		/* The next batch must not see these threads again: wait until
		 * the projection has applied their deletion (a handle that does
		 * not materialize leaves the rest to the next run). */
		if (!s->mat)
			return 0;
		if ((qrc = cji_mat_wait(s->mat, out->last_seq, 60000)))
			return qrc;
	}
}

int cj_retention_apply(cj_retention_report *out, cj_store *s, int64_t now_ms)
{
	memset(out, 0, sizeof *out);
	if (!s)
		return cji_err(CJ_EINVAL, "retention: no store");
	const cji_conf *c = &s->conf;
	struct { unsigned days; unsigned kinds; } rules[2] = {
		{ c->retention_messages_days, CJI_PURGE_MESSAGES | CJI_PURGE_IMAGES },
		{ c->retention_metrics_days, CJI_PURGE_METRICS },
	};
	for (int i = 0; i < 2; i++) {
		if (!rules[i].days)
			continue;
		cji_purge_scope sc = { now_ms - (int64_t)rules[i].days * DAY_MS, NULL, NULL, NULL,
		                       rules[i].kinds };
		cji_purge_counts cnt;
		int rc = count(s, &sc, &cnt);
		if (rc)
			return rc;
		if (cnt.messages + cnt.images + cnt.metrics == 0)
			continue; /* nothing to remove: no event */
		cj_purge_report p;
		if ((rc = purge(&p, s, &sc, 0)))
			return rc;
		out->purges++;
		out->messages += p.messages;
		out->images += p.images;
		out->metrics += p.metrics;
		out->last_seq = p.seq;
	}
	if (c->retention_inactive_threads_days)
		return delete_idle_threads(out, s,
		                           now_ms - (int64_t)c->retention_inactive_threads_days * DAY_MS);
	return 0;
}
