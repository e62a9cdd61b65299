/* tests/damage/mkstore.c — the store test_damage.py damages: built through
 * the public API only, so that it holds what a real store holds: messages
 * with and without ids (idempotency entries), records large enough for
 * overflow pages, blobs small and large (inline and on overflow pages),
 * images that reference them, and every kind of event the projection
 * knows. The last write is an event, so that rolling the journal back by
 * one commit (a damaged meta page) leaves the projection ahead of it.
 *
 * Usage: mkstore STORE [EVENTS]   (a new store; default 240 events) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatjournal/chatjournal.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "mkstore: %s: %s (%s)\n", what, cj_error_last(), cj_strerror(rc));
	return 1;
}

static int append_json(cj_store *s, const char *json)
{
	cj_event *ev;
	int rc = cj_event_parse(&ev, json, strlen(json));
	if (rc)
		return fail(json, rc);
	rc = cj_journal_append(NULL, s, ev);
	cj_event_free(ev);
	return rc ? fail("append", rc) : 0;
}

/* Deterministic bytes: the same store every run, so a seed replays. */
static void fill(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char)('a' + (seed >> 16) % 26);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: mkstore STORE [EVENTS]\n");
		return 2;
	}
	int events = argc > 2 ? atoi(argv[2]) : 240;
	int rc = cj_store_init(argv[1], NULL);
	if (rc)
		return fail("init", rc);
	cj_store *s;
	if ((rc = cj_store_open(&s, argv[1], NULL)))
		return fail("open", rc);
	static char text[20000], json[24000], blob[40000];
	char hash[CJ_BLOB_HASH_LEN + 1];
	int bad = append_json(s, "{\"type\":\"user\",\"id\":\"u1\",\"user\":\"U1\",\"username\":\"ada\"}");
	bad |= append_json(s, "{\"type\":\"thread_config\",\"id\":\"tc1\",\"thread\":\"T1\","
	                      "\"server\":\"S1\",\"config\":{\"temperature\":0.2}}");
	for (int i = 0; i < events && !bad; i++) {
		/* Mostly short messages; every 16th spans overflow pages. */
		size_t len = i % 16 == 5 ? 9000 + (size_t)i * 7 : 20 + (size_t)(i * 37) % 300;
		fill(text, len, (unsigned)i);
		text[len] = '\0';
		if (i % 40 == 7) {
			size_t blen = i % 80 == 7 ? 30000 : 700;
			fill(blob, blen, (unsigned)i * 7u);
			if ((rc = cj_blob_put(hash, s, blob, blen)))
				return fail("blob put", rc);
			snprintf(json, sizeof json, "{\"type\":\"image\",\"id\":\"img-%d\",\"thread\":"
			         "\"T%d\",\"url\":\"https://example.invalid/%d.png\",\"blob\":\"%s\","
			         "\"prompt\":\"%.40s\"}", i, i % 5, i, hash, text);
		} else if (i % 3 == 2) {
			snprintf(json, sizeof json, "{\"type\":\"message\",\"thread\":\"T%d\",\"role\":"
			         "\"assistant\",\"content\":\"%s\"}", i % 5, text);
		} else {
			snprintf(json, sizeof json, "{\"type\":\"message\",\"id\":\"m-%05d\",\"thread\":"
			         "\"T%d\",\"role\":\"user\",\"user\":\"U1\",\"server\":\"S1\","
			         "\"content\":\"%s\"}", i, i % 5, text);
		}
		bad |= append_json(s, json);
	}
	if (!bad)
		bad |= append_json(s, "{\"type\":\"metric\",\"id\":\"x1\",\"name\":\"latency_ms\","
		                      "\"value\":412}");
	uint64_t last = 0;
	if (!bad && (rc = cj_journal_last_seq(&last, s)) == 0)
		rc = cj_wait_applied(s, last, 30000);
	if (rc)
		bad |= fail("wait for the projection", rc);
	cj_store_close(s);
	if (!bad)
		printf("%llu\n", (unsigned long long)last);
	return bad;
}
