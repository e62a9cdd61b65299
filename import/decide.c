/* import/decide.c — each event the parser emits, decided: validated, then
 * new, already present (same canonical text), a changed message that
 * becomes an edit, or a skip with its reason; accepted events go to the
 * plan's count, the kept events or the window (window.c). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "driver.h"

/* The keys whose values differ between two canonical JSON objects, as text
 * "a, b" (ts compared too). */
static void diff_keys(char *out, size_t n, json_t *a, json_t *b, int *only_content)
{
	out[0] = '\0';
	*only_content = 1;
	size_t used = 0;
	const char *k;
	json_t *v;
	int any = 0;
	json_object_foreach(a, k, v) {
		if (json_equal(v, json_object_get(b, k)))
			continue;
		any = 1;
		if (strcmp(k, "content") != 0)
			*only_content = 0;
		used += (size_t)snprintf(out + used, used < n ? n - used : 0, "%s%s", used ? ", " : "", k);
	}
	json_object_foreach(b, k, v) {
		if (json_object_get(a, k))
			continue;
		any = 1;
		if (strcmp(k, "content") != 0)
			*only_content = 0;
		used += (size_t)snprintf(out + used, used < n ? n - used : 0, "%s%s", used ? ", " : "", k);
	}
	if (!any)
		*only_content = 0;
}

/* The canonical JSON text of ev, parsed (NULL: out of memory). */
static json_t *canonical_json(const char *text, size_t len)
{
	return text ? json_loadb(text, len, 0, NULL) : NULL;
}

static char *canonical_text(size_t *len, const cj_event *ev)
{
	char *text = NULL;
	*len = 0;
	return cj_event_to_canonical_json(&text, len, ev) == 0 ? text : NULL;
}

/* cj_journal_find_id, but the plan knows an empty journal has no id (a
 * first import looks nothing up). */
static int find_id(imp *m, uint64_t *seq, const char *id)
{
	if (m->phase == PLAN && m->store_empty) {
		*seq = 0;
		return 0;
	}
	return cj_journal_find_id(seq, m->s, id);
}

enum verdict { V_NEW, V_PRESENT, V_EDIT, V_SKIP, V_FATAL };

/* Compare ev with what the store holds under its id. V_EDIT: a message
 * whose content alone changed (the stored content may also be blank:
 * compaction redacted text an edit superseded). */
static enum verdict judge(imp *m, const cj_event *ev, const char *id, char *why, size_t whylen)
{
	uint64_t seq = 0;
	int rc = find_id(m, &seq, id);
	if (rc < 0) {
		imp_fail(m, rc, "looking up id '%.64s': %s", id, cj_error_last());
		return V_FATAL;
	}
	if (rc == 0)
		return V_NEW;
	cj_event *stored = NULL;
	cj_record rec;
	rc = cj_journal_get(&stored, &rec, m->s, seq);
	if (rc != 0) {
		imp_fail(m, rc, "reading the event with id '%.64s' (sequence %llu): %s", id,
		         (unsigned long long)seq, cj_error_last());
		return V_FATAL;
	}
	if ((rec.flags & CJ_RECORD_REDACTED) && !(rec.flags & CJ_RECORD_PARTIAL)) {
		cj_event_free(stored);
		return V_PRESENT;   /* deleted since: the journal would call it a duplicate too */
	}
	size_t la, lb;
	char *ta = canonical_text(&la, ev), *tb = canonical_text(&lb, stored);
	cj_event_free(stored);
	/* The same canonical text is the same event (a re-import, the common
	 * case, ends here); otherwise the values say which keys differ. */
	if (ta && tb && la == lb && memcmp(ta, tb, la) == 0) {
		cj_free(ta);
		cj_free(tb);
		return V_PRESENT;
	}
	json_t *a = canonical_json(ta, la), *b = canonical_json(tb, lb);
	cj_free(ta);
	cj_free(tb);
	enum verdict v = V_PRESENT;
	if (!a || !b) {
		json_decref(a);
		json_decref(b);
		imp_fail(m, CJ_ENOMEM, "out of memory");
		return V_FATAL;
	}
	/* An event appended without "ts" took the append time, which the journal
	 * leaves out of its comparison too. */
	if (!json_object_get(a, "ts"))
		json_object_del(b, "ts");
	if (!json_equal(a, b)) {
		char keys[300];
		int only_content = 0;
		diff_keys(keys, sizeof keys, a, b, &only_content);
		if (only_content && cj_event_get_type(ev) == CJ_EVENT_MESSAGE) {
			v = V_EDIT;
		} else if ((rec.flags & CJ_RECORD_PARTIAL) && only_content) {
			v = V_PRESENT;
		} else {
			v = V_SKIP;
			snprintf(why, whylen, "id '%.80s' is stored with other values of %s (%s)", id, keys,
			         cj_event_get_type(ev) == CJ_EVENT_MESSAGE ?
			         "only a message's content can change: it becomes an edit" :
			         "an event of this id cannot change");
		}
	}
	json_decref(a);
	json_decref(b);
	return v;
}

