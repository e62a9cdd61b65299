/* common/buf.c — growable byte buffer; doubles its capacity, never shrinks. */
#include <stdlib.h>
#include <string.h>
#include "common/buf.h"
#include "chatjournal/error.h"

int cji_buf_grow(cji_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len)
		return CJ_ENOMEM;
	size_t need = b->len + extra;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return CJ_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int cji_buf_append(cji_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	int rc = cji_buf_reserve(b, n);
	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void cji_buf_free(cji_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
