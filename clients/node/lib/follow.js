// lib/follow.js — Follow: the live change feed (GET /v1/events/stream,
// Server-Sent Events) as an async iterator of events that survives cut-offs
// and lost connections.
//
// It remembers the seq of the last event it yielded (the SSE id) and, when
// the stream ends, reconnects with that seq as Last-Event-ID: after the
// server's `event: resume` (cut off as too slow, or the server stopping) at
// once, from the "after" the server names; after a lost connection, an idle
// timeout (no byte, not even the 15 s ": ping", for idleTimeout ms) or a
// 429/503, after a backoff. `event: position` (events the filters skipped)
// moves the position without yielding anything. Other errors (401, 403,
// 400...) are thrown, and `event: error` (a record the server cannot read) as
// FeedError. An event whose seq is not above the last one yielded is dropped:
// nothing reaches the caller twice.
import { ChatjournalError, FeedError, TransportError } from "./errors.js";
import { RETRY_STATUSES, sleep } from "./transport.js";
import { SseParser } from "./sse.js";

export class Follow {
  constructor(transport, { after = null, type = null, thread = null, idleTimeout = 45000, maxFailures = null } = {}) {
    this.t = transport;
    /** The seq to resume after (null until the first event when started without after). */
    this.position = after;
    /** Connections made after the first. */
    this.reconnects = 0;
    this.filters = { type, thread };
    this.idleTimeout = idleTimeout;
    this.maxFailures = maxFailures;
    this.controller = null;
    this.closed = false;
    this.gen = this.run();
  }

  [Symbol.asyncIterator]() { return this.gen; }

  next() { return this.gen.next(); }

  /** Ends the iteration and closes the connection. */
  async close() {
    this.closed = true;
    this.controller?.abort();
    await this.gen.return(undefined);
  }

  async connect(first) {
    const query = { ...this.filters };
    const headers = { Accept: "text/event-stream" };
    if (first) query.after = this.position;
    else if (this.position !== null) headers["Last-Event-ID"] = String(this.position);
    const controller = new AbortController();
    this.controller = controller;
    // A server that accepts but never answers counts as a lost connection.
    const timer = setTimeout(() => controller.abort(), this.idleTimeout);
    try {
      return await this.t.open("GET", this.t.url("/v1/events/stream", query),
        { headers, signal: controller.signal });
    } finally {
      clearTimeout(timer);
    }
  }

  async *run() {
    let failures = 0;
    let first = true;
    while (!this.closed) {
      let res;
      try {
        res = await this.connect(first);
      } catch (e) {
        if (!(e instanceof ChatjournalError) || (e.status !== null && !RETRY_STATUSES.has(e.status))) throw e;
        failures += 1;
        if (this.maxFailures !== null && failures > this.maxFailures) throw e;
        await sleep(this.t.delay(failures - 1, e.retryAfter));
        continue;
      }
      if (!first) this.reconnects += 1;
      first = false;
      let resumed = false;
      let err = new TransportError("the event stream ended");
      const controller = this.controller;
      let idle = setTimeout(() => controller.abort(), this.idleTimeout);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser();
      let buf = "";
      try {
        reading: for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          clearTimeout(idle);
          idle = setTimeout(() => controller.abort(), this.idleTimeout);
          buf += decoder.decode(value, { stream: true });
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const frame = parser.feed(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
            if (frame === null) continue;
            failures = 0;
            if (frame.event === "resume" || frame.event === "position") {
              const after = Number(JSON.parse(frame.data).after);
              if (this.position === null || after > this.position) this.position = after;
              if (frame.event === "position") continue; // filters skipped up to there
              resumed = true;
              break reading;
            }
            if (frame.event === "error") {
              const body = JSON.parse(frame.data);
              throw new FeedError(String(body.error), body.seq ?? null, body);
            }
            const event = JSON.parse(frame.data);
            const seq = frame.id !== null ? Number(frame.id) : Number(event.seq);
            if (this.position !== null && seq <= this.position) continue;
            this.position = seq;
            yield event;
          }
        }
      } catch (e) {
        if (e instanceof SyntaxError || e instanceof FeedError) throw e; // not ours to skip
        err = new TransportError(`the event stream was cut: ${e.message}`, e);
      } finally {
        clearTimeout(idle);
        controller.abort();
        reader.cancel().catch(() => {});
      }
      if (resumed) continue;
      if (this.closed) return;
      failures += 1;
      if (this.maxFailures !== null && failures > this.maxFailures) throw err;
      await sleep(this.t.delay(failures - 1));
    }
  }
}
