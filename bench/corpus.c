/* bench/corpus.c — the benchmarks' message corpus (corpus.h), shared by
 * `bench materialize|query` (projection.c) and `bench compact` (compact.c). */
#include <stdio.h>
#include <time.h>
#include "corpus.h"

double cjb_now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

const char *const CJB_CORPUS_WORDS[] = {
	"the", "a", "to", "and", "of", "image", "prompt", "model", "please", "draw", "light",
	"house", "dusk", "ocean", "city", "night", "cat", "dog", "forest", "river", "mountain",
	"portrait", "style", "oil", "painting", "photo", "blue", "red", "green", "gold",
	"soft", "sharp", "wide", "close", "morning", "evening", "storm", "snow", "summer", "winter",
};

/* Message i: ~200 bytes of words plus one word unique to it ("uq<i>"). */
void cjb_corpus_content(uint64_t i, char *out, size_t n)
{
	uint64_t r = i * 6364136223846793005ULL + 1442695040888963407ULL;
	size_t p = 0;
	for (int w = 0; w < 30 && p + 16 < n; w++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		p += (size_t)snprintf(out + p, n - p, "%s ", CJB_CORPUS_WORDS[(r >> 33) % CJB_CORPUS_NWORDS]);
	}
	snprintf(out + p, n - p, "uq%llu", (unsigned long long)i);
}

int cjb_corpus_event(uint64_t i, cj_event **ev)
{
	char content[400], thread[32], user[32];
	cjb_corpus_content(i, content, sizeof content);
	snprintf(thread, sizeof thread, "thread-%llu", (unsigned long long)(i % CJB_CORPUS_THREADS));
	snprintf(user, sizeof user, "user-%llu", (unsigned long long)(i % CJB_CORPUS_USERS));
	int rc = cj_event_new(ev, "message");
	if (!rc) rc = cj_event_set_string(*ev, "thread", thread);
	if (!rc) rc = cj_event_set_string(*ev, "role", i % 2 ? "assistant" : "user");
	if (!rc) rc = cj_event_set_string(*ev, "content", content);
	if (!rc) rc = cj_event_set_string(*ev, "user", user);
	if (!rc) rc = cj_event_set_string(*ev, "server", "bench-server");
	if (!rc) rc = cj_event_set_int(*ev, "ts", 1790000000000LL + (int64_t)i * 1000);
	return rc;
}

/* Append n events in batches of 1000 from `from`. */
int cjb_corpus_fill(cj_store *s, uint64_t from, uint64_t n)
{
	cj_event *evs[1000];
	for (uint64_t i = 0; i < n; i += 1000) {
		size_t k = n - i < 1000 ? (size_t)(n - i) : 1000;
		for (size_t j = 0; j < k; j++)
			if (cjb_corpus_event(from + i + j, &evs[j]))
				return -1;
		int rc = cj_journal_append_batch(NULL, s, (const cj_event *const *)evs, k);
		for (size_t j = 0; j < k; j++)
			cj_event_free(evs[j]);
		if (rc)
			return rc;
	}
	return 0;
}


int cjb_corpus_store(const char *path, uint64_t n, double *append_s)
{
	if (cj_store_init(path, NULL))
		return -1;
	cj_store *s;
	if (cj_store_open(&s, path, NULL))
		return -1;
	double t0 = cjb_now_s();
	int rc = cjb_corpus_fill(s, 0, n);
	if (append_s)
		*append_s = cjb_now_s() - t0;
	uint64_t last = 0;
	if (!rc)
		rc = cj_journal_last_seq(&last, s);
	if (!rc)
		rc = cj_wait_applied(s, last, 3600 * 1000);
	cj_store_close(s);
	return rc ? -1 : 0;
}
