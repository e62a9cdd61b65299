/* import/sync.c — --sync: the spans of threads the source covers
 * (imp_cover, during the parse) and, after the append, a delete for each
 * message of ours in a covered span that the source no longer has. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "driver.h"

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
	if (imp_start_group(m, 1) != 0) {
		cj_event_free(ev);
		return m->rc;
	}
	return imp_accept(m, ev);
}

int imp_sync_deletes(imp *m)
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
	if (imp_flush_all(m) != 0)
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

