/* bench/workload.h — the chat message every measurement writes: the same
 * fields become a chatjournal message event, a row of the seed designs' SQLite
 * table, and a raw LMDB record, so all systems store comparable bytes. */
#ifndef CJB_WORKLOAD_H
#define CJB_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>
#include "chatjournal/chatjournal.h"

/* Size of the raw LMDB record: a chatjournal record is ~330 bytes
 * (header + msgpack body of a ~300-byte message). */
#define CJB_RECORD_BYTES 330

typedef struct cjb_msg {
	char thread[64];
	const char *role;
	char content[224];       /* ~145 characters of words */
	char user[16];
	char server[16];
	char channel[16];
	char metadata[96];       /* a small JSON object */
	int64_t ts_ms;
} cjb_msg;

/* Fill m with message number i of writer w (deterministic). */
void cjb_msg_fill(cjb_msg *m, unsigned writer, uint64_t i);

/* The message as compact JSON (the interchange form); returns its length,
 * or the length it would need if cap is too small (snprintf rules). */
size_t cjb_msg_json(const cjb_msg *m, char *out, size_t cap);

/* The raw LMDB record: the JSON form padded/cut to CJB_RECORD_BYTES. */
void cjb_msg_record(const cjb_msg *m, uint8_t out[CJB_RECORD_BYTES]);

/* A new chatjournal message event from m. 0 or a CJ_E* code. */
int cjb_msg_event(cj_event **out, const cjb_msg *m);

/* A pool of n distinct message events for writer w (reused round-robin by
 * the timed loops, so building events is not measured). 0 or a CJ_E* code. */
int cjb_event_pool_new(cj_event ***out, unsigned writer, size_t n);
void cjb_event_pool_free(cj_event **pool, size_t n);

#endif
