/* api/http/tokens.c — access tokens. A token is "cjt_" + 16 hex id + "_" +
 * 64 hex secret from getrandom(); the file keeps only its SHA-256, so a
 * leaked tokens file does not leak tokens. Tokens are never logged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <jansson.h>
#include "chatjournal/http.h"
#include "api/http/tokens.h"
#include "api/http/sha256.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

static int tokens_path(char *out, size_t n, const char *store)
{
	return cji_path_join(out, n, store, CJH_TOKENS_FILE);
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

int cj_token_add(const char *store_path, int write, const char *label, char token_out[CJ_TOKEN_MAX])
{
	int rc = check_store(store_path);
	if (rc)
		return rc;
	uint8_t idb[CJH_TOKEN_ID_LEN / 2], secret[32];
	if ((rc = random_bytes(idb, sizeof idb)) || (rc = random_bytes(secret, sizeof secret)))
		return rc;
	char id[CJH_TOKEN_ID_LEN + 1], sec[65], hash[65], created[32];
	hex(idb, sizeof idb, id);
	hex(secret, sizeof secret, sec);
	snprintf(token_out, CJ_TOKEN_MAX, "cjt_%s_%s", id, sec);
	cjh_sha256_hex(token_out, strlen(token_out), hash);
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

int cj_token_list(const char *store_path, char **json_out)
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

int cjh_tokens_load(const char *store_path, int store_index, cjh_token **toks, size_t *n)
{
	json_t *arr;
	int rc = load_array(store_path, &arr);
	if (rc)
		return rc;
	size_t i;
	json_t *t;
	json_array_foreach(arr, i, t) {
		const char *id = json_string_value(json_object_get(t, "id"));
		const char *h = json_string_value(json_object_get(t, "sha256"));
		const char *acc = json_string_value(json_object_get(t, "access"));
		if (!id || !h || !acc || strlen(id) != CJH_TOKEN_ID_LEN || strlen(h) != 64)
			continue;
		if (json_is_true(json_object_get(t, "revoked")))
			continue;
		cjh_token *nt = realloc(*toks, (*n + 1) * sizeof **toks);
		if (!nt) {
			json_decref(arr);
			return cji_err(CJ_ENOMEM, "out of memory");
		}
		*toks = nt;
		cjh_token *k = &nt[(*n)++];
		memcpy(k->id, id, CJH_TOKEN_ID_LEN + 1);
		memcpy(k->hash, h, 65);
		k->write = !strcmp(acc, "write");
		k->store = store_index;
	}
	json_decref(arr);
	return 0;
}

const cjh_token *cjh_token_check(const cjh_token *toks, size_t n, const char *token)
{
	if (!token || strncmp(token, "cjt_", 4) != 0 || strlen(token) != 4 + CJH_TOKEN_ID_LEN + 1 + 64)
		return NULL;
	const char *id = token + 4;
	char hash[65];
	cjh_sha256_hex(token, strlen(token), hash);
	for (size_t i = 0; i < n; i++) {
		if (memcmp(toks[i].id, id, CJH_TOKEN_ID_LEN) != 0)
			continue;
		unsigned diff = 0;
		for (int k = 0; k < 64; k++)
			diff |= (unsigned)(hash[k] ^ toks[i].hash[k]);
		if (diff == 0)
			return &toks[i];
	}
	return NULL;
}