/* The edit_message that brings the stored message `msg` to its new text. */
static cj_event *make_edit(imp *m, const cj_event *msg, const imp_edit *edit)
{
	const char *id = cj_event_get_string(msg, "id");
	const char *content = cj_event_get_string(msg, "content");
	char stamp[64], eid[257];
	if (edit && edit->stamp && *edit->stamp) {
		snprintf(stamp, sizeof stamp, "%s", edit->stamp);
	} else {
		imp_hash_text(stamp, content ? content : "", content ? strlen(content) : 0);
	}
	imp_id(eid, "%s:edit:%s", id, stamp);
	eb b = { 0, "" };
	cj_event *e = eb_new(&b, "edit_message");
	eb_str(&b, e, "id", eid);
	eb_str(&b, e, "thread", cj_event_get_string(msg, "thread"));
	eb_str(&b, e, "target", id);
	eb_str(&b, e, "content", content ? content : "");
	if (edit && edit->editor)
		eb_str(&b, e, "editor", edit->editor);
	int64_t ts = 0;
	if (edit && edit->ts_ms > 0)
		ts = edit->ts_ms;
	else if (cj_event_get_ts(&ts, msg) != 1)
		ts = 0;
	if (ts > 0)
		eb_int(&b, e, "ts", ts);
	if (b.rc) {
		cj_event_free(e);
		imp_fail(m, b.rc, "building an edit of '%.64s': %s", id, b.why);
		return NULL;
	}
	return e;
}

static void note_retention(imp *m, const cj_event *ev)
{
	cj_event_type t = cj_event_get_type(ev);
	if (!m->retention_cutoff || (t != CJ_EVENT_MESSAGE && t != CJ_EVENT_IMAGE))
		return;
	int64_t ts;
	if (cj_event_get_ts(&ts, ev) == 1 && ts < m->retention_cutoff)
		m->rep.retention_dropped++;
}

/* Accept ev (owned): count it (plan) or queue it (append). */
int imp_accept(imp *m, cj_event *ev)
{
	int kind = (int)cj_event_get_type(ev);
	if (m->phase == PLAN) {
		rp_count(&m->rep, m->file, kind, RP_IMPORTED);
		note_retention(m, ev);
		if (m->in_sync || !m->kept.on) {
			cj_event_free(ev);
			return 0;
		}
		/* The element's bytes are charged once, to its first event. */
		uint64_t cost = KEEP_OVERHEAD + KEEP_FACTOR * m->elem_bytes;
		m->elem_bytes = 0;
		keep_add(&m->kept, ev, m->file, kind, m->group_start, cost);
		m->group_start = 0;
		return 0;
	}
	note_retention(m, ev);
	return imp_batch_add(m, &m->cur, ev, kind);
}

/* One event of a group: 1 accepted (new or an edit), 0 present or skipped
 * (*skipped says which), < 0 fatal. Owns ev. */
