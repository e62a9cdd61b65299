/* tests/fuzz/fuzz_feed.c — libFuzzer harness for the change feed's inputs
 * and output (api/http/feed_args.c, api/http/feed_json.c).
 *
 * An input starting with 'J' is an event's JSON text: when cj_event_parse
 * takes it, its canonical JSON with "seq" (and "redacted", by the second
 * byte's low bit) inserted must parse back to the canonical object plus
 * those keys, every top-level key in strictly increasing bytewise order;
 * its SSE frame is "id: SEQ\nevent: TYPE\ndata: " that text "\n\n" with no
 * other newline.
 *
 * Any other input is a request of the feed: the first byte picks the route
 * (odd: the stream, even: the page), the bytes up to the first '\n' are
 * the Last-Event-ID header, the rest is a query string split at '&' and
 * the first '=' (no '=': a parameter without a value), as libmicrohttpd
 * hands it over after decoding. A refusal is CJ_EINVAL (or CJ_ENOMEM) with
 * a message and leaves nothing to free; a success holds what the rules
 * allow (after <= INT64_MAX, limit 1..1000, only known types, at most 64
 * distinct non-empty UTF-8 threads, each of which the filter lets
 * through). Everything is freed (LeakSanitizer watches). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "api/http/feed_args.h"
#include "api/http/feed_json.h"
#include "checks.h"

static void check_json(const uint8_t *data, size_t size)
{
	cj_event *ev = NULL;
	if (size < 2 || cj_event_parse(&ev, (const char *)data + 2, size - 2) != 0) {
		cj_error_clear();
		return;
	}
	uint64_t seq = 1 + (size * 2654435761u) % CJH_FEED_MAX_SEQ;
	int redacted = data[1] & 1;
	char *canon;
	size_t clen;
	CHECK(cj_event_to_canonical_json(&canon, &clen, ev) == 0);
	cjh_buf b = { 0 };
	cjh_feed_inject(&b, canon, clen, seq, redacted);
	CHECK(!b.oom);
	json_error_t err;
	json_t *want = json_loadb(canon, clen, 0, &err);
	json_t *got = json_loadb(b.p, b.len, JSON_REJECT_DUPLICATES, &err);
	CHECK(json_is_object(want) && json_is_object(got));
	json_object_set_new(want, "seq", json_integer((json_int_t)seq));
	if (redacted)
		json_object_set_new(want, "redacted", json_true());
	CHECK(json_equal(want, got));
	const char *prev = NULL;
	for (void *it = json_object_iter(got); it; it = json_object_iter_next(got, it)) {
		const char *k = json_object_iter_key(it);
		CHECK(!prev || strcmp(prev, k) < 0);
		prev = k;
	}
	json_decref(want);
	json_decref(got);
	CHECK(memchr(b.p, '\n', b.len) == NULL);

	cj_record rec = { .seq = seq, .type = cj_event_get_type(ev),
	                  .flags = redacted ? CJ_RECORD_REDACTED : 0, .event = ev };
	cjh_buf f = { 0 };
	CHECK(cjh_sse_event(&f, &rec) == 0);
	char head[96];
	int hn = snprintf(head, sizeof head, "id: %llu\nevent: %s\ndata: ", (unsigned long long)seq,
	                  cj_event_type_name(rec.type));
	CHECK(f.len == (size_t)hn + b.len + 2);
	CHECK(!memcmp(f.p, head, (size_t)hn) && !memcmp(f.p + hn, b.p, b.len));
	CHECK(!memcmp(f.p + f.len - 2, "\n\n", 2));
	cjh_buf_free(&f);
	cjh_buf_free(&b);
	cj_free(canon);
	cj_event_free(ev);
}

static void check_args(const uint8_t *data, size_t size)
{
	enum cjh_feed_kind kind = data[0] & 1 ? CJH_FEED_STREAM : CJH_FEED_PAGE;
	char *text = malloc(size);
	CHECK(text);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	char *query = strchr(text, '\n');
	const char *lei = NULL;
	if (query) {
		*query++ = '\0';
		lei = text;
	} else {
		query = text;
	}
	cjh_kv kv[CJH_FEED_MAX_ARGS];
	size_t n = 0, total = 0;
	for (char *save = NULL, *seg = strtok_r(query, "&", &save); seg;
	     seg = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(seg, '=');
		if (eq)
			*eq++ = '\0';
		if (n < CJH_FEED_MAX_ARGS)
			kv[n++] = (cjh_kv){ seg, eq };
		total++;
	}
	cjh_feed_args a;
	memset(&a, 0x5a, sizeof a);
	cj_error_clear();
	int rc = cjh_feed_args_parse(&a, kind, kv, n, total, lei);
	if (rc) {
		CHECK(rc == CJ_EINVAL || rc == CJ_ENOMEM);
		CHECK(cj_error_last()[0] != '\0');
		CHECK(a.threads == NULL && a.nthreads == 0);
		CHECK(total > 0 || (lei && *lei));
		free(text);
		return;
	}
	CHECK(total <= CJH_FEED_MAX_ARGS);
	CHECK(a.after <= CJH_FEED_MAX_SEQ);
	CHECK(a.limit >= 1 && a.limit <= CJH_FEED_MAX_LIMIT);
	CHECK(a.nthreads <= CJH_FEED_MAX_THREADS);
	CHECK(a.from_last_event_id == (kind == CJH_FEED_STREAM && lei && *lei));
	for (unsigned t = 0; t < 64; t++)
		if (a.types & ((uint64_t)1 << t))
			CHECK(t != CJ_EVENT_UNKNOWN && strcmp(cj_event_type_name((cj_event_type)t), "unknown"));
	for (size_t i = 0; i < a.nthreads; i++) {
		size_t len = strlen(a.threads[i]);
		CHECK(len > 0 && cj_utf8_check(a.threads[i], len) == len);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(a.threads[i], a.threads[j]));
		cj_event_type t = CJ_EVENT_MESSAGE;
		if (a.types)
			while (!(a.types & ((uint64_t)1 << t)))
				t++;
		CHECK(cjh_feed_match(&a, t, a.threads[i]));
	}
	if (a.nthreads)
		CHECK(!cjh_feed_match(&a, CJ_EVENT_MESSAGE, NULL));
	cjh_feed_args_free(&a);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] == 'J')
		check_json(data, size);
	else
		check_args(data, size);
	return 0;
}
