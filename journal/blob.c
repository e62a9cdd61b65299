/* journal/blob.c — reading content-addressed blobs. Writes go through the
 * group-commit writer (append.c). Bytes are checked against their hash on
 * every read: a blob never comes back different from what was stored. */
#include <stdlib.h>
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/keys.h"
#include "common/err.h"

enum { WANT_EXISTS, WANT_COPY, WANT_INFO };

typedef struct blob_req {
	int want;
	void *data;          /* WANT_COPY: malloc'd copy */
	size_t len;          /* WANT_COPY, WANT_INFO */
	const char *mime;    /* WANT_INFO */
} blob_req;

/* One short read transaction: look the blob up and take what q wants. */
static int blob_lookup(cji_journal *j, const char *hash, blob_req *q)
{
	uint8_t key[CJI_BLOB_KEY_LEN];
	if (!hash || cji_blob_key_parse(hash, key) != 0)
		return cji_err_field(CJ_EINVAL, "blob", "blob hash must be 32 lowercase hex characters");
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_val k = { sizeof key, key }, v;
	rc = mdb_get(txn, j->env.blobs, &k, &v);
	if (rc == MDB_NOTFOUND)
		rc = cji_err(CJ_ENOTFOUND, "blob %s: not found", hash);
	else if (rc)
		rc = cji_err_mdb(rc, "blob %s: read failed", hash);
	else if (q->want == WANT_INFO) {
		q->len = v.mv_size;
		q->mime = cji_blob_mime_type(v.mv_data, v.mv_size);
	} else if (q->want == WANT_COPY) {
		uint8_t check[CJI_BLOB_KEY_LEN];
		cji_blob_key(check, v.mv_data, v.mv_size);
		if (memcmp(check, key, sizeof key) != 0)
			rc = cji_err(CJ_ECORRUPT, "blob %s: stored bytes do not match their hash", hash);
		else if (!(q->data = malloc(v.mv_size ? v.mv_size : 1)))
			rc = cji_err(CJ_ENOMEM, "blob %s: out of memory (%zu bytes)", hash, v.mv_size);
		else {
			memcpy(q->data, v.mv_data, v.mv_size);
			q->len = v.mv_size;
		}
	}
	cji_env_read_end(&j->env, txn);
	return rc;
}

int cji_blob_get(void **data_out, size_t *len_out, cji_journal *j, const char *hash)
{
	*data_out = NULL;
	*len_out = 0;
	blob_req q = { WANT_COPY, NULL, 0, NULL };
	int rc = blob_lookup(j, hash, &q);
	if (rc == 0) {
		*data_out = q.data;
		*len_out = q.len;
	}
	return rc;
}

int cji_blob_exists(cji_journal *j, const char *hash)
{
	blob_req q = { WANT_EXISTS, NULL, 0, NULL };
	int rc = blob_lookup(j, hash, &q);
	if (rc == CJ_ENOTFOUND) {
		cj_error_clear();
		return 0;
	}
	return rc == 0 ? 1 : rc;
}

const char *cji_blob_mime_type(const void *data, size_t n)
{
	const uint8_t *p = data;
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

int cji_blob_info(uint64_t *size, const char **mime, cji_journal *j, const char *hash)
{
	blob_req q = { WANT_INFO, NULL, 0, NULL };
	int rc = blob_lookup(j, hash, &q);
	if (rc == 0) {
		*size = q.len;
		*mime = q.mime;
	}
	return rc;
}
