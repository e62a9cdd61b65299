/* import/idset.c — the id hash set (idset.h). */
#include <stdlib.h>
#include <string.h>
#include "idset.h"

void idset_init(idset *s) { memset(s, 0, sizeof *s); }

void idset_free(idset *s)
{
	free(s->slots);
	memset(s, 0, sizeof *s);
}

void idset_clear(idset *s)
{
	if (s->slots)
		memset(s->slots, 0, s->cap * sizeof *s->slots);
	s->n = 0;
}

static size_t find(const uint64_t *slots, size_t cap, uint64_t h)
{
	size_t i = (size_t)(h * 0x9E3779B97F4A7C15ull) & (cap - 1);
	while (slots[i] && slots[i] != h)
		i = (i + 1) & (cap - 1);
	return i;
}

static int grow(idset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	uint64_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i])
			slots[find(slots, cap, s->slots[i])] = s->slots[i];
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

int idset_add(idset *s, uint64_t h)
{
	if (!h)
		h = 1;
	if ((s->n + 1) * 2 > s->cap && grow(s) != 0)
		return -1;
	size_t i = find(s->slots, s->cap, h);
	if (s->slots[i])
		return 1;
	s->slots[i] = h;
	s->n++;
	return 0;
}

int idset_has(const idset *s, uint64_t h)
{
	if (!h)
		h = 1;
	return s->cap ? s->slots[find(s->slots, s->cap, h)] == h : 0;
}
