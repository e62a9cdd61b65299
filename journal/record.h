/* journal/record.h — record framing: a 24-byte header (version, event type,
 * flags, body length, event time, XXH3-64) followed by the msgpack body.
 * docs/format.md is the normative description. */
#ifndef CJ_JOURNAL_RECORD_H
#define CJ_JOURNAL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define CJI_RECORD_VERSION 1
#define CJI_RECORD_HDR_LEN 24
#define CJI_RECORD_REDACTED 0x1u  /* flags bit 0: a tombstone written by compaction */
#define CJI_RECORD_PARTIAL  0x2u  /* flags bit 1 (with bit 0): only the superseded text of an
                                     edited, live message was removed; it may be redacted
                                     again, whole, once the message is deleted */

typedef struct cji_record_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t body_len;
	int64_t ts_ms;
	uint64_t checksum;
} cji_record_hdr;

/* Write the header for body into hdr (checksum computed). */
void cji_record_frame(uint8_t hdr[CJI_RECORD_HDR_LEN], uint8_t type, uint16_t flags,
                      int64_t ts_ms, const uint8_t *body, uint32_t body_len);

/* Check a stored record of n bytes: known version, lengths agree, checksum
 * matches. Fills h and *body. Errors (message names seq): CJ_ECORRUPT,
 * CJ_EVERSION. */
int cji_record_parse(const uint8_t *rec, size_t n, uint64_t seq, cji_record_hdr *h,
                     const uint8_t **body);

#endif
