/* api/http/feed_stream.c — GET /v1/events/stream: the journal as
 * Server-Sent Events, catch-up then live, with no thread per stream.
 *
 * The response's content comes from a reader callback on the event loop.
 * It only copies frames a worker prepared (`out`); when they are all
 * handed over it suspends the connection and queues a fill. The fill
 * (a worker) reads the journal past the stream's position, writes the
 * frames of the events the filters let through, and resumes the
 * connection; when there is nothing to send it parks the stream in its
 * store's hub (feed_hub.c), which queues the next fill on a commit, when a
 * keep-alive is due, or at the stop. The journal is the stream's buffer:
 * a stream holds at most one fill's frames (FILL_BYTES, or one event if
 * larger) and a socket send buffer of STREAM_SNDBUF, so a consumer that
 * reads slowly costs memory that does not grow,
 * and never holds up an append or another stream. One that takes nothing
 * for http.stream_stall_ms is ended with a resume frame; so is every
 * stream at the stop. docs/http.md, "Change feed", has the frames. */
#include <stdlib.h>
#include <string.h>
#include "feed.h"

/* A fill stops once it has written this much, or read this many records
 * (the filters may let few through: the worker is handed back meanwhile). */
#define FILL_BYTES ((size_t)64 << 10)
#define FILL_RECORDS 10000
/* A stream's socket send buffer: without a bound the kernel grows it to
 * net.ipv4.tcp_wmem's maximum (4 MiB by default) for a consumer that reads
 * slowly, per stream. */
#define STREAM_SNDBUF (64 << 10)
/* An idle stream's out buffer larger than this is freed when it parks. */
#define KEEP_BYTES ((size_t)4 << 10)

static cj_store *store_of(const cjh_request *r) { return r->sv->stores[r->auth.store].s; }

/* The keep-alive: a ping, or a position frame when the filters skipped
 * events past the last id the consumer got (so that it resumes past them). */
static void keep_alive(cjh_stream *st)
{
	if (st->pos > st->last_id) {
		cjh_sse_position(&st->out, st->pos);
		st->last_id = st->pos;
	} else {
		cjh_sse_ping(&st->out);
	}
}

static void end_with(cjh_stream *st, const char *reason)
{
	cjh_sse_resume(&st->out, st->pos, reason);
	st->last_id = st->pos;
	st->ending = 1;
}

/* Read records past st->pos into out. 1: there may be more to read now,
 * 0: caught up (or ending). */
static int fill(cjh_stream *st)
{
	cjh_request *r = st->r;
	cjh_metrics *m = &r->sv->stores[r->auth.store].m;
	/* out was handed over in full: the consumer has everything up to here */
	uint64_t pos0 = st->pos, id0 = st->last_id;
	st->out.len = 0;
	st->off = 0;
	if (atomic_load(&r->sv->stopping)) {
		end_with(st, "server_stopping");
		return 0;
	}
	cj_journal_iter *it;
	int rc = cj_journal_iter_new(&it, store_of(r), st->pos + 1);
	unsigned read = 0, sent = 0;
	uint64_t bad = st->pos + 1;
	cj_record rec;
	while (!rc && st->out.len < FILL_BYTES && read < FILL_RECORDS) {
		int n = cj_journal_iter_next(&rec, it);
		if (n == 0)
			break;
		bad = rec.seq; /* CJ_ECORRUPT names the record here too */
		if (n < 0) {
			rc = n;
			break;
		}
		read++;
		if (cjh_feed_match(&st->args, rec.type, cj_event_get_string(rec.event, "thread"))) {
			if ((rc = cjh_hub_frame(st->hub, &st->out, &rec)))
				break;
			st->last_id = rec.seq;
			sent++;
		}
		st->pos = rec.seq;
	}
	cj_journal_iter_free(it);
	if (st->out.oom) {
		/* Out of memory: the frames are incomplete; end with what the
		 * consumer has. */
		cjh_buf_free(&st->out);
		st->pos = pos0;
		st->last_id = id0;
		end_with(st, "server_busy");
		return 0;
	}
	r->events += sent;
	atomic_fetch_add(&m->stream_events, sent);
	if (rc) {
		/* A record that cannot be read: the stream can neither pass it nor
		 * skip it. */
		cjh_sse_error(&st->out, cj_error_last(), bad);
		cj_error_clear();
		st->ending = 1;
		return 0;
	}
	uint64_t now = cjh_now_ns();
	if (!st->out.len && now >= atomic_load(&st->frame_ns) + (uint64_t)r->sv->set.ping_ms * 1000000u)
		keep_alive(st);
	if (st->out.len)
		atomic_store(&st->frame_ns, now);
	return read == FILL_RECORDS || st->out.len >= FILL_BYTES;
}

void cjh_stream_fill_step(cjh_request *r)
{
	cjh_stream *st = r->stream;
	for (;;) {
		int more = fill(st);
		if (st->out.len)
			break;
		if (more) {
			/* Nothing passed the filters in a whole fill: the worker goes
			 * back to the queue, the stream behind whoever waits there. */
			cjh_pool_push(r->sv->pool, r);
			return;
		}
		if (st->out.cap > KEEP_BYTES)
			cjh_buf_free(&st->out);
		if (cjh_hub_park(st->hub, st))
			return; /* st belongs to the hub now */
	}
	atomic_store(&st->progress_ns, cjh_now_ns());
	atomic_store(&st->state, CJH_ST_SEND);
	MHD_resume_connection(r->c); /* st and r are the loop's from here */
}

