/* import/driver.c — plan, then append. The parser runs once to plan: every
 * event it builds is validated against the store's limits and compared
 * with what the store holds under its id (new, already present, a changed
 * message that becomes an edit, or a skip with its reason); nothing is
 * appended. Only when the plan is clean (or skips are allowed) are the
 * accepted events appended in order through a window of a few tickets in
 * flight: the ones the plan kept (keep.h), or, when it could not keep them,
 * those of a second run of the parser, which takes the same decisions.
 * --sync then deletes what the source no longer has. The journal cannot
 * roll back: the plan is what makes a bad source fail before anything is
 * stored. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>
#include "driver.h"

/* ---- errors and positions ------------------------------------------------- */

int imp_fail(imp *m, int rc, const char *fmt, ...)
{
	if (m->failed)
		return m->rc;
	if (m->rec && m->rec_failed)
		return m->rec_rc;
	char msg[sizeof m->err];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (m->rec)
		return rec_fail(m, rc, msg);
	memcpy(m->err, msg, sizeof m->err);
	m->failed = 1;
	m->rc = rc ? rc : CJ_EINVAL;
	return m->rc;
}

int imp_fail_scan(imp *m, const scan *s)
{
	return imp_fail(m, CJ_EINVAL, "%s", s->err);
}

int imp_file(imp *m, const char *name)
{
	if (m->rec)
		return rec_file(m, name);
	m->done_base += m->file_done;
	m->file_done = 0;
	m->file = rp_file_index(&m->rep, name);
	m->line = m->byte = 0;
	if (m->file < 0)
		return imp_fail(m, CJ_ENOMEM, "out of memory");
	return 0;
}

void imp_at_elem(imp *m, uint64_t line, uint64_t byte, uint64_t elem_bytes)
{
	if (m->rec) {
		rec_at(m, line, byte, elem_bytes);
		return;
	}
	m->line = line;
	m->byte = byte;
	m->elem_bytes = elem_bytes;
}

void imp_at(imp *m, uint64_t line, uint64_t byte) { imp_at_elem(m, line, byte, 0); }

void imp_at_scan(imp *m, const scan *s) { imp_at_elem(m, s->elem_line, s->elem_off, s->elem_len); }

void imp_skip(imp *m, const char *kind, const char *fmt, ...)
{
	char why[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	imp_skip_text(m, kind ? (int)cj_event_type_from_name(kind) : 0, why);
}

void imp_skip_text(imp *m, int kind, const char *why)
{
	if (m->rec) {
		rec_skip(m, kind, why);
		return;
	}
	rp_seen(&m->rep, m->file, kind);
	rp_skip(&m->rep, m->file, kind, m->line, m->byte, why);
}

void imp_progress(imp *m, uint64_t file_done)
{
	if (m->rec) {
		rec_progress(m, file_done);
		return;
	}
	m->file_done = file_done;
	if (m->o->progress)
		m->o->progress(m->o->progress_arg, m->phase == PLAN ? "plan" : "import",
		               m->done_base + file_done, m->total_bytes);
}

uint64_t imp_max_element(const imp *m)
{
	return m->o->max_element ? m->o->max_element : (uint64_t)64 << 20;
}

const char *imp_server(const imp *m, const char *source_default)
{
	return m->o->server ? m->o->server : source_default;
}

int imp_dry_run(const imp *m) { return m->o->dry_run; }

/* ---- the window of tickets ------------------------------------------------ */

static void batch_clear(batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		cj_event_free(b->evs[i]);
	b->n = 0;
	b->t = NULL;
}

static void batch_free(batch *b)
{
	if (b->t) {
		cj_ticket_wait(NULL, b->t);
		cj_ticket_free(b->t);
		b->t = NULL;
	}
	batch_clear(b);
	free(b->evs);
	free(b->file);
	free(b->kind);
	memset(b, 0, sizeof *b);
}

static int batch_add(imp *m, batch *b, cj_event *ev, int kind)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		cj_event **e = realloc(b->evs, cap * sizeof *e);
		if (e)
			b->evs = e;
		long *f = e ? realloc(b->file, cap * sizeof *f) : NULL;
		if (f)
			b->file = f;
		unsigned char *k = f ? realloc(b->kind, cap) : NULL;
		if (!k) {
			cj_event_free(ev);
			return imp_fail(m, CJ_ENOMEM, "out of memory");
		}
		b->kind = k;
		b->cap = cap;
	}
	b->evs[b->n] = ev;
	b->file[b->n] = m->file;
	b->kind[b->n++] = (unsigned char)kind;
	return 0;
}

