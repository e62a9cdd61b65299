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

/* Make room for extra more bytes; 0 or CJ_ENOMEM. */
int cji_buf_reserve(cji_buf *b, size_t extra);
int cji_buf_append(cji_buf *b, const void *p, size_t n);
static inline void cji_buf_reset(cji_buf *b) { b->len = 0; }
void cji_buf_free(cji_buf *b);

#endif
