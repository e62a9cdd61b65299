/* api/conf.c — reading and writing chatjournal.conf. Every key is listed
 * once in the table below: the reader, the writer and the defaults share it.
 * The http section belongs to the HTTP service (`chatjournal serve`, its own
 * library on the public API): the core checks its keys and values here, so
 * a typo is refused at open like any other, and init writes its defaults;
 * the service reads the values itself (api/http/settings.c). */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatjournal/backup.h"
#include "chatjournal/http.h"
#include "api/conf.h"
#include "common/err.h"
#include "common/fsutil.h"

/* U64, SZ, UINT: stored at off in cji_conf. The http kinds are checked
 * only (a positive integer, true/false, a list of addresses). */
enum { U64, SZ, UINT, HTTP_NUM, HTTP_BOOL, HTTP_ADDRS };

typedef struct conf_key {
	const char *section, *name;
	int kind;
	size_t off;
	uint64_t def;
	int off_at_zero;   /* 0 means "off": allowed, and not written when 0 */
} conf_key;

#define J(f) offsetof(cji_conf, journal.f)
#define L(f) offsetof(cji_conf, journal.limits.f)

static const conf_key KEYS[] = {
	{ "journal", "map_initial", U64, J(map_initial), CJI_MAP_DEFAULT_INITIAL, 0 },
	{ "journal", "map_ceiling", U64, J(map_ceiling), CJI_MAP_DEFAULT_CEILING, 0 },
	{ "journal", "max_batch",   UINT, J(max_batch), CJI_DEFAULT_MAX_BATCH, 0 },
	{ "journal", "max_queue",   UINT, J(max_queue), CJI_DEFAULT_MAX_QUEUE, 0 },
	{ "limits",  "max_content", SZ, L(max_content), CJ_DEFAULT_MAX_CONTENT, 0 },
	{ "limits",  "max_string",  SZ, L(max_string), CJ_DEFAULT_MAX_STRING, 0 },
	{ "limits",  "max_object",  SZ, L(max_object), CJ_DEFAULT_MAX_OBJECT, 0 },
	{ "limits",  "max_depth",   UINT, L(max_depth), CJ_DEFAULT_MAX_DEPTH, 0 },
	{ "limits",  "max_event",   SZ, L(max_event), CJ_DEFAULT_MAX_EVENT, 0 },
	{ "limits",  "max_blob",    SZ, J(max_blob), CJI_DEFAULT_MAX_BLOB, 0 },
	{ "retention", "backup_keep_days", UINT, offsetof(cji_conf, backup_keep_days),
	  CJ_DEFAULT_BACKUP_KEEP_DAYS, 0 },
	{ "retention", "messages_days", UINT, offsetof(cji_conf, retention_messages_days), 0, 1 },
	{ "retention", "inactive_threads_days", UINT,
	  offsetof(cji_conf, retention_inactive_threads_days), 0, 1 },
	{ "retention", "metrics_days", UINT, offsetof(cji_conf, retention_metrics_days), 0, 1 },
	/* when `serve` compacts on its own: daily, and past 64 MiB redactable */
	{ "compaction", "interval_seconds", U64, offsetof(cji_conf, compact_interval_s), 86400, 1 },
	{ "compaction", "threshold_bytes", U64, offsetof(cji_conf, compact_threshold), (uint64_t)64 << 20, 1 },
	{ "http", "max_inflight_body", HTTP_NUM, 0, CJ_HTTP_DEFAULT_MAX_INFLIGHT_BODY, 0 },
	{ "http", "head_timeout_ms", HTTP_NUM, 0, CJ_HTTP_DEFAULT_HEAD_TIMEOUT_MS, 0 },
	{ "http", "max_connections_per_ip", HTTP_NUM, 0, CJ_HTTP_DEFAULT_MAX_PER_IP, 0 },
	{ "http", "slow_query_ms", HTTP_NUM, 0, CJ_HTTP_DEFAULT_SLOW_QUERY_MS, 0 },
	{ "http", "trusted_proxies", HTTP_ADDRS, 0, 0, 0 },
	{ "http", "start_check", HTTP_BOOL, 0, 1, 0 },
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static void set_val(cji_conf *c, const conf_key *k, uint64_t v)
{
	char *p = (char *)c + k->off;
	switch (k->kind) {
	case U64: *(uint64_t *)p = v; break;
	case SZ: *(size_t *)p = (size_t)v; break;
	case UINT: *(unsigned *)p = (unsigned)v; break;
	default: break; /* checked, not kept */
	}
}

static uint64_t get_val(const cji_conf *c, const conf_key *k)
{
	const char *p = (const char *)c + k->off;
	switch (k->kind) {
	case U64: return *(const uint64_t *)p;
	case SZ: return *(const size_t *)p;
	case UINT: return *(const unsigned *)p;
	default: return k->def;
	}
}

/* The value init writes for a key. */
static json_t *default_json(const cji_conf *c, const conf_key *k)
{
	switch (k->kind) {
	case HTTP_BOOL: return json_boolean(k->def);
	case HTTP_ADDRS: return json_array();
	default: return json_integer((json_int_t)get_val(c, k));
	}
}

/* "192.0.2.7", "10.0.0.0/8", "::1", "2001:db8::/32". */
static int is_address(const char *s)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof ip)
		return 0;
	memcpy(ip, s, n);
	ip[n] = '\0';
	unsigned char buf[16];
	int bits = inet_pton(AF_INET, ip, buf) == 1 ? 32 : inet_pton(AF_INET6, ip, buf) == 1 ? 128 : 0;
	if (!bits)
		return 0;
	if (!slash)
		return 1;
	char *end;
	long p = strtol(slash + 1, &end, 10);
	return slash[1] && !*end && p >= 0 && p <= bits;
}