static int free_events(imp *wm, void *arg)
{
	(void)wm;
	cj_event **evs = arg;
	for (size_t i = 0; evs[i]; i++)
		cj_event_free(evs[i]);
	free(evs);
	return 0;
}

/* Free a committed batch's events: on a worker when there are workers
 * (they are idle while the driver appends, and freeing a million jansson
 * trees is a good part of an append's time). */
static void batch_release(imp *m, batch *b)
{
	cj_event **evs = m->par && b->n ? malloc((b->n + 1) * sizeof *evs) : NULL;
	if (evs) {
		memcpy(evs, b->evs, b->n * sizeof *evs);
		evs[b->n] = NULL;
		if (par_detach(m->par, free_events, evs) == 0)
			b->n = 0;
		else
			free(evs);
	}
	batch_clear(b);
}

/* Wait for the oldest ticket and count what became of its events. */
static int ring_pop(imp *m)
{
	batch *b = &m->ring[m->ring_head];
	if (b->n > m->status_cap) {
		/* kept from ticket to ticket: a large malloc per ticket makes glibc
		 * consolidate its free lists each time */
		size_t cap = b->n > BATCH_MAX ? b->n : BATCH_MAX;
		uint64_t *q = realloc(m->seqs, cap * sizeof *q);
		if (q)
			m->seqs = q;
		cj_append_status *a = q ? realloc(m->status, cap * sizeof *a) : NULL;
		if (a) {
			m->status = a;
			m->status_cap = cap;
		}
	}
	uint64_t *seqs = m->seqs;
	cj_append_status *st = m->status;
	int rc = b->n <= m->status_cap ? cj_ticket_wait(seqs, b->t) : CJ_ENOMEM;
	if (rc == 0)
		rc = cj_ticket_status(st, m->s, b->t);
	if (rc == 0) {
		for (size_t i = 0; i < b->n; i++) {
			int present = st[i] != CJ_APPEND_NEW;
			if (!m->replay)
				rp_count(&m->rep, b->file[i], b->kind[i], present ? RP_PRESENT : RP_IMPORTED);
			else if (present)   /* the plan counted it imported; a writer was first */
				rp_move(&m->rep, b->file[i], b->kind[i], RP_IMPORTED, RP_PRESENT);
			if (!present && seqs[i] > m->last_seq)
				m->last_seq = seqs[i];
		}
	} else {
		const char *f = b->n && b->file[0] >= 0 ? m->rep.files[b->file[0]].name : "?";
		imp_fail(m, rc, "appending events read from %s: %s (the events before them are "
		         "durable, and maybe some after; a rerun appends what is missing)", f,
		         cj_error_last()[0] ? cj_error_last() : cj_strerror(rc));
	}
	cj_ticket_free(b->t);
	b->t = NULL;
	batch_release(m, b);
	m->ring_head = (m->ring_head + 1) % INFLIGHT;
	m->ring_n--;
	return rc;
}

static int submit_cur(imp *m)
{
	if (m->cur.n == 0 || m->failed)
		return m->failed ? m->rc : 0;
	if (m->ring_n == INFLIGHT && ring_pop(m) != 0)
		return m->rc;
	size_t slot = (m->ring_head + m->ring_n) % INFLIGHT;
	batch tmp = m->ring[slot];
	m->ring[slot] = m->cur;
	m->cur = tmp;
	m->cur.n = 0;
	batch *b = &m->ring[slot];
	int rc = cj_journal_submit(&b->t, m->s, (const cj_event *const *)b->evs, b->n);
	if (rc != 0) {
		const char *f = b->file[0] >= 0 ? m->rep.files[b->file[0]].name : "?";
		imp_fail(m, rc, "appending events read from %s: %s", f,
		         cj_error_last()[0] ? cj_error_last() : cj_strerror(rc));
		b->t = NULL;
		batch_clear(b);
		return rc;
	}
	m->ring_n++;
	return 0;
}

