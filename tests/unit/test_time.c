/* tests/unit/test_time.c — RFC 3339 times: cj_time_format writes what
 * gmtime_r + strftime would (checked at fixed points and at random instants
 * over the whole range events may carry), cj_time_parse reads it back to the
 * same ms, and durations parse to the right ms or are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include "testutil.h"

#define MAX_MS INT64_C(253402300799999)  /* 9999-12-31T23:59:59.999Z */

static void reference(char out[32], int64_t ms)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char head[24];
	strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", head, (int)(ms % 1000));
}

static void check(int64_t ms)
{
	char got[32], want[32];
	cj_time_format(got, ms);
	reference(want, ms);
	if (strcmp(got, want) != 0)
		fail_msg("cj_time_format(%lld) = %s, want %s", (long long)ms, got, want);
	int64_t back = -1;
	TU_OK(cj_time_parse(&back, got));
	assert_int_equal(back, ms);
}

static void test_fixed_points(void **state)
{
	(void)state;
	const int64_t points[] = { 0, 1, 999, 1000, 86399999, 86400000, 951782400000 /* 2000-02-29 */,
	                           1714557600000, 4107542400000 /* 2100-03-01 */, MAX_MS };
	for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
		check(points[i]);
	char out[32];
	cj_time_format(out, 1714557600123);
	assert_string_equal(out, "2024-05-01T10:00:00.123Z");
}

static void test_random_instants(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < 200000; i++)
		check((int64_t)(tu_rand(&x) % (uint64_t)(MAX_MS + 1)));
}

static void test_durations(void **state)
{
	(void)state;
	static const struct { const char *text; int64_t ms; } ok[] = {
		{ "90d", 90 * INT64_C(86400000) }, { "12h", 12 * INT64_C(3600000) }, { "15m", 900000 },
		{ "30s", 30000 }, { "500ms", 500 }, { "2w", 14 * INT64_C(86400000) }, { "0s", 0 },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t ms = -1;
		TU_OK(cj_duration_parse(&ms, ok[i].text));
		assert_int_equal(ms, ok[i].ms);
	}
	static const char *const bad[] = { "", "d", "3y", "-1d", "1.5h", "10 d", "99999999999999999999d" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ms;
		TU_RC(cj_duration_parse(&ms, bad[i]), CJ_EINVAL);
	}
	int64_t ms;
	TU_RC(cj_time_parse(&ms, "2024-13-01T00:00:00Z"), CJ_EINVAL);
	TU_RC(cj_time_parse(&ms, "yesterday"), CJ_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_points),
		cmocka_unit_test(test_random_instants),
		cmocka_unit_test(test_durations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
