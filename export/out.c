/* export/out.c — the output buffer: pieces of at most EX_CHUNK bytes for
 * the caller's write callback, with a sticky error (after the first
 * failure nothing more is written). */
#include <string.h>
#include "export_internal.h"

void ex_put(ex_out *w, const char *s, size_t n)
{
	while (n && !w->rc) {
		size_t room = EX_CHUNK - w->len;
		size_t k = n < room ? n : room;
		memcpy(w->buf + w->len, s, k);
		w->len += k;
		s += k;
		n -= k;
		if (w->len == EX_CHUNK)
			ex_flush(w);
	}
}

void ex_puts(ex_out *w, const char *s) { ex_put(w, s, strlen(s)); }

int ex_flush(ex_out *w)
{
	if (!w->rc && w->len)
		w->rc = w->o->write(w->o->write_arg, w->buf, w->len);
	w->len = 0;
	return w->rc;
}
