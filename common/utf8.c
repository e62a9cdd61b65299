/* common/utf8.c — strict UTF-8 validation, eight ASCII bytes at a time. */
#include <string.h>
#include "common/utf8.h"
#include "chatjournal/event.h"

size_t cji_utf8_check(const uint8_t *s, size_t n, int nul_rule)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	const uint8_t low = nul_rule == CJI_UTF8_NO_NUL ? 0x01 : 0x00;
	size_t i = 0;
	while (i < n) {
		/* (x - ones) & ~x & highs is non-zero iff x holds a zero byte; with
		 * NUL allowed, only the high bits matter. */
		if (n - i >= 8) {
			uint64_t x;
			memcpy(&x, s + i, 8);
			uint64_t bad = low ? (x | ((x - ones) & ~x)) & highs : x & highs;
			if (bad == 0) {
				i += 8;
				continue;
			}
		}
		uint8_t c = s[i];
		if (c >= low && c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		uint32_t cp, min;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1; cp = c & 0x1fu; min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2; cp = c & 0x0fu; min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3; cp = c & 0x07u; min = 0x10000;
		} else {
			return i; /* NUL (refused), continuation byte, 0xc0/0xc1, 0xf5.. */
		}
		if (n - i - 1 < need)
			return i;
		for (size_t k = 1; k <= need; k++) {
			uint8_t cc = s[i + k];
			if ((cc & 0xc0u) != 0x80u)
				return i;
			cp = (cp << 6) | (cc & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += need + 1;
	}
	return n;
}

size_t cj_utf8_check(const char *s, size_t len)
{
	return s ? cji_utf8_check((const uint8_t *)s, len, CJI_UTF8_ALLOW_NUL) : 0;
}
