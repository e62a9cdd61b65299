/* import/import_internal.h — what the format parsers and the driver share.
 *
 * A parser walks its source and, for each source item, either emits a
 * group of events (the item's own event first: a message, then what hangs
 * on it, such as its reactions) or reports a skip with a reason. The driver
 * (driver.c) runs every parser for the plan (validate, look up, count;
 * nothing appended) and, when the plan is clean or skips are allowed and
 * its events could not be kept in memory (keep.h), again for the append. A
 * parser must produce the same groups in the same order both times, so it
 * keeps no state between runs but what it rebuilds. */
#ifndef CJ_IMPORT_INTERNAL_H
#define CJ_IMPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/import.h"
#include "report.h"
#include "scan.h"

typedef struct imp imp;

/* ---- for parsers ---------------------------------------------------------- */

/* The file being read now (as the report names it, relative to the source);
 * later counts and skips belong to it. 0 or a fatal error. */
int imp_file(imp *m, const char *name);
/* Where the current item starts in that file (for skip messages). */
void imp_at(imp *m, uint64_t line, uint64_t byte);
/* The scanner's position of the element just read. */
void imp_at_scan(imp *m, const scan *s);

/* How a message that changed in the source becomes an edit: the source's
 * edit time (stamp text for the id, ms for the event; NULL/0 when the
 * source has none: the id then uses a hash of the new content) and editor. */
typedef struct imp_edit {
	const char *stamp;
	int64_t ts_ms;
	const char *editor;
} imp_edit;

/* Emit a group: evs[0] is the item's event; the others hang on it (their
 * targets may name it). The driver owns the events from now on (even on
 * error). edit may be NULL. 0, or a fatal error (the run stops). */
int imp_emit(imp *m, cj_event **evs, size_t n, const imp_edit *edit);
/* Count one source item of this kind ("message", "user", ...; NULL: an
 * element not understood) as skipped, with the reason. */
