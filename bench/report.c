/* bench/report.c — printing a run: the text table (figures, then ratios with
 * PASS/MISS against their targets) and the --json object built with jansson.
 * Figures not measured (--only, or a failed measurement) print as "-" / null. */
#include <math.h>
#include <string.h>
#include <jansson.h>
#include "report.h"

/* 1234567 -> "1,234,567" (figures are read by people first). */
static const char *grouped(double x, char *buf, size_t n)
{
	char digits[32];
	snprintf(digits, sizeof(digits), "%.0f", x);
	size_t len = strlen(digits), o = 0;
	for (size_t i = 0; i < len && o + 2 < n; i++) {
		if (i && (len - i) % 3 == 0 && digits[i - 1] != '-')
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

static void text_header(FILE *f, const cjb_run_info *in)
{
	const char *s = in->rounds == 1 ? "" : "s";
	fprintf(f, "chatjournal bench %s — library %s, %s, %u CPUs, scratch on %s (%s)\n",
	        in->benchmark, in->version, in->date, in->cpus, in->fstype, in->scratch);
	fprintf(f, "each measurement: %u round%s of ", in->rounds, s);
	if (in->seconds > 0 && in->events)
		fprintf(f, "%.1f s or %llu events, whichever first", in->seconds, in->events);
	else if (in->seconds > 0)
		fprintf(f, "%.1f s", in->seconds);
	else
		fprintf(f, "%llu events", in->events);
	fprintf(f, "%s, interleaved; figures are medians over rounds\n"
	        "message JSON %.0f bytes, raw LMDB record %u bytes\n\n",
	        in->quick ? " (--quick)" : "", in->message_json_bytes, in->record_bytes);
}

static void text_row(FILE *f, const cjb_result *r)
{
	char ev[32], eps[32], lat[48] = "", jr[48] = "", pj[16];
	if (r->has_latency)
		snprintf(lat, sizeof(lat), "%9.1f %9.1f", r->p50_us, r->p99_us);
	else
		snprintf(lat, sizeof(lat), "%9s %9s", "-", "-");
	if (r->has_journal)
		snprintf(jr, sizeof(jr), "%9.1f", r->events_per_commit);
	else
		snprintf(jr, sizeof(jr), "%9s", "-");
	if (r->has_projection && r->events)
		snprintf(pj, sizeof(pj), "%5.0f%%", 100.0 * (double)r->projected / (double)r->events);
	else
		snprintf(pj, sizeof(pj), "%6s", "-");
	fprintf(f, "%-14s %-44s %3u %5u %10s %10s %s %9.2f %s %s\n", r->name, r->what,
	        r->threads, r->per_op, grouped((double)r->events, ev, sizeof(ev)),
	        grouped(r->events_per_s, eps, sizeof(eps)), lat, r->cpu_us_per_event, jr, pj);
}

static void text_ratio(FILE *f, const cjb_ratio *q)
{
	char val[32];
	if (q->has_value)
		snprintf(val, sizeof(val), "%8.3f", q->value);
	else
		snprintf(val, sizeof(val), "%8s", "-");
	if (q->target == 0) {
		fprintf(f, "%-30s %-50s %s   %-9s   %s\n", q->name, q->what, val, "", "info");
		return;
	}
	fprintf(f, "%-30s %-50s %s   %s %6.2f   %s\n", q->name, q->what, val,
	        q->at_most ? "<=" : ">=", q->target,
	        !q->has_value ? "n/a" : q->pass ? "PASS" : "MISS");
}

void cjb_report_text(FILE *f, const cjb_report *r)
{
	text_header(f, &r->info);
	fprintf(f, "%-14s %-44s %3s %5s %10s %10s %9s %9s %9s %9s %6s\n", "measurement", "what",
	        "thr", "ev/op", "events", "events/s", "p50 us", "p99 us", "cpu us/ev", "ev/commit",
	        "proj");
	for (size_t i = 0; i < r->nres; i++)
		if (r->res[i].ran && !r->res[i].failed)
			text_row(f, &r->res[i]);
	for (size_t i = 0; i < r->nres; i++)
		if (r->res[i].failed)
			fprintf(f, "%-14s FAILED: %s\n", r->res[i].name, r->res[i].error);
	fprintf(f, "\n%-30s %-50s %8s   %-9s   %s\n", "ratio", "definition", "value", "target", "");
	for (size_t i = 0; i < r->nratios; i++)
		text_ratio(f, &r->ratios[i]);
	fprintf(f, "\nevents: total over rounds; events/s, p50/p99, cpu, ev/commit: medians over rounds.\n"
	        "p50/p99: latency of one operation (insert, transaction, append call, batch call);\n"
	        "cpu: process CPU time (all threads) per event; ev/commit: events per group commit;\n"
	        "proj: share of the appended events the store's materializer had projected into\n"
	        "SQLite when the measurement ended (it runs on the same CPUs).\n"
	        "ratios: median of the ratios within each round. total run time %.1f s\n",
	        r->info.total_seconds);
}

/* Reals rounded to a few decimals so the JSON stays readable. */
static json_t *jreal(double x, int decimals)
{
	double k = pow(10, decimals);
	return json_real(round(x * k) / k);
}

static json_t *jrounds(const double *v, unsigned n, int decimals)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, jreal(v[i], decimals));
	return a;
}

