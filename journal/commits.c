/* journal/commits.c — reading the commits table (format 2: the last
 * sequence number of each group commit -> its commit time) and where a
 * point-in-time restore cuts. Event `ts` values are the clients' and may be
 * backdated, so a time cut uses these commit times, never `ts`
 * (docs/format.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "journal/journal_internal.h"
#include "journal/keys.h"
#include "common/err.h"
#include "common/timeutil.h"

int cji_commits_list(cji_commit **out, size_t *n, cji_journal *j)
{
	*out = NULL;
	*n = 0;
	if (!j->env.has_commits)
		return 0;
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(txn, j->env.commits, &c))) {
		cji_env_read_end(&j->env, txn);
		return cji_err_mdb(rc, "journal %s: cannot read the commits table", j->env.dir);
	}
	MDB_stat st;
	size_t cap = mdb_stat(txn, j->env.commits, &st) == 0 ? st.ms_entries : 0;
	cji_commit *v = cap ? malloc(cap * sizeof *v) : NULL;
	size_t k = 0;
	MDB_val key, val;
	int r = cap && !v ? ENOMEM : mdb_cursor_get(c, &key, &val, MDB_FIRST);
	for (; r == 0 && k < cap; r = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		if (cji_commit_get(&key, &val, &v[k].last_seq, &v[k].ms) != 0) {
			rc = cji_err(CJ_ECORRUPT, "journal %s: malformed entry in the commits table", j->env.dir);
			break;
		}
		k++;
	}
	mdb_cursor_close(c);
	cji_env_read_end(&j->env, txn);
	if (!rc && r == ENOMEM)
		rc = cji_err(CJ_ENOMEM, "out of memory reading the commits table");
	else if (!rc && r != 0 && r != MDB_NOTFOUND)
		rc = cji_err_mdb(r, "journal %s: cannot read the commits table", j->env.dir);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

int cji_commits_cut(uint64_t *cut_out, int64_t *commit_ms_out, cji_journal *j, int64_t until_ms)
{
	*cut_out = 0;
	*commit_ms_out = 0;
	cji_commit *v;
	size_t n;
	int rc = cji_commits_list(&v, &n, j);
	if (rc)
		return rc;
	char when[32];
	cji_time_format(until_ms, when);
	if (n == 0) {
		free(v);
		return cji_err(CJ_EINVAL, "journal %s records no commit times (it was written before "
		               "format 2, or no event was appended since its upgrade): --until %s "
		               "cannot be placed; cut by sequence number instead", j->env.dir, when);
	}
	if (v[0].ms > until_ms) {
		char first[32];
		cji_time_format(v[0].ms, first);
		rc = cji_err(CJ_EINVAL, "no group commit is recorded at or before %s: the first recorded "
		             "one is at %s (ending at sequence %llu); choose a later time, or cut by "
		             "sequence number", when, first, (unsigned long long)v[0].last_seq);
		free(v);
		return rc;
	}
	/* The longest prefix of commits stamped <= until_ms: if the clock ever
	 * stepped back, nothing stamped after until_ms survives, and nothing
	 * after it either. */
	size_t i = 0;
	while (i + 1 < n && v[i + 1].ms <= until_ms)
		i++;
	*cut_out = v[i].last_seq;
	*commit_ms_out = v[i].ms;
	free(v);
	return 0;
}
