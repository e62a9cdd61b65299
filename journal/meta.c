/* journal/meta.c — journal statistics (counts from LMDB's own table stats,
 * map figures from the environment). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "journal/journal_internal.h"
#include "journal/keys.h"
#include "common/err.h"

int cji_journal_stats(cj_journal_stats *out, cji_journal *j)
{
	memset(out, 0, sizeof *out);
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_stat st;
	if ((rc = mdb_stat(txn, j->env.events, &st)) == 0) {
		out->events = st.ms_entries;
		if ((rc = mdb_stat(txn, j->env.idem, &st)) == 0) {
			out->idempotency_keys = st.ms_entries;
			if ((rc = mdb_stat(txn, j->env.blobs, &st)) == 0)
				out->blobs = st.ms_entries;
		}
	}
	MDB_cursor *c;
	if (rc == 0 && (rc = mdb_cursor_open(txn, j->env.blobs, &c)) == 0) {
		MDB_val k, v;
		int r = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		/* At most as many steps as the table counts: a damaged page
		 * must not turn this into an endless loop (L16). */
		for (uint64_t n = 0; r == 0 && n < out->blobs; n++) {
			out->blob_bytes += v.mv_size;
			r = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(c);
	}
	if (rc == 0 && (rc = mdb_cursor_open(txn, j->env.events, &c)) == 0) {
		MDB_val k, v;
		if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0)
			out->last_seq = cji_key_seq_get(&k);
		mdb_cursor_close(c);
	}
	MDB_envinfo info;
	mdb_env_info(j->env.env, &info);
	MDB_stat est;
	mdb_env_stat(j->env.env, &est);
	cji_env_read_end(&j->env, txn);
	if (rc)
		return cji_err_mdb(rc, "journal: cannot read statistics");
	out->map_size = info.me_mapsize;
	out->map_used = (uint64_t)(info.me_last_pgno + 1) * est.ms_psize;
	out->map_ceiling = j->env.map_ceiling;
	char path[4200];
	snprintf(path, sizeof path, "%s/data.mdb", j->env.dir);
	struct stat fst;
	if (stat(path, &fst) == 0)
		out->file_size = (uint64_t)fst.st_size;
	out->commits = atomic_load(&j->commits);
	out->committed = atomic_load(&j->committed);
	out->map_growths = atomic_load(&j->env.growths);
	return 0;
}
