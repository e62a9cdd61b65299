/* tests/fuzz/fuzz_export.c — libFuzzer harness for the export library's
 * converters of message rows (export/openai.c, export/markdown.c), fed
 * arbitrary JSON as rows. cj_export_openai_messages either refuses with
 * CJ_EINVAL or returns {"messages":[...]} with a role on every message.
 * The Markdown of every object of the array (as a message row, and its
 * string values as a thread's title, id, server and topic) keeps its
 * structure whatever the values: exactly one line starts with '#' per
 * heading written, and no '<' is ever written (raw HTML cannot pass). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "export/export_internal.h"
#include "checks.h"

typedef struct mem {
	char *p;
	size_t len;
} mem;

static int to_mem(void *arg, const char *data, size_t len)
{
	mem *m = arg;
	char *p = realloc(m->p, m->len + len + 1);
	CHECK(p != NULL);
	memcpy(p + m->len, data, len);
	m->len += len;
	p[m->len] = '\0';
	m->p = p;
	return 0;
}

/* Lines starting with '#': exactly want; no '<' anywhere. */
static void check_md(const mem *m, int want)
{
	if (!m->p)
		return;
	CHECK(memchr(m->p, '<', m->len) == NULL);
	int headings = 0;
	for (size_t i = 0; i < m->len; i++)
		if ((i == 0 || m->p[i - 1] == '\n') && m->p[i] == '#')
			headings++;
	CHECK(headings == want);
}

static const char *some_string(const json_t *o, int k)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)o, key, v) {
		if (json_is_string(v) && k-- == 0)
			return json_string_value(v);
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	char *out = NULL;
	int rc = cj_export_openai_messages(&out, text);
	free(text);
	CHECK(rc == 0 || rc == CJ_EINVAL);
	if (rc == 0) {
		json_t *o = json_loads(out, 0, NULL);
		CHECK(json_is_array(json_object_get(o, "messages")));
		size_t i;
		json_t *m;
		json_array_foreach(json_object_get(o, "messages"), i, m)
			CHECK(json_is_string(json_object_get(m, "role")));
		json_decref(o);
		cj_free(out);
	}
	json_t *rows = json_loadb((const char *)data, size, 0, NULL);
	if (json_is_array(rows)) {
		cj_export_options opt = CJ_EXPORT_OPTIONS_INIT;
		opt.write = to_mem;
		size_t i;
		json_t *row;
		json_array_foreach(rows, i, row) {
			if (!json_is_object(row))
				continue;
			mem m = { NULL, 0 };
			opt.write_arg = &m;
			ex_out *w = malloc(sizeof *w);
			CHECK(w != NULL);
			w->o = &opt;
			w->len = 0;
			w->rc = 0;
			const char *s0 = some_string(row, 0), *s1 = some_string(row, 1);
			ex_thread t = { s0 ? s0 : "T", s1, s0, s1, s0 };
			ex_md_thread(w, &t, 1);
			ex_md_message(w, row);
			CHECK(ex_flush(w) == 0);
			free(w);
			check_md(&m, 2);
			free(m.p);
		}
	}
	json_decref(rows);
	return 0;
}
