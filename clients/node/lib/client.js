// lib/client.js — Client: the calls of the HTTP API (docs/http.md) as async
// methods. Each returns decoded JSON (an object, or a Page: an array) or
// throws a ChatjournalError subclass. Options use camelCase (minSeq); they
// become the query's snake_case (min_seq).
import { ChatjournalError, UnavailableError } from "./errors.js";
import { Follow } from "./follow.js";
import { newId } from "./ids.js";
import { Transport, segment } from "./transport.js";

const LINK_NEXT = /<([^>]*)>\s*;(?:[^,]*;)?\s*rel="?next"?/i;

/** A page of rows: an Array whose nextUrl is the Link rel="next" or null. */
export class Page extends Array {
  static get [Symbol.species]() { return Array; }
}

const snake = (k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function toQuery(opts, allowed) {
  const q = {};
  for (const [k, v] of Object.entries(opts ?? {})) {
    if (!allowed.includes(k)) throw new TypeError(`unknown option '${k}' (known: ${allowed.join(", ")})`);
    q[snake(k)] = v;
  }
  return q;
}

/** A copy of event with an "id" (a new UUIDv7 when it had none). */
function withId(event) {
  if (event === null || typeof event !== "object" || Array.isArray(event))
    throw new TypeError("an event is an object");
  return event.id !== undefined && event.id !== null ? event : { ...event, id: newId() };
}

const PAGING = ["limit", "before", "after", "minSeq"];

export class Client {
  /**
   * baseUrl: "http://127.0.0.1:8080"; token: the Bearer token (it decides
   * the store); timeout: ms per request; retries: repeats after 429, 503 or
   * a lost connection; backoff/maxBackoff: first and largest wait (ms).
   */
  constructor(baseUrl, { token = null, timeout = 30000, retries = 4, backoff = 200, maxBackoff = 5000 } = {}) {
    this.t = new Transport(baseUrl, { token, timeout, retries, backoff, maxBackoff });
  }

  get baseUrl() { return this.t.baseUrl; }

  async getJson(path, query) {
    const r = await this.t.request("GET", path, { query });
    return JSON.parse(new TextDecoder().decode(r.body));
  }

  async getPage(path, query) {
    const r = await this.t.request("GET", path, { query });
    const page = Page.from(JSON.parse(new TextDecoder().decode(r.body)));
    page.nextUrl = this.nextLink(r.headers.get("link"));
    return page;
  }

  nextLink(header) {
    const m = LINK_NEXT.exec(header ?? "");
    if (!m) return null;
    const url = new URL(m[1], `${this.t.baseUrl}/`).href;
    if (!url.startsWith(`${this.t.baseUrl}/`)) // never send the token elsewhere
      throw new ChatjournalError(null, `Link rel=next leaves the server: ${url}`);
    return url;
  }

  async postEvents(payload) {
    const r = await this.t.request("POST", "/v1/events", {
      body: JSON.stringify(payload), headers: { "Content-Type": "application/json" } });
    return JSON.parse(new TextDecoder().decode(r.body));
  }

  // -- writing --

  /** Append one event; {seq} once durable (+ duplicate/deleted). An event
   * without id gets a UUIDv7, so retries cannot store it twice. */
  append(event) { return this.postEvents(withId(event)); }

  /** Append a batch, all or nothing; {seqs, last_seq} (+ duplicates/deleted). */
  appendMany(events) { return this.postEvents(Array.from(events, withId)); }

  /** Store bytes; {blob: HASH, size}. */
  async putBlob(data) {
    if (typeof data === "string") throw new TypeError("putBlob takes bytes; encode text first");
    const r = await this.t.request("PUT", "/v1/blobs", {
      body: data, headers: { "Content-Type": "application/octet-stream" } });
    return JSON.parse(new TextDecoder().decode(r.body));
  }

  // -- reading --

  history(thread, opts) {
    return this.getPage(`/v1/threads/${segment(thread)}/messages`, toQuery(opts, [...PAGING, "user", "server"]));
  }

  async openaiMessages(thread, opts) {
    const q = toQuery(opts, PAGING);
    q.format = "openai";
    return (await this.getJson(`/v1/threads/${segment(thread)}/messages`, q)).messages;
  }

  images(thread, opts) {
    return this.getPage(`/v1/threads/${segment(thread)}/images`, toQuery(opts, PAGING));
  }

  search(q, opts) {
    return this.getPage("/v1/search", { q, ...toQuery(opts,
      ["thread", "user", "server", "limit", "rank", "images", "minSeq"]) });
  }

  config(thread, opts) {
    return this.getJson(`/v1/threads/${segment(thread)}/config`, toQuery(opts, ["user", "minSeq"]));
  }

  /** The bytes stored under a hash (NotFoundError when none), as a Uint8Array. */
  async getBlob(hash) {
    return new Uint8Array((await this.t.request("GET", `/v1/blobs/${segment(hash)}`)).body);
  }

  threads(opts) {
    return this.getPage("/v1/threads", toQuery(opts, ["user", "server", "limit", "after", "minSeq"]));
  }

  thread(thread, opts) { return this.getJson(`/v1/threads/${segment(thread)}`, toQuery(opts, ["minSeq"])); }

  user(user, opts) { return this.getJson(`/v1/users/${segment(user)}`, toQuery(opts, ["minSeq"])); }

  userMessages(user, opts) {
    return this.getPage(`/v1/users/${segment(user)}/messages`,
      toQuery(opts, ["server", "limit", "before", "after", "minSeq"]));
  }

  costs(opts) { return this.getJson("/v1/costs", toQuery(opts, ["user", "thread", "from", "to", "minSeq"])); }

  metrics(opts) { return this.getPage("/v1/metrics", toQuery(opts, ["name", "since", "limit", "after", "minSeq"])); }

  settings(opts) { return this.getJson("/v1/settings", toQuery(opts, ["category", "minSeq"])); }

  stats() { return this.getJson("/v1/stats"); }

  /** GET /healthz: {status: "ok"} or {status: "degraded", reason}. Asked
   * once, never retried: a health check reports what it finds. */
  async health() {
    try {
      return await (await this.t.open("GET", this.t.url("/healthz"))).json();
    } catch (e) {
      if (e instanceof UnavailableError && typeof e.body.status === "string") return e.body;
      throw e;
    }
  }

  // -- the change feed --

  /** One page of the journal: {events, next_after, last_seq}. */
  events(opts) { return this.getJson("/v1/events", toQuery(opts, ["after", "limit", "type", "thread"])); }

  /** The live feed as an async iterator that resumes by itself (see Follow). */
  follow(opts) { return new Follow(this.t, opts); }

  // -- paging --

  /** The page after page (its Link rel="next"), or null. */
  nextPage(page) { return page.nextUrl ? this.getPage(page.nextUrl) : Promise.resolve(null); }

  /** Every row of page and of the pages after it. */
  async *iterate(page) {
    for (let p = await page; p; p = await this.nextPage(p)) yield* p;
  }
}