static int check_value(const char *path, const char *section, const char *name,
                       const conf_key *k, json_t *v)
{
	int kind = k->kind;
	if (kind == HTTP_BOOL) {
		if (!json_is_boolean(v))
			return cji_err(CJ_EINVAL, "%s: %s.%s must be true or false", path, section, name);
		return 0;
	}
	if (kind == HTTP_ADDRS) {
		size_t i;
		json_t *a;
		if (!json_is_array(v))
			return cji_err(CJ_EINVAL, "%s: %s.%s must be a list of addresses", path, section, name);
		json_array_foreach(v, i, a) {
			if (!json_is_string(a) || !is_address(json_string_value(a)))
				return cji_err(CJ_EINVAL, "%s: %s.%s: entry %zu is not an IP address or "
				               "ADDRESS/PREFIX", path, section, name, i);
		}
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < (k->off_at_zero ? 0 : 1))
		return cji_err(CJ_EINVAL, "%s: %s.%s must be a %s integer", path, section, name,
		               k->off_at_zero ? "non-negative (0: off)" : "positive");
	return 0;
}

static void apply_opts(cji_conf *c, const cj_store_options *o)
{
	if (!o)
		return;
	if (o->map_initial) c->journal.map_initial = o->map_initial;
	if (o->map_ceiling) c->journal.map_ceiling = o->map_ceiling;
	if (o->max_content) c->journal.limits.max_content = o->max_content;
	if (o->max_blob) c->journal.max_blob = o->max_blob;
	if (o->max_batch) c->journal.max_batch = o->max_batch;
	if (o->max_queue) c->journal.max_queue = o->max_queue;
	c->journal.read_only = o->read_only;
}

void cji_conf_defaults(cji_conf *c, const cj_store_options *opts)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < NKEYS; i++)
		set_val(c, &KEYS[i], KEYS[i].def);
	c->defaults = json_object();
	apply_opts(c, opts);
}

static const conf_key *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(KEYS[i].section, section) && !strcmp(KEYS[i].name, name))
			return &KEYS[i];
	return NULL;
}

static int load_section(cji_conf *c, const char *path, const char *section, json_t *obj)
{
	const char *name;
	json_t *v;
	json_object_foreach(obj, name, v) {
		const conf_key *k = find_key(section, name);
		if (!k)
			return cji_err(CJ_EINVAL, "%s: unknown setting %s.%s", path, section, name);
		int rc = check_value(path, section, name, k, v);
		if (rc)
			return rc;
		if (json_is_integer(v))
			set_val(c, k, (uint64_t)json_integer_value(v));
	}
	return 0;
}

int cji_conf_load(cji_conf *c, const char *store, const cj_store_options *opts)
{
	char path[4200];
	int rc = cji_path_join(path, sizeof path, store, CJI_CONF_NAME);
	if (rc)
		return rc;
	if (!cji_exists(path))
		return cji_err(CJ_ENOTFOUND, "%s is not a chatjournal store (no %s); run 'chatjournal init'",
		               store, CJI_CONF_NAME);
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return cji_err(CJ_EINVAL, "%s: line %d: %s", path, jerr.line, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return cji_err(CJ_EINVAL, "%s: must be a JSON object", path);
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "format")) {
			if (!json_is_integer(v) || json_integer_value(v) != CJI_CONF_FORMAT) {
				rc = cji_err(CJ_EVERSION, "%s: unsupported format (this build reads %d)", path,
				             CJI_CONF_FORMAT);
				break;
			}
		} else if (!strcmp(key, "defaults")) {
			if (!json_is_object(v)) {
				rc = cji_err(CJ_EINVAL, "%s: defaults must be an object", path);
				break;
			}
			json_decref(c->defaults);
			c->defaults = json_incref(v);
		} else if (json_is_object(v) && (!strcmp(key, "journal") || !strcmp(key, "limits") ||
		                                 !strcmp(key, "retention") || !strcmp(key, "compaction") ||
		                                 !strcmp(key, "http"))) {
			if ((rc = load_section(c, path, key, v)))
				break;
		} else {
			rc = cji_err(CJ_EINVAL, "%s: unknown section %s", path, key);
			break;
		}
	}
	json_decref(root);
	if (rc)
		return rc;
	apply_opts(c, opts);
	return 0;
}

int cji_conf_save(const cji_conf *c, const char *store)
{
	char path[4200];
	int rc = cji_path_join(path, sizeof path, store, CJI_CONF_NAME);
	if (rc)
		return rc;
	json_t *root = json_object();
	json_object_set_new(root, "format", json_integer(CJI_CONF_FORMAT));
	for (size_t i = 0; i < NKEYS; i++) {
		if (KEYS[i].off_at_zero && get_val(c, &KEYS[i]) == 0)
			continue;
		json_t *sec = json_object_get(root, KEYS[i].section);
		if (!sec) {
			sec = json_object();
			json_object_set_new(root, KEYS[i].section, sec);
		}
		json_object_set_new(sec, KEYS[i].name, default_json(c, &KEYS[i]));
	}
	json_object_set_new(root, "defaults", c->defaults ? json_incref(c->defaults) : json_object());
	char *text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return cji_err(CJ_ENOMEM, "out of memory");
	size_t n = strlen(text);
	text[n] = '\n';
	rc = cji_write_file_atomic(path, text, n + 1);
	free(text);
	return rc;
}

void cji_conf_free(cji_conf *c)
{
	json_decref(c->defaults);
	c->defaults = NULL;
}
