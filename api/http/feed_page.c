/* api/http/feed_page.c — GET /v1/events: the journal in order, a page at a
 * time, on a worker. The page reads the journal's last sequence number
 * first and never goes past it, so that a consumer pages until next_after
 * reaches last_seq. A page ends after `limit` events, PAGE_BYTES of JSON
 * (at least one event) or, with filters, PAGE_RECORDS records read;
 * next_after says where the next page starts (past events the filters
 * skipped). docs/http.md, "Change feed". */
#include <stdlib.h>
#include "service.h"
#include "feed_json.h"

#define PAGE_BYTES ((size_t)8 << 20)
#define PAGE_RECORDS 100000u

/* The page into b; 0 or an error code (the journal's, or CJ_ENOMEM). */
static int page(cjh_buf *b, cjh_request *r, const cjh_feed_args *a, uint64_t last, unsigned *count)
{
	cj_store *s = r->sv->stores[r->auth.store].s;
	uint64_t next = a->after;
	unsigned read = 0;
	*count = 0;
	cjh_buf_str(b, "{\"events\":[");
	cj_journal_iter *it = NULL;
	int rc = next < last ? cj_journal_iter_new(&it, s, next + 1) : 0;
	while (!rc && it && *count < a->limit && read < PAGE_RECORDS && b->len < PAGE_BYTES) {
		cj_record rec;
		int n = cj_journal_iter_next(&rec, it);
		if (n <= 0 || rec.seq > last) {
			rc = n < 0 ? n : 0;
			break;
		}
		read++;
		if (cjh_feed_match(a, rec.type, cj_event_get_string(rec.event, "thread"))) {
			if (*count)
				cjh_buf_add(b, ",", 1);
			if ((rc = cjh_feed_event_json(b, &rec)))
				break;
			++*count;
		}
		next = rec.seq;
	}
	cj_journal_iter_free(it);
	if (rc)
		return rc;
	cjh_buf_str(b, "],\"next_after\":");
	cjh_buf_u64(b, next);
	cjh_buf_str(b, ",\"last_seq\":");
	cjh_buf_u64(b, last);
	cjh_buf_add(b, "}", 1);
	return b->oom ? cj_error_set(CJ_ENOMEM, NULL, "out of memory") : 0;
}

void cjh_feed_page(cjh_request *r)
{
	cjh_kv kv[CJH_FEED_MAX_ARGS];
	size_t total = cjh_args_collect(r, kv, CJH_FEED_MAX_ARGS);
	cjh_feed_args a;
	int rc = cjh_feed_args_parse(&a, CJH_FEED_PAGE, kv, total < CJH_FEED_MAX_ARGS ? total :
	                             CJH_FEED_MAX_ARGS, total, NULL);
	if (rc) {
		cjh_set_cj(r, rc);
		cjh_finish(r);
		return;
	}
	uint64_t last = 0;
	cjh_buf b = { 0 };
	unsigned count = 0;
	if ((rc = cj_journal_last_seq(&last, r->sv->stores[r->auth.store].s)) != 0)
		cjh_set_cj(r, rc);
	else if (a.after > last)
		cjh_set_beyond_end(r, "after", a.after, last);
	else if ((rc = page(&b, r, &a, last, &count)) != 0)
		cjh_set_cj(r, rc); /* CJ_ECORRUPT: 500, naming the record */
	else {
		cjh_set_reply(r, 200, "application/json", b.p, b.len);
		b.p = NULL;
		r->events = count;
		atomic_fetch_add(&r->sv->stores[r->auth.store].m.page_events, count);
	}
	cjh_buf_free(&b);
	cjh_feed_args_free(&a);
	cjh_finish(r);
}
