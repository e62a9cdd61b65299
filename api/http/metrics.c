/* api/http/metrics.c — Prometheus text exposition: requests by status,
 * appended events, batch sizes and append (durable commit) latency as
 * histograms, journal and projection positions and materializer lag. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "service.h"

static const uint64_t LAT_US[CJH_LAT_BUCKETS] = { 250, 500, 1000, 2000, 5000, 10000, 25000,
                                                 50000, 100000, 1000000 };
static const uint64_t BATCH[CJH_BATCH_BUCKETS] = { 1, 10, 100, 1000, 10000 };

void cjh_metrics_append(cjh_metrics *m, size_t events, uint64_t us)
{
	atomic_fetch_add(&m->append_requests, 1);
	atomic_fetch_add(&m->appended_events, events);
	atomic_fetch_add(&m->lat_sum_us, us);
	int i = 0;
	while (i < CJH_LAT_BUCKETS && us > LAT_US[i])
		i++;
	atomic_fetch_add(&m->lat_le[i], 1);
	i = 0;
	while (i < CJH_BATCH_BUCKETS && events > BATCH[i])
		i++;
	atomic_fetch_add(&m->batch_le[i], 1);
}

#define put fprintf

static void histogram(FILE *b, const char *name, const char *help, _Atomic uint64_t *le,
                      const uint64_t *bounds, int nb, double scale, double sum)
{
	put(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	uint64_t cum = 0;
	for (int i = 0; i < nb; i++) {
		cum += atomic_load(&le[i]);
		put(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds[i] * scale, (unsigned long long)cum);
	}
	cum += atomic_load(&le[nb]);
	put(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %g\n%s_count %llu\n", name, (unsigned long long)cum,
	    name, sum, name, (unsigned long long)cum);
}

char *cjh_metrics_text(cjh_server *sv)
{
	char *text = NULL;
	size_t len = 0;
	FILE *b = open_memstream(&text, &len);
	if (!b)
		return NULL;
	cjh_metrics *m = &sv->m;
	put(b, "# HELP chatjournal_http_requests_total HTTP requests by status.\n"
	        "# TYPE chatjournal_http_requests_total counter\n");
	for (int s = 100; s < CJH_STATUS_MAX; s++) {
		uint64_t v = atomic_load(&m->status[s]);
		if (v)
			put(b, "chatjournal_http_requests_total{status=\"%d\"} %llu\n", s, (unsigned long long)v);
	}
	put(b, "# HELP chatjournal_appended_events_total Events acknowledged (durable).\n"
	        "# TYPE chatjournal_appended_events_total counter\n"
	        "chatjournal_appended_events_total %llu\n",
	    (unsigned long long)atomic_load(&m->appended_events));
	histogram(b, "chatjournal_append_batch_events", "Events per POST /v1/events.", m->batch_le,
	          BATCH, CJH_BATCH_BUCKETS, 1.0, (double)atomic_load(&m->appended_events));
	histogram(b, "chatjournal_append_seconds", "Time from submit to durable acknowledgement.",
	          m->lat_le, LAT_US, CJH_LAT_BUCKETS, 1e-6, (double)atomic_load(&m->lat_sum_us) / 1e6);
	put(b, "# HELP chatjournal_journal_last_seq Last durable sequence number.\n"
	        "# TYPE chatjournal_journal_last_seq gauge\n");
	for (size_t i = 0; i < sv->nstores; i++) {
		uint64_t last = 0;
		cj_journal_last_seq(&last, sv->stores[i].s);
		put(b, "chatjournal_journal_last_seq{store=\"%s\"} %llu\n", sv->stores[i].name,
		    (unsigned long long)last);
	}
	put(b, "# HELP chatjournal_materializer_lag_events Journal events not yet in the projection.\n"
	        "# TYPE chatjournal_materializer_lag_events gauge\n");
	for (size_t i = 0; i < sv->nstores; i++) {
		uint64_t last = 0, pos = 0;
		cj_journal_last_seq(&last, sv->stores[i].s);
		cj_projection_position(&pos, sv->stores[i].s);
		put(b, "chatjournal_materializer_lag_events{store=\"%s\"} %llu\n", sv->stores[i].name,
		    (unsigned long long)(last > pos ? last - pos : 0));
	}
	if (ferror(b)) {
		fclose(b);
		free(text);
		return NULL;
	}
	fclose(b);
	return text;
}
