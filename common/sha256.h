/* common/sha256.h — SHA-256 (FIPS 180-4), for storing access tokens
 * hashed. Written from the standard; no third-party code. */
#ifndef CJ_COMMON_SHA256_H
#define CJ_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

void cji_sha256(const void *data, size_t len, uint8_t out[32]);
/* 64 lowercase hex characters + NUL. */
void cji_sha256_hex(const void *data, size_t len, char out[65]);

#endif
