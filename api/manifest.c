/* api/manifest.c — a backup's MANIFEST.json: what it holds, each file's
 * size and XXH3-128, and a checksum of the manifest itself, so that one
 * flipped byte anywhere in a backup (the manifest included) is found and
 * the damaged file named. The checksum is the XXH3-128 of the file as
 * written with the 32 digits of its own value as zeros (docs/format.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>
#include "api/backup_internal.h"
#include "journal/keys.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

#define FORMAT_NAME "chatjournal-backup"
#define ZEROS "00000000000000000000000000000000"
#define MANIFEST_MAX ((size_t)1 << 20)

/* The files a backup of this layout may hold; the first three always. */
static const char *const KNOWN[] = { "chatjournal.conf", "chat.sqlite", CJI_BACKUP_JOURNAL,
                                     "tokens.json" };
#define NKNOWN (sizeof KNOWN / sizeof KNOWN[0])
#define NREQUIRED 3

static void hash_text(const char *text, size_t len, char hex[33])
{
	XXH128_hash_t h = XXH3_128bits(text, len);
	uint8_t b[16];
	cji_put_be64(b, h.high64);
	cji_put_be64(b + 8, h.low64);
	cji_blob_hex(b, hex);
}

/* Where the 32 digits of "checksum": "V" are in text (its last one: the
 * checksum is the manifest's last key), or NULL. */
static char *checksum_digits(char *text, const char *v)
{
	char needle[64];
	snprintf(needle, sizeof needle, "\"checksum\": \"%s\"", v);
	char *hit = NULL;
	for (char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		hit = p;
	return hit ? hit + strlen("\"checksum\": \"") : NULL;
}

static json_t *u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

int cji_manifest_write(json_t **json_out, const char *dir, const char *name,
                       const cji_manifest *m)
{
	if (json_out)
		*json_out = NULL;
	json_t *files = json_array();
	for (size_t i = 0; i < m->nfiles; i++)
		json_array_append_new(files, json_pack("{s:s, s:o, s:s}", "name", m->files[i].name, "size",
		                                       u64(m->files[i].size), "xxh3_128", m->files[i].xxh3));
	json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:{s:o, s:i}, s:{s:o, s:i}, s:o, s:s}",
	                      "format", FORMAT_NAME, "format_version", (int)m->format_version,
	                      "name", name, "created", m->created, "chatjournal_version", m->version,
	                      "journal", "last_seq", u64(m->last_seq), "format_version",
	                      (int)m->journal_format, "projection", "position", u64(m->position),
	                      "schema_version", m->schema_version, "files", files, "checksum", ZEROS);
	char *dump = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	size_t len = dump ? strlen(dump) + 1 : 0;  /* with a final newline */
	char *text = dump ? malloc(len + 1) : NULL;
	if (text)
		snprintf(text, len + 1, "%s\n", dump);
	free(dump);
	char *digits = text ? checksum_digits(text, ZEROS) : NULL;
	if (!digits) {
		free(text);
		json_decref(o);
		return cji_err(CJ_ENOMEM, "out of memory writing %s", CJI_MANIFEST_NAME);
	}
	char hex[33];
	hash_text(text, len, hex);
	memcpy(digits, hex, 32);
	json_object_set_new(o, "checksum", json_string(hex));
	char path[4400];
	int rc = cji_path_join(path, sizeof path, dir, CJI_MANIFEST_NAME);
	if (!rc)
		rc = cji_write_file_atomic(path, text, len);
	free(text);
	if (!rc && json_out)
		*json_out = o;
	else
		json_decref(o);
	return rc;
}

static int bad(const char *path, const char *why)
{
	return cji_err(CJ_ECORRUPT, "%s: damaged (%s)", path, why);
}

static int get_u64(json_t *o, const char *key, uint64_t *v)
{
	json_t *x = json_object_get(o, key);
	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(x);
	return 0;
}

static int read_files(cji_manifest *m, json_t *arr, const char *path)
{
	size_t i;
	json_t *f;
	if (!json_is_array(arr) || json_array_size(arr) > CJI_BACKUP_MAX_FILES)
		return bad(path, "no list of files");
	json_array_foreach(arr, i, f) {
		cji_manifest_file *mf = &m->files[m->nfiles];
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *hex = json_string_value(json_object_get(f, "xxh3_128"));
		uint8_t key[16];
		size_t k = 0;
		while (name && k < NKNOWN && strcmp(name, KNOWN[k]) != 0)
			k++;
		if (!name || k == NKNOWN || cji_manifest_find(m, name))
			return bad(path, "a file entry names no file of a backup");
		if (!hex || cji_blob_key_parse(hex, key) != 0 || get_u64(f, "size", &mf->size) != 0)
			return bad(path, "a file entry without its size or XXH3-128");
		snprintf(mf->name, sizeof mf->name, "%s", name);
		memcpy(mf->xxh3, hex, 33);
		m->bytes += mf->size;
		m->nfiles++;
	}
	for (size_t r = 0; r < NREQUIRED; r++)
		if (!cji_manifest_find(m, KNOWN[r]))
			return bad(path, "a file of every backup is not listed");
	return 0;
}

