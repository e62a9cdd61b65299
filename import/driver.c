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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>
#include "driver.h"

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
		imp_flush_all(m);
	if (phase == APPEND)
		cj_store_defer_projection(m->s, 0);
	if (rc == 0 && !m->failed)
		rc = imp_sync_deletes(m);
	if (phase == APPEND)
		imp_flush_all(m);
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
			if (m->cur.n > 0 && m->cur.n + (j - i) > BATCH_MAX && imp_submit_cur(m) != 0)
				break;
		}
		m->file = it->file;
		cj_event *ev = it->ev;
		it->ev = NULL;
		if (imp_batch_add(m, &m->cur, ev, it->kind) != 0)
			break;
		if ((i & 4095) == 0 && m->o->progress)
			m->o->progress(m->o->progress_arg, "import",
			               (uint64_t)((double)m->total_bytes * (double)i / (double)k->n),
			               m->total_bytes);
	}
	imp_flush_all(m);
	cj_store_defer_projection(m->s, 0);
	m->replay = 0;
	keep_free(k);
	if (!m->failed)
		imp_sync_deletes(m);
	imp_flush_all(m);
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
		imp_batch_free(&m->ring[i]);
	imp_batch_free(&m->cur);
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