static int flush_all(imp *m)
{
	submit_cur(m);
	while (m->ring_n > 0)
		ring_pop(m);
	return m->failed ? m->rc : 0;
}

/* ---- deciding each event -------------------------------------------------- */

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
static int accept_event(imp *m, cj_event *ev)
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
	return batch_add(m, &m->cur, ev, kind);
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
		return accept_event(m, ev) == 0 ? 1 : m->rc;
	uint64_t h = XXH64(id, strlen(id), 0);
	int again = idset_add(&m->seen, h) == 1;
	if (again && m->phase == PLAN)
		keep_drop(&m->kept, "an id repeats in the source");
	if (again && m->phase == APPEND) {
		/* This id came earlier in this source: let it commit, then compare. */
		if (flush_all(m) != 0) {
			cj_event_free(ev);
			return m->rc;
		}
	}
	char why[600];
	enum verdict v = judge(m, ev, id, why, sizeof why);
	switch (v) {
	case V_NEW:
		return accept_event(m, ev) == 0 ? 1 : m->rc;
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
		return accept_event(m, e) == 0 ? 1 : m->rc;
	}
	case V_FATAL:
	default:
		cj_event_free(ev);
		return m->rc ? m->rc : CJ_EINVAL;
	}
}

static int start_group(imp *m, size_t n)
{
	m->group_start = 1;
	if (m->phase == APPEND && m->cur.n > 0 && m->cur.n + n > BATCH_MAX)
		return submit_cur(m);
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
	int rc = m->failed ? m->rc : start_group(m, n);
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

int imp_cover(imp *m, const char *thread, const char *prefix, int64_t ts)
{
	if (!m->o->sync)
		return 0;
	if (m->rec)
		return rec_cover(m, thread, prefix, ts);
	for (size_t i = m->ncovers; i-- > 0;) {
		cover *c = &m->covers[i];
		if (strcmp(c->thread, thread) == 0 && strcmp(c->prefix, prefix) == 0) {
			if (ts < c->lo)
				c->lo = ts;
			if (ts > c->hi)
				c->hi = ts;
			return 0;
		}
	}
	cover *nc = realloc(m->covers, (m->ncovers + 1) * sizeof *nc);
	if (!nc)
		return imp_fail(m, CJ_ENOMEM, "out of memory");
	m->covers = nc;
	cover *c = &m->covers[m->ncovers];
	c->thread = strdup(thread);
	c->prefix = strdup(prefix);
	c->lo = c->hi = ts;
	if (!c->thread || !c->prefix) {
		free(c->thread);
		free(c->prefix);
		return imp_fail(m, CJ_ENOMEM, "out of memory");
	}
	m->ncovers++;
	return 0;
}

/* ---- --sync --------------------------------------------------------------- */

/* One row of a covered thread: a delete when it is the source's, inside the
 * covered span, and the source no longer has it. */
static int sync_row(imp *m, const cover *c, json_t *row)
{
	const char *id = js(row, "id");
	json_t *ts = json_object_get(row, "ts_ms");
	if (!id || !json_is_integer(ts) || strncmp(id, c->prefix, strlen(c->prefix)) != 0)
		return 0;
	int64_t t = json_integer_value(ts);
	if (t < c->lo || t > c->hi || idset_has(&m->seen, XXH64(id, strlen(id), 0)))
		return 0;
	char did[257];
	imp_id(did, "%s:delete", id);
	eb b = { 0, "" };
	cj_event *ev = eb_new(&b, "delete_message");
	eb_str(&b, ev, "id", did);
	eb_str(&b, ev, "thread", c->thread);
	eb_str(&b, ev, "target", id);
	if (b.rc) {
		cj_event_free(ev);
		return imp_fail(m, b.rc, "building a delete of '%.64s': %s", id, b.why);
	}
	rp_seen(&m->rep, m->file, CJ_EVENT_DELETE_MESSAGE);
	m->rep.deletes++;
	if (start_group(m, 1) != 0) {
		cj_event_free(ev);
		return m->rc;
	}
	return accept_event(m, ev);
}

static int sync_deletes(imp *m)
{
	if (!m->o->sync || m->ncovers == 0)
		return 0;
	if (imp_file(m, "(sync)") != 0)
		return m->rc;
	/* An append from kept events runs this again: the plan's deletes were
	 * counted, not kept, and the projection decides anew. */
	rp_reset_file(&m->rep, m->file);
	m->rep.deletes = 0;
	/* The projection must have applied everything appended so far. */
	if (flush_all(m) != 0)
		return m->rc;
	uint64_t last = 0;
	int rc = cj_journal_last_seq(&last, m->s);
	if (rc == 0 && last > 0)
		rc = cj_wait_applied(m->s, last, 600000);
	if (rc != 0)
		return imp_fail(m, rc, "--sync: waiting for the projection: %s", cj_error_last());
	m->in_sync = 1;
	for (size_t i = 0; i < m->ncovers && !m->failed; i++) {
		const cover *c = &m->covers[i];
		uint64_t after = 0;
		for (;;) {
			cj_history_query q = CJ_HISTORY_QUERY_INIT;
			q.thread = c->thread;
			q.limit = 1000;
			q.after = after;
			q.forward = 1;
			char *text = NULL;
			rc = cj_query_history(&text, m->s, &q);
			if (rc != 0)
				m->in_sync = 0;
			if (rc != 0)
				return imp_fail(m, rc, "--sync: reading thread '%.64s': %s", c->thread,
				                cj_error_last());
			json_t *rows = json_loads(text, 0, NULL);
			cj_free(text);
			size_t n = json_array_size(rows);
			for (size_t k = 0; k < n && !m->failed; k++) {
				json_t *row = json_array_get(rows, k);
				json_t *seq = json_object_get(row, "seq");
				if (json_is_integer(seq) && (uint64_t)json_integer_value(seq) > after)
					after = (uint64_t)json_integer_value(seq);
				sync_row(m, c, row);
			}
			json_decref(rows);
			if (n < 1000 || m->failed)
				break;
		}
	}
	m->in_sync = 0;
	return m->failed ? m->rc : 0;
}

/* ---- one pass ------------------------------------------------------------- */

static int run_parser(imp *m, const char *path)
{
	switch (m->o->format) {
	case CJ_IMPORT_JSONL: return fmt_jsonl(m, path);
	case CJ_IMPORT_SLACK: return fmt_slack(m, path);
	case CJ_IMPORT_DISCORD: return fmt_discord(m, path);
	case CJ_IMPORT_CHATGPT: return fmt_chatgpt(m, path);
	}
	return imp_fail(m, CJ_EINVAL, "unknown format %d", (int)m->o->format);
}

static int run_pass(imp *m, enum phase phase, const char *path)
{
	m->phase = phase;
	rp_reset(&m->rep);
	idset_clear(&m->seen);
	for (size_t i = 0; i < m->ncovers; i++) {
		free(m->covers[i].thread);
		free(m->covers[i].prefix);
	}
	m->ncovers = 0;
	m->done_base = m->file_done = 0;
	if (phase == PLAN) {
		uint64_t last = 1;
		m->store_empty = cj_journal_last_seq(&last, m->s) == 0 && last == 0;
	}
	/* A bulk load: this process's projection work waits until the appends
	 * are done (as `chatjournal append FILE` does), and catches up after;
	 * --sync reads the projection, so it is released before. */
	if (phase == APPEND)
		cj_store_defer_projection(m->s, 1);
	int rc = run_parser(m, path);
	imp_par_drain(m);   /* what the workers read, in order */
	if (phase == APPEND)
		flush_all(m);
	if (phase == APPEND)
		cj_store_defer_projection(m->s, 0);
	if (rc == 0 && !m->failed)
		rc = sync_deletes(m);
	if (phase == APPEND)
		flush_all(m);
	return m->failed ? m->rc : rc;
}

/* The append from the plan's kept events: the same events in the same order
 * and groups, without reading the source again. The plan's counts stand;
 * an event a concurrent writer stored since (same id and payload) is
 * counted present, as the journal answers; one it stored with other values
 * fails the append (CJ_ECONFLICT, naming the file; a rerun decides anew),
 * where reading the source again would have made an edit or a skip of it.
 * --sync reads the projection again once everything is appended. */
static int append_kept(imp *m)
{
	keep *k = &m->kept;
	m->phase = APPEND;
	m->replay = 1;
	m->done_base = m->file_done = 0;
	cj_store_defer_projection(m->s, 1);
	for (size_t i = 0; i < k->n && !m->failed; i++) {
		keep_item *it = &k->items[i];
		if (it->group) {
			size_t j = i + 1;
			while (j < k->n && !k->items[j].group)
				j++;
			if (m->cur.n > 0 && m->cur.n + (j - i) > BATCH_MAX && submit_cur(m) != 0)
				break;
		}
		m->file = it->file;
		cj_event *ev = it->ev;
		it->ev = NULL;
		if (batch_add(m, &m->cur, ev, it->kind) != 0)
			break;
		if ((i & 4095) == 0 && m->o->progress)
			m->o->progress(m->o->progress_arg, "import",
			               (uint64_t)((double)m->total_bytes * (double)i / (double)k->n),
			               m->total_bytes);
	}
	flush_all(m);
	cj_store_defer_projection(m->s, 0);
	m->replay = 0;
	keep_free(k);
	if (!m->failed)
		sync_deletes(m);
	flush_all(m);
	return m->failed ? m->rc : 0;
}

/* ---- the entry ------------------------------------------------------------ */

static uint64_t tree_bytes(const char *path, int depth)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return 0;
	if (S_ISREG(st.st_mode))
		return (uint64_t)st.st_size;
	if (!S_ISDIR(st.st_mode) || depth > 2)
		return 0;
	char **names;
	size_t n;
	uint64_t t = 0;
	for (int dirs = 0; dirs < 2; dirs++) {
		if (list_dir(&names, &n, path, dirs, NULL) != 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			char sub[4096];
			snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
			t += tree_bytes(sub, depth + 1);
		}
		free_names(names, n);
	}
	return t;
}