static int decide(imp *m, cj_event *ev, const imp_edit *edit, int *skipped)
{
	int kind = (int)cj_event_get_type(ev);
	*skipped = 0;
	/* An edit, delete or reaction needs its message: stored, or earlier in
	 * this source (the journal would refuse it at append, too late). */
	const char *target = cj_event_get_string(ev, "target");
	if (target && (kind == CJ_EVENT_EDIT_MESSAGE || kind == CJ_EVENT_DELETE_MESSAGE ||
	               kind == CJ_EVENT_REACTION) &&
	    !idset_has(&m->seen, XXH64(target, strlen(target), 0))) {
		uint64_t seq;
		int rc = find_id(m, &seq, target);
		if (rc < 0) {
			cj_event_free(ev);
			return imp_fail(m, rc, "looking up id '%.64s': %s", target, cj_error_last());
		}
		if (rc == 0) {
			char why[400];
			snprintf(why, sizeof why, "target '%.80s' is neither in the store nor earlier in "
			         "the source", target);
			rp_skip(&m->rep, m->file, kind, m->line, m->byte, why);
			cj_event_free(ev);
			*skipped = 1;
			return 0;
		}
	}
	const char *id = cj_event_get_string(ev, "id");
	if (!id)
		return imp_accept(m, ev) == 0 ? 1 : m->rc;
	uint64_t h = XXH64(id, strlen(id), 0);
	int again = idset_add(&m->seen, h) == 1;
	if (again && m->phase == PLAN)
		keep_drop(&m->kept, "an id repeats in the source");
	if (again && m->phase == APPEND) {
		/* This id came earlier in this source: let it commit, then compare. */
		if (imp_flush_all(m) != 0) {
			cj_event_free(ev);
			return m->rc;
		}
	}
	char why[600];
	enum verdict v = judge(m, ev, id, why, sizeof why);
	switch (v) {
	case V_NEW:
		return imp_accept(m, ev) == 0 ? 1 : m->rc;
	case V_PRESENT:
		rp_count(&m->rep, m->file, kind, RP_PRESENT);
		cj_event_free(ev);
		return 0;
	case V_SKIP:
		rp_skip(&m->rep, m->file, kind, m->line, m->byte, why);
		cj_event_free(ev);
		*skipped = 1;
		return 0;
	case V_EDIT: {
		rp_count(&m->rep, m->file, kind, RP_PRESENT);
		cj_event *e = make_edit(m, ev, edit);
		cj_event_free(ev);
		if (!e)
			return m->rc;
		rp_seen(&m->rep, m->file, CJ_EVENT_EDIT_MESSAGE);
		const char *eid = cj_event_get_string(e, "id");
		uint64_t seq;
		int rc = find_id(m, &seq, eid);
		if (rc < 0) {
			cj_event_free(e);
			return imp_fail(m, rc, "looking up id '%.64s': %s", eid, cj_error_last());
		}
		if (rc == 1) {
			rp_count(&m->rep, m->file, CJ_EVENT_EDIT_MESSAGE, RP_PRESENT);
			cj_event_free(e);
			return 0;
		}
		m->rep.edits++;
		return imp_accept(m, e) == 0 ? 1 : m->rc;
	}
	case V_FATAL:
	default:
		cj_event_free(ev);
		return m->rc ? m->rc : CJ_EINVAL;
	}
}

int imp_start_group(imp *m, size_t n)
{
	m->group_start = 1;
	if (m->phase == APPEND && m->cur.n > 0 && m->cur.n + n > BATCH_MAX)
		return imp_submit_cur(m);
	return 0;
}

int imp_emit(imp *m, cj_event **evs, size_t n, const imp_edit *edit)
{
	if (m->rec)
		return rec_emit(m, evs, n, edit);
	return imp_emit_group(m, evs, n, edit, NULL);
}

int imp_emit_group(imp *m, cj_event **evs, size_t n, const imp_edit *edit, char **pre)
{
	int rc = m->failed ? m->rc : imp_start_group(m, n);
	size_t i = 0;
	int main_skipped = 0;
	char why[700] = "";
	for (; i < n && rc == 0; i++) {
		cj_event *ev = evs[i];
		evs[i] = NULL;
		int kind = (int)cj_event_get_type(ev);
		rp_seen(&m->rep, m->file, kind);
		if (main_skipped) {
			rp_skip(&m->rep, m->file, kind, m->line, m->byte,
			        "the message it belongs to was skipped");
			cj_event_free(ev);
			continue;
		}
		/* The plan validated every event; the append validates again
		 * inside cj_journal_submit, which refuses what does not pass. */
		int vrc = pre ? pre[i] != NULL : m->phase == PLAN ? cj_event_validate(ev, m->lim) : 0;
		if (vrc != 0) {
			snprintf(why, sizeof why, "%s", pre ? pre[i] : cj_error_last());
			rp_skip(&m->rep, m->file, kind, m->line, m->byte, why);
			cj_event_free(ev);
			main_skipped = i == 0;
			continue;
		}
		int skipped = 0;
		int d = decide(m, ev, i == 0 ? edit : NULL, &skipped);
		if (d < 0)
			rc = d;
		if (i == 0 && skipped)
			main_skipped = 1;
	}
	for (; i < n; i++)
		cj_event_free(evs[i]);
	return rc;
}

