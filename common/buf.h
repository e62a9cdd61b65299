/* common/buf.h — a growable byte buffer (reused across calls on hot paths). */
#ifndef CJ_COMMON_BUF_H
#define CJ_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct cji_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
} cji_buf;

#define CJI_BUF_INIT { NULL, 0, 0 }

/* Grow the buffer to hold extra more bytes; 0 or CJ_ENOMEM. */
int cji_buf_grow(cji_buf *b, size_t extra);
/* Make room for extra more bytes; 0 or CJ_ENOMEM. Inline: the hot paths
 * (query rows) ask for room once per field and nearly always have it. */
static inline int cji_buf_reserve(cji_buf *b, size_t extra)
{
	return extra <= b->cap - b->len ? 0 : cji_buf_grow(b, extra);
}
int cji_buf_append(cji_buf *b, const void *p, size_t n);
static inline void cji_buf_reset(cji_buf *b) { b->len = 0; }
void cji_buf_free(cji_buf *b);

#endif
