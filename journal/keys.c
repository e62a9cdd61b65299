/* journal/keys.c — key and value byte layouts (see keys.h). Big-endian
 * sequence keys sort numerically under LMDB's default memcmp order, which is
 * what makes MDB_APPEND valid. */
#include <string.h>
#include <xxhash.h>
#include "journal/keys.h"

void cji_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

uint64_t cji_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

void cji_key_seq(uint8_t out[CJI_SEQ_KEY_LEN], uint64_t seq) { cji_put_be64(out, seq); }

void cji_commit_entry(cji_commit_kv *kv, uint64_t last_seq, int64_t ms)
{
	cji_put_be64(kv->kb, last_seq);
	cji_put_be64(kv->vb, (uint64_t)ms);
	kv->key.mv_size = 8;
	kv->key.mv_data = kv->kb;
	kv->val.mv_size = 8;
	kv->val.mv_data = kv->vb;
}

int cji_commit_get(const MDB_val *key, const MDB_val *val, uint64_t *last_seq, int64_t *ms)
{
	if (key->mv_size != 8 || val->mv_size != 8)
		return -1;
	*last_seq = cji_get_be64(key->mv_data);
	*ms = (int64_t)cji_get_be64(val->mv_data);
	return 0;
}

void cji_meta_name(MDB_val *key, const char *name)
{
	key->mv_size = strlen(name);
	key->mv_data = (void *)name;
}

void cji_meta_u64(cji_meta_kv *kv, const char *name, uint64_t v)
{
	cji_meta_name(&kv->key, name);
	cji_put_be64(kv->buf, v);
	kv->val.mv_size = 8;
	kv->val.mv_data = kv->buf;
}

void cji_meta_u32(cji_meta_kv *kv, const char *name, uint32_t v)
{
	cji_meta_u64(kv, name, v);
	kv->val.mv_size = 4;
	kv->val.mv_data = kv->buf + 4;
}

int cji_meta_u64_get(const MDB_val *val, uint64_t *v)
{
	if (val->mv_size != 8)
		return -1;
	*v = cji_get_be64(val->mv_data);
	return 0;
}

int cji_meta_u32_get(const MDB_val *val, uint32_t *v)
{
	if (val->mv_size != 4)
		return -1;
	const uint8_t *p = val->mv_data;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return 0;
}

uint64_t cji_key_seq_get(const MDB_val *key)
{
	if (key->mv_size != CJI_SEQ_KEY_LEN)
		return 0;
	return cji_get_be64(key->mv_data);
}

void cji_idem_fingerprint(uint8_t out[16], const void *body, size_t len)
{
	XXH128_hash_t h = XXH3_128bits(body, len);
	cji_put_be64(out, h.high64);
	cji_put_be64(out + 8, h.low64);
}

void cji_idem_val(uint8_t out[CJI_IDEM_VAL_LEN], uint64_t seq, const uint8_t fp[16])
{
	cji_put_be64(out, seq);
	memcpy(out + 8, fp, 16);
}

int cji_idem_val_get(const MDB_val *val, uint64_t *seq, uint8_t fp[16])
{
	if (val->mv_size != CJI_IDEM_VAL_LEN)
		return -1;
	*seq = cji_get_be64(val->mv_data);
	memcpy(fp, (const uint8_t *)val->mv_data + 8, 16);
	return 0;
}

void cji_blob_key(uint8_t out[CJI_BLOB_KEY_LEN], const void *data, size_t len)
{
	XXH128_hash_t h = XXH3_128bits(data, len);
	cji_put_be64(out, h.high64);
	cji_put_be64(out + 8, h.low64);
}

void cji_blob_hex(const uint8_t key[CJI_BLOB_KEY_LEN], char out[33])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < CJI_BLOB_KEY_LEN; i++) {
		out[2 * i] = hex[key[i] >> 4];
		out[2 * i + 1] = hex[key[i] & 15];
	}
	out[32] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cji_blob_key_parse(const char *hex, uint8_t out[CJI_BLOB_KEY_LEN])
{
	if (!hex || strlen(hex) != 2 * CJI_BLOB_KEY_LEN)
		return -1;
	for (int i = 0; i < CJI_BLOB_KEY_LEN; i++) {
		int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
