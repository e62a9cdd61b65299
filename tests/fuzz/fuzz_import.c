/* tests/fuzz/fuzz_import.c — the importers' shared harness body
 * (fuzz_import.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "chatjournal/chatjournal.h"
#include "fuzz_import.h"
#include "import/import_internal.h"
#include "checks.h"

static cj_store *store;
static char root[256];

/* At exit: the store closed and its scratch folder gone (a corpus replay
 * runs once per test run; nothing may pile up in TMPDIR). */
static void teardown(void)
{
	cj_store_close(store);
	store = NULL;
	zip_remove(root);
}

static void setup(void)
{
	if (store)
		return;
	atexit(teardown);
	const char *tmp = getenv("TMPDIR");
	snprintf(root, sizeof root, "%s/cj-fuzz-import-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(root) != NULL);
	char path[512];
	snprintf(path, sizeof path, "%s/store", root);
	CHECK(cj_store_init(path, NULL) == 0);
	CHECK(cj_store_open(&store, path, NULL) == 0);
}

static void put(const char *rel, const void *data, size_t size)
{
	char path[512];
	snprintf(path, sizeof path, "%s/src/%s", root, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0700);
	*slash = '/';
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	CHECK(size == 0 || fwrite(data, 1, size, f) == size);
	CHECK(fclose(f) == 0);
}

static uint64_t num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	CHECK(json_is_integer(v) && json_integer_value(v) >= 0);
	return (uint64_t)json_integer_value(v);
}

void fz_import(cj_import_format format, const uint8_t *data, size_t size, const char *file,
               const char *const *extra, int as_folder)
{
	setup();
	char src[300], path[700];
	snprintf(src, sizeof src, "%s/src", root);
	mkdir(src, 0700);
	for (size_t i = 0; extra && extra[i]; i += 2)
		put(extra[i], extra[i + 1], strlen(extra[i + 1]));
	put(file, data, size);
	snprintf(path, sizeof path, "%s/%s", src, file);

	cj_import_options o = CJ_IMPORT_OPTIONS_INIT;
	o.format = format;
	o.path = as_folder ? src : path;
	o.dry_run = 1;
	o.allow_skips = 1;
	o.max_element = 1 << 20;
	o.max_entry = 4 << 20;
	o.max_total = 8 << 20;
	cj_import_summary sum;
	char *report = NULL;
	uint64_t before = 0, after = 0;
	CHECK(cj_journal_last_seq(&before, store) == 0);
	int rc = cj_import_run(&sum, &report, store, &o);
	CHECK(cj_journal_last_seq(&after, store) == 0);
	CHECK(before == after);
	if (rc != 0) {
		CHECK(rc < 0);
		CHECK(cj_error_last()[0] != '\0');
	} else {
		CHECK(report != NULL);
		json_t *r = json_loads(report, 0, NULL);
		CHECK(r != NULL);
		json_t *t = json_object_get(r, "totals");
		uint64_t seen = num(t, "seen");
		CHECK(seen == num(t, "imported") + num(t, "present") + num(t, "skipped"));
		CHECK(seen == sum.seen && sum.imported == num(t, "imported"));
		CHECK(sum.last_seq == 0);
		json_decref(r);
	}
	cj_free(report);
	/* the scratch source goes; the store stays for the next input */
	zip_remove(src);   /* the importer's own recursive removal (compiled in) */
}
