/* api/fts_query.c — FTS5 MATCH is a query language: binding a parameter does
 * not make user text safe (docs/reliability.md, S6). Every word is quoted as an FTS5
 * string; the only syntax we keep on purpose is a trailing '*' for prefix
 * search. Scope (thread, user, server) is never put in the MATCH string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "api/fts_query.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/utf8.h"

static int is_space(unsigned char c) { return c == ' ' || (c >= 0x09 && c <= 0x0d); }

int cji_fts_quote(const char *text, size_t len, char **out)
{
	*out = NULL;
	if (!text)
		return cji_err_field(CJ_EINVAL, "q", "search text is missing");
	if (len > CJI_FTS_MAX_TEXT)
		return cji_err_field(CJ_ETOOBIG, "q", "search text is %zu bytes, over the limit of %d",
		                     len, CJI_FTS_MAX_TEXT);
	const unsigned char *p = (const unsigned char *)text;
	size_t bad = cji_utf8_check(p, len, CJI_UTF8_NO_NUL);
	if (bad < len && p[bad] == 0)
		return cji_err_field(CJ_EINVAL, "q", "search text contains a NUL byte at %zu", bad);
	if (bad < len)
		return cji_err_field(CJ_EINVAL, "q", "search text is not valid UTF-8 at byte %zu", bad);
	cji_buf b = CJI_BUF_INIT;
	int terms = 0, rc = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && (is_space(p[i]) || p[i] < 0x20))
			i++;
		size_t start = i;
		while (i < len && !is_space(p[i]) && p[i] >= 0x20)
			i++;
		size_t wl = i - start;
		if (!wl)
			continue;
		if (++terms > CJI_FTS_MAX_TERMS) {
			rc = cji_err_field(CJ_ETOOBIG, "q", "search text has more than %d words", CJI_FTS_MAX_TERMS);
			goto fail;
		}
		int prefix = 0;
		if (wl > 1 && p[start + wl - 1] == '*') {
			prefix = 1;
			wl--;
		}
		if ((b.len && (rc = cji_buf_append(&b, " ", 1))) || (rc = cji_buf_append(&b, "\"", 1)))
			goto nomem;
		for (size_t k = start; k < start + wl; k++) {
			if (p[k] == '"' && (rc = cji_buf_append(&b, "\"", 1)))
				goto nomem;
			if ((rc = cji_buf_append(&b, p + k, 1)))
				goto nomem;
		}
		if ((rc = cji_buf_append(&b, prefix ? "\"*" : "\"", prefix ? 2 : 1)))
			goto nomem;
	}
	if (!terms) {
		rc = cji_err_field(CJ_EINVAL, "q", "search text is empty");
		goto fail;
	}
	if ((rc = cji_buf_append(&b, "", 1)))
		goto nomem;
	*out = (char *)b.data;
	return 0;
nomem:
	rc = cji_err(CJ_ENOMEM, "out of memory");
fail:
	cji_buf_free(&b);
	return rc;
}