/* retention.messages_days of the store's chatjournal.conf (docs/operations.md). */
static int64_t retention_cutoff(cj_store *s)
{
	char conf[4096];
	snprintf(conf, sizeof conf, "%s/chatjournal.conf", cj_store_path(s));
	json_t *j = json_load_file(conf, 0, NULL);
	json_t *d = json_object_get(json_object_get(j, "retention"), "messages_days");
	int64_t days = json_is_integer(d) ? json_integer_value(d) : 0;
	json_decref(j);
	if (days <= 0)
		return 0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000 - days * 86400000;
}

static const char *format_name(cj_import_format f)
{
	switch (f) {
	case CJ_IMPORT_JSONL: return "jsonl";
	case CJ_IMPORT_SLACK: return "slack";
	case CJ_IMPORT_DISCORD: return "discord";
	case CJ_IMPORT_CHATGPT: return "chatgpt";
	}
	return "unknown";
}

cj_import_format cj_import_format_from_name(const char *name)
{
	static const cj_import_format all[] = { CJ_IMPORT_JSONL, CJ_IMPORT_SLACK, CJ_IMPORT_DISCORD,
	                                        CJ_IMPORT_CHATGPT };
	for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
		if (strcmp(name, format_name(all[i])) == 0)
			return all[i];
	return (cj_import_format)0;
}

