/* tests/sink/workload.c — the sink tests' workload: appends events of every
 * type to a store through the public API, deletions of every kind
 * included, with names (threads T0-T7, users U0-U5, servers S0/S1) that
 * overlap between stores, and blobs (so images have sizes and mime types).
 * Event schema 0.3 too: messages with attachments (stored and by url),
 * tool calls, names, replies, the developer role; edit_message,
 * delete_message and reaction aimed at earlier messages (kept in a table
 * of ids and threads); thread; user profiles and config_patch of users and
 * threads; redact_edits.
 *
 *   sink_workload STORE SEED COUNT [RATE]
 *
 * SEED makes the events (a store per seed differs); RATE (events/s, 0 or
 * absent: as fast as appends go) paces them for the crash test. At the end
 * it waits until the store's SQLite projection has applied every event
 * (COUNT 0: every event in the journal), then prints "last N". Exit 0, or 1 with the library's message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "chatjournal/chatjournal.h"

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }

/* Messages appended with an id, for the events that target one. */
#define MAX_IDS 4096
static struct { char id[32]; char thread[8]; } ids[MAX_IDS];
static unsigned nids;

static void remember(const char *id, const char *thread)
{
	unsigned at = nids < MAX_IDS ? nids++ : pick(MAX_IDS);
	snprintf(ids[at].id, sizeof ids[at].id, "%s", id);
	snprintf(ids[at].thread, sizeof ids[at].thread, "%s", thread);
}

static int die(const char *what, int rc)
{
	fprintf(stderr, "sink_workload: %s: %s (%s)\n", what, cj_error_last(), cj_strerror(rc));
	exit(1);
}

static char blobs[6][CJ_BLOB_HASH_LEN + 1];

