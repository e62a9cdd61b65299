/* sink/apply_delete.c — delete_thread, clear_history and purge, with the
 * semantics of materializer/apply_delete.c: the same rows go (messages with
 * their costs, edits, reactions and attachments, images, metrics,
 * user_threads, the thread), the same counts are recomputed, blob rows no
 * image or attachment names any more are dropped, and a scope naming a
 * thread or user never seen removes nothing. delete_message (apply_chat.c)
 * uses the same unit of work.
 *
 * A deletion is a unit of work of several statements with a sticky error:
 * the first failure is kept and later steps do nothing (the batch then
 * rolls back whole). Every statement binds the same parameters: $1 the
 * store id, then the deletion's own. */
#include <stdio.h>
#include <string.h>
#include "sink_internal.h"

#define S SK_PG_SCHEMA "."


void sk_del_step(sk_del *w, const char *sql)
{
	if (!w->rc)
		w->rc = sk_exec(NULL, w->k, w->what, w->seq, sql, w->n, w->p);
}


/* 1 if the query (over the unit's parameters) returns a row, 0 if not. */
static int exists(sk_del *w, const char *sql)
{
	PGresult *res;
	if (w->rc || (w->rc = sk_exec(&res, w->k, w->what, w->seq, sql, w->n, w->p)))
		return 0;
	int found = PQntuples(res) > 0;
	PQclear(res);
	return found;
}

/* Blob rows no image and no attachment names any more. */
void sk_del_orphan_blobs(sk_del *w)
{
	sk_del_step(w, "DELETE FROM " S "blobs b WHERE b.store_id = $1 AND NOT EXISTS (SELECT 1 FROM "
	        S "images i WHERE i.store_id = $1 AND i.blob = b.blob) AND NOT EXISTS (SELECT 1 FROM "
	        S "images i WHERE i.store_id = $1 AND i.thumbnail = b.blob) AND NOT EXISTS (SELECT 1"
	        " FROM " S "attachments a WHERE a.store_id = $1 AND a.blob = b.blob)");
}

/* Messages matching where (over the unit's parameters) with their costs,
 * edits, reactions and attachments (the SQLite projection's ON DELETE
 * CASCADE). */
void sk_del_messages(sk_del *w, const char *where)
{
	static const char *const deps[][2] = {
		{ "message_costs", "seq" }, { "message_edits", "message_seq" },
		{ "reactions", "message_seq" }, { "attachments", "message_seq" },
	};
	char sql[1024];
	for (size_t i = 0; i < sizeof deps / sizeof deps[0]; i++) {
		snprintf(sql, sizeof sql, "DELETE FROM " S "%s c USING " S "messages m WHERE"
		         " c.store_id = $1 AND m.store_id = $1 AND c.%s = m.seq AND %s", deps[i][0],
		         deps[i][1], where);
		sk_del_step(w, sql);
	}
	snprintf(sql, sizeof sql, "DELETE FROM " S "messages m WHERE m.store_id = $1 AND %s", where);
	sk_del_step(w, sql);
}


/* Counts of one user's threads and (user, thread) pairs; the user is $2. */
static void fix_user_counts(sk_del *w)
{
	sk_del_step(w, "UPDATE " S "threads t SET message_count = (SELECT count(*) FROM " S "messages m"
	        " WHERE m.store_id = $1 AND m.thread = t.thread) WHERE t.store_id = $1 AND t.thread IN"
	        " (SELECT thread FROM " S "user_threads WHERE store_id = $1 AND \"user\" = $2)");
	sk_del_step(w, "UPDATE " S "user_threads x SET message_count = (SELECT count(*) FROM " S "messages m"
	        " WHERE m.store_id = $1 AND m.\"user\" = $2 AND m.thread = x.thread)"
	        " WHERE x.store_id = $1 AND x.\"user\" = $2");
	sk_del_step(w, "DELETE FROM " S "user_threads WHERE store_id = $1 AND \"user\" = $2 AND message_count = 0");
}

/* Every count of the store, recounted; only rows whose count changed are
 * written. */
static void fix_all_counts(sk_del *w)
{
	sk_del_step(w, "UPDATE " S "threads t SET message_count = c.n FROM (SELECT t2.thread, count(m.seq) AS n"
	        " FROM " S "threads t2 LEFT JOIN " S "messages m ON m.store_id = t2.store_id"
	        " AND m.thread = t2.thread WHERE t2.store_id = $1 GROUP BY t2.thread) AS c"
	        " WHERE t.store_id = $1 AND t.thread = c.thread AND t.message_count <> c.n");
	sk_del_step(w, "UPDATE " S "user_threads x SET message_count = c.n FROM (SELECT x2.\"user\", x2.thread,"
	        " count(m.seq) AS n FROM " S "user_threads x2 LEFT JOIN " S "messages m"
	        " ON m.store_id = x2.store_id AND m.\"user\" = x2.\"user\" AND m.thread = x2.thread"
	        " WHERE x2.store_id = $1 GROUP BY x2.\"user\", x2.thread) AS c WHERE x.store_id = $1"
	        " AND x.\"user\" = c.\"user\" AND x.thread = c.thread AND x.message_count <> c.n");
	sk_del_step(w, "DELETE FROM " S "user_threads WHERE store_id = $1 AND message_count = 0");
}

