/* common/timeutil.h — wall clock, monotonic clock, RFC 3339 <-> ms. */
#ifndef CJ_COMMON_TIMEUTIL_H
#define CJ_COMMON_TIMEUTIL_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

int64_t cji_now_ms(void);          /* wall clock, ms since the epoch */
uint64_t cji_mono_ns(void);        /* monotonic clock, ns */
/* The wall clock ns from now, as pthread_cond_timedwait takes a deadline. */
struct timespec cji_deadline_ns(uint64_t ns);
#define cji_deadline_ms(ms) cji_deadline_ns((uint64_t)(ms) * 1000000u)

/* Parse "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" (also ' ' for 'T',
 * lowercase t/z). 0 and *ms on success, -1 if malformed or out of range
 * (years 0000..9999). */
int cji_time_parse(const char *s, int64_t *ms);

/* Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) into out (>= 32 bytes). */
void cji_time_format(int64_t ms, char out[32]);

/* Parse a duration "30d", "12h", "15m", "90s", "500ms", "2w"; 0 or -1. */
int cji_duration_parse(const char *s, int64_t *ms);

#endif
