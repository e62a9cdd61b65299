/* export/jsonl.c — the journal's events as JSON Lines, in order, up to the
 * last sequence number when the export began: each line the event's
 * canonical JSON (cj_event_to_canonical_json: keys sorted bytewise, "ts"
 * integer ms) with "seq" inserted and "redacted": true for a tombstone,
 * the element shape of the change feed. Tombstones are written as they
 * are stored (what compaction kept), so the export is the journal as it
 * is. A thread's export is every event whose "thread" is the thread; a
 * user's every event whose "user" is the user and whose "server", if the
 * event has one and a server was given, is that server. */
#include <string.h>
#include "export_internal.h"

static int in_scope(const json_t *ev, const cj_export_options *o)
{
	if (o->all)
		return 1;
	if (o->thread) {
		const char *t = json_string_value(json_object_get(ev, "thread"));
		return t && !strcmp(t, o->thread);
	}
	const char *u = json_string_value(json_object_get(ev, "user"));
	if (!u || strcmp(u, o->user))
		return 0;
	const char *sv = json_string_value(json_object_get(ev, "server"));
	return !o->server || !sv || !strcmp(sv, o->server);
}

/* One record's line, if in scope. */
static int line(ex_out *w, cj_export_stats *st, const cj_record *rec, const cj_export_options *o)
{
	char *text;
	size_t len;
	int rc = cj_event_to_canonical_json(&text, &len, rec->event);
	if (rc)
		return rc;
	json_error_t e;
	json_t *ev = json_loadb(text, len, 0, &e);
	cj_free(text);
	if (!json_is_object(ev)) {
		json_decref(ev);
		return cj_error_set(CJ_ECORRUPT, NULL, "export: journal record %llu: its JSON does not "
		                    "read back: %s", (unsigned long long)rec->seq, e.text);
	}
	if (!in_scope(ev, o)) {
		json_decref(ev);
		return 0;
	}
	int redacted = (rec->flags & CJ_RECORD_REDACTED) != 0;
	json_object_set_new(ev, "seq", json_integer((json_int_t)rec->seq));
	if (redacted)
		json_object_set_new(ev, "redacted", json_true());
	char *out = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
	json_decref(ev);
	if (!out)
		return cj_error_set(CJ_ENOMEM, NULL, "export: out of memory (journal record %llu)",
		                    (unsigned long long)rec->seq);
	ex_puts(w, out);
	ex_put(w, "\n", 1);
	free(out);
	st->events++;
	st->redacted += (uint64_t)redacted;
	return w->rc;
}

int ex_jsonl(cj_export_stats *st, cj_store *s, const cj_export_options *o, ex_out *w)
{
	uint64_t last;
	int rc = cj_journal_last_seq(&last, s);
	if (rc || last == 0)
		return rc;
	cj_journal_iter *it;
	if ((rc = cj_journal_iter_new(&it, s, 1)))
		return rc;
	cj_record rec;
	int r;
	while ((r = cj_journal_iter_next(&rec, it)) == 1 && rec.seq <= last)
		if ((rc = line(w, st, &rec, o)))
			break;
	if (!rc && r < 0)
		rc = r; /* CJ_ECORRUPT names the record */
	cj_journal_iter_free(it);
	return rc;
}
