/* bench/rounds.h — a run repeats every measurement in rounds, interleaved, so
 * that a slow spell of a shared disk hits all of them alike; a figure is the
 * median over rounds. */
#ifndef CJB_ROUNDS_H
#define CJB_ROUNDS_H

#include "harness.h"

/* Median of v[0..n) (sorts v); 0 if n is 0. */
double cjb_median(double *v, unsigned n);
/* qsort's comparison of doubles, ascending. */
int cjb_cmp_double(const void *a, const void *b);

/* Combine the rounds of one measurement into out (name, what, threads and
 * per_op already set): events, ops and seconds add up; events/s, latencies,
 * CPU per event and group-commit figures are medians over rounds; a failed
 * round makes the whole measurement failed. */
void cjb_rounds_combine(const cjb_result *const *rounds, unsigned n, cjb_result *out);

#endif
