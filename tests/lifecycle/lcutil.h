/* tests/lifecycle/lcutil.h — what the backup and restore tests share: a
 * mixed workload (messages, ids, images with blobs, deletions, settings)
 * with a model of what each sequence number holds, the `chatjournal
 * verify` check in C, file modes, copies and byte flips.
 *
 * Plain C, no cmocka (usable from worker threads and forked children): 0 or
 * -1 with the reason in a caller's buffer. */
#ifndef CJ_TESTS_LCUTIL_H
#define CJ_TESTS_LCUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "chatjournal/chatjournal.h"

/* What the workload stored at each sequence number (index seq - 1). */
typedef struct lc_event {
	char *json;        /* the event as appended (cj_event_to_json) */
	char *id;          /* its id, or NULL */
	char blob[33];     /* the blob its image names, or "" */
} lc_event;

typedef struct lc_model {
	lc_event *v;
	size_t n, cap;
	char (*blobs)[33]; /* every blob stored, in order */
	size_t nblobs, blobs_cap;
} lc_model;

/* Append about n events in group commits of 1..16 events (blobs stored
 * just before the image naming them; now and then a blob nobody names),
 * sleeping ~1 ms every few commits so that commit times differ. Records
 * what each sequence number holds in m (m may be NULL). 0 or -1 (why). */
int lc_workload(cj_store *s, lc_model *m, uint64_t *rng, unsigned n, char *why, size_t wn);
void lc_model_free(lc_model *m);

/* `chatjournal verify` in C: every journal record passes its checksum,
 * the projection passes its integrity checks, and a replay up to its
 * position has its state hash. The store is opened read-only. 0 or -1. */
int lc_verify_store(const char *store, char *why, size_t wn);

/* Every file under root is 0600 and every folder 0700. 0 or -1 (the path). */
int lc_check_modes(const char *root, char *why, size_t wn);

/* cp -r src dst (regular files and folders). 0 or -1. */
int lc_copy_tree(const char *src, const char *dst);

/* XOR one byte of path at offset with mask. 0 or -1. */
int lc_flip_byte(const char *path, uint64_t offset, unsigned char mask);

/* Entries of dir whose name starts with ".tmp-"; -1 if dir cannot be read. */
int lc_count_temps(const char *dir);

/* Parse text as JSON and cj_free it; NULL if it is not JSON. */
json_t *lc_json(char *text);

/* The backup folder a cj_backup manifest (JSON text, freed) names, into out. */
int lc_backup_path(char *out, size_t n, char *manifest_json);

/* cj_projection_hash of STORE/chat.sqlite. */
int lc_store_hash(char out[33], const char *store);

#endif
