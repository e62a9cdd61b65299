/* api/journal.c — the public journal and blob functions: each checks its
 * arguments and hands the store's journal to the journal layer
 * (journal/journal_internal.h), which never sees a cj_store. */
#include "api/store_internal.h"
#include "common/err.h"

#define NEED_STORE(s, what) \
	do { \
		if (!(s)) \
			return cji_err(CJ_EINVAL, "%s: no store", what); \
	} while (0)

int cj_journal_submit(cj_ticket **out, cj_store *s, const cj_event *const *evs, size_t n)
{
	*out = NULL;
	NEED_STORE(s, "append");
	return cji_journal_submit(out, &s->journal, evs, n);
}

int cj_journal_submit_notify(cj_ticket **out, cj_store *s, const cj_event *const *evs,
                             size_t n, void (*fn)(void *arg), void *arg)
{
	*out = NULL;
	NEED_STORE(s, "append");
	if (!fn)
		return cji_err(CJ_EINVAL, "append: no callback");
	return cji_journal_submit_notify(out, &s->journal, evs, n, fn, arg);
}

int cj_ticket_wait(uint64_t *seqs_out, cj_ticket *t)
{
	if (!t)
		return cji_err(CJ_EINVAL, "no ticket");
	return cji_ticket_wait(seqs_out, t);
}

int cj_ticket_done(const cj_ticket *t) { return t ? cji_ticket_done(t) : 1; }
void cj_ticket_free(cj_ticket *t) { if (t) cji_ticket_free(t); }

int cj_journal_append_batch(uint64_t *seqs_out, cj_store *s, const cj_event *const *evs, size_t n)
{
	NEED_STORE(s, "append");
	return cji_journal_append_batch(seqs_out, &s->journal, evs, n);
}

int cj_journal_append(uint64_t *seq_out, cj_store *s, const cj_event *ev)
{
	NEED_STORE(s, "append");
	uint64_t seq = 0;
	int rc = cji_journal_append_batch(&seq, &s->journal, &ev, 1);
	if (rc == 0 && seq_out)
		*seq_out = seq;
	return rc;
}

int cj_journal_last_seq(uint64_t *out, cj_store *s)
{
	*out = 0;
	NEED_STORE(s, "last_seq");
	return cji_journal_last_seq(out, &s->journal);
}

int cj_journal_find_id(uint64_t *seq_out, cj_store *s, const char *id)
{
	uint64_t seq = 0;
	if (seq_out)
		*seq_out = 0;
	NEED_STORE(s, "find id");
	if (!id || !*id)
		return cji_err(CJ_EINVAL, "find id: no id");
	int rc = cji_journal_id_seq(&seq, &s->journal, id);
	if (rc == 1 && seq_out)
		*seq_out = seq;
	return rc;
}

int cj_journal_iter_new(cj_journal_iter **out, cj_store *s, uint64_t from_seq)
{
	*out = NULL;
	NEED_STORE(s, "iterator");
	return cji_journal_iter_new(out, &s->journal, from_seq);
}

int cj_journal_iter_next(cj_record *rec, cj_journal_iter *it)
{
	if (!it || !rec)
		return cji_err(CJ_EINVAL, "iterator: NULL argument");
	return cji_journal_iter_next(rec, it);
}

void cj_journal_iter_free(cj_journal_iter *it) { cji_journal_iter_free(it); }

int cj_journal_iter_wait(cj_journal_iter *it, int timeout_ms)
{
	if (!it)
		return cji_err(CJ_EINVAL, "iterator: NULL argument");
	return cji_journal_iter_wait(it, timeout_ms);
}

int cj_journal_wait(uint64_t *last_out, cj_store *s, uint64_t after, int timeout_ms)
{
	*last_out = 0;
	NEED_STORE(s, "wait");
	return cji_journal_wait_after(last_out, &s->journal, after, timeout_ms);
}

int cj_journal_get(cj_event **ev_out, cj_record *rec_out, cj_store *s, uint64_t seq)
{
	*ev_out = NULL;
	NEED_STORE(s, "get");
	return cji_journal_get(ev_out, rec_out, &s->journal, seq);
}

int cj_journal_stats_get(cj_journal_stats *out, cj_store *s)
{
	NEED_STORE(s, "stats");
	return cji_journal_stats(out, &s->journal);
}

int cj_journal_check(uint64_t *checked, uint64_t *first_bad, cj_store *s)
{
	*checked = 0;
	*first_bad = 0;
	NEED_STORE(s, "check");
	return cji_journal_check(checked, first_bad, &s->journal);
}

int cj_journal_check_pages(uint64_t *pages, uint64_t *bad_page, cj_store *s)
{
	*pages = 0;
	*bad_page = 0;
	NEED_STORE(s, "check pages");
	return cji_journal_check_pages(pages, bad_page, &s->journal);
}

int cj_journal_check_ids(uint64_t *checked, uint64_t *bad, cj_store *s)
{
	*checked = 0;
	*bad = 0;
	NEED_STORE(s, "check ids");
	return cji_journal_check_ids(checked, bad, &s->journal);
}

int cj_blob_check(uint64_t *checked, char first_bad[CJ_BLOB_HASH_LEN + 1], cj_store *s)
{
	*checked = 0;
	first_bad[0] = '\0';
	NEED_STORE(s, "blob check");
	return cji_blob_check(checked, first_bad, &s->journal);
}

int cj_blob_put(char hash_out[CJ_BLOB_HASH_LEN + 1], cj_store *s, const void *data, size_t len)
{
	NEED_STORE(s, "blob put");
	return cji_blob_put(hash_out, &s->journal, data, len);
}

int cj_blob_get(void **data_out, size_t *len_out, cj_store *s, const char *hash)
{
	if (!data_out || !len_out)
		return cji_err(CJ_EINVAL, "blob get: NULL output");
	*data_out = NULL;
	*len_out = 0;
	NEED_STORE(s, "blob");
	return cji_blob_get(data_out, len_out, &s->journal, hash);
}

int cj_blob_exists(cj_store *s, const char *hash)
{
	NEED_STORE(s, "blob");
	return cji_blob_exists(&s->journal, hash);
}

const char *cj_blob_mime_type(const void *data, size_t len)
{
	return cji_blob_mime_type(data, len);
}
