/* import/util.c — pieces the parsers share: sorted folder listings,
 * scanning a file's elements, events built and emitted, times, the shape
 * of a source's objects. Building one event field by field, ids and hashes
 * are build.c's (the driver's deciding side uses them too). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>
#include "import_internal.h"

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int list_dir(char ***names, size_t *n, const char *dir, int want_dirs, const char *suffix)
{
	*names = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	size_t cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0)
			continue;
		if (want_dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
			continue;
		size_t len = strlen(e->d_name), sl = suffix ? strlen(suffix) : 0;
		if (sl && (len < sl || strcmp(e->d_name + len - sl, suffix) != 0))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nn = realloc(*names, cap * sizeof *nn);
			if (!nn) {
				rc = -1;
				errno = ENOMEM;
				break;
			}
			*names = nn;
		}
		if (!((*names)[*n] = strdup(e->d_name))) {
			rc = -1;
			errno = ENOMEM;
			break;
		}
		(*n)++;
	}
	closedir(d);
	if (rc) {
		free_names(*names, *n);
		*names = NULL;
		*n = 0;
		return rc;
	}
	if (*n)
		qsort(*names, *n, sizeof **names, by_name);
	return 0;
}

void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int imp_open_scan(imp *m, scan *sc, const char *path, const char *name)
{
	if (imp_file(m, name) != 0)
		return -1;
	if (scan_open(sc, path, name, imp_max_element(m)) != 0) {
		imp_fail_scan(m, sc);
		scan_close(sc);
		return -1;
	}
	return 0;
}

static int scan_elements(imp *m, scan *sc, const char *kind, imp_fast_fn fast,
                         int (*fn)(imp *m, json_t *el, void *arg), void *arg)
{
	int rc = 0;
	uint64_t k = 0;
	for (;;) {
		int r = scan_next(sc);
		if (r == SCAN_END)
			break;
		if (r == SCAN_ERR) {
			rc = imp_fail_scan(m, sc);
			break;
		}
		imp_at_scan(m, sc);
		if (r == SCAN_TOOBIG) {
			imp_skip(m, kind, "an element of %llu bytes, over the limit of %llu",
			         (unsigned long long)sc->skipped_len, (unsigned long long)imp_max_element(m));
			continue;
		}
		if (!fast || !fast(m, sc->elem, sc->elem_len, arg, &rc)) {
			json_t *el = scan_parse(sc);
			if (!el) {
				rc = imp_fail_scan(m, sc);
				break;
			}
			rc = fn(m, el, arg);
			json_decref(el);
		}
		if (rc != 0)
			break;
		if ((++k & 63) == 0)
			imp_progress(m, scan_offset(sc));
	}
	imp_progress(m, scan_offset(sc));
	return rc;
}

int imp_scan_elements(imp *m, scan *sc, const char *kind,
                      int (*fn)(imp *m, json_t *el, void *arg), void *arg)
{
	return scan_elements(m, sc, kind, NULL, fn, arg);
}

int imp_each_element_fast(imp *m, const char *path, const char *name, const char *kind,
                          imp_fast_fn fast, int (*fn)(imp *m, json_t *el, void *arg), void *arg)
{
	scan sc;
	if (imp_open_scan(m, &sc, path, name) != 0)
		return -1;
	int rc = scan_enter_array(&sc) != 0 ? imp_fail_scan(m, &sc) :
	         scan_elements(m, &sc, kind, fast, fn, arg);
	if (rc == 0 && scan_finish(&sc) != 0)
		rc = imp_fail_scan(m, &sc);
	scan_close(&sc);
	return rc;
}

int imp_each_element(imp *m, const char *path, const char *name, const char *kind,
                     int (*fn)(imp *m, json_t *el, void *arg), void *arg)
{
	return imp_each_element_fast(m, path, name, kind, NULL, fn, arg);
}

int imp_emit_built(imp *m, cj_event *ev, eb *b, const char *kind, const char *what)
{
	if (b->rc == CJ_ENOMEM) {
		cj_event_free(ev);
		return imp_fail(m, b->rc, "out of memory");
	}
	if (b->rc || !ev) {
		cj_event_free(ev);
		imp_skip(m, kind, "%s: %s", what, b->why);
		return 0;
	}
	return imp_emit(m, &ev, 1, NULL);
}

int imp_emit_described(imp *m, json_t *e, const char *id_prefix, int64_t ts_ms, const char *what)
{
	char hash[17], eid[257];
	imp_hash_json(hash, e);
	imp_id(eid, "%s:%s", id_prefix, hash);
	json_object_set_new(e, "id", json_string(eid));
	if (ts_ms > 0)
		json_object_set_new(e, "ts", json_integer(ts_ms));
	eb b = { 0, "" };
	cj_event *ev = eb_from_json(&b, e);
	const char *kind = js(e, "type");
	char k[16];
	snprintf(k, sizeof k, "%s", kind ? kind : "");
	json_decref(e);
	return imp_emit_built(m, ev, &b, k[0] ? k : NULL, what);
}

int imp_reaction(imp *m, cj_event **evs, size_t *n, size_t cap, const char *msg_id,
                 const char *thread, const char *emoji, const char *user, int64_t ts_ms)
{
	if (*n == cap) {
		imp_skip(m, "reaction", "message %.64s: more than %zu reactions", msg_id, cap - 1);
		return 0;
	}
	char rid[257];
	imp_id(rid, "%s:react:%s:%s:add", msg_id, user, emoji);
	eb b = { 0, "" };
	cj_event *re = eb_new(&b, "reaction");
	eb_str(&b, re, "id", rid);
	eb_str(&b, re, "thread", thread);
	eb_str(&b, re, "target", msg_id);
	eb_str(&b, re, "emoji", emoji);
	eb_str(&b, re, "user", user);
	eb_int(&b, re, "ts", ts_ms);
	if (b.rc == CJ_ENOMEM) {
		cj_event_free(re);
		return imp_fail(m, b.rc, "out of memory");
	}
	if (b.rc) {
		cj_event_free(re);
		imp_skip(m, "reaction", "reaction to %.64s: %s", msg_id, b.why);
		return 0;
	}
	evs[(*n)++] = re;
	return 0;
}

int imp_message_finish(imp *m, cj_event *ev, eb *b, json_t *att, json_t *meta, const char *id)
{
	eb_json(b, ev, "attachments", att);
	if (json_object_size(meta))
		eb_json(b, ev, "metadata", meta);
	json_decref(att);
	json_decref(meta);
	if (b->rc == 0 && ev)
		return 1;
	char what[300];
	snprintf(what, sizeof what, "message %.200s", id);
	return imp_message_built(m, ev, b, what);
}

int imp_message_built(imp *m, cj_event *ev, eb *b, const char *what)
{
	if (b->rc == CJ_ENOMEM) {
		cj_event_free(ev);
		return imp_fail(m, b->rc, "out of memory");
	}
	if (b->rc || !ev) {
		cj_event_free(ev);
		imp_skip(m, "message", "%s: %s", what, b->why);
		return 0;
	}
	return 1;
}

/* The latest second a time may name: 9999-12-31T23:59:59Z (what the
 * journal's ts can hold, and far from int64 ms overflow). */