static int read_fields(cji_manifest *m, json_t *o, const char *path)
{
	json_t *j = json_object_get(o, "journal"), *p = json_object_get(o, "projection");
	const char *created = json_string_value(json_object_get(o, "created"));
	const char *version = json_string_value(json_object_get(o, "chatjournal_version"));
	uint64_t jf = 0, schema = 0;
	if (!created || cji_time_parse(created, &m->created_ms) != 0 || !version ||
	    get_u64(j, "last_seq", &m->last_seq) || get_u64(j, "format_version", &jf) ||
	    get_u64(p, "position", &m->position) || get_u64(p, "schema_version", &schema) ||
	    jf == 0 || jf > 0xffffffffu || schema > 0x7fffffff)
		return bad(path, "a field is missing or malformed");
	snprintf(m->created, sizeof m->created, "%s", created);
	snprintf(m->version, sizeof m->version, "%s", version);
	m->journal_format = (uint32_t)jf;
	m->schema_version = (int)schema;
	if (m->position > m->last_seq)
		return bad(path, "its projection position is past its journal's last sequence number");
	return read_files(m, json_object_get(o, "files"), path);
}

int cji_manifest_read(cji_manifest *m, json_t **json_out, const char *dir)
{
	memset(m, 0, sizeof *m);
	if (json_out)
		*json_out = NULL;
	char path[4400];
	int rc = cji_path_join(path, sizeof path, dir, CJI_MANIFEST_NAME);
	if (rc)
		return rc;
	char *text = NULL;
	size_t len = 0;
	if ((rc = cji_read_file(path, MANIFEST_MAX, &text, &len))) {
		struct stat st;
		if (stat(path, &st) != 0 && errno == ENOENT)
			return cji_err(CJ_ENOTFOUND, "%s is not a backup: %s: missing", dir, path);
		return rc == CJ_ETOOBIG ? bad(path, "too large") : rc;
	}
	json_error_t e;
	json_t *o = strlen(text) == len ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &e) : NULL;
	const char *sum = json_string_value(json_object_get(o, "checksum"));
	uint64_t fv = 0;
	int has_version = get_u64(o, "format_version", &fv) == 0;
	char *digits = sum && strlen(sum) == 32 ? checksum_digits(text, sum) : NULL;
	char want[33] = "";
	if (digits) {
		memcpy(digits, ZEROS, 32);
		hash_text(text, len, want);
	}
	if (!o)
		rc = bad(path, "not JSON");
	else if (!digits || strcmp(want, sum) != 0)
		rc = has_version && fv > CJI_BACKUP_FORMAT
		     ? cji_err(CJ_EVERSION, "%s: backup layout version %llu, newer than this build's %d "
		               "(or the file is damaged)", path, (unsigned long long)fv, CJI_BACKUP_FORMAT)
		     : bad(path, "its checksum does not match");
	else if (!has_version || fv == 0 || !json_is_string(json_object_get(o, "format")) ||
	         strcmp(json_string_value(json_object_get(o, "format")), FORMAT_NAME) != 0)
		rc = bad(path, "not a chatjournal backup manifest");
	else if (fv > CJI_BACKUP_FORMAT)
		rc = cji_err(CJ_EVERSION, "%s: backup layout version %llu, newer than this build's %d: "
		             "use a newer chatjournal", path, (unsigned long long)fv, CJI_BACKUP_FORMAT);
	else {
		m->format_version = (unsigned)fv;
		rc = read_fields(m, o, path);
	}
	free(text);
	if (!rc && json_out)
		*json_out = o;
	else
		json_decref(o);
	return rc;
}

const cji_manifest_file *cji_manifest_find(const cji_manifest *m, const char *name)
{
	for (size_t i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].name, name) == 0)
			return &m->files[i];
	return NULL;
}

int cji_manifest_check_files(const cji_manifest *m, const char *dir, json_t *results,
                             cj_progress_fn progress, void *arg, uint64_t base, uint64_t total)
{
	for (size_t i = 0; i < m->nfiles; i++) {
		const cji_manifest_file *f = &m->files[i];
		char path[4400], hex[33];
		uint64_t size = 0;
		int rc = cji_path_join(path, sizeof path, dir, f->name);
		struct stat st;
		if (!rc && stat(path, &st) != 0)
			rc = errno == ENOENT ? cji_err(CJ_ECORRUPT, "%s: missing", path)
			                     : cji_err_errno(errno, "cannot read %s", path);
		else if (!rc && (uint64_t)st.st_size != f->size)
			rc = cji_err(CJ_ECORRUPT, "%s: damaged (%llu bytes, the manifest says %llu)", path,
			             (unsigned long long)st.st_size, (unsigned long long)f->size);
		else if (!rc && !(rc = cji_file_xxh3(hex, &size, path, progress, arg, base, total)) &&
		         (size != f->size || strcmp(hex, f->xxh3) != 0))
			rc = cji_err(CJ_ECORRUPT, "%s: damaged (XXH3-128 %s, the manifest says %s)", path, hex,
			             f->xxh3);
		if (results)
			json_array_append_new(results, json_pack("{s:s, s:o, s:b}", "name", f->name, "size",
			                                         u64(f->size), "ok", rc == 0));
		if (rc)
			return rc;
		base += f->size;
	}
	return 0;
}