/* The reader callback, on the event loop. */
static ssize_t stream_read(void *cls, uint64_t at, char *buf, size_t max)
{
	(void)at;
	cjh_stream *st = cls;
	cjh_request *r = st->r;
	cjh_server *sv = r->sv;
	if (st->counted) {
		st->counted = 0;
		atomic_fetch_sub(&sv->suspended, 1);
	}
	if (st->off == st->out.len && !st->ending) {
		int slow = atomic_load(&st->slow);
		if (slow || atomic_load(&sv->stopping)) {
			st->out.len = st->off = 0;
			end_with(st, slow ? "slow_consumer" : "server_stopping");
		}
	}
	if (st->off < st->out.len) {
		size_t n = st->out.len - st->off;
		if (n > max)
			n = max;
		memcpy(buf, st->out.p + st->off, n);
		st->off += n;
		atomic_store(&st->progress_ns, cjh_now_ns());
		return (ssize_t)n;
	}
	if (st->ending || st->out.oom)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* Everything handed over: a worker fills the next frames. Suspended
	 * before the fill is queued, so that it cannot resume first. */
	atomic_store(&st->state, CJH_ST_FILL);
	st->counted = 1;
	atomic_fetch_add(&sv->suspended, 1);
	MHD_suspend_connection(r->c);
	cjh_pool_push(sv->pool, r);
	return 0;
}

void cjh_feed_stream_start(cjh_request *r)
{
	cjh_server *sv = r->sv;
	cjh_kv kv[CJH_FEED_MAX_ARGS];
	size_t total = cjh_args_collect(r, kv, CJH_FEED_MAX_ARGS);
	const char *lei = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, "Last-Event-ID");
	cjh_feed_args a;
	int rc = cjh_feed_args_parse(&a, CJH_FEED_STREAM, kv, total < CJH_FEED_MAX_ARGS ? total :
	                             CJH_FEED_MAX_ARGS, total, lei);
	uint64_t last = 0;
	if (!rc && (rc = cj_journal_last_seq(&last, store_of(r))) != 0)
		cjh_feed_args_free(&a);
	if (rc) {
		cjh_set_cj(r, rc);
		cjh_finish(r);
		return;
	}
	if (a.after > last) {
		/* The consumer is ahead of this journal: another store's position,
		 * or a store restored to an earlier point. Waiting would hide it. */
		cjh_set_beyond_end(r, a.from_last_event_id ? "Last-Event-ID" : "after", a.after, last);
		cjh_feed_args_free(&a);
		cjh_finish(r);
		return;
	}
	cjh_stream *st = calloc(1, sizeof *st);
	if (!st) {
		cjh_feed_args_free(&a);
		cjh_set_error(r, 503, "out of memory for a stream; retry", NULL);
		cjh_finish(r);
		return;
	}
	st->r = r;
	st->hub = sv->stores[r->auth.store].hub;
	st->args = a;
	st->pos = st->last_id = a.after;
	uint64_t now = cjh_now_ns();
	atomic_store(&st->progress_ns, now);
	atomic_store(&st->frame_ns, now);
	atomic_store(&st->state, CJH_ST_SEND);
	cjh_set_reply(r, 200, "text/event-stream", NULL, 0);
	r->stream = st;
	r->step = cjh_stream_fill_step; /* from now on, every trip to a worker is a fill */
	cjh_finish(r);
}

enum MHD_Result cjh_feed_stream_queue(cjh_request *r)
{
	cjh_stream *st = r->stream;
	cjh_server *sv = r->sv;
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
	                                                             stream_read, st, NULL);
	if (!resp) {
		r->stream = NULL;
		cjh_feed_args_free(&st->args);
		free(st);
		cjh_set_error(r, 503, "out of memory for a stream; retry", NULL);
		return cjh_queue(r);
	}
	MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* proxies: do not buffer it */
	MHD_add_response_header(resp, "X-Request-Id", r->request_id);
	/* The connection ends with the stream (a resume frame, the stop). */
	MHD_add_response_header(resp, "Connection", "close");
	cjh_conn_sndbuf(r->conn, STREAM_SNDBUF);
	cjh_hub_add(st->hub, st);
	atomic_fetch_add(&sv->stores[r->auth.store].m.streams_open, 1);
	enum MHD_Result res = MHD_queue_response(r->c, 200, resp);
	MHD_destroy_response(resp);
	r->status = 200;
	r->phase = CJH_DONE;
	return res;
}

void cjh_feed_stream_end(cjh_request *r)
{
	cjh_stream *st = r->stream;
	if (!st)
		return;
	r->stream = NULL;
	cjh_hub_remove(st->hub, st);
	atomic_fetch_sub(&r->sv->stores[r->auth.store].m.streams_open, 1);
	if (st->counted)
		atomic_fetch_sub(&r->sv->suspended, 1);
	cjh_feed_args_free(&st->args);
	cjh_buf_free(&st->out);
	free(st);
}
