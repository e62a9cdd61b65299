/* import/report.c — counting an import (report.h) and writing the counts
 * as JSON (docs/import.md, "The report"). */
#include <stdlib.h>
#include <string.h>
#include "chatjournal/event.h"
#include "report.h"

static const char *const outcome_names[RP_OUTCOMES] = { "imported", "present", "skipped" };

void rp_init(report *r)
{
	memset(r, 0, sizeof *r);
	r->examples = json_array();
}

void rp_free(report *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i].name);
	free(r->files);
	for (size_t i = 0; i < r->nreasons; i++)
		free(r->reasons[i].text);
	free(r->reasons);
	json_decref(r->examples);
	memset(r, 0, sizeof *r);
}

void rp_reset(report *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		memset(r->files[i].kind, 0, sizeof r->files[i].kind);
	for (size_t i = 0; i < r->nreasons; i++)
		free(r->reasons[i].text);
	r->nreasons = 0;
	r->other_reasons = 0;
	json_array_clear(r->examples);
	r->edits = r->deletes = r->retention_dropped = 0;
}

long rp_file_index(report *r, const char *name)
{
	/* The last file is the usual answer: parsers read a file at a time. */
	for (size_t i = r->nfiles; i-- > 0;)
		if (strcmp(r->files[i].name, name) == 0)
			return (long)i;
	if (r->nfiles == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		rp_file *f = realloc(r->files, cap * sizeof *f);
		if (!f)
			return -1;
		r->files = f;
		r->cap = cap;
	}
	rp_file *f = &r->files[r->nfiles];
	memset(f, 0, sizeof *f);
	if (!(f->name = strdup(name)))
		return -1;
	return (long)r->nfiles++;
}

static rp_counts *at(report *r, long file, int kind)
{
	if (file < 0 || (size_t)file >= r->nfiles)
		return NULL;
	if (kind < 0 || kind >= RP_KINDS)
		kind = 0;
	return &r->files[file].kind[kind];
}

void rp_seen(report *r, long file, int kind)
{
	rp_counts *c = at(r, file, kind);
	if (c)
		c->seen++;
}

void rp_count(report *r, long file, int kind, int outcome)
{
	rp_counts *c = at(r, file, kind);
	if (c && outcome >= 0 && outcome < RP_OUTCOMES)
		c->n[outcome]++;
}

void rp_move(report *r, long file, int kind, int from, int to)
{
	rp_counts *c = at(r, file, kind);
	if (c && from >= 0 && from < RP_OUTCOMES && to >= 0 && to < RP_OUTCOMES && c->n[from]) {
		c->n[from]--;
		c->n[to]++;
	}
}

void rp_reset_file(report *r, long file)
{
	if (file >= 0 && (size_t)file < r->nfiles)
		memset(r->files[file].kind, 0, sizeof r->files[file].kind);
}

static const char *kind_name(int kind)
{
	return kind > 0 ? cj_event_type_name((cj_event_type)kind) : "item";
}

void rp_skip(report *r, long file, int kind, uint64_t line, uint64_t byte, const char *reason)
{
	rp_count(r, file, kind, RP_SKIPPED);
	size_t i = 0;
	for (; i < r->nreasons; i++)
		if (strcmp(r->reasons[i].text, reason) == 0)
			break;
	if (i < r->nreasons) {
		r->reasons[i].count++;
	} else if (r->nreasons < RP_MAX_REASONS) {
		if (!r->reasons)
			r->reasons = calloc(RP_MAX_REASONS, sizeof *r->reasons);
		char *t = r->reasons ? strdup(reason) : NULL;
		if (t) {
			r->reasons[r->nreasons].text = t;
			r->reasons[r->nreasons++].count = 1;
		} else {
			r->other_reasons++;
		}
	} else {
		r->other_reasons++;
	}
	if (json_array_size(r->examples) < RP_MAX_EXAMPLES && file >= 0 &&
	    (size_t)file < r->nfiles)
		json_array_append_new(r->examples,
		                      json_pack("{s:s, s:I, s:I, s:s, s:s}", "file", r->files[file].name,
		                                "line", (json_int_t)line, "byte", (json_int_t)byte,
		                                "kind", kind_name(kind), "reason", reason));
}

uint64_t rp_total(const report *r, int kind, int outcome)
{
	uint64_t t = 0;
	for (size_t f = 0; f < r->nfiles; f++)
		for (int k = 0; k < RP_KINDS; k++) {
			if (kind >= 0 && k != kind)
				continue;
			const rp_counts *c = &r->files[f].kind[k];
			t += outcome < 0 ? c->seen : c->n[outcome];
		}
	return t;
}

static json_t *counts_json(const rp_counts *c)
{
	json_t *o = json_object();
	json_object_set_new(o, "seen", json_integer((json_int_t)c->seen));
	for (int i = 0; i < RP_OUTCOMES; i++)
		json_object_set_new(o, outcome_names[i], json_integer((json_int_t)c->n[i]));
	return o;
}

static void add_counts(rp_counts *to, const rp_counts *c)
{
	to->seen += c->seen;
	for (int i = 0; i < RP_OUTCOMES; i++)
		to->n[i] += c->n[i];
}

static int empty(const rp_counts *c)
{
	return !c->seen && !c->n[0] && !c->n[1] && !c->n[2];
}

json_t *rp_json(const report *r)
{
	json_t *o = json_object(), *files = json_array(), *kinds = json_object();
	rp_counts all, per_kind[RP_KINDS];
	memset(&all, 0, sizeof all);
	memset(per_kind, 0, sizeof per_kind);
	for (size_t f = 0; f < r->nfiles; f++) {
		rp_counts tot;
		memset(&tot, 0, sizeof tot);
		json_t *fk = json_object();
		for (int k = 0; k < RP_KINDS; k++) {
			const rp_counts *c = &r->files[f].kind[k];
			if (empty(c))
				continue;
			add_counts(&tot, c);
			add_counts(&per_kind[k], c);
			json_object_set_new(fk, kind_name(k), counts_json(c));
		}
		json_t *fo = counts_json(&tot);
		json_object_set_new(fo, "file", json_string(r->files[f].name));
		json_object_set_new(fo, "kinds", fk);
		json_array_append_new(files, fo);
		add_counts(&all, &tot);
	}
	for (int k = 0; k < RP_KINDS; k++)
		if (!empty(&per_kind[k]))
			json_object_set_new(kinds, kind_name(k), counts_json(&per_kind[k]));
	json_t *totals = counts_json(&all);
	json_object_set_new(totals, "edits", json_integer((json_int_t)r->edits));
	json_object_set_new(totals, "deletes", json_integer((json_int_t)r->deletes));
	json_object_set_new(o, "totals", totals);
	json_object_set_new(o, "kinds", kinds);
	json_object_set_new(o, "files", files);
	json_t *reasons = json_array();
	for (size_t i = 0; i < r->nreasons; i++)
		json_array_append_new(reasons, json_pack("{s:s, s:I}", "reason", r->reasons[i].text,
		                                         "count", (json_int_t)r->reasons[i].count));
	if (r->other_reasons)
		json_array_append_new(reasons, json_pack("{s:s, s:I}", "reason", "(other reasons)",
		                                         "count", (json_int_t)r->other_reasons));
	json_object_set_new(o, "skip_reasons", reasons);
	json_object_set(o, "skip_examples", r->examples);
	return o;
}