int sk_apply_delete_thread(cj_sink *k, const sk_event *e)
{
	const char *p[2] = { k->store_id, sk_str(e->o, "thread") };
	sk_del w = { k, "delete_thread", e->seq, 0, 2, p };
	if (!exists(&w, "SELECT 1 FROM " S "threads WHERE store_id = $1 AND thread = $2"))
		return w.rc;
	sk_del_messages(&w, "m.thread = $2");
	sk_del_step(&w, "DELETE FROM " S "images WHERE store_id = $1 AND thread = $2");
	sk_del_step(&w, "DELETE FROM " S "user_threads WHERE store_id = $1 AND thread = $2");
	sk_del_step(&w, "DELETE FROM " S "threads WHERE store_id = $1 AND thread = $2");
	w.n = 1;
	sk_del_orphan_blobs(&w);
	return w.rc;
}

int sk_apply_clear_history(cj_sink *k, const sk_event *e)
{
	const char *p[3] = { k->store_id, sk_str(e->o, "user"), sk_str(e->o, "server") };
	sk_del w = { k, "clear_history", e->seq, 0, 2, p };
	if (!exists(&w, "SELECT 1 FROM " S "users WHERE store_id = $1 AND \"user\" = $2"))
		return w.rc;
	w.n = 3;
	sk_del_messages(&w, "m.\"user\" = $2 AND ($3::text IS NULL OR m.server = $3)");
	w.n = 2;
	fix_user_counts(&w);
	w.n = 1;
	sk_del_orphan_blobs(&w);
	return w.rc;
}

/* purge's kinds as bits (absent: all three). */
enum { P_MESSAGES = 1, P_IMAGES = 2, P_METRICS = 4, P_ALL = 7 };

static unsigned purge_kinds(const json_t *kinds)
{
	if (!json_is_array(kinds))
		return P_ALL;
	unsigned bits = 0;
	size_t i;
	const json_t *v;
	json_array_foreach(kinds, i, v) {
		const char *s = json_string_value(v);
		bits |= !s ? 0 : !strcmp(s, "messages") ? P_MESSAGES : !strcmp(s, "images") ? P_IMAGES :
		        !strcmp(s, "metrics") ? P_METRICS : 0;
	}
	return bits;
}

int sk_apply_purge(cj_sink *k, const sk_event *e)
{
	const json_t *b = json_object_get(e->o, "before");
	int64_t before;
	if (json_is_integer(b))
		before = json_integer_value(b);
	else if (!json_is_string(b) || cj_time_parse(&before, json_string_value(b)) != 0)
		return cj_error_set(CJ_ECORRUPT, NULL, "sink %s: journal record %llu: purge without a "
		                    "valid 'before'", k->store_id, (unsigned long long)e->seq);
	const char *thread = sk_str(e->o, "thread"), *user = sk_str(e->o, "user"),
	           *server = sk_str(e->o, "server");
	unsigned kinds = purge_kinds(json_object_get(e->o, "kinds"));
	char bms[32];
	snprintf(bms, sizeof bms, "%lld", (long long)before);
	const char *pt[2] = { k->store_id, thread }, *pu[2] = { k->store_id, user };
	sk_del w = { k, "purge", e->seq, 0, 2, pt };
	if (thread && !exists(&w, "SELECT 1 FROM " S "threads WHERE store_id = $1 AND thread = $2"))
		return w.rc;
	w.p = pu;
	if (user && !exists(&w, "SELECT 1 FROM " S "users WHERE store_id = $1 AND \"user\" = $2"))
		return w.rc;
	/* $2 before, $3 thread, $4 user, $5 server (NULL: no such scope) */
	const char *pm[5] = { k->store_id, bms, thread, user, server };
	w.p = pm;
	w.n = 5;
	if (kinds & P_MESSAGES)
		sk_del_messages(&w, "m.ts_ms < $2::bigint AND ($3::text IS NULL OR m.thread = $3)"
		                    " AND ($4::text IS NULL OR m.\"user\" = $4)"
		                    " AND ($5::text IS NULL OR m.server = $5)");
	/* Images have no user (a user-scoped purge keeps them); metrics have no
	 * scope at all (only an unscoped purge removes them). */
	const char *pi[4] = { k->store_id, bms, thread, server };
	w.p = pi;
	w.n = 4;
	if ((kinds & P_IMAGES) && !user)
		sk_del_step(&w, "DELETE FROM " S "images m WHERE m.store_id = $1 AND m.ts_ms < $2::bigint"
		         " AND ($3::text IS NULL OR m.thread = $3)"
		         " AND ($4::text IS NULL OR m.thread IN (SELECT thread FROM " S "threads"
		         " WHERE store_id = $1 AND server = $4))");
	w.n = 2;
	if ((kinds & P_METRICS) && !thread && !user && !server)
		sk_del_step(&w, "DELETE FROM " S "metrics WHERE store_id = $1 AND ts_ms < $2::bigint");
	if (user && !thread && !server) {
		w.p = pu;
		w.n = 2;
		fix_user_counts(&w);
	} else {
		w.n = 1;
		fix_all_counts(&w);
	}
	w.n = 1;
	sk_del_orphan_blobs(&w);
	return w.rc;
}
