/* api/tokens.c — access tokens. A token is "cjt_" + 16 hex id + "_" +
 * 64 hex secret from getrandom(); the file keeps only its SHA-256, so a
 * leaked tokens file does not leak tokens. Tokens are never logged. A token
 * set follows the file (stat at most every CJ_TOKEN_SET_RECHECK_MS), so a
 * revocation reaches a running server without a restart. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <jansson.h>
#include "chatjournal/token.h"
#include "api/store_internal.h"
#include "common/sha256.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

static int tokens_path(char *out, size_t n, const char *store)
{
	return cji_path_join(out, n, store, CJI_TOKENS_NAME);
}

/* The file's JSON array (new empty array if the file does not exist). */
static int load_array(const char *store, json_t **arr)
{
	char path[4200];
	int rc = tokens_path(path, sizeof path, store);
	if (rc)
		return rc;
	if (!cji_exists(path)) {
		*arr = json_array();
		return 0;
	}
	json_error_t e;
	json_t *root = json_load_file(path, 0, &e);
	if (!root)
		return cji_err(CJ_EINVAL, "%s: line %d: %s", path, e.line, e.text);
	json_t *a = json_object_get(root, "tokens");
	if (!json_is_array(a)) {
		json_decref(root);
		return cji_err(CJ_EINVAL, "%s: no \"tokens\" array", path);
	}
	*arr = json_incref(a);
	json_decref(root);
	return 0;
}

static int save_array(const char *store, json_t *arr)
{
	char path[4200];
	int rc = tokens_path(path, sizeof path, store);
	if (rc)
		return rc;
	json_t *root = json_pack("{s:O}", "tokens", arr);
	char *text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return cji_err(CJ_ENOMEM, "out of memory");
	rc = cji_write_file_atomic(path, text, strlen(text));
	free(text);
	return rc;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[p[i] >> 4];
		out[2 * i + 1] = h[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int random_bytes(uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return cji_err_errno(errno, "cannot read random bytes");
		}
		got += (size_t)r;
	}
	return 0;
}

static int check_store(const char *store)
{
	char conf[4200];
	int rc = cji_path_join(conf, sizeof conf, store, "chatjournal.conf");
	if (rc)
		return rc;
	if (!cji_exists(conf))
		return cji_err(CJ_ENOTFOUND, "%s is not a chatjournal store", store);
	return 0;
}

int cj_token_add(char token_out[CJ_TOKEN_MAX], const char *store_path, int write, const char *label)
{
	int rc = check_store(store_path);
	if (rc)
		return rc;
	uint8_t idb[CJ_TOKEN_ID_LEN / 2], secret[32];
	if ((rc = random_bytes(idb, sizeof idb)) || (rc = random_bytes(secret, sizeof secret)))
		return rc;
	char id[CJ_TOKEN_ID_LEN + 1], sec[65], hash[65], created[32];
	hex(idb, sizeof idb, id);
	hex(secret, sizeof secret, sec);
	snprintf(token_out, CJ_TOKEN_MAX, "cjt_%s_%s", id, sec);
	cji_sha256_hex(token_out, strlen(token_out), hash);
	cji_time_format(cji_now_ms(), created);
	json_t *arr;
	if ((rc = load_array(store_path, &arr)))
		return rc;
	json_t *entry = json_pack("{s:s,s:s,s:s,s:s,s:s*,s:b}", "id", id, "sha256", hash,
	                          "access", write ? "write" : "read", "created", created,
	                          "label", label, "revoked", 0);
	if (!entry) { /* jansson refuses invalid UTF-8 */
		json_decref(arr);
		memset(token_out, 0, CJ_TOKEN_MAX);
		return cji_err_field(CJ_EINVAL, "label", "token label must be valid UTF-8");
	}
	json_array_append_new(arr, entry);
	rc = save_array(store_path, arr);
	json_decref(arr);
	if (rc)
		memset(token_out, 0, CJ_TOKEN_MAX);
	return rc;
}

int cj_token_list(char **json_out, const char *store_path)
{
	*json_out = NULL;
	int rc = check_store(store_path);
	json_t *arr;
	if (rc || (rc = load_array(store_path, &arr)))
		return rc;
	json_t *out = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(arr, i, t) {
		json_t *o = json_deep_copy(t);
		json_object_del(o, "sha256"); /* never shown */
		json_array_append_new(out, o);
	}
	json_decref(arr);
	*json_out = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return *json_out ? 0 : cji_err(CJ_ENOMEM, "out of memory");
}

int cj_token_revoke(const char *store_path, const char *id)
{
	int rc = check_store(store_path);
	json_t *arr;
	if (rc || (rc = load_array(store_path, &arr)))
		return rc;
	size_t i;
	json_t *t;
	int found = 0;
	json_array_foreach(arr, i, t) {
		const char *tid = json_string_value(json_object_get(t, "id"));
		if (id && tid && !strcmp(tid, id)) {
			json_object_set_new(t, "revoked", json_true());
			found = 1;
		}
	}
	rc = found ? save_array(store_path, arr) : cji_err(CJ_ENOTFOUND, "no token with id %s", id ? id : "");
	json_decref(arr);
	return rc;
}

