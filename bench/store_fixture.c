/* bench/store_fixture.c — store setup and teardown around the chatjournal
 * measurements. Default options on purpose: the figures describe what a bot
 * gets without tuning. */
#include <stdio.h>
#include <string.h>
#include "chatjournal/query.h"
#include "store_fixture.h"
#include "workload.h"

int cjb_store_fresh(cj_store **out, const char *dir, int journal_only, cjb_result *res)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/store", dir);
	int rc = cj_store_init(path, NULL);
	if (rc != 0)
		return cjb_result_fail(res, "cj_store_init %s: %s", path, cj_error_last());
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.no_materializer = journal_only;
	rc = cj_store_open(out, path, &o);
	if (rc != 0)
		return cjb_result_fail(res, "cj_store_open %s: %s", path, cj_error_last());
	return 0;
}

void cjb_store_finish(cj_store *s, cjb_result *res)
{
	cj_journal_stats st;
	uint64_t last = 0, pos = 0;
	/* The materializer projects into SQLite while appends run, on the same
	 * CPUs: how far it got shows what the projection keeps up with. */
	if (s && cj_projection_position(&pos, s) == 0) {
		res->has_projection = 1;
		res->projected = pos;
	}
	/* A fresh store and no idempotency ids: every acknowledged event must be
	 * there, numbered 1..events without gaps. */
	if (s && !res->failed && cj_journal_last_seq(&last, s) == 0 && last != res->events)
		cjb_result_fail(res, "journal last_seq %llu but %llu appends acknowledged",
		                (unsigned long long)last, (unsigned long long)res->events);
	if (s && cj_journal_stats_get(&st, s) == 0) {
		res->has_journal = 1;
		res->commits = st.commits;
		res->map_growths = st.map_growths;
		res->events_per_commit = st.commits ? (double)st.committed / (double)st.commits : 0;
		res->journal_bytes_per_event = st.events ? (double)st.map_used / (double)st.events : 0;
	}
	cj_store_close(s);
}

int cjb_pools_new(cjb_pools *p, unsigned threads, size_t n, cjb_result *res)
{
	memset(p, 0, sizeof(*p));
	if (threads > sizeof(p->pool) / sizeof(p->pool[0]))
		return cjb_result_fail(res, "at most %zu threads", sizeof(p->pool) / sizeof(p->pool[0]));
	p->n = n;
	for (; p->threads < threads; p->threads++) {
		int rc = cjb_event_pool_new(&p->pool[p->threads], p->threads, n);
		if (rc != 0) {
			cjb_pools_free(p);
			return cjb_result_fail(res, "building events: %s", cj_error_last());
		}
	}
	return 0;
}

void cjb_pools_free(cjb_pools *p)
{
	for (unsigned i = 0; i < p->threads; i++)
		cjb_event_pool_free(p->pool[i], p->n);
	p->threads = 0;
}