static void fill_summary(cj_import_summary *out, const imp *m)
{
	memset(out, 0, sizeof *out);
	out->seen = rp_total(&m->rep, -1, -1);
	out->imported = rp_total(&m->rep, -1, RP_IMPORTED);
	out->present = rp_total(&m->rep, -1, RP_PRESENT);
	out->skipped = rp_total(&m->rep, -1, RP_SKIPPED);
	out->edits = m->rep.edits;
	out->deletes = m->rep.deletes;
	out->retention_dropped = m->rep.retention_dropped;
	out->last_seq = m->last_seq;
}

static char *report_text(const imp *m, const char *phase, int appended)
{
	json_t *o = rp_json(&m->rep);
	json_object_set_new(o, "format", json_string(format_name(m->o->format)));
	json_object_set_new(o, "path", json_string(m->o->path));
	json_object_set_new(o, "phase", json_string(phase));
	json_object_set_new(o, "appended", json_boolean(appended));
	json_object_set_new(o, "dry_run", json_boolean(m->o->dry_run));
	json_object_set_new(o, "sync", json_boolean(m->o->sync));
	json_object_set_new(o, "allow_skips", json_boolean(m->o->allow_skips));
	json_object_set_new(o, "last_seq", json_integer((json_int_t)m->last_seq));
	json_object_set_new(o, "source_reads", json_integer(m->reads));
	json_object_set_new(o, "retention_dropped",
	                    json_integer((json_int_t)m->rep.retention_dropped));
	if (m->failed)
		json_object_set_new(o, "error", json_string(m->err));
	char *t = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!t)
		return NULL;
	/* the caller frees it with cj_free (free) */
	return t;
}

