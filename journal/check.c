/* journal/check.c — full journal verification: every record's framing,
 * checksum and body decode, and sequence numbers without gaps. */
#include <stdio.h>
#include "journal/journal_internal.h"
#include "common/err.h"

int cji_journal_check(uint64_t *checked, uint64_t *first_bad, cji_journal *j)
{
	*checked = 0;
	*first_bad = 0;
	cj_journal_iter *it;
	int rc = cji_journal_iter_new(&it, j, 1);
	if (rc)
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
