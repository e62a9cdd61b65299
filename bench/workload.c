/* bench/workload.c — deterministic, realistic chat messages: Slack-style ids,
 * ~145 characters of English-like words, a small metadata object. The JSON
 * form of one message is ~355 bytes, its msgpack body ~315. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "workload.h"

static const char *const words[] = {
	"the", "deploy", "failed", "again", "on", "staging", "because", "of",
	"a", "missing", "environment", "variable", "could", "you", "check",
	"logs", "for", "service", "after", "lunch", "thanks", "image", "prompt",
	"please", "summarize", "this", "thread", "meeting", "notes", "tomorrow",
	"database", "migration", "rollback", "works", "fine", "now", "with",
	"latest", "build", "and", "tests", "pass", "locally", "but", "not", "in", "CI",
};

/* Message text length: with the other fields this makes a ~330-byte journal
 * record (msgpack body + header), the size docs/performance.md's design figures use. */
#define CONTENT_MAX 150

/* xorshift64*: cheap and deterministic per (writer, i). */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	return x * 0x2545F4914F6CDD1DULL;
}

static void fill_content(char *out, size_t cap, uint64_t seed)
{
	size_t len = 0, nwords = sizeof(words) / sizeof(words[0]);
	uint64_t r = seed | 1;
	out[0] = '\0';
	for (;;) {
		r = mix(r);
		const char *w = words[r % nwords];
		size_t wl = strlen(w);
		if (len + wl + 2 > CONTENT_MAX || len + wl + 2 > cap)
			break;
		if (len)
			out[len++] = ' ';
		memcpy(out + len, w, wl);
		len += wl;
		out[len] = '\0';
	}
}

void cjb_msg_fill(cjb_msg *m, unsigned writer, uint64_t i)
{
	uint64_t seed = mix(((uint64_t)writer << 40) ^ (i + 1));
	/* ~50 messages per thread, as in a busy channel. */
	snprintf(m->thread, sizeof(m->thread), "C024BE91L:1700%06u.%06u",
	         writer % 1000000u, (unsigned)((i / 50) % 1000000u));
	m->role = (i % 2) ? "assistant" : "user";
	fill_content(m->content, sizeof(m->content), seed);
	snprintf(m->user, sizeof(m->user), "U%08X", (unsigned)(seed >> 32));
	snprintf(m->server, sizeof(m->server), "T024BE7LD");
	snprintf(m->channel, sizeof(m->channel), "C024BE91L");
	snprintf(m->metadata, sizeof(m->metadata),
	         "{\"client_msg_id\":\"%08x-%04x\",\"edited\":false}",
	         (unsigned)seed, (unsigned)(i & 0xffff));
	m->ts_ms = 1700000000000LL + (int64_t)i * 1000;
}

size_t cjb_msg_json(const cjb_msg *m, char *out, size_t cap)
{
	int n = snprintf(out, cap,
	                 "{\"type\":\"message\",\"thread\":\"%s\",\"role\":\"%s\","
	                 "\"content\":\"%s\",\"user\":\"%s\",\"server\":\"%s\","
	                 "\"channel\":\"%s\",\"metadata\":%s}",
	                 m->thread, m->role, m->content, m->user, m->server,
	                 m->channel, m->metadata);
	return n < 0 ? 0 : (size_t)n;
}

void cjb_msg_record(const cjb_msg *m, uint8_t out[CJB_RECORD_BYTES])
{
	char buf[1024];
	size_t n = cjb_msg_json(m, buf, sizeof(buf));
	if (n > CJB_RECORD_BYTES)
		n = CJB_RECORD_BYTES;
	memcpy(out, buf, n);
	memset(out + n, ' ', CJB_RECORD_BYTES - n);
}

int cjb_msg_event(cj_event **out, const cjb_msg *m)
{
	cj_event *ev = NULL;
	int rc = cj_event_new(&ev, "message");
	if (rc == 0) rc = cj_event_set_string(ev, "thread", m->thread);
	if (rc == 0) rc = cj_event_set_string(ev, "role", m->role);
	if (rc == 0) rc = cj_event_set_string(ev, "content", m->content);
	if (rc == 0) rc = cj_event_set_string(ev, "user", m->user);
	if (rc == 0) rc = cj_event_set_string(ev, "server", m->server);
	if (rc == 0) rc = cj_event_set_string(ev, "channel", m->channel);
	if (rc == 0) rc = cj_event_set_json(ev, "metadata", m->metadata);
	if (rc != 0) {
		cj_event_free(ev);
		return rc;
	}
	*out = ev;
	return 0;
}

int cjb_event_pool_new(cj_event ***out, unsigned writer, size_t n)
{
	cj_event **pool = calloc(n, sizeof(*pool));
	if (!pool)
		return CJ_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		cjb_msg m;
		cjb_msg_fill(&m, writer, i);
		int rc = cjb_msg_event(&pool[i], &m);
		if (rc != 0) {
			cjb_event_pool_free(pool, i);
			return rc;
		}
	}
	*out = pool;
	return 0;
}

void cjb_event_pool_free(cj_event **pool, size_t n)
{
	if (!pool)
		return;
	for (size_t i = 0; i < n; i++)
		cj_event_free(pool[i]);
	free(pool);
}
