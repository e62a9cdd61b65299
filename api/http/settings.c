/* api/http/settings.c — the server-wide settings: an option of
 * cj_http_options (a command-line flag) wins; else the http.* keys of the
 * stores' chatjournal.conf; else the CJ_HTTP_DEFAULT_* values.
 *
 * One server serves every store it was given, so each setting has one
 * value: with several stores, the strictest of theirs (the smallest cap,
 * deadline and slow-query threshold; the proxies every store trusts). The
 * core library checks these keys when it opens a store (api/conf.c: unknown
 * keys and bad values are refused there); this file reads the values after
 * that, with the public API only. A store's limits.max_blob is read here
 * too, to refuse an oversized blob from its Content-Length. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "service.h"

static json_t *load_conf(const char *store)
{
	char path[4300];
	size_t n = strlen(store);
	while (n > 1 && store[n - 1] == '/')
		n--;
	if (snprintf(path, sizeof path, "%.*s/chatjournal.conf", (int)n, store) >= (int)sizeof path)
		return NULL;
	return json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
}

static json_t *http_section(json_t *conf)
{
	json_t *h = json_object_get(conf, "http");
	return json_is_object(h) ? h : NULL;
}

int cjh_start_check(const cj_http_options *o, const char *store)
{
	if (o->skip_start_check)
		return 0;
	json_t *conf = load_conf(store);
	json_t *v = json_object_get(http_section(conf), "start_check");
	int check = !json_is_false(v);
	json_decref(conf);
	return check;
}

/* Smallest value of key over the stores (0 if none names it). */
static uint64_t strictest(json_t *const *confs, size_t n, const char *key, int *differ)
{
	uint64_t best = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(http_section(confs[i]), key);
		uint64_t x = json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
		if (i > 0 && x != best && (x || best))
			*differ = 1;
		if (x && (!best || x < best))
			best = x;
	}
	return best;
}

static int add_proxy(cjh_settings *set, const char *text)
{
	cjh_net net;
	if (cjh_parse_net(&net, text) != 0)
		return cj_error_set(CJ_EINVAL, NULL, "trusted proxies: '%s' is not an address or "
		                    "ADDRESS/PREFIX", text);
	cjh_net *p = realloc(set->proxies, (set->nproxies + 1) * sizeof *p);
	if (!p)
		return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	set->proxies = p;
	p[set->nproxies++] = net;
	return 0;
}

/* Is text in the trusted_proxies list of conf? */
static int conf_lists(json_t *conf, const char *text)
{
	json_t *a = json_object_get(http_section(conf), "trusted_proxies"), *v;
	size_t i;
	json_array_foreach(a, i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), text))
			return 1;
	}
	return 0;
}

static int proxies_from_option(cjh_settings *set, const char *list)
{
	char item[128];
	for (const char *p = list; *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n >= sizeof item)
			return cj_error_set(CJ_EINVAL, NULL, "trusted proxies: entry too long");
		memcpy(item, p, n);
		item[n] = '\0';
		int rc = add_proxy(set, item);
		if (rc)
			return rc;
		p += n + (comma ? 1 : 0);
	}
	return 0;
}

/* The proxies that every store lists. */
static int proxies_from_confs(cjh_settings *set, json_t *const *confs, size_t n, int *differ)
{
	json_t *a = json_object_get(http_section(confs[0]), "trusted_proxies"), *v;
	size_t i;
	json_array_foreach(a, i, v) {
		const char *text = json_string_value(v);
		int everywhere = text != NULL;
		for (size_t k = 1; k < n && everywhere; k++)
			everywhere = conf_lists(confs[k], text);
		if (!everywhere) {
			*differ = 1;
			continue;
		}
		int rc = add_proxy(set, text);
		if (rc)
			return rc;
	}
	for (size_t k = 1; k < n; k++)
		if (json_array_size(json_object_get(http_section(confs[k]), "trusted_proxies")) !=
		    set->nproxies)
			*differ = 1;
	return 0;
}

