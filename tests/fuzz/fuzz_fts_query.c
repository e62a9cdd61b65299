/* tests/fuzz/fuzz_fts_query.c — libFuzzer harness for cji_fts_quote: the
 * input is the user's search text. The outcome is predicted independently
 * (size, NUL, UTF-8, word count); a refusal names field "q"; a success is
 * well-formed (terms "..." with inner quotes doubled, optional trailing *,
 * single spaces) and holds exactly the input's words. The result then runs
 * as MATCH on an in-memory FTS5 table: SQLite answers rows or a plain
 * SQLITE_ERROR, and the rows are those every term matches on its own (the
 * terms are only ANDed: no syntax leaks between them). FTS5 leaves a term
 * without tokens (punctuation only) out of an AND; alone it matches nothing.
 * A term has tokens iff it matches its own word. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "api/fts_query.h"
#include "chatjournal/error.h"
#include "checks.h"

static sqlite3 *db;
static sqlite3_stmt *match, *own_put, *own_match;

static const char *const ROWS[] = {
	"alpha beta", "gamma delta", "secret", "x y z", "near or and not", "light lighthouse",
	"quote \"inside\" text", "content thread", "日本語 テキスト", "a b c d e f", "alpha secret",
	"x", "NEAR(alpha beta)", "col: content: x",
};
#define NROWS (sizeof ROWS / sizeof *ROWS)

static void init(void)
{
	if (db)
		return;
	CHECK(sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(x);"
	                       "CREATE VIRTUAL TABLE own USING fts5(x);", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_stmt *ins;
	CHECK(sqlite3_prepare_v2(db, "INSERT INTO t (rowid, x) VALUES (?1, ?2)", -1, &ins, NULL) == SQLITE_OK);
	for (size_t i = 0; i < NROWS; i++) {
		sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
		sqlite3_bind_text(ins, 2, ROWS[i], -1, SQLITE_STATIC);
		CHECK(sqlite3_step(ins) == SQLITE_DONE);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	CHECK(sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ?1", -1, &match, NULL) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO own (rowid, x) VALUES (1, ?1)", -1, &own_put,
	                         NULL) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM own WHERE own MATCH ?1", -1, &own_match,
	                         NULL) == SQLITE_OK);
}

/* 1 if the term (quoted) matches the word it came from, i.e. has tokens. */
static int has_tokens(const char *term, size_t tlen, const uint8_t *word, size_t wlen)
{
	CHECK(sqlite3_exec(db, "DELETE FROM own", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_bind_text(own_put, 1, (const char *)word, (int)wlen, SQLITE_STATIC);
	CHECK(sqlite3_step(own_put) == SQLITE_DONE);
	sqlite3_reset(own_put);
	sqlite3_bind_text(own_match, 1, term, (int)tlen, SQLITE_STATIC);
	CHECK(sqlite3_step(own_match) == SQLITE_ROW);
	int n = sqlite3_column_int(own_match, 0);
	CHECK(sqlite3_step(own_match) == SQLITE_DONE);
	sqlite3_reset(own_match);
	CHECK(n == 0 || n == 1);
	return n;
}

/* Rows matched, as a bit set; -1 on a plain SQLITE_ERROR. Anything else aborts. */
static int64_t run_match(const char *q, size_t len)
{
	sqlite3_bind_text(match, 1, q, (int)len, SQLITE_STATIC);
	int64_t set = 0;
	int rc;
	while ((rc = sqlite3_step(match)) == SQLITE_ROW) {
		sqlite3_int64 id = sqlite3_column_int64(match, 0);
		CHECK(id >= 1 && id <= (sqlite3_int64)NROWS);
		set |= (int64_t)1 << id;
	}
	int ext = sqlite3_extended_errcode(db);
	sqlite3_reset(match);
	sqlite3_clear_bindings(match);
	if (rc == SQLITE_DONE)
		return set;
	CHECK(rc == SQLITE_ERROR && ext == SQLITE_ERROR);
	return -1;
}

static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t cp, min;
	if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
	else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
	else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
	else return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Separators: every byte up to and including the space. */
static int sep(uint8_t c) { return c <= 0x20; }

typedef struct word { size_t start, len; int prefix; } word;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	/* What the documented rules predict. */
	int want = 0;
	size_t nwords = 0;
	word words[CJI_FTS_MAX_TERMS];
	if (size > CJI_FTS_MAX_TEXT) {
		want = CJ_ETOOBIG;
	} else {
		for (size_t i = 0; i < size && !want;) {
			size_t l = data[i] ? utf8_len(data + i, size - i) : 0;
			if (!l)
				want = CJ_EINVAL;
			i += l;
		}
		for (size_t i = 0; i < size && !want;) {
			while (i < size && sep(data[i]))
				i++;
			size_t start = i;
			while (i < size && !sep(data[i]))
				i++;
			if (i == start)
				continue;
			if (nwords == CJI_FTS_MAX_TERMS) {
				want = CJ_ETOOBIG;
				break;
			}
			word *w = &words[nwords++];
			w->start = start;
			w->len = i - start;
			w->prefix = w->len > 1 && data[i - 1] == '*';
			if (w->prefix)
				w->len--;
		}
		if (!want && nwords == 0)
			want = CJ_EINVAL;
	}

	char *out = (char *)0x1;
	cj_error_clear();
	int rc = cji_fts_quote((const char *)data, size, &out);
	if (rc == CJ_ENOMEM) {
		CHECK(out == NULL);
		return 0;
	}
	CHECK(rc == want);
	if (rc) {
		CHECK(out == NULL);
		CHECK(cj_error_last()[0] != '\0');
		CHECK(cj_error_field() && strcmp(cj_error_field(), "q") == 0);
		return 0;
	}
	CHECK(out != NULL);

	/* Well-formed, and exactly the input's words. */
	size_t olen = strlen(out), pos = 0;
	size_t term_at[CJI_FTS_MAX_TERMS], term_len[CJI_FTS_MAX_TERMS];
	for (size_t k = 0; k < nwords; k++) {
		const word *w = &words[k];
		if (k) {
			CHECK(out[pos] == ' ');
			pos++;
		}
		term_at[k] = pos;
		CHECK(out[pos] == '"');
		pos++;
		for (size_t j = 0; j < w->len; j++) {
			uint8_t c = data[w->start + j];
			CHECK((uint8_t)out[pos] == c);
			pos++;
			if (c == '"') {
				CHECK(out[pos] == '"');
				pos++;
			}
		}
		CHECK(out[pos] == '"');
		pos++;
		if (w->prefix) {
			CHECK(out[pos] == '*');
			pos++;
		}
		term_len[k] = pos - term_at[k];
	}
	CHECK(pos == olen);

	/* SQLite: rows or a plain error; the rows are the AND of the terms. */
	int64_t all = run_match(out, olen);
	if (all >= 0) {
		int64_t expect = -1; /* every row */
		int any = 0;
		for (size_t k = 0; k < nwords; k++) {
			int64_t one = run_match(out + term_at[k], term_len[k]);
			CHECK(one >= 0); /* a term alone cannot fail when the whole query did not */
			if (!has_tokens(out + term_at[k], term_len[k], data + words[k].start, words[k].len)) {
				CHECK(one == 0);
				continue;
			}
			any = 1;
			expect &= one;
		}
		CHECK(all == (any ? expect : 0));
	}
	free(out);
	return 0;
}
