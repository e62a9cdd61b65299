"""Event ids the client generates: UUIDv7 (RFC 9562), time-ordered.

Why time-ordered and not random (uuid4): the server keeps an idempotency
index keyed by id, a B-tree in the LMDB journal. Ids that grow with time land
on the index's last pages, which every commit touches anyway; random ids land
on a random page each, so every event dirties and copies another page. The
project measured it (docs/performance.md, "Idempotency keys with random
ids"): about 5x the writer's work per event and ingest falling from ~400k to
~75k events/s. Why generate ids at all: an event sent without one cannot be
retried safely (a lost reply would store it twice); with one, the server
answers a retry with the first sequence number and stores nothing.

Layout: 48 bits of Unix milliseconds, version 7, 12 bits that count ids made
in the same millisecond (RFC 9562 section 6.2, method 1, so ids from one
process strictly increase), variant 10, then 62 random bits."""

import os
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id():
    """A new UUIDv7 as its 36-character text form; thread-safe; ids made by
    one process strictly increase (as strings too)."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms, _counter = ms, int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:  # same millisecond, or the clock stepped back: keep counting
            _counter += 1
            if _counter > 0xFFF:  # 4096 ids in one millisecond: borrow the next one
                _last_ms, _counter = _last_ms + 1, 0
            ms = _last_ms
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
