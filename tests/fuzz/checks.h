/* tests/fuzz/checks.h — checks shared by the fuzz harnesses: an event's round
 * trip through the record codec and through its JSON text. A failed check
 * aborts, which libFuzzer reports and the corpus replay turns into a failed
 * test. */
#ifndef CJ_TESTS_FUZZ_CHECKS_H
#define CJ_TESTS_FUZZ_CHECKS_H

#include <stdint.h>
#include <stdlib.h>
#include "journal/event_internal.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* Encode ev (a parsed event) and decode the body with header_ts as the
 * record's time: the value is ev's with "ts" set (ev's own, else header_ts);
 * re-encoding it gives that ts, and the same bytes when ev had its own.
 * Returns the decoded event, for more checks; the caller frees it. */
cj_event *fz_codec_trip(const cj_event *ev, int64_t header_ts);

/* ev's JSON text parses back to the same value. */
void fz_json_trip(const cj_event *ev);

#endif
