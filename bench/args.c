/* bench/args.c — the benchmarks' numeric options (args.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "args.h"

int cjb_arg_count(uint64_t *out, const char *bench, const char *opt, const char *s, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > max) {
		fprintf(stderr, "chatjournal: bench %s: %s wants a count from 1 to %" PRIu64 ", not '%s'\n",
		        bench, opt, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

int cjb_arg_uint(unsigned *out, const char *bench, const char *opt, const char *s, unsigned max)
{
	uint64_t v;
	if (cjb_arg_count(&v, bench, opt, s, max))
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* s as a whole as a double (no prefix, no overflow): 0, or -1. */
static int whole_double(double *v, const char *s)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end ? -1 : 0;
}

int cjb_arg_seconds(double *out, const char *bench, const char *opt, const char *s, double max)
{
	double v;
	if (whole_double(&v, s) || !(v > 0) || v > max) {
		fprintf(stderr, "chatjournal: bench %s: %s wants a number of seconds in (0, %g], not '%s'\n",
		        bench, opt, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

int cjb_arg_range(double *out, const char *bench, const char *opt, const char *s, double lo,
                  double hi, const char *unit)
{
	double v;
	if (whole_double(&v, s) || !(v >= lo) || !(v <= hi)) {
		fprintf(stderr, "chatjournal: bench %s: %s wants a number of %s from %g to %g, not '%s'\n",
		        bench, opt, unit, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}
