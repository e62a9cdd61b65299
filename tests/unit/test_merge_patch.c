/* tests/unit/test_merge_patch.c — JSON Merge Patch (common/merge_patch.c)
 * against RFC 7396 (which replaced RFC 7386 with the same algorithm and
 * examples): every test case of its Appendix A and the example of its
 * section 3, compared with jansson's json_equal; plus the reference
 * counting contract (target consumed, patch untouched) and the tz check of
 * common/tz.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "chatjournal/chatjournal.h"
#include "common/merge_patch.h"
#include "common/tz.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON %s: %s", text, e.text);
	return v;
}

static void expect(const char *target, const char *patch, const char *want)
{
	json_t *p = parse(patch), *w = parse(want);
	char *before = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_t *got = cji_merge_patch(parse(target), p);
	char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (!json_equal(got, w))
		fail_msg("MergePatch(%s, %s) = %s, want %s", target, patch, g, want);
	char *after = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	assert_string_equal(before, after); /* the patch is only read */
	free(before);
	free(after);
	free(g);
	json_decref(got);
	json_decref(p);
	json_decref(w);
}

/* RFC 7396, Appendix A, in its order. */
static void test_rfc_appendix_a(void **state)
{
	(void)state;
	expect("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	expect("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
	expect("{\"a\":\"b\"}", "{\"a\":null}", "{}");
	expect("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
	expect("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	expect("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
	expect("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}");
	expect("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
	expect("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
	expect("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
	expect("{\"a\":\"foo\"}", "null", "null");
	expect("{\"a\":\"foo\"}", "\"bar\"", "\"bar\"");
	expect("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
	expect("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
	expect("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}

/* RFC 7396, section 3. */
static void test_rfc_section_3(void **state)
{
	(void)state;
	expect("{\"title\":\"Goodbye!\",\"author\":{\"givenName\":\"John\",\"familyName\":\"Doe\"},"
	       "\"tags\":[\"example\",\"sample\"],\"content\":\"This will be unchanged\"}",
	       "{\"title\":\"Hello!\",\"phoneNumber\":\"+01-123-456-7890\","
	       "\"author\":{\"familyName\":null},\"tags\":[\"example\"]}",
	       "{\"title\":\"Hello!\",\"author\":{\"givenName\":\"John\"},\"tags\":[\"example\"],"
	       "\"content\":\"This will be unchanged\",\"phoneNumber\":\"+01-123-456-7890\"}");
}

/* An absent target (NULL) is not an object: the patch's object applies to {}. */
static void test_absent_target(void **state)
{
	(void)state;
	json_t *p = parse("{\"a\":1,\"b\":null,\"c\":{\"d\":null}}");
	json_t *got = cji_merge_patch(NULL, p);
	json_t *w = parse("{\"a\":1,\"c\":{}}");
	assert_true(json_equal(got, w));
	json_decref(got);
	json_decref(w);
	json_decref(p);
}

/* The target is consumed and may be shared: a member it had is not freed
 * under another holder. */
static void test_shared_target(void **state)
{
	(void)state;
	json_t *t = parse("{\"keep\":{\"x\":1},\"drop\":2}");
	json_t *keep = json_incref(json_object_get(t, "keep"));
	json_t *p = parse("{\"keep\":{\"y\":2},\"drop\":null}");
	json_t *got = cji_merge_patch(t, p);
	json_t *w = parse("{\"keep\":{\"x\":1,\"y\":2}}");
	assert_true(json_equal(got, w));
	assert_int_equal(json_integer_value(json_object_get(keep, "x")), 1);
	json_decref(keep);
	json_decref(got);
	json_decref(w);
	json_decref(p);
}

/* The public form (cj_json_merge_patch): texts in, canonical text out
 * (sorted keys), NULL target = absent, errors name the bad side. */
static void test_public_text_form(void **state)
{
	(void)state;
	char *out;
	assert_int_equal(cj_json_merge_patch(&out, "{\"b\":1,\"a\":{\"x\":1,\"y\":[1]}}",
	                                     "{\"a\":{\"x\":null,\"z\":2.5},\"c\":\"\\n\"}"), 0);
	assert_string_equal(out, "{\"a\":{\"y\":[1],\"z\":2.5},\"b\":1,\"c\":\"\\n\"}");
	cj_free(out);
	assert_int_equal(cj_json_merge_patch(&out, NULL, "{\"k\":null,\"m\":1}"), 0);
	assert_string_equal(out, "{\"m\":1}");
	cj_free(out);
	assert_int_equal(cj_json_merge_patch(&out, "[1]", "{\"m\":1}"), 0);
	assert_string_equal(out, "{\"m\":1}");
	cj_free(out);
	assert_int_equal(cj_json_merge_patch(&out, "{\"m\":1}", "{\"m\""), CJ_EINVAL);
	assert_null(out);
	assert_non_null(strstr(cj_error_last(), "the patch is not JSON"));
	assert_int_equal(cj_json_merge_patch(&out, "{", "{}"), CJ_EINVAL);
	assert_non_null(strstr(cj_error_last(), "the target is not JSON"));
	assert_int_equal(cj_json_merge_patch(&out, NULL, NULL), CJ_EINVAL);
}

static void test_tz_names(void **state)
{
	(void)state;
	int no_db = -1;
	assert_int_equal(cji_tz_valid("Europe/Berlin", &no_db), 1);
	assert_int_equal(no_db, 0);
	assert_int_equal(cji_tz_valid("UTC", NULL), 1);
	assert_int_equal(cji_tz_valid("America/Argentina/Buenos_Aires", NULL), 1);
	assert_int_equal(cji_tz_valid("Etc/GMT+5", NULL), 1);
	static const char *const bad[] = {
		"Not/AZone", "", "/etc/passwd", "../zoneinfo/UTC", "Europe/../UTC", "Europe//Berlin",
		"Europe/", "europe/berlin x", "Europe/Berlin\n", ".hidden", "Europe/Berlin/", "tzdata.zi",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (cji_tz_valid(bad[i], NULL))
			fail_msg("'%s' was taken for a time zone", bad[i]);
	/* A folder of the database is not a zone. */
	assert_int_equal(cji_tz_valid("Europe", NULL), 0);
	/* No database at all: any name of the right shape is accepted, and said. */
	setenv("TZDIR", "/nonexistent-tz-database", 1);
	assert_int_equal(cji_tz_valid("Not/AZone", &no_db), 1);
	assert_int_equal(no_db, 1);
	assert_int_equal(cji_tz_valid("../x", &no_db), 0);
	unsetenv("TZDIR");
	assert_int_equal(cji_tz_valid("Not/AZone", &no_db), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_appendix_a),
		cmocka_unit_test(test_rfc_section_3),
		cmocka_unit_test(test_absent_target),
		cmocka_unit_test(test_shared_target),
		cmocka_unit_test(test_public_text_form),
		cmocka_unit_test(test_tz_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
