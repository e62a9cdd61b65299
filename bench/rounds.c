/* bench/rounds.c — combining repeated measurements. Medians rather than means:
 * one stalled fsync spell in one round should not move the figure. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "rounds.h"

int cjb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double cjb_median(double *v, unsigned n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cjb_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median over rounds of the double at byte offset off in cjb_result. */
static double median_of(const cjb_result *const *rounds, unsigned n, size_t off)
{
	double v[CJB_MAX_ROUNDS];
	for (unsigned i = 0; i < n; i++)
		memcpy(&v[i], (const char *)rounds[i] + off, sizeof(double));
	return cjb_median(v, n);
}

#define MEDIAN(field) median_of(rounds, n, offsetof(cjb_result, field))

void cjb_rounds_combine(const cjb_result *const *rounds, unsigned n, cjb_result *out)
{
	if (n > CJB_MAX_ROUNDS)
		n = CJB_MAX_ROUNDS;
	out->nrounds = n;
	for (unsigned i = 0; i < n; i++) {
		const cjb_result *r = rounds[i];
		out->ran |= r->ran;
		if (r->failed && !out->failed)
			cjb_result_fail(out, "round %u: %s", i + 1, r->error);
		out->events += r->events;
		out->ops += r->ops;
		out->seconds += r->seconds;
		out->commits += r->commits;
		out->map_growths += r->map_growths;
		out->has_latency = r->has_latency;
		out->has_journal = r->has_journal;
		out->has_projection = r->has_projection;
		out->projected += r->projected;
		out->round_eps[i] = r->events_per_s;
	}
	if (out->failed || n == 0)
		return;
	out->events_per_s = MEDIAN(events_per_s);
	out->p50_us = MEDIAN(p50_us);
	out->p99_us = MEDIAN(p99_us);
	out->cpu_us_per_event = MEDIAN(cpu_us_per_event);
	out->events_per_commit = MEDIAN(events_per_commit);
	out->journal_bytes_per_event = MEDIAN(journal_bytes_per_event);
}
