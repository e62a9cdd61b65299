/* common/timeutil.c — clocks and RFC 3339 conversion without locale or TZ
 * state (days-from-civil arithmetic, so any thread may call it). */
#include <ctype.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include "chatjournal/event.h"
#include "common/timeutil.h"
#include "common/err.h"
#include "chatjournal/event.h"

int64_t cji_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t cji_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct timespec cji_deadline_ns(uint64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ns += (uint64_t)ts.tv_nsec;
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	return ts;
}

/* Howard Hinnant's days_from_civil. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int cji_time_parse(const char *s, int64_t *ms)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s;
	int Y, M, D, h, mi, sec, frac_ms = 0;
	if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' ||
	    digits(&p, 2, &D))
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
	    digits(&p, 2, &sec))
		return -1;
	if (M < 1 || M > 12 || D < 1 || h > 23 || mi > 59 || sec > 60)
		return -1;
	int dim = mdays[M - 1] + (M == 2 && leap(Y));
	if (D > dim)
		return -1;
	if (sec == 60)
		sec = 59; /* leap second: clamp */
	if (*p == '.') {
		p++;
		int n = 0;
		while (isdigit((unsigned char)*p)) {
			if (n < 3)
				frac_ms = frac_ms * 10 + (*p - '0');
			n++;
			p++;
		}
		if (n == 0 || n > 9)
			return -1;
		for (int i = n; i < 3; i++)
			frac_ms *= 10;
	}
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;
		p++;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - off;
	*ms = secs * 1000 + frac_ms;
	return 0;
}

static char *put_digits(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/* Digits by hand: the materializer formats one time per event, and
 * snprintf cost 7% of a replay's instructions. */
void cji_time_format(int64_t ms, char out[32])
{
	int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int frac = (int)(ms - secs * 1000);
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) {
		/* Outside what RFC 3339 can say (events never are: validation). */
		char tmp[96];
		snprintf(tmp, sizeof tmp, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
		         (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
		snprintf(out, 32, "%.31s", tmp);
		return;
	}
	char *p = put_digits(out, (unsigned)y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)(rem / 3600), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(rem / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(rem % 60), 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)frac, 3);
	*p++ = 'Z';
	*p = '\0';
}

int cji_duration_parse(const char *s, int64_t *ms)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	int64_t v = 0;
	while (isdigit((unsigned char)*s)) {
		if (v > INT64_MAX / 10 - 10)
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	int64_t unit;
	if (strcmp(s, "ms") == 0) unit = 1;
	else if (strcmp(s, "s") == 0) unit = 1000;
	else if (strcmp(s, "m") == 0) unit = 60000;
	else if (strcmp(s, "h") == 0) unit = 3600000;
	else if (strcmp(s, "d") == 0) unit = 86400000;
	else if (strcmp(s, "w") == 0) unit = 7 * 86400000LL;
	else return -1;
	if (v > INT64_MAX / unit)
		return -1;
	*ms = v * unit;
	return 0;
}

int cj_time_parse(int64_t *ms, const char *text)
{
	if (!ms || !text || cji_time_parse(text, ms) != 0)
		return cji_err(CJ_EINVAL, "'%.64s' is not an RFC 3339 time (like 2026-05-01T12:00:00Z)",
		               text ? text : "");
	return 0;
}

void cj_time_format(char out[32], int64_t ms) { cji_time_format(ms, out); }

int cj_duration_parse(int64_t *ms, const char *text)
{
	if (!ms || !text || cji_duration_parse(text, ms) != 0)
		return cji_err(CJ_EINVAL, "'%.64s' is not a duration (a number and one of ms, s, m, h, "
		               "d, w: 90d, 12h)", text ? text : "");
	return 0;
}
