/* journal/blob.c — reading content-addressed blobs. Writes go through the
 * group-commit writer (append.c). Bytes are checked against their hash on
 * every read: a blob never comes back different from what was stored. */
#include <stdlib.h>
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/keys.h"
#include "journal/blob_info.h"
#include "common/err.h"

static int blob_lookup(cj_store *s, const char *hash, void **data_out, size_t *len_out)
{
	if (!s)
		return cji_err(CJ_EINVAL, "blob: no store");
	uint8_t key[CJI_BLOB_KEY_LEN];
	if (cji_blob_key_parse(hash, key) != 0)
		return cji_err_field(CJ_EINVAL, "blob", "blob hash must be 32 lowercase hex characters");
	cji_journal *j = cji_store_journal(s);
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_val k = { sizeof key, key }, v;
	rc = mdb_get(txn, j->env.blobs, &k, &v);
	if (rc) {
		cji_env_read_end(&j->env, txn);
		if (rc == MDB_NOTFOUND)
			return cji_err(CJ_ENOTFOUND, "blob %s: not found", hash);
		return cji_err_mdb(rc, "blob %s: read failed", hash);
	}
	if (!data_out) {
		cji_env_read_end(&j->env, txn);
		return 0;
	}
	uint8_t check[CJI_BLOB_KEY_LEN];
	cji_blob_key(check, v.mv_data, v.mv_size);
	if (memcmp(check, key, sizeof key) != 0) {
		cji_env_read_end(&j->env, txn);
		return cji_err(CJ_ECORRUPT, "blob %s: stored bytes do not match their hash", hash);
	}
	void *copy = malloc(v.mv_size ? v.mv_size : 1);
	if (copy)
		memcpy(copy, v.mv_data, v.mv_size);
	size_t len = v.mv_size;
	cji_env_read_end(&j->env, txn);
	if (!copy)
		return cji_err(CJ_ENOMEM, "blob %s: out of memory (%zu bytes)", hash, len);
	*data_out = copy;
	*len_out = len;
	return 0;
}

int cj_blob_get(cj_store *s, const char *hash, void **data_out, size_t *len_out)
{
	if (!data_out || !len_out)
		return cji_err(CJ_EINVAL, "blob get: NULL output");
	*data_out = NULL;
	*len_out = 0;
	return blob_lookup(s, hash, data_out, len_out);
}

int cj_blob_exists(cj_store *s, const char *hash)
{
	int rc = blob_lookup(s, hash, NULL, NULL);
	if (rc == CJ_ENOTFOUND) {
		cj_error_clear();
		return 0;
	}
	return rc == 0 ? 1 : rc;
}

const char *cji_sniff_mime(const uint8_t *p, size_t n)
{
	if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (n >= 3 && !memcmp(p, "\xff\xd8\xff", 3))
		return "image/jpeg";
	if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
		return "image/gif";
	if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
		return "image/webp";
	if (n >= 4 && !memcmp(p, "%PDF", 4))
		return "application/pdf";
	return "application/octet-stream";
}

int cji_blob_info(cj_store *s, const char *hash, uint64_t *size, const char **mime)
{
	uint8_t key[CJI_BLOB_KEY_LEN];
	if (cji_blob_key_parse(hash, key) != 0)
		return CJ_EINVAL;
	cji_journal *j = cji_store_journal(s);
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_val k = { sizeof key, key }, v;
	rc = mdb_get(txn, j->env.blobs, &k, &v);
	if (rc == 0) {
		*size = v.mv_size;
		*mime = cji_sniff_mime(v.mv_data, v.mv_size);
	}
	cji_env_read_end(&j->env, txn);
	return rc == 0 ? 0 : CJ_ENOTFOUND;
}
