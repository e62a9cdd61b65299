/* tests/unit/test_json_parse.c — our JSON parser (journal/json_parse.c)
 * against jansson's json_loadb(JSON_REJECT_DUPLICATES), the parser it
 * replaced: on random JSON texts and on mutations of them (a byte changed,
 * inserted or removed, the text cut short) both accept or both refuse, and
 * what they accept is the same value (json_equal, so integers stay integers
 * and reals reals). Errors name the same line and column as jansson's in the
 * cases the event tests pin down (test_event_api.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "testutil.h"
#include "journal/json_parse.h"

typedef struct gen {
	char *buf;
	size_t len, cap;
	uint64_t x;
} gen;

static void emit(gen *g, const char *s, size_t n)
{
	if (g->len + n + 1 > g->cap) {
		g->cap = (g->len + n + 1) * 2;
		g->buf = realloc(g->buf, g->cap);
		assert_non_null(g->buf);
	}
	memcpy(g->buf + g->len, s, n);
	g->len += n;
}
#define EMIT(g, lit) emit(g, lit, sizeof lit - 1)

static unsigned pick(gen *g, unsigned n) { return (unsigned)(tu_rand(&g->x) % n); }

static void gen_string(gen *g)
{
	static const char *const parts[] = {
		"a", "Z", " ", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0041",
		"\\u00e9", "\\u4e2d", "\\ud83d\\ude00", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
		"0123456789abcdef", "\x7f",
	};
	EMIT(g, "\"");
	for (unsigned i = 0, n = pick(g, 12); i < n; i++) {
		const char *p = parts[pick(g, sizeof parts / sizeof parts[0])];
		emit(g, p, strlen(p));
	}
	EMIT(g, "\"");
}

static void gen_value(gen *g, int depth)
{
	static const char *const nums[] = { "0", "-0", "1", "-1", "9223372036854775807",
	                                    "-9223372036854775808", "9223372036854775808", "1.5",
	                                    "-2.25e10", "1e308", "1e-320", "1E+2", "0.0001",
	                                    "123456789012345678901234567890" };
	switch (pick(g, depth > 4 ? 4 : 7)) {
	case 0: gen_string(g); break;
	case 1: { const char *n = nums[pick(g, sizeof nums / sizeof nums[0])]; emit(g, n, strlen(n)); break; }
	case 2: EMIT(g, "true"); break;
	case 3:
		if (pick(g, 2))
			EMIT(g, "false");
		else
			EMIT(g, "null");
		break;
	case 4:
	case 5: {
		EMIT(g, "{");
		for (unsigned i = 0, n = pick(g, 6); i < n; i++) {
			if (i && pick(g, 4))
				EMIT(g, ",");
			else if (i)
				EMIT(g, " ,\n ");
			char k[16];
			int kl = snprintf(k, sizeof k, "\"k%u\"", pick(g, 8)); /* duplicates happen */
			emit(g, k, (size_t)kl);
			EMIT(g, ":");
			gen_value(g, depth + 1);
		}
		EMIT(g, "}");
		break;
	}
	default: {
		EMIT(g, "[");
		for (unsigned i = 0, n = pick(g, 6); i < n; i++) {
			if (i)
				EMIT(g, ",");
			gen_value(g, depth + 1);
		}
		EMIT(g, "]");
	}
	}
}

static void mutate(gen *g)
{
	if (!g->len)
		return;
	size_t at = pick(g, (unsigned)g->len);
	static const char bytes[] = { '"', '\\', '{', '}', '[', ']', ',', ':', '0', 'e', '-', ' ',
	                              '\n', 'u', '\x01', '\x80', '\xc0', '\xed', '\xff', 'x' };
	switch (pick(g, 4)) {
	case 0: g->buf[at] = bytes[pick(g, sizeof bytes)]; break;
	case 1: g->len = at; break;
	case 2:
		memmove(g->buf + at, g->buf + at + 1, g->len - at - 1);
		g->len--;
		break;
	default:
		emit(g, "", 1);
		memmove(g->buf + at + 1, g->buf + at, g->len - at - 1);
		g->buf[at] = bytes[pick(g, sizeof bytes)];
	}
}

static void compare(const char *text, size_t len, unsigned round)
{
	json_error_t je;
	json_t *want = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	cji_json_error oe;
	json_t *got = cji_json_parse(text, len, 0, &oe);
	if (!want != !got)
		fail_msg("round %u: jansson %s, ours %s, on %zu bytes: %.*s", round,
		         want ? "accepts" : je.text, got ? "accepts" : oe.text, len, (int)len, text);
	if (want && !json_equal(want, got)) {
		char *a = json_dumps(want, JSON_ENCODE_ANY), *b = json_dumps(got, JSON_ENCODE_ANY);
		fail_msg("round %u: values differ:\n  jansson %s\n  ours    %s", round, a, b);
	}
	json_decref(want);
	json_decref(got);
}

static void test_agrees_with_jansson(void **state)
{
	(void)state;
	gen g = { NULL, 0, 0, 0x1234567 };
	unsigned rounds = (unsigned)tu_env_ulong("CJ_JSON_DIFF_ROUNDS", 100000);
	for (unsigned r = 0; r < rounds; r++) {
		g.len = 0;
		gen_value(&g, 0);
		for (unsigned m = pick(&g, 3); m > 0; m--)
			mutate(&g);
		compare(g.buf, g.len, r);
	}
	free(g.buf);
}

static void test_positions_like_jansson(void **state)
{
	(void)state;
	static const char *const texts[] = {
		"{\"a\":1,}", "{\"type\":\"purge\",\n \"before\": 12,}", "{\"a\" 1}", "[1,2",
		"{\"a\":tru}", "{\"a\":\"x\ny\"}", "\n\n  {\"a\":[1,,2]}", "{\"a\":1} x",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		json_error_t je;
		assert_null(json_loadb(texts[i], strlen(texts[i]), JSON_REJECT_DUPLICATES, &je));
		cji_json_error oe;
		assert_null(cji_json_parse(texts[i], strlen(texts[i]), 0, &oe));
		if (oe.line != je.line || oe.column != je.column)
			fail_msg("%s: ours at %d:%d (%s), jansson at %d:%d (%s)", texts[i], oe.line,
			         oe.column, oe.text, je.line, je.column, je.text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agrees_with_jansson),
		cmocka_unit_test(test_positions_like_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
