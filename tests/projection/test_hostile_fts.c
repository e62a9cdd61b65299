/* tests/projection/test_hostile_fts.c — 500 hostile search strings (quotes,
 * parentheses, column filters, NEAR, *, ^, AND/OR/NOT, -, +, invalid UTF-8,
 * control characters, 100 KB, punctuation only, emoji, strings crafted to
 * leave the quoted form). Each one, searched in thread T (then in user and
 * server scopes), returns 0 with rows of that scope only, or CJ_EINVAL /
 * CJ_ETOOBIG naming field "q"; never another code, never an out-of-scope row.
 * Controls show that FTS5 syntax in user text is not interpreted. The seed
 * is printed (CJ_TEST_SEED overrides). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "putil.h"
#include "api/fts_query.h"

#define N_STRINGS 500
#define WAIT_MS 10000

typedef tu_fixture fixture;

/* Thread T (server S1, user U1) and thread X (server S2, user U2), whose
 * messages are full of the words an injection would try to reach. */
static const char *const T_MSGS[] = {
	"alpha beta", "gamma delta", "x y z", "content here", "thread talk", "near far",
	"or and not", "quote \"inside\" text", "emoji 😀 party",
};
static const char *const X_MSGS[] = {
	"secret alpha", "x secret", "topsecret content", "thread secret", "NEAR secret",
	"secret OR gamma", "alpha beta secret", "content:secret", "😀 secret",
};

static int populate(cj_store *s)
{
	uint64_t seq = 0;
	for (size_t i = 0; i < sizeof T_MSGS / sizeof *T_MSGS; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "message", "thread", "T",
		                      "role", "user", "content", T_MSGS[i], "user", "U1", "server", "S1");
		char *text = json_dumps(o, 0);
		int rc = pu_append(s, text, &seq);
		free(text);
		json_decref(o);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < sizeof X_MSGS / sizeof *X_MSGS; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "message", "thread", "X",
		                      "role", "user", "content", X_MSGS[i], "user", "U2", "server", "S2");
		char *text = json_dumps(o, 0);
		int rc = pu_append(s, text, &seq);
		free(text);
		json_decref(o);
		if (rc)
			return rc;
	}
	int rc = pu_append(s, "{\"type\":\"image\",\"thread\":\"T\",\"url\":\"u\",\"prompt\":\"alpha picture\"}", &seq);
	if (!rc)
		rc = pu_append(s, "{\"type\":\"image\",\"thread\":\"X\",\"url\":\"u\",\"prompt\":\"secret alpha picture\","
		                  "\"analysis\":\"x content thread\"}", &seq);
	if (!rc)
		rc = cj_wait_applied(s, seq, WAIT_MS);
	return rc;
}

static int setup(void **state)
{
	if (tu_fixture_setup(state, "proj-fts", NULL) != 0)
		return -1;
	if (populate(((fixture *)*state)->s) != 0) {
		fprintf(stderr, "setup: %s\n", cj_error_last());
		tu_fixture_teardown(state);
		return -1;
	}
	return 0;
}

static int teardown(void **state) { return tu_fixture_teardown(state); }

/* ---- the strings ---------------------------------------------------------- */

typedef struct str { char *p; size_t len; } str;
typedef struct strs { str v[N_STRINGS]; size_t n; } strs;

static void add_bytes(strs *l, const char *p, size_t len)
{
	if (l->n >= N_STRINGS)
		return;
	char *c = malloc(len + 1);
	assert_non_null(c);
	memcpy(c, p, len);
	c[len] = '\0';
	l->v[l->n].p = c;
	l->v[l->n].len = len;
	l->n++;
}

static void add(strs *l, const char *s) { add_bytes(l, s, strlen(s)); }

static void add_repeat(strs *l, const char *unit, size_t total)
{
	size_t ul = strlen(unit);
	char *b = malloc(total + 1);
	assert_non_null(b);
	for (size_t i = 0; i < total; i++)
		b[i] = unit[i % ul];
	add_bytes(l, b, total);
	free(b);
}