static json_t *json_result(const cjb_result *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "what", json_string(r->what));
	json_object_set_new(o, "threads", json_integer(r->threads));
	json_object_set_new(o, "events_per_op", json_integer(r->per_op));
	json_object_set_new(o, "ok", json_boolean(!r->failed));
	json_object_set_new(o, "error", r->failed ? json_string(r->error) : json_null());
	json_object_set_new(o, "events", json_integer((json_int_t)r->events));
	json_object_set_new(o, "ops", json_integer((json_int_t)r->ops));
	json_object_set_new(o, "seconds", jreal(r->seconds, 4));
	json_object_set_new(o, "events_per_s", jreal(r->events_per_s, 1));
	json_object_set_new(o, "rounds_events_per_s", jrounds(r->round_eps, r->nrounds, 1));
	json_object_set_new(o, "p50_us", r->has_latency ? jreal(r->p50_us, 2) : json_null());
	json_object_set_new(o, "p99_us", r->has_latency ? jreal(r->p99_us, 2) : json_null());
	json_object_set_new(o, "cpu_us_per_event", jreal(r->cpu_us_per_event, 3));
	if (r->has_journal) {
		json_object_set_new(o, "commits", json_integer((json_int_t)r->commits));
		json_object_set_new(o, "events_per_commit", jreal(r->events_per_commit, 2));
		json_object_set_new(o, "map_growths", json_integer((json_int_t)r->map_growths));
		json_object_set_new(o, "journal_bytes_per_event", jreal(r->journal_bytes_per_event, 1));
	}
	if (r->has_projection) {
		/* Summed over rounds, like events: projected / events is the share the
		 * materializer had applied when each round's clock stopped. */
		json_object_set_new(o, "projected", json_integer((json_int_t)r->projected));
		json_object_set_new(o, "projected_share",
		                    jreal(r->events ? (double)r->projected / (double)r->events : 0, 4));
	}
	return o;
}

static json_t *json_ratio(const cjb_ratio *q)
{
	json_t *o = json_object();
	json_object_set_new(o, "definition", json_string(q->what));
	json_object_set_new(o, "value", q->has_value ? jreal(q->value, 4) : json_null());
	json_object_set_new(o, "rounds", jrounds(q->round_values, q->nrounds, 4));
	if (q->target == 0) {   /* informational */
		json_object_set_new(o, "target", json_null());
		json_object_set_new(o, "pass", json_null());
		return o;
	}
	json_object_set_new(o, "target", jreal(q->target, 4));
	json_object_set_new(o, "compare", json_string(q->at_most ? "<=" : ">="));
	json_object_set_new(o, "pass", q->has_value ? json_boolean(q->pass) : json_null());
	return o;
}

static json_t *json_info(const cjb_run_info *in)
{
	json_t *o = json_object();
	json_object_set_new(o, "benchmark", json_string(in->benchmark));
	json_object_set_new(o, "version", json_string(in->version));
	json_object_set_new(o, "date", json_string(in->date));
	json_object_set_new(o, "cpus", json_integer(in->cpus));
	json_object_set_new(o, "scratch_fs", json_string(in->fstype));
	json_object_set_new(o, "quick", json_boolean(in->quick));
	json_object_set_new(o, "rounds", json_integer(in->rounds));
	json_object_set_new(o, "seconds_per_measurement", in->seconds > 0 ? jreal(in->seconds, 3) : json_null());
	json_object_set_new(o, "events_per_measurement",
	                    in->events ? json_integer((json_int_t)in->events) : json_null());
	json_object_set_new(o, "message_json_bytes", jreal(in->message_json_bytes, 1));
	json_object_set_new(o, "lmdb_record_bytes", json_integer(in->record_bytes));
	json_object_set_new(o, "total_seconds", jreal(in->total_seconds, 2));
	return o;
}

int cjb_report_json(FILE *f, const cjb_report *r)
{
	json_t *root = json_info(&r->info), *ms = json_object(), *rs = json_object();
	int failed = 0, passed = 0, missed = 0;
	for (size_t i = 0; i < r->nres; i++) {
		if (!r->res[i].ran)
			continue;
		failed += r->res[i].failed;
		json_object_set_new(ms, r->res[i].name, json_result(&r->res[i]));
	}
	for (size_t i = 0; i < r->nratios; i++) {
		int scored = r->ratios[i].has_value && r->ratios[i].target != 0;
		passed += scored && r->ratios[i].pass;
		missed += scored && !r->ratios[i].pass;
		json_object_set_new(rs, r->ratios[i].name, json_ratio(&r->ratios[i]));
	}
	json_object_set_new(root, "measurements", ms);
	json_object_set_new(root, "ratios", rs);
	json_object_set_new(root, "targets_passed", json_integer(passed));
	json_object_set_new(root, "targets_missed", json_integer(missed));
	json_object_set_new(root, "ok", json_boolean(failed == 0));
	int rc = json_dumpf(root, f, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
	fputc('\n', f);
	json_decref(root);
	return rc == 0 ? 0 : -1;
}
