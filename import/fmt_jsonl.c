/* import/fmt_jsonl.c — JSONL: one event per line, as `chatjournal append`
 * takes them, or as an export writes them (the canonical event JSON with
 * "seq", which is dropped, and "redacted": true on a tombstone, which is
 * imported as written without that key). A line that is not JSON stops the
 * import (naming line and byte); a JSON line that is not a valid event is
 * skipped with the reason. */
#include <stdlib.h>
#include <string.h>
#include "import_internal.h"

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

static int one_line(imp *m, scan *sc)
{
	size_t len = sc->elem_len;
	if (len && sc->elem[len - 1] == '\r')
		sc->elem[--len] = '\0';
	if (blank(sc->elem, len))
		return 0;
	sc->elem_len = len;
	json_t *j = scan_parse(sc);
	if (!j)
		return imp_fail_scan(m, sc);
	if (!json_is_object(j)) {
		json_decref(j);
		imp_skip(m, NULL, "not a JSON object (one event per line)");
		return 0;
	}
	json_object_del(j, "seq");
	json_t *red = json_object_get(j, "redacted");
	if (red) {
		if (!json_is_true(red)) {
			const char *t = js(j, "type");
			int ok = t && cj_event_type_from_name(t) != CJ_EVENT_UNKNOWN;
			imp_skip(m, ok ? t : NULL, "\"redacted\" must be true (an export's tombstone)");
			json_decref(j);
			return 0;
		}
		json_object_del(j, "redacted");
	}
	const char *type = js(j, "type");
	int known = type && cj_event_type_from_name(type) != CJ_EVENT_UNKNOWN;
	char kind[32];
	snprintf(kind, sizeof kind, "%s", known ? type : "");
	eb b = { 0, "" };
	cj_event *ev = eb_from_json(&b, j);
	json_decref(j);
	return imp_emit_built(m, ev, &b, kind[0] ? kind : NULL, "the event");
}

int fmt_jsonl(imp *m, const char *path)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	scan sc;
	if (imp_open_scan(m, &sc, path, name) != 0)
		return -1;
	int rc = 0;
	uint64_t k = 0;
	for (;;) {
		int r = scan_line(&sc);
		if (r == SCAN_END)
			break;
		if (r == SCAN_ERR) {
			rc = imp_fail_scan(m, &sc);
			break;
		}
		imp_at_scan(m, &sc);
		if (r == SCAN_TOOBIG)
			imp_skip(m, NULL, "a line of %llu bytes, over the limit of %llu",
			         (unsigned long long)sc.skipped_len, (unsigned long long)imp_max_element(m));
		else if ((rc = one_line(m, &sc)) != 0)
			break;
		if ((++k & 255) == 0)
			imp_progress(m, scan_offset(&sc));
	}
	imp_progress(m, scan_offset(&sc));
	scan_close(&sc);
	return rc;
}
