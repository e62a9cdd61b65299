/* api/http/metrics.c — Prometheus text exposition: requests by status,
 * appended events, batch sizes and append (durable commit) latency as
 * histograms, slow queries, journal position, materializer lag and health
 * of the caller's store; the server's own refusals (no store named). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label(FILE *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', b);
		if (*s == '\n')
			fputs("\\n", b);
		else
			fputc(*s, b);
	}
}

/* The caller's store only (its token decided it), and the server's own
 * counters, which name no store. */
char *cjh_metrics_text(cjh_server *sv, size_t store)
{
	char *text = NULL;
	size_t len = 0;
	FILE *b = open_memstream(&text, &len);
	if (!b)
		return NULL;
	cjh_store *st = &sv->stores[store];
	cjh_metrics *m = &st->m;
	const char *name = st->name;
	put(b, "# HELP chatjournal_http_requests_total HTTP requests of this store by status.\n"
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
	put(b, "# HELP chatjournal_http_slow_queries_total Queries at least http.slow_query_ms long.\n"
	        "# TYPE chatjournal_http_slow_queries_total counter\n");
	for (int i = 1; i < CJH_ROUTES; i++) {
		uint64_t v = atomic_load(&m->slow_queries[i]);
		if (v)
			put(b, "chatjournal_http_slow_queries_total{route=\"%s\"} %llu\n", cjh_routes[i].pattern,
			    (unsigned long long)v);
	}
	put(b, "# HELP chatjournal_feed_streams_open Change-feed streams (GET /v1/events/stream) open now.\n"
	        "# TYPE chatjournal_feed_streams_open gauge\nchatjournal_feed_streams_open{store=\"");
	label(b, name);
	put(b, "\"} %ld\n", atomic_load(&m->streams_open));
	put(b, "# HELP chatjournal_feed_events_sent_total Events the change feed sent, by route.\n"
	        "# TYPE chatjournal_feed_events_sent_total counter\n"
	        "chatjournal_feed_events_sent_total{route=\"stream\"} %llu\n"
	        "chatjournal_feed_events_sent_total{route=\"page\"} %llu\n",
	    (unsigned long long)atomic_load(&m->stream_events),
	    (unsigned long long)atomic_load(&m->page_events));
	put(b, "# HELP chatjournal_feed_slow_consumers_dropped_total Streams ended because their "
	        "consumer took nothing for http stream_stall_ms.\n"
	        "# TYPE chatjournal_feed_slow_consumers_dropped_total counter\n"
	        "chatjournal_feed_slow_consumers_dropped_total %llu\n",
	    (unsigned long long)atomic_load(&m->slow_consumers));
	cj_health h;
	if (cj_store_health(&h, st->s) != 0) {
		cj_error_clear();
		memset(&h, 0, sizeof h);
		snprintf(h.reason, sizeof h.reason, "the store's health cannot be read");
	}
	put(b, "# HELP chatjournal_journal_last_seq Last durable sequence number.\n"
	        "# TYPE chatjournal_journal_last_seq gauge\n");
	put(b, "chatjournal_journal_last_seq{store=\"");
	label(b, name);
	put(b, "\"} %llu\n", (unsigned long long)h.last_seq);
	put(b, "# HELP chatjournal_materializer_lag_events Journal events not yet in the projection.\n"
	        "# TYPE chatjournal_materializer_lag_events gauge\n");
	put(b, "chatjournal_materializer_lag_events{store=\"");
	label(b, name);
	put(b, "\"} %llu\n", (unsigned long long)h.lag);
	put(b, "# HELP chatjournal_store_healthy 1 if the store keeps its promises now; else see "
	        "chatjournal_store_degraded_info.\n# TYPE chatjournal_store_healthy gauge\n"
	        "chatjournal_store_healthy{store=\"");
	label(b, name);
	put(b, "\"} %d\n", h.ok);
	if (!h.ok) {
		put(b, "# HELP chatjournal_store_degraded_info Why the store is degraded.\n"
		        "# TYPE chatjournal_store_degraded_info gauge\n"
		        "chatjournal_store_degraded_info{store=\"");
		label(b, name);
		put(b, "\",reason=\"");
		label(b, h.reason);
		put(b, "\",detail=\"");
		label(b, h.detail);
		put(b, "\"} 1\n");
	}
	cjh_server_metrics *sm = &sv->sm;
	put(b, "# HELP chatjournal_http_connections_closed_total Connections the server closed, by reason.\n"
	        "# TYPE chatjournal_http_connections_closed_total counter\n"
	        "chatjournal_http_connections_closed_total{reason=\"head_timeout\"} %llu\n",
	    (unsigned long long)atomic_load(&sm->head_timeouts));
	put(b, "# HELP chatjournal_http_refused_total Requests or connections refused before a route ran, by reason.\n"
	        "# TYPE chatjournal_http_refused_total counter\n"
	        "chatjournal_http_refused_total{reason=\"per_ip_cap\"} %llu\n"
	        "chatjournal_http_refused_total{reason=\"body_cap\"} %llu\n"
	        "chatjournal_http_refused_total{reason=\"unauthenticated\"} %llu\n"
	        "chatjournal_http_refused_total{reason=\"parser\"} %llu\n",
	    (unsigned long long)atomic_load(&sm->per_ip_refused),
	    (unsigned long long)atomic_load(&sm->body_cap_refused),
	    (unsigned long long)atomic_load(&sm->unauthenticated),
	    (unsigned long long)atomic_load(&sm->parser_refused));
	put(b, "# HELP chatjournal_http_inflight_body_bytes Request body bytes held now.\n"
	        "# TYPE chatjournal_http_inflight_body_bytes gauge\n"
	        "chatjournal_http_inflight_body_bytes %llu\n"
	        "# HELP chatjournal_http_requests_in_progress Requests begun and not yet answered.\n"
	        "# TYPE chatjournal_http_requests_in_progress gauge\n"
	        "chatjournal_http_requests_in_progress %ld\n",
	    (unsigned long long)atomic_load(&sv->body_bytes), atomic_load(&sv->inflight));
	if (ferror(b)) {
		fclose(b);
		free(text);
		return NULL;
	}
	fclose(b);
	return text;
}
