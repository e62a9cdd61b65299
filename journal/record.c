/* journal/record.c — framing and checking of journal records. The checksum
 * covers the first 16 header bytes and the body, so a flipped type, flag,
 * length or time is caught as surely as a flipped body byte. */
#include <string.h>
#include <xxhash.h>
#include "journal/record.h"
#include "common/err.h"

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t checksum(const uint8_t hdr[16], const uint8_t *body, size_t len)
{
	return XXH3_64bits_withSeed(body, len, XXH3_64bits(hdr, 16));
}

void cji_record_frame(uint8_t hdr[CJI_RECORD_HDR_LEN], uint8_t type, uint16_t flags,
                      int64_t ts_ms, const uint8_t *body, uint32_t body_len)
{
	hdr[0] = CJI_RECORD_VERSION;
	hdr[1] = type;
	put_le(hdr + 2, flags, 2);
	put_le(hdr + 4, body_len, 4);
	put_le(hdr + 8, (uint64_t)ts_ms, 8);
	put_le(hdr + 16, checksum(hdr, body, body_len), 8);
}

int cji_record_parse(const uint8_t *rec, size_t n, uint64_t seq, cji_record_hdr *h,
                     const uint8_t **body)
{
	if (n < CJI_RECORD_HDR_LEN)
		return cji_err(CJ_ECORRUPT, "journal record %llu: %zu bytes, shorter than its header",
		               (unsigned long long)seq, n);
	h->version = rec[0];
	h->type = rec[1];
	h->flags = (uint16_t)get_le(rec + 2, 2);
	h->body_len = (uint32_t)get_le(rec + 4, 4);
	h->ts_ms = (int64_t)get_le(rec + 8, 8);
	h->checksum = get_le(rec + 16, 8);
	if (h->version != CJI_RECORD_VERSION)
		return cji_err(h->version > CJI_RECORD_VERSION ? CJ_EVERSION : CJ_ECORRUPT,
		               "journal record %llu: record format version %u is not known",
		               (unsigned long long)seq, h->version);
	if ((size_t)h->body_len != n - CJI_RECORD_HDR_LEN)
		return cji_err(CJ_ECORRUPT, "journal record %llu: header says %u body bytes, record has %zu",
		               (unsigned long long)seq, h->body_len, n - CJI_RECORD_HDR_LEN);
	*body = rec + CJI_RECORD_HDR_LEN;
	if (checksum(rec, *body, h->body_len) != h->checksum)
		return cji_err(CJ_ECORRUPT, "journal record %llu: checksum mismatch",
		               (unsigned long long)seq);
	return 0;
}
