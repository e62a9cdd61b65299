/* import/keep.c — the plan's events kept for the append (keep.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "keep.h"

static uint64_t default_budget(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || size <= 0)
		return KEEP_FALLBACK_BUDGET;
	uint64_t quarter = (uint64_t)pages * (uint64_t)size / 4;
	return quarter < KEEP_MAX_BUDGET ? quarter : KEEP_MAX_BUDGET;
}

uint64_t keep_budget_from_env(void)
{
	const char *v = getenv("CHATJOURNAL_IMPORT_MEMORY");
	if (!v || !*v)
		return default_budget();
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	if (end == v || *v == '-')
		return default_budget();
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || n > (UINT64_MAX >> shift))
		return default_budget();
	return (uint64_t)n << shift;
}

void keep_init(keep *k, uint64_t budget)
{
	memset(k, 0, sizeof *k);
	k->budget = budget;
	k->on = budget > 0;
	k->off_why = k->on ? NULL : "CHATJOURNAL_IMPORT_MEMORY is 0";
}

void keep_drop(keep *k, const char *why)
{
	for (size_t i = 0; i < k->n; i++)
		cj_event_free(k->items[i].ev);
	free(k->items);
	k->items = NULL;
	k->n = k->cap = 0;
	k->bytes = 0;
	if (k->on)
		k->off_why = why;
	k->on = 0;
}

void keep_free(keep *k) { keep_drop(k, NULL); }

int keep_add(keep *k, cj_event *ev, long file, int kind, int group, uint64_t cost)
{
	if (!k->on) {
		cj_event_free(ev);
		return 1;
	}
	cost += sizeof(keep_item);
	if (k->bytes + cost > k->budget) {
		cj_event_free(ev);
		keep_drop(k, "the source's events are over the memory budget");
		return 1;
	}
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 4096;
		keep_item *it = realloc(k->items, cap * sizeof *it);
		if (!it) {
			cj_event_free(ev);
			keep_drop(k, "out of memory keeping the source's events");
			return -1;
		}
		k->items = it;
		k->cap = cap;
	}
	k->items[k->n++] = (keep_item){ ev, file, (unsigned char)kind, (unsigned char)group };
	k->bytes += cost;
	return 0;
}