#define IMP_MAX_EPOCH_S 253402300799LL

int64_t imp_epoch_ms(const json_t *v)
{
	if (json_is_integer(v)) {
		json_int_t s = json_integer_value(v);
		return s >= 0 && s <= IMP_MAX_EPOCH_S ? (int64_t)s * 1000 : -1;
	}
	if (json_is_real(v)) {
		/* !(x >= 0) also refuses NaN; a double out of int64's range must not be cast */
		double x = json_real_value(v);
		return x >= 0 && x < (double)(IMP_MAX_EPOCH_S + 1) ? (int64_t)(x * 1000.0) : -1;
	}
	return imp_epoch_ms_text(json_string_value(v));
}

int64_t imp_epoch_ms_text(const char *s)
{
	if (!s || !*s)
		return -1;
	/* "1712345678.000100": seconds, then the first three digits of the fraction */
	int64_t sec = 0, ms = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) /* bounded after each digit: no overflow */
		if ((sec = sec * 10 + (*p - '0')) > IMP_MAX_EPOCH_S)
			return -1;
	if (p == s)
		return -1;
	if (*p == '.') {
		p++;
		int d = 0;
		for (; *p >= '0' && *p <= '9'; p++, d++)
			if (d < 3)
				ms = ms * 10 + (*p - '0');
		for (; d < 3; d++)
			ms *= 10;
	}
	if (*p)
		return -1;
	return sec * 1000 + ms;
}

void imp_members(json_t **out, const json_t *o, const imp_shape *keys, size_t n)
{
	memset(out, 0, n * sizeof *out);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		for (size_t i = 0; i < n; i++) {
			if (k[0] == keys[i].key[0] && strcmp(k, keys[i].key) == 0) {
				out[i] = v;
				break;
			}
		}
	}
}

/* One field of a message against its expected type: skipped (1) or fine. */
static int bad_field(imp *m, const json_t *v, const imp_shape *sh, const char *what)
{
	if (!v || json_is_null(v) || json_typeof(v) == sh->type)
		return 0;
	imp_skip(m, "message", "message %.40s: field '%s' must be %s", what, sh->key,
	         sh->type == JSON_STRING ? "a string" : sh->type == JSON_ARRAY ? "an array" :
	         "an object");
	return 1;
}

int imp_bad_shape(imp *m, const json_t *msg, const imp_shape *shape, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (bad_field(m, json_object_get(msg, shape[i].key), &shape[i], what))
			return 1;
	return 0;
}

int imp_bad_shape_of(imp *m, json_t *const *vals, const imp_shape *shape, size_t n,
                     const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (bad_field(m, vals[i], &shape[i], what))
			return 1;
	return 0;
}