static const char *const HAND[] = {
	"\"", "\"\"", "\"\"\"", "\"\"\"\"", "\"\"\"\"\"\"\"\"", "\"alpha", "alpha\"", "\"alpha beta\"",
	"(", ")", "((((", "))))", "(alpha", "alpha)", "(alpha OR secret)", ")(", "()",
	"col:", "content:", "content:x", "content:secret", "thread:X", "{content}:secret",
	"{content thread}: secret", "- content:secret", "messages_fts:secret", "rank:secret",
	"NEAR(a b)", "NEAR(alpha beta)", "NEAR(alpha secret, 10)", "NEAR(", "NEAR()", "alpha NEAR secret",
	"*", "**", "***", "*alpha", "alpha*", "alpha**", "\"*\"", "*\"", "\"*", ".*", "(*", "*)",
	"^", "^alpha", "^secret", "alpha ^", "^^",
	"AND", "OR", "NOT", "alpha AND secret", "alpha OR secret", "alpha NOT beta", "NOT alpha",
	"AND OR NOT", "OR OR OR", "alpha OR", "OR alpha",
	"-", "--", "-alpha", "alpha -secret", "+", "++", "+alpha", "alpha + secret",
	":", "::", "alpha:beta", "x:", ":x", "{", "}", "{}", "{alpha}", "[", "]", "[alpha]",
	"'", "''", "'alpha'", "`alpha`", "\\", "\\\"", "alpha\\", "%", "%%", "_", "alpha%",
	";", "; DROP TABLE messages; --", "' OR 1=1 --", "\" OR 1=1 --", "alpha'); DROP TABLE messages;--",
	".", "...", ",", "!?", "!!!", "#", "@", "&", "|", "~", "=", "<>", "/", "?", "$",
	"x\" OR thread:", "x\" OR thread:X", "x\" OR \"secret", "\") OR (\"secret", "alpha\" OR \"secret\" OR \"",
	"\" OR secret OR \"", "*\" OR \"secret", "\"x\" OR \"secret\"", "x\") OR content:(secret",
	"x\" + \"secret", "alpha\"*\" OR secret", "\"\" OR secret", "secret\" NOT \"alpha",
	"😀", "😀😀😀", "alpha 😀", "🏳️‍🌈", "Ünïcödé", "日本語", "مرحبا", "\xe2\x80\x8b", "\xef\xbb\xbf" "alpha",
	"\xff", "alpha\xff", "\xc3", "abc\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"\xf8\x88\x80\x80\x80", "\x80", "alpha \xbf beta",
	"\x01", "\x01\x02\x03", "a\x1f" "b", "\x7f", "alpha\x7f", "\x1b[31m", "\t", "\n\n", "\r\n",
	"\x0b\x0c", "alpha\x01secret",
	"", " ", "     ", "\t \n",
	"secret", "alpha", "x", "thread", "content", "near", "or",
};

static void build(strs *l, uint64_t seed)
{
	for (size_t i = 0; i < sizeof HAND / sizeof *HAND; i++)
		add(l, HAND[i]);
	/* Big ones. */
	add_repeat(l, "a", 100 * 1024);
	add_repeat(l, "\"", 100 * 1024);
	add_repeat(l, "x ", 100 * 1024);
	add_repeat(l, "(", 100 * 1024);
	add_repeat(l, "😀", 100 * 1024 - 1);
	add_repeat(l, "a", CJI_FTS_MAX_TEXT);
	add_repeat(l, "a", CJI_FTS_MAX_TEXT + 1);
	add_repeat(l, "\"", CJI_FTS_MAX_TEXT);
	add_repeat(l, "w ", 2 * CJI_FTS_MAX_TERMS);
	add_repeat(l, "w ", 2 * CJI_FTS_MAX_TERMS + 2);
	add_repeat(l, "\" ", 2 * CJI_FTS_MAX_TERMS);
	/* Random mixes of the pieces above and random bytes. */
	static const char *const PIECES[] = {
		"\"", "(", ")", "*", "^", ":", "-", "+", "NEAR(", "NEAR", "AND", "OR", "NOT", "content:",
		"thread:", "{content thread}:", " ", " ", " ", "secret", "alpha", "x", ",", "'", "\\",
		"😀", "\xff", "\x01", "\t", "col:", "\"\"", "*\"", "\" OR \"", ") OR (", "10)", "beta",
	};
	const size_t np = sizeof PIECES / sizeof *PIECES;
	uint64_t x = seed ? seed : 1;
	while (l->n < N_STRINGS) {
		char b[512];
		size_t len = 0;
		unsigned parts = 1 + (unsigned)(tu_rand(&x) % 12);
		for (unsigned k = 0; k < parts && len < 400; k++) {
			if (tu_rand(&x) % 5 == 0) {
				b[len++] = (char)(1 + tu_rand(&x) % 255);
			} else {
				const char *p = PIECES[tu_rand(&x) % np];
				memcpy(b + len, p, strlen(p));
				len += strlen(p);
			}
		}
		add_bytes(l, b, len);
	}
}

static void strs_free(strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].p);
}

