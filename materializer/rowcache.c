/* materializer/rowcache.c — open addressing, linear probing, XXH3 of the key;
 * grows at 50% load; cleared wholesale (rows are few compared to messages). */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "materializer/rowcache.h"

static size_t find(const cji_rowcache *c, const char *key, uint64_t h)
{
	size_t mask = c->cap - 1, i = (size_t)h & mask;
	while (c->slots[i].key && (c->slots[i].hash != h || strcmp(c->slots[i].key, key) != 0))
		i = (i + 1) & mask;
	return i;
}

cji_rowagg *cji_rowcache_get(cji_rowcache *c, const char *key)
{
	if (!c->cap)
		return NULL;
	size_t i = find(c, key, XXH3_64bits(key, strlen(key)));
	return c->slots[i].key ? &c->slots[i] : NULL;
}

static int grow(cji_rowcache *c)
{
	size_t cap = c->cap ? c->cap * 2 : 256;
	cji_rowagg *s = calloc(cap, sizeof *s);
	if (!s)
		return -1;
	cji_rowcache old = *c;
	c->slots = s;
	c->cap = cap;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].key)
			c->slots[find(c, old.slots[i].key, old.slots[i].hash)] = old.slots[i];
	free(old.slots);
	return 0;
}

cji_rowagg *cji_rowcache_put(cji_rowcache *c, const char *key, int64_t rowid)
{
	if ((c->used + 1) * 2 > c->cap && grow(c))
		return NULL;
	uint64_t h = XXH3_64bits(key, strlen(key));
	cji_rowagg *e = &c->slots[find(c, key, h)];
	memset(e, 0, sizeof *e);
	if (!(e->key = strdup(key)))
		return NULL;
	e->hash = h;
	e->rowid = rowid;
	c->used++;
	return e;
}

static void clear_entry(cji_rowagg *e)
{
	free(e->key);
	free(e->server);
	free(e->channel);
	memset(e, 0, sizeof *e);
}

void cji_rowcache_clear(cji_rowcache *c)
{
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].key)
			clear_entry(&c->slots[i]);
	c->used = 0;
}

void cji_rowcache_free(cji_rowcache *c)
{
	cji_rowcache_clear(c);
	free(c->slots);
	c->slots = NULL;
	c->cap = 0;
}

void cji_rowagg_touch(cji_rowagg *e, int64_t ms, const char *text, int64_t seq)
{
	if (!e->dirty || ms > e->act_ms) {
		e->act_ms = ms;
		memcpy(e->act, text, sizeof e->act);
	}
	if (!e->dirty || ms < e->first_ms) {
		e->first_ms = ms;
		memcpy(e->first, text, sizeof e->first);
	}
	e->seq = seq;
	e->dirty = 1;
}
