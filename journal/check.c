/* journal/check.c — full journal verification: every record's framing,
 * checksum and body decode, sequence numbers without gaps, and the meta
 * table's entries (docs/format.md). */
#include <stdio.h>
#include <string.h>
#include "journal/journal_internal.h"
#include "journal/keys.h"
#include "journal/lmdb_layout.h"
#include "journal/pages.h"
#include "common/err.h"

#define META_MAX_STEPS 64  /* format 1 has two entries; bounds a damaged table */

/* The meta table holds the entries format 1 defines, each with a value of
 * its size: nothing else reads created_ms, so a damaged key or value there
 * would go unseen. */
static int check_meta(cji_journal *j)
{
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(txn, j->env.meta, &c))) {
		cji_env_read_end(&j->env, txn);
		return cji_err_mdb(rc, "journal: cannot open a cursor on the meta table");
	}
	/* Every entry the meta table may hold (journal/keys.h), its value's size,
	 * and whether every journal has it. */
	static const struct { const char *name; size_t size; int required; } ENTRIES[] = {
		{ CJI_META_FORMAT, 4, 1 },
		{ CJI_META_CREATED, 8, 1 },
		{ CJI_META_COMMITS_FROM, 8, 0 },
	};
	enum { NENTRIES = sizeof ENTRIES / sizeof ENTRIES[0] };
	MDB_val k, v;
	unsigned seen = 0;
	int steps = 0, bad = 0;
	char msg[300] = "";
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && steps < META_MAX_STEPS && !bad;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), steps++) {
		size_t e = 0;
		for (; e < NENTRIES; e++) {
			MDB_val name;
			cji_meta_name(&name, ENTRIES[e].name);
			if (k.mv_size == name.mv_size && !memcmp(k.mv_data, name.mv_data, name.mv_size))
				break;
		}
		if (e == NENTRIES) {
			bad = 1;
			snprintf(msg, sizeof msg, "journal: unknown meta entry '%.*s' (a damaged page?)",
			         (int)(k.mv_size < 64 ? k.mv_size : 64), (const char *)k.mv_data);
		} else if ((seen & (1u << e)) || v.mv_size != ENTRIES[e].size) {
			bad = 1;
		}
		seen |= 1u << e;
	}
	unsigned required = 0;
	for (size_t e = 0; e < NENTRIES; e++)
		required |= ENTRIES[e].required ? 1u << e : 0;
	mdb_cursor_close(c);
	cji_env_read_end(&j->env, txn);
	if (rc && rc != MDB_NOTFOUND)
		return cji_err_mdb(rc, "journal: cannot read the meta table");
	if (bad && !msg[0])
		snprintf(msg, sizeof msg, "journal: a meta entry's value has the wrong size");
	if (!bad && ((seen & required) != required || steps >= META_MAX_STEPS))
		snprintf(msg, sizeof msg, "journal: the meta table does not hold format_version and "
		         "created_ms, once each");
	return msg[0] ? cji_err(CJ_ECORRUPT, "%s", msg) : 0;
}

int cji_journal_check(uint64_t *checked, uint64_t *first_bad, cji_journal *j)
{
	*checked = 0;
	*first_bad = 0;
	uint64_t commits = 0;
	int rc = check_meta(j);
	if (rc || (rc = cji_journal_check_commits(&commits, j)))
		return rc;
	cj_journal_iter *it;
	if ((rc = cji_journal_iter_new(&it, j, 1)))
		return rc;
	uint64_t expect = 0, bad = 0;
	int first_rc = 0;
	char first_msg[512] = "";
	cj_record rec;
	for (;;) {
		rc = cji_journal_iter_next(&rec, it);
		if (rc == 0)
			break;
		if (rc == 1) {
			(*checked)++;
			if (expect && rec.seq != expect && !bad) {
				bad = expect;
				first_rc = CJ_ECORRUPT;
				snprintf(first_msg, sizeof first_msg, "journal: gap: sequence %llu follows %llu",
				         (unsigned long long)rec.seq, (unsigned long long)(expect - 1));
			}
			expect = rec.seq + 1;
			continue;
		}
		if (rc != CJ_ECORRUPT && rc != CJ_EVERSION) {
			cji_journal_iter_free(it);
			return rc;
		}
		(*checked)++;
		uint64_t seq = rec.seq;
		if (!bad) {
			bad = seq;
			first_rc = rc;
			snprintf(first_msg, sizeof first_msg, "%s", cj_error_last());
		}
		expect = seq + 1;
	}
	cji_journal_iter_free(it);
	*first_bad = bad;
	if (bad)
		return cji_err(first_rc, "%s", first_msg);
	return 0;
}

/* Every page of the file walked with bounds of our own (pages.c), under a
 * read transaction that pins the snapshot. */
int cji_journal_check_pages(uint64_t *pages, uint64_t *bad_page, cji_journal *j)
{
	*pages = 0;
	*bad_page = 0;
	if (!cji_lmdb_layout_known())
		return cji_err(CJ_EINVAL, "journal %s: this build cannot read LMDB's page layout",
		               j->env.dir);
	char path[4200];
	if (snprintf(path, sizeof path, "%s/data.mdb", j->env.dir) >= (int)sizeof path)
		return cji_err(CJ_ETOOBIG, "path too long: %s", j->env.dir);
	MDB_txn *txn;
	int rc = cji_env_read_begin(&j->env, &txn);
	if (rc)
		return rc;
	rc = cji_pages_walk(pages, bad_page, path, (uint64_t)mdb_txn_id(txn), CJI_PAGES_ALL);
	cji_env_read_end(&j->env, txn);
	return rc;
}