static void show(char *out, size_t n, const str *s)
{
	size_t o = 0;
	for (size_t i = 0; i < s->len && o + 5 < n && i < 80; i++) {
		unsigned char c = (unsigned char)s->p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

typedef struct scope { const char *thread, *user, *server; } scope;

/* One search; returns the number of rows (or -1 when refused). */
static long one(fixture *f, const str *s, scope sc, int images)
{
	char shown[512];
	show(shown, sizeof shown, s);
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = s->p;
	q.thread = sc.thread;
	q.user = sc.user;
	q.server = sc.server;
	q.images = images;
	q.limit = 1000;
	char *json = NULL;
	cj_error_clear();
	int rc = cj_query_search(&json, f->s, &q);
	if (rc != 0) {
		if (rc != CJ_EINVAL && rc != CJ_ETOOBIG)
			fail_msg("search [%s] (%zu bytes): code %d (%s): %s", shown, s->len, rc, cj_strerror(rc),
			         cj_error_last());
		const char *field = cj_error_field();
		if (!field || strcmp(field, "q") != 0)
			fail_msg("search [%s]: code %d names field %s, want q (%s)", shown, rc,
			         field ? field : "NULL", cj_error_last());
		if (json)
			fail_msg("search [%s]: refused but returned text", shown);
		return -1;
	}
	json_t *a = json_loads(json, 0, NULL);
	if (!json_is_array(a))
		fail_msg("search [%s]: not a JSON array: %.200s", shown, json);
	/* Every secret row lives in thread X, user U2, server S2. */
	int t_side = (sc.thread && !strcmp(sc.thread, "T")) || (sc.user && !strcmp(sc.user, "U1")) ||
	             (sc.server && !strcmp(sc.server, "S1"));
	size_t i;
	json_t *row;
	json_array_foreach(a, i, row) {
		const char *t = json_string_value(json_object_get(row, "thread"));
		if (sc.thread && (!t || strcmp(t, sc.thread) != 0))
			fail_msg("search [%s] in thread %s returned a row of thread %s: %.300s", shown, sc.thread,
			         t ? t : "NULL", json);
		if (!images) {
			const char *u = json_string_value(json_object_get(row, "user"));
			const char *sv = json_string_value(json_object_get(row, "server"));
			if (sc.user && (!u || strcmp(u, sc.user) != 0))
				fail_msg("search [%s] for user %s returned user %s", shown, sc.user, u ? u : "NULL");
			if (sc.server && (!sv || strcmp(sv, sc.server) != 0))
				fail_msg("search [%s] on server %s returned server %s", shown, sc.server,
				         sv ? sv : "NULL");
			const char *c = json_string_value(json_object_get(row, "content"));
			if (t_side && c && strstr(c, "secret"))
				fail_msg("search [%s] in scope T/U1/S1 returned a secret row: %s", shown, c);
		}
	}
	long n = (long)json_array_size(a);
	json_decref(a);
	cj_free(json);
	return n;
}

static void test_hostile_strings(void **state)
{
	fixture *f = *state;
	uint64_t seed = tu_env_ulong("CJ_TEST_SEED", 0);
	if (!seed)
		seed = (uint64_t)time(NULL) * 2654435761u + 1;
	printf("hostile FTS seed: %llu (set CJ_TEST_SEED to repeat)\n", (unsigned long long)seed);
	strs *l = calloc(1, sizeof *l);
	assert_non_null(l);
	build(l, seed);
	assert_int_equal(l->n, N_STRINGS);
	const scope scopes[] = { { "T", NULL, NULL }, { NULL, "U1", NULL }, { NULL, NULL, "S1" },
	                         { "T", "U1", "S1" } };
	unsigned ok = 0, refused = 0, rows = 0;
	for (size_t i = 0; i < l->n; i++) {
		for (size_t k = 0; k < sizeof scopes / sizeof *scopes; k++) {
			long n = one(f, &l->v[i], scopes[k], 0);
			if (n < 0)
				refused++;
			else {
				ok++;
				rows += (unsigned)n;
			}
		}
		one(f, &l->v[i], scopes[0], 1);
	}
	printf("%zu strings x %zu scopes: %u answered (%u rows, all in scope), %u refused\n", l->n,
	       sizeof scopes / sizeof *scopes, ok, rows, refused);
	/* Both outcomes occur (the test exercises both paths). */
	assert_true(ok > 0 && refused > 0 && rows > 0);
	strs_free(l);
	free(l);
}

static void expect_count(fixture *f, const char *text, const char *thread, long want)
{
	str s = { (char *)text, strlen(text) };
	long n = one(f, &s, (scope){ thread, NULL, NULL }, 0);
	if (n != want)
		fail_msg("search [%s] in thread %s: %ld rows, want %ld", text, thread ? thread : "(any)", n, want);
}

static void expect_refused(fixture *f, const char *text, size_t len, int code)
{
	str s = { (char *)text, len };
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	q.text = s.p;
	q.thread = "T";
	char *json = NULL;
	int rc = cj_query_search(&json, f->s, &q);
	char shown[512];
	show(shown, sizeof shown, &s);
	if (rc != code)
		fail_msg("search [%s]: code %d, want %d", shown, rc, code);
	assert_non_null(cj_error_field());
	assert_string_equal(cj_error_field(), "q");
	assert_null(json);
}

/* FTS5 syntax in user text stays literal: each control would find rows if
 * the operator were interpreted. */
static void test_syntax_is_literal(void **state)
{
	fixture *f = *state;
	expect_count(f, "secret", "X", 8);           /* not "topsecret" */
	expect_count(f, "secret", "T", 0);
	expect_count(f, "secret", NULL, 8);
	expect_count(f, "alpha", "T", 1);
	expect_count(f, "alpha OR gamma", "T", 0);       /* OR would give 2 */
	expect_count(f, "gamma NOT alpha", "T", 0);      /* NOT would give 1 */
	expect_count(f, "content:alpha", "T", 0);        /* column filter would give 1 */
	expect_count(f, "NEAR(alpha beta)", "T", 0);     /* NEAR would give 1 */
	expect_count(f, "(alpha)", "T", 1);              /* punctuation is not a token */
	expect_count(f, "alpha OR secret", NULL, 0);     /* no row has alpha, or, secret */
	expect_count(f, "secret OR gamma", NULL, 1);     /* the literal words: X's row */
	expect_count(f, "x\" OR \"secret", "T", 0);
	expect_count(f, "x\" OR \"secret", NULL, 0);
	expect_count(f, "\"inside\"", "T", 1);
	expect_count(f, "content:secret", NULL, 1);      /* the phrase "content secret" */
	expect_count(f, "😀", NULL, 0);                  /* unicode61: emoji are separators */
	expect_count(f, "emoji", "T", 1);
	expect_count(f, "alp*", "T", 1);
	expect_count(f, "*", "T", 0);
	expect_count(f, "\"\"\"\"", "T", 0);
	/* Refusals name field q. */
	char big[CJI_FTS_MAX_TEXT + 2];
	memset(big, 'a', CJI_FTS_MAX_TEXT + 1);
	big[CJI_FTS_MAX_TEXT + 1] = '\0';
	expect_refused(f, big, CJI_FTS_MAX_TEXT + 1, CJ_ETOOBIG);
	expect_refused(f, "\xff", 1, CJ_EINVAL);
	expect_refused(f, "abc\xc3", 4, CJ_EINVAL);
	expect_refused(f, "\xed\xa0\x80", 3, CJ_EINVAL);
	expect_refused(f, "\x01\x02", 2, CJ_EINVAL);
	expect_refused(f, "", 0, CJ_EINVAL);
}

/* The quoting itself, on inputs the C API cannot carry (embedded NUL). */
static void test_quote_exact(void **state)
{
	(void)state;
	static const struct { const char *in, *out; } cases[] = {
		{ "alpha", "\"alpha\"" },
		{ "a b", "\"a\" \"b\"" },
		{ "  a\t\nb  ", "\"a\" \"b\"" },
		{ "a\"b", "\"a\"\"b\"" },
		{ "\"", "\"\"\"\"" },
		{ "light*", "\"light\"*" },
		{ "*", "\"*\"" },
		{ "**", "\"*\"*" },
		{ "a*b", "\"a*b\"" },
		{ "x\" OR thread:X", "\"x\"\"\" \"OR\" \"thread:X\"" },
		{ "NEAR(a b)", "\"NEAR(a\" \"b)\"" },
		{ "a\x01" "b", "\"a\" \"b\"" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *out = NULL;
		TU_OK(cji_fts_quote(cases[i].in, strlen(cases[i].in), &out));
		assert_string_equal(out, cases[i].out);
		free(out);
	}
	char *out = NULL;
	TU_RC(cji_fts_quote("a\0b", 3, &out), CJ_EINVAL);
	assert_null(out);
	assert_string_equal(cj_error_field(), "q");
	TU_RC(cji_fts_quote(NULL, 0, &out), CJ_EINVAL);
	assert_string_equal(cj_error_field(), "q");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_syntax_is_literal),
		cmocka_unit_test(test_quote_exact),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
