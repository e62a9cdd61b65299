/* common/utf8.h — the one UTF-8 validator: strict RFC 3629 (no overlong
 * forms, no surrogates, nothing above U+10FFFF), the rules jansson applies
 * to JSON text. */
#ifndef CJ_COMMON_UTF8_H
#define CJ_COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

enum { CJI_UTF8_ALLOW_NUL = 0, CJI_UTF8_NO_NUL = 1 };

/* Offset of the first byte of s[0..n) that does not start a valid sequence
 * (a NUL byte counts as invalid with CJI_UTF8_NO_NUL), or n if all is valid.
 * Event strings refuse NUL (they reach callers as C strings and JSON text
 * never carries it); raw input lines allow it, so the parser names it. */
size_t cji_utf8_check(const uint8_t *s, size_t n, int nul_rule);

static inline int cji_utf8_valid(const uint8_t *s, size_t n)
{
	return cji_utf8_check(s, n, CJI_UTF8_NO_NUL) == n;
}

#endif
