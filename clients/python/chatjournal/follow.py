"""Follow: the live change feed (GET /v1/events/stream, Server-Sent Events)
as an iterator of events that survives cut-offs and lost connections.

It remembers the seq of the last event it yielded (the SSE id) and, when the
stream ends, reconnects with that seq as Last-Event-ID: after the server's
`event: resume` (cut off as too slow, or the server stopping) at once, from
the "after" the server names; after a lost connection, a timeout (no byte,
not even the 15 s ": ping", for idle_timeout seconds) or a 429/503, after a
backoff. `event: position` (events the filters skipped) moves the position
without yielding anything. Other errors (401, 403, 400...) are raised, and
`event: error` (a record the server cannot read) as FeedError. An event
whose seq is not above the last one yielded is dropped, so nothing reaches
the caller twice."""

import http.client
import json
import time

from .errors import ChatjournalError, FeedError, TransportError
from .sse import Parser
from .transport import RETRY_STATUSES


class Follow:
    """Iterate it for events (dicts with "seq"); position is the seq to
    resume after (None until the first event when started with after=None);
    reconnects counts the connections after the first. close() (or leaving a
    with block) ends it and closes the connection. max_failures: how many
    connection attempts in a row may fail before the last error is raised
    (None: keep trying, waiting at most the client's max_backoff between)."""

    def __init__(self, transport, after, type, thread, idle_timeout, max_failures):
        self._t = transport
        self.position = after
        self.reconnects = 0
        self._filters = {"type": type, "thread": thread}
        self._idle = idle_timeout
        self._max_failures = max_failures
        self._resp = None
        self._gen = self._run()

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._gen)

    def close(self):
        self._gen.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _connect(self, first):
        query = dict(self._filters)
        headers = {"Accept": "text/event-stream"}
        if first:
            query["after"] = self.position
        elif self.position is not None:
            headers["Last-Event-ID"] = str(self.position)
        return self._t.open("GET", self._t.url("/v1/events/stream", query),
                            headers=headers, timeout=self._idle)

    def _run(self):
        failures, first = 0, True
        while True:
            try:
                resp = self._connect(first)
            except ChatjournalError as e:
                if e.status is not None and e.status not in RETRY_STATUSES:
                    raise
                failures += 1
                if self._max_failures is not None and failures > self._max_failures:
                    raise
                time.sleep(self._t.delay(failures - 1, e.retry_after))
                continue
            if not first:
                self.reconnects += 1
            first = False
            resumed = False
            try:
                parser = Parser()
                for raw in resp:
                    frame = parser.feed(raw.decode("utf-8", "replace"))
                    if frame is None:
                        continue
                    failures = 0
                    if frame.event in ("resume", "position"):
                        after = int(json.loads(frame.data)["after"])
                        if self.position is None or after > self.position:
                            self.position = after
                        if frame.event == "position":  # filters skipped up to there
                            continue
                        resumed = True
                        break
                    if frame.event == "error":
                        body = json.loads(frame.data)
                        raise FeedError(str(body.get("error")), body.get("seq"), body)
                    event = json.loads(frame.data)
                    seq = int(frame.id) if frame.id else int(event["seq"])
                    if self.position is not None and seq <= self.position:
                        continue
                    self.position = seq
                    yield event
            except (OSError, http.client.HTTPException) as e:
                err = TransportError(f"the event stream was cut: {e}")
                err.__cause__ = e
            else:
                err = TransportError("the event stream ended")
            finally:
                resp.close()
            if resumed:
                continue
            failures += 1
            if self._max_failures is not None and failures > self._max_failures:
                raise err
            time.sleep(self._t.delay(failures - 1))
