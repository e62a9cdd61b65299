// lib/transport.js — HTTP for the client: one call with bounded retries and
// backoff, over Node's built-in fetch (Node 18+).
//
// Retried: no answer at all (connection refused or lost, timeout) and
// 429/503, which the server sends only when it stored nothing. That is safe
// for every call of the client: reads change nothing, blobs are stored by
// content, and the client gives every event an id, so a retried append is
// recognized.
import { ChatjournalError, TransportError, errorFromReply } from "./errors.js";

export const RETRY_STATUSES = new Set([429, 503]);

/** "?a=1&b=x" of the members that are neither undefined nor null; true is 1. */
export function encodeQuery(query) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined || v === null) continue;
    p.append(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** One path segment (a thread, user or hash), percent-encoded. */
export const segment = (v) => encodeURIComponent(String(v));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Transport {
  constructor(baseUrl, { token = null, timeout = 30000, retries = 4, backoff = 200, maxBackoff = 5000 } = {}) {
    if (typeof baseUrl !== "string" || !/^https?:\/\//.test(baseUrl))
      throw new TypeError(`baseUrl must start with http:// or https://: ${baseUrl}`);
    if (!Number.isInteger(retries) || retries < 0)
      throw new TypeError(`retries must be an integer >= 0: ${retries}`);
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    Object.assign(this, { token, timeout, retries, backoff, maxBackoff });
  }

  url(path, query) { return this.baseUrl + path + encodeQuery(query); }

  /** Milliseconds before retry number attempt (0-based): exponential with
   * jitter, capped at maxBackoff, at least Retry-After (itself capped). */
  delay(attempt, retryAfter = null) {
    let d = Math.min(this.maxBackoff, this.backoff * 2 ** attempt) * (0.5 + Math.random() / 2);
    if (retryAfter !== null) d = Math.max(d, Math.min(retryAfter * 1000, this.maxBackoff));
    return d;
  }

  headers(extra) {
    const h = { Accept: "application/json", "User-Agent": "chatjournal-node/0.1.0" };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return Object.assign(h, extra);
  }

  /** The Response of one attempt (2xx), or throws the typed error. signal:
   * an AbortSignal ending the attempt (default: the client's timeout). */
  async open(method, url, { body, headers, signal } = {}) {
    let res;
    try {
      res = await fetch(url, { method, body, headers: this.headers(headers),
        signal: signal ?? AbortSignal.timeout(this.timeout) });
    } catch (e) {
      throw new TransportError(`${method} ${url}: ${e.cause?.code ?? e.cause?.message ?? e.message}`, e);
    }
    if (res.ok) return res;
    let text = "";
    try { text = await res.text(); } catch { /* cut while reading the error */ }
    throw errorFromReply(res.status, res.headers, text);
  }

  /** One call, retried (see the file's comment): {status, headers, body
   * (an ArrayBuffer)} of a 2xx reply, or throws the last error. path is a
   * path on the server, or a whole URL under baseUrl (a Link rel="next"). */
  async request(method, path, { query, body, headers } = {}) {
    const url = path.startsWith(`${this.baseUrl}/`) ? path : this.url(path, query);
    for (let attempt = 0; ; attempt++) {
      let err;
      try {
        const res = await this.open(method, url, { body, headers });
        return { status: res.status, headers: res.headers, body: await res.arrayBuffer() };
      } catch (e) {
        if (e instanceof ChatjournalError) {
          if (e.status !== null && !RETRY_STATUSES.has(e.status)) throw e;
          err = e;
        } else { // the body was cut while reading it
          err = new TransportError(`${method} ${url}: reading the reply: ${e.message}`, e);
        }
      }
      if (attempt >= this.retries) throw err;
      await sleep(this.delay(attempt, err.retryAfter));
    }
  }
}
