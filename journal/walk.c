/* journal/walk.c — a journal table in key order, chunk by chunk (walk.h). */
#include <string.h>
#include "journal/walk.h"
#include "common/err.h"

/* LMDB's default order: bytes compared, then the shorter key first. */
static int after_last(const cji_walk *w, const MDB_val *k)
{
	size_t m = k->mv_size < w->last_len ? k->mv_size : w->last_len;
	int cmp = m ? memcmp(k->mv_data, w->last, m) : 0;
	return cmp > 0 || (cmp == 0 && k->mv_size > w->last_len);
}

static int chunk(cji_walk *w, cji_journal *j)
{
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(txn, w->dbi, &c))) {
		cji_env_read_end(&j->env, txn);
		return cji_err_mdb(rc, "journal: cannot open a cursor on %s", w->what);
	}
	MDB_val k = { w->last_len, w->last }, v;
	rc = mdb_cursor_get(c, &k, &v, w->started ? MDB_SET_RANGE : MDB_FIRST);
	if (rc == 0 && w->started && k.mv_size == w->last_len &&
	    memcmp(k.mv_data, w->last, w->last_len) == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	size_t bytes = 0;
	for (unsigned n = 0; rc == 0 && n < w->chunk_items &&
	                     (!w->chunk_bytes || bytes < w->chunk_bytes); n++) {
		if (w->started && !after_last(w, &k)) {
			w->disorder(w->arg, &k, w->last, w->last_len);
			w->done = 1;
			break;
		}
		if (w->visit(w->arg, txn, &k, &v) || k.mv_size > sizeof w->last) {
			w->done = 1;
			break;
		}
		memcpy(w->last, k.mv_data, k.mv_size);
		w->last_len = k.mv_size;
		w->started = 1;
		bytes += v.mv_size;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	cji_env_read_end(&j->env, txn);
	if (rc == MDB_NOTFOUND)
		w->done = 1;
	else if (rc)
		return cji_err_mdb(rc, "journal: cannot read %s", w->what);
	return 0;
}

int cji_walk_run(cji_walk *w, cji_journal *j)
{
	int rc = 0;
	while (!w->done && !(rc = chunk(w, j)))
		;
	return rc;
}