/* ---- a live set ---------------------------------------------------------- */

typedef struct live_token {
	char id[CJ_TOKEN_ID_LEN + 1];
	char hash[65];     /* SHA-256 of the whole token, hex */
	int write;
} live_token;

struct cj_token_set {
	pthread_mutex_t mu;
	char store[4096];
	char path[4200];
	live_token *v;
	size_t n;
	struct stat seen;      /* the file as last loaded (st_ino 0: absent) */
	uint64_t checked_ns;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The live (not revoked) tokens of the file into *v / *n. */
static int load_live(const char *store, live_token **v, size_t *n)
{
	*v = NULL;
	*n = 0;
	json_t *arr;
	int rc = load_array(store, &arr);
	if (rc)
		return rc;
	live_token *out = calloc(json_array_size(arr) + 1, sizeof *out);
	if (!out) {
		json_decref(arr);
		return cji_err(CJ_ENOMEM, "out of memory");
	}
	size_t i, k = 0;
	json_t *t;
	json_array_foreach(arr, i, t) {
		const char *id = json_string_value(json_object_get(t, "id"));
		const char *h = json_string_value(json_object_get(t, "sha256"));
		const char *acc = json_string_value(json_object_get(t, "access"));
		if (!id || !h || !acc || strlen(id) != CJ_TOKEN_ID_LEN || strlen(h) != 64)
			continue;
		if (json_is_true(json_object_get(t, "revoked")))
			continue;
		memcpy(out[k].id, id, CJ_TOKEN_ID_LEN + 1);
		memcpy(out[k].hash, h, 65);
		out[k].write = !strcmp(acc, "write");
		k++;
	}
	json_decref(arr);
	*v = out;
	*n = k;
	return 0;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reload if the file changed since it was read (called with mu held). */
static int refresh(cj_token_set *ts, int force)
{
	uint64_t now = mono_ns();
	if (!force && now - ts->checked_ns < (uint64_t)CJ_TOKEN_SET_RECHECK_MS * 1000000u)
		return 0;
	ts->checked_ns = now;
	struct stat st;
	if (stat(ts->path, &st) != 0)
		memset(&st, 0, sizeof st);
	if (!force && same_file(&st, &ts->seen))
		return 0;
	live_token *v;
	size_t n;
	int rc = load_live(ts->store, &v, &n);
	if (rc)
		return rc;  /* keep the last good set; the file is written atomically */
	free(ts->v);
	ts->v = v;
	ts->n = n;
	ts->seen = st;
	return 0;
}

int cj_token_set_open(cj_token_set **out, const char *store_path)
{
	*out = NULL;
	int rc = check_store(store_path);
	if (rc)
		return rc;
	cj_token_set *ts = calloc(1, sizeof *ts);
	if (!ts)
		return cji_err(CJ_ENOMEM, "out of memory");
	if (strlen(store_path) >= sizeof ts->store) {
		free(ts);
		return cji_err(CJ_ETOOBIG, "path too long: %s", store_path);
	}
	strcpy(ts->store, store_path);
	if ((rc = tokens_path(ts->path, sizeof ts->path, store_path)) || (rc = refresh(ts, 1))) {
		free(ts);
		return rc;
	}
	pthread_mutex_init(&ts->mu, NULL);
	*out = ts;
	return 0;
}

void cj_token_set_free(cj_token_set *ts)
{
	if (!ts)
		return;
	pthread_mutex_destroy(&ts->mu);
	free(ts->v);
	free(ts);
}

int cj_token_set_check(cj_token_grant *grant, cj_token_set *ts, const char *token)
{
	memset(grant, 0, sizeof *grant);
	if (!ts || !token || strncmp(token, "cjt_", 4) != 0 ||
	    strlen(token) != 4 + CJ_TOKEN_ID_LEN + 1 + 64)
		return 0;
	const char *id = token + 4;
	char hash[65];
	cji_sha256_hex(token, strlen(token), hash);
	pthread_mutex_lock(&ts->mu);
	int rc = refresh(ts, 0), found = 0;
	for (size_t i = 0; i < ts->n && !found; i++) {
		if (memcmp(ts->v[i].id, id, CJ_TOKEN_ID_LEN) != 0)
			continue;
		unsigned diff = 0;
		for (int k = 0; k < 64; k++)
			diff |= (unsigned)(hash[k] ^ ts->v[i].hash[k]);
		if (diff == 0) {
			memcpy(grant->id, ts->v[i].id, sizeof grant->id);
			grant->write = ts->v[i].write;
			found = 1;
		}
	}
	pthread_mutex_unlock(&ts->mu);
	return found ? 1 : rc;
}
