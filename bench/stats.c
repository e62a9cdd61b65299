/* bench/stats.c — latency samples and nearest-rank percentiles. Sorting all
 * samples (a few hundred thousand at most) is exact and cheap after the run,
 * so no histogram approximation is needed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "stats.h"

int cjb_samples_reserve(cjb_samples *s, size_t n)
{
	if (n <= s->cap)
		return 0;
	uint64_t *v = realloc(s->v, n * sizeof(*v));
	if (!v)
		return -1;
	s->v = v;
	s->cap = n;
	return 0;
}

int cjb_samples_add(cjb_samples *s, uint64_t ns)
{
	if (s->n == s->cap && cjb_samples_reserve(s, s->cap ? s->cap * 2 : 4096) != 0)
		return -1;
	s->v[s->n++] = ns;
	s->sorted = 0;
	return 0;
}

int cjb_samples_merge(cjb_samples *dst, cjb_samples *src)
{
	if (cjb_samples_reserve(dst, dst->n + src->n) != 0)
		return -1;
	if (src->n)
		memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
	dst->n += src->n;
	dst->sorted = 0;
	src->n = 0;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

uint64_t cjb_samples_percentile(cjb_samples *s, double p)
{
	if (s->n == 0)
		return 0;
	if (!s->sorted)
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	s->sorted = 1;
	/* Nearest rank: the smallest sample with at least p of the set at or below it. */
	size_t rank = (size_t)ceil(p * (double)s->n);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1];
}

void cjb_samples_free(cjb_samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
	s->sorted = 0;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cjb_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t cjb_cpu_ns(void)
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}