void cjh_settings_log(cjh_server *sv)
{
	int differ = sv->set.differ;
	const cjh_settings *s = &sv->set;
	json_t *px = json_array();
	for (size_t i = 0; i < s->nproxies; i++) {
		char text[80];
		const cjh_net *n = &s->proxies[i];
		char ip[64] = "";
		inet_ntop(n->family, n->addr, ip, sizeof ip);
		snprintf(text, sizeof text, "%s/%u", ip, n->bits);
		json_array_append_new(px, json_string(text));
	}
	json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:I}", "event", "settings",
	                      "max_inflight_body", (json_int_t)s->max_inflight_body, "head_timeout_ms",
	                      (json_int_t)s->head_timeout_ms, "max_connections_per_ip",
	                      (json_int_t)s->max_per_ip, "slow_query_ms", (json_int_t)s->slow_query_ms,
	                      "workers", (json_int_t)s->workers, "max_connections",
	                      (json_int_t)sv->o.max_connections, "trusted_proxies", px,
	                      "stream_ping_ms", (json_int_t)s->ping_ms, "stream_stall_ms",
	                      (json_int_t)s->stall_ms);
	if (differ)
		json_object_set_new(o, "note", json_string("the stores' http settings differ: the "
		                                           "strictest of each is in force"));
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text)
		cjh_log_line(sv, text);
	free(text);
}

int cjh_settings_load(cjh_server *sv)
{
	cjh_settings *set = &sv->set;
	const cj_http_options *o = &sv->o;
	json_t **confs = calloc(sv->nstores, sizeof *confs);
	if (!confs)
		return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < sv->nstores; i++) {
		confs[i] = load_conf(o->stores[i]);
		json_t *mb = json_object_get(json_object_get(confs[i], "limits"), "max_blob");
		sv->stores[i].max_blob = json_is_integer(mb) && json_integer_value(mb) > 0 ?
		                         (size_t)json_integer_value(mb) : 0;
	}
	int differ = 0, rc = 0;
	uint64_t v;
	v = strictest(confs, sv->nstores, "max_inflight_body", &differ);
	set->max_inflight_body = o->max_inflight_body ? o->max_inflight_body : v ? v :
	                         CJ_HTTP_DEFAULT_MAX_INFLIGHT_BODY;
	v = strictest(confs, sv->nstores, "head_timeout_ms", &differ);
	set->head_timeout_ms = o->head_timeout_ms ? o->head_timeout_ms : v ? (unsigned)v :
	                       CJ_HTTP_DEFAULT_HEAD_TIMEOUT_MS;
	v = strictest(confs, sv->nstores, "max_connections_per_ip", &differ);
	set->max_per_ip = o->max_per_ip ? o->max_per_ip : v ? (unsigned)v : CJ_HTTP_DEFAULT_MAX_PER_IP;
	v = strictest(confs, sv->nstores, "slow_query_ms", &differ);
	set->slow_query_ms = o->slow_query_ms >= 0 ? o->slow_query_ms : v ? (long)v :
	                     CJ_HTTP_DEFAULT_SLOW_QUERY_MS;
	if (o->trusted_proxies)
		rc = proxies_from_option(set, o->trusted_proxies);
	else
		rc = proxies_from_confs(set, confs, sv->nstores, &differ);
	/* 8 per core, 4 to 16: blocking work is CPU (parsing) and waiting
	 * (reads from a cold cache, blob commits); the library keeps 16 reader
	 * connections, so more workers would open and close connections. On a
	 * loaded 2-core machine 4 workers lost more batched throughput to the
	 * old thread per connection than 16 (docs/performance.md, bench http). */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	long w = cores > 0 ? 8 * cores : 16;
	set->workers = o->workers ? o->workers : (unsigned)(w < 4 ? 4 : w > 16 ? 16 : w);
	set->ping_ms = o->stream_ping_ms ? o->stream_ping_ms : CJ_HTTP_DEFAULT_STREAM_PING_MS;
	set->stall_ms = o->stream_stall_ms ? o->stream_stall_ms : CJ_HTTP_DEFAULT_STREAM_STALL_MS;
	for (size_t i = 0; i < sv->nstores; i++)
		json_decref(confs[i]);
	free(confs);
	set->differ = differ;
	return rc;
}

void cjh_settings_free(cjh_settings *set)
{
	free(set->proxies);
	set->proxies = NULL;
	set->nproxies = 0;
}
