/* bench/stats.h — latency samples (nanoseconds) and their percentiles.
 * One sample set per worker thread, merged after the run, so the timed loop
 * never takes a lock. */
#ifndef CJB_STATS_H
#define CJB_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cjb_samples {
	uint64_t *v;
	size_t n;
	size_t cap;
	int sorted;
} cjb_samples;

#define CJB_SAMPLES_INIT { NULL, 0, 0, 0 }

/* Reserve room for n samples up front so the timed loop rarely reallocates.
 * 0 or -1 (out of memory). */
int cjb_samples_reserve(cjb_samples *s, size_t n);
/* Add one sample; 0 or -1 (out of memory). */
int cjb_samples_add(cjb_samples *s, uint64_t ns);
/* Move every sample of src to the end of dst (src is emptied). 0 or -1. */
int cjb_samples_merge(cjb_samples *dst, cjb_samples *src);
/* Sort, then the nearest-rank percentile p in [0, 1], in nanoseconds;
 * 0 if there is no sample. */
uint64_t cjb_samples_percentile(cjb_samples *s, double p);
void cjb_samples_free(cjb_samples *s);

/* Monotonic clock in nanoseconds, and this process's CPU time (all threads). */
uint64_t cjb_now_ns(void);
uint64_t cjb_cpu_ns(void);

#endif