int cj_import_run(cj_import_summary *summary, char **report_json, cj_store *s,
                  const cj_import_options *opts)
{
	if (summary)
		memset(summary, 0, sizeof *summary);
	if (report_json)
		*report_json = NULL;
	if (!s || !opts)
		return cj_error_set(CJ_EINVAL, NULL, "import: no store or no options");
	if (opts->version < 1 || opts->version > CJ_IMPORT_OPTIONS_VERSION)
		return cj_error_set(CJ_EINVAL, "version", "import: options version %u is not 1..%d",
		                    opts->version, CJ_IMPORT_OPTIONS_VERSION);
	if (!cj_import_format_from_name(format_name(opts->format)))
		return cj_error_set(CJ_EINVAL, "format", "import: unknown format %d", (int)opts->format);
	if (!opts->path || !*opts->path)
		return cj_error_set(CJ_EINVAL, "path", "import: no path");
	struct stat st;
	if (stat(opts->path, &st) != 0)
		return cj_error_set(CJ_ENOTFOUND, "path", "import: '%s': no such file or folder",
		                    opts->path);

	imp *m = calloc(1, sizeof *m);
	if (!m)
		return cj_error_set(CJ_ENOMEM, NULL, "import: out of memory");
	m->s = s;
	m->o = opts;
	m->lim = cj_store_limits(s);
	rp_init(&m->rep);
	idset_init(&m->seen);
	keep_init(&m->kept, opts->dry_run ? 0 : keep_budget_from_env());
	m->retention_cutoff = retention_cutoff(s);

	char *tmpdir = NULL;
	const char *path = opts->path;
	int rc = 0;
	if (opts->format == CJ_IMPORT_SLACK && S_ISREG(st.st_mode) && zip_is_zip(opts->path)) {
		char err[600];
		rc = zip_extract(&tmpdir, opts->path, opts->max_entry ? opts->max_entry : (uint64_t)1 << 30,
		                 opts->max_total ? opts->max_total : (uint64_t)16 << 30, err, sizeof err);
		if (rc != 0)
			imp_fail(m, rc, "%s", err);
		path = tmpdir;
	}
	const char *phase = "plan";
	int appended = 0;
	if (!m->failed) {
		m->total_bytes = tree_bytes(path, 0);
		m->reads = 1;
		rc = run_pass(m, PLAN, path);
		uint64_t skipped = rp_total(&m->rep, -1, RP_SKIPPED);
		if (rc == 0 && skipped && !opts->allow_skips)
			rc = imp_fail(m, CJ_EINVAL, "%llu item%s of the source must be skipped (see the "
			              "report); nothing was imported (allow skips to import the rest)",
			              (unsigned long long)skipped, skipped == 1 ? "" : "s");
		if (rc == 0 && !opts->dry_run) {
			phase = "import";
			appended = 1;
			m->reads += !m->kept.on;
			rc = m->kept.on ? append_kept(m) : run_pass(m, APPEND, path);
		}
	}
	if (summary)
		fill_summary(summary, m);
	if (report_json)
		*report_json = report_text(m, phase, appended);
	if (m->failed) {
		rc = m->rc;
		cj_error_set(rc, NULL, "import: %s", m->err);
	}
	for (size_t i = 0; i < INFLIGHT; i++)
		batch_free(&m->ring[i]);
	batch_free(&m->cur);
	for (size_t i = 0; i < m->ncovers; i++) {
		free(m->covers[i].thread);
		free(m->covers[i].prefix);
	}
	free(m->covers);
	par_free(m->par);
	free(m->seqs);
	free(m->status);
	idset_free(&m->seen);
	keep_free(&m->kept);
	rp_free(&m->rep);
	if (tmpdir) {
		zip_remove(tmpdir);
		free(tmpdir);
	}
	free(m);
	return rc;
}
