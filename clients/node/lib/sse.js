// lib/sse.js — Server-Sent Events framing (the WHATWG event-stream format)
// for follow(): lines in, frames out. Kept: id, event, data (lines joined by
// "\n"); comments (": ping") and retry: are dropped.

export class SseParser {
  constructor() { this.reset(); }

  reset() { this.id = null; this.event = null; this.data = []; }

  /** One line (without its ending); returns the frame a blank line completes, else null. */
  feed(line) {
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line === "") {
      const frame = this.data.length
        ? { id: this.id, event: this.event ?? "message", data: this.data.join("\n") } : null;
      this.reset();
      return frame;
    }
    if (line.startsWith(":")) return null;
    const i = line.indexOf(":");
    const name = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? "" : line.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") this.data.push(value);
    else if (name === "event") this.event = value;
    else if (name === "id" && !value.includes("\0")) this.id = value;
    return null;
  }
}