static void put_blobs(cj_store *s, unsigned seed)
{
	static const unsigned char png[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	for (int i = 0; i < 6; i++) {
		unsigned char data[300];
		memcpy(data, png, sizeof png);
		for (size_t j = sizeof png; j < sizeof data; j++)
			data[j] = (unsigned char)(seed * 31 + (unsigned)i * 7 + j);
		size_t len = i % 2 ? sizeof data : 100 + (size_t)i;
		if (i == 5)
			memcpy(data, "GIF89a", 6);
		int rc = cj_blob_put(blobs[i], s, data, len);
		if (rc)
			die("blob put", rc);
	}
}

/* The 0.3 events that need no target (r 120..124, or any r >= 100 while
 * no message has an id yet): thread, a user's profile or config_patch,
 * a thread's config_patch, redact_edits. */
static void chat_event(char *out, size_t n, unsigned r, long long ts, const char *th,
                      const char *us, unsigned i)
{
	switch (r % 5) {
	case 0:
		snprintf(out, n, "{\"type\":\"thread\",\"thread\":\"%s\"%s%s%s,\"ts\":%lld}", th,
		         pick(3) ? ",\"title\":\"Trip # *plans*\\nday 2\"" : (pick(2) ? ",\"title\":\"\"" : ""),
		         pick(2) ? ",\"topic\":\"t\"" : "", pick(2) ? ",\"metadata\":{\"b\":[1],\"a\":null}" : "",
		         ts);
		return;
	case 1:
		snprintf(out, n, "{\"type\":\"user\",\"user\":\"%s\",\"display_name\":\"Name %u\","
		         "\"is_bot\":%s%s,\"ts\":%lld}", us, i, pick(2) ? "true" : "false",
		         pick(2) ? ",\"avatar_url\":\"https://x/a.png\",\"metadata\":{\"z\":1,\"a\":2}" : "", ts);
		return;
	case 2:
		snprintf(out, n, "{\"type\":\"user\",\"user\":\"%s\",\"config_patch\":{\"model\":%s,"
		         "\"n\":{\"a\":%u,\"c\":[%u]}},\"ts\":%lld}", us, pick(2) ? "null" : "\"m2\"",
		         pick(9), pick(9), ts);
		return;
	case 3:
		snprintf(out, n, "{\"type\":\"thread_config\",\"thread\":\"%s\",\"config_patch\":"
		         "{\"k%u\":%s,\"deep\":{\"x\":%u}}%s,\"ts\":%lld}", th, pick(3),
		         pick(2) ? "null" : "7", pick(9), pick(2) ? ",\"channel\":\"c9\"" : "", ts);
		return;
	default:
		snprintf(out, n, "{\"type\":\"redact_edits\",\"through_seq\":%u,\"ts\":%lld}",
		         i / 2 + pick(i / 2 + 1), ts);
		return;
	}
}

/* One event as JSON text for index i at time ts. */
static void make_event(char *out, size_t n, unsigned i, long long ts, unsigned seed)
{
	char th[8], us[8], sv[8];
	snprintf(th, sizeof th, "T%u", pick(8));
	snprintf(us, sizeof us, "U%u", pick(6));
	snprintf(sv, sizeof sv, "S%u", pick(2));
	unsigned r = pick(125);
	if (r >= 95 && r < 100)
		r = pick(48); /* more messages */
	if (r >= 100 && (nids == 0 || r >= 120)) {
		chat_event(out, n, r, ts, th, us, i);
		return;
	}
	if (r >= 100) {
		/* aimed at a message with an id (in its thread, maybe deleted since) */
		/* mostly a recent one (deletions soon take most messages away) */
		unsigned t = pick(4) ? nids - 1 - pick(nids < 6 ? nids : 6) : pick(nids);
		const char *tid = ids[t].id, *tth = ids[t].thread;
		if (r < 107)
			snprintf(out, n, "{\"type\":\"edit_message\",\"thread\":\"%s\",\"target\":\"%s\","
			         "\"content\":\"edit %u: lighthouse w%u\\nsecond line\"%s,\"ts\":%lld}", tth, tid,
			         i, pick(50), pick(2) ? ",\"editor\":\"U1\"" : "", ts);
		else if (r < 111)
			snprintf(out, n, "{\"type\":\"delete_message\",\"thread\":\"%s\",\"target\":\"%s\","
			         "\"ts\":%lld}", tth, tid, ts);
		else
			snprintf(out, n, "{\"type\":\"reaction\",\"thread\":\"%s\",\"target\":\"%s\","
			         "\"emoji\":\"%s\",\"user\":\"%s\"%s,\"ts\":%lld}", tth, tid,
			         pick(2) ? "thumbsup" : "eyes", us, pick(3) ? "" : ",\"op\":\"remove\"", ts);
		return;
	}
	if (r < 48) {
		static const char *const roles[] = { "user", "assistant", "system", "tool", "developer" };
		char extra[1024] = "", id[32] = "";
		const char *content = ",\"content\":\"m%u of %u: lighthouse w%u tab\\there\\nnew \\\\ line é\"";
		char text[160];
		size_t o = 0;
		if (pick(3))
			o += (size_t)snprintf(extra + o, sizeof extra - o, ",\"user\":\"%s\"", us);
		if (pick(2))
			o += (size_t)snprintf(extra + o, sizeof extra - o, ",\"server\":\"%s\"", sv);
		if (!pick(3))
			o += (size_t)snprintf(extra + o, sizeof extra - o, ",\"channel\":\"c%u\"", pick(3));
		if (!pick(3))
			o += (size_t)snprintf(extra + o, sizeof extra - o,
			                      ",\"metadata\":{\"z\":%u,\"a\":[1,2.5,{\"k\":null}],\"b\":\"x\"}",
			                      pick(9));
		if (!pick(3))
			o += (size_t)snprintf(extra + o, sizeof extra - o,
			                      ",\"cost\":{\"model\":\"m%u\",\"input_tokens\":%u,"
			                      "\"output_tokens\":%u,\"usd\":%s}", pick(2), pick(5000),
			                      pick(900), pick(2) ? "0.1" : "3");
		if (!pick(2)) {
			snprintf(id, sizeof id, "s%u-m%u", seed, i);
			o += (size_t)snprintf(extra + o, sizeof extra - o, ",\"id\":\"%s\"", id);
		}
		if (!pick(6))
			o += (size_t)snprintf(extra + o, sizeof extra - o, ",\"attachments\":[{\"blob\":\"%s\","
			                      "\"name\":\"f%u.png\",\"mime\":\"image/png\",\"size\":%u},"
			                      "{\"url\":\"https://x/doc%u.pdf\"}]", blobs[pick(6)], i, pick(999), i);
		if (!pick(8))
			o += (size_t)snprintf(extra + o, sizeof extra - o, ",\"tool_calls\":[{\"id\":\"call_%u\","
			                      "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
			                      "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]", i);
		if (!pick(6))
			o += (size_t)snprintf(extra + o, sizeof extra - o, ",\"name\":\"n%u\",\"tool_call_id\":"
			                      "\"call_%u\"", pick(3), pick(9));
		if (!pick(6) && nids)
			o += (size_t)snprintf(extra + o, sizeof extra - o, ",\"reply_to\":\"%s\",\"parent\":"
			                      "\"p%u\"", ids[pick(nids)].id, pick(4));
		/* files or tool calls only, now and then: no content */
		if ((strstr(extra, "attachments") || strstr(extra, "tool_calls")) && !pick(2))
			content = "";
		snprintf(text, sizeof text, content, i, seed, pick(50));
		if (*id)
			remember(id, th);
		if (!pick(5))
			o += (size_t)snprintf(extra + o, sizeof extra - o, ",\"message_ts\":\"1700.%u\"", i);
		snprintf(out, n, "{\"type\":\"message\",\"thread\":\"%s\",\"role\":\"%s\"%s,"
		         "\"ts\":%lld%s}", th, roles[pick(5)], text, ts, extra);
	} else if (r < 56) {
		static const char *const kinds[] = { "uploaded", "generated", "edited" };
		char thumb[64] = "", msg[48] = "";
		if (nids && !pick(3))
			snprintf(msg, sizeof msg, ",\"message\":\"%s\"", ids[pick(nids)].id);
		if (pick(2))
			snprintf(thumb, sizeof thumb, ",\"thumbnail\":\"%s\"", blobs[pick(6)]);
		snprintf(out, n, "{\"type\":\"image\",\"thread\":\"%s\",\"url\":\"https://x/%u.png\","
		         "\"kind\":\"%s\",\"prompt\":\"a harbour w%u\",\"analysis\":\"boats %u\","
		         "\"metadata\":{\"w\":%u},\"blob\":\"%s\"%s%s,\"ts\":%lld}", th, i, kinds[pick(3)],
		         pick(50), i, pick(900), blobs[pick(6)], thumb, msg, ts);
	} else if (r < 62) {
		snprintf(out, n, "{\"type\":\"user\",\"user\":\"%s\",\"username\":\"name%u\",%s"
		         "\"tz_offset\":%d,\"ts\":%lld%s}", us, pick(9),
		         pick(2) ? "\"timezone\":\"Europe/Paris\",\"tz_label\":\"CET\"," : "",
		         (int)pick(7) * 3600 - 10800, ts,
		         pick(2) ? ",\"config\":{\"model\":\"m1\",\"temp\":0.5,\"n\":{\"b\":1,\"a\":2}}" : "");
	} else if (r < 67) {
		snprintf(out, n, "{\"type\":\"thread_config\",\"thread\":\"%s\",\"config\":{\"k%u\":%u}%s,"
		         "\"ts\":%lld}", th, pick(3), pick(100), pick(2) ? ",\"server\":\"S1\"" : "", ts);
	} else if (r < 75) {
		static const char *const values[] = { "null", "42", "\"text\"", "{\"b\":[1,2],\"a\":true}",
		                                      "1.25", "[]" };
		snprintf(out, n, "{\"type\":\"setting\",\"key\":\"k%u\",\"value\":%s%s%s%s,\"ts\":%lld}",
		         pick(5), values[pick(6)], pick(4) ? "" : ",\"sensitive\":true",
		         pick(2) ? ",\"actor\":\"admin\"" : "",
		         pick(2) ? ",\"category\":\"c\",\"description\":\"d\"" : "", ts);
	} else if (r < 87) {
		snprintf(out, n, "{\"type\":\"metric\",\"name\":\"n%u\",\"value\":%s%s,\"ts\":%lld}",
		         pick(3), pick(2) ? "7" : "0.30000000000000004",
		         pick(2) ? ",\"unit\":\"ms\",\"tags\":{\"b\":2,\"a\":1}" : "", ts);
	} else if (r < 90) {
		snprintf(out, n, "{\"type\":\"delete_thread\",\"thread\":\"%s\",\"ts\":%lld}", th, ts);
	} else if (r < 93) {
		char server[32] = "";
		if (pick(2))
			snprintf(server, sizeof server, ",\"server\":\"%s\"", sv);
		snprintf(out, n, "{\"type\":\"clear_history\",\"user\":\"%s\"%s,\"ts\":%lld}", us,
		         server, ts);
	} else if (r < 95) {
		/* purge: about the oldest half of what exists so far */
		long long before = ts - (long long)(i / 2 + pick(i / 4 + 1)) * 1000;
		char scope[128] = "";
		switch (pick(6)) {
		case 0: snprintf(scope, sizeof scope, ",\"thread\":\"%s\"", th); break;
		case 1: snprintf(scope, sizeof scope, ",\"user\":\"%s\"", us); break;
		case 2: snprintf(scope, sizeof scope, ",\"server\":\"%s\"", sv); break;
		case 3: snprintf(scope, sizeof scope, ",\"kinds\":[\"metrics\",\"images\"]"); break;
		case 4: snprintf(scope, sizeof scope, ",\"user\":\"%s\",\"server\":\"%s\",\"kinds\":[\"messages\"]", us, sv); break;
		default: break;
		}
		if (pick(2)) {
			char when[32];
			cj_time_format(when, before);
			snprintf(out, n, "{\"type\":\"purge\",\"before\":\"%s\"%s,\"ts\":%lld}", when, scope, ts);
		} else {
			snprintf(out, n, "{\"type\":\"purge\",\"before\":%lld%s,\"ts\":%lld}", before, scope, ts);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: sink_workload STORE SEED COUNT [RATE]\n");
		return 2;
	}
	unsigned seed = (unsigned)strtoul(argv[2], NULL, 10);
	unsigned count = (unsigned)strtoul(argv[3], NULL, 10);
	double rate = argc > 4 ? strtod(argv[4], NULL) : 0;
	rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0xD1B54A32D192ED03ull) ^ 1;
	cj_store *s;
	int rc = cj_store_open(&s, argv[1], NULL);
	if (rc)
		die("open", rc);
	put_blobs(s, seed);
	uint64_t last = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long long base = 1767225600000LL + (long long)seed * 1000; /* 2026-01-01 */
	for (unsigned i = 0; i < count; i++) {
		char json[2048];
		long long ts = base + (long long)i * 1000 - (long long)pick(3) * 1500;
		make_event(json, sizeof json, i, ts, seed);
		cj_event *ev;
		if ((rc = cj_event_parse(&ev, json, strlen(json)))) {
			fprintf(stderr, "event %u: %s\n", i, json);
			die("parse", rc);
		}
		if ((rc = cj_journal_append(&last, s, ev)))
			die("append", rc);
		cj_event_free(ev);
		if (rate > 0) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
			double due = (i + 1) / rate;
			if (due > el) {
				double w = due - el;
				struct timespec ts2 = { (time_t)w, (long)((w - (double)(time_t)w) * 1e9) };
				nanosleep(&ts2, NULL);
			}
		}
	}
	if (count == 0 && (rc = cj_journal_last_seq(&last, s))) /* COUNT 0: wait for the journal's end */
		die("last sequence number", rc);
	if ((rc = cj_wait_applied(s, last, 120000)))
		die("wait for the projection", rc);
	printf("last %llu\n", (unsigned long long)last);
	cj_store_close(s);
	return 0;
}