void imp_skip(imp *m, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A fatal error: the run stops; the message names file, line and byte. */
int imp_fail(imp *m, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int imp_fail_scan(imp *m, const scan *s);
/* The source's thread `thread` (message ids starting with id_prefix) holds
 * a message at ts_ms: --sync deletes, within the span so covered, the
 * messages of that prefix the source no longer has. */
int imp_cover(imp *m, const char *thread, const char *id_prefix, int64_t ts_ms);

/* Read a file on a worker thread: fn(wm, arg) runs there against a
 * recording imp (wm: pass it on to every call, never m), and its calls take
 * effect on m in the order imp_par was called, interleaved with m's own
 * calls (par.h). free_arg(arg) follows. Without workers fn runs here. 0, or
 * a fatal error already replayed (later errors come out when the parser
 * returns). fn must only read state the parser no longer changes, and
 * that lives until imp_par_wait. */
int imp_par(imp *m, int (*fn)(imp *wm, void *arg), void *arg, void (*free_arg)(void *));
/* Wait for every job imp_par queued and take its calls (a parser calls it
 * before freeing what its jobs read). 0 or the run's error. */
int imp_par_wait(imp *m);

/* Progress: bytes of the source consumed (across its files). */
void imp_progress(imp *m, uint64_t file_done);
uint64_t imp_max_element(const imp *m);
/* The events' server: the option, else the source's default (may be NULL). */
const char *imp_server(const imp *m, const char *source_default);
int imp_dry_run(const imp *m);

/* ---- building events (sticky error: the first failure is kept) ------------ */

typedef struct eb {
	int rc;              /* 0, or the first error (CJ_ENOMEM is fatal) */
	char why[400];       /* its message */
} eb;

cj_event *eb_new(eb *b, const char *type);
void eb_str(eb *b, cj_event *ev, const char *field, const char *value);   /* NULL: absent */
void eb_int(eb *b, cj_event *ev, const char *field, int64_t value);
void eb_bool(eb *b, cj_event *ev, const char *field, int value);
void eb_json(eb *b, cj_event *ev, const char *field, const json_t *value); /* NULL: absent */
/* An event from a JSON object (its text parsed as an event, with wide
 * limits: the driver validates against the store's). */
cj_event *eb_from_json(eb *b, const json_t *obj);
/* The text of a JSON string member, NULL if absent or not a string. */
const char *js(const json_t *o, const char *key);

/* An id (at most 256 bytes): the formatted text, or when longer its first
 * 200 bytes, ':' and the XXH64 of the whole in hex. */
void imp_id(char out[257], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 16 hex digits of XXH64 over a JSON value's canonical text (sorted keys). */
void imp_hash_json(char out[17], const json_t *v);
void imp_hash_text(char out[17], const char *s, size_t len);

/* Every element of the JSON array in file path (named name in the report):
 * fn gets each parsed element (borrowed). A syntax error stops the run; an
 * element over the cap is skipped as `kind`. 0 or the error. */
int imp_each_element(imp *m, const char *path, const char *name, const char *kind,
                     int (*fn)(imp *m, json_t *el, void *arg), void *arg);
/* The same, offering each element's text to fast first: it returns 1 when
 * it took the element (its result in *rc), 0 to leave it to jansson and fn
 * (having done nothing). */
typedef int (*imp_fast_fn)(imp *m, const char *text, size_t len, void *arg, int *rc);
int imp_each_element_fast(imp *m, const char *path, const char *name, const char *kind,
                          imp_fast_fn fast, int (*fn)(imp *m, json_t *el, void *arg), void *arg);
/* The JSON type each named member must have when present (null counts as
 * absent). imp_bad_shape skips the message `what` (1) naming the first
 * member of another type, or returns 0. */
typedef struct imp_shape {
	const char *key;
	json_type type;
} imp_shape;
int imp_bad_shape(imp *m, const json_t *msg, const imp_shape *shape, size_t n, const char *what);
/* The members of object o named keys[0..n) (their types unused here) in one
 * walk over its members: out[i] borrowed, or NULL when absent. */
void imp_members(json_t **out, const json_t *o, const imp_shape *keys, size_t n);
/* imp_bad_shape over values found by imp_members (the first n). */
int imp_bad_shape_of(imp *m, json_t *const *vals, const imp_shape *shape, size_t n,
                     const char *what);
/* Open path for scanning as the current file (imp_file); 0, or -1 after
 * a fatal error. */
int imp_open_scan(imp *m, scan *sc, const char *path, const char *name);
/* The elements of the array the scanner just entered, up to its ']': fn
 * gets each parsed (borrowed); over-cap ones are skipped as `kind`. */
int imp_scan_elements(imp *m, scan *sc, const char *kind,
                      int (*fn)(imp *m, json_t *el, void *arg), void *arg);
/* A built event: emitted alone, or (a building error) skipped as `kind`
 * with "WHAT: reason"; out of memory is fatal. Owns ev. */
int imp_emit_built(imp *m, cj_event *ev, eb *b, const char *kind, const char *what);
/* A describing event (user, thread) from its JSON object e (taken): its id
 * is "ID_PREFIX:<hash of e>", ts set when > 0; emitted or skipped. */
int imp_emit_described(imp *m, json_t *e, const char *id_prefix, int64_t ts_ms, const char *what);
/* Append to evs[*n] (cap: its size) the reaction of user with emoji to
 * msg_id; a building error or a full array is a skip. 0 or fatal. */
int imp_reaction(imp *m, cj_event **evs, size_t *n, size_t cap, const char *msg_id,
                 const char *thread, const char *emoji, const char *user, int64_t ts_ms);
/* After building a message: 1 (keep it), 0 (skipped, freed: "WHAT: why"),
 * or a fatal error. */
int imp_message_built(imp *m, cj_event *ev, eb *b, const char *what);
/* The last steps of a message: attachments and metadata (when not empty)
 * set and released (both may be NULL), then imp_message_built naming the
 * message by id. */
int imp_message_finish(imp *m, cj_event *ev, eb *b, json_t *att, json_t *meta, const char *id);
/* Seconds since the epoch (a number, or Slack's "1712345678.000100") in
 * ms; -1 when it is not one, or is negative or after 9999-12-31. */
int64_t imp_epoch_ms(const json_t *v);
int64_t imp_epoch_ms_text(const char *s);   /* the same for a string (NULL: -1) */

/* ---- the formats ---------------------------------------------------------- */

int fmt_jsonl(imp *m, const char *path);
int fmt_slack(imp *m, const char *path);
int fmt_discord(imp *m, const char *path);
int fmt_chatgpt(imp *m, const char *path);

/* A .zip unpacked into a new private folder (zip.c): entries checked
 * (no absolute names, no '..', no links), sizes capped per entry and in all.
 * *dir_out (free; remove with zip_remove) is the folder. 0 or an error with
 * the message set. */
int zip_extract(char **dir_out, const char *zip_path, uint64_t max_entry, uint64_t max_total,
                char *err, size_t errlen);
void zip_remove(const char *dir);
int zip_is_zip(const char *path);   /* 1 when the file starts with "PK\3\4" */

/* Sorted names of a folder's entries (regular files or folders per
 * want_dirs), skipping names that start with '.'. 0 or -1 (errno). */
int list_dir(char ***names, size_t *n, const char *dir, int want_dirs, const char *suffix);
void free_names(char **names, size_t n);

#endif
