/* journal/check_commits.c — verify's check of the commits table (format 2:
 * the last sequence number of each group commit -> its commit time, read by
 * a point-in-time restore). LMDB keeps no checksums, and these entries carry
 * none of their own, so what can be checked is that they are possible: each
 * names a sequence number the journal holds, in increasing order (a journal
 * upgraded from format 2 or 3 may hold entries before its commits_from), and a time between the journal's creation and now (a
 * day of slack each way for clock steps), never more than a day earlier than
 * the entry before it. A flipped byte in a value or key breaks one of these
 * unless it only touches the low bits of a time. */
#include <stdlib.h>
#include <time.h>
#include "journal/journal_internal.h"
#include "common/err.h"

#define DAY_MS ((int64_t)24 * 3600 * 1000)

int cji_journal_check_commits(uint64_t *checked, cji_journal *j)
{
	*checked = 0;
	cji_commit *v = NULL;
	size_t n = 0;
	cji_journal_meta meta;
	uint64_t last = 0;
	int rc = cji_journal_meta_get(&meta, j);
	/* Listed before the last sequence number is read: a commit made
	 * meanwhile only raises the bound. */
	if (rc || (rc = cji_commits_list(&v, &n, j)) || (rc = cji_journal_last_seq(&last, j))) {
		free(v);
		return rc;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	int64_t lo = meta.created_ms > 0 ? meta.created_ms - DAY_MS : 0;
	if (meta.commits_from > last + 1)
		rc = cji_err(CJ_ECORRUPT, "journal %s: commits_from %llu is past the last sequence "
		             "number %llu (a damaged meta page?)", j->env.dir,
		             (unsigned long long)meta.commits_from, (unsigned long long)last);
	for (size_t i = 0; i < n && !rc; i++) {
		uint64_t s = v[i].last_seq;
		int64_t ms = v[i].ms;
		const char *why = NULL;
		if (s == 0 || s > last)
			why = "names a sequence number the journal does not hold";
		else if (i > 0 && s <= v[i - 1].last_seq)
			why = "is out of order";
		else if (ms < lo || ms > now + DAY_MS)
			why = "has a time outside the journal's life";
		else if (i > 0 && ms < v[i - 1].ms - DAY_MS)
			why = "has a time more than a day before the commit before it";
		if (why)
			rc = cji_err(CJ_ECORRUPT, "journal %s: the commits table's entry %zu (sequence %llu, "
			             "time %lld) %s (a damaged page?)", j->env.dir, i + 1,
			             (unsigned long long)s, (long long)ms, why);
		else
			(*checked)++;
	}
	free(v);
	return rc;
}
