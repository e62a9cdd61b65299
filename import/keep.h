/* import/keep.h — the plan's accepted events, kept for the append when they
 * fit a memory budget, so the append does not read and parse the source a
 * second time (docs/import.md, "Memory"). The budget is
 * CHATJOURNAL_IMPORT_MEMORY (bytes, or with a K, M or G suffix; 0: never
 * keep); when unset, a quarter of the machine's memory, at most 2 GiB (512
 * MiB when the machine does not say). The cost of an event is an estimate:
 * KEEP_OVERHEAD per event plus KEEP_FACTOR per byte of the source element
 * it came from (charged once per element), measured against the process's
 * resident memory (about 1.8 KB per Slack message of 190 bytes). Over the budget, or when an id
 * repeats in the source (the append must then compare it with its earlier
 * occurrence, committed by then), everything kept is dropped and the
 * append parses the source again, as it always did. */
#ifndef CJ_IMPORT_KEEP_H
#define CJ_IMPORT_KEEP_H

#include <stddef.h>
#include <stdint.h>
#include "chatjournal/event.h"

#define KEEP_MAX_BUDGET ((uint64_t)2 << 30)
#define KEEP_FALLBACK_BUDGET ((uint64_t)512 << 20)
#define KEEP_OVERHEAD 1024u   /* bytes of a kept event besides its element */
#define KEEP_FACTOR 4u        /* a jansson tree per byte of source text */

typedef struct keep_item {
	cj_event *ev;
	long file;               /* its file in the report */
	unsigned char kind;      /* its event type */
	unsigned char group;     /* 1: the first event of a group (never split) */
} keep_item;

typedef struct keep {
	keep_item *items;
	size_t n, cap;
	uint64_t bytes, budget;
	int on;                  /* still keeping */
	const char *off_why;     /* why not (NULL while on) */
} keep;

/* The budget from CHATJOURNAL_IMPORT_MEMORY (the default when unset or not
 * a size; 0 turns keeping off). */
uint64_t keep_budget_from_env(void);
/* Start keeping (budget 0: off from the start). */
void keep_init(keep *k, uint64_t budget);
/* Keep ev (owned) at an estimated cost of `cost` bytes: 0 kept; 1 over the
 * budget (ev and everything kept are freed, keeping is off); -1 out of
 * memory (the same, with off_why saying so). When off, ev is freed and 1
 * returned. */
int keep_add(keep *k, cj_event *ev, long file, int kind, int group, uint64_t cost);
/* Stop keeping (free what is kept), saying why. */
void keep_drop(keep *k, const char *why);
void keep_free(keep *k);

#endif
