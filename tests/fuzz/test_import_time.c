/* tests/fuzz/test_import_time.c — the importers' times (import/util.c,
 * imp_epoch_ms): seconds since the epoch as a JSON integer, a JSON real or
 * Slack's "1712345678.000100" text, in ms; -1 for anything that is not a
 * time from 1970 to 9999. libFuzzer found a ChatGPT export whose
 * create_time was 1.7e79: the cast of that double to an integer is
 * undefined behaviour (clang's UBSan stopped there), and an integer over
 * INT64_MAX / 1000 overflowed the same way. Its input is in the corpus
 * (corpus/import_chatgpt/huge-create-time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include "import/import_internal.h"

static int64_t of(json_t *v)
{
	assert_non_null(v);
	int64_t ms = imp_epoch_ms(v);
	json_decref(v);
	return ms;
}

static void test_numbers(void **state)
{
	(void)state;
	assert_int_equal(of(json_integer(1712345678)), 1712345678000LL);
	assert_int_equal(of(json_integer(0)), 0);
	assert_int_equal(of(json_real(1712345678.5)), 1712345678500LL);
	assert_int_equal(of(json_integer(253402300799LL)), 253402300799000LL); /* 9999-12-31T23:59:59Z */
	assert_int_equal(of(json_integer(253402300800LL)), -1);
	assert_int_equal(of(json_integer(INT64_MAX)), -1);
	assert_int_equal(of(json_integer(INT64_MAX / 1000 + 1)), -1);
	assert_int_equal(of(json_integer(-5)), -1);
	assert_int_equal(of(json_integer(INT64_MIN)), -1);
	assert_int_equal(of(json_real(1.711e79)), -1);
	assert_int_equal(of(json_real(1e300)), -1);
	assert_int_equal(of(json_real(-1e300)), -1);
	assert_int_equal(of(json_real(-0.5)), -1);
	assert_int_equal(of(json_real(253402300800.0)), -1);
	assert_int_equal(of(json_true()), -1);
	assert_int_equal(imp_epoch_ms(NULL), -1);
}

static void test_texts(void **state)
{
	(void)state;
	assert_int_equal(imp_epoch_ms_text("1712345678.000100"), 1712345678000LL);
	assert_int_equal(imp_epoch_ms_text("1712345678.5"), 1712345678500LL);
	assert_int_equal(imp_epoch_ms_text("1712345678"), 1712345678000LL);
	assert_int_equal(imp_epoch_ms_text("253402300799"), 253402300799000LL);
	assert_int_equal(imp_epoch_ms_text("253402300800"), -1);
	assert_int_equal(imp_epoch_ms_text("99999999999999999999999999"), -1);
	assert_int_equal(imp_epoch_ms_text("-5"), -1);
	assert_int_equal(imp_epoch_ms_text("12x"), -1);
	assert_int_equal(imp_epoch_ms_text(""), -1);
	assert_int_equal(imp_epoch_ms_text(NULL), -1);
	assert_int_equal(of(json_string("1712345678.25")), 1712345678250LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_texts),
	};
	return cmocka_run_group_tests_name("unit-import-time", tests, NULL, NULL);
}
