/* bench/base_lmdb.c — baselines "lmdb_raw_1" and "lmdb_raw_1000": what LMDB
 * itself can do on this disk with default, durable flags (fdatasync of the
 * data file, O_DSYNC meta page write per commit), appending ~330-byte records
 * under big-endian 64-bit keys with MDB_APPEND, as a journal would. */
#include <stdio.h>
#include <stdlib.h>
#include <lmdb.h>
#include "measure.h"
#include "workload.h"

/* Sparse: LMDB without MDB_WRITEMAP grows the file only as pages are written. */
#define MAP_BYTES ((size_t)16 << 30)

typedef struct lmdb_ctx {
	MDB_env *env;
	MDB_dbi dbi;
	unsigned per_txn;
	uint8_t (*recs)[CJB_RECORD_BYTES];   /* per_txn prebuilt records */
} lmdb_ctx;

static void key_be(uint8_t k[8], uint64_t seq)
{
	for (int i = 7; i >= 0; i--, seq >>= 8)
		k[i] = (uint8_t)seq;
}

/* One transaction of n records starting at seq; 0 or an MDB/errno code. */
static int put_txn(lmdb_ctx *c, uint64_t seq, uint64_t n)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	for (uint64_t j = 0; rc == 0 && j < n; j++) {
		uint8_t k[8];
		key_be(k, seq + j);
		MDB_val key = { sizeof(k), k };
		MDB_val val = { CJB_RECORD_BYTES, c->recs[j] };
		rc = mdb_put(txn, c->dbi, &key, &val, MDB_APPEND);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static int lmdb_work(cjb_worker *w)
{
	lmdb_ctx *c = w->ctx;
	uint64_t seq = 1, n;
	while ((n = cjb_claim(w, c->per_txn)) > 0) {
		uint64_t t = cjb_now_ns();
		int rc = put_txn(c, seq, n);
		if (rc != 0)
			return cjb_fail(w, "lmdb commit at key %llu: %s",
			                (unsigned long long)seq, mdb_strerror(rc));
		if (cjb_done(w, n, cjb_now_ns() - t) != 0)
			return -1;
		seq += n;
	}
	return 0;
}

static int open_env(lmdb_ctx *c, const char *dir)
{
	int rc = mdb_env_create(&c->env);
	if (rc == 0) rc = mdb_env_set_mapsize(c->env, MAP_BYTES);
	if (rc == 0) rc = mdb_env_open(c->env, dir, 0, 0600);   /* 0: default, durable */
	MDB_txn *txn = NULL;
	if (rc == 0) rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	if (rc == 0) rc = mdb_dbi_open(txn, NULL, 0, &c->dbi);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else if (txn)
		mdb_txn_abort(txn);
	return rc;
}

int cjb_measure_lmdb_raw(const char *dir, unsigned per_txn, const cjb_bounds *b,
                         cjb_result *res)
{
	lmdb_ctx c = { .per_txn = per_txn };
	c.recs = calloc(per_txn, sizeof(*c.recs));
	if (!c.recs)
		return cjb_result_fail(res, "out of memory for %u records", per_txn);
	for (unsigned j = 0; j < per_txn; j++) {
		cjb_msg m;
		cjb_msg_fill(&m, 0, j);
		cjb_msg_record(&m, c.recs[j]);
	}
	int ret = -1, rc = open_env(&c, dir);
	if (rc != 0)
		cjb_result_fail(res, "lmdb open %s: %s", dir, mdb_strerror(rc));
	else
		ret = cjb_run_workers(1, lmdb_work, &c, b, res);
	if (c.env)
		mdb_env_close(c.env);
	free(c.recs);
	return ret;
}
