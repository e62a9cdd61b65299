/* api/http/feed.h — a change-feed stream and its store's hub, shared by
 * feed_stream.c (the stream: start, the reader callback, the worker's
 * fill) and feed_hub.c (the notifier thread, parking, the sweeper's part).
 *
 * A stream is always in one of three states:
 *   FILL    suspended; a worker is (or is queued to be) reading the journal
 *           into `out` (feed_stream.c, fill_step)
 *   SEND    live on its event loop; the reader callback hands `out` to
 *           libmicrohttpd; once it is drained the reader suspends the
 *           connection and queues a fill
 *   PARKED  suspended, caught up, in its hub's parked list; the notifier
 *           (a commit), the sweeper (a keep-alive due, the stop) moves it
 *           back to FILL by taking it off the list under the hub's lock:
 *           whoever takes it off queues the one fill
 * The fields a fill and the reader share (out, off, pos, last_id, ending)
 * are handed over through the suspension: the worker writes them before
 * MHD_resume_connection, the loop before it queues the fill. The sweeper
 * reads only the atomics. */
#ifndef CJ_HTTP_FEED_H
#define CJ_HTTP_FEED_H

#include "service.h"
#include "feed_json.h"

enum { CJH_ST_FILL = 0, CJH_ST_SEND = 1, CJH_ST_PARKED = 2 };

struct cjh_stream {
	cjh_request *r;
	cjh_hub *hub;
	cjh_feed_args args;
	uint64_t pos;             /* every record up to here was read (sent or filtered out) */
	uint64_t last_id;         /* the id of the last frame written (the consumer's position) */
	cjh_buf out;              /* frames not yet handed to libmicrohttpd */
	size_t off;               /* bytes of out handed already */
	int ending;               /* out ends with the last frame: the stream ends after it */
	int counted;              /* the reader's suspension is counted in sv->suspended */
	atomic_int state;
	atomic_int slow;          /* set by the sweeper: end with a resume frame */
	_Atomic uint64_t progress_ns;  /* the reader last handed bytes (or a fill handed out) */
	_Atomic uint64_t frame_ns;     /* the last frame was written (keep-alives count from it) */
	/* hub->mu */
	int killed;
	int in_parked;
	cjh_stream *pnext, *pprev;
	cjh_stream *anext, *aprev;
};

/* The frames of recent events, shared by the store's streams: N streams
 * following live write each event's frame once, not N times (its
 * canonical JSON costs more than reading it). A slot is found by seq and
 * is valid only for the same record header (flags, body length: a
 * compaction that redacts a record changes them). Frames over
 * CJH_FRAME_CACHE_MAX bytes are not kept. */
#define CJH_FRAME_CACHE 4096u           /* slots, a power of two */
#define CJH_FRAME_CACHE_MAX (4u << 10)
typedef struct cjh_frame {
	uint64_t seq;                   /* 0: empty */
	uint32_t flags, body_len;
	char *p;
	size_t len;
} cjh_frame;

struct cjh_hub {
	cjh_server *sv;
	cjh_store *st;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	cjh_stream *parked;       /* caught up, waiting */
	cjh_stream *all;          /* every open stream of the store */
	uint64_t last;            /* the journal's last sequence number, as last seen */
	int stop;
	int started;
	pthread_t th;
	pthread_mutex_t cache_mu;
	cjh_frame cache[CJH_FRAME_CACHE];
};

/* feed_stream.c: the worker step that fills a stream. */
void cjh_stream_fill_step(cjh_request *r);

/* feed_hub.c */
/* rec's SSE frame appended to out, from the cache or written (and kept). 0
 * or the error of cjh_sse_event. */
int cjh_hub_frame(cjh_hub *h, cjh_buf *out, const cj_record *rec);
void cjh_hub_add(cjh_hub *h, cjh_stream *st);
void cjh_hub_remove(cjh_hub *h, cjh_stream *st);
/* A stream with nothing to send: 1 parked (the caller must not touch it
 * any more), 0 the journal moved past st->pos meanwhile (fill again). */
int cjh_hub_park(cjh_hub *h, cjh_stream *st);

#endif
