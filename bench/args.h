/* bench/args.h — the benchmarks' numeric options, checked one way: a value
 * that is not a number in range is refused with one line naming the bench,
 * the option and the value ("chatjournal: bench feed: --rounds wants a count
 * from 1 to 15, not '3x'"); the caller then prints its usage and exits 2. */
#ifndef CJB_ARGS_H
#define CJB_ARGS_H

#include <stdint.h>

/* A whole number from 1 to max into *out: 0, or -1 (message printed). */
int cjb_arg_count(uint64_t *out, const char *bench, const char *opt, const char *s, uint64_t max);
/* The same into an unsigned. */
int cjb_arg_uint(unsigned *out, const char *bench, const char *opt, const char *s, unsigned max);
/* A number of `unit` from lo to hi (both included) into *out: 0, or -1
 * (message printed). */
int cjb_arg_range(double *out, const char *bench, const char *opt, const char *s, double lo,
                  double hi, const char *unit);
/* A number of seconds in (0, max] into *out: 0, or -1 (message printed). */
int cjb_arg_seconds(double *out, const char *bench, const char *opt, const char *s, double max);

#endif
