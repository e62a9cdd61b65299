/* journal/keys.h — the only place that knows the journal's key and value
 * bytes: database names, sequence keys, idempotency entries, blob keys, meta
 * keys. docs/format.md describes the same layout for humans. */
#ifndef CJ_JOURNAL_KEYS_H
#define CJ_JOURNAL_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#define CJI_DB_EVENTS "events"   /* seq (8 bytes BE) -> framed record */
#define CJI_DB_IDEM   "idem"     /* client id (1..256 bytes) -> seq BE + fingerprint */
#define CJI_DB_BLOBS  "blobs"    /* XXH3-128 (16 bytes BE) -> raw bytes */
#define CJI_DB_META   "meta"     /* ASCII name -> value */
#define CJI_DB_COMMITS "commits" /* last seq of a group commit (8 bytes BE) -> commit time (i64 BE ms) */

#define CJI_META_FORMAT  "format_version"  /* u32 BE */
#define CJI_META_CREATED "created_ms"      /* i64 BE */
#define CJI_META_COMMITS_FROM "commits_from" /* u64 BE: first seq whose group commit is in commits */
#define CJI_FORMAT_VERSION 4u   /* 4: event types 10-13 and the chat-model fields (a build that
                                   does not know them must refuse, not misread); 3: tombstones and
                                   the folder swap of compaction; 2: the commits table; older
                                   versions are upgraded at a read-write open */

#define CJI_SEQ_KEY_LEN 8
#define CJI_IDEM_VAL_LEN 24   /* 8-byte BE seq + 16-byte XXH3-128 of the body */
#define CJI_BLOB_KEY_LEN 16
#define CJI_ID_MAX 256

void cji_key_seq(uint8_t out[CJI_SEQ_KEY_LEN], uint64_t seq);
/* Sequence number of a key; 0 if the key is not 8 bytes. */
uint64_t cji_key_seq_get(const MDB_val *key);

/* The fingerprint an idempotency entry keeps: XXH3-128 of the record body,
 * high 64 bits then low 64 bits, big-endian. */
void cji_idem_fingerprint(uint8_t out[16], const void *body, size_t len);
void cji_idem_val(uint8_t out[CJI_IDEM_VAL_LEN], uint64_t seq, const uint8_t fp[16]);
/* 0 and fields, or -1 if malformed. */
int cji_idem_val_get(const MDB_val *val, uint64_t *seq, uint8_t fp[16]);

/* XXH3-128 of data as key bytes and as 32 lowercase hex characters. */
void cji_blob_key(uint8_t out[CJI_BLOB_KEY_LEN], const void *data, size_t len);
void cji_blob_hex(const uint8_t key[CJI_BLOB_KEY_LEN], char out[33]);
/* Parse 32 lowercase hex characters; 0 or -1. */
int cji_blob_key_parse(const char *hex, uint8_t out[CJI_BLOB_KEY_LEN]);

/* A meta entry: its name as key, its value as big-endian bytes (u32: 4,
 * u64/i64: 8) held in buf. Build with cji_meta_u32/u64, read a value back
 * with cji_meta_*_get (0, or -1 if the value has the wrong size). */
typedef struct cji_meta_kv {
	MDB_val key, val;
	uint8_t buf[8];
} cji_meta_kv;
void cji_meta_name(MDB_val *key, const char *name);
void cji_meta_u32(cji_meta_kv *kv, const char *name, uint32_t v);
void cji_meta_u64(cji_meta_kv *kv, const char *name, uint64_t v);
int cji_meta_u32_get(const MDB_val *val, uint32_t *v);
int cji_meta_u64_get(const MDB_val *val, uint64_t *v);

/* A commits entry: key = the last sequence number a group commit stored,
 * value = its commit time in ms (both 8 bytes BE, the time as two's
 * complement). cji_commit_get: 0, or -1 if malformed. */
typedef struct cji_commit_kv {
	MDB_val key, val;
	uint8_t kb[8], vb[8];
} cji_commit_kv;
void cji_commit_entry(cji_commit_kv *kv, uint64_t last_seq, int64_t ms);
int cji_commit_get(const MDB_val *key, const MDB_val *val, uint64_t *last_seq, int64_t *ms);

void cji_put_be64(uint8_t *p, uint64_t v);
uint64_t cji_get_be64(const uint8_t *p);

#endif
