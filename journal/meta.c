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

int cji_journal_meta_get(cji_journal_meta *out, cji_journal *j)
{
	memset(out, 0, sizeof *out);
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	static const char *const names[] = { CJI_META_FORMAT, CJI_META_CREATED, CJI_META_COMMITS_FROM };
	for (int i = 0; i < 3 && !rc; i++) {
		MDB_val k, v;
		cji_meta_name(&k, names[i]);
		int r = mdb_get(txn, j->env.meta, &k, &v);
		if (r == MDB_NOTFOUND)
			continue;  /* created_ms and commits_from may be missing: left 0 */
		if (r) {
			rc = cji_err_mdb(r, "journal %s: cannot read meta %s", j->env.dir, names[i]);
			break;
		}
		uint64_t u = 0;
		uint32_t u32 = 0;
		int bad = i == 0 ? cji_meta_u32_get(&v, &u32) : cji_meta_u64_get(&v, &u);
		if (bad)
			rc = cji_err(CJ_ECORRUPT, "journal %s: malformed meta %s", j->env.dir, names[i]);
		else if (i == 0)
			out->format_version = u32;
		else if (i == 1)
			out->created_ms = (int64_t)u;
		else
			out->commits_from = u;
	}
	cji_env_read_end(&j->env, txn);
	if (rc == 0 && !j->env.has_commits)
		out->commits_from = 0;
	return rc;
}
